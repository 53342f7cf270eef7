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
"""

from __future__ import annotations

import json
import logging
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
    "HolidayYear",
    "WorkingCalendar",
    "china_date",
    "load_holiday_file",
    "package_years",
]

_log = logging.getLogger("govlink.domain.calendar")

#: Format tag every holiday file carries, so a future format can be told apart.
HOLIDAY_FILE_FORMAT: Final = "govlink-holidays/1"

_HOW_TO_SUPPLY: Final = (
    "add the State Council's holiday schedule for that year in a holiday file "
    "(Settings.holiday_files / GOVLINK_HOLIDAY_FILES; format in docs/calendar.md), "
    "or turn on allow_weekend_fallback to count weekends only"
)


def china_date(when: datetime | date) -> date:
    """The calendar date of ``when`` in China (UTC+8); a ``date`` is returned unchanged.

    Raises:
        ValueError: ``when`` is a naive datetime (its day would be a guess).
    """
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise ValueError("naive datetime: working days need a timezone-aware time")
        return when.astimezone(CHINA_TZ).date()
    return when


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
        problems = []
        for name, days in (("holidays", self.holidays), ("makeup_workdays", self.makeup_workdays)):
            for day in sorted(days):
                if day.year != self.year:
                    problems.append(
                        FieldProblem(
                            f"years[{self.year}].{name}",
                            "date_outside_year",
                            f"{day.isoformat()} is not in {self.year}",
                        )
                    )
        both = self.holidays & self.makeup_workdays
        if both:
            problems.append(
                FieldProblem(
                    f"years[{self.year}].makeup_workdays",
                    "holiday_and_workday",
                    f"{min(both).isoformat()} is listed both as a holiday and a make-up day",
                )
            )
        if problems:
            raise ValidationError(problems=problems)

    def working_ordinals(self) -> tuple[int, ...]:
        """The year's working days as sorted date ordinals."""
        return _working_ordinals(self.year, self.holidays, self.makeup_workdays)


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


def _parse_day(value: object, where: str) -> list[date]:
    """A date ``"2027-02-06"`` or an inclusive range ``"2027-02-06..2027-02-12"``."""
    if not isinstance(value, str):
        if isinstance(value, date) and not isinstance(value, datetime):
            return [value]  # TOML dates arrive as date objects
        raise ValidationError("must be a date string", field=where, rule="date")
    start_text, sep, end_text = value.partition("..")
    try:
        start = date.fromisoformat(start_text.strip())
        end = date.fromisoformat(end_text.strip()) if sep else start
    except ValueError:
        raise ValidationError(
            f"{value!r} is not YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD", field=where, rule="date"
        ) from None
    if end < start:
        raise ValidationError(f"range {value!r} ends before it starts", field=where, rule="range")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def parse_holiday_data(data: object, *, origin: str = "holiday data") -> list[HolidayYear]:
    """Build :class:`HolidayYear` objects from a decoded holiday file (JSON or TOML).

    Raises:
        ValidationError: the data does not follow ``govlink-holidays/1``; each problem names
            the field (``years[0].holidays[3]``) and the rule.
    """
    if not isinstance(data, dict):
        raise ValidationError(f"{origin}: must be an object", field="", rule="type")
    if data.get("format") != HOLIDAY_FILE_FORMAT:
        raise ValidationError(
            f"{origin}: must say format = {HOLIDAY_FILE_FORMAT!r}", field="format", rule="format"
        )
    unknown = set(data) - {"format", "source", "years"}
    if unknown:
        raise ValidationError(
            f"{origin}: unknown key {sorted(unknown)[0]!r}", field=sorted(unknown)[0], rule="extra"
        )
    years = data.get("years")
    if not isinstance(years, list) or not years:
        raise ValidationError(f"{origin}: needs a non-empty list", field="years", rule="required")
    default_source = data.get("source", "")
    result: list[HolidayYear] = []
    seen: set[int] = set()
    for index, entry in enumerate(years):
        where = f"years[{index}]"
        if not isinstance(entry, dict):
            raise ValidationError("must be an object", field=where, rule="type")
        unknown = set(entry) - {"year", "source", "holidays", "makeup_workdays"}
        if unknown:
            raise ValidationError(f"unknown key {sorted(unknown)[0]!r}", field=where, rule="extra")
        year = entry.get("year")
        if not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 2200:
            raise ValidationError("must be a year (1900-2200)", field=f"{where}.year", rule="year")
        if year in seen:
            raise ValidationError(
                f"year {year} appears twice", field=f"{where}.year", rule="duplicate_year"
            )
        seen.add(year)
        source = entry.get("source", default_source)
        if not isinstance(source, str) or not source.strip():
            raise ValidationError(
                "say where the schedule comes from (the State Council notice)",
                field=f"{where}.source",
                rule="source_required",
            )
        days: dict[str, list[date]] = {}
        for name in ("holidays", "makeup_workdays"):
            raw = entry.get(name, [])
            if not isinstance(raw, list):
                raise ValidationError("must be a list", field=f"{where}.{name}", rule="type")
            days[name] = [
                d for i, v in enumerate(raw) for d in _parse_day(v, f"{where}.{name}[{i}]")
            ]
        try:
            result.append(
                HolidayYear(
                    year=year,
                    holidays=frozenset(days["holidays"]),
                    makeup_workdays=frozenset(days["makeup_workdays"]),
                    source=source,
                )
            )
        except ValidationError as exc:
            raise ValidationError(
                problems=[
                    FieldProblem(p.field.replace(f"years[{year}]", where), p.rule, p.message)
                    for p in exc.problems
                ]
            ) from None
    return result


def load_holiday_file(path: str | Path) -> list[HolidayYear]:
    """Read an operator holiday file (``.toml`` or ``.json``; see ``docs/calendar.md``).

    Raises:
        ValidationError: the file cannot be read or decoded, or breaks the format (field
            ``path`` / the offending entry, with the rule).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(
            f"cannot read holiday file {path}: {exc.strerror}", field="path", rule="unreadable"
        ) from None
    try:
        data: object = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(
            f"holiday file {path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}",
            field="path",
            rule="syntax",
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
        """
        day = china_date(day)
        sets = self._sets.get(day.year)
        if sets is None:
            self._year(day.year)
            sets = self._sets[day.year]
        return day.toordinal() in sets

    def add_working_days(self, start: date | datetime, days: int) -> date:
        """The ``days``-th working day after ``start`` (``start`` itself is not counted).

        ``days == 0`` returns ``start``'s date unchanged (a same-day, "on the spot" limit).

        Raises:
            ValueError: ``days`` is negative.
            CalendarDataMissing: a year on the way has no data and no fallback.
        """
        if days < 0:
            raise ValueError("add_working_days counts forward only")
        day = china_date(start)
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
        """
        first = china_date(start)
        last = china_date(end)
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
        d = china_date(day)
        ordinals = self._year(d.year)
        index = bisect_left(ordinals, d.toordinal())
        if index < len(ordinals):
            return date.fromordinal(ordinals[index])
        return self.add_working_days(date(d.year, 12, 31), 1)
