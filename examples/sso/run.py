"""Single sign-on you can see: the mock province (with its identity platform), the city identity
provider and two hall apps, each on a free loopback port.

    python examples/sso/run.py            # prints the URLs; Ctrl-C stops everything

Open the city hall's URL, sign in as one of the test people on the province's sign-in page,
then open the county hall: you are signed in there without signing in again. Sign out at
either hall and both show you signed out (each received the provider's back-channel logout).

Everything is built in-process from govlink's public API: the mock province
(:class:`govlink.testing.MockProvince`, its identity face at ``/identity``), the provider
(:func:`govlink.identity.create_provider_app`, its store and keys in a temporary directory,
loopback redirect URIs registered for the two halls) and the halls (``hall.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount

sys.path.insert(0, str(Path(__file__).resolve().parent))  # hall.py sits beside this script
from hall import HallConfig, create_hall_app

from govlink.domain import default_regions
from govlink.identity import (
    CityIdentity,
    ClientSecrets,
    HallClient,
    HallRegistry,
    Issuer,
    KeyRing,
    PassphraseProtector,
    RemoteJWKS,
    create_provider_app,
)
from govlink.store import SQLiteStore
from govlink.testing import IdentityApp, IdentityPlatform, IdentityPlatformConfig, MockProvince

CITY_HALL, COUNTY_HALL = "370500", "370502"


@dataclass
class SsoDemo:
    """Where everything listens."""

    province_url: str
    identity_url: str
    idp_url: str
    city_hall_url: str
    county_hall_url: str
    platform: IdentityPlatform

    def lines(self) -> list[str]:
        return [
            f"mock province             {self.province_url}",
            f"  identity platform       {self.identity_url}/login  (JWKS {self.identity_url}/jwks)",
            f"city identity provider    {self.idp_url}  (discovery "
            f"{self.idp_url}/.well-known/openid-configuration)",
            f"city hall {CITY_HALL}         {self.city_hall_url}/",
            f"county hall {COUNTY_HALL}       {self.county_hall_url}/",
        ]


def _socket(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


@contextlib.contextmanager
def _serve(app: Any, sock: socket.socket, name: str) -> Iterator[None]:
    import uvicorn

    config = uvicorn.Config(app, lifespan="off", access_log=False, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    waited = threading.Event()
    for _ in range(1000):
        if server.started or not thread.is_alive():
            break
        waited.wait(0.01)
    if not server.started:
        raise RuntimeError(f"{name} did not start")
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _hall_client(code: str, url: str) -> HallClient:
    return HallClient(
        client_id=f"hall-{code}",
        hall_code=code,
        name=default_regions().get(code).name,
        audience=f"hall-{code}",
        redirect_uris=(f"{url}/callback",),
        backchannel_logout_uri=f"{url}/backchannel-logout",
        extra={"post_logout_redirect_uris": [f"{url}/"]},
    )


@contextlib.contextmanager
def start_sso_demo(host: str = "127.0.0.1", home: Path | None = None) -> Iterator[SsoDemo]:
    """Start the four servers; yields their URLs; stops them on exit."""
    socks = [_socket(host) for _ in range(4)]
    province_url, idp_url, city_url, county_url = (
        f"http://{host}:{s.getsockname()[1]}" for s in socks
    )
    identity_url = f"{province_url}/identity"
    with contextlib.ExitStack() as stack:
        if home is None:
            home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="govlink-sso-")))
        # The province: the mock platform with its identity face at /identity. Its tickets are
        # addressed to the city identity provider (aud = the provider's issuer).
        app_at_province = IdentityApp(
            "dongying-city-idp", secrets.token_urlsafe(16), idp_url, frozenset({host})
        )
        platform = IdentityPlatform(
            config=IdentityPlatformConfig(
                issuer=identity_url,
                apps={app_at_province.app_id: app_at_province},
                default_app=app_at_province.app_id,
            ),
            base_url=identity_url,
        )
        province = Starlette(
            routes=[Mount("/identity", app=platform.app), Mount("/", app=MockProvince().app)]
        )
        # The city identity provider, built from the library.
        store = stack.enter_context(contextlib.closing(SQLiteStore(home / "idp.db")))
        keys = KeyRing(store, PassphraseProtector(secrets.token_urlsafe(24)))
        keys.init(["ES256"])
        halls = HallRegistry(
            [_hall_client(CITY_HALL, city_url), _hall_client(COUNTY_HALL, county_url)]
        )
        issuer = Issuer(issuer=idp_url, keys=keys, halls=halls, store=store)
        client_secrets, plain = ClientSecrets.generate(c.client_id for c in halls)
        province_keys = RemoteJWKS(f"{identity_url}/jwks", store=store)
        provider = create_provider_app(
            CityIdentity(keys, halls, issuer, development=True),
            client_secrets=client_secrets,
            provinces=[platform.provincial_mapping(province_keys, audience=idp_url)],
            secure_cookies=False,  # plain http on loopback
        )
        # The two halls.
        peers = {f"city hall {CITY_HALL}": city_url, f"county hall {COUNTY_HALL}": county_url}
        hall_apps = []
        for code, url, title in (
            (CITY_HALL, city_url, "东营市政务服务中心 · city hall"),
            (COUNTY_HALL, county_url, "东营区政务服务中心 · county hall"),
        ):
            config = HallConfig(
                hall_code=code,
                title=title,
                client_id=f"hall-{code}",
                client_secret=plain[f"hall-{code}"],
                public_url=url,
                idp_url=idp_url,
                province_login_url=f"{identity_url}/login",
                province_app_id=app_at_province.app_id,
                peers={k: v for k, v in peers.items() if v != url},
            )
            hall_apps.append(create_hall_app(config))
        for app, sock, name in zip(
            (province, provider, *hall_apps),
            socks,
            ("mock-province", "identity-provider", "city-hall", "county-hall"),
            strict=True,
        ):
            stack.enter_context(_serve(app, sock, name))
        yield SsoDemo(province_url, identity_url, idp_url, city_url, county_url, platform)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (127.0.0.1)")
    args = parser.parse_args(argv)
    with start_sso_demo(args.host) as demo:
        print("\n".join(demo.lines()))
        print(f"\nOpen {demo.city_hall_url}/ in a browser. Ctrl-C stops everything.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
