// A real OpenID Connect provider for Portcullis's end-to-end tests: panva's oidc-provider
// with a one-field sign-in form instead of its development interactions.
//
// Settings come from the environment:
//   OIDC_PORT      port on 127.0.0.1 (0 or unset: a free one)
//   OIDC_CLIENTS   JSON [{"client_id", "client_secret", "redirect_uris": [...]}, ...]
//   OIDC_ACCOUNTS  JSON {"<sub>": {"email", "email_verified", "name", "picture"}, ...}
//
// Once listening it prints exactly one line to stdout, `ISSUER http://127.0.0.1:<port>`;
// everything else goes to stderr.
//
// Routes of our own, besides the provider's:
//   GET  /interaction/:uid        the sign-in form (field `login` = an account id)
//   POST /interaction/:uid/login  signs in AND grants the requested scopes (no consent screen)
//   POST /__test/accounts         JSON like OIDC_ACCOUNTS: adds or replaces accounts (204)

import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider, { errors } from 'oidc-provider';

// stdout is for the ISSUER line alone: oidc-provider prints its notices with console.info.
console.log = (...args) => console.error(...args);
console.info = (...args) => console.error(...args);

const port = Number(process.env.OIDC_PORT || 0);
const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]');
const accounts = new Map(Object.entries(JSON.parse(process.env.OIDC_ACCOUNTS || '{}')));

// --- helpers -----------------------------------------------------------------------------

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function loginPage(uid, clientId, error) {
  return `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>Sign in</title></head>
<body>
  <h1>Sign in to ${escapeHtml(clientId)}</h1>
  ${error ? `<p id="error">${escapeHtml(error)}</p>` : ''}
  <form id="login-form" method="post" action="/interaction/${escapeHtml(uid)}/login">
    <input id="login" name="login" autofocus>
    <button id="submit" type="submit">Sign in</button>
  </form>
</body>
</html>
`;
}

// --- the provider ------------------------------------------------------------------------

// A fresh RS256 signing key each start; the provider publishes its public half at /jwks.
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomUUID(), alg: 'RS256', use: 'sig' };

const configuration = {
  clients: clients.map((client) => ({
    client_id: client.client_id,
    client_secret: client.client_secret,
    redirect_uris: client.redirect_uris,
    response_types: ['code'],
    grant_types: ['authorization_code'],
    // oidc-provider accepts client_secret_post as well for a client registered with this.
    token_endpoint_auth_method: client.token_endpoint_auth_method ?? 'client_secret_basic',
  })),
  responseTypes: ['code'],
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  pkce: { required: () => true }, // and S256 is the only method oidc-provider 9 knows
  scopes: ['openid', 'email', 'profile'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'picture'],
  },
  conformIdTokenClaims: false, // scope claims go into the ID token too, not only userinfo
  jwks: { keys: [signingKey] },
  enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
  cookies: { keys: ['portcullis-test-oidc-provider-cookie-key'] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // Fixed lifetimes (seconds); the defaults are functions that print a notice when called.
  ttl: { AccessToken: 3600, AuthorizationCode: 600, Grant: 3600, IdToken: 3600, Interaction: 3600, Session: 3600 },
  async findAccount(ctx, sub) {
    const account = accounts.get(sub);
    if (!account) return undefined;
    return { accountId: sub, claims: async () => ({ ...account, sub }) };
  },
  async renderError(ctx, out, error) {
    console.error('oidc-provider error page:', out, error?.stack ?? error);
    ctx.type = 'text/plain';
    ctx.body = Object.entries(out).map(([key, value]) => `${key}: ${value}`).join('\n');
  },
};

let provider; // made once the port, and so the issuer, is known
let handleProviderRequest; // provider.callback()

// GET /interaction/:uid
async function showLogin(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, 'text/plain', 'interaction uid does not match its cookie');
  send(res, 200, 'text/html; charset=utf-8', loginPage(uid, details.params.client_id));
}

// POST /interaction/:uid/login: the login, and the consent to everything asked, at once.
async function submitLogin(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, 'text/plain', 'interaction uid does not match its cookie');
  const login = new URLSearchParams(await readBody(req)).get('login')?.trim() ?? '';
  if (!accounts.has(login)) {
    const page = loginPage(uid, details.params.client_id, `Unknown account "${login}".`);
    return send(res, 200, 'text/html; charset=utf-8', page);
  }
  const { params } = details;
  const grant = new provider.Grant({ accountId: login, clientId: params.client_id });
  grant.addOIDCScope(String(params.scope ?? 'openid')); // the claims come with their scopes
  const grantId = await grant.save();
  // Answers 303 to the provider's resume URL, which redirects on to the client.
  await provider.interactionFinished(req, res, { login: { accountId: login }, consent: { grantId } }, {
    mergeWithLastSubmission: false,
  });
}

// POST /__test/accounts
async function addAccounts(req, res) {
  for (const [sub, account] of Object.entries(JSON.parse(await readBody(req)))) accounts.set(sub, account);
  res.writeHead(204).end();
}

async function route(req, res) {
  const { pathname } = new URL(req.url, 'http://127.0.0.1');
  let match;
  if (req.method === 'GET' && (match = pathname.match(/^\/interaction\/([^/]+)$/))) {
    return showLogin(req, res, match[1]);
  }
  if (req.method === 'POST' && (match = pathname.match(/^\/interaction\/([^/]+)\/login$/))) {
    return submitLogin(req, res, match[1]);
  }
  if (req.method === 'POST' && pathname === '/__test/accounts') {
    return addAccounts(req, res);
  }
  return handleProviderRequest(req, res);
}

const server = http.createServer((req, res) => {
  console.error(`${req.method} ${req.url}`);
  route(req, res).catch((error) => {
    console.error(error);
    if (res.headersSent) return res.end();
    const status = error instanceof errors.SessionNotFound ? 400 : 500;
    send(res, status, 'text/plain', `${error.name}: ${error.message} (${error.error_description ?? ''})`);
  });
});

server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  // Plain http is fine: cookies are marked Secure only on https requests (proxy stays off,
  // so X-Forwarded-Proto is not trusted).
  provider = new Provider(issuer, configuration);
  provider.on('server_error', (ctx, error) => console.error('server_error', error));
  handleProviderRequest = provider.callback();
  process.stdout.write(`ISSUER ${issuer}\n`);
});
