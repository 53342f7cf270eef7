"""Building the parser: one helper per command group, and checked types for numeric flags.

A bad number on the command line is a usage error: argparse prints one usage line naming the
flag and exits 2 (``--concurrency 0``, ``--rate-limit nan``, ``--port 99999``), before any
command runs.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

__all__ = [
    "MAX_COUNT",
    "Subcommands",
    "add_group",
    "finite_float",
    "fixed_port",
    "non_negative_float",
    "non_negative_int",
    "port",
    "positive_float",
    "positive_int",
]

Subcommands = argparse._SubParsersAction  # the type argparse returns from add_subparsers


def add_group(
    commands: Subcommands[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    name: str,
    *,
    help: str,
    description: str | None = None,
    raw_description: bool = False,
) -> Subcommands[argparse.ArgumentParser]:
    """Add the command group ``govlink NAME ACTION``; returns its actions to add to.

    Every group takes the common options before and after its action, and requires one.
    """
    parser = commands.add_parser(
        name,
        parents=[common],
        help=help,
        description=description or help,
        formatter_class=(
            argparse.RawDescriptionHelpFormatter if raw_description else argparse.HelpFormatter
        ),
    )
    return parser.add_subparsers(
        dest=f"{name.replace('-', '_')}_command", metavar="ACTION", required=True
    )


_T = TypeVar("_T", int, float)


def _number(kind: Callable[[str], _T], what: str, ok: Callable[[_T], bool]) -> Callable[[str], _T]:
    def parse(text: str) -> _T:
        try:
            value = kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    parse.__name__ = what  # argparse names the type in "invalid ... value" messages
    return parse


def _int(text: str) -> int:
    return int(text, 10)


#: The largest count a flag takes: beyond it, C code (sockets, SQLite) would overflow.
MAX_COUNT = 2**31 - 1

#: A whole number 1..2**31-1 (``--concurrency``, ``--batch-size``, ``--burst``).
positive_int = _number(_int, f"a whole number 1..{MAX_COUNT}", lambda v: 1 <= v <= MAX_COUNT)
#: A whole number 0..2**31-1.
non_negative_int = _number(_int, f"a whole number 0..{MAX_COUNT}", lambda v: 0 <= v <= MAX_COUNT)
#: A finite number > 0 (``--rate-limit``, ``--lease``): NaN, inf and 0 are refused.
positive_float = _number(float, "a finite number > 0", lambda v: math.isfinite(v) and v > 0)
#: A finite number ≥ 0 (``--reconcile-every``: 0 means every run).
non_negative_float = _number(float, "a finite number ≥ 0", lambda v: math.isfinite(v) and v >= 0)
#: Any finite number.
finite_float = _number(float, "a finite number", math.isfinite)
#: A TCP port, 0 (any free port) to 65535.
port = _number(_int, "a port (0-65535)", lambda v: 0 <= v <= 65535)
#: A fixed TCP port, 1 to 65535 (a server whose URL is its identity cannot take "any port").
fixed_port = _number(_int, "a port (1-65535)", lambda v: 1 <= v <= 65535)
