"""The city identity provider's token issuer: SSO sessions, tokens, refresh, logout, revocation.

One sign-in opens an SSO session (单点登录会话); any hall's client then gets tokens from that
session without the person signing in again (:meth:`Issuer.tokens_for`). Access tokens are
RFC 9068 JWTs (``typ: at+jwt``), ID tokens OIDC JWTs (``typ: JWT``), refresh tokens opaque random
strings stored only as SHA-256 hashes, rotated on every use; a spent refresh token presented
again after the grace period revokes its whole family. Single logout ends the session for every
hall (and returns the back-channel logout tokens to deliver).

One cohesive concept, hence one module despite its length: the token issuer (sessions, tokens,
refresh families, revocation).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .._clock import Clock, system_clock
from ..store import Connection, Store
from ._errors import (
    IdentityError,
    InvalidToken,
    RefreshTokenError,
    SessionEnded,
)
from ._keys import KeyRing
from ._registry import HallClient, HallRegistry
from ._revocation import RevocationRegistry
from ._schema import ensure_schema
from ._subjects import ACR_LEVELS, Subject, subject_identifier
from ._verifier import LocalKeySource, TrustedIssuer, VerifiedToken, Verifier

__all__ = ["Issuer", "LogoutNotice", "Session", "SignIn", "TokenPolicy", "TokenSet"]

_REFRESH_PREFIX: Final = "glrt_"
TOKEN_TYPE_ACCESS: Final = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - URN
_LOGOUT_EVENT: Final = "http://schemas.openid.net/event/backchannel-logout"  # OIDC BCL §2.4


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """Lifetimes (seconds) and options of issued tokens.

    ``refresh_grace``: how long a just-spent refresh token may be presented again (a client that
    lost the response) before reuse counts as theft and revokes the family.
    ``pairwise``: give each hall its own ``sub`` for the same person (OIDC pairwise identifiers).
    """

    access_ttl: float = 600.0
    id_ttl: float = 600.0
    refresh_ttl: float = 8 * 3600.0
    session_ttl: float = 8 * 3600.0
    refresh_grace: float = 10.0
    pairwise: bool = False

    @property
    def max_token_lifetime(self) -> float:
        """The longest lifetime of a signed token (what key rollover must respect)."""
        return max(self.access_ttl, self.id_ttl)


@dataclass(frozen=True, slots=True)
class TokenSet:
    """What a token endpoint returns (RFC 6749 §5.1 plus ``id_token``). Tokens are credentials:
    ``repr`` leaves them out."""

    access_token: str = field(repr=False)
    expires_in: int
    scope: str
    session_id: str
    client_id: str
    id_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    token_type: str = "Bearer"  # noqa: S105 - a token type name
    issued_token_type: str = TOKEN_TYPE_ACCESS

    def to_dict(self) -> dict[str, Any]:
        """The RFC 6749 §5.1 response body."""
        data: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.id_token:
            data["id_token"] = self.id_token
        if self.refresh_token:
            data["refresh_token"] = self.refresh_token
        return data


@dataclass(frozen=True, slots=True)
class Session:
    """An SSO session (one sign-in)."""

    sid: str
    sub: str
    subject_claims: Mapping[str, Any]
    acr: str
    amr: tuple[str, ...]
    home_hall: str
    auth_time: float
    expires_at: float
    ended_at: float | None

    def active(self, now: float) -> bool:
        """Whether the session is open at ``now``."""
        return self.ended_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class SignIn:
    """The result of a sign-in: the new session and the tokens for the signing-in hall."""

    session: Session
    tokens: TokenSet


@dataclass(frozen=True, slots=True)
class LogoutNotice:
    """A hall to tell about a single logout, with the back-channel logout token to POST."""

    client: HallClient
    logout_token: str


_SELECT_REFRESH: Final = (
    "SELECT t.family_id, t.expires_at, t.spent_at, t.replaced_by, t.grace_used_at, "
    "f.sid, f.client_id, f.scope, f.revoked_at FROM identity_refresh_tokens t "
    "JOIN identity_refresh_families f ON f.family_id = t.family_id WHERE t.token_hash = ?"
)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Issuer:
    """Issues and manages the city's tokens. Thread-safe; all state in the store.

    Raises (from its methods): :class:`SessionEnded`, :class:`RefreshTokenError`,
    :class:`UnknownHall`, :class:`NoSigningKey`, :class:`govlink.ValidationError`.
    """

    def __init__(
        self,
        *,
        issuer: str,
        keys: KeyRing,
        halls: HallRegistry,
        store: Store,
        clock: Clock = system_clock,
        policy: TokenPolicy | None = None,
        alg: str | None = None,
        id_token_alg: str | None = None,
    ) -> None:
        self.issuer = issuer
        self.keys = keys
        self.halls = halls
        self.store = store
        self.clock = clock
        self.policy = policy or TokenPolicy()
        self.alg = alg
        #: The algorithm of ID tokens (OIDC clients expect RS256 unless registered otherwise);
        #: access tokens keep ``alg``, the ring's preferred algorithm.
        self.id_token_alg = id_token_alg
        ensure_schema(store)
        self.revocations = RevocationRegistry(store, clock=clock)
        self._secret = self._subject_secret()

    def _subject_secret(self) -> bytes:
        # The key of the keyed hash that makes ``sub`` stable and opaque; created once.
        with self.store.transaction() as conn:
            # Two processes starting at once both try; the first insert wins for both.
            conn.execute(
                "INSERT INTO identity_meta (name, value) VALUES ('subject_key', ?) "
                "ON CONFLICT (name) DO NOTHING",
                (secrets.token_hex(32),),
            )
            value = conn.scalar("SELECT value FROM identity_meta WHERE name = 'subject_key'")
        return bytes.fromhex(value)

    # -- verifying our own tokens ------------------------------------------------------------

    def trusted(self, **options: Any) -> TrustedIssuer:
        """This issuer as a :class:`TrustedIssuer` (local key ring, revocations checked)."""
        return TrustedIssuer(
            self.issuer, LocalKeySource(self.keys), revocation=self.revocations, **options
        )

    def verifier(self, audience: str | None = None, **options: Any) -> Verifier:
        """A verifier for one hall (``audience``: region code, client id or audience)."""
        aud = self.halls.resolve(audience).audience if audience else None
        return Verifier([self.trusted()], audience=aud, clock=self.clock, **options)

    # -- sessions ------------------------------------------------------------------------------

    def subject_id(self, subject: Subject) -> str:
        """The stable ``sub`` of a subject (keyed hash; reveals nothing)."""
        return subject_identifier(self._secret, subject.kind, subject.natural_id())

    def federated_subject_id(self, issuer: str, sub: str) -> str:
        """The city's stable ``sub`` for a user of another trusted issuer."""
        return subject_identifier(self._secret, "federated", f"{issuer}|{sub}")

    def _sub_for(self, sub: str, client: HallClient) -> str:
        if not self.policy.pairwise:
            return sub
        return subject_identifier(self._secret, "pairwise", f"{client.hall_code}:{sub}")

    def sign_in(
        self,
        subject: Subject,
        *,
        client: str,
        acr: str | int,
        amr: Sequence[str] = ("pwd",),
        scope: str | None = None,
        nonce: str | None = None,
        refresh: bool = True,
    ) -> SignIn:
        """Record a completed authentication and open an SSO session at ``client``'s hall.

        Raises:
            UnknownHall: ``client`` names no hall.
            ValidationError: ``acr`` is not a trust level 2–5.
        """
        hall = self.halls.resolve(client)
        return self._open_session(
            self.subject_id(subject), subject.claims(), hall, acr, amr, scope, nonce, refresh
        )

    def open_session(
        self,
        sub: str,
        subject_claims: Mapping[str, Any],
        *,
        client: str,
        acr: str | int,
        amr: Sequence[str],
        scope: str | None = None,
        refresh: bool = False,
    ) -> SignIn:
        """Open a session for an already-identified subject (e.g. a provincial platform user
        admitted by token exchange)."""
        hall = self.halls.resolve(client)
        return self._open_session(sub, dict(subject_claims), hall, acr, amr, scope, None, refresh)

    def _open_session(
        self,
        sub: str,
        subject_claims: Mapping[str, Any],
        hall: HallClient,
        acr: str | int,
        amr: Sequence[str],
        scope: str | None,
        nonce: str | None,
        refresh: bool,
    ) -> SignIn:
        from .._errors import ValidationError

        level = str(acr)
        if level not in ACR_LEVELS:
            raise ValidationError(
                f"trust level {level!r} is not one of 2-5", field="acr", rule="trust_level"
            )
        now = self.clock.time()
        session = Session(
            sid=uuid.uuid4().hex,
            sub=sub,
            subject_claims=dict(subject_claims),
            acr=level,
            amr=tuple(amr),
            home_hall=hall.hall_code,
            auth_time=float(int(now)),
            expires_at=now + self.policy.session_ttl,
            ended_at=None,
        )
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO identity_sessions (sid, sub, subject, acr, amr, home_hall, "
                "auth_time, expires_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    session.sid,
                    sub,
                    json.dumps(session.subject_claims, ensure_ascii=False),
                    level,
                    json.dumps(list(amr)),
                    hall.hall_code,
                    session.auth_time,
                    session.expires_at,
                ),
            )
            tokens = self._issue(conn, session, hall, scope, nonce, refresh, None)
        return SignIn(session, tokens)

    def session(self, sid: str) -> Session:
        """The session ``sid`` (ended or not). Raises :class:`SessionEnded` if unknown."""
        with self.store.transaction(write=False) as conn:
            return self._load_session(conn, sid)

    def _load_session(self, conn: Connection, sid: str) -> Session:
        row = conn.fetchone(
            "SELECT sid, sub, subject, acr, amr, home_hall, auth_time, expires_at, ended_at "
            "FROM identity_sessions WHERE sid = ?",
            (sid,),
        )
        if row is None:
            raise SessionEnded("no such session")
        return Session(
            row[0],
            row[1],
            json.loads(row[2]),
            row[3],
            tuple(json.loads(row[4])),
            row[5],
            float(row[6]),
            float(row[7]),
            None if row[8] is None else float(row[8]),
        )

    def _live_session(self, conn: Connection, sid: str) -> Session:
        session = self._load_session(conn, sid)
        if not session.active(self.clock.time()):
            raise SessionEnded("the session has ended (logged out or expired)")
        return session

    def tokens_for(
        self,
        session_id: str,
        client: str,
        *,
        scope: str | None = None,
        nonce: str | None = None,
        refresh: bool = True,
        act: Mapping[str, Any] | None = None,
    ) -> TokenSet:
        """Single sign-on: tokens for another hall from an existing session, no new sign-in.

        Raises:
            SessionEnded: the session is unknown, expired or logged out.
            UnknownHall: ``client`` names no hall.
        """
        hall = self.halls.resolve(client)
        with self.store.transaction() as conn:
            session = self._live_session(conn, session_id)
            return self._issue(conn, session, hall, scope, nonce, refresh, act)

    def _grant_scope(self, hall: HallClient, scope: str | None) -> str:
        granted = hall.scopes if scope is None else frozenset(scope.split()) & hall.scopes
        return " ".join(sorted(granted))

    def _issue(
        self,
        conn: Connection,
        session: Session,
        hall: HallClient,
        scope: str | None,
        nonce: str | None,
        refresh: bool,
        act: Mapping[str, Any] | None,
        family_id: str | None = None,
    ) -> TokenSet:
        now = int(self.clock.time())
        policy = self.policy
        granted = self._grant_scope(hall, scope)
        sub = self._sub_for(session.sub, hall)
        # Subject claims first: the registered claims below always win over anything a claim
        # mapping might have copied in.
        common: dict[str, Any] = {
            **session.subject_claims,
            "iss": self.issuer,
            "sub": sub,
            "iat": now,
            "auth_time": int(session.auth_time),
            "acr": session.acr,
            "amr": list(session.amr),
            "sid": session.sid,
            "home_hall": session.home_hall,
        }
        access = {
            **common,
            "aud": hall.audience,
            "exp": now + int(policy.access_ttl),
            "jti": uuid.uuid4().hex,
            "client_id": hall.client_id,
            "scope": granted,
        }
        if act is not None:
            access["act"] = dict(act)
        access_token = self.keys.sign(access, "at+jwt", self.alg)
        id_token = None
        if "openid" in granted.split():
            id_claims = {
                **common,
                "aud": hall.client_id,
                "azp": hall.client_id,
                "exp": now + int(policy.id_ttl),
                "jti": uuid.uuid4().hex,
            }
            if nonce is not None:
                id_claims["nonce"] = nonce
            id_token = self.keys.sign(id_claims, "JWT", self.id_token_alg or self.alg)
        refresh_token = None
        if refresh and "refresh_token" in hall.grant_types:
            refresh_token = self._new_refresh(conn, session, hall, granted, family_id)
        if family_id is None:  # a rotation: this hall is already recorded for the session
            conn.execute(
                "INSERT INTO identity_session_clients (sid, client_id, first_at) "
                "VALUES (?, ?, ?) ON CONFLICT (sid, client_id) DO NOTHING",
                (session.sid, hall.client_id, float(now)),
            )
        return TokenSet(
            access_token=access_token,
            expires_in=int(policy.access_ttl),
            scope=granted,
            session_id=session.sid,
            client_id=hall.client_id,
            id_token=id_token,
            refresh_token=refresh_token,
        )

    def client_tokens(
        self, client: str, *, audience: str | None = None, scope: str | None = None
    ) -> TokenSet:
        """``client_credentials``: an access token for a hall's back end acting as itself —
        no person, no session: ``sub`` is the client id and ``subject_type`` is ``client``.
        ``audience`` (a hall; default the client's own) receives it, with the scopes both
        halls allow (``openid``/``profile`` never: there is nobody to describe).

        Raises:
            UnknownHall: ``client`` or ``audience`` names no hall.
            ValidationError: no scope is left to grant (field ``scope``).
        """
        from .._errors import ValidationError

        hall = self.halls.resolve(client)
        target = self.halls.resolve(audience) if audience else hall
        allowed = (hall.scopes & target.scopes) - {"openid", "profile"}
        granted = allowed if scope is None else frozenset(scope.split()) & allowed
        if not granted:
            raise ValidationError(
                "no scope both halls allow", field="scope", rule="client_credentials_scope"
            )
        now = int(self.clock.time())
        scope_text = " ".join(sorted(granted))
        claims = {
            "iss": self.issuer,
            "sub": hall.client_id,
            "aud": target.audience,
            "iat": now,
            "exp": now + int(self.policy.access_ttl),
            "jti": uuid.uuid4().hex,
            "client_id": hall.client_id,
            "scope": scope_text,
            "subject_type": "client",
        }
        return TokenSet(
            access_token=self.keys.sign(claims, "at+jwt", self.alg),
            expires_in=int(self.policy.access_ttl),
            scope=scope_text,
            session_id="",
            client_id=hall.client_id,
        )

    # -- refresh tokens ------------------------------------------------------------------------

    def _new_refresh(
        self,
        conn: Connection,
        session: Session,
        hall: HallClient,
        scope: str,
        family_id: str | None,
    ) -> str:
        now = self.clock.time()
        if family_id is None:
            family_id = uuid.uuid4().hex
            conn.execute(
                "INSERT INTO identity_refresh_families (family_id, sid, client_id, scope) "
                "VALUES (?, ?, ?, ?)",
                (family_id, session.sid, hall.client_id, scope),
            )
        token = _REFRESH_PREFIX + secrets.token_urlsafe(32)
        expires = min(now + self.policy.refresh_ttl, session.expires_at)
        conn.execute(
            "INSERT INTO identity_refresh_tokens (token_hash, family_id, issued_at, expires_at) "
            "VALUES (?, ?, ?, ?)",
            (_hash(token), family_id, now, expires),
        )
        return token

    def refresh(self, refresh_token: str, client: str) -> TokenSet:
        """Rotate a refresh token: the old one is spent, a new one and a new access token
        are returned.

        A spent token presented again within ``refresh_grace`` (a lost response) is answered
        once more, and the successor it got before is spent; after the grace it revokes the
        whole family (RFC 9700 §4.14.2).

        Raises:
            RefreshTokenError: ``invalid_grant`` (unknown, expired, revoked, reused, other
                client, ended session).
        """
        hall = self.halls.resolve(client)
        now = self.clock.time()
        token_hash = _hash(refresh_token)
        reuse: RefreshTokenError | None = None
        with self.store.transaction() as conn:
            # Read under the token's row lock (PostgreSQL: FOR UPDATE; SQLite's write
            # transaction already serialises), so concurrent uses of one refresh token — the
            # client and a thief, or replays — are decided one after another on every backend.
            # Both rows are locked, so a family revoked meanwhile is seen after the wait.
            select = _SELECT_REFRESH + (" FOR UPDATE" if conn.dialect == "postgresql" else "")
            row = conn.fetchone(select, (token_hash,))
            if row is None:
                raise RefreshTokenError("invalid_grant", "unknown refresh token")
            (
                family_id,
                expires_at,
                spent_at,
                replaced_by,
                grace_used,
                sid,
                client_id,
                scope,
                revoked,
            ) = row
            if revoked is not None:
                raise RefreshTokenError("invalid_grant", "refresh token family revoked")
            if client_id != hall.client_id:
                raise RefreshTokenError("invalid_grant", "refresh token of another client")
            if spent_at is None:
                if now >= float(expires_at):
                    raise RefreshTokenError("invalid_grant", "refresh token expired")
                conn.execute(
                    "UPDATE identity_refresh_tokens SET spent_at = ? WHERE token_hash = ?",
                    (now, token_hash),
                )
            else:
                # The grace answers one lost response, once: a second replay (or one after
                # the grace) is treated as theft. So is a replay once the successor has been
                # used: then the response was not lost, the client received it.
                successor_used = replaced_by is not None and (
                    conn.scalar(
                        "SELECT spent_at FROM identity_refresh_tokens WHERE token_hash = ?",
                        (replaced_by,),
                    )
                    is not None
                )
                if (
                    grace_used is not None
                    or successor_used
                    or now - float(spent_at) > self.policy.refresh_grace
                ):
                    self._revoke_family(conn, family_id, "reuse")
                    reuse = RefreshTokenError(
                        "invalid_grant", "refresh token reused: its family is revoked"
                    )
                else:
                    # Lost response: the successor was never received; spend it instead.
                    conn.execute(
                        "UPDATE identity_refresh_tokens SET grace_used_at = ? WHERE token_hash = ?",
                        (now, token_hash),
                    )
                    conn.execute(
                        "UPDATE identity_refresh_tokens SET spent_at = ? "
                        "WHERE token_hash = ? AND spent_at IS NULL",
                        (now, replaced_by),
                    )
            if reuse is None:
                try:
                    session = self._live_session(conn, sid)
                except SessionEnded:
                    raise RefreshTokenError("invalid_grant", "the session has ended") from None
                tokens = self._issue(conn, session, hall, scope, None, True, None, family_id)
                conn.execute(
                    "UPDATE identity_refresh_tokens SET replaced_by = ? WHERE token_hash = ?",
                    (_hash(tokens.refresh_token or ""), token_hash),
                )
                return tokens
        # Raised after the transaction committed, so the family revocation sticks.
        raise reuse

    def _revoke_family(self, conn: Connection, family_id: str, reason: str) -> None:
        conn.execute(
            "UPDATE identity_refresh_families SET revoked_at = ?, reason = ? "
            "WHERE family_id = ? AND revoked_at IS NULL",
            (self.clock.time(), reason, family_id),
        )

    def revoke_issued(self, conn: Connection, issued: Mapping[str, Any]) -> None:
        """Revoke what :meth:`issued_record` described, inside the caller's transaction
        (the provider uses it when an authorization code is replayed)."""
        jti, exp = issued.get("jti"), issued.get("exp")
        if isinstance(jti, str) and isinstance(exp, (int, float)):
            self.revocations.revoke("jti", jti, expires_at=float(exp) + 3600, conn=conn)
        refresh = issued.get("refresh")
        if isinstance(refresh, str):
            family = conn.scalar(
                "SELECT family_id FROM identity_refresh_tokens WHERE token_hash = ?", (refresh,)
            )
            if family is not None:
                self._revoke_family(conn, family, "code_replayed")

    @staticmethod
    def issued_record(tokens: TokenSet) -> dict[str, Any]:
        """What identifies ``tokens`` for a later revocation, without the tokens themselves:
        the access token's ``jti`` and ``exp`` and the refresh token's hash."""
        from ._jose import b64url_decode, loads_strict

        claims = loads_strict(b64url_decode(tokens.access_token.split(".")[1]))
        record: dict[str, Any] = {"jti": claims.get("jti"), "exp": claims.get("exp")}
        if tokens.refresh_token:
            record["refresh"] = _hash(tokens.refresh_token)
        return record

    def refresh_family_revoked(self, refresh_token: str) -> bool:
        """Whether the family of ``refresh_token`` is revoked (for operators and tests)."""
        with self.store.transaction(write=False) as conn:
            revoked = conn.fetchone(
                "SELECT f.revoked_at FROM identity_refresh_tokens t JOIN "
                "identity_refresh_families f ON f.family_id = t.family_id "
                "WHERE t.token_hash = ?",
                (_hash(refresh_token),),
            )
        return revoked is not None and revoked[0] is not None

    # -- logout and revocation -----------------------------------------------------------------

    def logout(self, session_id: str) -> list[LogoutNotice]:
        """Single logout: end the session at every hall.

        Every token of the session is refused from now on (by every verifier that checks this
        issuer's revocations), its refresh families are revoked, and the returned notices carry
        the OIDC back-channel logout tokens for each hall that received tokens.

        Raises:
            SessionEnded: no such session.
        """
        now = self.clock.time()
        with self.store.transaction() as conn:
            session = self._load_session(conn, session_id)
            conn.execute(
                "UPDATE identity_sessions SET ended_at = ? WHERE sid = ? AND ended_at IS NULL",
                (now, session_id),
            )
            self._end_session_tokens(conn, session)
            clients = [
                r[0]
                for r in conn.fetchall(
                    "SELECT client_id FROM identity_session_clients WHERE sid = ? "
                    "ORDER BY first_at, client_id",
                    (session_id,),
                )
            ]
        notices = []
        for client_id in clients:
            hall = self.halls.resolve(client_id)
            claims = {
                "iss": self.issuer,
                "sub": self._sub_for(session.sub, hall),
                "aud": hall.client_id,
                "iat": int(now),
                "exp": int(now) + 120,
                "jti": uuid.uuid4().hex,
                "sid": session.sid,
                "events": {_LOGOUT_EVENT: {}},
            }
            notices.append(LogoutNotice(hall, self.keys.sign(claims, "logout+jwt", self.alg)))
        return notices

    def _end_session_tokens(self, conn: Connection, session: Session) -> None:
        self.revocations.revoke(
            "sid",
            session.sid,
            expires_at=session.expires_at + self.policy.max_token_lifetime + 3600,
            conn=conn,
        )
        conn.execute(
            "UPDATE identity_refresh_families SET revoked_at = ?, reason = 'logout' "
            "WHERE sid = ? AND revoked_at IS NULL",
            (self.clock.time(), session.sid),
        )

    def revoke_session(self, session_id: str) -> None:
        """Revoke every token of a session (same as :meth:`logout`, without notices)."""
        self.logout(session_id)

    def revoke_subject(self, sub: str) -> int:
        """Revoke everything of a subject: end its sessions and refuse every token issued to
        it until now (pairwise identifiers included). Returns the number of sessions ended."""
        now = self.clock.time()
        horizon = now + max(self.policy.session_ttl, self.policy.refresh_ttl) + 3600
        with self.store.transaction() as conn:
            rows = conn.fetchall(
                "SELECT sid FROM identity_sessions WHERE sub = ? AND ended_at IS NULL", (sub,)
            )
            for (sid,) in rows:
                session = self._load_session(conn, sid)
                conn.execute("UPDATE identity_sessions SET ended_at = ? WHERE sid = ?", (now, sid))
                self._end_session_tokens(conn, session)
            subs = {sub} | {self._sub_for(sub, hall) for hall in self.halls}
            for value in sorted(subs):
                self.revocations.revoke("sub", value, expires_at=horizon, conn=conn)
        return len(rows)

    def revoke_token(self, token: str) -> bool:
        """RFC 7009 revocation of an access token (its ``jti``) or a refresh token (its
        family). Returns whether anything was revoked; an unknown or invalid token is not an
        error (RFC 7009 §2.2)."""
        if token.startswith(_REFRESH_PREFIX):
            with self.store.transaction() as conn:
                family = conn.scalar(
                    "SELECT family_id FROM identity_refresh_tokens WHERE token_hash = ?",
                    (_hash(token),),
                )
                if family is None:
                    return False
                self._revoke_family(conn, family, "revoked")
                return True
        verified = self._verify_any(token)
        if verified is None or verified.claims.get("jti") is None:
            return False
        self.revocations.revoke(
            "jti", str(verified.claims["jti"]), expires_at=verified.expires_at + 3600
        )
        return True

    def _verify_any(self, token: str, kind: str = "access") -> VerifiedToken | None:
        verifier = Verifier([self.trusted()], clock=self.clock, cache_size=0)
        try:
            aud = self.claimed_audience(token)
            return verifier.verify(token, audience=aud, kind=kind)
        except (InvalidToken, IdentityError):
            return None

    @staticmethod
    def claimed_audience(token: str) -> str:
        """The (first) audience a token claims, unverified; ``"-"`` when it names none.

        Used to pick the audience to verify against when the token itself says which hall it
        is for (introspection, revocation); the signature and every other check still apply.
        """
        from ._jose import b64url_decode, loads_strict

        parts = token.split(".")
        claims = loads_strict(b64url_decode(parts[1])) if len(parts) == 3 else {}
        aud = claims.get("aud") if isinstance(claims, dict) else None
        if isinstance(aud, list) and aud:
            aud = aud[0]
        return aud if isinstance(aud, str) else "-"

    def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662 introspection: ``{"active": false}`` for anything not currently valid."""
        if token.startswith(_REFRESH_PREFIX):
            return self._introspect_refresh(token)
        verified = self._verify_any(token)
        if verified is None:
            return {"active": False}
        return {"active": True, "token_type": "access_token", **verified.claims}

    def _introspect_refresh(self, token: str) -> dict[str, Any]:
        now = self.clock.time()
        with self.store.transaction(write=False) as conn:
            row = conn.fetchone(
                "SELECT t.expires_at, t.spent_at, f.revoked_at, f.sid, f.client_id, f.scope "
                "FROM identity_refresh_tokens t JOIN identity_refresh_families f "
                "ON f.family_id = t.family_id WHERE t.token_hash = ?",
                (_hash(token),),
            )
            if row is None:
                return {"active": False}
            expires_at, spent_at, revoked_at, sid, client_id, scope = row
            try:
                session = self._live_session(conn, sid)
            except SessionEnded:
                return {"active": False}
        if spent_at is not None or revoked_at is not None or now >= float(expires_at):
            return {"active": False}
        hall = self.halls.resolve(client_id)
        return {
            "active": True,
            "token_type": "refresh_token",
            "client_id": client_id,
            "scope": scope,
            "sub": self._sub_for(session.sub, hall),
            "sid": sid,
            "exp": int(float(expires_at)),
            "iss": self.issuer,
        }

    def session_clients(self, session_id: str) -> list[str]:
        """The halls' client ids that received tokens from a session."""
        with self.store.transaction(write=False) as conn:
            return [
                r[0]
                for r in conn.fetchall(
                    "SELECT client_id FROM identity_session_clients WHERE sid = ? "
                    "ORDER BY first_at, client_id",
                    (session_id,),
                )
            ]

    def sessions_of(self, sub: str) -> Iterable[str]:
        """The ids of the subject's sessions still open."""
        now = self.clock.time()
        with self.store.transaction(write=False) as conn:
            rows = conn.fetchall(
                "SELECT sid FROM identity_sessions WHERE sub = ? AND ended_at IS NULL "
                "AND expires_at > ?",
                (sub, now),
            )
        return [r[0] for r in rows]

    def __repr__(self) -> str:
        return f"Issuer({self.issuer!r}, {len(self.halls)} halls)"
