"""Remote JWKS: cache lifetime, cooldown, negative cache, single flight, last-known-good."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from identity_helpers import ISSUER, craft

from govlink import VirtualClock
from govlink._http import httpx
from govlink.identity import (
    JWKSCachePolicy,
    JWKSUnavailable,
    KeyRing,
    RemoteJWKS,
    TrustedIssuer,
    UnknownKey,
    Verifier,
)
from govlink.store import SQLiteStore, Store

URL = "https://sso.dongying.example/jwks"
AUD = "hall-370502"


class FakeIssuer:
    """The identity provider's JWKS endpoint, with an off switch and a request counter."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self.up = True
        self.requests = 0
        self.delay = 0.0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.delay:
            time.sleep(self.delay)
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json=self.ring.jwks())

    async def ahandler(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)
        return self.handler(request)


def token_for(ring: KeyRing, clock: VirtualClock, kid: str | None = None, **extra: Any) -> str:
    key = ring.signing_key("ES256")
    now = int(clock.time())
    claims = {
        "iss": ISSUER,
        "sub": "p-1",
        "aud": AUD,
        "iat": now,
        "exp": now + 600,
        "jti": str(random.random()),
        **extra,
    }
    return craft(
        {"alg": "ES256", "kid": kid or key.kid, "typ": "at+jwt"}, claims, key.key.private_key
    )


@pytest.fixture
def fake(ring: KeyRing) -> FakeIssuer:
    return FakeIssuer(ring)


@pytest.fixture
def hall_store(tmp_path: Path) -> Any:
    store = SQLiteStore(tmp_path / "hall.db")
    yield store
    store.close()


def remote(
    fake: FakeIssuer, clock: VirtualClock, store: Store | None = None, **policy: float
) -> RemoteJWKS:
    return RemoteJWKS(
        URL,
        store=store,
        clock=clock,
        policy=JWKSCachePolicy(**policy),  # type: ignore[arg-type]
        client=httpx.Client(transport=httpx.MockTransport(fake.handler)),
    )


def test_cache_lifetime(fake: FakeIssuer, ring: KeyRing, virtual_clock: VirtualClock) -> None:
    source = remote(fake, virtual_clock, lifetime=300, cooldown=30)
    verifier = Verifier([TrustedIssuer(ISSUER, source)], audience=AUD, clock=virtual_clock)
    for _ in range(50):
        verifier.verify(token_for(ring, virtual_clock))
    assert fake.requests == 1
    virtual_clock.advance(301)
    verifier.verify(token_for(ring, virtual_clock))
    assert fake.requests == 2


def test_unknown_kids_cost_one_fetch_per_cooldown(
    fake: FakeIssuer, ring: KeyRing, virtual_clock: VirtualClock
) -> None:
    cooldown = 30.0
    source = remote(fake, virtual_clock, lifetime=300, cooldown=cooldown, negative_ttl=300)
    verifier = Verifier([TrustedIssuer(ISSUER, source)], audience=AUD, clock=virtual_clock)
    verifier.verify(token_for(ring, virtual_clock))
    assert fake.requests == 1
    rng = random.Random(7)
    start = virtual_clock.time()
    fetch_times: list[float] = []
    for _ in range(1000):
        kid = "".join(rng.choice("abcdefghijklmnop") for _ in range(20))
        before = fake.requests
        with pytest.raises(UnknownKey):
            verifier.verify(token_for(ring, virtual_clock, kid=kid))
        if fake.requests != before:
            fetch_times.append(virtual_clock.time())
        virtual_clock.advance(0.1)
    elapsed = virtual_clock.time() - start
    assert len(fetch_times) <= elapsed // cooldown + 1
    gaps = [b - a for a, b in itertools.pairwise(fetch_times)]
    assert all(gap >= cooldown - 1e-3 for gap in gaps), gaps  # float sums of 0.1 s steps


def test_rotated_key_is_fetched(
    fake: FakeIssuer, ring: KeyRing, virtual_clock: VirtualClock
) -> None:
    source = remote(fake, virtual_clock, lifetime=3600, cooldown=30)
    verifier = Verifier([TrustedIssuer(ISSUER, source)], audience=AUD, clock=virtual_clock)
    verifier.verify(token_for(ring, virtual_clock))
    ring.rotate("ES256")
    virtual_clock.advance(ring.policy.jwks_cache_lifetime)
    # A key the cached JWKS does not know yet: one refetch (the cooldown has passed) finds it.
    verifier.verify(token_for(ring, virtual_clock))
    assert fake.requests == 2


def test_last_known_good_then_clear_error(
    fake: FakeIssuer, ring: KeyRing, virtual_clock: VirtualClock, hall_store: Store
) -> None:
    bound = 6 * 3600.0
    first = remote(fake, virtual_clock, hall_store, lifetime=300, cooldown=30, stale_bound=bound)
    assert first.get_key(ring.signing_key("ES256").kid) is not None
    fake.up = False
    # The hall restarts while the issuer is down: the persisted copy is all it has.
    source = remote(fake, virtual_clock, hall_store, lifetime=300, cooldown=30, stale_bound=bound)
    verifier = Verifier(
        [TrustedIssuer(ISSUER, source)], audience=AUD, clock=virtual_clock, cache_size=0
    )
    virtual_clock.advance(3600)
    verifier.verify(token_for(ring, virtual_clock))
    virtual_clock.advance(bound - 3600 - 1)
    verifier.verify(token_for(ring, virtual_clock))
    virtual_clock.advance(2)
    with pytest.raises(JWKSUnavailable) as info:
        verifier.verify(token_for(ring, virtual_clock))
    assert URL in info.value.message
    assert "ConnectError" in info.value.message
    assert info.value.code == "jwks_unavailable"
    fake.up = True
    virtual_clock.advance(30)
    verifier.verify(token_for(ring, virtual_clock))


def test_cold_cache_with_issuer_down(fake: FakeIssuer, virtual_clock: VirtualClock) -> None:
    fake.up = False
    source = remote(fake, virtual_clock)
    with pytest.raises(JWKSUnavailable, match="never fetched"):
        source.get_key("any")


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500),
        httpx.Response(200, content=b"not json"),
        httpx.Response(200, content=b'{"keys": [], "keys": []}'),
        httpx.Response(200, json={"keys": [{"kty": "oct", "k": "AAAA", "kid": "h"}]}),
        httpx.Response(200, content=b"x" * 300_000),
    ],
    ids=["http-500", "not-json", "duplicate-member", "only-symmetric", "too-large"],
)
def test_bad_jwks_answers(virtual_clock: VirtualClock, response: httpx.Response) -> None:
    source = RemoteJWKS(
        URL,
        clock=virtual_clock,
        client=httpx.Client(transport=httpx.MockTransport(lambda request: response)),
    )
    with pytest.raises(JWKSUnavailable):
        source.get_key("k")


def test_timeout_is_a_failed_fetch(virtual_clock: VirtualClock) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    source = RemoteJWKS(
        URL,
        clock=virtual_clock,
        policy=JWKSCachePolicy(timeout=0.5),
        client=httpx.Client(transport=httpx.MockTransport(slow)),
    )
    with pytest.raises(JWKSUnavailable, match="ReadTimeout"):
        source.get_key("k")


def test_single_flight_threads(
    fake: FakeIssuer, ring: KeyRing, virtual_clock: VirtualClock
) -> None:
    fake.delay = 0.05
    source = remote(fake, virtual_clock)
    kid = ring.signing_key("ES256").kid
    barrier = threading.Barrier(8)
    found: list[bool] = []

    def worker() -> None:
        barrier.wait()
        found.append(source.get_key(kid) is not None)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [True] * 8
    assert fake.requests == 1


def test_async_single_flight(fake: FakeIssuer, ring: KeyRing, virtual_clock: VirtualClock) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(fake.ahandler)) as client:
            source = RemoteJWKS(URL, clock=virtual_clock, async_client=client)
            verifier = Verifier([TrustedIssuer(ISSUER, source)], audience=AUD, clock=virtual_clock)
            tokens = [token_for(ring, virtual_clock) for _ in range(20)]
            results = await asyncio.gather(*(verifier.averify(t) for t in tokens))
            assert {r.subject for r in results} == {"p-1"}
            with pytest.raises(UnknownKey):
                await verifier.averify(token_for(ring, virtual_clock, kid="unknown"))

    asyncio.run(scenario())
    assert fake.requests == 1


def test_persisted_jwks_is_the_public_one(
    fake: FakeIssuer, virtual_clock: VirtualClock, hall_store: Store, ring: KeyRing
) -> None:
    remote(fake, virtual_clock, hall_store).refresh()
    with hall_store.transaction(write=False) as conn:
        stored = json.loads(conn.scalar("SELECT jwks FROM identity_jwks_cache"))
    assert stored == ring.jwks()
    assert all("d" not in k for k in stored["keys"])
