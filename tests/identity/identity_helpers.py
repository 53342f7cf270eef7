"""Crafting tokens byte by byte (for refusal tests): any header or claims text, signed raw."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from govlink.identity import VerificationKey
from govlink.identity._jose import b64url_encode

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


# --- two `govlink idp serve` processes on one PostgreSQL store (interop tests) ---------

IDP_PASSPHRASE = "interop passphrase for two servers"
IDP_SECRETS = {"hall-370502": "secret-a-0123456789", "hall-370503": "secret-b-0123456789"}
IDP_PROVIDER_FILE = """
[[halls]]
client_id = "hall-370502"
hall_code = "370502"
redirect_uris = ["http://127.0.0.1/callback"]
post_logout_redirect_uris = ["http://127.0.0.1/signed-out"]
grant_types = ["authorization_code", "refresh_token", "client_credentials",
               "urn:ietf:params:oauth:grant-type:token-exchange"]

[[halls]]
client_id = "hall-370503"
hall_code = "370503"
redirect_uris = ["http://127.0.0.1/callback"]
grant_types = ["authorization_code", "refresh_token", "client_credentials"]

[[exchange]]
subject_issuer = "city"
clients = ["hall-370502"]
audiences = ["hall-370503"]

[sign_in]
authenticator = "dev_password"
[[sign_in.users]]
username = "zhangsan"
password = "correct horse battery"
id_number = "11010519491231002X"
name = "张三"
acr = "3"
"""


#: The client of the hostile-input tests (every grant) and its secret.
HOSTILE_CLIENT, HOSTILE_SECRET = "hall-370502", "hostile-secret-0123456789"
#: A ``private_key_jwt`` client of the hostile-input tests (its key is generated per app).
HOSTILE_ROBOT = "robot-370502"
HOSTILE_USER, HOSTILE_PASSWORD = "clerk", "correct horse battery"


def hostile_provider(directory: Path, store: Any = None) -> Any:
    """A provider app on ``store`` (default: a fresh SQLite store in ``directory``): the demo
    city's halls, one of
    them allowed every grant (``HOSTILE_CLIENT``), and the development sign-in page with one
    user — so fuzzed requests reach every branch, not only the first refusal."""
    import dataclasses

    from govlink import VirtualClock
    from govlink.identity import (
        CityIdentity,
        ClientSecrets,
        DevPasswordAuthenticator,
        DevUser,
        HallRegistry,
        Issuer,
        KeyRing,
        PassphraseProtector,
        RolloverPolicy,
        create_provider_app,
    )
    from govlink.store import SQLiteStore

    store = store if store is not None else SQLiteStore(directory / "idp.db")
    clock = VirtualClock()
    keys = KeyRing(
        store,
        PassphraseProtector("hostile passphrase"),
        clock=clock,
        policy=RolloverPolicy(max_token_lifetime=600),
    )
    keys.init(("ES256",))
    grants = frozenset(
        {
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        }
    )
    from joserfc.jwk import ECKey

    from govlink.identity import HallClient

    robot = HallClient(
        client_id=HOSTILE_ROBOT,
        hall_code="370502",
        name="robot",
        audience=HOSTILE_ROBOT,
        scopes=frozenset({"cases:read"}),
        grant_types=frozenset({"client_credentials"}),
        auth_method="private_key_jwt",
        jwks={"keys": [ECKey.generate_key("P-256", auto_kid=True).as_dict(private=False)]},
    )
    halls = HallRegistry(
        [
            *(
                dataclasses.replace(c, grant_types=grants) if c.client_id == HOSTILE_CLIENT else c
                for c in HallRegistry.demo_city()
            ),
            robot,
        ]
    )
    issuer = Issuer(issuer=ISSUER, keys=keys, halls=halls, store=store, clock=clock)
    user = DevUser(HOSTILE_USER, HOSTILE_PASSWORD, "11010519491231002X", "张三", "3")

    async def deliver(notices: Any) -> None:
        return None

    return create_provider_app(
        CityIdentity(keys, halls, issuer, development=False),
        client_secrets=ClientSecrets.from_config({HOSTILE_CLIENT: HOSTILE_SECRET}),
        logout_delivery=deliver,
        authenticator=DevPasswordAuthenticator([user]),
        secure_cookies=False,
    )
