"""The packages re-export their private modules' public names (regions, identifiers, items,
validation and the sample catalog; other modules' owners keep their own export tests)."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    ("govlink.domain", "_identifiers"),
    ("govlink.domain", "_regions"),
    ("govlink.domain", "_items"),
    ("govlink.domain", "_validation"),
    ("govlink.samples", "_catalog"),
]


@pytest.mark.parametrize(("package_name", "module_name"), MODULES)
def test_public_names_are_re_exported(package_name: str, module_name: str) -> None:
    package = importlib.import_module(package_name)
    module = importlib.import_module(f"{package_name}.{module_name}")
    exported = list(package.__all__)
    assert len(exported) == len(set(exported))
    for name in module.__all__:
        assert name in exported, f"{package_name} does not re-export {name}"
        assert getattr(package, name) is getattr(module, name)
