"""Import rules for adapters (a small AST check, run on the source tree).

* An adapter is written against the public adapter kit (``govlink.sync.adapter``) and govlink's
  public namespaces, as a third party would: it imports no other adapter and no private module
  of another package (``govlink.sync._masking``, ``govlink._settings`` ...). The one exception
  is ``govlink._http``, the single place httpx and Authlib's httpx client are imported.
* Nothing in govlink imports httpx except ``govlink._http``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import govlink

SRC = Path(govlink.__file__).parent
ADAPTERS = SRC / "adapters"
#: The one private module adapters may import: where httpx/Authlib are imported.
ALLOWED_PRIVATE = {"govlink._http"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str | None = None) -> Iterator[tuple[int, str]]:
    """``(line, absolute module)`` for every import in ``path`` (module ``name``, default from
    its place in the tree; ``from x import y`` yields ``x.y`` too, so that
    ``from ..sync import _masking`` is seen)."""
    package = name or _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def _adapter_modules() -> list[Path]:
    return sorted(p for p in ADAPTERS.rglob("*.py") if p.parent != ADAPTERS)


def _violations(path: Path, name: str | None = None) -> list[str]:
    name = name or _module_name(path)
    own = ".".join(name.split(".")[:3])  # govlink.adapters.<name>
    found = []
    for line, module in _imports(path, name):
        if not module.startswith("govlink"):
            continue
        where = f"{path.name}:{line}: {module}"
        if module.startswith("govlink.adapters.") and not module.startswith(own):
            found.append(f"{where} (another adapter)")
        private = any(part.startswith("_") for part in module.split(".")[1:])
        if (
            private
            and not module.startswith(own)
            and not any(module.startswith(ok) for ok in ALLOWED_PRIVATE)
        ):
            found.append(f"{where} (a private module of another package)")
        if module.startswith("govlink.sync") and not module.startswith("govlink.sync.adapter"):
            found.append(f"{where} (adapters use the adapter kit, govlink.sync.adapter)")
    return found


@pytest.mark.parametrize("path", _adapter_modules(), ids=lambda p: str(p.relative_to(ADAPTERS)))
def test_adapters_import_only_the_kit_and_public_namespaces(path: Path) -> None:
    assert _violations(path) == []


def test_the_rule_sees_what_it_forbids(tmp_path: Path) -> None:
    # The check itself must catch each kind of violation (a check that finds nothing proves
    # nothing): scan a module placed, by name, in a fake adapter package.
    probe = tmp_path / "adapter.py"
    probe.write_text(
        "from ...sync._masking import mask_text\n"
        "from ..reference.adapter import ReferenceAdapter\n"
        "from govlink.sync import Outbox\n"
        "from ... import _settings\n"
        "from ..._http import httpx\n"
        "from ...sync.adapter import Delivery\n"
        "from . import wire\n",
        "utf-8",
    )
    found = _violations(probe, "govlink.adapters.probe.adapter")
    modules = {v.split(": ")[1].split(" ")[0] for v in found}
    assert "govlink.sync._masking" in modules
    assert "govlink.adapters.reference.adapter" in modules
    assert "govlink.sync.Outbox" in modules
    assert "govlink._settings" in modules
    assert not any(
        "_http" in m or m.startswith(("govlink.sync.adapter", "govlink.adapters.probe"))
        for m in modules
    )


def test_only_the_http_module_imports_httpx() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if _module_name(path) == "govlink._http":
            continue
        for line, module in _imports(path):
            if module == "httpx" or module.startswith("httpx."):
                offenders.append(f"{path.relative_to(SRC.parent)}:{line}")
    assert offenders == []
