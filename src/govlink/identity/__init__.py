"""Unified identity (统一身份认证) for the city hall and every county hall.

* :class:`KeyRing` — signing keys (ES256, Ed25519, RS256, PS256), scheduled rollover, encrypted
  at rest, the public JWKS;
* :class:`Issuer` — halls' clients, SSO sessions, RFC 9068 access tokens, OIDC ID tokens,
  rotating refresh tokens, single logout, revocation, introspection;
* :class:`TokenExchange` — RFC 8693 exchange between halls and from the provincial platform;
* :class:`Verifier` — what every hall runs: strict, multi-issuer, fast (local key ring or
  :class:`RemoteJWKS`).

Errors (every one has a stable ``code``; see ``_errors.py`` for what a caller may see)::

    GovlinkError
    └── IdentityError                 identity_error
        ├── InvalidToken              invalid_token       (what an unauthenticated caller sees)
        │   ├── MissingToken          missing_token       (no credentials: RFC 6750 §3.1)
        │   ├── MalformedToken        malformed_token
        │   ├── TokenTooLarge         token_too_large
        │   ├── DuplicateMember       duplicate_member
        │   ├── UnsupportedToken      unsupported_token   (JWE, nested JWT, b64=false)
        │   ├── CritNotUnderstood     crit_not_understood
        │   ├── EmbeddedKeyRefused    embedded_key_refused (jku, x5u, jwk, x5c)
        │   ├── AlgorithmNotAllowed   algorithm_not_allowed
        │   ├── UnknownKey            unknown_key
        │   ├── InvalidSignature      invalid_signature
        │   ├── InvalidTokenType      invalid_type
        │   ├── InvalidIssuer         invalid_issuer
        │   ├── InvalidAudience       invalid_audience
        │   ├── TokenExpired          expired
        │   ├── TokenNotYetValid      not_yet_valid
        │   ├── IssuedInFuture        issued_in_future
        │   ├── InvalidClaim          invalid_claim
        │   ├── TokenReplayed         token_replayed
        │   └── TokenRevoked          token_revoked
        ├── KeyRingError              key_ring_error
        │   ├── KeyDecryptionFailed   key_decryption_failed
        │   └── NoSigningKey          no_signing_key
        ├── JWKSUnavailable           jwks_unavailable
        ├── UnknownHall               unknown_hall
        ├── SessionEnded              session_ended
        └── OAuthError                (carries the RFC 6749 ``error``)
            ├── ExchangeError         exchange_error      (RFC 8693)
            └── RefreshTokenError     refresh_token_error (invalid_grant)

>>> from govlink import identity
>>> verifier = identity.Verifier([identity.TrustedIssuer(ISS, identity.RemoteJWKS(URL))],
...                              audience="hall-370502")          # doctest: +SKIP
>>> verifier.verify(token).claims["acr"]                          # doctest: +SKIP
'4'
"""

from __future__ import annotations

from ._city import DEV_PASSPHRASE_FILE, CityIdentity, key_protector, open_city_identity
from ._config import DevUser, ProviderConfig, dev_halls, load_provider_config
from ._errors import (
    AlgorithmNotAllowed,
    CritNotUnderstood,
    DuplicateMember,
    EmbeddedKeyRefused,
    ExchangeError,
    IdentityError,
    InvalidAudience,
    InvalidClaim,
    InvalidIssuer,
    InvalidSignature,
    InvalidToken,
    InvalidTokenType,
    IssuedInFuture,
    JWKSUnavailable,
    KeyDecryptionFailed,
    KeyRingError,
    MalformedToken,
    MissingToken,
    NoSigningKey,
    OAuthError,
    RefreshTokenError,
    SessionEnded,
    TokenExpired,
    TokenNotYetValid,
    TokenReplayed,
    TokenRevoked,
    TokenTooLarge,
    UnknownHall,
    UnknownKey,
    UnsupportedToken,
)
from ._exchange import (
    GRANT_TYPE,
    TOKEN_TYPE_ACCESS,
    TOKEN_TYPE_JWT,
    ExchangePolicy,
    ExchangeRule,
    ProvincialMapping,
    TokenExchange,
)
from ._hall_middleware import (
    BACKCHANNEL_LOGOUT_EVENT,
    HallAuthMiddleware,
    authenticate,
    bearer_token,
    receive_backchannel_logout,
)
from ._issuer import Issuer, LogoutNotice, Session, SignIn, TokenPolicy, TokenSet
from ._jose import VerificationKey
from ._jwks import JWKSCachePolicy, RemoteJWKS
from ._keys import (
    SIGNING_ALGORITHMS,
    KeyRing,
    KeyState,
    PassphraseProtector,
    PrivateKeyProtector,
    RolloverPolicy,
    SigningKey,
)
from ._logout import LogoutDeliveryStatus, LogoutOutbox
from ._logout_receiver import (
    BackchannelLogoutReceiver,
    LogoutEvent,
    averify_logout_token,
    verify_logout_token,
)
from ._openapi import identity_openapi, render_identity_openapi
from ._provider import ClientSecrets, create_provider_app
from ._registry import HallClient, HallRegistry
from ._revocation import RevocationRegistry
from ._schema import IDENTITY_SCHEMA
from ._signin import (
    Authentication,
    Authenticator,
    DevPasswordAuthenticator,
    ProvincialTicketAuthenticator,
    SignInFailed,
    SignInThrottle,
)
from ._subjects import ACR_LEVELS, LegalPersonSubject, PersonSubject, StaffSubject, Subject
from ._verifier import (
    ACCESS_TOKEN_TYPES,
    ID_TOKEN_TYPES,
    LOGOUT_TOKEN_TYPES,
    KeySource,
    LocalKeySource,
    MemoryReplayGuard,
    ReplayGuard,
    RevocationCheck,
    StoreReplayGuard,
    TrustedIssuer,
    VerifiedToken,
    Verifier,
)

__all__ = [
    "ACCESS_TOKEN_TYPES",
    "ACR_LEVELS",
    "BACKCHANNEL_LOGOUT_EVENT",
    "DEV_PASSPHRASE_FILE",
    "GRANT_TYPE",
    "IDENTITY_SCHEMA",
    "ID_TOKEN_TYPES",
    "LOGOUT_TOKEN_TYPES",
    "SIGNING_ALGORITHMS",
    "TOKEN_TYPE_ACCESS",
    "TOKEN_TYPE_JWT",
    "AlgorithmNotAllowed",
    "Authentication",
    "Authenticator",
    "BackchannelLogoutReceiver",
    "CityIdentity",
    "ClientSecrets",
    "CritNotUnderstood",
    "DevPasswordAuthenticator",
    "DevUser",
    "DuplicateMember",
    "EmbeddedKeyRefused",
    "ExchangeError",
    "ExchangePolicy",
    "ExchangeRule",
    "HallAuthMiddleware",
    "HallClient",
    "HallRegistry",
    "IdentityError",
    "InvalidAudience",
    "InvalidClaim",
    "InvalidIssuer",
    "InvalidSignature",
    "InvalidToken",
    "InvalidTokenType",
    "IssuedInFuture",
    "Issuer",
    "JWKSCachePolicy",
    "JWKSUnavailable",
    "KeyDecryptionFailed",
    "KeyRing",
    "KeyRingError",
    "KeySource",
    "KeyState",
    "LegalPersonSubject",
    "LocalKeySource",
    "LogoutDeliveryStatus",
    "LogoutEvent",
    "LogoutNotice",
    "LogoutOutbox",
    "MalformedToken",
    "MemoryReplayGuard",
    "MissingToken",
    "NoSigningKey",
    "OAuthError",
    "PassphraseProtector",
    "PersonSubject",
    "PrivateKeyProtector",
    "ProviderConfig",
    "ProvincialMapping",
    "ProvincialTicketAuthenticator",
    "RefreshTokenError",
    "RemoteJWKS",
    "ReplayGuard",
    "RevocationCheck",
    "RevocationRegistry",
    "RolloverPolicy",
    "Session",
    "SessionEnded",
    "SignIn",
    "SignInFailed",
    "SignInThrottle",
    "SigningKey",
    "StaffSubject",
    "StoreReplayGuard",
    "Subject",
    "TokenExchange",
    "TokenExpired",
    "TokenNotYetValid",
    "TokenPolicy",
    "TokenReplayed",
    "TokenRevoked",
    "TokenSet",
    "TokenTooLarge",
    "TrustedIssuer",
    "UnknownHall",
    "UnknownKey",
    "UnsupportedToken",
    "VerificationKey",
    "VerifiedToken",
    "Verifier",
    "authenticate",
    "averify_logout_token",
    "bearer_token",
    "create_provider_app",
    "dev_halls",
    "identity_openapi",
    "key_protector",
    "load_provider_config",
    "open_city_identity",
    "receive_backchannel_logout",
    "render_identity_openapi",
    "verify_logout_token",
]
