"""The strict multi-issuer verifier every hall runs on every request.

Each trusted issuer is pinned to its own key source (the local key ring, or a remote JWKS), its
audiences, algorithms, token types and claim mapping. A token is refused — with a typed error
whose ``code`` says exactly why — unless every check passes:

1. size, exactly three canonical base64url parts (a JWE's five are refused), JSON objects with
   no duplicate member names;
2. header: ``alg`` in the allow-lists (never ``none``, never HMAC), no ``jku``/``x5u``/``jwk``/
   ``x5c``, no ``crit``, no ``b64``, no nested ``cty: JWT``, ``typ`` fitting the token kind;
3. ``iss`` trusted, and the key named by ``kid`` belonging to that issuer;
4. the signature, with an algorithm bound to that key;
5. ``exp``, ``iat`` (not in the future), ``nbf``, ``aud`` (exact member match; ``azp`` with
   several audiences), ``sub``, claim types; a one-time token's ``jti`` not seen before;
   revocation (token, session, subject).

A bounded cache maps a verified token's exact text to its result; a hit is served only while
``exp`` has not passed and the issuer's revocation epoch is unchanged, so it never outlives an
expiry or a revocation.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Protocol, runtime_checkable

from .._clock import Clock, system_clock
from ..store import Store
from ._errors import (
    AlgorithmNotAllowed,
    CritNotUnderstood,
    EmbeddedKeyRefused,
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    InvalidSignature,
    InvalidTokenType,
    IssuedInFuture,
    MalformedToken,
    TokenExpired,
    TokenNotYetValid,
    TokenReplayed,
    TokenRevoked,
    TokenTooLarge,
    UnknownKey,
    UnsupportedToken,
)
from ._jose import ALGORITHMS, VerificationKey, b64url_decode, loads_strict
from ._keys import KeyRing
from ._schema import ensure_schema

__all__ = [
    "ACCESS_TOKEN_TYPES",
    "ID_TOKEN_TYPES",
    "LOGOUT_TOKEN_TYPES",
    "KeySource",
    "LocalKeySource",
    "MemoryReplayGuard",
    "ReplayGuard",
    "RevocationCheck",
    "StoreReplayGuard",
    "TrustedIssuer",
    "VerifiedToken",
    "Verifier",
]

#: ``typ`` values accepted for access tokens (RFC 9068 §2.1), compared case-insensitively.
ACCESS_TOKEN_TYPES: Final = frozenset({"at+jwt", "application/at+jwt"})
#: ``typ`` values accepted for OIDC ID tokens.
ID_TOKEN_TYPES: Final = frozenset({"jwt", "application/jwt"})
#: ``typ`` of OIDC back-channel logout tokens.
LOGOUT_TOKEN_TYPES: Final = frozenset({"logout+jwt", "application/logout+jwt"})
_EMBEDDED_KEY_HEADERS: Final = ("jku", "x5u", "jwk", "x5c")
_ALLOWED: Final = frozenset(ALGORITHMS)
# Optional claims whose type is checked when present (claims of the wrong type are refused).
_STRING_CLAIMS: Final = ("jti", "scope", "acr", "sid", "client_id", "azp", "nonce")
_NUMBER = (int, float)
#: NumericDate claims beyond this (year 2286) are refused: no real token needs them, and huge
#: integers would not convert to float.
_MAX_TIME: Final = 10_000_000_000


@runtime_checkable
class KeySource(Protocol):
    """Where a trusted issuer's public keys come from."""

    def lookup(self, kid: str) -> VerificationKey | None:
        """The key with ``kid`` if known now, without any I/O."""
        ...

    def get_key(self, kid: str) -> VerificationKey | None:
        """The key with ``kid``, fetching (synchronously) when allowed."""
        ...

    async def aget_key(self, kid: str) -> VerificationKey | None:
        """The key with ``kid``, fetching (asynchronously) when allowed."""
        ...


class LocalKeySource:
    """Keys straight from a :class:`KeyRing` in the same process (the identity provider's own
    verifier and halls that share its store)."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    def lookup(self, kid: str) -> VerificationKey | None:
        """The published key with ``kid``, if any."""
        return self.ring.verification_keys().get(kid)

    def get_key(self, kid: str) -> VerificationKey | None:
        """As :meth:`lookup`, re-reading the store (rate-limited) on a miss."""
        key = self.ring.verification_keys().get(kid)
        if key is None:
            # Perhaps rotated by another process moments ago: re-read the store (rate-limited,
            # so unknown-kid floods cost at most one read every few seconds).
            self.ring.reload_if_older(5.0)
            key = self.ring.verification_keys().get(kid)
        return key

    async def aget_key(self, kid: str) -> VerificationKey | None:
        """Async :meth:`get_key` (no network I/O)."""
        return self.get_key(kid)


@runtime_checkable
class RevocationCheck(Protocol):
    """Tells whether verified claims were revoked. ``epoch`` changes on every revocation."""

    @property
    def epoch(self) -> int: ...

    def is_revoked(self, claims: Mapping[str, Any]) -> bool: ...


@runtime_checkable
class ReplayGuard(Protocol):
    """Remembers the ``jti`` of one-time tokens until they expire."""

    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        """True the first time ``(issuer, jti)`` is seen, False on every later call."""
        ...


class MemoryReplayGuard:
    """One process's memory of used one-time tokens (bounded; forgets only expired ones)."""

    def __init__(self, clock: Clock = system_clock, *, max_entries: int = 100_000) -> None:
        self.clock = clock
        self.max_entries = max_entries
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        """True the first time ``(issuer, jti)`` is seen; refuses when full."""
        now = self.clock.time()
        with self._lock:
            if len(self._seen) >= self.max_entries:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
                if len(self._seen) >= self.max_entries:
                    # Refusing is the safe side: a full guard cannot prove a token is fresh.
                    return False
            if (issuer, jti) in self._seen:
                return False
            self._seen[(issuer, jti)] = expires_at
            return True


class StoreReplayGuard:
    """Used one-time tokens recorded in the store, shared by every worker of a hall."""

    def __init__(self, store: Store, clock: Clock = system_clock) -> None:
        self.store = store
        self.clock = clock
        ensure_schema(store)

    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        """True the first time ``(issuer, jti)`` is recorded in the store."""
        now = self.clock.time()
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM identity_used_jti WHERE expires_at < ?", (now - 3600,))
            cur = conn.execute(
                "INSERT INTO identity_used_jti (issuer, jti, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (issuer, jti) DO NOTHING",
                (issuer, jti, expires_at),
            )
            return cur.rowcount == 1


ClaimMapping = Callable[[Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class TrustedIssuer:
    """One issuer a verifier trusts, pinned to its key source and rules.

    ``audiences``: the audiences this issuer may address (``None``: whatever the verifier
    expects). ``token_types``: accepted ``typ`` values per token kind. ``one_time``: every token
    of this issuer may be used once (its ``jti`` is remembered). ``claim_mapping`` turns the
    issuer's claims into the city's (e.g. the provincial platform's trust level into ``acr``).
    """

    issuer: str
    keys: KeySource
    audiences: frozenset[str] | None = None
    algorithms: frozenset[str] = _ALLOWED
    token_types: Mapping[str, frozenset[str]] = field(
        default_factory=lambda: {
            "access": ACCESS_TOKEN_TYPES,
            "id": ID_TOKEN_TYPES,
            "logout": LOGOUT_TOKEN_TYPES,
        }
    )
    claim_mapping: ClaimMapping | None = None
    revocation: RevocationCheck | None = None
    one_time: bool = False
    require_jti: bool = True
    leeway: float = 60.0

    def __post_init__(self) -> None:
        unknown = set(self.algorithms) - _ALLOWED
        if unknown:
            raise ValueError(f"algorithms not offered by govlink: {sorted(unknown)}")


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A token that passed every check. ``claims`` is read-only (mapped if the issuer maps)."""

    claims: Mapping[str, Any]
    issuer: str
    subject: str
    audience: str
    kind: str
    kid: str
    alg: str
    expires_at: float

    @property
    def scopes(self) -> frozenset[str]:
        """The ``scope`` claim as a set."""
        scope = self.claims.get("scope")
        return frozenset(scope.split()) if isinstance(scope, str) else frozenset()

    @property
    def acr(self) -> str | None:
        """The trust level (``acr``), when present."""
        value = self.claims.get("acr")
        return value if isinstance(value, str) else None

    @property
    def session_id(self) -> str | None:
        """The SSO session (``sid``), when present."""
        value = self.claims.get("sid")
        return value if isinstance(value, str) else None


@dataclass(slots=True)
class _Parsed:
    header_len: int
    payload_len: int
    signature: str
    alg: str
    kid: str
    claims: dict[str, Any]
    trusted: TrustedIssuer


class Verifier:
    """Verifies tokens of several trusted issuers for one hall (``audience``).

    ``verify`` (sync) and ``averify`` (async) share every decision; they differ only in how a
    remote key source fetches. Both raise an :class:`~govlink.identity.InvalidToken` subclass
    (its ``code`` tells why), or :class:`~govlink.identity.JWKSUnavailable` when a remote
    issuer's keys cannot be had.
    """

    def __init__(
        self,
        issuers: Iterable[TrustedIssuer],
        *,
        audience: str | None = None,
        clock: Clock = system_clock,
        max_token_bytes: int = 8192,
        cache_size: int = 4096,
        replay_guard: ReplayGuard | None = None,
    ) -> None:
        self._issuers: dict[str, TrustedIssuer] = {}
        for trusted in issuers:
            if trusted.issuer in self._issuers:
                raise ValueError(f"issuer {trusted.issuer!r} configured twice")
            self._issuers[trusted.issuer] = trusted
        if not self._issuers:
            raise ValueError("a verifier needs at least one trusted issuer")
        self.audience = audience
        self.clock = clock
        self.max_token_bytes = max_token_bytes
        self.cache_size = cache_size
        self.replay_guard = replay_guard or MemoryReplayGuard(clock)
        self._cache: dict[str, tuple[VerifiedToken, TrustedIssuer, int]] = {}
        self._headers: dict[str, tuple[str, str, str]] = {}

    @property
    def issuers(self) -> Mapping[str, TrustedIssuer]:
        """The trusted issuers by ``iss`` (read-only)."""
        return MappingProxyType(self._issuers)

    # -- drivers -----------------------------------------------------------------------------

    def verify(
        self,
        token: str,
        *,
        audience: str | None = None,
        kind: str = "access",
        once: bool = False,
    ) -> VerifiedToken:
        """Verify ``token`` as a token of ``kind`` (``access`` or ``id``) for ``audience``.

        ``once``: treat it as a one-time token (its ``jti`` is remembered; a second use is
        refused with ``token_replayed``).

        Raises:
            InvalidToken: a subclass naming the check that failed.
            JWKSUnavailable: a remote issuer's keys cannot be had.
        """
        aud, cached = self._begin(token, audience, kind, once, "verify")
        if cached is not None:
            return cached
        parsed = self._parse(token, kind)
        key = parsed.trusted.keys.get_key(parsed.kid)
        return self._finish(token, parsed, key, aud, kind, once)

    async def averify(
        self,
        token: str,
        *,
        audience: str | None = None,
        kind: str = "access",
        once: bool = False,
    ) -> VerifiedToken:
        """Async :meth:`verify`: a remote JWKS is fetched without blocking the event loop."""
        aud, cached = self._begin(token, audience, kind, once, "averify")
        if cached is not None:
            return cached
        parsed = self._parse(token, kind)
        key = parsed.trusted.keys.lookup(parsed.kid)
        if key is None:
            key = await parsed.trusted.keys.aget_key(parsed.kid)
        return self._finish(token, parsed, key, aud, kind, once)

    def _begin(
        self, token: str, audience: str | None, kind: str, once: bool, caller: str
    ) -> tuple[str, VerifiedToken | None]:
        """The audience to check, and a cached result when one may be reused.

        Raises:
            TypeError: no audience here or on the Verifier (a programmer mistake).
        """
        aud = audience or self.audience
        if aud is None:
            raise TypeError(f"{caller}() needs an audience (here or on the Verifier)")
        # A one-time token must reach the replay check, so it never comes from the cache.
        return aud, (None if once else self._cached(token, aud, kind))

    def _cached(self, token: str, aud: str, kind: str) -> VerifiedToken | None:
        """A cached result still good for this use: same kind and audience, not expired, and
        no revocation since it was cached (the issuer's revocation epoch is unchanged)."""
        if not isinstance(token, str):
            return None  # not even hashable, perhaps: _parse refuses it (malformed_token)
        hit = self._cache.get(token)
        if hit is None:
            return None
        result, trusted, epoch = hit
        if (
            result.kind == kind
            and result.audience == aud
            and self.clock.time() < result.expires_at
            and (trusted.revocation is None or trusted.revocation.epoch == epoch)
        ):
            return result
        return None

    def clear_cache(self) -> None:
        """Forget every cached verification result."""
        self._cache.clear()

    # -- shared decisions (no I/O) -----------------------------------------------------------

    def _parse(self, token: str, kind: str) -> _Parsed:
        if not isinstance(token, str):
            raise MalformedToken("a token is text")
        if len(token) > self.max_token_bytes:
            raise TokenTooLarge(f"{len(token)} bytes; at most {self.max_token_bytes}")
        parts = token.split(".")
        if len(parts) != 3:
            if len(parts) == 5:
                raise UnsupportedToken("JWE (encrypted token) is not accepted")
            raise MalformedToken("not a compact JWS of three parts")
        h, p, s = parts
        header = self._headers.get(h)
        if header is None:
            header = self._parse_header(h)
        alg, kid, typ = header
        claims = loads_strict(b64url_decode(p), "claims")
        if type(claims) is not dict:
            raise MalformedToken("claims are not a JSON object")
        iss = claims.get("iss")
        if type(iss) is not str:
            raise InvalidIssuer("iss missing or not a string")
        trusted = self._issuers.get(iss)
        if trusted is None:
            raise InvalidIssuer("issuer not trusted")
        typs = trusted.token_types.get(kind)
        if typs is None or typ not in typs:
            raise InvalidTokenType(f"typ {typ or '(none)'!r} is not a {kind} token")
        if alg not in trusted.algorithms:
            raise AlgorithmNotAllowed(f"alg {alg} not allowed for this issuer")
        return _Parsed(len(h), len(p), s, alg, kid, claims, trusted)

    def _parse_header(self, segment: str) -> tuple[str, str, str]:
        header = loads_strict(b64url_decode(segment), "header")
        if type(header) is not dict:
            raise MalformedToken("header is not a JSON object")
        if "enc" in header:
            raise UnsupportedToken("JWE (encrypted token) is not accepted")
        alg = header.get("alg")
        if type(alg) is not str:
            raise AlgorithmNotAllowed("alg missing or not a string")
        if alg.lower() == "none":
            raise AlgorithmNotAllowed("alg none (unsigned token)")
        if alg not in _ALLOWED:
            raise AlgorithmNotAllowed(f"alg {alg[:20]!r} is not allowed (HMAC and others refused)")
        for name in _EMBEDDED_KEY_HEADERS:
            if name in header:
                raise EmbeddedKeyRefused(f"header {name!r} brings its own key")
        if "crit" in header:
            crit = header["crit"]
            if type(crit) is not list or not crit or not all(type(c) is str for c in crit):
                raise CritNotUnderstood("malformed crit header")
            raise CritNotUnderstood(f"crit names extensions not understood: {crit[:5]}")
        if "b64" in header:
            raise UnsupportedToken("unencoded payload (b64) is not accepted")
        if "zip" in header:
            raise UnsupportedToken("compressed payload (zip) is not accepted")
        cty = header.get("cty")
        if cty is not None:
            if type(cty) is not str:
                raise MalformedToken("cty is not a string")
            if cty.lower() in ("jwt", "application/jwt"):
                raise UnsupportedToken("nested JWT (cty: JWT) is not accepted")
        kid = header.get("kid")
        if kid is None:
            raise UnknownKey("no kid in header")
        if type(kid) is not str or not kid:
            raise MalformedToken("kid is not a non-empty string")
        typ = header.get("typ", "")
        if type(typ) is not str:
            raise MalformedToken("typ is not a string")
        parsed = (alg, kid, typ.lower())
        if len(self._headers) >= 512:
            self._headers.clear()
        self._headers[segment] = parsed
        return parsed

    def _finish(
        self,
        token: str,
        parsed: _Parsed,
        key: VerificationKey | None,
        aud: str,
        kind: str,
        once: bool,
    ) -> VerifiedToken:
        trusted = parsed.trusted
        if key is None:
            for other in self._issuers.values():
                if other is not trusted and other.keys.lookup(parsed.kid) is not None:
                    raise InvalidIssuer("signed with another issuer's key")
            raise UnknownKey("no key of this issuer has that kid")
        verify = key.verifiers.get(parsed.alg)
        if verify is None:
            raise AlgorithmNotAllowed(f"alg {parsed.alg} is not bound to key {key.kid}")
        signed_len = parsed.header_len + 1 + parsed.payload_len
        if not verify(token[:signed_len].encode("ascii"), b64url_decode(parsed.signature)):
            raise InvalidSignature("signature does not verify")

        claims = parsed.claims
        now = self.clock.time()
        leeway = trusted.leeway
        exp = claims.get("exp")
        if type(exp) not in _NUMBER:
            raise InvalidClaim("exp", "required number" if exp is None else "must be a number")
        if not 0 <= exp < _MAX_TIME:  # type: ignore[operator]  # checked numeric above
            raise InvalidClaim("exp", "out of range")
        if now >= exp + leeway:  # type: ignore[operator]  # checked numeric above
            raise TokenExpired("exp has passed")
        iat = claims.get("iat")
        if type(iat) not in _NUMBER:
            raise InvalidClaim("iat", "required number" if iat is None else "must be a number")
        if not 0 <= iat < _MAX_TIME:  # type: ignore[operator]  # checked numeric above
            raise InvalidClaim("iat", "out of range")
        if iat > now + leeway:  # type: ignore[operator]  # checked numeric above
            raise IssuedInFuture("iat lies in the future")
        nbf = claims.get("nbf")
        if nbf is not None:
            if type(nbf) not in _NUMBER or not 0 <= nbf < _MAX_TIME:
                raise InvalidClaim("nbf", "must be a number in range")
            if nbf > now + leeway:
                raise TokenNotYetValid("nbf lies in the future")
        sub = claims.get("sub")
        if type(sub) is not str or not sub:
            raise InvalidClaim("sub", "required non-empty string")
        token_aud = claims.get("aud")
        if type(token_aud) is str:
            if token_aud != aud:
                raise InvalidAudience("aud does not name this hall")
        elif type(token_aud) is list and token_aud:
            if not all(type(a) is str for a in token_aud):
                raise InvalidClaim("aud", "members must be strings")
            if aud not in token_aud:
                raise InvalidAudience("aud does not name this hall")
            if len(token_aud) > 1:
                azp = claims.get("azp")
                if type(azp) is not str or azp not in token_aud:
                    raise InvalidAudience("several audiences without a matching azp")
        elif token_aud is None:
            raise InvalidAudience("aud missing")
        else:
            raise InvalidClaim("aud", "must be a string or a non-empty list of strings")
        if kind == "id" and "azp" in claims and claims["azp"] != aud:
            raise InvalidAudience("azp is not this client")
        if trusted.audiences is not None and aud not in trusted.audiences:
            raise InvalidAudience("this issuer may not address this audience")
        for name in _STRING_CLAIMS:
            value = claims.get(name)
            if value is not None and type(value) is not str:
                raise InvalidClaim(name, "must be a string")
        amr = claims.get("amr")
        if amr is not None and (type(amr) is not list or not all(type(a) is str for a in amr)):
            raise InvalidClaim("amr", "must be a list of strings")
        jti = claims.get("jti")
        if jti is None and (trusted.require_jti or once or trusted.one_time):
            raise InvalidClaim("jti", "required string")
        if (once or trusted.one_time) and not self.replay_guard.first_use(
            trusted.issuer,
            str(jti),
            float(exp),  # type: ignore[arg-type]  # checked numeric above
        ):
            raise TokenReplayed("one-time token already used")
        revocation = trusted.revocation
        epoch = 0
        if revocation is not None:
            epoch = revocation.epoch
            if revocation.is_revoked(claims):
                raise TokenRevoked("token, session or subject revoked")
        mapped = trusted.claim_mapping(claims) if trusted.claim_mapping else claims
        result = VerifiedToken(
            MappingProxyType(dict(mapped)) if trusted.claim_mapping else MappingProxyType(claims),
            trusted.issuer,
            sub,
            aud,
            kind,
            key.kid,
            parsed.alg,
            float(exp),  # type: ignore[arg-type]  # checked numeric above
        )
        if self.cache_size > 0 and not (once or trusted.one_time):
            cache = self._cache
            if len(cache) >= self.cache_size:
                # Drop the oldest entry (dicts keep insertion order): cheap, bounded. Another
                # thread may change the dict meanwhile; then it is simply tried next time.
                with contextlib.suppress(RuntimeError, StopIteration):
                    cache.pop(next(iter(cache)), None)
            cache[token] = (result, trusted, epoch)
        return result

    def __repr__(self) -> str:
        return f"Verifier(issuers={list(self._issuers)}, audience={self.audience!r})"
