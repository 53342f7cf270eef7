"""Reading a batch envelope with the element limit enforced while reading, not after.

A batch request is a JSON object whose one array member holds the elements
(``{"events": [...]}``, ``{"bjztlb": [...]}``). Decoding the whole body first and counting
afterwards lets one request of millions of tiny elements (``[{},{},...]``) cost gigabytes and
many seconds before it is refused. :func:`read_batch` walks the envelope with the standard
library's JSON scanner, one element at a time, and stops at the first element over the limit,
so the work and memory are bounded by the limit, not by the body. Written by hand because
neither the standard library nor pydantic can stop a JSON array early.

The body itself is bounded before this point: the province refuses a body over
``ProvinceConfig.max_body_bytes`` unread (the transports stop reading there).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final, NoReturn

from .._errors import FieldProblem

__all__ = ["BatchTooLarge", "MalformedBody", "body_problems", "read_batch"]

_WS: Final = re.compile(r"[ \t\n\r]*")


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


# Strict JSON: NaN and Infinity are Python extensions, not JSON.
_SCAN: Final = json.JSONDecoder(parse_constant=_no_constants).raw_decode


class BatchTooLarge(Exception):
    """The batch holds more than ``limit`` elements (reading stopped at the first one over)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class MalformedBody(Exception):
    """The body is not a JSON object; ``problems`` say where and why."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__(problems[0].message)
        self.problems = problems


def body_problems(rule: str, message: str) -> MalformedBody:
    """A :class:`MalformedBody` about the body as a whole (field ``(body)``)."""
    return MalformedBody([FieldProblem("(body)", rule, message)])


def read_batch(body: bytes, member: str, limit: int) -> dict[str, Any]:
    """The envelope object of a batch request, its ``member`` array read element by element.

    Other members are decoded whole; the caller validates the envelope's shape (so a missing
    or misspelt member is the API's own 400).

    Raises:
        BatchTooLarge: ``member`` holds more than ``limit`` elements.
        MalformedBody: not UTF-8, not JSON, not an object, or nested too deeply.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise body_problems("utf8", "the body is not UTF-8 text") from None
    try:
        return _envelope(text, member, limit)
    except json.JSONDecodeError as exc:
        raise body_problems(
            "json_invalid", f"Invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise body_problems("json_invalid", "Invalid JSON: nested too deeply") from None
    except ValueError as exc:  # a NaN, or an integer longer than Python reads
        raise body_problems("json_invalid", f"Invalid JSON: {exc}") from None


def _skip(text: str, at: int) -> int:
    """The index of the first non-whitespace character at or after ``at``."""
    found = _WS.match(text, at)
    return found.end() if found is not None else at


def _expected(what: str, text: str, at: int) -> json.JSONDecodeError:
    return json.JSONDecodeError(f"Expecting {what}", text, at)


def _envelope(text: str, member: str, limit: int) -> dict[str, Any]:
    at = _skip(text, 0)
    if not text.startswith("{", at):
        if at == len(text):
            raise _expected("value", text, at)
        raise body_problems("model_type", "the body must be a JSON object")
    envelope: dict[str, Any] = {}
    at = _skip(text, at + 1)
    if text.startswith("}", at):
        at += 1
    else:
        while True:
            if not text.startswith('"', at):
                raise _expected("property name enclosed in double quotes", text, at)
            key, at = _SCAN(text, at)
            at = _skip(text, at)
            if not text.startswith(":", at):
                raise _expected("':' delimiter", text, at)
            at = _skip(text, at + 1)
            if key == member and text.startswith("[", at):
                envelope[key], at = _array(text, at, limit)
            else:
                envelope[key], at = _SCAN(text, at)
            at = _skip(text, at)
            if text.startswith(",", at):
                at = _skip(text, at + 1)
                continue
            if text.startswith("}", at):
                at += 1
                break
            raise _expected("',' delimiter", text, at)
    if _skip(text, at) != len(text):
        raise json.JSONDecodeError("Extra data", text, at)
    return envelope


def _array(text: str, at: int, limit: int) -> tuple[list[Any], int]:
    at = _skip(text, at + 1)
    elements: list[Any] = []
    if text.startswith("]", at):
        return elements, at + 1
    while True:
        if len(elements) == limit:
            raise BatchTooLarge(limit)
        element, at = _SCAN(text, at)
        elements.append(element)
        at = _skip(text, at)
        if text.startswith(",", at):
            at = _skip(text, at + 1)
            continue
        if text.startswith("]", at):
            return elements, at + 1
        raise _expected("',' delimiter", text, at)
