"""``govlink sync catalog FILE [--reconcile | --reconcile-every SECONDS]``: enqueue changes.

FILE holds catalog items (``schemas/item.schema.json``) as a JSON array, as a JSON object with
an ``items`` array (the sample catalog file), or as NDJSON (one item per line). Every item is
validated on its own: invalid ones are reported with their index, field and rule and left out,
valid ones are compared with what was last enqueued and only new or changed items go into the
outbox (``govlink sync run`` delivers them). ``--reconcile`` also reads the platform's catalog
digest and re-sends every difference; ``--reconcile-every SECONDS`` does so only when the last
reconciliation is older than that (a scheduled job runs the command often and reconciles, say,
daily).

Exit codes: 0 every item valid; 1 some item invalid (the valid ones are still enqueued) or the
platform failed; 2 the file cannot be read or the settings are unusable.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from rich.markup import escape

from .._errors import FieldProblem, ValidationError
from ..domain import Item, parse_item
from ..sync import CatalogSync, Outbox
from ._args import non_negative_float
from ._context import CliContext
from ._input import JsonInput, add_encoding_option

__all__ = ["read_catalog_file", "register"]

_SHOWN = 20  # problems listed in the human output; --json lists them all


def read_catalog_file(
    path: Path, *, encoding: str | None = None
) -> tuple[list[Item], list[FieldProblem], set[str]]:
    """Valid items, one problem per broken rule of the invalid ones, and their codes.

    Problem fields are ``items[i].field`` (``i`` counts the records of the file); an NDJSON
    line that is not JSON is a problem of its own (``line N``). Consistency *warnings* never
    reject an item.

    Raises:
        ConfigError: the file cannot be opened.
        InputFileError: the file is not JSON/NDJSON of items at all (see :mod:`._input`).
    """
    items: list[Item] = []
    problems: list[FieldProblem] = []
    invalid_codes: set[str] = set()
    seen: dict[str, int] = {}
    index = -1
    for record in JsonInput(path, encoding=encoding).records(("items",)):
        if record.problem is not None:
            problems.append(record.problem)
            continue
        index += 1
        raw = record.value
        root = f"items[{index}]"
        try:
            item = parse_item(raw, root=root)
        except ValidationError as exc:
            problems.extend(exc.problems)
            code = raw.get("implementation_code") if isinstance(raw, dict) else None
            if isinstance(code, str):
                invalid_codes.add(code)
            continue
        first = seen.setdefault(item.implementation_code, index)
        if first != index:
            problems.append(
                FieldProblem(
                    f"{root}.implementation_code",
                    "duplicate",
                    f"implementation code already used by items[{first}]",
                )
            )
            continue
        items.append(item)
    return items, problems, invalid_codes


async def _reconcile(sync: CatalogSync, items: list[Item], adapter: Any) -> Any:
    try:
        return await sync.reconcile(items, adapter)
    finally:
        await adapter.aclose()


def run_sync_catalog(ctx: CliContext) -> int:
    """Read FILE, enqueue what changed, optionally reconcile; print the report."""
    path = Path(ctx.args.file)
    items, problems, invalid_codes = read_catalog_file(path, encoding=ctx.args.encoding)
    ctx.note_development_default()
    outbox = Outbox(ctx.store(), clock=ctx.clock)
    every = ctx.args.reconcile_every
    sync = CatalogSync(outbox, clock=ctx.clock, reconcile_interval=every)
    report = sync.push(items)
    gone = [c for c in report.gone_locally if c not in invalid_codes]
    reconciled = None
    if ctx.args.reconcile or (every is not None and sync.reconcile_due()):
        reconciled = asyncio.run(_reconcile(sync, items, ctx.adapter("--reconcile")))
    data: dict[str, Any] = {
        "file": str(path),
        "valid": len(items),
        "invalid": [p.to_dict() for p in problems],
        **report.to_dict(),
        "gone_locally": gone,
    }
    data.pop("changes")
    if reconciled is not None:
        data["reconcile"] = reconciled.to_dict()
    lines = [
        f"catalog {path.name}: {len(items)} valid item(s), {len(problems)} problem(s)",
    ]
    lines.extend(f"  ✗ {p.field}: {p.message} [{p.rule}]" for p in problems[:_SHOWN])
    if len(problems) > _SHOWN:
        lines.append(f"  ... and {len(problems) - _SHOWN} more (use --json for all)")
    changes = ", ".join(f"{kind} {n}" for kind, n in report.by_change.items()) or "none"
    lines.append(
        f"enqueued {len(report.changes)} change(s) ({changes}); {report.unchanged} unchanged"
    )
    if gone:
        lines.append(f"gone locally (reported, not deleted): {', '.join(gone)}")
    if reconciled is not None:
        lines.append(
            f"reconciled against the platform's {reconciled.platform_items} item(s): "
            f"{reconciled.matching} matching, {len(reconciled.resent)} re-sent, "
            f"{len(reconciled.in_flight)} already on their way"
        )
        if reconciled.gone_locally:
            lines.append(
                "platform holds items not in the local catalog: "
                + ", ".join(reconciled.gone_locally)
            )
    lines.append("deliver with: govlink sync run --until-empty")
    ctx.emit(data, escape("\n".join(lines)))
    return 1 if problems else 0


def register(
    sync_commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    """Add ``catalog`` to the ``sync`` command group."""
    parser = sync_commands.add_parser(
        "catalog",
        parents=[common],
        help="enqueue a catalog's new and changed items (JSON or NDJSON)",
        description=__doc__.split("\n\n", 1)[1].replace("``", "") if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="catalog items: JSON array/object or NDJSON")
    add_encoding_option(parser)
    when = parser.add_mutually_exclusive_group()
    when.add_argument(
        "--reconcile",
        action="store_true",
        help="also compare with the platform's catalog digest and re-send every difference",
    )
    when.add_argument(
        "--reconcile-every",
        type=non_negative_float,
        metavar="SECONDS",
        help="reconcile only when the last reconciliation is older than SECONDS",
    )
    existing = {a for action in parser._actions for a in action.option_strings}
    if "--province" not in existing:
        parser.add_argument(
            "--province", metavar="URL", help="platform base URL; env GOVLINK_PROVINCE_URL"
        )
    if "--adapter" not in existing:
        parser.add_argument("--adapter", metavar="NAME", help="province adapter (entry point name)")
    parser.set_defaults(func=run_sync_catalog)
