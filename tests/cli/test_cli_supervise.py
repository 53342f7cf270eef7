"""``govlink supervise FILE``: report, JSON, invalid files (exit 1), usage errors (exit 2)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from govlink.cli import main
from govlink.samples import load_sample_catalog

SAMPLE = str(resources.files("govlink.samples").joinpath("data/cases.ndjson"))
AT = "2026-03-20T18:00:00+08:00"


@pytest.fixture(scope="module")
def item() -> dict[str, Any]:
    """A catalog item with promised 5 / legal 20 working days, as an item record."""
    chosen = next(
        i
        for i in load_sample_catalog().items
        if i.promised_limit.unit.value == "working_days"
        and i.promised_limit.amount == 5
        and i.legal_limit is not None
        and i.legal_limit.unit.value == "working_days"
        and str(i.region_code) == "370500"
    )
    data: dict[str, Any] = chosen.model_dump(mode="json", exclude_none=True)
    return data


def case_record(item: dict[str, Any], number: str = "C1") -> dict[str, Any]:
    return {
        "case_number": number,
        "implementation_code": item["implementation_code"],
        "hall": "370500",
        "applicant": {
            "kind": "natural_person",
            "name": "王小明",
            "id_number": "11010519491231002X",
        },
        "channel": "window",
        "received_at": "2026-03-02T09:00:00+08:00",
    }


def event_record(number: str, sequence: int, status: str, time: str) -> dict[str, Any]:
    return {
        "case_number": number,
        "sequence": sequence,
        "status": status,
        "time": time,
        "hall": "370500",
    }


def write_ndjson(path: Path, records: list[tuple[str, dict[str, Any]]]) -> str:
    path.write_text(
        "".join(json.dumps({"kind": kind, **r}, ensure_ascii=False) + "\n" for kind, r in records),
        encoding="utf-8",
    )
    return str(path)


def test_bundled_sample_human(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["supervise", SAMPLE, "--at", AT]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "1000 cases" in out
    assert "红牌 red" in out
    assert "within the promised limit" in out
    assert "development default" in captured.err


def test_bundled_sample_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["supervise", SAMPLE, "--at", AT, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cases"] == 1000
    assert sum(report["levels"].values()) + report["no_deadline"] == 1000
    assert report["levels"]["yellow"] + report["levels"]["red"] > 0
    assert 0.3 < report["efficiency"]["mean_limit_reduction"] < 0.7
    assert len(report["results"]) == 1000
    assert report["unknown_items"] == []


def test_small_file_with_item_records(
    tmp_path: Path, item: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_ndjson(
        tmp_path / "cases.ndjson",
        [
            ("item", item),
            ("case", case_record(item)),
            ("event", event_record("C1", 1, "received", "2026-03-02T09:00:00+08:00")),
            ("event", event_record("C1", 2, "accepted", "2026-03-02T10:00:00+08:00")),
        ],
    )
    assert main(["supervise", path, "--at", "2026-03-10T12:00", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (result,) = report["results"]
    assert result["promised_deadline"] == "2026-03-09"
    assert result["level"] == "yellow"
    assert result["overdue_working_days"] == 1
    # Thresholds from the command line.
    assert (
        main(
            [
                "supervise",
                path,
                "--at",
                "2026-03-10T12:00",
                "--yellow-days",
                "2",
                "--red-days",
                "3",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["results"][0]["level"] == "warning"
    assert main(["supervise", path, "--at", "2026-03-10T12:00", "--basis", "legal", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["level"] == "on_time"


def test_json_document_form(
    tmp_path: Path, item: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cases.json"
    path.write_text(
        json.dumps(
            {
                "items": [item],
                "cases": [case_record(item)],
                "events": [
                    event_record("C1", 2, "accepted", "2026-03-02T10:00:00+08:00"),
                    event_record("C1", 1, "received", "2026-03-02T09:00:00+08:00"),
                ],
            }
        ),
        encoding="utf-8",
    )
    assert main(["supervise", str(path), "--at", "2026-03-05", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["level"] == "on_time"


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        (
            [("event", event_record("C1", 1, "received", "2026-03-02T09:00:00"))],
            "line 2.time: ",
        ),
        (
            [("event", event_record("C9", 1, "received", "2026-03-02T09:00:00+08:00"))],
            "unknown_case",
        ),
        (
            [
                ("event", event_record("C1", 1, "received", "2026-03-02T09:00:00+08:00")),
                ("event", event_record("C1", 3, "accepted", "2026-03-02T10:00:00+08:00")),
            ],
            "line 3.sequence",
        ),
        (
            [
                ("event", event_record("C1", 1, "received", "2026-03-02T09:00:00+08:00")),
                ("event", event_record("C1", 2, "processing", "2026-03-02T10:00:00+08:00")),
            ],
            "processing_before_acceptance",
        ),
        (
            [
                ("event", event_record("C1", 1, "received", "2026-03-02T09:00:00+08:00")),
                ("event", event_record("C1", 1, "received", "2026-03-02T09:00:00+08:00")),
            ],
            "duplicate_sequence",
        ),
        ([("case", {"case_number": "C1"})], "duplicate_case"),
    ],
)
def test_invalid_files_exit_1_naming_line_and_field(
    tmp_path: Path,
    item: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    records: list[tuple[str, dict[str, Any]]],
    expected: str,
) -> None:
    head: list[tuple[str, dict[str, Any]]] = [("case", case_record(item))]
    if records[0][0] == "case":
        records = [("case", case_record(item))]
    path = write_ndjson(tmp_path / "bad.ndjson", head + records)
    assert main(["supervise", path, "--at", AT]) == 1
    err = capsys.readouterr().err
    assert expected in err
    assert "Traceback" not in err
    assert "11010519491231002X" not in err


def test_not_json_and_bad_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.ndjson"
    path.write_text("\nnot json\n", encoding="utf-8")
    assert main(["supervise", str(path)]) == 1
    assert "line 2" in capsys.readouterr().err
    path.write_text('{"kind": "person"}\n', encoding="utf-8")
    assert main(["supervise", str(path)]) == 1
    assert "line 1.kind" in capsys.readouterr().err
    path.write_text('{"cases": [], "people": []}', encoding="utf-8")
    assert main(["supervise", str(path)]) == 1
    assert "people" in capsys.readouterr().err


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["supervise", str(tmp_path / "missing.ndjson")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["supervise", SAMPLE, "--at", "yesterday"]) == 2
    assert "--at" in capsys.readouterr().err
    assert main(["supervise", SAMPLE, "--yellow-days", "3", "--red-days", "2"]) == 2
    assert "red_before_yellow" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["supervise"])
    assert exit_info.value.code == 2


def test_2027_needs_holiday_data(
    tmp_path: Path, item: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    case = case_record(item) | {"received_at": "2027-03-01T09:00:00+08:00"}
    path = write_ndjson(
        tmp_path / "cases.ndjson",
        [
            ("item", item),
            ("case", case),
            ("event", event_record("C1", 1, "received", "2027-03-01T09:00:00+08:00")),
            ("event", event_record("C1", 2, "accepted", "2027-03-01T10:00:00+08:00")),
        ],
    )
    assert main(["supervise", path, "--at", "2027-03-05"]) == 1
    assert "calendar_data_missing" in capsys.readouterr().err
    assert main(["supervise", path, "--at", "2027-03-05", "--weekend-fallback", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["promised_deadline"] == "2027-03-08"
    holidays = tmp_path / "h.toml"
    holidays.write_text(
        'format = "govlink-holidays/1"\n[[years]]\nyear = 2027\nsource = "test"\n'
        'holidays = ["2027-03-02"]\n',
        encoding="utf-8",
    )
    assert (
        main(["supervise", path, "--at", "2027-03-05", "--holidays", str(holidays), "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["results"][0]["promised_deadline"] == "2027-03-09"
