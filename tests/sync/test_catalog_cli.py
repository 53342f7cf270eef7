"""``govlink sync catalog FILE [--reconcile]`` and the demo's catalog_sync step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_adapter_contract_support import sample_items

from govlink.cli import main
from govlink.testing import MockProvince, served_mock


def _write_json(path: Path, records: list[Any]) -> Path:
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(list(args))
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip().startswith("{") else {"text": out}


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'govlink.db'}"


def test_valid_catalog_is_enqueued_then_unchanged(
    tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    items = [i.wire_dict() for i in sample_items()[:20]]
    path = _write_json(tmp_path / "catalog.json", items)
    code, data = _run(capsys, "sync", "catalog", str(path), "--store", store_url, "--json")
    assert code == 0
    assert (data["valid"], data["enqueued"], data["unchanged"], data["invalid"]) == (20, 20, 0, [])
    code, data = _run(capsys, "sync", "catalog", str(path), "--store", store_url, "--json")
    assert code == 0
    assert (data["enqueued"], data["unchanged"]) == (0, 20)


def test_invalid_items_are_reported_with_index_field_and_rule(
    tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    items = [i.wire_dict() for i in sample_items()[:5]]
    items[2]["promised_limit"] = {"amount": 99, "unit": "working_days"}
    items[2]["legal_limit"] = {"amount": 20, "unit": "working_days"}
    items[2]["case_kind"] = "promised"
    del items[4]["name"]
    path = tmp_path / "catalog.ndjson"
    path.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n")
    code, data = _run(capsys, "sync", "catalog", str(path), "--store", store_url, "--json")
    assert code == 1
    problems = {(p["field"], p["rule"]) for p in data["invalid"]}
    assert problems == {
        ("items[2].promised_limit", "promised_le_legal"),
        ("items[4].name", "required"),
    }
    assert data["enqueued"] == 3  # the valid ones are accepted all the same
    assert data["gone_locally"] == []  # invalid items are not "gone"


def test_human_output_lists_problems_and_changes(
    tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    items = [i.wire_dict() for i in sample_items()[:3]]
    items[1]["item_type"] = "not_a_type"
    path = _write_json(tmp_path / "catalog.json", items)
    assert main(["sync", "catalog", str(path), "--store", store_url]) == 1
    out = capsys.readouterr().out
    assert "items[1].item_type" in out
    assert "enqueued 2 change(s)" in out


def test_sample_catalog_file_format_is_read(
    tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from govlink.samples import load_sample_catalog

    path = tmp_path / "sample.json"
    load_sample_catalog().write(path)
    code, data = _run(capsys, "sync", "catalog", str(path), "--store", store_url, "--json")
    assert code == 0
    assert data["enqueued"] == len(load_sample_catalog().items)


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, 2), ("{not json", 1), ('{"items": 5}', 1), ('{"format": "x"}', 1), ("[1, 2]", 1)],
)
def test_unusable_files(
    tmp_path: Path,
    store_url: str,
    capsys: pytest.CaptureFixture[str],
    content: str | None,
    expected: int,
) -> None:
    path = tmp_path / "catalog.json"
    if content is not None:
        path.write_text(content)
    assert main(["sync", "catalog", str(path), "--store", store_url]) == expected
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err


@pytest.mark.server
def test_reconcile_against_a_served_province(
    tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    items = [i.wire_dict() for i in sample_items()[:8]]
    path = _write_json(tmp_path / "catalog.json", items)
    province = MockProvince()
    with served_mock(province) as served:
        args = ["--store", store_url, "--province", served.base_url, "--adapter", "reference"]
        code, data = _run(capsys, "sync", "catalog", str(path), "--reconcile", *args, "--json")
        assert code == 0
        assert data["reconcile"]["in_flight"] == sorted(i["implementation_code"] for i in items)
        assert main(["sync", "run", "--until-empty", *args, "--json"]) == 0
        capsys.readouterr()
        code, data = _run(capsys, "sync", "catalog", str(path), "--reconcile", *args, "--json")
        assert code == 0
        assert data["reconcile"]["matching"] == 8
        assert data["reconcile"]["resent"] == 0
        # Scheduled: the reconciliation just done is recent, so none now.
        every = ["--reconcile-every", "3600"]
        code, data = _run(capsys, "sync", "catalog", str(path), *every, *args, "--json")
        assert code == 0
        assert "reconcile" not in data
        code, data = _run(
            capsys, "sync", "catalog", str(path), "--reconcile-every", "0", *args, "--json"
        )
        assert data["reconcile"]["matching"] == 8
    province.journal.assert_catalog_equals(items)


def test_reconcile_without_a_platform_is_a_usage_error(
    tmp_path: Path,
    store_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GOVLINK_PROVINCE_URL", raising=False)
    path = _write_json(tmp_path / "catalog.json", [sample_items()[0].wire_dict()])
    assert main(["sync", "catalog", str(path), "--reconcile", "--store", store_url]) == 2
    assert "--province" in capsys.readouterr().err


def test_demo_step_catalog_sync(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["demo", "--keep", str(tmp_path / "demo"), "--json"]
    for step in ("catalog", "province", "catalog_sync"):
        args += ["--step", step]
    code = main(args)
    data = json.loads(capsys.readouterr().out)
    assert code == 0, data["failures"]
    summary = data["catalog_sync"]
    assert summary["by_change"] == {"adjusted": 1, "cancelled": 1, "delegated_down": 1}
    assert len(summary["incremental"]["sent"]) == 3
    assert summary["reconcile"] == {"matching": 400, "resent": 0}


def test_a_one_line_ndjson_file(
    tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "one.ndjson"
    path.write_text(json.dumps(sample_items()[0].wire_dict(), ensure_ascii=False) + "\n")
    code, data = _run(capsys, "sync", "catalog", str(path), "--store", store_url, "--json")
    assert (code, data["enqueued"]) == (0, 1)
