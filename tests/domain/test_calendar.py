"""The working-day calendar: chinese-calendar, operator holiday files, the opt-in fallback."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import chinese_calendar
import pytest

from govlink import CHINA_TZ, CalendarDataMissing, Settings, ValidationError
from govlink.domain import HolidayYear, WorkingCalendar, load_holiday_file, package_years

D = date


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


# A made-up 2027 schedule in the documented format (the real one is published late in 2026).
HOLIDAYS_2027_TOML = """
format = "govlink-holidays/1"

[[years]]
year = 2027
source = "test schedule, shaped like a State Council notice"
holidays = ["2027-01-01", "2027-02-06..2027-02-12", 2027-10-01, "2027-10-02..2027-10-07"]
makeup_workdays = ["2027-02-14", "2027-10-09"]
"""


@pytest.fixture
def calendar() -> WorkingCalendar:
    return WorkingCalendar()


def test_package_agrees_with_the_2026_schedule() -> None:
    # The facts, checked against the package itself (not against our code).
    for day in days(D(2026, 2, 15), D(2026, 2, 23)) + days(D(2026, 10, 1), D(2026, 10, 7)):
        assert not chinese_calendar.is_workday(day), day
    for day in (D(2026, 2, 14), D(2026, 2, 28), D(2026, 9, 20), D(2026, 10, 10)):
        assert chinese_calendar.is_workday(day), day
        assert day.weekday() >= 5  # a weekend day worked: 调休


def test_working_days_match_the_package_for_all_of_2026(calendar: WorkingCalendar) -> None:
    for day in days(D(2026, 1, 1), D(2026, 12, 31)):
        assert calendar.is_working_day(day) == chinese_calendar.is_workday(day), day
    assert calendar.source(2026).startswith("chinese-calendar")
    assert 2004 in package_years()
    assert 2026 in package_years()


def test_spring_festival_2026(calendar: WorkingCalendar) -> None:
    # Thursday 12 Feb: next working days are Fri 13, Sat 14 (make-up), then Tue 24 Feb.
    assert calendar.add_working_days(D(2026, 2, 12), 1) == D(2026, 2, 13)
    assert calendar.add_working_days(D(2026, 2, 12), 2) == D(2026, 2, 14)
    assert calendar.add_working_days(D(2026, 2, 12), 3) == D(2026, 2, 24)
    # Accepted on the make-up Saturday: the day is not counted; 5 working days → 2 March?
    # 24, 25, 26, 27 Feb, 28 Feb (make-up Saturday) → 28 Feb.
    assert calendar.add_working_days(D(2026, 2, 14), 5) == D(2026, 2, 28)
    assert calendar.working_days_between(D(2026, 2, 13), D(2026, 2, 24)) == 2


def test_national_day_2026(calendar: WorkingCalendar) -> None:
    # Wed 30 Sep → Thu 8 Oct is the next working day; Sat 10 Oct is a make-up day.
    assert calendar.add_working_days(D(2026, 9, 30), 1) == D(2026, 10, 8)
    assert calendar.add_working_days(D(2026, 9, 30), 3) == D(2026, 10, 10)
    assert calendar.add_working_days(D(2026, 9, 30), 4) == D(2026, 10, 12)
    assert calendar.is_working_day(D(2026, 9, 20))  # Sunday make-up day
    assert not calendar.is_working_day(D(2026, 9, 25))  # Mid-Autumn


def test_zero_days_and_negative(calendar: WorkingCalendar) -> None:
    assert calendar.add_working_days(D(2026, 2, 15), 0) == D(2026, 2, 15)
    with pytest.raises(ValidationError, match="forward") as caught:
        calendar.add_working_days(D(2026, 2, 15), -1)
    assert (caught.value.field, caught.value.rule) == ("days", "non_negative")
    assert calendar.working_days_between(D(2026, 3, 5), D(2026, 3, 2)) == 0


def test_aware_datetimes_are_read_in_china_time(calendar: WorkingCalendar) -> None:
    # 16:30 UTC on Friday 13 Feb is 00:30 on Saturday 14 Feb in China (a make-up day).
    late = datetime(2026, 2, 13, 16, 30, tzinfo=timezone.utc)  # noqa: UP017 - explicit zone
    assert calendar.is_working_day(late)
    assert calendar.add_working_days(late, 1) == D(2026, 2, 24)
    with pytest.raises(ValidationError, match="naive") as caught:
        calendar.is_working_day(datetime(2026, 2, 13, 9))  # noqa: DTZ001 - the point of the test
    assert (caught.value.field, caught.value.rule) == ("day", "timezone_aware")


def test_counting_across_years(calendar: WorkingCalendar) -> None:
    # 31 Dec 2025 (Wed) + 1 → 1 Jan 2026 is a holiday (to 3 Jan), Sun 4 Jan is a make-up day.
    assert calendar.add_working_days(D(2025, 12, 31), 1) == D(2026, 1, 4)
    assert calendar.working_days_between(D(2025, 12, 30), D(2026, 1, 5)) == 3
    assert calendar.next_working_day(D(2026, 1, 1)) == D(2026, 1, 4)
    assert calendar.next_working_day(D(2026, 1, 5)) == D(2026, 1, 5)


def test_2027_without_data_is_the_documented_error(calendar: WorkingCalendar) -> None:
    with pytest.raises(CalendarDataMissing) as caught:
        calendar.is_working_day(D(2027, 3, 1))
    error = caught.value
    assert error.code == "calendar_data_missing"
    assert "2027" in error.message
    assert "holiday file" in error.message
    assert "allow_weekend_fallback" in error.message
    assert not calendar.has_data(2027)
    # Counting into 2027 from 2026 fails the same way, never silently.
    with pytest.raises(CalendarDataMissing):
        calendar.add_working_days(D(2026, 12, 30), 5)


def test_2027_with_an_operator_file(tmp_path: Path) -> None:
    path = tmp_path / "holidays-2027.toml"
    path.write_text(HOLIDAYS_2027_TOML, encoding="utf-8")
    calendar = WorkingCalendar.from_files([path])
    assert calendar.has_data(2027)
    assert not calendar.is_working_day(D(2027, 2, 8))  # Monday inside the festival
    assert calendar.is_working_day(D(2027, 2, 14))  # Sunday make-up day
    assert calendar.add_working_days(D(2027, 2, 5), 1) == D(2027, 2, 14)
    assert calendar.add_working_days(D(2026, 12, 31), 1) == D(2027, 1, 4)
    assert "State Council" in calendar.source(2027)
    # 2026 still comes from the package.
    assert calendar.is_working_day(D(2026, 2, 14))


def test_json_file_and_settings(tmp_path: Path) -> None:
    data = {
        "format": "govlink-holidays/1",
        "source": "国务院办公厅通知 (test)",
        "years": [{"year": 2027, "holidays": ["2027-01-01"], "makeup_workdays": []}],
    }
    path = tmp_path / "h.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    settings = Settings(holiday_files=(path,))
    calendar = WorkingCalendar.from_settings(settings)
    assert not calendar.is_working_day(D(2027, 1, 1))
    assert calendar.is_working_day(D(2027, 1, 4))
    assert calendar.source(2027) == "国务院办公厅通知 (test)"


def test_operator_data_overrides_the_package() -> None:
    extra_day_off = HolidayYear(
        year=2026,
        holidays=frozenset({D(2026, 3, 2)}),
        makeup_workdays=frozenset(),
        source="local correction",
    )
    calendar = WorkingCalendar([extra_day_off])
    assert not calendar.is_working_day(D(2026, 3, 2))


@pytest.mark.parametrize(
    ("data", "field", "rule"),
    [
        ({"years": []}, "format", "format"),
        ({"format": "govlink-holidays/1", "years": []}, "years", "required"),
        ({"format": "govlink-holidays/1", "years": [], "x": 1}, "x", "extra"),
        ({"format": "govlink-holidays/1", "years": [{"year": "2027"}]}, "years[0].year", "year"),
        (
            {"format": "govlink-holidays/1", "years": [{"year": 2027, "holidays": []}]},
            "years[0].source",
            "source_required",
        ),
        (
            {
                "format": "govlink-holidays/1",
                "source": "s",
                "years": [{"year": 2027, "holidays": ["2027-02-30"]}],
            },
            "years[0].holidays[0]",
            "date",
        ),
        (
            {
                "format": "govlink-holidays/1",
                "source": "s",
                "years": [{"year": 2027, "holidays": ["2027-02-09..2027-02-01"]}],
            },
            "years[0].holidays[0]",
            "range",
        ),
        (
            {
                "format": "govlink-holidays/1",
                "source": "s",
                "years": [{"year": 2027, "holidays": ["2028-01-01"]}],
            },
            "years[0].holidays[0]",
            "date_outside_year",
        ),
        (
            {
                "format": "govlink-holidays/1",
                "source": "s",
                "years": [
                    {"year": 2027, "holidays": ["2027-02-14"], "makeup_workdays": ["2027-02-14"]}
                ],
            },
            "years[0].makeup_workdays",
            "holiday_and_workday",
        ),
        (
            {"format": "govlink-holidays/1", "source": "s", "years": [{"year": 2027}] * 2},
            "years[1].year",
            "duplicate_year",
        ),
    ],
)
def test_bad_holiday_files(tmp_path: Path, data: dict[str, object], field: str, rule: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        load_holiday_file(path)
    assert (caught.value.field, caught.value.rule) == (field, rule)


def test_unreadable_and_undecodable_files(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as missing:
        load_holiday_file(tmp_path / "nope.toml")
    assert missing.value.rule == "unreadable"
    broken = tmp_path / "broken.toml"
    broken.write_text("format = ", encoding="utf-8")
    with pytest.raises(ValidationError) as syntax:
        load_holiday_file(broken)
    assert syntax.value.rule == "syntax"


def _holidays(*days: object, year: object = 2027) -> dict[str, object]:
    return {
        "format": "govlink-holidays/1",
        "source": "test",
        "years": [{"year": year, "holidays": list(days)}],
    }


@pytest.mark.parametrize(
    "text",
    ["20270101", "2027-W01-1", "2027-001", "2027-1-1", "２０２７-01-01", "2027-01-01T00:00"],
)
def test_holiday_dates_are_only_yyyy_mm_dd(tmp_path: Path, text: str) -> None:
    path = tmp_path / "h.json"
    path.write_text(json.dumps(_holidays(text)), encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        load_holiday_file(path)
    assert (caught.value.field, caught.value.rule) == ("years[0].holidays[0]", "date")
    assert str(path) in caught.value.problems[0].message  # names the file


def test_a_huge_range_is_one_quick_problem(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    path.write_text(json.dumps(_holidays("1900-01-01..9999-12-31")), encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        load_holiday_file(path)
    assert len(caught.value.problems) == 1
    assert caught.value.rule == "date_outside_year"


def test_a_range_longer_than_the_maximum_span_is_refused() -> None:
    from govlink.domain._calendar import MAX_RANGE_DAYS, parse_holiday_data

    longest = f"2027-01-01..{(D(2027, 1, 1) + timedelta(days=MAX_RANGE_DAYS - 1)).isoformat()}"
    (year,) = parse_holiday_data(_holidays(longest))
    assert len(year.holidays) == MAX_RANGE_DAYS
    with pytest.raises(ValidationError) as caught:
        parse_holiday_data(_holidays("2027-01-01..2027-12-31"))
    assert (caught.value.field, caught.value.rule) == ("years[0].holidays[0]", "range_too_long")


def test_problems_are_capped_with_a_count_of_the_rest() -> None:
    from govlink.domain._calendar import MAX_PROBLEMS, parse_holiday_data

    bad = [f"2028-01-{day:02d}" for day in range(1, 32)] + ["2029-02-01"] * 9  # 40 problems
    with pytest.raises(ValidationError) as caught:
        parse_holiday_data(_holidays(*bad))
    problems = caught.value.problems
    assert len(problems) == MAX_PROBLEMS + 1
    assert all(p.rule == "date_outside_year" for p in problems[:-1])
    assert problems[-1].rule == "more_problems"
    assert problems[-1].field == f"years[0].holidays[{MAX_PROBLEMS}]"
    assert f"{40 - MAX_PROBLEMS} more" in problems[-1].message


def test_a_list_longer_than_a_year_is_refused() -> None:
    from govlink.domain._calendar import parse_holiday_data

    with pytest.raises(ValidationError) as caught:
        parse_holiday_data(_holidays(*["2027-01-01"] * 367))
    assert (caught.value.field, caught.value.rule) == ("years[0].holidays", "too_many")


def test_a_directly_built_year_reports_a_bounded_number_of_problems() -> None:
    days = frozenset(D(2028, 1, 1) + timedelta(days=i) for i in range(1000))
    with pytest.raises(ValidationError) as caught:
        HolidayYear(2027, days, frozenset(), "test")
    assert len(caught.value.problems) == 21
    assert "980 more" in caught.value.problems[-1].message
    with pytest.raises(ValidationError) as year:
        HolidayYear(9999, frozenset(), frozenset(), "test")
    assert (year.value.field, year.value.rule) == ("years[9999].year", "year")


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        ("format = 'govlink-holidays/1'\n名 = '春节'".encode("gbk"), "encoding"),
        ('{"format": "govlink-holidays/1"}'.encode("utf-16"), "encoding"),
        (b"[" * 100_000, "depth"),
        (b'{"a":' * 100_000, "depth"),
        (b'{"years": [{"year": ' + b"9" * 5000 + b"}]}", "syntax"),
        (b"\xef\xbb\xbf{", "syntax"),  # a BOM is fine, the JSON after it is not
    ],
)
def test_undecodable_files_are_typed_errors(tmp_path: Path, content: bytes, rule: str) -> None:
    path = tmp_path / "h.json"
    path.write_bytes(content)
    with pytest.raises(ValidationError) as caught:
        load_holiday_file(path)
    assert (caught.value.field, caught.value.rule) == ("path", rule)
    assert str(path) in str(caught.value)


def test_deeply_nested_toml_and_directories_and_huge_files(tmp_path: Path) -> None:
    from govlink.domain._calendar import MAX_HOLIDAY_FILE_BYTES

    nested = tmp_path / "h.toml"
    nested.write_text("x = " + "[" * 100_000, encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        load_holiday_file(nested)
    assert caught.value.rule in {"depth", "syntax"}
    with pytest.raises(ValidationError) as directory:
        load_holiday_file(tmp_path)
    assert directory.value.rule == "unreadable"
    huge = tmp_path / "huge.json"
    huge.write_bytes(b" " * (MAX_HOLIDAY_FILE_BYTES + 1))
    with pytest.raises(ValidationError) as large:
        load_holiday_file(huge)
    assert large.value.rule == "too_large"


def test_a_utf8_file_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "h.toml"
    text = 'format = "govlink-holidays/1"\nsource = "国办发明电"\n[[years]]\nyear = 2027\n'
    path.write_bytes(b"\xef\xbb\xbf" + (text + 'holidays = ["2027-01-01"]\n').encode())
    (year,) = load_holiday_file(path)
    assert year.holidays == {D(2027, 1, 1)}


def test_a_runaway_count_ends_at_the_calendar_years_even_with_the_fallback() -> None:
    from govlink.domain._calendar import CALENDAR_YEARS

    calendar = WorkingCalendar(allow_weekend_fallback=True)
    with pytest.raises(CalendarDataMissing, match=str(CALENDAR_YEARS.stop - 1)):
        calendar.add_working_days(D(2026, 1, 1), 10**12)
    with pytest.raises(CalendarDataMissing):
        calendar.is_working_day(D(9999, 12, 31))
    with pytest.raises(CalendarDataMissing):
        calendar.working_days_between(D(1, 1, 1), D(2026, 1, 1))


def test_times_at_the_edge_of_the_representable_dates_are_typed_errors() -> None:
    from govlink.domain import china_date

    with pytest.raises(ValidationError) as caught:
        china_date(datetime.max.replace(tzinfo=timezone.utc))  # noqa: UP017 - explicit zone
    assert caught.value.rule == "range"


def test_weekend_fallback_only_when_on_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    calendar = WorkingCalendar(allow_weekend_fallback=True)
    with caplog.at_level(logging.WARNING, logger="govlink.domain.calendar"):
        assert calendar.is_working_day(D(2027, 1, 1))  # a Friday: no holiday data, weekends only
        assert not calendar.is_working_day(D(2027, 1, 2))
        assert calendar.add_working_days(D(2027, 1, 1), 1) == D(2027, 1, 4)
        assert calendar.is_working_day(D(2028, 1, 3))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [("2027" in r.getMessage(), "2028" in r.getMessage()) for r in warnings] == [
        (True, False),
        (False, True),
    ]
    assert calendar.source(2027) == "weekends only (fallback)"
    assert not calendar.has_data(2027)
    # Years with data never use the fallback.
    assert not calendar.is_working_day(D(2026, 10, 1))
    assert calendar.is_working_day(datetime(2026, 2, 14, 9, tzinfo=CHINA_TZ))


def test_without_the_package_only_operator_data() -> None:
    calendar = WorkingCalendar(use_package=False)
    with pytest.raises(CalendarDataMissing, match="no data loaded"):
        calendar.is_working_day(D(2026, 3, 2))


def test_working_days_in_a_year(calendar: WorkingCalendar) -> None:
    listed = calendar.working_days_in(2026)
    assert len(listed) == sum(
        chinese_calendar.is_workday(d) for d in days(D(2026, 1, 1), D(2026, 12, 31))
    )
    assert listed == sorted(listed)
