"""RFC test vectors, transcribed as JSON under ``vectors/``: one generated test per vector."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import JWKRegistry, OKPKey

from govlink.identity import VerificationKey
from govlink.identity._jose import b64url_decode, sign_compact

VECTORS = Path(__file__).parent / "vectors"


def _cases(name: str) -> list[Any]:
    data = json.loads((VECTORS / name).read_text("utf-8"))
    return [pytest.param(case, id=case["name"]) for case in data["cases"]]


@pytest.mark.parametrize("case", _cases("rfc8037_a4_ed25519.json"))
def test_rfc8037_ed25519_vector(case: dict[str, Any]) -> None:
    key = JWKRegistry.import_key(case["key"])
    assert isinstance(key, OKPKey)
    # Ed25519 is deterministic: signing the same input must reproduce the RFC's JWS exactly.
    compact = sign_compact_raw(case["protected"], case["payload"].encode(), key)
    assert compact == case["compact"]
    assert key.thumbprint() == case["thumbprint"]
    public = {k: v for k, v in case["key"].items() if k != "d"}
    prepared = VerificationKey.from_jwk({**public, "kid": case["thumbprint"]})
    h, p, s = case["compact"].split(".")
    assert h == case["protected_b64"]
    assert p == case["payload_b64"]
    for alg in ("EdDSA", "Ed25519"):
        assert prepared.verifiers[alg](f"{h}.{p}".encode(), b64url_decode(s))
    tampered = b64url_decode(s)[:-1] + bytes([b64url_decode(s)[-1] ^ 1])
    assert not prepared.verifiers["EdDSA"](f"{h}.{p}".encode(), tampered)


def sign_compact_raw(protected: dict[str, Any], payload: bytes, key: OKPKey) -> str:
    from joserfc import jws

    from govlink.identity._jose import _SIGNING

    return jws.serialize_compact(protected, payload, key, registry=_SIGNING)


@pytest.mark.parametrize("case", _cases("rfc7638_thumbprint.json"))
def test_rfc7638_thumbprint_vector(case: dict[str, Any]) -> None:
    key = JWKRegistry.import_key(case["jwk"])
    assert key.thumbprint() == case["thumbprint"]
    prepared = VerificationKey.from_jwk(case["jwk"])
    assert prepared.algorithms == frozenset({"RS256"})


def test_sign_compact_is_json_claims() -> None:
    key = OKPKey.generate_key("Ed25519")
    token = sign_compact({"alg": "EdDSA", "kid": "k", "typ": "at+jwt"}, {"a": 1}, key)
    assert json.loads(b64url_decode(token.split(".")[1])) == {"a": 1}
