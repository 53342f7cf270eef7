"""The ``govlink`` command.

Contract (ops scripts depend on it): every command has ``--help``; ``--json`` where it prints
results; exit 0 on success, 1 when the thing checked is invalid or failed, 2 on usage or
configuration errors; one clear line on stderr for an error, never a traceback for bad input.

Each command group lives in its own module here and exposes ``register(commands, common)``;
the parser is assembled from :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .._errors import ConfigError, GovlinkError
from ._context import CliContext

__all__ = ["COMMAND_MODULES", "build_parser", "main"]

#: Command-group modules (``govlink.cli._<name>``), in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "demo",
    "schemas",
    "keys",
    "token",
    "idp",
    "supervise",
    "mock",
    "sync",
    "outbox",
    "store",
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand accepts (``govlink keys list --json`` as well as before it)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--store",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="store URL (sqlite:///path or postgresql://...); env GOVLINK_STORE",
    )
    common.add_argument(
        "--home",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="working directory for state; env GOVLINK_HOME (default ./.govlink)",
    )
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="machine-readable output",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = argparse.ArgumentParser(
        prog="govlink",
        description="One network (一张网) for a city's government service halls.",
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"govlink.cli._{name}")
        module.register(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``govlink``; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 with a usage line on bad arguments
    ctx = CliContext(args)
    try:
        code: int = args.func(ctx)
    except ConfigError as exc:
        ctx.err.print(f"govlink: error[{exc.code}]: {exc.message}", markup=False)
        code = EXIT_USAGE
    except GovlinkError as exc:
        if ctx.json:
            ctx.emit({"error": exc.to_dict()})
        ctx.err.print(f"govlink: error[{exc.code}]: {exc.message}", markup=False)
        code = EXIT_FAILED
    except KeyboardInterrupt:
        ctx.err.print("govlink: interrupted")
        code = 130
    finally:
        ctx.close()
    return code


def run() -> None:  # pragma: no cover - console-script shim
    sys.exit(main())
