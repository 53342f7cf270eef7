"""Token endpoint throughput: `govlink idp serve` under load, per CPU second the server used.

One process serves (`python -m govlink idp serve`, uvicorn, one worker, the store given — a
SQLite file by default); this process loads it over loopback with an async httpx client,
``--concurrency`` keep-alive connections, for ``--seconds`` per grant:

* ``client_credentials`` — client_secret_basic, a signed access token per request;
* ``refresh_token`` — every request rotates a refresh token (the old one spent, the new one
  stored, in one store transaction): each connection walks its own refresh chain.

The server's CPU time (user + system, from ``/proc/<pid>/stat``, so Linux only) is read before
and after each run, and the figure reported is **requests per server CPU second** — what one
core would serve — beside published sizing: Keycloak about 120 client-credential grants/s per
vCPU, Cloudentity about 1,200. Targets: client_credentials >= 1,000, refresh >= 500.

    .venv/bin/python bench/bench_token_endpoint.py                   # SQLite, 10 s per grant
    .venv/bin/python bench/bench_token_endpoint.py --quick           # 3 s per grant
    .venv/bin/python bench/bench_token_endpoint.py --store postgresql://postgres@127.0.0.1/db
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from govlink._http import httpx

CLIENT, SECRET = "hall-370502", "bench-secret-0123456789"
PASSPHRASE = "bench passphrase"  # noqa: S105 - a throwaway benchmark store
PROVIDER_FILE = """
[[halls]]
client_id = "hall-370502"
hall_code = "370502"
redirect_uris = ["https://370502.hall.example/callback"]
grant_types = ["authorization_code", "refresh_token", "client_credentials"]
scopes = ["openid", "cases:read", "cases:write"]
"""
KEYCLOAK, CLOUDENTITY = 120, 1200
TARGETS = {"client_credentials": 1000, "refresh_token": 500}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def seed_refresh_tokens(store_url: str, home: Path, count: int) -> list[str]:
    """Sign ``count`` people in through the library on the server's store: one refresh chain
    per connection."""
    from govlink.domain import ResidentId
    from govlink.identity import HallRegistry, Issuer, KeyRing, PassphraseProtector, PersonSubject
    from govlink.identity._config import load_provider_config
    from govlink.store import open_store

    store = open_store(store_url)
    try:
        ring = KeyRing(store, PassphraseProtector(PASSPHRASE))
        halls: HallRegistry = load_provider_config(home / "idp.toml").halls
        issuer = Issuer(issuer="http://bench.invalid", keys=ring, halls=halls, store=store)
        person = PersonSubject(ResidentId("11010519491231002X"))
        tokens = []
        for _ in range(count):
            signed = issuer.sign_in(person, client=CLIENT, acr=3, scope="openid cases:read")
            assert signed.tokens.refresh_token is not None
            tokens.append(signed.tokens.refresh_token)
        return tokens
    finally:
        store.close()


async def load(
    url: str, grant: str, seconds: float, concurrency: int, refresh: list[str]
) -> tuple[int, int]:
    """Requests answered 200 and other answers, over ``seconds``."""
    auth = "Basic " + base64.b64encode(f"{CLIENT}:{SECRET}".encode()).decode()
    headers = {"Authorization": auth}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    ok = failed = 0
    stop = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker(index: int) -> None:
            nonlocal ok, failed
            token = refresh[index] if refresh else ""
            while time.perf_counter() < stop:
                if grant == "client_credentials":
                    data = {"grant_type": "client_credentials", "scope": "cases:read"}
                else:
                    data = {"grant_type": "refresh_token", "refresh_token": token}
                response = await client.post("/token", data=data, headers=headers)
                if response.status_code == 200:
                    ok += 1
                    if grant == "refresh_token":
                        token = response.json()["refresh_token"]
                else:
                    failed += 1

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return ok, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="store URL (default: a SQLite file in a temp home)")
    parser.add_argument("--seconds", type=float, default=10.0, help="load per grant (10)")
    parser.add_argument("--concurrency", type=int, default=16, help="connections (16)")
    parser.add_argument("--quick", action="store_true", help="3 s per grant")
    args = parser.parse_args()
    seconds = 3.0 if args.quick else args.seconds
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "idp.toml").write_text(PROVIDER_FILE, "utf-8")
        store_url = args.store or f"sqlite:///{home / 'govlink.db'}"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLINK_")}
        env.update(
            GOVLINK_HOME=str(home),
            GOVLINK_STORE=store_url,
            GOVLINK_KEY_PASSPHRASE=PASSPHRASE,
            GOVLINK_IDENTITY_ISSUER=url,
            GOVLINK_IDP_CLIENTS_FILE=str(home / "idp.toml"),
            GOVLINK_IDP_CLIENT_SECRETS=json.dumps({CLIENT: SECRET}),
        )
        govlink = [sys.executable, "-m", "govlink"]
        subprocess.run(  # noqa: S603 - our own interpreter and module
            [*govlink, "keys", "init", "--alg", "ES256"], env=env, check=True, capture_output=True
        )
        server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*govlink, "idp", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/jwks", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    print(server.communicate()[1].decode(), file=sys.stderr)
                    return 1
                time.sleep(0.2)
            refresh = seed_refresh_tokens(store_url, home, args.concurrency)
            asyncio.run(load(url, "client_credentials", 1.0, args.concurrency, []))  # warm up
            print(
                f"store {store_url.split('@')[-1].split('?')[0]}, {args.concurrency} "
                f"keep-alive connections, {seconds:.0f} s per grant, one uvicorn worker"
            )
            print(
                f"{'grant':20} {'req/s':>8} {'server CPU s':>13} {'req/CPU s':>10} "
                f"{'target':>7}  vs Keycloak {KEYCLOAK}/vCPU, Cloudentity {CLOUDENTITY}"
            )
            for grant in ("client_credentials", "refresh_token"):
                cpu0, wall0 = cpu_seconds(server.pid), time.perf_counter()
                ok, failed = asyncio.run(load(url, grant, seconds, args.concurrency, refresh))
                cpu = cpu_seconds(server.pid) - cpu0
                wall = time.perf_counter() - wall0
                per_cpu = ok / cpu if cpu else 0.0
                print(
                    f"{grant:20} {ok / wall:8.0f} {cpu:13.2f} {per_cpu:10.0f} "
                    f"{TARGETS[grant]:7d}  x{per_cpu / KEYCLOAK:.1f} Keycloak, "
                    f"x{per_cpu / CLOUDENTITY:.2f} Cloudentity"
                    + (f"  ({failed} refused!)" if failed else "")
                )
        finally:
            server.terminate()
            server.communicate(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
