"""``govlink sync``: enqueue case events and catalogs, and run the dispatcher.

* ``govlink sync run [--until-empty] [--province URL --adapter NAME]`` delivers the outbox;
  SIGTERM/SIGINT finish in-flight requests and stop. Exit 0; 1 when cases are parked at the end;
  2 when the platform refuses for a reason retrying cannot fix (``PlatformRefused``: one line
  saying what to fix; the entries stay pending) or a setting such as ``--batch-size`` is not
  positive. ``--metrics-port N`` (opt-in; ``--metrics-host``, loopback by default) serves
  Prometheus metrics at ``http://HOST:N/metrics`` while it runs, the outbox's depth and lag
  read on each scrape (exit 2 when the ``metrics`` extra is missing or the port is busy).
* ``govlink sync cases FILE`` validates case status events (JSON array, ``{"events": [...]}``,
  or NDJSON; NDJSON lines with ``"kind": "case"`` are skipped; read by :mod:`._input`) and
  enqueues the valid ones. Invalid records are reported with their line (or index), field and
  rule; exit 1 then, but everything valid is enqueued ("nothing already accepted is lost").
  A case whose invalid line leaves a gap in its sequence is *blocked*: its later events are
  held in the outbox, never sent past the gap, and shown by ``govlink outbox status`` and here
  until the fixed file is run again (the missing event then wakes the case). Exit 2 if the
  file cannot be opened.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.markup import escape

from .._errors import ConfigError, FieldProblem, ValidationError
from ..domain import CaseStatusEvent, parse_case_event
from ..sync import CASE_EVENT, CATALOG_ITEM, Dispatcher, Outbox, PlatformRefused
from ..sync.adapter import mask_text
from ._args import add_group, port, positive_float, positive_int
from ._context import CliContext
from ._input import JsonInput, add_encoding_option
from ._store import parse_duration

_SHOWN = 20  # problems listed in the human output; --json lists them all

__all__ = ["JsonLogFormatter", "register"]


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


def _outbox(ctx: CliContext) -> Outbox:
    lease = float(getattr(ctx.args, "lease", None) or 60.0)
    retention = getattr(ctx.args, "retention", None) or 90 * 86400.0
    return Outbox(ctx.store(), clock=ctx.clock, lease_seconds=lease, retention_seconds=retention)


@dataclass
class _CaseFileReport:
    """What ``sync cases`` found in a file besides the valid events."""

    problems: list[FieldProblem] = field(default_factory=list)
    invalid: int = 0
    skipped_non_events: int = 0
    #: case number -> where its first invalid line is (its later events wait for it)
    broken_cases: dict[str, str] = field(default_factory=dict)


def _case_events(source: JsonInput, report: _CaseFileReport) -> Iterator[CaseStatusEvent]:
    """The valid events of a case file; every invalid record goes into ``report``."""
    for record in source.records(("events",)):
        where = record.where
        if record.problem is not None:
            report.invalid += 1
            report.problems.append(record.problem)
            continue
        value = record.value
        if isinstance(value, dict) and value.get("kind") in ("case", "item"):
            report.skipped_non_events += 1
            continue
        if isinstance(value, dict) and value.get("kind") == "event":
            value = {k: v for k, v in value.items() if k != "kind"}
        try:
            yield parse_case_event(value)
        except ValidationError as exc:
            report.invalid += 1
            report.problems.extend(
                FieldProblem(f"{where}: {p.field}", p.rule, mask_text(p.message))
                for p in exc.problems
            )
            number = value.get("case_number") if isinstance(value, dict) else None
            if isinstance(number, str) and number:
                report.broken_cases.setdefault(number, where)


def run_sync_cases(ctx: CliContext) -> int:
    """Validate a case file and enqueue its valid events (see the module docstring)."""
    source = JsonInput(ctx.args.file, encoding=ctx.args.encoding)
    outbox = _outbox(ctx)
    report = _CaseFileReport()
    result = outbox.enqueue_events(_case_events(source, report))
    problems = [*report.problems, *result.problems]
    # A case whose invalid line left a gap: its later events are held in the outbox (shown
    # as blocked by `govlink outbox status`) until the line is fixed and the file re-run.
    blocked = {b.key: b for b in outbox.blocked()} if report.broken_cases else {}
    held = {number: where for number, where in report.broken_cases.items() if number in blocked}
    data = {
        "file": source.name,
        "enqueued": result.accepted,
        "duplicates": result.duplicates,
        "refused": result.stale,
        "invalid": report.invalid,
        "skipped_non_events": report.skipped_non_events,
        "problems": [p.to_dict() for p in problems],
        "blocked": [
            {
                "case_number": mask_text(number),
                "missing_sequence": blocked[number].missing_sequence,
                "waiting": blocked[number].waiting,
                "invalid_at": where,
            }
            for number, where in sorted(held.items())
        ],
    }
    lines = [
        f"enqueued {result.accepted} case event(s) "
        f"({result.duplicates} already queued, {report.invalid + result.stale} refused)"
    ]
    for p in problems[:_SHOWN]:
        lines.append(f"  {p.field}: {p.message} [{p.rule}]")
    if len(problems) > _SHOWN:
        lines.append(f"  ... and {len(problems) - _SHOWN} more (use --json for all)")
    for number, where in sorted(held.items())[:_SHOWN]:
        b = blocked[number]
        lines.append(
            f"  blocked: case {mask_text(number)} holds {b.waiting} event(s) until sequence "
            f"{b.missing_sequence} arrives (invalid at {where}): fix it and run this again"
        )
    lines.append("deliver with: govlink sync run --until-empty")
    ctx.emit(data, escape("\n".join(lines)))
    return 1 if problems else 0


def run_sync_run(ctx: CliContext) -> int:
    args = ctx.args
    if getattr(args, "log_json", False):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLogFormatter())
        logger = logging.getLogger("govlink.sync")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    outbox = _outbox(ctx)
    recorder: Any = None
    exporter: Any = None
    if args.metrics_port is not None:
        # Before the adapter: a missing extra or a busy port is one line and exit 2 (the
        # ConfigError), with nothing opened yet.
        from .. import metrics

        recorder = metrics.SyncMetrics(outbox=outbox)
        exporter = metrics.serve_metrics(recorder, args.metrics_port, args.metrics_host)
        ctx.err.print(f"metrics at {exporter.url}", markup=False)
    try:
        return _run_dispatcher(ctx, outbox, recorder)
    finally:
        if exporter is not None:
            exporter.close()


def _run_dispatcher(ctx: CliContext, outbox: Outbox, recorder: Any) -> int:
    args = ctx.args
    adapter = ctx.adapter("sync run")
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

    try:
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
            metrics=recorder,
        )
    except ConfigError:
        # A non-positive --batch-size/--concurrency/--rate-limit: refused before any claim
        # (exit 2); the adapter's HTTP client is closed on the way out.
        asyncio.run(adapter.aclose())
        raise

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, dispatcher.stop)
        try:
            return await dispatcher.run(until_empty=args.until_empty)
        finally:
            await adapter.aclose()

    try:
        if progress is not None:
            with progress:
                counters = asyncio.run(main())
        else:
            counters = asyncio.run(main())
    except PlatformRefused as exc:
        # Retrying cannot fix it (credentials, signature, URL): a configuration error to the
        # operator, one line ending in what to fix; the entries stay pending for the next run.
        if ctx.json:
            ctx.emit({"error": exc.to_dict(), "outbox": outbox.status().to_dict()})
        ctx.err.print(f"govlink: error[{exc.code}]: {exc.message}", markup=False)
        return 2
    status = outbox.status()
    blocked = outbox.blocked()
    data = {
        "counters": counters.to_dict(),
        "outbox": {**status.to_dict(), "blocked_cases": len(blocked)},
    }
    human = (
        f"sent {counters.sent}, acknowledged {counters.acknowledged} "
        f"({counters.duplicates} duplicates), retried {counters.retried}, "
        f"parked {counters.parked}; requests {counters.requests} "
        f"({counters.failed_requests} failed, {counters.inner_retries} retried in-process)\n"
        f"outbox: {status.pending} pending, {status.parked} parked case(s)"
    )
    if status.parked:
        human += " — see: govlink outbox parked"
    if blocked:
        human += (
            f"\n{len(blocked)} case(s) blocked, waiting for a missing event "
            "— see: govlink outbox status"
        )
    ctx.emit(data, escape(human))
    return 1 if status.parked or blocked else 0


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    sync_commands = add_group(
        commands,
        common,
        "sync",
        help="deliver catalogs and case status to the provincial platform",
        description="Enqueue case events and catalogs, and run the sync dispatcher.",
    )

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
    run.add_argument(
        "--concurrency", type=positive_int, default=4, help="requests in flight (default 4)"
    )
    run.add_argument(
        "--batch-size", type=positive_int, default=None, help="entries per request (max: adapter's)"
    )
    run.add_argument("--rate-limit", type=positive_float, default=None, help="requests per second")
    run.add_argument(
        "--lease",
        type=positive_float,
        default=60.0,
        metavar="SECONDS",
        help="claim lease (default 60)",
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
    run.add_argument(
        "--metrics-port",
        type=port,
        default=None,
        metavar="PORT",
        help="serve Prometheus metrics on this port (/metrics; needs govlink[metrics])",
    )
    run.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="HOST",
        help="address the metrics port binds (default 127.0.0.1)",
    )
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
    add_encoding_option(cases)
    cases.set_defaults(func=run_sync_cases)

    # The catalog subcommand lives in its own module (catalog sync).
    from ._sync_catalog import register as register_catalog

    register_catalog(sync_commands, common)
