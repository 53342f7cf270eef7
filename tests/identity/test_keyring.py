"""The key ring: rollover on the virtual clock, encryption at rest, the JWKS, invariants."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from identity_helpers import ALL_ALGORITHMS
from joserfc.jwk import OctKey

from govlink import VirtualClock
from govlink.identity import (
    KeyDecryptionFailed,
    KeyRing,
    KeyRingError,
    KeyState,
    NoSigningKey,
    PassphraseProtector,
    RolloverPolicy,
    TrustedIssuer,
    VerificationKey,
    Verifier,
)
from govlink.identity._jose import b64url_encode
from govlink.store import Store

DAY = 86400.0


class JWKSSnapshot:
    """A verifier's view of the JWKS, refreshed only when its cache lifetime has passed:
    the worst case a remote hall can be in."""

    def __init__(self, ring: KeyRing, clock: VirtualClock, lifetime: float) -> None:
        self.ring, self.clock, self.lifetime = ring, clock, lifetime
        self.fetched = float("-inf")
        self.keys: dict[str, VerificationKey] = {}

    def lookup(self, kid: str) -> VerificationKey | None:
        if self.clock.time() - self.fetched >= self.lifetime:
            self.keys = {k["kid"]: VerificationKey.from_jwk(k) for k in self.ring.jwks()["keys"]}
            self.fetched = self.clock.time()
        return self.keys.get(kid)

    get_key = lookup

    async def aget_key(self, kid: str) -> VerificationKey | None:
        return self.lookup(kid)


def test_rollover_over_90_days(sqlite_store: Store, virtual_clock: VirtualClock) -> None:
    policy = RolloverPolicy(
        jwks_cache_lifetime=3600, max_token_lifetime=600, leeway=60, rotation_period=30 * DAY
    )
    ring = KeyRing(sqlite_store, PassphraseProtector("pw"), clock=virtual_clock, policy=policy)
    ring.init(["ES256"])
    start = virtual_clock.time()
    snapshot = JWKSSnapshot(ring, virtual_clock, policy.jwks_cache_lifetime)
    verifier = Verifier(
        [TrustedIssuer("https://iss", snapshot, leeway=0)],
        audience="hall-370502",
        clock=virtual_clock,
        cache_size=0,
    )
    first_seen: dict[str, float] = {}
    last_seen: dict[str, float] = {}
    signed_by: set[str] = set()
    step = 1200.0
    tokens = 0
    while virtual_clock.time() - start <= 90 * DAY:
        ring.maintain()
        now = virtual_clock.time()
        for jwk in ring.jwks()["keys"]:
            first_seen.setdefault(jwk["kid"], now)
            last_seen[jwk["kid"]] = now
        claims = {
            "iss": "https://iss",
            "sub": "p-1",
            "aud": "hall-370502",
            "iat": int(now),
            "exp": int(now) + 600,
            "jti": str(now),
        }
        token = ring.sign(claims, "at+jwt")
        signed_by.add(ring.signing_key().kid)
        virtual_clock.advance(590)  # verified just before it expires: still valid
        assert verifier.verify(token).subject == "p-1"
        tokens += 1
        virtual_clock.advance(step - 590)
    keys = ring.list_keys()
    assert len(keys) == 4  # the first key and one per 30 days
    assert signed_by == {k.kid for k in keys if k.activate_at <= virtual_clock.time()}
    now = virtual_clock.time()
    retired = [k for k in keys if k.state(now) is KeyState.RETIRED]
    assert len(retired) == 3  # rotated at days 30, 60 and 90; each old key gone since
    assert keys[-1].state(now) is KeyState.ACTIVE
    for key in keys[1:]:
        # Published a whole JWKS cache lifetime before it signed.
        assert key.activate_at - first_seen[key.kid] >= policy.jwks_cache_lifetime
    for key in retired:
        assert key.retire_at is not None
        assert key.remove_at is not None
        # In the JWKS until max token lifetime + leeway after it stopped signing, then gone
        # (within one simulation step).
        assert key.remove_at - key.retire_at == policy.max_token_lifetime + policy.leeway
        assert key.remove_at - step <= last_seen[key.kid] < key.remove_at
        assert key.kid not in {k["kid"] for k in ring.jwks()["keys"]}
    assert tokens > 6000


def test_private_keys_encrypted_at_rest(sqlite_store: Store, virtual_clock: VirtualClock) -> None:
    ring = KeyRing(sqlite_store, PassphraseProtector("correct horse"), clock=virtual_clock)
    (key,) = ring.init(["EdDSA"])
    with sqlite_store.transaction(write=False) as conn:
        sealed = conn.scalar("SELECT private_key FROM identity_keys WHERE kid = ?", (key.kid,))
    assert sealed.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    raw = key.key.private_key.private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    assert raw.hex() not in sealed
    again = KeyRing(sqlite_store, PassphraseProtector("correct horse"), clock=virtual_clock)
    assert again.get(key.kid).public_jwk() == key.public_jwk()
    with pytest.raises(KeyDecryptionFailed) as info:
        KeyRing(sqlite_store, PassphraseProtector("wrong"), clock=virtual_clock)
    assert "correct horse" not in str(info.value)
    assert "***" in repr(PassphraseProtector("secret"))
    assert "secret" not in repr(PassphraseProtector("secret"))


class ExternalKeyService:
    """The hook for an external key service: here a toy vault keeping keys in a dict."""

    name = "toy-vault"

    def __init__(self) -> None:
        self.vault: dict[str, PrivateKeyTypes] = {}

    def protect(self, kid: str, private_key: PrivateKeyTypes) -> str:
        self.vault[kid] = private_key
        return f"vault:{kid}"

    def recover(self, kid: str, sealed: str) -> PrivateKeyTypes:
        return self.vault[sealed.removeprefix("vault:")]


def test_external_key_service(sqlite_store: Store, virtual_clock: VirtualClock) -> None:
    service = ExternalKeyService()
    ring = KeyRing(sqlite_store, service, clock=virtual_clock)
    (key,) = ring.init(["ES256"])
    assert key.kid in service.vault
    assert KeyRing(sqlite_store, service, clock=virtual_clock).get(key.kid).kid == key.kid
    with pytest.raises(KeyDecryptionFailed):
        KeyRing(sqlite_store, PassphraseProtector("pw"), clock=virtual_clock)


@pytest.mark.parametrize("ring_algorithms", [ALL_ALGORITHMS])
def test_kid_is_rfc7638_thumbprint_and_jwks_is_public(ring: KeyRing) -> None:
    jwks = ring.jwks()
    assert {k["alg"] for k in jwks["keys"]} == {"ES256", "EdDSA", "RS256", "PS256"}
    for jwk in jwks["keys"]:
        assert "d" not in jwk
        assert jwk["use"] == "sig"
        assert ring.get(jwk["kid"]).key.thumbprint() == jwk["kid"]
        if jwk["kty"] == "OKP":
            assert jwk["crv"] == "Ed25519"
            assert jwk["alg"] == "EdDSA"


def test_schedule_rules(ring: KeyRing, virtual_clock: VirtualClock) -> None:
    with pytest.raises(KeyRingError, match="already initialised"):
        ring.init(["ES256"])
    new = ring.rotate("ES256")
    assert new.state(virtual_clock.time()) is KeyState.NEXT
    with pytest.raises(KeyRingError, match="already scheduled"):
        ring.rotate("ES256")
    old = ring.signing_key("ES256")
    assert old.kid != new.kid
    virtual_clock.advance(ring.policy.jwks_cache_lifetime)
    assert ring.signing_key("ES256").kid == new.kid
    assert ring.get(old.kid).state(virtual_clock.time()) is KeyState.RETIRING
    ring.check_invariants()
    with pytest.raises(KeyRingError, match="not offered"):
        ring.rotate("HS256")


def test_no_signing_key(sqlite_store: Store, virtual_clock: VirtualClock) -> None:
    ring = KeyRing(sqlite_store, PassphraseProtector("pw"), clock=virtual_clock)
    with pytest.raises(NoSigningKey):
        ring.sign({}, "at+jwt")
    with pytest.raises(KeyRingError):
        RolloverPolicy(jwks_cache_lifetime=10, rotation_period=5)


def _small_rsa_jwk() -> dict[str, Any]:
    weak = rsa.generate_private_key(65537, 1024)  # noqa: S505 - the weak key to refuse
    numbers = weak.public_key().public_numbers()
    return {
        "kty": "RSA",
        "kid": "small",
        "n": b64url_encode(numbers.n.to_bytes(128, "big")),
        "e": "AQAB",
    }


@pytest.mark.parametrize(
    "jwk",
    [
        OctKey.generate_key(256, auto_kid=True).as_dict(private=True),
        _small_rsa_jwk(),
        {"kty": "EC", "crv": "P-256", "x": "bad", "y": "bad", "kid": "broken"},
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            "kid": "enc",
            "use": "enc",
        },
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            "kid": "wrong-alg",
            "alg": "ES256",
        },
    ],
    ids=["symmetric", "rsa-1024", "malformed", "use-enc", "alg-mismatch"],
)
def test_untrustworthy_jwks_members_refused(jwk: dict[str, Any]) -> None:
    with pytest.raises(KeyRingError):
        VerificationKey.from_jwk(jwk)


def test_rotation_by_another_process_reaches_a_running_ring(
    sqlite_store: Store, virtual_clock: VirtualClock
) -> None:
    running = KeyRing(sqlite_store, PassphraseProtector("pw"), clock=virtual_clock)
    (first,) = running.init(["ES256"])
    elsewhere = KeyRing(sqlite_store, PassphraseProtector("pw"), clock=virtual_clock)
    new = elsewhere.rotate("ES256")  # e.g. `govlink keys rotate` run by an operator
    virtual_clock.advance(running.policy.jwks_cache_lifetime)
    # The running ring re-reads the store (its reload interval has passed): it signs with the
    # new key and never with the one the other process retired.
    assert running.signing_key().kid == new.kid
    assert running.get(first.kid).retire_at is not None
