"""``govlink keys init|rotate|maintain|list|jwks``: the city identity provider's key ring."""

from __future__ import annotations

import argparse
import json

from ..identity import DEV_PASSPHRASE_FILE, SIGNING_ALGORITHMS, CityIdentity, open_city_identity
from ._args import add_group
from ._context import CliContext

__all__ = ["register"]

_ALG_CHOICES = (*SIGNING_ALGORITHMS, "Ed25519")


def _open(ctx: CliContext, *, dev: bool = False, create: bool = False) -> CityIdentity:
    ctx.note_development_default()
    return open_city_identity(
        ctx.settings, ctx.store(), clock=ctx.clock, dev=dev, create_dev_passphrase=create
    )


def _init(ctx: CliContext) -> int:
    city = _open(ctx, dev=ctx.args.dev, create=True)
    created = city.keys.init(ctx.args.alg or ["ES256"])
    now = ctx.clock.time()
    rows = [k.describe(now) for k in created]
    if city.development:
        ctx.err.print(
            "[yellow]DEVELOPMENT key store: private keys are encrypted with a generated "
            f"passphrase kept in {ctx.settings.home / DEV_PASSPHRASE_FILE}; set "
            "GOVLINK_KEY_PASSPHRASE for production[/yellow]"
        )
    human = "\n".join(f"created {r['kid']} ({r['alg']}, {r['state']})" for r in rows)
    ctx.emit({"keys": rows, "development": city.development}, human)
    return 0


def _rotate(ctx: CliContext) -> int:
    city = _open(ctx)
    key = city.keys.rotate(ctx.args.alg)
    row = key.describe(ctx.clock.time())
    ctx.emit(
        {"key": row},
        f"scheduled {row['kid']} ({row['alg']}): published now, signs from "
        f"{row['activate_at']:.0f} (one JWKS cache lifetime later)",
    )
    return 0


def _maintain(ctx: CliContext) -> int:
    city = _open(ctx)
    created = city.keys.maintain()
    now = ctx.clock.time()
    rows = [k.describe(now) for k in created]
    human = "\n".join(f"scheduled {r['kid']} ({r['alg']})" for r in rows) or "no rotation due"
    ctx.emit({"created": rows}, human)
    return 0


def _list(ctx: CliContext) -> int:
    city = _open(ctx)
    now = ctx.clock.time()
    rows = [k.describe(now) for k in city.keys.list_keys()]
    human = "\n".join(f"{r['kid']}  {r['alg']:<6} {r['state']}" for r in rows) or "no keys"
    ctx.emit({"keys": rows}, human)
    return 0


def _jwks(ctx: CliContext) -> int:
    city = _open(ctx)
    jwks = city.keys.jwks()
    ctx.emit(jwks, json.dumps(jwks, indent=2))
    return 0


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    sub = add_group(
        commands,
        common,
        "keys",
        help="manage the identity provider's signing keys",
        description="Signing keys: init, rotate, maintain (scheduled rollover), list, jwks.",
    )
    init = sub.add_parser("init", parents=[common], help="create the first signing keys")
    init.add_argument(
        "--alg", action="append", choices=_ALG_CHOICES, help="algorithm (repeatable; ES256)"
    )
    init.add_argument(
        "--dev",
        action="store_true",
        help="this is a development store: without GOVLINK_KEY_PASSPHRASE, generate one",
    )
    init.set_defaults(func=_init)
    rotate = sub.add_parser("rotate", parents=[common], help="schedule the next key")
    rotate.add_argument("--alg", choices=_ALG_CHOICES, help="algorithm to rotate")
    rotate.set_defaults(func=_rotate)
    maintain = sub.add_parser(
        "maintain", parents=[common], help="scheduled rollover: rotate what is due (daily job)"
    )
    maintain.set_defaults(func=_maintain)
    listing = sub.add_parser("list", parents=[common], help="list keys and their states")
    listing.set_defaults(func=_list)
    jwks = sub.add_parser("jwks", parents=[common], help="print the public JWKS")
    jwks.set_defaults(func=_jwks)
