"""Crafting tokens byte by byte (for refusal tests): any header or claims text, signed raw."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from govlink.identity import VerificationKey, b64url_encode

ISSUER = "https://sso.dongying.example"
ALL_ALGORITHMS = ("ES256", "EdDSA", "RS256", "PS256")


def _text(part: str | dict[str, Any]) -> str:
    return part if isinstance(part, str) else json.dumps(part, separators=(",", ":"))


def sign_raw(alg: str, private: Any, message: bytes) -> bytes:
    if alg == "ES256":
        assert isinstance(private, ec.EllipticCurvePrivateKey)
        r, s = decode_dss_signature(private.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg in ("EdDSA", "Ed25519"):
        assert isinstance(private, ed25519.Ed25519PrivateKey)
        return private.sign(message)
    assert isinstance(private, rsa.RSAPrivateKey)
    pad = (
        padding.PKCS1v15()
        if alg == "RS256"
        else padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH)
    )
    return private.sign(message, pad, hashes.SHA256())


def craft(
    header: str | dict[str, Any],
    claims: str | dict[str, Any],
    private: Any,
    alg: str | None = None,
) -> str:
    """A compact JWS of exactly this header and claims text, signed with ``private``."""
    h = b64url_encode(_text(header).encode())
    p = b64url_encode(_text(claims).encode())
    if private is None:
        return f"{h}.{p}."
    name = alg or (header["alg"] if isinstance(header, dict) else "ES256")
    signature = sign_raw(name, private, f"{h}.{p}".encode())
    return f"{h}.{p}.{b64url_encode(signature)}"


class StaticKeys:
    """A key source over fixed keys (a second issuer's keys in exchange and provider tests)."""

    def __init__(self, *keys: VerificationKey) -> None:
        self.keys = {k.kid: k for k in keys}

    def lookup(self, kid: str) -> VerificationKey | None:
        return self.keys.get(kid)

    get_key = lookup

    async def aget_key(self, kid: str) -> VerificationKey | None:
        return self.lookup(kid)
