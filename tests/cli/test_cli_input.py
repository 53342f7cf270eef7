"""The one input reader (govlink.cli._input): shapes, encodings, line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from govlink.cli._input import InputFileError, JsonInput


def _records(path: Path, data: bytes, **kw: object) -> list[tuple[str, object]]:
    path.write_bytes(data)
    return [
        (r.where, r.value if r.problem is None else r.problem.rule)
        for r in JsonInput(path, **kw).records(("events",))  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"a": 1}\n\n{"b": 2}\n', [("line 1", {"a": 1}), ("line 3", {"b": 2})]),
        (b'[{"a": 1}, {"b": 2}]', [("events[0]", {"a": 1}), ("events[1]", {"b": 2})]),
        (b'{\n "events": [\n  {"a": 1}\n ]\n}\n', [("events[0]", {"a": 1})]),
        (b'{"a": 1}', [("line 1", {"a": 1})]),
        (
            b'{"a": 1}\n{"b": \n{"c": 3}\n',
            [("line 1", {"a": 1}), ("line 2", "json"), ("line 3", {"c": 3})],
        ),
        ('\ufeff{"名": "东营"}\r\n'.encode(), [("line 1", {"名": "东营"})]),
        (
            '{"名": "东营"}\n{"b": 2}\n'.encode("utf-16"),
            [("line 1", {"名": "东营"}), ("line 2", {"b": 2})],
        ),
        ('{"名": "东营"}\n'.encode("utf-32"), [("line 1", {"名": "东营"})]),
    ],
    ids=[
        "ndjson",
        "array",
        "document",
        "one-line",
        "bad-line",
        "utf8-bom-crlf",
        "utf16-bom",
        "utf32-bom",
    ],
)
def test_shapes_and_detected_encodings(tmp_path: Path, data: bytes, expected: object) -> None:
    assert _records(tmp_path / "f.json", data) == expected


def test_a_decoding_error_names_its_line_even_deep_in_a_file(tmp_path: Path) -> None:
    lines = [b'{"n": %d}' % i for i in range(5000)]
    lines[4321] = '{"名": "东营"}'.encode("gbk")
    path = tmp_path / "f.ndjson"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(InputFileError) as info:
        list(JsonInput(path).records())
    assert info.value.where == "line 4322"
    assert info.value.rule == "encoding"
    assert "--encoding gb18030" in info.value.message
    assert len(list(JsonInput(path, encoding="gb18030").records())) == 5000


def test_explicit_utf16_without_bom(tmp_path: Path) -> None:
    data = '{"名": "东营"}\n'.encode("utf-16-le")
    assert _records(tmp_path / "f.json", data, encoding="utf-16-le") == [("line 1", {"名": "东营"})]


def test_a_container_that_is_not_a_list(tmp_path: Path) -> None:
    (tmp_path / "f.json").write_bytes(b'{"events": {"a": 1}}')
    with pytest.raises(InputFileError, match=r"events must be a list \[type\]"):
        list(JsonInput(tmp_path / "f.json").records())
