"""``govlink outbox``: inspect and repair the outbox, verify the evidence journal.

* ``status``: pending, leased, retrying and parked work, lag, pending per hall, and blocked
  cases (later events held behind a missing one, e.g. an invalid line of a case file).
* ``parked``: every parked case with the refused event and the platform's reason (masked).
* ``retry CASE [--event FILE]``: send the parked event again — after fixing the cause, or with
  the repaired event from FILE (same case and sequence; validated first).
* ``skip CASE --reason TEXT``: never send the parked event; the case resumes with its next one.
* ``journal verify``: walk the hash chain; exit 1 naming the first altered or missing record.

Exit codes: 0 fine; 1 parked or blocked cases (``status``), parked cases (``parked``), a case
not parked, a broken journal;
2 usage errors.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from rich.markup import escape

from .._errors import ValidationError
from ..domain import parse_case_event
from ..sync import CASE_EVENT, Outbox, verify_journal
from ..sync.adapter import mask_text
from ._args import add_group
from ._context import CliContext
from ._input import JsonInput, add_encoding_option

__all__ = ["register"]


def _outbox(ctx: CliContext) -> Outbox:
    return Outbox(ctx.store(), clock=ctx.clock)


def _when(posix: float) -> str:
    return datetime.fromtimestamp(posix, UTC).isoformat(timespec="seconds")


def run_status(ctx: CliContext) -> int:
    outbox = _outbox(ctx)
    status = outbox.status()
    blocked = outbox.blocked()
    lag = "-" if status.oldest_pending_age is None else f"{status.oldest_pending_age:.1f} s"
    lines = [
        f"pending events: {status.pending} (lag {lag})",
        f"lanes ready: {status.ready}, leased: {status.leased}, "
        f"waiting to retry: {status.retrying}, parked cases: {status.parked}",
        f"acknowledged (kept for audit): {status.acknowledged_retained}",
    ]
    lines += [f"  hall {hall}: {n} pending" for hall, n in status.by_hall.items()]
    if blocked:
        lines.append(
            f"blocked cases (waiting for a missing event, never sent past the gap): "
            f"{len(blocked)}; enqueue the missing event (e.g. fix the file, run sync cases again)"
        )
        lines += [
            f"  {mask_text(b.key)} (hall {b.hall}): sequence {b.missing_sequence} missing, "
            f"{b.waiting} event(s) held"
            for b in blocked[:20]
        ]
    data = {
        **status.to_dict(),
        "blocked_cases": len(blocked),
        "blocked": [{**b.to_dict(), "key": mask_text(b.key)} for b in blocked],
    }
    ctx.emit(data, escape("\n".join(lines)))
    return 1 if status.parked or blocked else 0


def run_parked(ctx: CliContext) -> int:
    parked = _outbox(ctx).parked()
    if not parked:
        ctx.emit({"parked": []}, "no parked cases")
        return 0
    lines = [f"{len(parked)} parked case(s):"]
    for p in parked:
        lines.append(
            f"  {p.key} (hall {p.hall}) sequence {p.sequence}, {p.pending} event(s) waiting, "
            f"parked {_when(p.parked_at)}\n    {p.error}"
        )
    lines.append("repair: govlink outbox retry CASE [--event FILE]; or skip CASE --reason TEXT")
    ctx.emit({"parked": [p.to_dict() for p in parked]}, escape("\n".join(lines)))
    return 1


def run_retry(ctx: CliContext) -> int:
    outbox = _outbox(ctx)
    payload = None
    event_file = ctx.args.event
    if event_file:
        data = JsonInput(event_file, encoding=ctx.args.encoding).document()
        event = parse_case_event(data)
        parked = {p.key: p for p in outbox.parked()}
        target = parked.get(ctx.args.case)
        if target is not None and (
            event.case_number != target.key or event.sequence != target.sequence
        ):
            raise ValidationError(
                f"the repaired event must be case {target.key} sequence {target.sequence}",
                field="event",
                rule="same_case_and_sequence",
            )
        payload = event.model_dump_json()
    key = outbox.retry(ctx.args.case, kind=CASE_EVENT, payload_json=payload, note=ctx.args.note)
    what = "repaired and released" if payload else "released"
    ctx.emit(
        {"case": ctx.args.case, "idempotency_key": key, "repaired": payload is not None},
        f"{ctx.args.case}: {what}; delivered by the next govlink sync run",
    )
    return 0


def run_skip(ctx: CliContext) -> int:
    key = _outbox(ctx).skip(ctx.args.case, reason=ctx.args.reason, kind=CASE_EVENT)
    ctx.emit(
        {"case": ctx.args.case, "skipped": key, "reason": ctx.args.reason},
        f"{ctx.args.case}: {key} skipped (reason recorded in the journal)",
    )
    return 0


def run_journal_verify(ctx: CliContext) -> int:
    _outbox(ctx)  # makes sure the tables exist
    report = verify_journal(ctx.store())
    ctx.emit(
        report.to_dict(),
        f"journal intact: {report.records} record(s); head hash {report.head_hash}",
    )
    return 0


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    sub = add_group(
        commands,
        common,
        "outbox",
        help="inspect and repair the sync outbox; verify the evidence journal",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        raw_description=True,
    )
    sub.add_parser(
        "status", parents=[common], help="pending, leased, retrying and parked work"
    ).set_defaults(func=run_status)
    sub.add_parser(
        "parked", parents=[common], help="parked cases and why the platform refused them"
    ).set_defaults(func=run_parked)
    retry = sub.add_parser("retry", parents=[common], help="send a parked case's event again")
    retry.add_argument("case", metavar="CASE", help="case number (办件编号)")
    retry.add_argument("--event", metavar="FILE", help="the repaired event (JSON) to send instead")
    retry.add_argument("--note", default="", help="operator note for the journal")
    add_encoding_option(retry)
    retry.set_defaults(func=run_retry)
    skip = sub.add_parser("skip", parents=[common], help="never send a parked case's event")
    skip.add_argument("case", metavar="CASE", help="case number (办件编号)")
    skip.add_argument("--reason", required=True, help="why (recorded in the journal)")
    skip.set_defaults(func=run_skip)
    jsub = add_group(sub, common, "journal", help="the evidence journal")
    jsub.add_parser(
        "verify", parents=[common], help="check the hash chain; exit 1 at a broken record"
    ).set_defaults(func=run_journal_verify)
