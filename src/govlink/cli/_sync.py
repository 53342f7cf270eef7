"""``govlink sync``: enqueue case events and catalogs, and run the dispatcher.

* ``govlink sync run [--until-empty] [--province URL --adapter NAME]`` delivers the outbox;
  SIGTERM/SIGINT finish in-flight requests and stop. Exit 0; 1 when cases are parked at the end.
* ``govlink sync cases FILE`` validates case status events (JSON array, ``{"events": [...]}``,
  or NDJSON; NDJSON lines with ``"kind": "case"`` are skipped) and enqueues the valid ones.
  Invalid records are reported with their line (or index), field and rule; exit 1 then, but
  everything valid is enqueued ("nothing already accepted is lost"). Exit 2 if unreadable.
* ``govlink sync catalog FILE`` (module ``_sync_catalog``): a catalog's changes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.markup import escape

from .._errors import ConfigError, FieldProblem, ValidationError
from ..domain import parse_case_event
from ..sync import CASE_EVENT, CATALOG_ITEM, Dispatcher, NewEntry, Outbox, load_adapter, mask_text
from ._context import CliContext
from ._store import parse_duration

__all__ = ["JsonLogFormatter", "read_event_records", "register"]


class JsonLogFormatter(logging.Formatter):
    """One JSON object per log line: time, level, message and the ``govlink`` extras, masked."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask_text(record.getMessage()),
        }
        extra = getattr(record, "govlink", None)
        if isinstance(extra, dict):
            data.update({k: mask_text(v) if isinstance(v, str) else v for k, v in extra.items()})
        return json.dumps(data, ensure_ascii=False, default=str)


def read_event_records(path: Path) -> Iterator[tuple[str, Any]]:
    """``(where, record)`` for each record of a JSON or NDJSON file (``where``: ``line N`` or
    ``events[i]``).

    Raises:
        ConfigError: the file cannot be read.
        ValidationError: a JSON file that is not an array or an ``events`` object, or an NDJSON
            line that is not JSON (reported, the other lines still read: see the command).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise ConfigError(f"events file {str(path)!r}: cannot be read ({exc})") from None
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"not JSON: {exc.msg} at line {exc.lineno}", field="file", rule="json"
            ) from None
        for index, record in enumerate(data):
            yield f"events[{index}]", record
        return
    if stripped.startswith("{") and "\n" not in stripped:
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"not JSON: {exc.msg}", field="file", rule="json") from None
        events = data.get("events") if isinstance(data, dict) else None
        if isinstance(events, list):
            for index, record in enumerate(events):
                yield f"events[{index}]", record
        else:
            yield "line 1", data
        return
    if stripped.startswith("{"):
        # A whole-file JSON object spread over lines ({"events": [...]}) or NDJSON.
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("events"), list):
            for index, record in enumerate(data["events"]):
                yield f"events[{index}]", record
            return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"line {number}", json.loads(line)
        except json.JSONDecodeError as exc:
            yield (
                f"line {number}",
                ValidationError(f"not JSON: {exc.msg}", field="(line)", rule="json"),
            )


def _outbox(ctx: CliContext) -> Outbox:
    lease = float(getattr(ctx.args, "lease", None) or 60.0)
    retention = getattr(ctx.args, "retention", None) or 90 * 86400.0
    return Outbox(ctx.store(), clock=ctx.clock, lease_seconds=lease, retention_seconds=retention)


def run_sync_cases(ctx: CliContext) -> int:
    path = Path(ctx.args.file)
    outbox = _outbox(ctx)
    problems: list[FieldProblem] = []
    skipped_cases = 0
    invalid = 0

    def valid() -> Iterator[NewEntry]:
        nonlocal skipped_cases, invalid
        for where, record in read_event_records(path):
            if isinstance(record, ValidationError):
                invalid += 1
                problems.extend(
                    FieldProblem(f"{where}", p.rule, p.message) for p in record.problems
                )
                continue
            if isinstance(record, dict) and record.get("kind") in ("case", "item"):
                skipped_cases += 1
                continue
            if isinstance(record, dict) and record.get("kind") == "event":
                record = {k: v for k, v in record.items() if k != "kind"}
            try:
                event = parse_case_event(record)
            except ValidationError as exc:
                invalid += 1
                problems.extend(
                    FieldProblem(f"{where}: {p.field}", p.rule, mask_text(p.message))
                    for p in exc.problems
                )
                continue
            yield NewEntry(
                event.hall,
                CASE_EVENT,
                event.case_number,
                event.sequence,
                event.model_dump_json(),
                event.idempotency_key,
            )

    result = outbox.enqueue(valid())
    problems.extend(result.problems)
    data = {
        "file": str(path),
        "enqueued": result.accepted,
        "duplicates": result.duplicates,
        "refused": result.stale,
        "invalid": invalid,
        "skipped_non_events": skipped_cases,
        "problems": [p.to_dict() for p in problems],
    }
    lines = [
        f"enqueued {result.accepted} case event(s) "
        f"({result.duplicates} already queued, {invalid + result.stale} refused)"
    ]
    for p in problems[:20]:
        lines.append(f"  {p.field}: {p.message} [{p.rule}]")
    if len(problems) > 20:
        lines.append(f"  ... and {len(problems) - 20} more (use --json for all)")
    lines.append("deliver with: govlink sync run --until-empty")
    ctx.emit(data, escape("\n".join(lines)))
    return 1 if problems else 0


def _adapter(ctx: CliContext) -> Any:
    settings = ctx.settings
    url = getattr(ctx.args, "province", None) or settings.province_url
    name = getattr(ctx.args, "adapter", None) or settings.adapter
    if not url:
        raise ConfigError(
            "sync run needs the platform: --province URL or GOVLINK_PROVINCE_URL "
            "(e.g. govlink mock-province serve)"
        )
    options = dict(getattr(settings, "adapter_options", None) or {})
    return load_adapter(name, base_url=url, clock=ctx.clock, **options)


def run_sync_run(ctx: CliContext) -> int:
    args = ctx.args
    if getattr(args, "log_json", False):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLogFormatter())
        logger = logging.getLogger("govlink.sync")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    outbox = _outbox(ctx)
    adapter = _adapter(ctx)
    total = outbox.status().pending if ctx.interactive else 0
    progress: Any = None
    task: Any = None
    if ctx.interactive and total:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=ctx.err,
            transient=True,
        )
        task = progress.add_task("delivering", total=total)

    def advance(n: int) -> None:
        if progress is not None:
            progress.advance(task, n)

    dispatcher = Dispatcher(
        outbox,
        adapter,
        kinds=(CATALOG_ITEM, CASE_EVENT),  # catalog changes (govlink sync catalog) too
        concurrency=args.concurrency,
        batch_size=args.batch_size,
        rate_limit=args.rate_limit,
        on_progress=advance,
        retain_every=args.retain_every,
        archive_dir=Path(args.archive_dir) if args.archive_dir else None,
    )

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, dispatcher.stop)
        try:
            return await dispatcher.run(until_empty=args.until_empty)
        finally:
            await adapter.aclose()

    if progress is not None:
        with progress:
            counters = asyncio.run(main())
    else:
        counters = asyncio.run(main())
    status = outbox.status()
    data = {"counters": counters.to_dict(), "outbox": status.to_dict()}
    human = (
        f"sent {counters.sent}, acknowledged {counters.acknowledged} "
        f"({counters.duplicates} duplicates), retried {counters.retried}, "
        f"parked {counters.parked}; requests {counters.requests} "
        f"({counters.failed_requests} failed, {counters.inner_retries} retried in-process)\n"
        f"outbox: {status.pending} pending, {status.parked} parked case(s)"
    )
    if status.parked:
        human += " — see: govlink outbox parked"
    ctx.emit(data, escape(human))
    return 1 if status.parked else 0


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    parser = commands.add_parser(
        "sync",
        parents=[common],
        help="deliver catalogs and case status to the provincial platform",
        description="Enqueue case events and catalogs, and run the sync dispatcher.",
    )
    sync_commands = parser.add_subparsers(dest="sync_command", metavar="SUBCOMMAND", required=True)

    run = sync_commands.add_parser(
        "run",
        parents=[common],
        help="run the dispatcher (SIGTERM/SIGINT finish in-flight work and stop)",
        description="Deliver the outbox to the platform. Exit 1 when cases are parked.",
    )
    run.add_argument(
        "--until-empty",
        action="store_true",
        help="exit when nothing is due or scheduled any more (parked cases excepted)",
    )
    run.add_argument(
        "--province", metavar="URL", help="platform base URL; env GOVLINK_PROVINCE_URL"
    )
    run.add_argument("--adapter", metavar="NAME", help="province adapter (entry point name)")
    run.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    run.add_argument(
        "--batch-size", type=int, default=None, help="entries per request (max: adapter's)"
    )
    run.add_argument("--rate-limit", type=float, default=None, help="requests per second")
    run.add_argument(
        "--lease", type=float, default=60.0, metavar="SECONDS", help="claim lease (default 60)"
    )
    run.add_argument("--log-json", action="store_true", help="structured JSON logs on stderr")
    run.add_argument(
        "--retain-every",
        type=parse_duration,
        default=None,
        metavar="DURATION",
        help="archive/purge old acknowledged entries this often (default: never)",
    )
    run.add_argument(
        "--retention",
        type=parse_duration,
        default=None,
        metavar="DURATION",
        help="keep acknowledged entries this long (default 90d)",
    )
    run.add_argument("--archive-dir", metavar="DIR", help="archive into DIR before purging")
    run.set_defaults(func=run_sync_run)

    cases = sync_commands.add_parser(
        "cases",
        parents=[common],
        help="validate and enqueue case status events (JSON or NDJSON)",
        description="Validate case status events and enqueue the valid ones.",
    )
    cases.add_argument(
        "file", metavar="FILE", help="events: JSON array, {events: [...]}, or NDJSON"
    )
    cases.set_defaults(func=run_sync_cases)

    # The catalog subcommand lives in its own module (catalog sync).
    from ._sync_catalog import register as register_catalog

    register_catalog(sync_commands, common)
