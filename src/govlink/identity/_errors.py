"""The identity branch of govlink's error tree (drawn once, in the :mod:`govlink.identity`
package docstring, with every class and its ``code``).

Every :class:`InvalidToken` keeps its precise ``code`` and ``detail`` for logs and operators,
while :meth:`InvalidToken.www_authenticate` and :attr:`InvalidToken.public_description` reveal
nothing more than "invalid token" to the caller (RFC 6750 §3). Messages never contain a token,
a secret or unmasked personal data.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .._errors import GovlinkError

__all__ = [
    "AlgorithmNotAllowed",
    "CritNotUnderstood",
    "DuplicateMember",
    "EmbeddedKeyRefused",
    "ExchangeError",
    "IdentityError",
    "InvalidAudience",
    "InvalidClaim",
    "InvalidIssuer",
    "InvalidSignature",
    "InvalidToken",
    "InvalidTokenType",
    "IssuedInFuture",
    "JWKSUnavailable",
    "KeyDecryptionFailed",
    "KeyRingError",
    "MalformedToken",
    "MissingToken",
    "NoSigningKey",
    "OAuthError",
    "RefreshTokenError",
    "SessionEnded",
    "TokenExpired",
    "TokenNotYetValid",
    "TokenReplayed",
    "TokenRevoked",
    "TokenTooLarge",
    "UnknownHall",
    "UnknownKey",
    "UnsupportedToken",
]


class IdentityError(GovlinkError):
    """Base of every error of :mod:`govlink.identity`."""

    code: ClassVar[str] = "identity_error"


class InvalidToken(IdentityError):
    """A token that must be refused. ``code`` says exactly why (for logs and operators).

    ``detail`` is the operator-facing explanation; the caller gets only
    :attr:`public_description` ("invalid token").
    """

    code = "invalid_token"
    public_description: ClassVar[str] = "invalid token"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.code.replace("_", " ")
        super().__init__(f"token refused [{self.code}]: {self.detail}")

    def www_authenticate(self, realm: str | None = None) -> str:
        """The RFC 6750 ``WWW-Authenticate`` value for a 401 answer: reveals no detail."""
        realm_part = f'realm="{realm}", ' if realm else ""
        return f'Bearer {realm_part}error="invalid_token", error_description="invalid token"'

    def to_dict(self) -> dict[str, Any]:
        """``code``, ``message`` and the operator-facing ``detail``."""
        return {"code": self.code, "message": self.message, "detail": self.detail}


class MissingToken(InvalidToken):
    """No bearer token in the request. Per RFC 6750 §3.1 the challenge carries no error code."""

    code = "missing_token"

    def www_authenticate(self, realm: str | None = None) -> str:
        """A bare ``Bearer`` challenge: no error code when no credentials were sent."""
        return f'Bearer realm="{realm}"' if realm else "Bearer"


class MalformedToken(InvalidToken):
    """Not a compact JWS of three canonical base64url parts with JSON objects inside."""

    code = "malformed_token"


class TokenTooLarge(InvalidToken):
    """Longer than the verifier's ``max_token_bytes`` (refused before any parsing)."""

    code = "token_too_large"


class DuplicateMember(InvalidToken):
    """A JSON member name appears twice in the header or the claims."""

    code = "duplicate_member"


class UnsupportedToken(InvalidToken):
    """A JWE, a nested JWT (``cty: JWT``) or an unencoded payload (``b64: false``)."""

    code = "unsupported_token"


class CritNotUnderstood(InvalidToken):
    """A ``crit`` header, malformed or naming extensions this verifier does not implement."""

    code = "crit_not_understood"


class EmbeddedKeyRefused(InvalidToken):
    """A header that brings its own key or key location (``jku``, ``x5u``, ``jwk``, ``x5c``)."""

    code = "embedded_key_refused"


class AlgorithmNotAllowed(InvalidToken):
    """``alg`` is ``none``, unknown, or not in the allow-list bound to the key."""

    code = "algorithm_not_allowed"


class UnknownKey(InvalidToken):
    """No trusted key of the token's issuer has the token's ``kid``."""

    code = "unknown_key"


class InvalidSignature(InvalidToken):
    """The signature does not verify with the key named by ``kid``."""

    code = "invalid_signature"


class InvalidTokenType(InvalidToken):
    """The ``typ`` header is not the one for this kind of token (e.g. an ID token as access)."""

    code = "invalid_type"


class InvalidIssuer(InvalidToken):
    """``iss`` missing, not trusted, or not the issuer that owns the signing key."""

    code = "invalid_issuer"


class InvalidAudience(InvalidToken):
    """``aud`` missing or not (exactly) containing the expected audience; azp rule broken."""

    code = "invalid_audience"


class TokenExpired(InvalidToken):
    """``exp`` has passed (beyond the leeway)."""

    code = "expired"


class TokenNotYetValid(InvalidToken):
    """``nbf`` lies in the future (beyond the leeway)."""

    code = "not_yet_valid"


class IssuedInFuture(InvalidToken):
    """``iat`` lies in the future (beyond the leeway)."""

    code = "issued_in_future"


class InvalidClaim(InvalidToken):
    """A required claim is missing or a claim has the wrong type or value. ``claim`` names it."""

    code = "invalid_claim"

    def __init__(self, claim: str, rule: str) -> None:
        self.claim = claim
        self.rule = rule
        super().__init__(f"claim {claim!r}: {rule}")

    def to_dict(self) -> dict[str, Any]:
        """Adds ``claim`` and ``rule`` to the description."""
        data = super().to_dict()
        data.update(claim=self.claim, rule=self.rule)
        return data


class TokenReplayed(InvalidToken):
    """A one-time token (its ``jti``) presented a second time."""

    code = "token_replayed"


class TokenRevoked(InvalidToken):
    """The token, its session or its subject has been revoked (or the session logged out)."""

    code = "token_revoked"


class KeyRingError(IdentityError):
    """The key ring cannot do what was asked (bad schedule, unknown key, bad algorithm)."""

    code = "key_ring_error"


class KeyDecryptionFailed(KeyRingError):
    """A private key cannot be decrypted: wrong passphrase or a damaged key record."""

    code = "key_decryption_failed"


class NoSigningKey(KeyRingError):
    """No key of the wanted algorithm is active (run ``govlink keys init``)."""

    code = "no_signing_key"


class JWKSUnavailable(IdentityError):
    """A remote issuer's JWKS cannot be fetched and no usable last-known-good copy remains."""

    code = "jwks_unavailable"


class UnknownHall(IdentityError):
    """An audience that is neither a hall's region code nor a registered client id."""

    code = "unknown_hall"


class SessionEnded(IdentityError):
    """The SSO session does not exist, has expired or was logged out."""

    code = "session_ended"


class OAuthError(IdentityError):
    """An OAuth 2.0 protocol error; ``error`` is the RFC 6749 §5.2 code sent to the client."""

    code = "oauth_error"

    def __init__(self, error: str, description: str) -> None:
        self.error = error
        self.description = description
        super().__init__(f"{error}: {description}")

    def to_oauth(self) -> dict[str, str]:
        """The RFC 6749 §5.2 error response body."""
        return {"error": self.error, "error_description": self.description}

    def to_dict(self) -> dict[str, Any]:
        """Adds the RFC 6749 ``error``."""
        data = super().to_dict()
        data["error"] = self.error
        return data


class ExchangeError(OAuthError):
    """A refused RFC 8693 token exchange (``invalid_request``, ``invalid_grant``,
    ``unauthorized_client``, ``invalid_target``, ``invalid_scope``)."""

    code = "exchange_error"


class RefreshTokenError(OAuthError):
    """A refresh token that is unknown, expired, revoked, or reused (family revoked)."""

    code = "refresh_token_error"
