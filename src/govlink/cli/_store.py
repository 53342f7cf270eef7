"""``govlink store migrate`` and the outbox's retention: ``govlink outbox archive / purge``.

* ``store migrate``: bring every component's tables (identity, sync, catalog) up to date. Safe
  to run from several processes at once (migrations are serialised: SQLite's write lock,
  PostgreSQL's advisory lock); a store newer than this govlink is refused (exit 1).
* ``outbox archive --to DIR [--older-than 90d]``: export acknowledged entries and journal
  records older than the retention period to one gzip NDJSON file in DIR, then purge them.
* ``outbox archive --check DIR``: verify the evidence journal from record 1 through every
  archive in DIR into the store (exit 1 naming the first broken record).
* ``outbox purge [--older-than 90d]``: purge without archiving (the store keeps the anchor, so
  the remaining chain still verifies; the purged part can no longer be proven).

Durations: a number with ``s``, ``m``, ``h`` or ``d`` (``90d``, ``36h``); plain numbers are
seconds. Exit codes: 0 done; 1 failed (a store error, a broken journal); 2 usage.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._errors import ConfigError
from ..identity import IDENTITY_SCHEMA
from ..sync import CATALOG_SCHEMA, SYNC_SCHEMA, Outbox, read_archive, verify_journal
from ._context import CliContext

__all__ = ["parse_duration", "register"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_duration(text: str) -> float:
    """``"90d"`` → seconds. Raises :class:`argparse.ArgumentTypeError` (a usage error)."""
    match = _DURATION.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"--older-than {text!r}: expected a positive duration such as 90d, 36h or 3600"
        )
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def run_migrate(ctx: CliContext) -> int:
    store = ctx.store()
    versions = store.migrate(IDENTITY_SCHEMA, SYNC_SCHEMA, CATALOG_SCHEMA)
    ctx.emit(
        {"store": repr(store), "versions": versions},
        "store up to date: " + ", ".join(f"{c} v{v}" for c, v in versions.items()),
    )
    return 0


def _outbox(ctx: CliContext) -> Outbox:
    older: float | None = getattr(ctx.args, "older_than", None)
    options: dict[str, Any] = {} if older is None else {"retention_seconds": older}
    return Outbox(ctx.store(), clock=ctx.clock, **options)


def _archived_journal(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.glob("outbox-*.ndjson.gz")):
        for line in read_archive(path):
            if line.get("kind") == "journal":
                yield line


def run_archive(ctx: CliContext) -> int:
    check: str | None = ctx.args.check
    if check is not None:
        folder = Path(check)
        if not folder.is_dir():
            raise ConfigError(f"--check {check!r}: not a folder")
        _outbox(ctx)  # the tables exist
        # Archives sort by their time stamp; their records must run on without a gap.
        records = sorted(_archived_journal(folder), key=lambda r: int(r["n"]))
        verified = verify_journal(ctx.store(), archived=iter(records))
        ctx.emit(
            {**verified.to_dict(), "archives": str(folder)},
            f"journal intact from record 1 through the archives: {verified.records} "
            f"record(s); head hash {verified.head_hash}",
        )
        return 0
    if ctx.args.to is None:
        raise ConfigError("outbox archive: name the folder (--to DIR), or --check DIR")
    report = _outbox(ctx).retain(Path(ctx.args.to))
    where = report.archive if report.archive is not None else "nothing old enough"
    ctx.emit(
        report.to_dict(),
        f"archived and purged {report.entries} entries and {report.journal} journal "
        f"record(s): {where}",
    )
    return 0


def run_purge(ctx: CliContext) -> int:
    report = _outbox(ctx).retain(None)
    ctx.emit(
        report.to_dict(),
        f"purged {report.entries} entries and {report.journal} journal record(s) (not archived)",
    )
    return 0


def _subcommands(parser: argparse.ArgumentParser) -> Any:
    # The ``outbox`` group belongs to cli/_outbox.py; retention adds its commands to it
    # (argparse offers no public way to reach a parser's subcommand action).
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    store = commands.add_parser(
        "store",
        parents=[common],
        help="the store: bring its tables up to date",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = store.add_subparsers(dest="store_command", metavar="SUBCOMMAND", required=True)
    sub.add_parser(
        "migrate", parents=[common], help="apply missing migrations (safe from many processes)"
    ).set_defaults(func=run_migrate)

    outbox = commands.choices.get("outbox")
    if outbox is None:
        return
    osub = _subcommands(outbox)
    older = argparse.ArgumentParser(add_help=False)
    older.add_argument(
        "--older-than",
        type=parse_duration,
        default=None,
        metavar="DURATION",
        help="retention period (default 90d): acknowledged entries older than this go",
    )
    archive = osub.add_parser(
        "archive",
        parents=[common, older],
        help="export old acknowledged entries and journal records (gzip NDJSON), then purge",
    )
    archive.add_argument("--to", metavar="DIR", help="folder for the archive file")
    archive.add_argument(
        "--check", metavar="DIR", help="verify the journal through the archives in DIR"
    )
    archive.set_defaults(func=run_archive)
    osub.add_parser(
        "purge",
        parents=[common, older],
        help="purge old acknowledged entries and journal records without archiving",
    ).set_defaults(func=run_purge)
