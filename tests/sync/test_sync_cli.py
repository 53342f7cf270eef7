"""The ``govlink sync`` and ``govlink outbox`` commands: exit codes, JSON output, repairs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sync_core_support import make_event, sample_events

from govlink import VirtualClock
from govlink.cli import main
from govlink.testing import MockProvince, served_mock


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    code = main([*args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'govlink.db'}"


def write_ndjson(path: Path, records: list[Any]) -> Path:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records)
        + "\n",
        encoding="utf-8",
    )
    return path


def test_sync_cases_reports_bad_lines_and_keeps_the_good_ones(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    events = sample_events(5)
    records: list[Any] = [{"kind": "case", "case_number": "ignored"}]
    records += [{"kind": "event", **e} for e in events]
    records += [{"case_number": "X1", "sequence": 0, "status": "received"}, "{not json"]
    path = write_ndjson(tmp_path / "events.ndjson", records)
    code, data = cli(capsys, "sync", "cases", str(path), "--store", store)
    assert code == 1
    assert data["enqueued"] == len(events)
    assert data["skipped_non_events"] == 1
    fields = {(p["field"], p["rule"]) for p in data["problems"]}
    bad_line = len(records) - 1
    assert (f"line {bad_line}: sequence", "range") in fields
    assert (f"line {bad_line}: time", "required") in fields
    assert (f"line {bad_line + 1}", "json") in fields
    # Running it again enqueues nothing twice.
    code, again = cli(capsys, "sync", "cases", str(path), "--store", store)
    assert again["enqueued"] == 0
    assert again["duplicates"] == len(events)


def test_sync_cases_accepts_a_json_array_and_an_events_object(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    events = sample_events(3)
    (tmp_path / "a.json").write_text(json.dumps(events[:5]), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps({"events": events[5:]}, indent=2), "utf-8")
    assert cli(capsys, "sync", "cases", str(tmp_path / "a.json"), "--store", store)[0] == 0
    code, data = cli(capsys, "sync", "cases", str(tmp_path / "b.json"), "--store", store)
    assert (code, data["enqueued"]) == (0, len(events) - 5)
    assert main(["sync", "cases", str(tmp_path / "missing.json"), "--store", store]) == 2


@pytest.mark.server
def test_run_park_repair_skip_and_verify_through_the_cli(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = VirtualClock()
    good = sample_events(20)
    bad = [make_event("CLI1", 1, "received", clock), make_event("CLI1", 2, "approved", clock)]
    last = [
        make_event("CLI2", 1, "received", clock),
        make_event("CLI2", 2, "supplement_end", clock),
    ]
    path = write_ndjson(tmp_path / "events.ndjson", good + bad + last)
    assert cli(capsys, "sync", "cases", str(path), "--store", store)[0] == 0
    province = MockProvince()
    with served_mock(province) as served:
        url = served.base_url
        code, data = cli(
            capsys, "sync", "run", "--until-empty", "--province", url, "--store", store
        )
        assert code == 1  # cases are parked
        assert data["counters"]["parked"] == 2
        code, parked = cli(capsys, "outbox", "parked", "--store", store)
        assert code == 1
        assert sorted(p["key"] for p in parked["parked"]) == ["CLI1", "CLI2"]
        assert cli(capsys, "outbox", "status", "--store", store)[1]["parked_cases"] == 2

        fixed = tmp_path / "fixed.json"
        fixed.write_text(json.dumps(make_event("CLI1", 2, "accepted", clock)), "utf-8")
        wrong = tmp_path / "wrong.json"
        wrong.write_text(json.dumps(make_event("CLI1", 3, "accepted", clock)), "utf-8")
        assert (
            cli(capsys, "outbox", "retry", "CLI1", "--event", str(wrong), "--store", store)[0] == 1
        )
        code, _ = cli(capsys, "outbox", "retry", "CLI1", "--event", str(fixed), "--store", store)
        assert code == 0
        with pytest.raises(SystemExit) as usage:  # --reason is required
            main(["outbox", "skip", "CLI2", "--store", store])
        assert usage.value.code == 2
        code, _ = cli(
            capsys,
            "outbox",
            "skip",
            "CLI2",
            "--reason",
            "supplement never started",
            "--store",
            store,
        )
        assert code == 0
        assert cli(capsys, "outbox", "skip", "CLI2", "--reason", "x", "--store", store)[0] == 1

        code, data = cli(
            capsys, "sync", "run", "--until-empty", "--province", url, "--store", store
        )
        assert code == 0
        province.journal.assert_each_event_applied_once_in_order(
            [*good, bad[0], json.loads(fixed.read_text("utf-8")), last[0]]
        )
    code, verified = cli(capsys, "outbox", "journal", "verify", "--store", store)
    assert code == 0
    assert verified["records"] > 4
    # Tamper with the journal: verify names the record and exits 1.
    import sqlite3

    db = sqlite3.connect(store.removeprefix("sqlite:///"))
    db.execute("UPDATE sync_journal SET count = count + 1 WHERE n = 2")
    db.commit()
    db.close()
    code, data = cli(capsys, "outbox", "journal", "verify", "--store", store)
    assert code == 1
    assert data["error"]["code"] == "journal_tampered"
    assert data["error"]["record"] == 2


def test_run_needs_a_province(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync", "run", "--until-empty", "--store", store]) == 2
    assert "GOVLINK_PROVINCE_URL" in capsys.readouterr().err


def test_unknown_adapter_is_a_config_error(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sync", "run", "--province", "http://x", "--adapter", "nope", "--store", store])
    assert code == 2
    assert "reference" in capsys.readouterr().err


def test_structured_logs_are_json_with_personal_data_masked() -> None:
    import logging

    from govlink.cli._sync import JsonLogFormatter

    record = logging.LogRecord(
        "govlink.sync", logging.WARNING, __file__, 1, "case parked for 370502199001011234", (), None
    )
    record.govlink = {"key": "370500:case:C1:2", "error": "phone 13912345678 refused"}
    line = json.loads(JsonLogFormatter().format(record))
    assert line["level"] == "warning"
    assert line["key"] == "370500:case:C1:2"
    assert "370502199001011234" not in line["message"]
    assert "13912345678" not in line["error"]


def _interleaved_events(cases: int, per_case: int) -> list[dict[str, Any]]:
    """Every case's events spread across the file (all sequence 1s, then all 2s, ...), so
    each case straddles the outbox's 20,000-row enqueue chunks."""
    clock = VirtualClock()
    statuses = ["received", "accepted", "processing", "approved", "approved"]
    return [
        make_event(f"CH{case:05d}", seq, statuses[seq - 1], clock)
        for seq in range(1, per_case + 1)
        for case in range(cases)
    ]


def test_second_run_of_a_large_file_enqueues_nothing(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 9.8: past the first 20,000-row chunk, cases seen only as duplicates are looked
    up, so the second run reports 0 newly enqueued (it used to report thousands)."""
    events = _interleaved_events(4_200, 5)  # 21,000 events
    path = write_ndjson(tmp_path / "big.ndjson", events)
    code, first = cli(capsys, "sync", "cases", str(path), "--store", store)
    assert (code, first["enqueued"], first["duplicates"]) == (0, len(events), 0)
    code, second = cli(capsys, "sync", "cases", str(path), "--store", store)
    assert (code, second["enqueued"], second["duplicates"]) == (0, 0, len(events))


def test_outbox_counts_duplicates_of_earlier_calls_in_every_chunk(tmp_path: Path) -> None:
    """The same, at the outbox with a small chunk: a lane that existed before the call is
    looked up in every chunk, and a later sequence not yet queued still counts as new."""
    from govlink.domain import parse_case_event
    from govlink.store import SQLiteStore
    from govlink.sync import Outbox

    events = [parse_case_event(e) for e in _interleaved_events(30, 4)]
    store = SQLiteStore(tmp_path / "o.db")
    try:
        outbox = Outbox(store, clock=VirtualClock())
        assert outbox.enqueue_events(events[:60], chunk=25).accepted == 60  # sequences 1-2
        again = outbox.enqueue_events(events, chunk=25)
        assert (again.accepted, again.duplicates) == (60, 60)
    finally:
        store.close()


def test_an_invalid_line_blocks_its_case_visibly_until_fixed(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 9.8: the later events of a case whose line is invalid are held, shown as blocked
    by `sync cases` (with the line), `outbox status` (exit 1) and `sync run`; the fixed file
    releases them."""
    clock = VirtualClock()
    good = [make_event("OK1", s, st, clock) for s, st in ((1, "received"), (2, "accepted"))]
    broken = [
        make_event("BAD1", 1, "received", clock),
        {**make_event("BAD1", 2, "accepted", clock), "time": "yesterday"},
        make_event("BAD1", 3, "processing", clock),
        make_event("BAD1", 4, "approved", clock),
    ]
    path = write_ndjson(tmp_path / "events.ndjson", good + broken)
    code, data = cli(capsys, "sync", "cases", str(path), "--store", store)
    assert code == 1
    assert data["enqueued"] == 5
    assert [b["invalid_at"] for b in data["blocked"]] == ["line 4"]
    assert data["blocked"][0]["missing_sequence"] == 2
    assert data["blocked"][0]["waiting"] == 2
    code, status = cli(capsys, "outbox", "status", "--store", store)
    assert code == 1
    assert status["blocked_cases"] == 1
    assert status["blocked"][0]["missing_sequence"] == 2
    main(["outbox", "status", "--store", store])
    human = capsys.readouterr().out
    assert "blocked cases" in human
    assert "sequence 2 missing, 2 event(s) held" in human

    fixed = [*good, *broken]
    fixed[3] = make_event("BAD1", 2, "accepted", clock)
    write_ndjson(path, fixed)
    code, data = cli(capsys, "sync", "cases", str(path), "--store", store)
    assert (code, data["enqueued"], data["blocked"]) == (0, 1, [])
    code, status = cli(capsys, "outbox", "status", "--store", store)
    assert (code, status["blocked_cases"]) == (0, 0)


def test_blocked_lanes_on_every_backend(any_store: Any) -> None:
    """Outbox.blocked: a gap at the head or further on is found; a lane without one is not."""
    from govlink.domain import parse_case_event
    from govlink.sync import Outbox

    clock = VirtualClock()
    statuses = {1: "received", 2: "accepted", 3: "processing", 4: "approved"}

    def events(case: str, seqs: list[int]) -> list[Any]:
        return [parse_case_event(make_event(case, s, statuses[s], clock)) for s in seqs]

    outbox = Outbox(any_store, clock=clock)
    outbox.enqueue_events(
        [*events("FULL", [1, 2, 3]), *events("HEAD", [2, 3]), *events("MID", [1, 2, 4])]
    )
    found = {(b.key, b.missing_sequence, b.waiting) for b in outbox.blocked()}
    assert found == {("HEAD", 1, 2), ("MID", 3, 1)}
    outbox.enqueue_events(events("MID", [3]))
    assert [b.key for b in outbox.blocked()] == ["HEAD"]
