"""RFC 8693 token exchange: one hall's token for another hall, and provincial tokens for city ones.

Two exchanges are offered, each only where the :class:`ExchangePolicy` says so:

* **within the city** — a hall presents a city access token addressed to itself and receives a
  token for another hall of the same SSO session, with scopes narrowed to what the subject token,
  the target hall and the rule allow; with ``delegate`` the new token carries an ``act`` claim
  naming the hall that acts for the person (nested when the subject token already had one);
* **from the provincial identity platform** — a (one-time) token of the provincial platform, a
  second trusted issuer, becomes a city token and opens a city SSO session; its claims and trust
  level are mapped (:class:`ProvincialMapping`).

Everything else is refused with :class:`~govlink.identity.ExchangeError` carrying the RFC's
``error``: ``invalid_request``, ``invalid_grant``, ``unauthorized_client``, ``invalid_target``
or ``invalid_scope``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from .._clock import Clock
from ._errors import ExchangeError, IdentityError, InvalidToken, SessionEnded, UnknownHall
from ._issuer import Issuer, TokenSet
from ._jose import b64url_decode, loads_strict
from ._registry import HallClient
from ._subjects import ACR_LEVELS
from ._verifier import KeySource, StoreReplayGuard, TrustedIssuer, VerifiedToken, Verifier

__all__ = [
    "GRANT_TYPE",
    "TOKEN_TYPE_ACCESS",
    "TOKEN_TYPE_JWT",
    "ExchangePolicy",
    "ExchangeRule",
    "ProvincialMapping",
    "TokenExchange",
]

GRANT_TYPE: Final = "urn:ietf:params:oauth:grant-type:token-exchange"
TOKEN_TYPE_ACCESS: Final = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - a URN
TOKEN_TYPE_JWT: Final = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105 - a URN


@dataclass(frozen=True, slots=True)
class ExchangeRule:
    """Who (``clients``) may exchange tokens of ``subject_issuer`` for which halls
    (``audiences``), with at most ``scopes``, for subjects of at least ``min_acr``.
    ``None`` means any hall / any scope the target allows."""

    subject_issuer: str
    clients: frozenset[str] | None = None
    audiences: frozenset[str] | None = None
    scopes: frozenset[str] | None = None
    min_acr: int = 2
    delegate: bool = False


@dataclass(frozen=True, slots=True)
class ExchangePolicy:
    """The rules; an exchange no rule allows is refused."""

    rules: tuple[ExchangeRule, ...]

    def find(self, subject_issuer: str, client: HallClient, target: HallClient) -> ExchangeRule:
        """The first rule allowing this exchange.

        Raises:
            ExchangeError: ``unauthorized_client`` when no rule lets this client exchange this
                issuer's tokens, ``invalid_target`` when none allows this target.
        """
        for_client = [
            r
            for r in self.rules
            if r.subject_issuer == subject_issuer
            and (r.clients is None or client.client_id in r.clients)
        ]
        if not for_client:
            raise ExchangeError(
                "unauthorized_client", "this client may not exchange tokens of that issuer"
            )
        for rule in for_client:
            if rule.audiences is None or target.client_id in rule.audiences:
                return rule
        raise ExchangeError("invalid_target", "exchange for that audience is not allowed")


def _default_acr(value: Any) -> str | None:
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    return text if text in ACR_LEVELS else None


@dataclass(frozen=True)
class ProvincialMapping:
    """The provincial identity platform as a second trusted issuer, and how its claims map.

    ``audience``: what the platform puts in ``aud`` for this city. ``acr_claim`` and
    ``acr_map``: where the platform's trust level is and how it maps to the city's ``acr``
    (unmapped levels are refused). ``subject_type_claim``/``subject_types``: the platform's
    user type (e.g. ``"1"`` 个人, ``"2"`` 法人) → ``person``/``legal``. ``copy_claims``: claims
    copied as they are (already masked by the platform). Tokens are one-time by default.
    """

    issuer: str
    keys: KeySource
    audience: str
    acr_claim: str = "acr"
    acr_map: Mapping[str, str] | Callable[[Any], str | None] = field(
        default_factory=lambda: _default_acr
    )
    subject_type_claim: str = "user_type"
    subject_types: Mapping[str, str] = field(
        default_factory=lambda: {"1": "person", "2": "legal", "person": "person", "legal": "legal"}
    )
    copy_claims: tuple[str, ...] = ("masked_id", "credit_code")
    token_types: frozenset[str] = frozenset({"jwt", "at+jwt", "application/at+jwt"})
    one_time: bool = True

    def trusted(self) -> TrustedIssuer:
        """The platform as a trusted issuer (its audience, token types, one-time tokens)."""
        return TrustedIssuer(
            self.issuer,
            self.keys,
            audiences=frozenset({self.audience}),
            token_types={"access": self.token_types},
            one_time=self.one_time,
        )

    def map_acr(self, claims: Mapping[str, Any]) -> str | None:
        """The city ``acr`` for the platform's trust level, or ``None`` if unmapped."""
        value = claims.get(self.acr_claim)
        if callable(self.acr_map):
            return self.acr_map(value)
        return self.acr_map.get(str(value)) if value is not None else None

    def map_subject(self, claims: Mapping[str, Any]) -> dict[str, Any]:
        """City subject claims from the platform's claims.

        Raises:
            ExchangeError: ``invalid_grant`` for an unknown subject type.
        """
        kind = self.subject_types.get(str(claims.get(self.subject_type_claim, "1")))
        if kind is None:
            raise ExchangeError("invalid_grant", "unknown subject type in provincial token")
        mapped: dict[str, Any] = {"subject_type": kind, "idp": self.issuer}
        for name in self.copy_claims:
            if name in claims:
                mapped[name] = claims[name]
        return mapped


class TokenExchange:
    """The token-exchange grant of the city identity provider (RFC 8693)."""

    def __init__(
        self,
        issuer: Issuer,
        policy: ExchangePolicy,
        *,
        provinces: Iterable[ProvincialMapping] = (),
        clock: Clock | None = None,
    ) -> None:
        self.issuer = issuer
        self.policy = policy
        self.provinces = {p.issuer: p for p in provinces}
        self.clock = clock or issuer.clock
        self._verifier = Verifier(
            [issuer.trusted(), *(p.trusted() for p in self.provinces.values())],
            clock=self.clock,
            cache_size=0,
            # One-time tokens (provincial tickets) are remembered in the store: a ticket used
            # at one provider process is refused at every other one and after a restart.
            replay_guard=StoreReplayGuard(issuer.store, self.clock),
        )

    def exchange(
        self,
        *,
        client: str,
        subject_token: str,
        subject_token_type: str = TOKEN_TYPE_ACCESS,
        audience: str | None = None,
        scope: str | None = None,
        requested_token_type: str | None = None,
    ) -> TokenSet:
        """Exchange ``subject_token`` (held by hall ``client``) for a token for ``audience``.

        Raises:
            ExchangeError: with the RFC 8693 / RFC 6749 ``error``.
        """
        if requested_token_type not in (None, TOKEN_TYPE_ACCESS):
            raise ExchangeError("invalid_request", "only access tokens can be requested")
        if subject_token_type not in (TOKEN_TYPE_ACCESS, TOKEN_TYPE_JWT):
            raise ExchangeError("invalid_request", "unsupported subject_token_type")
        if not subject_token:
            raise ExchangeError("invalid_request", "subject_token is required")
        if not audience:
            raise ExchangeError("invalid_request", "audience is required")
        halls = self.issuer.halls
        try:
            requester = halls.resolve(client)
        except UnknownHall:
            raise ExchangeError("unauthorized_client", "unknown client") from None
        if GRANT_TYPE not in requester.grant_types:
            raise ExchangeError("unauthorized_client", "client may not use token exchange")
        try:
            target = halls.resolve(audience)
        except UnknownHall:
            raise ExchangeError("invalid_target", "audience is not a hall of this city") from None

        claimed_issuer = self._peek_issuer(subject_token)
        if claimed_issuer != self.issuer.issuer and claimed_issuer not in self.provinces:
            raise ExchangeError("invalid_grant", "subject_token of an untrusted issuer")
        # The client's authorisation is decided first (RFC 6749 §5.2 order); the claimed
        # issuer only selects the rules, the verifier then proves it.
        rule = self.policy.find(claimed_issuer, requester, target)
        province = self.provinces.get(claimed_issuer)
        expected_aud = province.audience if province else requester.audience
        try:
            verified = self._verifier.verify(subject_token, audience=expected_aud, kind="access")
        except (InvalidToken, IdentityError) as exc:
            raise ExchangeError("invalid_grant", f"subject_token refused ({exc.code})") from None

        allowed = set(target.scopes)
        if rule.scopes is not None:
            allowed &= rule.scopes
        if province is None:
            allowed &= verified.scopes
        if scope is not None:
            wanted = set(scope.split())
            if not wanted <= allowed:
                raise ExchangeError("invalid_scope", "requested scope exceeds what is allowed")
            allowed = wanted
        if not allowed:
            raise ExchangeError("invalid_scope", "no scope left to grant")
        granted = " ".join(sorted(allowed))
        if province is not None:
            tokens = self._from_province(province, verified, rule, target, granted)
        else:
            tokens = self._within_city(verified, rule, requester, target, granted)
        # RFC 8693 issues the requested token (an access token) and nothing else: an ID token
        # would be addressed to the target hall, not to the client that receives it (Node's
        # openid-client rightly refuses a token response whose id_token aud is another client).
        return replace(tokens, id_token=None, refresh_token=None)

    @staticmethod
    def _peek_issuer(token: str) -> str:
        # Only picks which trusted issuer's rules apply; the verifier then checks everything.
        try:
            parts = token.split(".")
            claims = loads_strict(b64url_decode(parts[1])) if len(parts) == 3 else None
        except IdentityError:
            return ""
        iss = claims.get("iss") if isinstance(claims, dict) else None
        return iss if isinstance(iss, str) else ""

    def _within_city(
        self,
        verified: VerifiedToken,
        rule: ExchangeRule,
        requester: HallClient,
        target: HallClient,
        granted: str,
    ) -> TokenSet:
        acr = verified.acr
        if acr is None or not acr.isdigit() or int(acr) < rule.min_acr:
            raise ExchangeError("invalid_grant", "subject's trust level too low for this target")
        sid = verified.session_id
        if sid is None:
            raise ExchangeError("invalid_grant", "subject_token has no session")
        act: dict[str, Any] | None = None
        if rule.delegate:
            act = {"sub": requester.client_id}
            prior = verified.claims.get("act")
            if isinstance(prior, Mapping):
                act["act"] = dict(prior)
        try:
            return self.issuer.tokens_for(
                sid, target.client_id, scope=granted, refresh=False, act=act
            )
        except SessionEnded:
            raise ExchangeError("invalid_grant", "the session has ended") from None

    def _from_province(
        self,
        province: ProvincialMapping,
        verified: VerifiedToken,
        rule: ExchangeRule,
        target: HallClient,
        granted: str,
    ) -> TokenSet:
        acr = province.map_acr(verified.claims)
        if acr is None:
            raise ExchangeError("invalid_grant", "provincial trust level cannot be mapped")
        if not acr.isdigit() or int(acr) < rule.min_acr:
            raise ExchangeError("invalid_grant", "subject's trust level too low for this target")
        sub = self.issuer.federated_subject_id(province.issuer, verified.subject)
        sign_in = self.issuer.open_session(
            sub,
            province.map_subject(verified.claims),
            client=target.client_id,
            acr=acr,
            amr=["fed"],
            scope=granted,
        )
        return sign_in.tokens
