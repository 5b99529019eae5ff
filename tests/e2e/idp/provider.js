// A real OpenID Connect provider for the organisation sign-in tests: panva's oidc-provider (tools/package.json),
// on loopback. Usage: node provider.js CONFIG.json, where the file holds
//   {"port": 9000, "jwks": {"keys": [private JWK, ...]}, "cookie_key": "...",
//    "client": {client_id, client_secret, redirect_uris, backchannel_logout_uri, ...},
//    "accounts": {"<sub>": {"password": "...", "claims": {preferred_username, email, groups, ...}}}}
// Sign-in is a plain HTML form (username + password, or Cancel) that tests drive with HTTP requests; consent is
// implied for our one client. Back-channel logout is on: /session/end sends a logout token to our server.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// oidc-provider is installed in tools/node_modules, not next to this file.
const tools = resolve(dirname(fileURLToPath(import.meta.url)), '../../../tools/package.json');
const { default: Provider } = await import(pathToFileURL(createRequire(tools).resolve('oidc-provider')));

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${config.port}`;
const accounts = config.accounts;

const escape = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const provider = new Provider(issuer, {
  clients: [config.client],
  jwks: config.jwks,
  cookies: { keys: [config.cookie_key] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username', 'name', 'given_name', 'family_name', 'groups'],
  },
  // Put the profile claims in the ID token itself, as Entra ID, Okta and Keycloak do with their defaults.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = `<!doctype html><title>Sign out</title>${form}
          <button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>`;
      },
    },
  },
  pkce: { required: () => true },
  // Its SSRF guard refuses loopback addresses, where the tests run our server (the back-channel logout target).
  fetch: (url, { dispatcher, ...options }) => globalThis.fetch(url, options),
  ttl: { Session: 86400, Interaction: 600, Grant: 86400, IdToken: 3600, AccessToken: 3600, AuthorizationCode: 60 },
  async findAccount(ctx, sub) {
    const account = accounts[sub];
    if (!account) return undefined;
    return { accountId: sub, async claims() { return { sub, ...account.claims }; } };
  },
  // Our server is the organisation's own application: no consent screen at the IdP.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      const grant = await ctx.oidc.provider.Grant.find(grantId);
      if (grant) return grant;
    }
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope([...ctx.oidc.requestParamOIDCScopes].join(' '));
    await grant.save();
    return grant;
  },
});
provider.proxy = false;

async function readForm(ctx) {
  let raw = '';
  for await (const chunk of ctx.req) raw += chunk;
  return new URLSearchParams(raw);
}

function loginPage(uid, error = '') {
  return `<!doctype html><title>Test IdP sign-in</title><h1>Test IdP</h1>
    ${error ? `<p class="error">${escape(error)}</p>` : ''}
    <form method="post" action="/interaction/${uid}/login">
      <input name="username" id="username"><input name="password" id="password" type="password">
      <button type="submit" id="sign-in">Sign in</button>
    </form>
    <form method="post" action="/interaction/${uid}/abort"><button type="submit" id="abort">Cancel</button></form>`;
}

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([\w-]+)(?:\/(login|abort))?$/);
  if (!match) return next();
  const [, uid, action] = match;
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.uid !== uid) ctx.throw(400, 'interaction mismatch');
  let result;
  if (ctx.method === 'GET' && !action) {
    ctx.type = 'html';
    ctx.body = loginPage(uid);
    return undefined;
  }
  if (ctx.method === 'POST' && action === 'login') {
    const form = await readForm(ctx);
    const sub = Object.keys(accounts).find((id) => accounts[id].login === form.get('username'));
    if (!sub || accounts[sub].password !== form.get('password')) {
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = loginPage(uid, 'Wrong user name or password.');
      return undefined;
    }
    result = { login: { accountId: sub } };
  } else if (ctx.method === 'POST' && action === 'abort') {
    result = { error: 'access_denied', error_description: 'The person cancelled the sign-in.' };
  } else {
    ctx.throw(405);
  }
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(returnTo);
  return undefined;
});

// The tests' logs show what the IdP did.
provider.on('backchannel.success', (ctx, client, accountId) => console.log(`back-channel logout sent: ${accountId}`));
provider.on('backchannel.error', (ctx, err, client, accountId) => console.log(`back-channel logout failed: ${accountId}: ${err} ${err.cause}`));
provider.on('end_session.error', (ctx, err) => console.log(`end_session error: ${err}`));
provider.on('server_error', (ctx, err) => console.log(`server error: ${err.stack}`));

provider.listen(config.port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
