// The official TypeScript MCP clients against our server: `@modelcontextprotocol/client` (v2, `--sdk client`)
// or `@modelcontextprotocol/sdk` (v1, `--sdk sdk`), their Streamable HTTP transport and OAuth provider.
//
//   node ts_client.mjs MCP_URL --sdk client [--negotiation auto|2026-07-28] [--initial-access-token T]
//                      [--token ACCESS_TOKEN] [--message M]
//
// With --token it sends that bearer token; otherwise the SDK's own flow runs: 401, discovery, registration
// (the initial access token added to the registration request), then "the browser": $BROWSER is started with
// the authorization URL (the tests' headless stand-in signs in, consents and calls our loopback listener back),
// the code is exchanged and the client connects again. It prints JSON lines: tools, the echo result, done.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { parseArgs } from "node:util";

import { emit, requireTool } from "./tools_require.mjs";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    sdk: { type: "string", default: "client" },
    "initial-access-token": { type: "string" },
    token: { type: "string" },
    message: { type: "string", default: "hello from TypeScript" },
    // v2 only: "legacy" (initialize), "auto" (server/discover probe first) or a revision to pin.
    negotiation: { type: "string", default: "legacy" },
  },
});
const mcpUrl = new URL(positionals[0]);

function loadSdk(name) {
  if (name === "client") {
    const { Client, StreamableHTTPClientTransport, UnauthorizedError } = requireTool("@modelcontextprotocol/client");
    return { Client, StreamableHTTPClientTransport, UnauthorizedError,
             finishAuth: (t, params) => t.finishAuth(params) };
  }
  const { Client } = requireTool("@modelcontextprotocol/sdk/client/index.js");
  const { StreamableHTTPClientTransport } = requireTool("@modelcontextprotocol/sdk/client/streamableHttp.js");
  const { UnauthorizedError } = requireTool("@modelcontextprotocol/sdk/client/auth.js");
  return { Client, StreamableHTTPClientTransport, UnauthorizedError,
           finishAuth: (t, params) => t.finishAuth(params.get("code")) };
}
const sdk = loadSdk(values.sdk);

// The loopback redirect listener (RFC 8252), up before the browser is opened.
async function callbackListener() {
  let deliver;
  const redirect = new Promise((resolve) => { deliver = resolve; });
  const server = createServer((request, response) => {
    const url = new URL(request.url, "http://127.0.0.1");
    if (url.pathname !== "/callback") { response.writeHead(404).end(); return; }
    response.writeHead(200, { "Content-Type": "text/plain" }).end("Signed in: you can close this window.");
    deliver(url.searchParams);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, redirect, redirectUrl: `http://127.0.0.1:${server.address().port}/callback` };
}

class MemoryOAuthProvider {
  constructor(redirectUrl) {
    this.redirectUrl = redirectUrl;
    this.expectedState = randomUUID();
    this.stored = {};
  }
  get clientMetadata() {
    return { client_name: `TypeScript ${values.sdk}`, redirect_uris: [this.redirectUrl],
             grant_types: ["authorization_code", "refresh_token"], response_types: ["code"],
             token_endpoint_auth_method: "none" };
  }
  state() { return this.expectedState; }
  clientInformation() { return this.stored.client; }
  saveClientInformation(client) { this.stored.client = client; }
  tokens() { return this.stored.tokens; }
  saveTokens(tokens) { this.stored.tokens = tokens; }
  saveCodeVerifier(verifier) { this.stored.verifier = verifier; }
  codeVerifier() { return this.stored.verifier; }
  // v2 binds the callback to the authorization server it discovered (SEP-2352), kept with the verifier.
  saveDiscoveryState(state) { this.stored.discovery = state; }
  discoveryState() { return this.stored.discovery; }
  redirectToAuthorization(url) {
    emit({ event: "authorize", url: url.href });
    spawn(process.env.BROWSER, [url.href], { stdio: "ignore" });
  }
}

// The registration request carries our initial access token (RFC 7591 section 3), as an operator hands out.
function fetchWithInitialAccessToken(token) {
  return (url, init = {}) => {
    const registering = (init.method || "GET").toUpperCase() === "POST" && new URL(url).pathname.endsWith("/register");
    if (!token || !registering) return fetch(url, init);
    const headers = new Headers(init.headers);
    headers.set("Authorization", `Bearer ${token}`);
    return fetch(url, { ...init, headers });
  };
}

const negotiation = ["legacy", "auto"].includes(values.negotiation) ? values.negotiation : { pin: values.negotiation };

function newClient() {
  const options = values.sdk === "client" ? { versionNegotiation: { mode: negotiation } } : {};
  return new sdk.Client({ name: `ts-${values.sdk}-e2e`, version: "1.0.0" }, options);
}

// Connects and lists the tools: the first authenticated request (a 2026-07-28 connect is an unauthenticated
// server/discover, so the 401 may come only with tools/list).
async function session(options) {
  const client = newClient();
  await client.connect(new sdk.StreamableHTTPClientTransport(mcpUrl, options));
  const { tools } = await client.listTools();
  return { client, tools };
}

async function signIn() {
  const listener = await callbackListener();
  const provider = new MemoryOAuthProvider(listener.redirectUrl);
  const options = { authProvider: provider, fetch: fetchWithInitialAccessToken(values["initial-access-token"]) };
  try {
    await session(options);
    throw new Error("the server listed its tools to an unauthenticated client");
  } catch (error) {
    if (!(error instanceof sdk.UnauthorizedError)) throw error;
  }
  const params = await listener.redirect;
  listener.server.close();
  if (params.get("state") !== provider.expectedState) throw new Error("the redirect's state does not match");
  await sdk.finishAuth(new sdk.StreamableHTTPClientTransport(mcpUrl, options), params);
  emit({ event: "signed_in", client_id: provider.stored.client.client_id,
         has_refresh_token: Boolean(provider.stored.tokens.refresh_token) });
  return session(options);
}

async function main() {
  const { client, tools } = values.token
    ? await session({ requestInit: { headers: { Authorization: `Bearer ${values.token}` } } })
    : await signIn();
  emit({ event: "tools", tools: tools.map((tool) => tool.name), server: client.getServerVersion(),
         protocol_version: client.getNegotiatedProtocolVersion?.() ?? null });
  const result = await client.callTool({ name: "echo", arguments: { message: values.message } });
  emit({ event: "result", result });
  await client.close();
}

main().then(() => process.exit(0), (error) => {
  emit({ event: "error", name: error?.constructor?.name, message: String(error?.message ?? error),
         code: error?.code ?? null });
  process.exit(1);
});
