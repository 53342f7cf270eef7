"""Sample cases (办件) with realistic status histories, made by a seeded generator.

The generator walks the working days of a period, receives cases at the halls of the sample
catalog and gives each a status history a real hall would push:

* most cases: received → accepted → processing → approved (办结), within the promised limit;
* some: a supplement pause (补正), a special procedure (特别程序, e.g. 专家评审), a second
  department's processing report (joint handling);
* a few: withdrawn before acceptance (已撤件), not accepted (不受理 / 不予受理), denied, approved
  with tolerated gaps (容缺通过), withdrawn (撤回), revoked (撤销), or concluded late;
* cases whose later events fall after the period's end are still open at the end of it (some
  of them overdue).

Applicants are natural persons with valid resident ID numbers (check character computed) or
legal persons with valid credit codes and an agent. Everything is a pure function of the seed,
the items and the period: the same arguments give byte-identical output on every machine.

It streams. :func:`generate_cases` yields one :class:`SampleCase` (raw JSON-ready dicts) at a
time and keeps only the current day's counters, so a year (:func:`year_of_cases`: 130,000 cases,
about 650,000 events) needs no more memory than a day. :func:`iter_events` flattens to events
(per case, or in time order through a heap bounded by the cases still open); the raw dicts are
what a hall system would send and parse with :func:`govlink.domain.parse_case_event`;
:meth:`SampleCase.models` validates them into model objects.

The bundled sample (``govlink/samples/data/cases.ndjson``, :func:`load_sample_cases`) is
:func:`write_sample_cases` with the defaults below (command in ``docs/samples.md``); a test
regenerates it and compares bytes.

One cohesive concept, hence one module despite its length: the seeded generator of a city's year
of cases.
"""

from __future__ import annotations

import heapq
import json
import random
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib import resources
from itertools import accumulate
from operator import mul
from pathlib import Path
from typing import Any, Final, NamedTuple, TypeVar

from .._clock import CHINA_TZ
from .._errors import CalendarDataMissing, ValidationError
from ..domain import (
    CREDIT_CODE_ALPHABET,
    Case,
    CaseStatusEvent,
    Item,
    ItemState,
    TimeUnit,
    WorkingCalendar,
    default_regions,
    organisation_code_check_character,
    parse_case,
    parse_case_event,
)

__all__ = [
    "SAMPLE_CASES_FILE",
    "SAMPLE_CASES_PERIOD",
    "SAMPLE_CASES_SEED",
    "CaseProfile",
    "SampleCase",
    "generate_cases",
    "iter_events",
    "load_sample_cases",
    "read_case_records",
    "sample_case_records",
    "write_sample_cases",
    "year_of_cases",
]

#: The seed of the bundled sample.
SAMPLE_CASES_SEED: Final = 20260302
#: The bundled sample's period: three working weeks of March 2026 (first and last day).
SAMPLE_CASES_PERIOD: Final = (date(2026, 3, 2), date(2026, 3, 20))
#: How many cases the bundled sample holds.
SAMPLE_CASES_COUNT: Final = 1000
#: The bundled sample inside the package.
SAMPLE_CASES_FILE: Final = "data/cases.ndjson"

# Office hours in minutes after midnight, China time: receipt 08:30-17:00, work until 17:30.
_OPEN, _LAST_RECEIPT, _CLOSE = 8 * 60 + 30, 17 * 60, 17 * 60 + 30

_HHMM: Final = tuple(f"{m // 60:02d}:{m % 60:02d}" for m in range(24 * 60))
_T = TypeVar("_T")
_SEQ3: Final = tuple(f"{n:03d}" for n in range(1000))
#: Birth dates 1950-01-01 .. 2004-10-04 as YYYYMMDD (adults applying in 2026).
_BIRTH_DAYS: Final = tuple(
    (date(1950, 1, 1) + timedelta(days=n)).strftime("%Y%m%d") for n in range(20_000)
)
_CC_ALPHABET: Final = CREDIT_CODE_ALPHABET
_CC_VALUES: Final = {c: i for i, c in enumerate(CREDIT_CODE_ALPHABET)}
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


# The credit-code check character again, without the input checks of govlink.domain's helpers (the
# generator's input is well formed by construction and it computes hundreds of thousands).
# SampleCase.models() and the tests validate every generated identifier with the real types.
def _weighted(digits: str, weights: Sequence[int]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True))


# Partial GB 11643 sums per birth date and per sequence, so an ID's check character is two
# lookups and an addition (the generator makes one per natural person).
_BIRTH_SUMS: Final = tuple(_weighted(b, _ID_WEIGHTS[6:14]) for b in _BIRTH_DAYS)
_SEQ_SUMS: Final = tuple(_weighted(q, _ID_WEIGHTS[14:17]) for q in _SEQ3)


def _cc_check(first17: str) -> str:
    total = sum(map(mul, map(_CC_VALUES.__getitem__, first17), _CC_WEIGHTS))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


_SURNAMES: Final = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
)
_GIVEN: Final = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国红梅海燕志鹏晓东立新文"
_COMPANY_WORDS: Final = (
    "黄河",
    "胜利",
    "石化",
    "宏远",
    "海洋",
    "新材料",
    "农业",
    "物流",
    "建工",
    "盐化",
    "港航",
    "科技",
    "生态",
    "湿地",
    "汇丰",
    "鑫源",
)
_COMPANY_KINDS: Final = ("有限公司", "股份有限公司", "有限责任公司", "合作社", "个体工商户")
_STAFF: Final = tuple(f"{s}{g}" for s in "王李张刘陈杨赵孙" for g in "明华静军红丽")
_SPECIAL_KINDS: Final = (
    "expert_review",
    "inspection",
    "testing",
    "appraisal",
    "hearing",
    "on_site_survey",
)


@dataclass(frozen=True)
class CaseProfile:
    """The shares (0–1) that shape the histories; the defaults give ~5 events per case.

    Outcome shares are of all cases (the rest are approved); path shares are of accepted
    cases. ``late`` is the share of accepted cases concluded after the promised deadline.
    """

    withdrawn_before_acceptance: float = 0.02
    not_accepted: float = 0.03
    refused: float = 0.01
    supplement: float = 0.40
    special_procedure: float = 0.12
    joint_processing: float = 0.45
    denied: float = 0.05
    tolerated_gaps: float = 0.05
    withdrawn: float = 0.02
    revoked: float = 0.005
    late: float = 0.04
    legal_person: float = 0.35
    channels: tuple[tuple[str, float], ...] = (("window", 0.55), ("online", 0.30), ("mobile", 0.15))


class SampleCase(NamedTuple):
    """One generated case: its JSON-ready dict and its events' dicts in sequence order."""

    case: dict[str, Any]
    events: list[dict[str, Any]]

    def models(self) -> tuple[Case, list[CaseStatusEvent]]:
        """The case and events validated into models.

        Raises:
            ValidationError: never for generated data (a bug if it does).
        """
        return parse_case(self.case), [parse_case_event(e) for e in self.events]


@dataclass
class _ItemFacts:
    """What the generator needs of an item, as plain values (no model access per case)."""

    implementation_code: str
    hall: str
    office: str
    department_name: str
    department_code: str
    promised_days: int  # working days (natural days converted roughly); 0 = on the spot
    special_kinds: tuple[str, ...]
    sequence_today: int = field(default=0)


def _facts(items: Iterable[Item]) -> list[_ItemFacts]:
    registry = default_regions()
    facts = []
    for item in items:
        if item.state in (ItemState.CANCELLED, ItemState.SUSPENDED):
            continue  # no new cases for an item out of force
        region = str(item.region_code)
        if region not in registry or not registry.get(region).hall:
            continue
        promised = item.promised_limit
        if promised.unit is TimeUnit.ON_THE_SPOT:
            days = 0
        elif promised.unit is TimeUnit.NATURAL_DAYS:
            days = max(1, promised.amount * 5 // 7)
        else:
            days = promised.amount
        kinds = tuple(p.kind.value for p in item.special_procedures) or _SPECIAL_KINDS
        facts.append(
            _ItemFacts(
                implementation_code=item.implementation_code,
                hall=registry.canonical(region),
                office=item.department.name,
                department_name=item.department.name,
                department_code=str.__str__(item.department.credit_code),
                promised_days=days,
                special_kinds=kinds,
            )
        )
    # Sorted so the output does not depend on the order the catalog happened to list items in.
    facts.sort(key=lambda f: f.implementation_code)
    return facts


class _Generator:
    """The state of one generation run (random stream, calendar, day counters)."""

    def __init__(
        self,
        items: Iterable[Item],
        *,
        seed: int,
        profile: CaseProfile,
        calendar: WorkingCalendar,
        end: datetime,
    ) -> None:
        self.facts = _facts(items)
        if not self.facts:
            raise ValueError("no items at a known hall to generate cases for")
        # Sample data, not secrets: a seeded PRNG is the point (reproducible output).
        self.rng = random.Random(seed)  # noqa: S311 - reproducible sample data, not secrets
        self.random = self.rng.random
        self.day_text: dict[date, str] = {}
        self.region_sums: dict[str, int] = {}
        self.profile = profile
        self.calendar = calendar
        self.end = end
        self.after_end = end.date() + timedelta(days=1)
        # Event times are compared as strings: one fixed format and zone makes that exact.
        self.end_stamp = end.astimezone(CHINA_TZ).strftime("%Y-%m-%dT%H:%M:%S+08:00")
        # Popular items get most cases (a Zipf-like spread over a seeded shuffle).
        order = list(range(len(self.facts)))
        self.rng.shuffle(order)
        weights = [0.0] * len(order)
        for rank, index in enumerate(order):
            weights[index] = 1.0 / (rank + 1) ** 0.9
        self.cum_weights = list(accumulate(weights))
        self.channel_names = [c for c, _ in profile.channels]
        self.channel_cum = list(accumulate(w for _, w in profile.channels))

    # --- time helpers (day as a date, minute of day) -------------------------------------

    def later(self, day: date, minute: int, working_days: int) -> tuple[date, int]:
        """A time ``working_days`` working days after (day, minute); 0 = later the same day."""
        if working_days == 0:
            minute += self.ri(5, 120)
            if minute <= _CLOSE:
                return day, minute
            working_days = 1
        return self.add_days(day, working_days), self.ri(_OPEN, _CLOSE)

    def add_days(self, day: date, working_days: int) -> date:
        """``add_working_days``, except that past the period's end any later day will do.

        Events after the end are dropped anyway, and the year after a period ending on
        31 December may have no holiday data yet.
        """
        try:
            return self.calendar.add_working_days(day, working_days)
        except CalendarDataMissing:
            # Only reachable past the period (its own days were checked up front).
            return self.after_end

    # random.Random's randint/choice are several Python calls each; these are one, and the
    # generator makes millions of draws for a year.
    def ri(self, low: int, high: int) -> int:
        """A uniform integer in [low, high]."""
        return low + int(self.random() * (high - low + 1))

    def below(self, n: int) -> int:
        """A uniform integer in [0, n)."""
        return int(self.random() * n)

    def pick(self, options: Sequence[_T]) -> _T:
        """A uniform choice."""
        return options[int(self.random() * len(options))]

    def day_digits(self, day: date) -> str:
        return self.stamp(day, 0)[:10].replace("-", "")

    def stamp(self, day: date, minute: int) -> str:
        text = self.day_text.get(day)
        if text is None:
            text = self.day_text[day] = day.isoformat()
        return f"{text}T{_HHMM[minute]}:00+08:00"

    # --- applicants ----------------------------------------------------------------------

    def person(self, hall: str) -> dict[str, Any]:
        # Born in a district of the hall's city (a city hall's own code is no birthplace).
        region = hall if hall[4:] != "00" else hall[:4] + "02"
        region_sum = self.region_sums.get(region)
        if region_sum is None:
            region_sum = self.region_sums[region] = _weighted(region, _ID_WEIGHTS[:6])
        born = self.below(len(_BIRTH_DAYS))
        sequence = self.below(1000)
        first17 = region + _BIRTH_DAYS[born] + _SEQ3[sequence]
        check = "10X98765432"[(region_sum + _BIRTH_SUMS[born] + _SEQ_SUMS[sequence]) % 11]
        name = self.pick(_SURNAMES) + self.pick(_GIVEN)
        if self.random() < 0.6:
            name += self.pick(_GIVEN)
        person: dict[str, Any] = {
            "kind": "natural_person",
            "name": name,
            "id_number": first17 + check,
        }
        if self.random() < 0.8:
            person["phone"] = f"1{self.pick('3456789')}{self.below(10**9):09d}"
        return person

    def organisation(self, hall: str) -> dict[str, Any]:
        kind = self.pick(_COMPANY_KINDS)
        category = "92" if kind == "个体工商户" else "93" if kind == "合作社" else "91"
        body = "".join([self.pick(_CC_ALPHABET) for _ in range(8)])
        first17 = f"{category}{hall}{body}{organisation_code_check_character(body)}"
        name = "东营" + self.pick(_COMPANY_WORDS) + self.pick(_COMPANY_WORDS) + kind
        return {
            "kind": "legal_person",
            "name": name,
            "credit_code": first17 + _cc_check(first17),
            "agent": self.person(hall),
        }

    # --- one case ------------------------------------------------------------------------

    def case(self, facts: _ItemFacts, day: date, minute: int) -> SampleCase:
        rng = self.rng
        profile = self.profile
        facts.sequence_today += 1
        if facts.sequence_today > 9999:
            raise ValueError(
                f"more than 9999 cases of one item on {day}: the sequence has 4 digits"
            )
        # make_case_number's form, without re-checking a code that came from a valid item.
        number = f"{facts.implementation_code}{self.day_digits(day)}{facts.sequence_today:04d}"
        channel = self.channel_names[_pick(self.channel_cum, rng.random() * self.channel_cum[-1])]
        applicant = (
            self.organisation(facts.hall)
            if rng.random() < profile.legal_person
            else self.person(facts.hall)
        )
        received = self.stamp(day, minute)
        case = {
            "case_number": number,
            "implementation_code": facts.implementation_code,
            "hall": facts.hall,
            "applicant": applicant,
            "channel": channel,
            "received_at": received,
        }
        events: list[dict[str, Any]] = []
        end_stamp = self.end_stamp
        handler = self.pick(_STAFF)
        hall = facts.hall

        def add(status: str, when: tuple[date, int], **extra: Any) -> bool:
            """Append an event unless it falls after the period's end (the case stays open)."""
            stamp = self.stamp(*when)
            if stamp > end_stamp:
                return False
            event = {
                "case_number": number,
                "sequence": len(events) + 1,
                "status": status,
                "time": stamp,
                "hall": hall,
                "handler": handler,
                "office": facts.office,
            }
            event.update(extra)
            events.append(event)
            return True

        add("received", (day, minute))
        roll = rng.random()
        threshold = profile.withdrawn_before_acceptance
        when = self.later(day, minute, self.pick((0, 0, 1)))
        if roll < threshold:
            add("withdrawn_before_acceptance", when, opinion="申请人撤回申请")
            return SampleCase(case, events)
        threshold += profile.not_accepted
        if roll < threshold:
            add("not_accepted", when, opinion="申请材料不齐全，不予受理", **self.org(facts))
            return SampleCase(case, events)
        threshold += profile.refused
        if roll < threshold:
            add("refused", when, opinion="申请事项不属于本机关职权范围", **self.org(facts))
            return SampleCase(case, events)

        accepted = when
        if not add("accepted", accepted, **self.org(facts)):
            return SampleCase(case, events)
        limit = facts.promised_days
        late = rng.random() < profile.late
        # Net working days the case takes (acceptance day not counted).
        if limit == 0:
            target = self.ri(1, 2) if late else 0
        elif late:
            target = limit + self.ri(1, 4)
        else:
            target = max(1, round(limit * rng.uniform(0.2, 1.0)))
        cursor = self.later(*accepted, 0 if limit == 0 else self.pick((0, 1)))
        cursor = min(cursor, self.calendar_time(accepted, target))
        if not add("processing", cursor):
            return SampleCase(case, events)
        paused = 0
        if limit and rng.random() < profile.joint_processing:
            cursor = self.later(*cursor, self.pick((0, 1)))
            if not add("processing", cursor, office=facts.office + "（会办）"):
                return SampleCase(case, events)
        for kind, share in (
            ("supplement", profile.supplement),
            ("special_procedure", profile.special_procedure),
        ):
            if not limit or rng.random() >= share:
                continue
            start = self.later(*cursor, self.pick((0, 1)))
            length = self.ri(1, 5) if kind == "supplement" else self.ri(2, 10)
            stop = self.later(*start, length)
            if kind == "supplement":
                ok = add("supplement_start", start, opinion="请补正申请材料")
            else:
                ok = add(
                    "special_procedure_start",
                    start,
                    special_procedure=self.pick(facts.special_kinds),
                    opinion="进入特别程序",
                )
            if not ok:
                return SampleCase(case, events)
            if rng.random() < profile.withdrawn / 4:
                # The applicant gives up during the pause.
                add("withdrawn", self.later(*start, self.ri(1, 3)), opinion="申请人撤回")
                return SampleCase(case, events)
            if not add(f"{kind}_end", stop):
                return SampleCase(case, events)
            paused += self.calendar.working_days_between(start[0], stop[0])
            cursor = stop
        conclusion = self.calendar_time(accepted, target + paused)
        if conclusion <= cursor:
            conclusion = self.later(*cursor, 0)
        roll = rng.random()
        outcomes = (
            ("denied", profile.denied, "不符合法定条件，不予许可"),
            ("approved_with_tolerated_gaps", profile.tolerated_gaps, "容缺受理，准予许可"),
            ("withdrawn", profile.withdrawn, "申请人撤回申请"),
            ("revoked", profile.revoked, "依法撤销"),
        )
        status, opinion = "approved", "符合法定条件，准予许可"
        for name, share, text in outcomes:
            if roll < share:
                status, opinion = name, text
                break
            roll -= share
        add(status, conclusion, opinion=opinion, **self.org(facts))
        return SampleCase(case, events)

    def calendar_time(self, start: tuple[date, int], working_days: int) -> tuple[date, int]:
        """A time on the ``working_days``-th working day after ``start`` (same day for 0)."""
        if working_days <= 0:
            return start[0], min(_CLOSE, start[1] + self.ri(10, 90))
        return self.add_days(start[0], working_days), self.ri(_OPEN, _CLOSE)

    @staticmethod
    def org(facts: _ItemFacts) -> dict[str, str]:
        return {
            "organisation_name": facts.department_name,
            "organisation_credit_code": facts.department_code,
        }


def _pick(cumulative: Sequence[float], x: float) -> int:
    return min(bisect_right(cumulative, x), len(cumulative) - 1)


def generate_cases(
    items: Iterable[Item],
    *,
    cases: int = SAMPLE_CASES_COUNT,
    start: date = SAMPLE_CASES_PERIOD[0],
    end: date = SAMPLE_CASES_PERIOD[1],
    seed: int = SAMPLE_CASES_SEED,
    profile: CaseProfile | None = None,
    calendar: WorkingCalendar | None = None,
) -> Iterator[SampleCase]:
    """Yield ``cases`` cases received on the working days from ``start`` to ``end``.

    Cases are spread evenly over the working days (receipt times in office hours, increasing
    within a day); events after the end of ``end`` are left out, so late cases are still open.
    Streaming: one case at a time; memory does not grow with ``cases``.

    Raises:
        ValueError: no item has a known hall, ``cases`` < 0, or no working day in the period.
        CalendarDataMissing: the period (or a deadline) lies in a year without holiday data.
    """
    if cases < 0:
        raise ValueError("cases must not be negative")
    calendar = calendar or WorkingCalendar()
    period_end = datetime(end.year, end.month, end.day, 23, 59, 59, tzinfo=CHINA_TZ)
    generator = _Generator(
        items, seed=seed, profile=profile or CaseProfile(), calendar=calendar, end=period_end
    )
    days = [d for d in _dates(start, end) if calendar.is_working_day(d)]
    if not days:
        raise ValueError("no working day between start and end")
    rng = generator.rng
    facts = generator.facts
    cum = generator.cum_weights
    total = cum[-1]
    per_day, extra = divmod(cases, len(days))
    for index, day in enumerate(days):
        for f in facts:
            f.sequence_today = 0
        count = per_day + (1 if index < extra else 0)
        if not count:
            continue
        step = (_LAST_RECEIPT - _OPEN) / count
        for n in range(count):
            minute = _OPEN + int(n * step)
            chosen = facts[_pick(cum, rng.random() * total)]
            yield generator.case(chosen, day, minute)


def _dates(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def year_of_cases(
    items: Iterable[Item],
    *,
    year: int = 2026,
    cases: int = 130_000,
    seed: int = SAMPLE_CASES_SEED,
    calendar: WorkingCalendar | None = None,
) -> Iterator[SampleCase]:
    """A year's volume for benchmarks: 130,000 cases, about 650,000 events (streamed).

    Raises:
        CalendarDataMissing: ``year`` has no holiday data.
    """
    return generate_cases(
        items,
        cases=cases,
        start=date(year, 1, 1),
        end=date(year, 12, 31),
        seed=seed,
        calendar=calendar,
    )


def iter_events(cases: Iterable[SampleCase], *, order: str = "case") -> Iterator[dict[str, Any]]:
    """Flatten generated cases into event dicts.

    ``order="case"`` keeps each case's events together (cases in receipt order);
    ``order="time"`` merges them into time order (ties by case number and sequence) through a
    heap that only holds the events of cases received so far and not yet emitted.
    """
    if order == "case":
        for sample in cases:
            yield from sample.events
        return
    if order != "time":
        raise ValueError("order must be 'case' or 'time'")
    heap: list[tuple[str, str, int, dict[str, Any]]] = []
    for sample in cases:
        received = sample.case["received_at"]
        while heap and heap[0][0] < received:
            yield heapq.heappop(heap)[3]
        for event in sample.events:
            heapq.heappush(heap, (event["time"], event["case_number"], event["sequence"], event))
    while heap:
        yield heapq.heappop(heap)[3]


def sample_case_records(cases: Iterable[SampleCase]) -> Iterator[dict[str, Any]]:
    """NDJSON records: ``{"kind": "case", ...}`` followed by ``{"kind": "event", ...}`` lines."""
    for sample in cases:
        yield {"kind": "case", **sample.case}
        for event in sample.events:
            yield {"kind": "event", **event}


def _dump(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def write_sample_cases(path: str | Path, items: Iterable[Item] | None = None) -> int:
    """(Re)write the bundled sample to ``path`` from the sample catalog; returns line count."""
    if items is None:
        from ._catalog import load_sample_catalog

        items = load_sample_catalog().items
    lines = 0
    with Path(path).open("w", encoding="utf-8", newline="\n") as out:
        for record in sample_case_records(generate_cases(items)):
            out.write(_dump(record) + "\n")
            lines += 1
    return lines


def read_case_records(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Decode NDJSON lines (blank lines skipped); ``line`` numbers are added as ``_line``.

    Raises:
        ValidationError: a line is not a JSON object; the field names the line (``line 3``),
            the rule is ``json`` (not JSON, or a number too long to read), ``depth`` (nested
            too deeply) or ``type`` (JSON, but not an object).
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"not JSON ({exc.msg})", field=where, rule="json") from None
        except RecursionError:
            raise ValidationError("nested too deeply", field=where, rule="depth") from None
        except ValueError as exc:  # e.g. an integer of more than 4300 digits
            raise ValidationError(f"not readable JSON ({exc})", field=where, rule="json") from None
        if not isinstance(record, dict):
            raise ValidationError("not a JSON object", field=where, rule="type")
        record["_line"] = number
        yield record


def load_sample_cases() -> tuple[list[Case], list[CaseStatusEvent]]:
    """The bundled sample cases and their events, validated into models.

    Raises:
        ValidationError: the bundled file is corrupt (a packaging bug).
    """
    text = resources.files("govlink.samples").joinpath(SAMPLE_CASES_FILE).read_text("utf-8")
    cases: list[Case] = []
    events: list[CaseStatusEvent] = []
    for record in read_case_records(text.splitlines()):
        kind = record.pop("kind")
        record.pop("_line")
        if kind == "case":
            cases.append(parse_case(record))
        else:
            events.append(parse_case_event(record))
    return cases, events
