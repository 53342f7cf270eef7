"""Every package's ``__all__`` is complete, sorted and re-exports nothing private.

Sorting is ruff's rule RUF022 (isort-style), checked by ``ruff check`` in CI.

In the style of httpx's ``tests/test_exported_members.py``: the public API is what ``__all__``
says, so a name added to a package without a decision (or left behind by a rename) fails here.
"""

from __future__ import annotations

import importlib
import pkgutil
import types

import pytest

import govlink

#: Names that ``from __future__ import annotations`` leaves in a namespace.
_FUTURE = {"annotations"}


def _packages() -> list[str]:
    names = ["govlink"]
    for info in pkgutil.walk_packages(govlink.__path__, "govlink."):
        leaf = info.name.rpartition(".")[2]
        if info.ispkg and not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
        elif leaf in {"adapter", "plugin", "wire"}:
            names.append(info.name)  # public modules that are APIs of their own
    return sorted(names)


PACKAGES = _packages()


def _defined_in(value: object, package: str) -> bool:
    """Whether ``value`` belongs to ``package`` (a helper a package imports from elsewhere,
    like ``Path`` or another package's error, is not part of its API)."""
    origin = getattr(value, "__module__", None)
    if not isinstance(origin, str) or isinstance(value, (int, str, float, tuple, frozenset)):
        return True  # constants carry no origin: a public constant must be declared
    return origin == package or origin.startswith(package + ".")


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_complete_and_sorted(name: str) -> None:
    module = importlib.import_module(name)
    declared = getattr(module, "__all__", None)
    assert declared is not None, f"{name} has no __all__"
    # Order is ruff's isort-style sort (rule RUF022, checked in CI); here: no duplicates.
    assert len(set(declared)) == len(declared), f"{name}.__all__ lists a name twice"
    assert all(hasattr(module, member) for member in declared), f"{name}.__all__ names a ghost"
    private = [m for m in declared if m.startswith("_") and not m.startswith("__")]
    assert not private, f"{name}.__all__ lists a private name"
    if not hasattr(module, "__path__"):
        return  # a plain module also holds its imports; only a package __init__ is all exports
    public = [
        member
        for member, value in vars(module).items()
        if (not member.startswith("_") or member in declared)
        and member not in _FUTURE
        and not (isinstance(value, types.ModuleType) and member not in declared)
        and (member in declared or _defined_in(value, name))
    ]
    missing, extra = set(public) - set(declared), set(declared) - set(public)
    assert not missing, f"{name}.__all__ misses public names {sorted(missing)}"
    assert not extra, f"{name}.__all__ lists names that are not public: {sorted(extra)}"


def test_the_public_api_stays_small_enough_to_read() -> None:
    # Wire modules are contracts with a province, counted apart; packages are the API.
    total = sum(
        len(importlib.import_module(name).__all__)
        for name in PACKAGES
        if hasattr(importlib.import_module(name), "__path__")
    )
    # 287 names before the deployable provider, the adapter kit, metrics and the report; the
    # cap stops growth that nobody decided on (raise it in the same change that needs it).
    assert total <= 370, f"{total} public names: keep the API small"
