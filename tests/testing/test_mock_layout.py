"""The mock province's layout: no import cycles, and only the faces speak a wire format."""

from __future__ import annotations

import ast
from pathlib import Path

import govlink.testing

PACKAGE = Path(govlink.testing.__file__).parent
#: Modules allowed to import an adapter's wire module: the faces, their OpenAPI documents, and
#: the configuration's development defaults (demo credentials, batch limits).
SPEAKS_A_WIRE_FORMAT = {
    "_reference_face", "_gateway_face", "_openapi", "_gateway_openapi", "_config", "_directory",
    "__init__",
}  # fmt: skip


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.glob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                prefix = "." * node.level
                found.add(prefix + node.module)
        graph[path.stem] = found
    return graph


def test_no_import_cycles_between_the_mock_modules() -> None:
    graph = {m: {d[1:] for d in deps if d.startswith(".") and not d.startswith("..")}
             for m, deps in _imports().items()}  # fmt: skip

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for dep in graph.get(start, ()):
            if dep == goal or (dep not in seen and reaches(dep, goal, seen | {dep})):
                return True
        return False

    cyclic = sorted(m for m in graph if reaches(m, m, {m}))
    assert cyclic == [], f"modules on an import cycle: {cyclic}"


def test_the_platform_and_pipeline_borrow_no_wire_vocabulary() -> None:
    borrowing = sorted(
        module
        for module, deps in _imports().items()
        if module not in SPEAKS_A_WIRE_FORMAT
        and any(d.startswith("..adapters") or d.startswith("govlink.adapters") for d in deps)
    )
    assert borrowing == []
