"""`govlink idp serve` signs people in with the provincial platform its settings name: the
platform's keys are fetched from its JWKS URL (a real loopback HTTP server here), and a ticket
it signed opens an SSO session at /authorize."""

from __future__ import annotations

import asyncio
import http.server
import json
import secrets
import threading
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from identity_helpers import ISSUER, craft
from joserfc.jwk import OKPKey

from govlink import ConfigError, Settings, VirtualClock
from govlink._http import httpx
from govlink.cli._idp import provincial_sign_in
from govlink.identity import (
    CityIdentity,
    ClientSecrets,
    HallRegistry,
    Issuer,
    KeyRing,
    RemoteJWKS,
    create_provider_app,
)
from govlink.store import Store

PROVINCE = "https://sso.shandong.example"


@pytest.fixture
def province_key() -> OKPKey:
    return OKPKey.generate_key("Ed25519", auto_kid=True)


@pytest.fixture
def jwks_url(province_key: OKPKey) -> Iterator[str]:
    body = json.dumps({"keys": [province_key.as_dict(private=False)]}).encode()

    class JWKS(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), JWKS)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks"
    finally:
        server.shutdown()
        server.server_close()


def test_nothing_configured_means_no_provincial_sign_in(
    sqlite_store: Store, virtual_clock: VirtualClock
) -> None:
    assert provincial_sign_in(Settings(), sqlite_store, virtual_clock) == []


def test_issuer_and_jwks_url_go_together(sqlite_store: Store, virtual_clock: VirtualClock) -> None:
    with pytest.raises(ConfigError, match="go together"):
        provincial_sign_in(Settings(province_identity_issuer=PROVINCE), sqlite_store, virtual_clock)
    with pytest.raises(ConfigError, match="go together"):
        provincial_sign_in(
            Settings(province_identity_jwks_url="https://x.example/jwks"),
            sqlite_store,
            virtual_clock,
        )


def test_audience_defaults_to_the_city_issuer(
    sqlite_store: Store, virtual_clock: VirtualClock
) -> None:
    settings = Settings(
        province_identity_issuer=PROVINCE, province_identity_jwks_url="https://x.example/jwks"
    )
    (mapping,) = provincial_sign_in(settings, sqlite_store, virtual_clock)
    assert (mapping.issuer, mapping.audience) == (PROVINCE, settings.identity_issuer)
    assert isinstance(mapping.keys, RemoteJWKS)
    assert mapping.keys.url == "https://x.example/jwks"


@pytest.mark.server
def test_a_ticket_of_the_configured_platform_signs_in(
    ring: KeyRing,
    halls: HallRegistry,
    issuer: Issuer,
    sqlite_store: Store,
    virtual_clock: VirtualClock,
    province_key: OKPKey,
    jwks_url: str,
) -> None:
    settings = Settings(
        identity_issuer=ISSUER,
        province_identity_issuer=PROVINCE,
        province_identity_jwks_url=jwks_url,
        province_identity_audience="city-370500",
    )
    provinces = provincial_sign_in(settings, sqlite_store, virtual_clock)
    hall = next(iter(halls))
    plain = {c.client_id: secrets.token_urlsafe(16) for c in halls}
    app = create_provider_app(
        CityIdentity(ring, halls, issuer, development=False),
        client_secrets=ClientSecrets.from_config(plain),
        provinces=provinces,
    )
    now = int(virtual_clock.time())
    claims = {
        "iss": PROVINCE, "sub": "sd-0001", "aud": "city-370500", "iat": now, "exp": now + 120,
        "jti": uuid.uuid4().hex, "acr": "4", "user_type": "1",
    }  # fmt: skip
    ticket = craft({"alg": "EdDSA", "kid": province_key.kid, "typ": "JWT"}, claims,
                   province_key.private_key)  # fmt: skip
    query = {
        "response_type": "code", "client_id": hall.client_id,
        "redirect_uri": hall.redirect_uris[0], "scope": "openid", "state": "s",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256", "ticket": ticket,
    }  # fmt: skip

    async def main() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as client:
            return await client.get("/authorize", params=query)

    response = asyncio.run(main())
    assert response.status_code == 303, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == hall.redirect_uris[0]
    params = parse_qs(location.query)
    assert params["state"] == ["s"]
    assert params["code"][0]
