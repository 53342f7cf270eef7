// Drives govlink's identity provider with openid-client (v6), as an independent client would.
//
// Input (JSON on stdin): issuer, secrets {client id: secret}, username, password, redirect_uri,
// post_logout_redirect_uri, ticket (a provincial one-time ticket for this provider).
// Output (JSON on stdout): what each flow returned, for the Python test to check. A flow that
// openid-client itself refuses (a failed check) makes the script exit 1 with the error.
//
// Run by tests/identity/test_interop_two_processes.py; by hand:
//   cd tests/identity/node && npm ci && node interop.mjs < input.json

import * as client from "openid-client";

const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";
const JWT = "urn:ietf:params:oauth:token-type:jwt";

async function readInput() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

function claimsOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));
}

// A browser's part: a cookie jar and redirects not followed (the callback is not served).
class Browser {
  constructor() {
    this.cookies = new Map();
  }

  async fetch(url, init = {}) {
    const headers = new Headers(init.headers ?? {});
    if (this.cookies.size) {
      headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    }
    const response = await fetch(url, { ...init, headers, redirect: "manual" });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";").map((part) => part.trim());
      const at = pair.indexOf("=");
      const name = pair.slice(0, at);
      const value = pair.slice(at + 1).replace(/^"|"$/g, "");
      const gone = attributes.some((a) => /^max-age=0$/i.test(a)) || value === "";
      if (gone) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  // Open the sign-in page, post its form with the CSRF token it carries; the redirect target.
  async signIn(authorizeUrl, username, password) {
    const page = await this.fetch(authorizeUrl);
    const html = await page.text();
    if (page.status !== 200) throw new Error(`sign-in page: HTTP ${page.status}: ${html}`);
    const action = html.match(/<form method='post' action='([^']+)'/)[1];
    const form = new URLSearchParams({ username, password });
    for (const [, name, value] of html.matchAll(/name='(request|csrf)' value='([^']+)'/g)) {
      form.set(name, value);
    }
    const done = await this.fetch(action, { method: "POST", body: form });
    if (done.status !== 303) throw new Error(`sign-in post: HTTP ${done.status}`);
    return done.headers.get("location");
  }
}

async function refusal(promise) {
  try {
    await promise;
    return null;
  } catch (error) {
    if (error instanceof client.ResponseBodyError) return error.error;
    throw error;
  }
}

async function main() {
  const input = await readInput();
  const issuer = new URL(input.issuer);
  const options = { execute: [client.allowInsecureRequests] }; // plain http on loopback
  const configFor = (id) =>
    client.discovery(
      issuer,
      id,
      input.secrets[id],
      client.ClientSecretPost(input.secrets[id]),
      options,
    );
  const hall = await configFor("hall-370502");
  // Verify ID token signatures against the provider's JWKS too (off by default over TLS).
  client.enableNonRepudiationChecks(hall);
  const out = { discovered_issuer: hall.serverMetadata().issuer };

  // Code + PKCE through the built-in sign-in page.
  const browser = new Browser();
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizeUrl = client.buildAuthorizationUrl(hall, {
    redirect_uri: input.redirect_uri,
    scope: "openid profile cases:read",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
  });
  const location = await browser.signIn(authorizeUrl, input.username, input.password);
  out.callback_iss = new URL(location).searchParams.get("iss");
  // Checks state, iss (RFC 9207), the code exchange with the verifier, and the ID token
  // (its signature from the JWKS, iss, aud, exp, iat, nonce).
  const tokens = await client.authorizationCodeGrant(hall, new URL(location), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  out.id_token = tokens.claims();

  // Refresh with rotation.
  const rotated = await client.refreshTokenGrant(hall, tokens.refresh_token);
  out.refresh_rotated = rotated.refresh_token !== tokens.refresh_token;
  out.refresh_access_changed = rotated.access_token !== tokens.access_token;

  // Userinfo and introspection.
  out.userinfo = await client.fetchUserInfo(hall, rotated.access_token, out.id_token.sub);
  out.introspection = await client.tokenIntrospection(hall, rotated.access_token);

  // Token exchange hall -> hall, and provincial ticket -> city token (twice: one-time).
  const toHall = await client.genericGrantRequest(hall, EXCHANGE, {
    subject_token: rotated.access_token,
    subject_token_type: ACCESS_TOKEN,
    audience: "hall-370503",
  });
  out.exchanged = { ...claimsOf(toHall.access_token), issued: toHall.issued_token_type };
  out.subject_sid = claimsOf(rotated.access_token).sid;
  const fromProvince = {
    subject_token: input.ticket,
    subject_token_type: JWT,
    audience: "hall-370503",
  };
  const city = await client.genericGrantRequest(hall, EXCHANGE, fromProvince);
  out.province_exchanged = claimsOf(city.access_token);
  out.province_replay = await refusal(client.genericGrantRequest(hall, EXCHANGE, fromProvince));

  // client_credentials: another hall's back end, no person.
  const machine = await client.clientCredentialsGrant(await configFor("hall-370503"), {
    scope: "cases:read",
  });
  out.client_credentials = { ...claimsOf(machine.access_token), refresh: machine.refresh_token ?? null };

  // Revocation, then introspection until both processes (each answers in turn) say inactive
  // one after the other; the other process learns of it within the documented 1 s.
  await client.tokenRevocation(hall, tokens.access_token);
  const deadline = Date.now() + 10_000;
  let inactiveInARow = 0;
  while (inactiveInARow < 2 && Date.now() < deadline) {
    const { active } = await client.tokenIntrospection(hall, tokens.access_token);
    inactiveInARow = active ? 0 : inactiveInARow + 1;
  }
  out.revocation_seen_by_both = inactiveInARow === 2;

  // The old refresh token once its successor was used; then the family.
  const third = await client.refreshTokenGrant(hall, rotated.refresh_token);
  out.old_refresh = await refusal(client.refreshTokenGrant(hall, tokens.refresh_token));
  out.family_after_reuse = await refusal(client.refreshTokenGrant(hall, third.refresh_token));

  // End-session (RP-initiated logout), then the SSO session is gone at both processes.
  const endSession = client.buildEndSessionUrl(hall, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: input.post_logout_redirect_uri,
  });
  const ended = await browser.fetch(endSession);
  out.end_session = { status: ended.status, location: ended.headers.get("location") };
  out.after_logout = [];
  for (let i = 0; i < 2; i++) {
    const silent = client.buildAuthorizationUrl(hall, {
      redirect_uri: input.redirect_uri,
      scope: "openid",
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      prompt: "none",
    });
    const answer = await browser.fetch(silent);
    out.after_logout.push(new URL(answer.headers.get("location")).searchParams.get("error"));
  }
  out.access_after_logout = (await client.tokenIntrospection(hall, third.access_token)).active;

  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n${JSON.stringify(error?.cause ?? null)}\n`);
  process.exit(1);
});
