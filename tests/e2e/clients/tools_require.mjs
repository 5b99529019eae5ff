// `require` for the packages pinned in tools/ (these scripts live outside it, where Node's resolution
// would not look). Node 22 loads ESM-only packages such as oauth4webapi through require too.
import { createRequire } from "node:module";

export const requireTool = createRequire(new URL("../../../tools/package.json", import.meta.url));

export function emit(fields) {
  process.stdout.write(JSON.stringify(fields) + "\n");
}
