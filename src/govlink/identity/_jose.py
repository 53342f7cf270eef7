"""Strict compact JWS: canonical base64url, duplicate-free JSON, prepared verification keys.

This is the hot path of every hall's request, so it is written lean: one ``split``, a strict
base64url decoder, ``json.loads`` with a duplicate-member hook, and a signature check against a
:mod:`cryptography` public key object prepared once per key. Key import, JWK export, thumbprints
and token *production* go through joserfc (:func:`sign_compact`); only verification calls
``cryptography`` directly, because joserfc's general-purpose verification path (registries,
header validation, key guessing) costs more per token than PyJWT's and the product promises to be
at least as fast as PyJWT with every check on (see ``bench/bench_verify.py``).
"""

from __future__ import annotations

import binascii
import json
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jws
from joserfc._rfc8037.jws_eddsa import EdDSAAlgorithm
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import ECKey, JWKRegistry, Key, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from ._errors import DuplicateMember, KeyRingError, MalformedToken

__all__ = [
    "ALGORITHMS",
    "VerificationKey",
    "b64url_decode",
    "b64url_encode",
    "loads_strict",
    "sign_compact",
]

#: Signature algorithms govlink offers, by JWS name. ``Ed25519`` (RFC 9864) is accepted on
#: verification for Ed25519 keys; tokens are signed and keys published as ``EdDSA``, which every
#: deployed verifier (PyJWT, jwcrypto, jose, nimbus) understands.
ALGORITHMS: Final = ("ES256", "EdDSA", "Ed25519", "RS256", "PS256")
#: Algorithms a key of each type may ever be used with (the allow-list bound to the key).
_KEY_ALGORITHMS: Final[dict[str, frozenset[str]]] = {
    "EC:P-256": frozenset({"ES256"}),
    "OKP:Ed25519": frozenset({"EdDSA", "Ed25519"}),
    "RSA": frozenset({"RS256", "PS256"}),
}
MIN_RSA_BITS: Final = 2048

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
# The last character of a base64url string of length 4n+2 carries 2 significant bits (4 spare
# bits), of 4n+3 carries 4 (2 spare): the spare bits must be zero for the encoding to be the
# one canonical encoding of the bytes.
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_LAST_OK_2: Final = frozenset(c for i, c in enumerate(_ALPHABET) if i % 16 == 0)
_LAST_OK_3: Final = frozenset(c for i, c in enumerate(_ALPHABET) if i % 4 == 0)
# bytes.translate with a 256-byte table is far cheaper than str.translate with a dict.
_TO_STD = bytes.maketrans(b"-_", b"+/")
_PAD = (b"", b"", b"==", b"=")


def b64url_decode(segment: str) -> bytes:
    """Decode canonical unpadded base64url (RFC 7515 §2).

    Raises:
        MalformedToken: padding, a character outside the alphabet, an impossible length, or
            non-zero spare bits in the last character (a second spelling of the same bytes).
    """
    rem = len(segment) % 4
    if rem == 1 or not _B64URL.fullmatch(segment):
        raise MalformedToken("not canonical base64url")
    if rem == 2:
        if segment[-1] not in _LAST_OK_2:
            raise MalformedToken("base64url with non-zero trailing bits")
    elif rem == 3 and segment[-1] not in _LAST_OK_3:
        raise MalformedToken("base64url with non-zero trailing bits")
    try:
        return binascii.a2b_base64(
            segment.encode("ascii").translate(_TO_STD) + _PAD[rem], strict_mode=True
        )
    except binascii.Error:  # pragma: no cover - excluded by the checks above
        raise MalformedToken("not canonical base64url") from None


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url."""
    return binascii.b2a_base64(data, newline=False).decode().translate(_TO_STD_REV).rstrip("=")


_TO_STD_REV = str.maketrans("+/", "-_")


def _pairs_no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise DuplicateMember(f"duplicate JSON member {name[:40]!r}")
            seen.add(name)
    return result


def _no_constants(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259); Python accepts them by default, and an
    # ``exp`` of Infinity would never expire.
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs_no_duplicates, parse_constant=_no_constants)


def loads_strict(data: bytes | str, what: str = "JSON") -> Any:
    """``json.loads`` that refuses duplicate member names (RFC 7515 §5.2, RFC 7519 §4).

    Raises:
        DuplicateMember: a member name appears twice in any object.
        MalformedToken: not UTF-8 or not JSON.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return _DECODER.decode(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        if isinstance(exc, DuplicateMember):
            raise
        raise MalformedToken(f"{what} is not valid UTF-8 JSON") from None


# --- verification keys ----------------------------------------------------------------------

_SHA256 = hashes.SHA256()
_ECDSA_SHA256 = ec.ECDSA(_SHA256)
_PKCS1 = padding.PKCS1v15()
_PSS = padding.PSS(mgf=padding.MGF1(_SHA256), salt_length=padding.PSS.DIGEST_LENGTH)

Verify = Callable[[bytes, bytes], bool]


def _verifier_for(alg: str, public: Any) -> Verify:
    """A closure verifying ``(signing_input, signature)`` with one prepared key and algorithm."""
    if alg == "ES256":
        verify_ec = public.verify

        def es256(message: bytes, signature: bytes) -> bool:
            if len(signature) != 64:  # raw r||s, RFC 7518 §3.4 (never DER)
                return False
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            try:
                verify_ec(der, message, _ECDSA_SHA256)
            except _CryptoInvalidSignature:
                return False
            return True

        return es256
    if alg in ("EdDSA", "Ed25519"):
        verify_ed = public.verify

        def eddsa(message: bytes, signature: bytes) -> bool:
            try:
                verify_ed(signature, message)
            except _CryptoInvalidSignature:
                return False
            return True

        return eddsa
    pad = _PKCS1 if alg == "RS256" else _PSS
    verify_rsa = public.verify

    def rsa_verify(message: bytes, signature: bytes) -> bool:
        try:
            verify_rsa(signature, message, pad, _SHA256)
        except _CryptoInvalidSignature:
            return False
        return True

    return rsa_verify


def key_class(public: Any) -> str:
    """``EC:P-256``, ``OKP:Ed25519`` or ``RSA`` for a supported public key; raises otherwise."""
    if isinstance(public, ec.EllipticCurvePublicKey) and isinstance(public.curve, ec.SECP256R1):
        return "EC:P-256"
    if isinstance(public, ed25519.Ed25519PublicKey):
        return "OKP:Ed25519"
    if isinstance(public, rsa.RSAPublicKey):
        if public.key_size < MIN_RSA_BITS:
            raise KeyRingError(f"RSA key of {public.key_size} bits; at least {MIN_RSA_BITS}")
        return "RSA"
    raise KeyRingError("unsupported key type (ES256 P-256, Ed25519 and RSA keys only)")


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A public key ready for the hot path: its ``kid``, the algorithms bound to it, and one
    prepared verify function per algorithm.

    Build with :meth:`from_jwk` (a JWKS member) or :meth:`from_key` (a joserfc key).
    """

    kid: str
    algorithms: frozenset[str]
    verifiers: Mapping[str, Verify] = field(repr=False)
    jwk: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_key(cls, key: Key, kid: str, alg: str | None = None) -> VerificationKey:
        """Prepare a joserfc key. ``alg`` (a JWK's ``alg``) narrows the allowed algorithms.

        Raises:
            KeyRingError: symmetric or unsupported key, RSA under 2048 bits, or an ``alg``
                that does not fit the key.
        """
        if not isinstance(key, (ECKey, OKPKey, RSAKey)):
            raise KeyRingError("only asymmetric signing keys are trusted (never HMAC)")
        public = key.public_key
        allowed = _KEY_ALGORITHMS[key_class(public)]
        if alg is not None:
            if alg not in allowed:
                raise KeyRingError(f"key {kid!r}: alg {alg!r} does not fit a {key.key_type} key")
            # An Ed25519 key published as EdDSA or Ed25519 verifies under both names.
            allowed = allowed if alg in ("EdDSA", "Ed25519") else frozenset({alg})
        return cls(
            kid=kid,
            algorithms=allowed,
            verifiers={a: _verifier_for(a, public) for a in allowed},
            jwk=public_jwk(key, kid, alg),
        )

    @classmethod
    def from_jwk(cls, data: Mapping[str, Any]) -> VerificationKey:
        """Prepare one member of a JWKS.

        Raises:
            KeyRingError: no ``kid``, private or symmetric material, ``use`` other than
                ``sig``, unsupported key type or size.
        """
        kid = data.get("kid")
        if not isinstance(kid, str) or not kid:
            raise KeyRingError("JWKS key without a kid")
        if data.get("kty") == "oct" or "d" in data:
            raise KeyRingError(f"JWKS key {kid!r}: symmetric or private material refused")
        if data.get("use", "sig") != "sig":
            raise KeyRingError(f"JWKS key {kid!r}: use is not 'sig'")
        alg = data.get("alg")
        if alg is not None and not isinstance(alg, str):
            raise KeyRingError(f"JWKS key {kid!r}: alg is not a string")
        try:
            with warnings.catch_warnings():
                # joserfc warns about weak keys; govlink refuses them below with a typed error.
                warnings.simplefilter("ignore", SecurityWarning)
                key = JWKRegistry.import_key(dict(data))
        except (JoseError, ValueError, TypeError) as exc:
            raise KeyRingError(f"JWKS key {kid!r}: {exc}") from None
        return cls.from_key(key, kid, alg)


def public_jwk(key: Key, kid: str, alg: str | None) -> dict[str, Any]:
    """The public JWK of ``key`` with ``kid``, ``use: sig`` and ``alg`` (when given)."""
    data: dict[str, Any] = dict(key.as_dict(private=False))
    data["kid"] = kid
    data["use"] = "sig"
    if alg is not None:
        data["alg"] = alg
    return data


# --- signing (joserfc) ----------------------------------------------------------------------


class _EdDSA(EdDSAAlgorithm):
    # joserfc warns that the name EdDSA is deprecated by RFC 9864; govlink deliberately
    # publishes and signs with it because PyJWT and most deployed verifiers know no other.
    security_warning = None  # type: ignore[assignment]  # joserfc types it str, means optional


class _SigningRegistry(JWSRegistry):
    algorithms = {**JWSRegistry.algorithms, "EdDSA": _EdDSA()}  # noqa: RUF012 - joserfc API


_SIGNING = _SigningRegistry(algorithms=["ES256", "EdDSA", "RS256", "PS256"])


def sign_compact(header: dict[str, Any], claims: Mapping[str, Any], key: Key) -> str:
    """Sign ``claims`` (compact JSON) as a JWS with joserfc; ``header`` names alg, kid, typ."""
    payload = json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any other joserfc warning is a bug here
        return jws.serialize_compact(header, payload, key, registry=_SIGNING)
