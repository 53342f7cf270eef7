"""The import rules of docs/architecture.md, checked on the source with the ``ast`` module.

* ``govlink.domain`` is the bottom layer: it imports nothing from govlink but the error tree and
  the clock.
* A private module (``_name``) is private to its package and that package's subpackages: no
  other package imports it.
* Adapters import only public govlink modules and never another adapter; from ``govlink.sync``
  they use only the adapter kit ``govlink.sync.adapter``; nothing outside ``govlink.adapters``
  and the mock province's faces imports an adapter (the core finds adapters by entry point).
* Nothing imports httpx but ``govlink._http`` (the one place it and Authlib's httpx client are
  imported, so the dependency can change in one file).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "govlink"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _imports(path: Path, *, everything: bool = False) -> Iterator[tuple[int, str]]:
    """Yield ``(line, absolute module)`` for every govlink import in a file (``everything``:
    third-party imports too)."""
    module = _module_name(path)
    package = _package_of(module, path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if everything or alias.name.startswith("govlink"):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if not (everything or target.startswith("govlink")):
                continue
            yield node.lineno, target
            # ``from . import _x`` / ``from govlink.sync import _outbox`` name modules too.
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    candidate = f"{target}.{alias.name}"
                    if _exists(candidate):
                        yield node.lineno, candidate


def _exists(module: str) -> bool:
    path = SRC.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _private_owner(target: str) -> str | None:
    """The package a private module belongs to, or None when the module is public."""
    parts = target.split(".")
    for index, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:index])
    return None


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _violations() -> list[str]:
    problems: list[str] = []
    for path in _sources():
        module = _module_name(path)
        where = path.relative_to(SRC)
        for line, target in _imports(path):
            owner = _private_owner(target)
            if owner is not None and not (module == owner or module.startswith(owner + ".")):
                problems.append(f"{where}:{line}: imports {target}, private to {owner}")
            if module.startswith("govlink.domain") and not (
                target.startswith("govlink.domain")
                or target in {"govlink._errors", "govlink._clock", "govlink"}
            ):
                problems.append(f"{where}:{line}: the domain layer imports {target}")
            if (
                module.startswith("govlink.adapters.")
                and target.startswith("govlink.sync")
                and not target.startswith("govlink.sync.adapter")
            ):
                problems.append(f"{where}:{line}: adapters use the kit, not {target}")
            if target.startswith("govlink.adapters."):
                adapter = target.split(".")[2]
                if module.startswith("govlink.adapters."):
                    if module.split(".")[2] != adapter:
                        problems.append(f"{where}:{line}: adapter imports adapter {target}")
                elif not module.startswith("govlink.testing"):
                    problems.append(f"{where}:{line}: the core imports adapter {target}")
    return problems


def test_only_the_http_module_imports_httpx() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{line}"
        for path in _sources()
        if _module_name(path) != "govlink._http"
        for line, target in _imports(path, everything=True)
        if target == "httpx" or target.startswith("httpx.")
    ]
    assert offenders == []


def test_sources_follow_the_import_rules() -> None:
    problems = _violations()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from govlink.sync._masking import mask_text\n", "private to govlink.sync"),
        ("from govlink.adapters.reference import wire\n", "adapter imports adapter"),
        ("from govlink.sync import Outbox\n", "adapters use the kit"),
        ("from ...sync._masking import mask_text\n", "private to govlink.sync"),
    ],
)
def test_the_check_finds_a_planted_violation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, expected: str
) -> None:
    # Plant a module inside a copy of the layout so the rule under test has something to find.
    fake_src = tmp_path / "src"
    planted = fake_src / "govlink" / "adapters" / "gateway" / "planted.py"
    planted.parent.mkdir(parents=True)
    for init in ("govlink", "govlink/adapters", "govlink/adapters/gateway"):
        (fake_src / init / "__init__.py").write_text("", encoding="utf-8")
    planted.write_text(source, encoding="utf-8")
    globals_ = globals()
    monkeypatch.setitem(globals_, "SRC", fake_src)
    monkeypatch.setitem(globals_, "PACKAGE", fake_src / "govlink")
    assert any(expected in problem for problem in _violations())
