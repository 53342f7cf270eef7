from __future__ import annotations

import importlib
import pkgutil

import pytest

import govlink
from govlink import FieldProblem, GovlinkError, ValidationError


def _subclasses(cls: type[GovlinkError]) -> list[type[GovlinkError]]:
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


def _import_everything() -> None:
    """Import every module of govlink, so every branch of the error tree is registered."""
    for info in pkgutil.walk_packages(govlink.__path__, "govlink."):
        importlib.import_module(info.name)


def _home_docstring(cls: type[GovlinkError]) -> str:
    """The docstring that draws the branch ``cls`` belongs to: its package's (the root's
    error tree lives in ``govlink._errors``)."""
    module = cls.__module__
    if module == "govlink._errors":
        return importlib.import_module(module).__doc__ or ""
    parts = module.split(".")
    package = ".".join(p for p in parts[:-1]) if parts[-1].startswith("_") else module
    while True:
        loaded = importlib.import_module(package)
        if hasattr(loaded, "__path__") or "." not in package:
            return loaded.__doc__ or ""
        package = package.rpartition(".")[0]


def test_every_error_has_its_own_stable_code() -> None:
    _import_everything()
    classes = [GovlinkError, *_subclasses(GovlinkError)]
    codes = [c.code for c in classes]
    assert all(code and code.islower() and " " not in code for code in codes)
    duplicated = {c for c in codes if codes.count(c) > 1}
    assert not duplicated, f"error codes must be unique: {duplicated}"


def test_every_error_appears_in_the_tree_drawn_in_its_package_docstring() -> None:
    _import_everything()
    missing = [
        f"{cls.__module__}.{cls.__name__}"
        for cls in _subclasses(GovlinkError)
        if not cls.__name__.startswith("_") and cls.__name__ not in _home_docstring(cls)
    ]
    assert not missing, f"errors missing from their package's error tree: {missing}"


def test_validation_error_names_field_and_rule() -> None:
    err = ValidationError("must be 18 characters", field="applicant.id_number", rule="length")
    assert err.field == "applicant.id_number"
    assert err.rule == "length"
    assert str(err) == "applicant.id_number: must be 18 characters [length]"
    assert err.to_dict() == {
        "code": "validation_error",
        "message": str(err),
        "problems": [
            {"field": "applicant.id_number", "rule": "length", "message": "must be 18 characters"}
        ],
    }


def test_validation_error_from_several_problems() -> None:
    err = ValidationError(
        problems=[FieldProblem("a", "required", "missing"), FieldProblem("b", "type", "not int")]
    )
    assert [p.field for p in err.problems] == ["a", "b"]
    assert "a: missing [required]" in str(err)
    assert "b: not int [type]" in str(err)


def test_validation_error_needs_content() -> None:
    with pytest.raises(TypeError):
        ValidationError()


def test_package_exports_are_complete_and_sorted() -> None:
    exported = govlink.__all__
    # Order is ruff's RUF022 (constants first, then isort-style); here: no name twice, none missing.
    assert len(exported) == len(set(exported))
    public = {n for n in vars(govlink) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(exported), public - set(exported)
    for name in exported:
        assert hasattr(govlink, name), name
