// openid-client (Node) against two `govlink idp serve` processes on one store, requests
// alternating between them. Driven by tests/identity/test_interop_openid_client.py, which
// passes a JSON argument: {issuer, a, b, clients: {id: secret}, user, password, redirect}.
// Prints one JSON object with what it observed; any failure throws (exit code 1).
import * as client from 'openid-client';

const cfg = JSON.parse(process.argv[2]);
const [idA, idB] = Object.keys(cfg.clients);
const insecure = { execute: [client.allowInsecureRequests] };

// Discovery at A (whose URL is the issuer); a second configuration sends to B.
const atA = await client.discovery(
  new URL(cfg.issuer), idA, cfg.clients[idA], client.ClientSecretBasic(cfg.clients[idA]), insecure,
);
function at(base, clientId) {
  const meta = { ...atA.serverMetadata() };
  for (const name of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint',
    'introspection_endpoint', 'revocation_endpoint', 'end_session_endpoint']) {
    meta[name] = meta[name].replace(cfg.issuer, base);
  }
  const config = new client.Configuration(
    meta, clientId, cfg.clients[clientId], client.ClientSecretBasic(cfg.clients[clientId]),
  );
  client.allowInsecureRequests(config);
  return config;
}
const hallA = { a: at(cfg.a, idA), b: at(cfg.b, idA) };
const hallB = { a: at(cfg.a, idB), b: at(cfg.b, idB) };

// A browser: a cookie jar over fetch, redirects not followed.
const jar = new Map();
async function browse(url, init = {}) {
  const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const response = await fetch(url, {
    ...init, redirect: 'manual', headers: { ...(init.headers || {}), cookie },
  });
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const [name, value] = pair.split('=');
    if (/max-age=0/i.test(line) || value === '""') jar.delete(name); else jar.set(name, value);
  }
  return response;
}

const out = {};
// Code + PKCE: authorize at A, sign in at B, redeem at A; ID token checked by openid-client.
const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const url = client.buildAuthorizationUrl(hallA.a, {
  redirect_uri: cfg.redirect, scope: 'openid profile cases:read', state, nonce,
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
});
const page = await browse(url);
const html = await page.text();
const hidden = Object.fromEntries(
  [...html.matchAll(/name='(request|csrf)' value='([^']+)'/g)].map((m) => [m[1], m[2]]),
);
const signedIn = await browse(`${cfg.b}/sign-in`, {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ ...hidden, username: cfg.user, password: cfg.password }),
});
if (signedIn.status !== 303) throw new Error(`sign-in answered ${signedIn.status}`);
const tokens = await client.authorizationCodeGrant(
  hallA.a, new URL(signedIn.headers.get('location')),
  { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce },
);
const claims = tokens.claims();
out.id_token = { iss: claims.iss, aud: claims.aud, acr: claims.acr };

// Refresh with rotation at B; userinfo at A; introspection at B.
const rotated = await client.refreshTokenGrant(hallA.b, tokens.refresh_token);
out.rotated = rotated.refresh_token !== tokens.refresh_token;
const info = await client.fetchUserInfo(hallA.a, rotated.access_token, claims.sub);
out.userinfo_sub = info.sub === claims.sub;
out.introspection = (await client.tokenIntrospection(hallA.b, rotated.access_token)).active;

// Token exchange A -> B at A; client_credentials at B.
const exchanged = await client.genericGrantRequest(
  hallA.a, 'urn:ietf:params:oauth:grant-type:token-exchange', {
    subject_token: rotated.access_token,
    subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    audience: idB,
  },
);
out.exchanged = Boolean(exchanged.access_token);
const machine = await client.clientCredentialsGrant(hallB.b, { scope: 'cases:read' });
out.client_credentials = Boolean(machine.access_token);

// SSO: hall B at B from the browser's cookie, no sign-in, prompt=none.
const verifierB = client.randomPKCECodeVerifier();
const stateB = client.randomState();
const sso = await browse(client.buildAuthorizationUrl(hallB.b, {
  redirect_uri: cfg.redirect, scope: 'openid', state: stateB, prompt: 'none',
  code_challenge: await client.calculatePKCECodeChallenge(verifierB),
  code_challenge_method: 'S256',
}));
const tokensB = await client.authorizationCodeGrant(
  hallB.a, new URL(sso.headers.get('location')),
  { pkceCodeVerifier: verifierB, expectedState: stateB },
);
out.sso_acr = tokensB.claims().acr;

// Revocation at A, seen at B within the documented bound (1 s).
await client.tokenRevocation(hallA.a, rotated.access_token);
let active = true;
for (let i = 0; i < 50 && active; i += 1) {
  active = (await client.tokenIntrospection(hallA.b, rotated.access_token)).active;
  if (active) await new Promise((resolve) => { setTimeout(resolve, 100); });
}
out.revoked_seen_at_b = !active;

// End-session at B, with id_token_hint; the session is gone at A.
const end = await browse(client.buildEndSessionUrl(hallA.b, {
  id_token_hint: tokens.id_token, post_logout_redirect_uri: cfg.post_logout,
}));
out.end_session_redirect = end.headers.get('location');
const after = await browse(client.buildAuthorizationUrl(hallA.a, {
  redirect_uri: cfg.redirect, scope: 'openid', state, prompt: 'none',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
}));
out.after_logout = new URL(after.headers.get('location')).searchParams.get('error');
console.log(JSON.stringify(out));
