"""The identity component's tables (one :class:`~govlink.store.Schema`, SQLite and PostgreSQL).

Times are POSIX seconds (``REAL`` / ``DOUBLE PRECISION``) read from the injected clock, so the
virtual clock drives expiry in tests exactly as the real one does in production.
"""

from __future__ import annotations

from ..store import Migration, Schema, Store

__all__ = ["IDENTITY_SCHEMA", "ensure_schema"]

_V1 = """
CREATE TABLE identity_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE identity_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    public_jwk  TEXT NOT NULL,
    private_key TEXT NOT NULL,
    protector   TEXT NOT NULL,
    created_at  {real} NOT NULL,
    publish_at  {real} NOT NULL,
    activate_at {real} NOT NULL,
    retire_at   {real},
    remove_at   {real}
);
CREATE TABLE identity_sessions (
    sid        TEXT PRIMARY KEY,
    sub        TEXT NOT NULL,
    subject    TEXT NOT NULL,
    acr        TEXT NOT NULL,
    amr        TEXT NOT NULL,
    home_hall  TEXT NOT NULL,
    auth_time  {real} NOT NULL,
    expires_at {real} NOT NULL,
    ended_at   {real}
);
CREATE INDEX identity_sessions_sub ON identity_sessions (sub);
CREATE TABLE identity_session_clients (
    sid       TEXT NOT NULL,
    client_id TEXT NOT NULL,
    first_at  {real} NOT NULL,
    PRIMARY KEY (sid, client_id)
);
CREATE TABLE identity_refresh_families (
    family_id  TEXT PRIMARY KEY,
    sid        TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    revoked_at {real},
    reason     TEXT
);
CREATE TABLE identity_refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL,
    issued_at   {real} NOT NULL,
    expires_at  {real} NOT NULL,
    spent_at    {real},
    replaced_by TEXT
);
CREATE INDEX identity_refresh_tokens_family ON identity_refresh_tokens (family_id);
CREATE TABLE identity_revocations (
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    not_before {real} NOT NULL,
    expires_at {real} NOT NULL,
    PRIMARY KEY (kind, value)
);
CREATE TABLE identity_jwks_cache (
    url        TEXT PRIMARY KEY,
    jwks       TEXT NOT NULL,
    fetched_at {real} NOT NULL
);
CREATE TABLE identity_used_jti (
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at {real} NOT NULL,
    PRIMARY KEY (issuer, jti)
);
"""

# Version 2: the provider's own state, so that any process behind a load balancer can answer
# any request and a restart signs nobody out (authorization codes, SSO cookies), plus the
# once-only grace answer of a spent refresh token.
_V2 = """
CREATE TABLE identity_auth_codes (
    code_hash    TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    challenge    TEXT NOT NULL,
    scope        TEXT NOT NULL,
    nonce        TEXT,
    sid          TEXT NOT NULL,
    expires_at   {real} NOT NULL,
    used_at      {real},
    issued       TEXT
);
CREATE INDEX identity_auth_codes_expiry ON identity_auth_codes (expires_at);
CREATE TABLE identity_sso_cookies (
    cookie_hash TEXT PRIMARY KEY,
    sid         TEXT NOT NULL,
    expires_at  {real} NOT NULL
);
CREATE INDEX identity_sso_cookies_sid ON identity_sso_cookies (sid);
ALTER TABLE identity_refresh_tokens ADD COLUMN grace_used_at {real};
"""

# Version 3: the built-in sign-in page's parked requests (with their CSRF token) and the
# failed-attempt counts that throttle it, in the store so that limits hold across processes.
_V3 = """
CREATE TABLE identity_signin_requests (
    request_hash TEXT PRIMARY KEY,
    params       TEXT NOT NULL,
    csrf_hash    TEXT NOT NULL,
    expires_at   {real} NOT NULL
);
CREATE TABLE identity_signin_failures (
    key TEXT NOT NULL,
    at  {real} NOT NULL
);
CREATE INDEX identity_signin_failures_key ON identity_signin_failures (key, at);
"""

# Version 4: back-channel logout notices waiting for delivery (retried until their logout
# token expires; a restart does not drop them).
_V4 = """
CREATE TABLE identity_logout_deliveries (
    delivery_id  TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL,
    uri          TEXT NOT NULL,
    logout_token TEXT NOT NULL,
    expires_at   {real} NOT NULL,
    next_at      {real} NOT NULL,
    attempts     INTEGER NOT NULL,
    state        TEXT NOT NULL,
    last_error   TEXT,
    delivered_at {real}
);
CREATE INDEX identity_logout_deliveries_due ON identity_logout_deliveries (state, next_at);
"""


def _migration(version: int, name: str, template: str) -> Migration:
    """One step, its ``{real}`` times ``REAL`` on SQLite and ``DOUBLE PRECISION`` on PostgreSQL."""
    return Migration(
        version, name, template.format(real="REAL"), template.format(real="DOUBLE PRECISION")
    )


IDENTITY_SCHEMA = Schema(
    "identity",
    (
        _migration(1, "keys, sessions, refresh families, revocations, JWKS cache, used jti", _V1),
        _migration(2, "provider state: authorization codes, SSO cookies, refresh grace used", _V2),
        _migration(3, "sign-in page: parked requests, failed attempts", _V3),
        _migration(4, "back-channel logout deliveries", _V4),
    ),
)


def ensure_schema(store: Store) -> None:
    """Bring the identity tables up to date (cheap when they already are)."""
    store.migrate(IDENTITY_SCHEMA)
