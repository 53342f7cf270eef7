"""govlink.report and govlink.metrics re-export their private modules' public names."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    ("govlink.report", "_html"),
    ("govlink.report", "_supervision"),
    ("govlink.metrics", "_prometheus"),
    ("govlink.metrics", "_recorders"),
    ("govlink.metrics", "_tracing"),
]


@pytest.mark.parametrize(("package_name", "module_name"), MODULES)
def test_public_names_are_re_exported(package_name: str, module_name: str) -> None:
    package = importlib.import_module(package_name)
    module = importlib.import_module(f"{package_name}.{module_name}")
    exported = list(package.__all__)
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n))
    assert len(exported) == len(set(exported))
    for name in module.__all__:
        assert name in exported, f"{package_name} does not re-export {name}"
        assert getattr(package, name) is getattr(module, name)
