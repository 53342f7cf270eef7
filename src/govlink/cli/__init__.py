"""The ``govlink`` command.

Contract (ops scripts depend on it): every command has ``--help``; ``--json`` where it prints
results; exit 0 on success, 1 when the thing checked is invalid or failed, 2 on usage or
configuration errors; one clear line on stderr for an error, never a traceback (an unexpected
error is one line too; ``GOVLINK_DEBUG=1`` prints its traceback).

Each command group lives in its own module here and exposes ``register(commands, common)``
(groups are added with ``_args.add_group``); the parser is assembled from
:data:`COMMAND_MODULES`. Every input file is read by ``_input.JsonInput``, which adds one branch
to the error tree::

    ValidationError
    └── InputFileError        invalid_input_file   (exit 1: empty, binary, not JSON, too deep,
                                                    numbers out of range, wrong encoding)

Codes that only the command prints (no exception class): ``internal_error`` (an unexpected
exception, exit 1; ``GOVLINK_DEBUG=1`` prints its traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from .._errors import ConfigError, GovlinkError
from ._context import CliContext as _CliContext

__all__ = [
    "COMMAND_MODULES",
    "DEBUG_ENV",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "main",
    "run",
]

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
    "config",
    "store",
)

#: The exit codes of the contract: success, invalid or failed, usage or configuration.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

#: Set (to anything) to print the traceback of an unexpected error.
DEBUG_ENV = "GOVLINK_DEBUG"


def _common_options() -> argparse.ArgumentParser:
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
    common = _common_options()
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
    """Run ``govlink``; returns the exit code (the console script exits with it).

    Whatever happens, the answer is an exit code and at most one line on stderr: argparse
    exits 2 on bad arguments; :class:`ConfigError` is 2; other :class:`GovlinkError` 1; an
    ``OSError`` (a path or port the system refuses) 2; anything else is a bug, reported in one
    line with the hint to rerun with ``GOVLINK_DEBUG=1`` for the traceback, and exits 1.
    """
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 with a usage line on bad arguments
    ctx = _CliContext(args)
    try:
        if getattr(args, "loads_settings", True):
            # Every command reads the settings first: a broken govlink.toml, a missing
            # GOVLINK_CONFIG file or bad JSON in an environment variable stops it (exit 2),
            # whether or not this command needs the setting.
            ctx.settings  # noqa: B018 - loading is the point
        code: int = args.func(ctx)
    except ConfigError as exc:
        _say(ctx, exc.code, exc.message)
        code = EXIT_USAGE
    except GovlinkError as exc:
        if ctx.json:
            ctx.emit({"error": exc.to_dict()})
        _say(ctx, exc.code, exc.message)
        code = EXIT_FAILED
    except KeyboardInterrupt:
        ctx.err.print("govlink: interrupted")
        code = 130
    except OSError as exc:
        # A file, folder or port the system refuses (a file where a folder is needed, no
        # permission, an address in use): the environment to fix, so a configuration error.
        where = f"{exc.filename}: " if exc.filename else ""
        _say(ctx, ConfigError.code, f"{where}{exc.strerror or exc}")
        code = EXIT_USAGE
    except Exception as exc:  # last resort: a bug, still one line and no traceback
        code = _unexpected(ctx, exc)
    finally:
        try:
            ctx.close()
        except Exception as exc:  # closing must not turn a result into a traceback
            _say(ctx, "close_failed", f"{type(exc).__name__} while closing the store")
    return code


def _say(ctx: _CliContext, code: str, message: str) -> None:
    line = " ".join(message.split())  # one line, whatever the message held
    ctx.err.print(f"govlink: error[{code}]: {line}", markup=False)


def _unexpected(ctx: _CliContext, exc: BaseException) -> int:
    from ..sync.adapter import mask_text

    if os.environ.get(DEBUG_ENV):
        traceback.print_exception(exc)
    detail = mask_text(str(exc))[:200]
    _say(
        ctx,
        "internal_error",
        f"unexpected {type(exc).__name__}: {detail} (a govlink bug: rerun with "
        f"{DEBUG_ENV}=1 for the traceback and report it)",
    )
    return EXIT_FAILED


def run() -> None:  # pragma: no cover - console-script shim
    sys.exit(main())
