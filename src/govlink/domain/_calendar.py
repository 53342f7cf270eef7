"""Working days (工作日) for deadline arithmetic.

A :class:`WorkingCalendar` answers "is this a working day?" and "which date is the N-th working
day after this one?". Working days exclude weekends and statutory holidays (法定节假日) and
INCLUDE the make-up working days (调休上班) the State Council moves onto weekends.

Where the data comes from, per year, first match wins:

1. operator-supplied holiday files (:func:`load_holiday_file`, format in ``docs/calendar.md``),
   so an operator can add next year's schedule (published late in the previous year) or correct
   a year;
2. the ``chinese-calendar`` package (2004–2026 in version 1.11);
3. only when the operator turned it on (``allow_weekend_fallback``): weekends-only, with a
   warning logged once per year;
4. otherwise :class:`govlink.CalendarDataMissing`: never silently guess a holiday schedule.

Each year is computed once into a sorted tuple of working-day ordinals, so ``add_working_days``
and ``working_days_between`` are a bisect or two per year touched.

One cohesive concept, hence one module despite its length: the working-day calendar and its
holiday-file format.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import tomllib
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Final

from .._clock import CHINA_TZ
from .._errors import CalendarDataMissing, FieldProblem, ValidationError

__all__ = [
    "CALENDAR_YEARS",
    "MAX_HOLIDAY_FILE_BYTES",
    "MAX_RANGE_DAYS",
    "HolidayYear",
    "WorkingCalendar",
    "china_date",
    "load_holiday_file",
    "package_years",
]

_log = logging.getLogger("govlink.domain.calendar")

#: Format tag every holiday file carries, so a future format can be told apart.
HOLIDAY_FILE_FORMAT: Final = "govlink-holidays/1"

#: The years a calendar answers questions about and a holiday file may describe. Outside them
#: every question raises :class:`govlink.CalendarDataMissing` (a weekend fallback included), so
#: a count that runs away (a time in year 9999, a huge number of days) ends quickly.
CALENDAR_YEARS: Final = range(1900, 2201)
#: The largest holiday file govlink reads: a year's schedule is well under a kilobyte.
MAX_HOLIDAY_FILE_BYTES: Final = 1 << 20
#: The most days one ``start..end`` range may cover. The longest block of days off so far is
#: 9 days (Spring Festival); a longer range is a typo, not a schedule.
MAX_RANGE_DAYS: Final = 31
#: The most entries one ``holidays`` or ``makeup_workdays`` list may have (a year has 366 days).
MAX_DAYS_PER_LIST: Final = 366
#: The most problems one loading error lists; a last problem counts the rest.
MAX_PROBLEMS: Final = 20

_HOW_TO_SUPPLY: Final = (
    "add the State Council's holiday schedule for that year in a holiday file "
    "(Settings.holiday_files / GOVLINK_HOLIDAY_FILES; format in docs/calendar.md), "
    "or turn on allow_weekend_fallback to count weekends only"
)


def china_date(when: datetime | date, *, field: str = "time") -> date:
    """The calendar date of ``when`` in China (UTC+8); a ``date`` is returned unchanged.

    ``field`` names the value in errors.

    Raises:
        ValidationError: rule ``timezone_aware`` (a naive datetime: its day would be a guess)
            or ``range`` (an aware time so close to year 1 or 9999 that its day in China
            cannot be represented).
    """
    if isinstance(when, datetime):
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValidationError(
                "naive datetime: working days need a timezone-aware time",
                field=field,
                rule="timezone_aware",
            )
        try:
            return when.astimezone(CHINA_TZ).date()
        except OverflowError:
            raise ValidationError(
                "the day in China is outside the representable dates", field=field, rule="range"
            ) from None
    return when


class _Problems:
    """Collects a loader's problems; keeps the first :data:`MAX_PROBLEMS` and counts the rest,
    so a file with a million bad dates costs a counter, not a million problems."""

    def __init__(self, origin: str = "") -> None:
        self.prefix = f"{origin}: " if origin else ""
        self.found: list[FieldProblem] = []
        self.hidden = 0
        self.first_hidden = ""

    def add(self, field: str, rule: str, message: str) -> None:
        field = field or "(root)"
        if len(self.found) < MAX_PROBLEMS:
            self.found.append(FieldProblem(field, rule, self.prefix + message))
        else:
            self.hidden += 1
            self.first_hidden = self.first_hidden or field

    def raise_if_any(self) -> None:
        """Raise the collected problems (the first :data:`MAX_PROBLEMS`, then a count).

        Raises:
            ValidationError: at least one problem was collected.
        """
        if not self.found:
            return
        shown = list(self.found)
        if self.hidden:
            shown.append(
                FieldProblem(
                    self.first_hidden,
                    "more_problems",
                    f"{self.prefix}{self.hidden} more problem(s) not listed, the first of them "
                    "at this field",
                )
            )
        raise ValidationError(problems=shown)


@dataclass(frozen=True, slots=True)
class HolidayYear:
    """One year's rest-day schedule as published by the State Council.

    ``holidays`` are the days off (法定节假日 and the weekend days folded into them);
    ``makeup_workdays`` are the weekend days worked instead (调休上班). ``source`` says where the
    data came from (the notice's number, a URL, ``"chinese-calendar 1.11.0"``).

    Raises:
        ValidationError: a date outside ``year``, or a date both a holiday and a make-up day.
    """

    year: int
    holidays: frozenset[date]
    makeup_workdays: frozenset[date]
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.year, int) or isinstance(self.year, bool):
            raise TypeError("HolidayYear.year must be an int")
        problems = _Problems()
        _check_year(self.year, self.holidays, self.makeup_workdays, f"years[{self.year}]", problems)
        problems.raise_if_any()

    def working_ordinals(self) -> tuple[int, ...]:
        """The year's working days as sorted date ordinals."""
        return _working_ordinals(self.year, self.holidays, self.makeup_workdays)


def _check_year(
    year: int,
    holidays: frozenset[date],
    makeup: frozenset[date],
    where: str,
    problems: _Problems,
) -> None:
    """Add the problems of one year's schedule (the year, dates in it, no day both ways)."""
    if year not in CALENDAR_YEARS:
        problems.add(
            f"{where}.year",
            "year",
            f"must be a year {CALENDAR_YEARS.start}-{CALENDAR_YEARS.stop - 1}",
        )
        return
    for name, days in (("holidays", holidays), ("makeup_workdays", makeup)):
        for day in sorted(day for day in days if day.year != year):
            problems.add(
                f"{where}.{name}", "date_outside_year", f"{day.isoformat()} is not in {year}"
            )
    both = holidays & makeup
    if both:
        problems.add(
            f"{where}.makeup_workdays",
            "holiday_and_workday",
            f"{min(both).isoformat()} is listed both as a holiday and a make-up day",
        )


def _working_ordinals(
    year: int, holidays: Iterable[date], makeup: Iterable[date]
) -> tuple[int, ...]:
    off = {d.toordinal() for d in holidays}
    on = {d.toordinal() for d in makeup}
    first = date(year, 1, 1).toordinal()
    last = date(year, 12, 31).toordinal()
    days = []
    for ordinal in range(first, last + 1):
        # date.weekday() of an ordinal: ordinal 1 (0001-01-01) was a Monday.
        weekday = (ordinal - 1) % 7
        if ordinal in on or (weekday < 5 and ordinal not in off):
            days.append(ordinal)
    return tuple(days)


def _package_tables() -> tuple[Mapping[date, Any], Mapping[date, Any], str]:
    import chinese_calendar
    from chinese_calendar import constants

    version = getattr(chinese_calendar, "__version__", "?")
    return constants.holidays, constants.workdays, f"chinese-calendar {version}"


@cache
def package_years() -> range:
    """The years the installed ``chinese-calendar`` package covers (e.g. 2004–2026)."""
    holidays, _, _ = _package_tables()
    years = [d.year for d in holidays]
    return range(min(years), max(years) + 1)


def _package_year(year: int) -> HolidayYear | None:
    holidays, workdays, source = _package_tables()
    if year not in package_years():
        return None
    return HolidayYear(
        year=year,
        holidays=frozenset(d for d in holidays if d.year == year),
        makeup_workdays=frozenset(d for d in workdays if d.year == year),
        source=source,
    )


_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _iso_day(text: str) -> date | None:
    # Only YYYY-MM-DD: date.fromisoformat alone would also take 20270101 and 2027-W01-1.
    text = text.strip()
    if _ISO_DAY.fullmatch(text) is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _parse_day(value: object, where: str, year: int) -> list[date]:
    """A date ``"2027-02-06"`` or an inclusive range ``"2027-02-06..2027-02-12"`` in ``year``.

    Raises:
        ValidationError: rules ``date``, ``date_outside_year``, ``range``, ``range_too_long``.
    """
    if not isinstance(value, str):
        if isinstance(value, date) and not isinstance(value, datetime):
            start = end = value  # TOML dates arrive as date objects
        else:
            raise ValidationError(
                "must be a date string YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD",
                field=where,
                rule="date",
            )
    else:
        start_text, sep, end_text = value.partition("..")
        first = _iso_day(start_text)
        last = _iso_day(end_text) if sep else first
        if first is None or last is None:
            raise ValidationError(
                "must be YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD", field=where, rule="date"
            )
        start, end = first, last
    if start.year != year or end.year != year:
        outside = start if start.year != year else end
        raise ValidationError(
            f"{outside.isoformat()} is not in {year}", field=where, rule="date_outside_year"
        )
    if end < start:
        raise ValidationError("the range ends before it starts", field=where, rule="range")
    span = (end - start).days + 1
    if span > MAX_RANGE_DAYS:
        raise ValidationError(
            f"the range covers {span} days; a range may cover at most {MAX_RANGE_DAYS} "
            "(list longer stretches as several ranges)",
            field=where,
            rule="range_too_long",
        )
    return [start + timedelta(days=i) for i in range(span)]


def parse_holiday_data(data: object, *, origin: str = "holiday data") -> list[HolidayYear]:
    """Build :class:`HolidayYear` objects from a decoded holiday file (JSON or TOML).

    Raises:
        ValidationError: the data does not follow ``govlink-holidays/1``; each problem names
            the field (``years[0].holidays[3]``) and the rule, and its message the origin
            (the file). At most :data:`MAX_PROBLEMS` problems are listed, then a last one
            (rule ``more_problems``) counts the rest.
    """
    if not isinstance(data, dict):
        raise ValidationError(f"{origin}: must be an object", field="(root)", rule="type")
    problems = _Problems(origin)
    if data.get("format") != HOLIDAY_FILE_FORMAT:
        problems.add("format", "format", f"must say format = {HOLIDAY_FILE_FORMAT!r}")
    for key in sorted(map(str, data)):
        if key not in {"format", "source", "years"}:
            problems.add(key, "extra", f"unknown key {key!r}")
    default_source = data.get("source", "")
    if not isinstance(default_source, str):
        problems.add("source", "type", "must be a string")
        default_source = ""
    years = data.get("years")
    if not isinstance(years, list) or not years:
        problems.add("years", "required", "needs a non-empty list of years")
        years = []
    result: list[HolidayYear] = []
    seen: set[int] = set()
    for index, entry in enumerate(years):
        built = _parse_year(entry, f"years[{index}]", default_source, seen, problems)
        if built is not None:
            result.append(built)
    problems.raise_if_any()
    return result


def _parse_year(
    entry: object, where: str, default_source: str, seen: set[int], problems: _Problems
) -> HolidayYear | None:
    """One ``years[i]`` entry, or ``None`` with its problems added."""
    if not isinstance(entry, dict):
        problems.add(where, "type", "must be an object")
        return None
    for key in sorted(map(str, entry)):
        if key not in {"year", "source", "holidays", "makeup_workdays"}:
            problems.add(f"{where}.{key}", "extra", f"unknown key {key!r}")
    year = entry.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or year not in CALENDAR_YEARS:
        problems.add(
            f"{where}.year",
            "year",
            f"must be a year {CALENDAR_YEARS.start}-{CALENDAR_YEARS.stop - 1}",
        )
        return None
    if year in seen:
        problems.add(f"{where}.year", "duplicate_year", f"year {year} appears twice")
    seen.add(year)
    source = entry.get("source", default_source)
    if not isinstance(source, str) or not source.strip():
        problems.add(
            f"{where}.source",
            "source_required",
            "say where the schedule comes from (the State Council notice)",
        )
    before = len(problems.found) + problems.hidden
    days: dict[str, frozenset[date]] = {}
    for name in ("holidays", "makeup_workdays"):
        raw = entry.get(name, [])
        found: set[date] = set()
        if not isinstance(raw, list):
            problems.add(f"{where}.{name}", "type", "must be a list")
        elif len(raw) > MAX_DAYS_PER_LIST:
            problems.add(
                f"{where}.{name}",
                "too_many",
                f"{len(raw)} entries; at most {MAX_DAYS_PER_LIST} (use ranges)",
            )
        else:
            for i, value in enumerate(raw):
                try:
                    found.update(_parse_day(value, f"{where}.{name}[{i}]", year))
                except ValidationError as exc:
                    for problem in exc.problems:
                        problems.add(problem.field, problem.rule, problem.message)
        days[name] = frozenset(found)
    _check_year(year, days["holidays"], days["makeup_workdays"], where, problems)
    if len(problems.found) + problems.hidden != before or not isinstance(source, str):
        return None
    return HolidayYear(
        year=year,
        holidays=days["holidays"],
        makeup_workdays=days["makeup_workdays"],
        source=source,
    )


def load_holiday_file(path: str | Path) -> list[HolidayYear]:
    """Read an operator holiday file (``.toml`` or ``.json``; see ``docs/calendar.md``).

    The file must be UTF-8 (a byte-order mark is allowed) and at most
    :data:`MAX_HOLIDAY_FILE_BYTES` long.

    Raises:
        ValidationError: every problem names the file in its message and the field and rule:
            field ``path`` with rule ``unreadable``, ``too_large``, ``encoding``, ``syntax``
            or ``depth`` (nested too deeply to read); otherwise the offending entry (see
            :func:`parse_holiday_data`).
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_HOLIDAY_FILE_BYTES + 1)
    except OSError as exc:
        raise ValidationError(
            f"cannot read holiday file {path}: {exc.strerror or exc}",
            field="path",
            rule="unreadable",
        ) from None
    if len(raw) > MAX_HOLIDAY_FILE_BYTES:
        raise ValidationError(
            f"holiday file {path} is larger than {MAX_HOLIDAY_FILE_BYTES} bytes",
            field="path",
            rule="too_large",
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        hint = " (it looks like UTF-16)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise ValidationError(
            f"holiday file {path} is not UTF-8 text{hint}: byte {exc.start} cannot be decoded; "
            "save it as UTF-8 (GBK and UTF-16 are not read)",
            field="path",
            rule="encoding",
        ) from None
    kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
    try:
        data: object = tomllib.loads(text) if kind == "TOML" else json.loads(text)
    except RecursionError:
        raise ValidationError(
            f"holiday file {path} is nested too deeply to be a holiday file",
            field="path",
            rule="depth",
        ) from None
    except ValueError as exc:  # TOMLDecodeError, JSONDecodeError, and ints too long to read
        raise ValidationError(
            f"holiday file {path} is not valid {kind}: {exc}", field="path", rule="syntax"
        ) from None
    return parse_holiday_data(data, origin=str(path))


@dataclass
class WorkingCalendar:
    """Working days in China, from operator data, ``chinese-calendar``, or (opt-in) weekends.

    Thread-safe; each year is computed once. Dates are calendar dates in China: pass ``date``
    objects or aware datetimes (converted to UTC+8).

    Raises (from every query):
        CalendarDataMissing: the year has no data and ``allow_weekend_fallback`` is off.
    """

    holiday_years: Iterable[HolidayYear] = ()
    allow_weekend_fallback: bool = False
    use_package: bool = True
    _operator: dict[int, HolidayYear] = field(init=False, repr=False)
    _years: dict[int, tuple[int, ...]] = field(init=False, repr=False, default_factory=dict)
    _sets: dict[int, frozenset[int]] = field(init=False, repr=False, default_factory=dict)
    _sources: dict[int, str] = field(init=False, repr=False, default_factory=dict)
    _missing: dict[int, str] = field(init=False, repr=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._operator = {}
        for year_data in self.holiday_years:
            self._operator[year_data.year] = year_data
        self.holiday_years = tuple(self._operator.values())

    @classmethod
    def from_files(
        cls, paths: Iterable[str | Path], *, allow_weekend_fallback: bool = False
    ) -> WorkingCalendar:
        """A calendar with the years in these holiday files (later files win for a year).

        Raises:
            ValidationError: a file is unreadable or malformed.
        """
        years = [year for path in paths for year in load_holiday_file(path)]
        return cls(years, allow_weekend_fallback=allow_weekend_fallback)

    @classmethod
    def from_settings(cls, settings: Any) -> WorkingCalendar:
        """A calendar from :class:`govlink.Settings` (holiday files, weekend fallback).

        Raises:
            ValidationError: a holiday file is unreadable or malformed.
        """
        return cls.from_files(
            settings.holiday_files, allow_weekend_fallback=settings.allow_weekend_fallback
        )

    # --- year data ------------------------------------------------------------------------

    def _year(self, year: int) -> tuple[int, ...]:
        days = self._years.get(year)
        if days is not None:
            return days
        missing = self._missing.get(year)
        if missing is not None:
            # Asked again (e.g. a generator probing past its period): same error, no rework.
            raise CalendarDataMissing(missing)
        if year not in CALENDAR_YEARS:
            # Not even the weekend fallback goes here: a count that runs into year 9999 is a
            # runaway (a huge number of days, a mistyped year), not a deadline.
            raise CalendarDataMissing(
                f"no holiday data for {year}: govlink's calendar covers "
                f"{CALENDAR_YEARS.start}-{CALENDAR_YEARS.stop - 1}"
            )
        with self._lock:
            days = self._years.get(year)
            if days is None:
                try:
                    days, source = self._compute(year)
                except CalendarDataMissing as exc:
                    self._missing[year] = exc.message
                    raise
                self._sets[year] = frozenset(days)
                self._sources[year] = source
                self._years[year] = days
        return days

    def _compute(self, year: int) -> tuple[tuple[int, ...], str]:
        operator = self._operator.get(year)
        if operator is not None:
            return operator.working_ordinals(), operator.source
        if self.use_package:
            packaged = _package_year(year)
            if packaged is not None:
                return packaged.working_ordinals(), packaged.source
        if self.allow_weekend_fallback:
            _log.warning(
                "no holiday data for %d: counting weekends only (allow_weekend_fallback is on); "
                "deadlines in %d ignore statutory holidays and make-up days until %s",
                year,
                year,
                "a holiday file for it is added",
            )
            return _working_ordinals(year, (), ()), "weekends only (fallback)"
        covered = package_years() if self.use_package else range(0)
        extra = sorted(self._operator)
        have = (
            f"chinese-calendar covers {covered.start}-{covered.stop - 1}" if covered else ""
        ) + (f"; holiday files cover {', '.join(map(str, extra))}" if extra else "")
        raise CalendarDataMissing(
            f"no holiday data for {year} ({have or 'no data loaded'}): {_HOW_TO_SUPPLY}"
        )

    def source(self, year: int) -> str:
        """Where the year's schedule comes from (notice, package version, or fallback).

        Raises:
            CalendarDataMissing: no data for ``year`` and no fallback.
        """
        self._year(year)
        return self._sources[year]

    def has_data(self, year: int) -> bool:
        """Whether ``year`` has real holiday data (operator file or package), never raising."""
        return year in self._operator or (self.use_package and year in package_years())

    # --- queries --------------------------------------------------------------------------

    def is_working_day(self, day: date | datetime) -> bool:
        """Whether ``day`` is a working day (weekday not a holiday, or a make-up day).

        Raises:
            CalendarDataMissing: no data for that year and no fallback.
            ValidationError: a naive datetime (see :func:`china_date`).
        """
        day = china_date(day, field="day")
        sets = self._sets.get(day.year)
        if sets is None:
            self._year(day.year)
            sets = self._sets[day.year]
        return day.toordinal() in sets

    def add_working_days(self, start: date | datetime, days: int) -> date:
        """The ``days``-th working day after ``start`` (``start`` itself is not counted).

        ``days == 0`` returns ``start``'s date unchanged (a same-day, "on the spot" limit).

        Raises:
            ValidationError: ``days`` is negative (rule ``non_negative``), or ``start`` is a
                naive datetime (see :func:`china_date`).
            CalendarDataMissing: a year on the way has no data and no fallback, or lies
                outside :data:`CALENDAR_YEARS`.
            TypeError: ``days`` is not an ``int``.
        """
        if not isinstance(days, int) or isinstance(days, bool):
            raise TypeError("add_working_days needs an int number of days")
        if days < 0:
            raise ValidationError(
                f"must not be negative ({days}): working days are counted forward",
                field="days",
                rule="non_negative",
            )
        day = china_date(start, field="start")
        if days == 0:
            return day
        year = day.year
        ordinals = self._year(year)
        index = bisect_right(ordinals, day.toordinal())
        remaining = days
        while True:
            available = len(ordinals) - index
            if remaining <= available:
                return date.fromordinal(ordinals[index + remaining - 1])
            remaining -= available
            year += 1
            ordinals = self._year(year)
            index = 0

    def working_days_between(self, start: date | datetime, end: date | datetime) -> int:
        """How many working days lie after ``start`` up to and including ``end``.

        Zero when ``end`` is not after ``start``. This is the elapsed count under the
        "acceptance day not counted" convention: accepted Monday, concluded Wednesday → 2.

        Raises:
            CalendarDataMissing: a year on the way has no data and no fallback.
            ValidationError: a naive datetime (see :func:`china_date`).
        """
        first = china_date(start, field="start")
        last = china_date(end, field="end")
        if last <= first:
            return 0
        total = 0
        for year in range(first.year, last.year + 1):
            ordinals = self._year(year)
            low = bisect_right(ordinals, first.toordinal()) if year == first.year else 0
            high = bisect_right(ordinals, last.toordinal()) if year == last.year else len(ordinals)
            total += high - low
        return total

    def working_days_in(self, year: int) -> list[date]:
        """Every working day of ``year`` in order.

        Raises:
            CalendarDataMissing: no data for ``year`` and no fallback.
        """
        return [date.fromordinal(o) for o in self._year(year)]

    def next_working_day(self, day: date | datetime) -> date:
        """``day`` itself when it is a working day, else the first working day after it.

        Raises:
            CalendarDataMissing: as :meth:`is_working_day`.
        """
        d = china_date(day, field="day")
        ordinals = self._year(d.year)
        index = bisect_left(ordinals, d.toordinal())
        if index < len(ordinals):
            return date.fromordinal(ordinals[index])
        return self.add_working_days(date(d.year, 12, 31), 1)
