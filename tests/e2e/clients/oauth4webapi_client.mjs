// panva's oauth4webapi (a strict OAuth 2 / RFC-conformance client) through our whole flow, with its own
// request builders and response processors at every step:
//   the 401 challenge (RFC 6750) -> RFC 9728 resource metadata -> RFC 8414 authorization server metadata
//   -> RFC 7591 registration with an initial access token -> authorization code + PKCE (RFC 7636), the
//   response validated with RFC 9207 `iss` -> code exchange -> MCP tools/call -> refresh (rotation) ->
//   MCP again -> RFC 9068 validateJwtAccessToken when the server publishes signing keys (jwks_uri).
//
//   node oauth4webapi_client.mjs MCP_URL --initial-access-token T
//
// The person's part (login and consent) is played by the driving test: the script prints
// {"event": "authorize", "url": …} and reads the URL the browser was redirected to on stdin.
// Every step prints one JSON line; a failure prints {"event": "error", …} and exits 1.
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

import { emit, requireTool } from "./tools_require.mjs";

const oauth = requireTool("oauth4webapi");
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { "initial-access-token": { type: "string" } },
});
const resource = new URL(positionals[0]);
const REDIRECT_URI = "http://127.0.0.1:33419/callback";
// The e2e servers are plain http on loopback; every other check stays strict.
const insecure = { [oauth.allowInsecureRequests]: true };
const stdin = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => stdin.once("line", resolve));

async function challenge() {
  try {
    await oauth.protectedResourceRequest("not-a-valid-token", "POST", resource, jsonHeaders(),
                                         mcpBody("tools/list"), insecure);
  } catch (error) {
    if (error instanceof oauth.WWWAuthenticateChallengeError) {
      const bearer = error.cause.find((c) => c.scheme === "bearer");
      return { status: error.status, parameters: bearer.parameters };
    }
    throw error;
  }
  throw new Error("/mcp accepted an invalid token");
}

function jsonHeaders() {
  return new Headers({ "Content-Type": "application/json", Accept: "application/json, text/event-stream" });
}

function mcpBody(method, params = {}) {
  return JSON.stringify({ jsonrpc: "2.0", id: 1, method, params });
}

async function callEcho(accessToken, message) {
  const response = await oauth.protectedResourceRequest(accessToken, "POST", resource, jsonHeaders(),
    mcpBody("tools/call", { name: "echo", arguments: { message } }), insecure);
  const text = await response.text();
  const data = text.startsWith("{") ? text : text.split("\n").find((line) => line.startsWith("data:")).slice(5);
  return { status: response.status, result: JSON.parse(data).result };
}

async function main() {
  const found = await challenge();
  emit({ event: "challenge", ...found });

  const rs = await oauth.processResourceDiscoveryResponse(resource,
    await oauth.resourceDiscoveryRequest(resource, insecure));
  emit({ event: "resource_metadata", resource: rs.resource, authorization_servers: rs.authorization_servers });

  const issuer = new URL(rs.authorization_servers[0]);
  const as = await oauth.processDiscoveryResponse(issuer,
    await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }));
  emit({ event: "authorization_server_metadata", issuer: as.issuer, jwks_uri: as.jwks_uri ?? null });

  const registered = await oauth.processDynamicClientRegistrationResponse(
    await oauth.dynamicClientRegistrationRequest(as, {
      client_name: "oauth4webapi strict client", redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token"], response_types: ["code"],
    }, { initialAccessToken: values["initial-access-token"], ...insecure }));
  const client = { client_id: registered.client_id, token_endpoint_auth_method: "none" };
  const clientAuth = oauth.None();
  emit({ event: "registered", client_id: client.client_id });

  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const authorizationUrl = new URL(as.authorization_endpoint);
  for (const [name, value] of Object.entries({
    response_type: "code", client_id: client.client_id, redirect_uri: REDIRECT_URI, state,
    scope: rs.scopes_supported.join(" "), resource: resource.href, code_challenge_method: "S256",
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
  })) authorizationUrl.searchParams.set(name, value);
  emit({ event: "authorize", url: authorizationUrl.href, redirect_uri: REDIRECT_URI });

  const callback = oauth.validateAuthResponse(as, client, new URL(await nextLine()), state);
  const tokens = await oauth.processAuthorizationCodeResponse(as, client,
    await oauth.authorizationCodeGrantRequest(as, client, clientAuth, callback, REDIRECT_URI, codeVerifier,
                                              { additionalParameters: { resource: resource.href }, ...insecure }));
  emit({ event: "tokens", token_type: tokens.token_type, expires_in: tokens.expires_in, scope: tokens.scope,
         has_refresh_token: Boolean(tokens.refresh_token) });
  emit({ event: "mcp", ...(await callEcho(tokens.access_token, "hello from oauth4webapi")) });

  const refreshed = await oauth.processRefreshTokenResponse(as, client,
    await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token,
                                         { additionalParameters: { resource: resource.href }, ...insecure }));
  emit({ event: "refreshed", rotated: refreshed.refresh_token !== tokens.refresh_token,
         new_access_token: refreshed.access_token !== tokens.access_token });
  emit({ event: "mcp", ...(await callEcho(refreshed.access_token, "after refresh")) });

  if (as.jwks_uri) {
    const request = new Request(resource, { headers: { Authorization: `Bearer ${refreshed.access_token}` } });
    const claims = await oauth.validateJwtAccessToken(as, request, resource.href, insecure);
    emit({ event: "jwt_access_token", validated: true, claims });
  } else {
    emit({ event: "jwt_access_token", validated: false,
           reason: "no jwks_uri: HS256-signed access tokens cannot be validated by a third party (RFC 9068)" });
  }
}

main().then(() => process.exit(0), (error) => {
  emit({ event: "error", name: error?.constructor?.name, code: error?.code ?? null,
         message: String(error?.message ?? error), cause: error?.cause ? String(JSON.stringify(error.cause)) : null });
  process.exit(1);
});
