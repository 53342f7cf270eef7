"""``govlink mock-province serve|openapi``: the mock provincial platform over HTTP.

``serve`` runs :class:`govlink.testing.MockProvince` with uvicorn (``govlink[server]``) for
integrators in any language. With no options: the reference and gateway APIs on
http://127.0.0.1:8000, no faults, development credentials; it says so on stderr.
``openapi`` prints an API's OpenAPI document (``--api reference|gateway``).
Ctrl-C or SIGTERM stops the server (requests in flight get a few seconds) and exits 0.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
from types import FrameType

from .._errors import ConfigError, ValidationError
from ._args import port, positive_float, positive_int
from ._context import CliContext

__all__ = ["register"]

#: The APIs served by default; ``--adapter`` may name any face of ``BUILTIN_FACES``
#: (checked when serving, so a face added there needs no change here).
_DEFAULT_APIS = ("reference", "gateway", "identity")


class _Stop(Exception):
    """SIGTERM arrived: uvicorn has shut down and re-raised the signal to us."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _serve(ctx: CliContext) -> int:
    from ..testing import (
        BUILTIN_FACES,
        FaultPlan,
        MockProvince,
        ProvinceConfig,
        identity_face,
        make_server,
        served_directory,
    )

    args = ctx.args
    apis = tuple(dict.fromkeys(args.adapters or _DEFAULT_APIS))
    try:
        plan = FaultPlan.parse(args.faults, seed=args.seed)
    except ValidationError as exc:
        raise ConfigError(f"--faults: {exc.message}") from None
    if args.rate_limit is not None and args.rate_limit <= 0:
        raise ConfigError("--rate-limit must be positive (--no-rate-limit turns the quota off)")
    config = ProvinceConfig(
        rate_limit=None if args.no_rate_limit else (args.rate_limit or 200.0),
        burst=args.burst,
        capture_bodies=args.capture_bodies,
        apis=apis,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    port = sock.getsockname()[1]
    base = f"http://{args.host}:{port}"
    unknown = [api for api in apis if api not in BUILTIN_FACES]
    if unknown:
        sock.close()
        raise ConfigError(
            f"--adapter: unknown mock province API {unknown[0]!r}; known: "
            + ", ".join(BUILTIN_FACES)
        )
    # The identity face names the served URL in its tickets and sign-in page.
    faces = [identity_face(base) if api == "identity" else BUILTIN_FACES[api] for api in apis]
    province = MockProvince(config=config, faults=plan, faces=faces)
    directory = served_directory(apis, base)
    served = {
        "base_url": base,
        "apis": list(apis),
        "faults": plan.to_spec(),
        "seed": plan.seed,
        "rate_limit": config.rate_limit,
        "openapi": f"{base}/openapi.json",
        "admin": f"{base}/admin/state",
    }
    served.update(directory)
    if ctx.json:
        ctx.emit(served)
    else:
        lines = [f"mock province listening on {base} (Ctrl-C to stop)"]
        for api, entries in directory.items():
            lines.append(f"  {api} API:")
            lines.extend(f"    {what}: {value}" for what, value in entries.items())
        lines.append(
            f"  faults: {plan.to_spec()} (seed {plan.seed}); quota: "
            + (f"{config.rate_limit:g} requests/s" if config.rate_limit else "off")
        )
        lines.append(f"  OpenAPI {base}/openapi.json; state {base}/admin/state")
        ctx.out.print("\n".join(lines), markup=False)
    if not args.faults and not ctx.json:
        ctx.err.print(
            "[dim]note: development defaults (demo credentials, no faults); "
            "not for production[/dim]"
        )
    sys.stdout.flush()
    server = make_server(province, host=args.host, port=port, http=args.http)
    # uvicorn catches SIGINT/SIGTERM while it runs, shuts down, then re-raises the signal to
    # the handler that was there before: make that handler end the run quietly.
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        server.run(sockets=[sock])
    except (KeyboardInterrupt, _Stop):
        # A requested stop (Ctrl-C, SIGTERM) is success.
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()
    if not ctx.json:
        ctx.err.print("mock province stopped", markup=False)
    return 0


def _openapi(ctx: CliContext) -> int:
    from ..testing import openapi_documents

    documents = openapi_documents()
    if ctx.args.api not in documents:
        raise ConfigError(f"--api: no OpenAPI document for {ctx.args.api!r}; known: "
                          + ", ".join(documents))  # fmt: skip
    sys.stdout.write(documents[ctx.args.api])
    return 0


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    parser = commands.add_parser(
        "mock-province",
        parents=[common],
        help="the mock provincial platform (serve it over HTTP, print its OpenAPI)",
        description="The mock provincial platform, with faults on demand (docs/mock-province.md).",
    )
    actions = parser.add_subparsers(dest="mock_command", metavar="ACTION", required=True)
    serve = actions.add_parser(
        "serve",
        parents=[common],
        help="serve the mock province over HTTP (needs govlink[server])",
        description=(
            "Serve the mock provincial platform with uvicorn. With no options: the reference "
            "and gateway APIs on http://127.0.0.1:8000 with no faults and the development "
            "credentials."
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=port, default=8000, help="port (0: any free port)")
    serve.add_argument(
        "--adapter",
        dest="adapters",
        action="append",
        metavar="NAME",
        help="serve only this API (repeatable): reference, gateway; default both",
    )
    serve.add_argument(
        "--faults",
        metavar="SPEC",
        help="fault plan, e.g. 'outage:at=10s,for=4h,retry_after=60;error500:rate=0.05'",
    )
    serve.add_argument("--seed", type=int, default=0, help="seed of the fault plan (default 0)")
    serve.add_argument(
        "--rate-limit", type=positive_float, metavar="N", help="requests/s per client (default 200)"
    )
    serve.add_argument("--burst", type=positive_int, default=400, help="quota burst (default 400)")
    serve.add_argument("--no-rate-limit", action="store_true", help="turn the quota off")
    serve.add_argument(
        "--capture-bodies", action="store_true", help="keep request bodies in the journal"
    )
    serve.add_argument(
        "--http",
        choices=("auto", "h11", "httptools"),
        default="auto",
        help="uvicorn HTTP implementation (auto: httptools when installed)",
    )
    serve.set_defaults(func=_serve)
    openapi = actions.add_parser(
        "openapi",
        parents=[common],
        help="print an API's OpenAPI document (default: the reference API)",
        description="Print the OpenAPI document of one of the mock province's APIs.",
    )
    openapi.add_argument(
        "--api", default="reference", metavar="NAME", help="which API (default: reference)"
    )
    openapi.set_defaults(func=_openapi)
