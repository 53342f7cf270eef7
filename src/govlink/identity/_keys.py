"""The key ring: signing keys, their rollover schedule, encryption at rest and the public JWKS.

A key's state is a pure function of its schedule and the clock, so rollover happens by itself
as time passes (and on a virtual clock in tests)::

    pending ─publish_at─> next ─activate_at─> active ─retire_at─> retiring ─remove_at─> retired
                    (JWKS, not signing)   (signs)          (JWKS, verify only)  (not in JWKS)

Invariants the ring enforces when it schedules a rotation (RFC 7517 practice, as Keycloak and
node-oidc-provider do it):

* a key is published at least :attr:`RolloverPolicy.jwks_cache_lifetime` before it signs, so
  every verifier's cached JWKS already holds it when the first token signed by it arrives;
* a key leaves the JWKS only :attr:`RolloverPolicy.max_token_lifetime` plus the leeway after it
  stopped signing, so no token it signed is ever refused for want of its key.

Private keys are stored encrypted by a :class:`PrivateKeyProtector`: PKCS#8 with the best
available encryption under the configured passphrase by default, or an external key service
that implements the same two-method protocol.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Protocol, runtime_checkable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

from .._clock import Clock, system_clock
from ..store import Store
from ._errors import KeyDecryptionFailed, KeyRingError, NoSigningKey
from ._jose import VerificationKey, public_jwk, sign_compact
from ._schema import ensure_schema

__all__ = [
    "SIGNING_ALGORITHMS",
    "KeyRing",
    "KeyState",
    "PassphraseProtector",
    "PrivateKeyProtector",
    "RolloverPolicy",
    "SigningKey",
]

#: Algorithms a key ring can sign with (``Ed25519`` is accepted as a name for ``EdDSA``).
SIGNING_ALGORITHMS: Final = ("ES256", "EdDSA", "RS256", "PS256")
_ALG_ALIASES: Final = {"Ed25519": "EdDSA"}
RSA_BITS: Final = 2048


class KeyState(StrEnum):
    """Where a key stands in its rollover, at a given instant."""

    PENDING = "pending"
    NEXT = "next"
    ACTIVE = "active"
    RETIRING = "retiring"
    RETIRED = "retired"


@dataclass(frozen=True, slots=True)
class RolloverPolicy:
    """The numbers rollover must respect (seconds).

    ``jwks_cache_lifetime``: the longest time any verifier caches the JWKS; a new key is published
    that long before it signs. ``max_token_lifetime``: the longest lifetime of a signed token;
    a retired key stays published that long plus ``leeway`` after it stopped signing.
    ``rotation_period``: how long a key signs before :meth:`KeyRing.maintain` replaces it.

    Raises:
        KeyRingError: a negative number, or a rotation period too short to publish a key
            before it signs.
    """

    jwks_cache_lifetime: float = 3600.0
    max_token_lifetime: float = 3600.0
    leeway: float = 60.0
    rotation_period: float = 30 * 86400.0

    def __post_init__(self) -> None:
        if min(self.jwks_cache_lifetime, self.max_token_lifetime, self.leeway) < 0:
            raise KeyRingError("rollover policy: times must not be negative")
        if self.rotation_period <= self.jwks_cache_lifetime:
            raise KeyRingError(
                "rollover policy: rotation_period must exceed jwks_cache_lifetime "
                "(a key must be published before it signs)"
            )


@runtime_checkable
class PrivateKeyProtector(Protocol):
    """Encrypts private keys at rest. Implement it to keep keys in an external key service.

    ``name`` is stored with each key so a ring can tell which protector sealed it.
    """

    name: str

    def protect(self, kid: str, private_key: PrivateKeyTypes) -> str:
        """Seal ``private_key``; the returned text is what the store keeps."""
        ...

    def recover(self, kid: str, sealed: str) -> PrivateKeyTypes:
        """Open what :meth:`protect` returned. Raises :class:`KeyDecryptionFailed`."""
        ...


class PassphraseProtector:
    """PKCS#8 PEM under cryptography's best available encryption, keyed by a passphrase.

    The passphrase is never printed (``repr`` hides it).
    """

    name = "pkcs8-passphrase"

    def __init__(self, passphrase: str | bytes) -> None:
        secret = passphrase.encode() if isinstance(passphrase, str) else passphrase
        if not secret:
            raise KeyRingError("the key passphrase must not be empty")
        self._secret = secret

    def protect(self, kid: str, private_key: PrivateKeyTypes) -> str:
        """PKCS#8 PEM, encrypted under the passphrase."""
        return private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._secret),
        ).decode("ascii")

    def recover(self, kid: str, sealed: str) -> PrivateKeyTypes:
        """Decrypt; raises :class:`KeyDecryptionFailed` on a wrong passphrase."""
        try:
            return serialization.load_pem_private_key(sealed.encode("ascii"), self._secret)
        except (ValueError, TypeError):
            raise KeyDecryptionFailed(
                f"private key {kid!r} cannot be decrypted: wrong key passphrase "
                "(GOVLINK_KEY_PASSPHRASE) or a damaged key record"
            ) from None

    def __repr__(self) -> str:
        return "PassphraseProtector(passphrase=***)"


@dataclass(frozen=True)
class SigningKey:
    """One key of the ring with its schedule (POSIX seconds). ``key`` holds the private key."""

    kid: str
    alg: str
    key: Key = field(repr=False)
    created_at: float
    publish_at: float
    activate_at: float
    retire_at: float | None = None
    remove_at: float | None = None

    def state(self, now: float) -> KeyState:
        """The key's state at ``now``."""
        if now < self.publish_at:
            return KeyState.PENDING
        if now < self.activate_at:
            return KeyState.NEXT
        if self.retire_at is None or now < self.retire_at:
            return KeyState.ACTIVE
        if self.remove_at is None or now < self.remove_at:
            return KeyState.RETIRING
        return KeyState.RETIRED

    def public_jwk(self) -> dict[str, Any]:
        """The public JWK as published (``kid``, ``use: sig``, ``alg``)."""
        return public_jwk(self.key, self.kid, self.alg)

    def verification_key(self) -> VerificationKey:
        """The public half, prepared for the verifier's hot path."""
        return VerificationKey.from_key(self.key, self.kid, self.alg)

    def describe(self, now: float) -> dict[str, Any]:
        """A JSON-ready summary (no private material)."""
        return {
            "kid": self.kid,
            "alg": self.alg,
            "state": self.state(now).value,
            "created_at": self.created_at,
            "publish_at": self.publish_at,
            "activate_at": self.activate_at,
            "retire_at": self.retire_at,
            "remove_at": self.remove_at,
        }


def normalise_alg(alg: str) -> str:
    """The name a key ring signs with. Raises :class:`KeyRingError` for anything else."""
    name = _ALG_ALIASES.get(alg, alg)
    if name not in SIGNING_ALGORITHMS:
        raise KeyRingError(
            f"algorithm {alg!r} is not offered; choose one of {', '.join(SIGNING_ALGORITHMS)}"
        )
    return name


def generate_key(alg: str) -> Key:
    """A fresh private key for ``alg`` with its RFC 7638 thumbprint as ``kid``."""
    name = normalise_alg(alg)
    key: Key
    if name == "ES256":
        key = ECKey.generate_key("P-256", auto_kid=True)
    elif name == "EdDSA":
        key = OKPKey.generate_key("Ed25519", auto_kid=True)
    else:
        key = RSAKey.generate_key(RSA_BITS, auto_kid=True)
    return key


def _import_private(private: PrivateKeyTypes) -> Key:
    for cls in (ECKey, OKPKey, RSAKey):
        try:
            return cls.import_key(private)  # type: ignore[arg-type]
        except Exception:  # noqa: S112 - try the next key type; joserfc raises various errors
            continue
    raise KeyRingError("stored private key is of an unsupported type")


class KeyRing:
    """The city's signing keys, persisted in the store, encrypted at rest.

    Thread-safe. Every time is read from ``clock``. Keys are re-read from the store at most
    every ``reload_interval`` seconds, so a rotation scheduled by another process (``govlink
    keys rotate``) reaches a running identity provider and its halls.

    Raises (from its methods): :class:`KeyRingError`, :class:`NoSigningKey`,
    :class:`KeyDecryptionFailed`.
    """

    def __init__(
        self,
        store: Store,
        protector: PrivateKeyProtector,
        *,
        clock: Clock = system_clock,
        policy: RolloverPolicy | None = None,
        reload_interval: float = 30.0,
    ) -> None:
        self.store = store
        self.reload_interval = reload_interval
        self._loaded_at = float("-inf")
        self.protector = protector
        self.clock = clock
        self.policy = policy or RolloverPolicy()
        self._lock = threading.RLock()
        self._keys: dict[str, SigningKey] = {}
        self._sealed: dict[str, str] = {}
        #: Bumped on every change, so verifiers holding prepared keys know to rebuild.
        self.generation = 0
        self._published: tuple[float, float, dict[str, VerificationKey]] | None = None
        ensure_schema(store)
        self.reload()

    # -- persistence -------------------------------------------------------------------------

    def reload(self) -> None:
        """Re-read the keys from the store (another process may have rotated them)."""
        self._loaded_at = self.clock.monotonic()
        with self.store.transaction(write=False) as conn:
            rows = conn.fetchall(
                "SELECT kid, alg, private_key, protector, created_at, publish_at, activate_at, "
                "retire_at, remove_at FROM identity_keys ORDER BY activate_at, kid"
            )
        with self._lock:
            keys: dict[str, SigningKey] = {}
            for kid, alg, sealed, protector, created, publish, activate, retire, remove in rows:
                known = self._keys.get(kid)
                if known is not None and self._sealed.get(kid) == sealed:
                    key = known.key
                else:
                    if protector != self.protector.name:
                        raise KeyDecryptionFailed(
                            f"key {kid!r} was sealed by {protector!r}, not {self.protector.name!r}"
                        )
                    key = _import_private(self.protector.recover(kid, sealed))
                self._sealed[kid] = sealed
                keys[kid] = SigningKey(kid, alg, key, created, publish, activate, retire, remove)
            if keys != self._keys:
                self._keys = keys
                self._changed()

    def needs_reload(self) -> bool:
        """Whether the next signature will first re-read the keys from the store."""
        return self.clock.monotonic() - self._loaded_at >= self.reload_interval

    def reload_if_older(self, seconds: float | None = None) -> None:
        """Reload when the keys were last read more than ``seconds`` (default
        ``reload_interval``) ago."""
        limit = self.reload_interval if seconds is None else seconds
        if self.clock.monotonic() - self._loaded_at >= limit:
            self.reload()

    def _changed(self) -> None:
        self.generation += 1
        self._published = None

    def _insert(self, key: SigningKey) -> None:
        sealed = self.protector.protect(key.kid, key.key.private_key)  # type: ignore[arg-type]
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO identity_keys (kid, alg, public_jwk, private_key, protector, "
                "created_at, publish_at, activate_at, retire_at, remove_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key.kid,
                    key.alg,
                    json.dumps(key.public_jwk()),
                    sealed,
                    self.protector.name,
                    key.created_at,
                    key.publish_at,
                    key.activate_at,
                    key.retire_at,
                    key.remove_at,
                ),
            )
        self._sealed[key.kid] = sealed

    def _reschedule(self, key: SigningKey, retire_at: float, remove_at: float) -> SigningKey:
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE identity_keys SET retire_at = ?, remove_at = ? WHERE kid = ?",
                (retire_at, remove_at, key.kid),
            )
        return SigningKey(
            key.kid,
            key.alg,
            key.key,
            key.created_at,
            key.publish_at,
            key.activate_at,
            retire_at,
            remove_at,
        )

    # -- queries -----------------------------------------------------------------------------

    def list_keys(self) -> list[SigningKey]:
        """Every key, oldest activation first."""
        with self._lock:
            return sorted(self._keys.values(), key=lambda k: (k.activate_at, k.kid))

    def get(self, kid: str) -> SigningKey:
        """The key with ``kid``. Raises :class:`KeyRingError` when there is none."""
        try:
            return self._keys[kid]
        except KeyError:
            raise KeyRingError(f"no key with kid {kid!r}") from None

    @property
    def initialised(self) -> bool:
        """Whether the ring holds any key (``govlink keys init`` ran)."""
        return bool(self._keys)

    def signing_key(self, alg: str | None = None) -> SigningKey:
        """The active key (of ``alg``, else of the first algorithm that has one).

        Raises:
            NoSigningKey: no key is active now.
        """
        self.reload_if_older()
        now = self.clock.time()
        wanted = normalise_alg(alg) if alg else None
        best: SigningKey | None = None
        for key in self.list_keys():
            if key.state(now) is not KeyState.ACTIVE or (wanted and key.alg != wanted):
                continue
            if (
                best is None
                or (
                    wanted is None
                    and SIGNING_ALGORITHMS.index(key.alg) < SIGNING_ALGORITHMS.index(best.alg)
                )
                or (best.alg == key.alg and key.activate_at > best.activate_at)
            ):
                best = key
        if best is None:
            which = f" for {wanted}" if wanted else ""
            raise NoSigningKey(f"no active signing key{which}; run `govlink keys init`")
        return best

    def published(self) -> list[SigningKey]:
        """Keys in the JWKS now: next, active and retiring."""
        self.reload_if_older()
        now = self.clock.time()
        return [
            k
            for k in self.list_keys()
            if k.state(now) in (KeyState.NEXT, KeyState.ACTIVE, KeyState.RETIRING)
        ]

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public JWKS (RFC 7517 §5): what ``govlink keys jwks`` prints."""
        return {"keys": [k.public_jwk() for k in self.published()]}

    def verification_keys(self) -> Mapping[str, VerificationKey]:
        """Prepared public keys of every published key, rebuilt only when the set changes."""
        now = self.clock.time()
        cached = self._published
        if (
            cached is not None
            and cached[0] <= now < cached[1]
            and self.clock.monotonic() - self._loaded_at < self.reload_interval
        ):
            return cached[2]
        with self._lock:
            prepared = {k.kid: k.verification_key() for k in self.published()}
            # The set stays the same until the next publish or removal instant.
            boundaries = [
                t
                for k in self._keys.values()
                for t in (k.publish_at, k.remove_at)
                if t is not None and t > now
            ]
            self._published = (now, min(boundaries, default=float("inf")), prepared)
            return prepared

    # -- changes -----------------------------------------------------------------------------

    def init(self, algorithms: Iterable[str] = ("ES256",)) -> list[SigningKey]:
        """Create the first key of each algorithm, active at once (nobody caches a JWKS yet).

        Raises:
            KeyRingError: the ring already has keys (use :meth:`rotate`), or an unknown alg.
        """
        algs = list(dict.fromkeys(normalise_alg(a) for a in algorithms))
        if not algs:
            raise KeyRingError("name at least one algorithm")
        with self._lock:
            if self._keys:
                raise KeyRingError("the key ring is already initialised; use `govlink keys rotate`")
            now = self.clock.time()
            created = []
            for alg in algs:
                key = generate_key(alg)
                signing = SigningKey(key.kid or key.thumbprint(), alg, key, now, now, now)
                self._insert(signing)
                self._keys[signing.kid] = signing
                created.append(signing)
            self._changed()
            return created

    def rotate(self, alg: str | None = None) -> SigningKey:
        """Schedule a new key for ``alg`` (default: the current signing key's algorithm).

        The new key is published now and starts signing one JWKS cache lifetime later; the key
        it replaces stops signing then and leaves the JWKS one token lifetime plus leeway after.

        Raises:
            KeyRingError: a rotation of that algorithm is already scheduled, or unknown alg.
            NoSigningKey: no active key and no ``alg`` given.
        """
        with self._lock:
            name = normalise_alg(alg) if alg else self.signing_key().alg
            now = self.clock.time()
            for key in self._keys.values():
                if key.alg == name and key.state(now) in (KeyState.PENDING, KeyState.NEXT):
                    raise KeyRingError(
                        f"a rotation of {name} is already scheduled (key {key.kid} "
                        f"activates at {key.activate_at:.0f})"
                    )
            policy = self.policy
            activate = now + policy.jwks_cache_lifetime
            remove = activate + policy.max_token_lifetime + policy.leeway
            for key in list(self._keys.values()):
                if (
                    key.alg == name
                    and key.state(now) is KeyState.ACTIVE
                    and (key.retire_at is None or key.retire_at > activate)
                ):
                    self._keys[key.kid] = self._reschedule(key, activate, remove)
            fresh = generate_key(name)
            signing = SigningKey(fresh.kid or fresh.thumbprint(), name, fresh, now, now, activate)
            self._insert(signing)
            self._keys[signing.kid] = signing
            self._changed()
            self.check_invariants()
            return signing

    def maintain(self) -> list[SigningKey]:
        """Scheduled rollover: rotate every algorithm whose active key is due.

        A key is due ``rotation_period`` after it began signing, so its successor is scheduled
        a JWKS cache lifetime before that. Returns the keys created (often none).
        """
        now = self.clock.time()
        created = []
        with self._lock:
            for name in SIGNING_ALGORITHMS:
                ours = [k for k in self._keys.values() if k.alg == name]
                if not ours or any(k.state(now) in (KeyState.PENDING, KeyState.NEXT) for k in ours):
                    continue
                active = [k for k in ours if k.state(now) is KeyState.ACTIVE]
                newest = max(active, key=lambda k: k.activate_at, default=None)
                due = (
                    newest is None
                    or now
                    >= newest.activate_at
                    + self.policy.rotation_period
                    - self.policy.jwks_cache_lifetime
                )
                if due:
                    created.append(self.rotate(name))
        return created

    def check_invariants(self) -> None:
        """Raise :class:`KeyRingError` if any schedule breaks the rollover invariants."""
        policy = self.policy
        first = min((k.created_at for k in self._keys.values()), default=0.0)
        for key in self._keys.values():
            if key.created_at > first and key.activate_at - key.publish_at < (
                policy.jwks_cache_lifetime
            ):
                raise KeyRingError(f"key {key.kid} would sign before verifiers cache it")
            if key.retire_at is not None and (
                key.remove_at is None
                or key.remove_at - key.retire_at < policy.max_token_lifetime + policy.leeway
            ):
                raise KeyRingError(f"key {key.kid} would leave the JWKS while its tokens live")

    def sign(self, claims: Mapping[str, Any], typ: str, alg: str | None = None) -> str:
        """Sign ``claims`` with the active key as a compact JWS with header ``typ``.

        Raises:
            NoSigningKey: no active key (of ``alg``).
        """
        key = self.signing_key(alg)
        return sign_compact({"alg": key.alg, "kid": key.kid, "typ": typ}, claims, key.key)

    def __repr__(self) -> str:
        return f"KeyRing({len(self._keys)} keys, store={self.store.url!r})"
