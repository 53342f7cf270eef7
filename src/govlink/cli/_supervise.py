"""``govlink supervise FILE``: deadlines, alert levels and efficiency figures for cases.

Input (``docs/supervision.md``): NDJSON with one record per line, ``{"kind": "case", ...}``
(a :class:`govlink.domain.Case`), ``{"kind": "event", ...}`` (a
:class:`govlink.domain.CaseStatusEvent`) and optionally ``{"kind": "item", ...}`` (a catalog
:class:`govlink.domain.Item` giving the time limits), or one JSON document
``{"cases": [...], "events": [...], "items": [...]}``. Items not in the file come from
``--catalog`` (a sample-catalog file) or, unconfigured, the bundled sample catalog.

Exit 0 with the report (alert levels are findings, not failures); 1 when the file is invalid
(the message names the line or element, the field and the rule); 2 on usage errors.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .._clock import CHINA_TZ
from .._errors import ConfigError, FieldProblem, ValidationError
from ..domain import (
    Case,
    CaseStatusEvent,
    CaseSupervision,
    CaseTransitionError,
    Item,
    SupervisionLevel,
    SupervisionThresholds,
    WorkingCalendar,
    case_timeline,
    compute_deadlines,
    efficiency,
    parse_case,
    parse_case_event,
    parse_item,
    parse_model,
    supervise,
)
from ._context import CliContext
from ._input import InputFileError, JsonInput, add_encoding_option, read_holiday_files

__all__ = ["SupervisionInput", "read_supervision_input", "register", "run_supervise"]

#: How many flagged cases the human report lists without ``--all``.
_LISTED = 20
_ORDER = {
    SupervisionLevel.RED: 0,
    SupervisionLevel.YELLOW: 1,
    SupervisionLevel.WARNING: 2,
    SupervisionLevel.ON_TIME: 3,
}


@dataclass
class SupervisionInput:
    """What a supervise file holds, validated: cases, their events (by case), items."""

    cases: dict[str, Case] = field(default_factory=dict)
    events: dict[str, list[CaseStatusEvent]] = field(default_factory=lambda: defaultdict(list))
    items: dict[str, Item] = field(default_factory=dict)
    where: dict[tuple[str, int], str] = field(default_factory=dict)  # (case, seq) → "line 7"


_KINDS = {"cases": "case", "events": "event", "items": "item"}


def _records(source: JsonInput) -> Iterator[tuple[str, str, object]]:
    """(where, kind, record) for each record of an NDJSON or JSON-document file."""
    for record in source.records(("cases", "events", "items"), only_containers=True):
        where = record.where
        if record.problem is not None:
            raise InputFileError(source.name, where, record.problem.rule, record.problem.message)
        if record.container is not None:
            yield where, _KINDS[record.container], record.value
            continue
        value = record.value
        if not isinstance(value, dict):
            raise ValidationError(
                f"{source.name} {where}: a record must be a JSON object", field=where, rule="type"
            )
        kind = value.pop("kind", None)
        if kind not in ("case", "event", "item"):
            raise ValidationError(
                f"{source.name} {where}: kind must be case, event or item",
                field=f"{where}.kind",
                rule="choice",
            )
        yield where, str(kind), value


def _located(exc: ValidationError, where: str) -> ValidationError:
    problems = [FieldProblem(f"{where}.{p.field}", p.rule, p.message) for p in exc.problems]
    return ValidationError(problems=problems)


def read_supervision_input(source: JsonInput) -> SupervisionInput:
    """Parse and validate a supervise file (NDJSON or a JSON document).

    Raises:
        ConfigError: the file cannot be opened.
        InputFileError: the file is not JSON/NDJSON (see :mod:`govlink.cli._input`).
        ValidationError: a record breaks a rule; the field is prefixed with where it is
            (``line 12.time``, ``events[3].hall``); rules ``duplicate_case``,
            ``unknown_case``, ``duplicate_sequence`` for references between records.
    """
    data = SupervisionInput()
    for where, kind, record in _records(source):
        try:
            if kind == "case":
                case = parse_case(record)
                if case.case_number in data.cases:
                    raise ValidationError(
                        f"case {case.case_number} appears twice",
                        field="case_number",
                        rule="duplicate_case",
                    )
                data.cases[case.case_number] = case
            elif kind == "event":
                event = parse_case_event(record)
                key = (event.case_number, event.sequence)
                if key in data.where:
                    raise ValidationError(
                        f"case {event.case_number} has two events with sequence "
                        f"{event.sequence} (the other at {data.where[key]})",
                        field="sequence",
                        rule="duplicate_sequence",
                    )
                data.where[key] = where
                data.events[event.case_number].append(event)
            else:
                item = parse_item(record, check=False)
                data.items[item.implementation_code] = item
        except ValidationError as exc:
            raise _located(exc, where) from None
    for number in data.events:
        if number not in data.cases:
            first = min(data.events[number], key=lambda e: e.sequence)
            where = data.where[(number, first.sequence)]
            raise ValidationError(
                f"{where}: event of case {number}, which has no case record",
                field=f"{where}.case_number",
                rule="unknown_case",
            )
    return data


def _parse_at(text: str | None, ctx: CliContext) -> datetime:
    if text is None:
        return ctx.clock.now().astimezone(CHINA_TZ)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--at {text!r} is not an ISO date or date-time") from None
    # A bare date or time without a zone on the command line means China time.
    return at if at.tzinfo is not None else at.replace(tzinfo=CHINA_TZ)


def _catalog_items(ctx: CliContext, path: str | None) -> dict[str, Item]:
    from ..samples import SampleCatalog, load_sample_catalog

    if path is None:
        ctx.note_development_default("the bundled sample catalog's time limits")
        catalog = load_sample_catalog()
    else:
        source = JsonInput(path, encoding=ctx.args.encoding)
        source.document()  # the one reader's checks (encoding, depth, numbers) first
        catalog = SampleCatalog.from_json(source.text())
    return {item.implementation_code: item for item in catalog.items}


def run_supervise(ctx: CliContext) -> int:
    args = ctx.args
    source = JsonInput(args.file, encoding=args.encoding)
    at = _parse_at(args.at, ctx)
    options = {
        "warning_working_days": args.warning_days,
        "warning_fraction": args.warning_fraction,
        "yellow_overdue_working_days": args.yellow_days,
        "red_overdue_working_days": args.red_days,
        "basis": args.basis,
    }
    try:
        thresholds = parse_model(
            SupervisionThresholds, {k: v for k, v in options.items() if v is not None}
        )
    except ValidationError as exc:
        # Thresholds come from the command line: a bad one is a usage error (exit 2).
        raise ConfigError(f"supervision thresholds: {exc.message}") from None
    data = read_supervision_input(source)
    items = dict(data.items)
    missing = {c.implementation_code for c in data.cases.values()} - set(items)
    if missing or not items:
        catalog = _catalog_items(ctx, args.catalog)
        items = {**catalog, **items}
    settings = ctx.settings
    calendar = WorkingCalendar(
        read_holiday_files([*settings.holiday_files, *(args.holidays or [])], args.encoding),
        allow_weekend_fallback=settings.allow_weekend_fallback or args.weekend_fallback,
    )

    results: list[tuple[Case, CaseSupervision | None]] = []
    for number, case in data.cases.items():
        events = sorted(data.events.get(number, []), key=lambda e: e.sequence)
        try:
            timeline = case_timeline(events, at=at)
        except CaseTransitionError as exc:
            where = data.where.get((number, exc.sequence), "input")
            raise _located(exc, where) from None
        except ValidationError as exc:
            raise _located(exc, f"case {number}") from None
        item = items.get(case.implementation_code)
        if item is None:
            results.append((case, None))
            continue
        deadlines = compute_deadlines(
            timeline,
            legal=item.legal_limit,
            promised=item.promised_limit,
            calendar=calendar,
            at=at,
        )
        results.append((case, supervise(deadlines, calendar, thresholds)))

    supervised = [r for _, r in results if r is not None]
    used = {c.implementation_code for c, _ in results}
    report = efficiency([items[c] for c in sorted(used) if c in items], supervised, calendar)
    unknown = sorted({c.implementation_code for c, r in results if r is None})
    levels = Counter(r.level for r in supervised)
    flagged = sorted(
        (r for r in supervised if r.level not in (None, SupervisionLevel.ON_TIME)),
        key=lambda r: (_ORDER[r.level] if r.level else 9, r.case_number),
    )
    summary = {
        "at": at.isoformat(),
        "thresholds": thresholds.model_dump(),
        "cases": len(results),
        "levels": {level.value: levels.get(level, 0) for level in SupervisionLevel},
        "no_deadline": sum(1 for r in supervised if r.level is None),
        "unknown_items": unknown,
        "efficiency": report.to_dict(),
    }
    if args.html:
        # The HTML report (govlink.report) draws the same results; --json names the file too.
        from ..report import build_supervision_report, write_supervision_html

        built = build_supervision_report(results, items, calendar, at=at, thresholds=thresholds)
        summary["html"] = str(write_supervision_html(built, args.html))
    if ctx.json:
        cases_out = []
        for case, result in results:
            entry: dict[str, Any] = {"case_number": case.case_number, "hall": case.hall}
            entry.update(result.to_dict() if result else {"level": None, "unknown_item": True})
            cases_out.append(entry)
        ctx.emit({**summary, "results": cases_out})
        return 0
    ctx.emit(summary, _human(summary, flagged, args.all, thresholds))
    return 0


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _days(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _human(
    summary: Mapping[str, Any],
    flagged: list[CaseSupervision],
    show_all: bool,
    limits: SupervisionThresholds,
) -> str:
    levels = summary["levels"]
    eff = summary["efficiency"]
    lines = [
        f"supervision at {summary['at']} against {limits.basis} deadlines "
        f"(warning ≤{limits.warning_working_days} working day or ≤{limits.warning_fraction:.0%} "
        f"left, yellow at {limits.yellow_overdue_working_days}, red at "
        f"≥{limits.red_overdue_working_days} working days overdue)",
        f"{summary['cases']} cases: on time {levels['on_time']}, 预警 warning "
        f"{levels['warning']}, 黄牌 yellow {levels['yellow']}, 红牌 red {levels['red']}, "
        f"no deadline {summary['no_deadline']}",
        f"efficiency: promised limits {_pct(eff['mean_limit_reduction'])} shorter than legal "
        f"({eff['items_compared']} items); {eff['concluded']} concluded, "
        f"{_pct(eff['within_promised_share'])} within the promised limit; "
        f"{_days(eff['mean_working_days_to_conclusion'])} working days to conclusion on "
        f"average ({_days(eff['mean_working_days_to_conclusion_net'])} net of pauses)",
    ]
    if summary["unknown_items"]:
        lines.append(
            f"[yellow]no time limits for {len(summary['unknown_items'])} implementation "
            "code(s): their cases have no deadline (add item records or --catalog)[/yellow]"
        )
    shown = flagged if show_all else flagged[:_LISTED]
    for result in shown:
        d = result.deadlines
        deadline = d.deadline(result.basis or "promised")
        timing = (
            f"{result.overdue_working_days} working day(s) overdue"
            if result.overdue_working_days is not None
            else f"{result.remaining_working_days} working day(s) left"
        )
        status = d.timeline.last_status.value if d.timeline.last_status else "-"
        level = result.level.label if result.level else "-"
        lines.append(
            f"  {level} {result.case_number} {status}, deadline {deadline}, {timing}"
            + (" (paused)" if d.timeline.is_paused else "")
        )
    if len(flagged) > len(shown):
        lines.append(f"  … and {len(flagged) - len(shown)} more (--all lists every one)")
    if summary.get("html"):
        lines.append(f"HTML report 监察报告: {summary['html']}")
    return "\n".join(lines)


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    parser = commands.add_parser(
        "supervise",
        parents=[common],
        help="deadlines and warnings (预警/黄牌/红牌) for cases",
        description=(
            "Compute legal and promised deadlines and supervision levels for the cases in FILE "
            "(NDJSON records with kind case/event/item, or a JSON document with cases, events, "
            "items; see docs/supervision.md). Exit 1 when the file is invalid."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="cases and events (JSON or NDJSON)")
    add_encoding_option(parser)
    parser.add_argument(
        "--at",
        metavar="DATETIME",
        help="evaluate at this ISO time (no zone = China time); default now",
    )
    parser.add_argument(
        "--catalog",
        metavar="FILE",
        help="sample-catalog JSON with the items' time limits (default: the bundled catalog)",
    )
    parser.add_argument(
        "--holidays",
        metavar="FILE",
        action="append",
        help="operator holiday file (repeatable; adds to GOVLINK_HOLIDAY_FILES)",
    )
    parser.add_argument(
        "--weekend-fallback",
        action="store_true",
        help="count weekends only for years without holiday data (logs a warning)",
    )
    parser.add_argument("--basis", choices=("promised", "legal"), help="deadline to supervise")
    parser.add_argument(
        "--warning-days", type=int, metavar="N", help="warn at ≤N working days left"
    )
    parser.add_argument(
        "--warning-fraction", type=float, metavar="F", help="warn at ≤F of the limit left"
    )
    parser.add_argument(
        "--yellow-days", type=int, metavar="N", help="yellow card at N days overdue"
    )
    parser.add_argument("--red-days", type=int, metavar="N", help="red card at ≥N days overdue")
    parser.add_argument("--all", action="store_true", help="list every flagged case")
    parser.add_argument(
        "--html",
        metavar="REPORT",
        help="also write a self-contained HTML report with charts to REPORT (no network needed)",
    )
    parser.set_defaults(func=run_supervise)
