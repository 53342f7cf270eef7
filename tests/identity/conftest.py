"""Fixtures of the identity tests: a key ring, the demo city's halls, an issuer, people."""

from __future__ import annotations

import pytest

# The helpers module sits beside this file; make it importable whatever pytest was asked to run.
from identity_helpers import ISSUER

from govlink import VirtualClock
from govlink.domain import CreditCode, ResidentId
from govlink.identity import (
    HallRegistry,
    Issuer,
    KeyRing,
    LegalPersonSubject,
    PassphraseProtector,
    PersonSubject,
    RolloverPolicy,
)
from govlink.store import Store

#: The standard's own example ID number (GB 11643-1999) and a valid credit code.
ID_NUMBER = "11010519491231002X"


@pytest.fixture
def ring_algorithms() -> tuple[str, ...]:
    """The ring's algorithms; RSA key generation is slow, so a test that needs RSA keys
    asks for them with ``@pytest.mark.parametrize("ring_algorithms", [ALL_ALGORITHMS])``."""
    return ("ES256", "EdDSA")


@pytest.fixture
def ring(
    sqlite_store: Store, virtual_clock: VirtualClock, ring_algorithms: tuple[str, ...]
) -> KeyRing:
    keys = KeyRing(
        sqlite_store,
        PassphraseProtector("test passphrase"),
        clock=virtual_clock,
        policy=RolloverPolicy(max_token_lifetime=600),
    )
    keys.init(ring_algorithms)
    return keys


@pytest.fixture
def halls() -> HallRegistry:
    return HallRegistry.demo_city()


@pytest.fixture
def issuer(
    ring: KeyRing, halls: HallRegistry, sqlite_store: Store, virtual_clock: VirtualClock
) -> Issuer:
    return Issuer(issuer=ISSUER, keys=ring, halls=halls, store=sqlite_store, clock=virtual_clock)


@pytest.fixture
def person() -> PersonSubject:
    return PersonSubject(ResidentId(ID_NUMBER), name="张三")


@pytest.fixture
def legal_person(person: PersonSubject) -> LegalPersonSubject:
    from govlink.domain import credit_code_check_character, organisation_code_check_character

    body8 = "MA3C4F5G"
    org = body8 + organisation_code_check_character(body8)
    first17 = "91370502" + org
    return LegalPersonSubject(CreditCode(first17 + credit_code_check_character(first17)), person)
