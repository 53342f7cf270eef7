"""pydantic's validation errors in govlink's words: one :class:`FieldProblem` each."""

from __future__ import annotations

from pydantic import ValidationError as PydanticValidationError

from .._errors import FieldProblem

__all__ = ["pydantic_problems"]


def pydantic_problems(exc: PydanticValidationError) -> list[FieldProblem]:
    """The field (dotted path, ``(body)`` for the whole body), rule and message of each error."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "(body)"
        problems.append(FieldProblem(where, error["type"], error["msg"]))
    return problems
