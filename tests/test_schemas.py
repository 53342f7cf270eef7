"""The committed schemas/ match the models, and `govlink schemas export --check` catches drift."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from govlink.cli import main
from govlink.cli._schemas import (
    PUBLIC_MODELS,
    export_schemas,
    render_openapi_documents,
    render_schemas,
)
from govlink.samples import load_sample_catalog

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "schemas"


def test_committed_schemas_match_the_models() -> None:
    drifted = export_schemas(SCHEMAS, check=True)
    assert drifted == [], (
        f"schemas/ drifted from the models: {drifted}; run `govlink schemas export` and commit"
    )


def test_every_public_model_has_one_file() -> None:
    names = [f.name for f in render_schemas()]
    assert len(names) == len(set(names)) == len(PUBLIC_MODELS)
    assert "item.schema.json" in names
    for schema in render_schemas():
        assert schema.text.endswith("}\n")
        data = json.loads(schema.text)
        assert data["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema.text == json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_rendering_is_deterministic() -> None:
    assert render_schemas() == render_schemas()


def test_item_schema_describes_the_wire_fields() -> None:
    item = json.loads((SCHEMAS / "item.schema.json").read_text(encoding="utf-8"))
    assert item["additionalProperties"] is False
    assert set(item["properties"]) >= {
        "catalog_code",
        "implementation_code",
        "item_type",
        "department",
        "legal_limit",
        "promised_limit",
        "online_depth",
    }
    assert item["$defs"]["OnlineDepth"]["enum"] == [1, 2, 3, 4]


def test_export_writes_then_check_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out"
    assert main(["schemas", "export", "--dir", str(target)]) == 0
    exported = [*render_schemas(), *render_openapi_documents()]
    assert sorted(p.name for p in target.iterdir()) == sorted(f.name for f in exported)
    documents = {"openapi-reference.json", "openapi-gateway.json", "openapi-identity.json"}
    assert documents <= {f.name for f in exported}
    assert main(["schemas", "export", "--check", "--dir", str(target)]) == 0
    assert "up to date" in capsys.readouterr().out
    # A second export writes nothing.
    assert export_schemas(target) == []


def test_check_reports_drift_and_ignores_unknown_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export_schemas(tmp_path)
    (tmp_path / "notes.json").write_text("{}\n", encoding="utf-8")  # not the exporter's
    item = tmp_path / "item.schema.json"
    item.write_text(item.read_text(encoding="utf-8").replace("catalog_code", "code"), "utf-8")
    (tmp_path / "case.schema.json").unlink()
    capsys.readouterr()
    assert main(["schemas", "export", "--check", "--json", "--dir", str(tmp_path)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert sorted(report["drifted"]) == ["case.schema.json", "item.schema.json"]
    assert report["ok"] is False
    # --check wrote nothing.
    assert not (tmp_path / "case.schema.json").exists()
    assert (tmp_path / "notes.json").read_text(encoding="utf-8") == "{}\n"
    # The mock province's OpenAPI documents are part of the export, so they drift too.
    (tmp_path / "openapi-gateway.json").write_text("{}\n", encoding="utf-8")
    assert export_schemas(tmp_path, check=True) == [
        "case.schema.json",
        "item.schema.json",
        "openapi-gateway.json",
    ]


def test_item_schema_validates_wire_data() -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")  # comes with schemathesis (dev extra)
    schema = json.loads((SCHEMAS / "item.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema_rs.validator_for(schema)
    for item in load_sample_catalog().items[:50]:
        wire = item.wire_dict()
        assert validator.is_valid(wire), list(validator.iter_errors(wire))[:1]
        assert not validator.is_valid({**wire, "colour": "red"})
        assert not validator.is_valid({**wire, "online_depth": 5})
