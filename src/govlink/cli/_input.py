"""The one reader of JSON and NDJSON input files, shared by every ``govlink`` command.

Every command that reads a file (``sync cases``, ``sync catalog``, ``supervise`` and its
``--catalog`` / ``--holidays``, ``outbox retry --event``, ``config check``) goes through
:class:`JsonInput`, so a bad file gets the same one-line answer everywhere:

* **unusable path** (missing, a directory, no permission): :class:`govlink.ConfigError`,
  exit 2;
* **unusable content**: :class:`InputFileError` (exit 1) naming the file, the line (or the
  element, ``events[3]``) and the rule:

  ============== ==============================================================
  rule            what
  ============== ==============================================================
  ``empty``       no JSON value at all (an empty or blank file)
  ``encoding``    bytes that are not text in the expected encoding
  ``binary``      a NUL byte: a binary file, or UTF-16 without a byte-order mark
  ``json``        not JSON (truncated, a syntax error, ``NaN``); line and column
  ``nesting``     nested deeper than :data:`MAX_DEPTH` levels
  ``number``      an integer of more than 4,300 digits, or a float out of range
  ``type``        a container key (``events``, ``items``) that does not hold a list
  ============== ==============================================================

**Encodings.** The default is UTF-8, with or without a byte-order mark. A file that starts with
a UTF-16 or UTF-32 byte-order mark is read in that encoding (the detection rule; nothing else
is guessed). Files exported by hall systems in GBK are read with ``--encoding gb18030`` (GB
18030 is a superset of GBK and GB 2312); any Python codec name is accepted. When decoding
fails, the error names the line and the byte and says which ``--encoding`` to try.

**Shapes.** A file is NDJSON when its first non-blank line is a JSON value by itself and other
lines follow; then every non-blank line is one record (``line N``), and a line that is not
JSON is reported on its own (:attr:`Record.problem`) while the other lines are still read.
Otherwise the whole file is one JSON document: an array of records (``events[i]``), an object
whose container key holds them (``{"events": [...]}``), or one object that is itself the only
record. NDJSON is read line by line (streamed); a document is read whole.
"""

from __future__ import annotations

import codecs
import json
import math
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .._errors import ConfigError, FieldProblem, ValidationError
from ..domain import HolidayYear, parse_holiday_data

__all__ = [
    "ENCODING_HELP",
    "MAX_DEPTH",
    "InputFileError",
    "JsonInput",
    "Record",
    "add_encoding_option",
    "check_encoding",
    "read_holiday_files",
]

#: Deepest nesting accepted in an input record (govlink's own records are 3-4 levels deep).
MAX_DEPTH = 64

ENCODING_HELP = (
    "text encoding of input files (default: UTF-8, with or without BOM; a UTF-16/32 "
    "byte-order mark is detected); GBK exports from hall systems: --encoding gb18030"
)

_BOMS = (  # longest first: the UTF-32-LE mark starts with the UTF-16-LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class InputFileError(ValidationError):
    """An input file whose content is not usable JSON/NDJSON (see the module's rule table).

    ``path`` is the file as given, ``where`` the line or element (``"line 3"``), ``rule`` the
    broken rule. The message is one line: ``FILE line 3: not JSON (...) [json]``.
    """

    code = "invalid_input_file"

    def __init__(self, path: str, where: str, rule: str, message: str) -> None:
        self.path = path
        self.where = where
        place = f"{path} {where}" if where else path
        super().__init__(
            f"{place}: {message} [{rule}]", problems=[FieldProblem(where or "file", rule, message)]
        )


def check_encoding(name: str) -> str:
    """``argparse`` type of ``--encoding``: a codec Python knows, else a usage error (exit 2)."""
    import argparse

    try:
        return codecs.lookup(name).name
    except LookupError:
        raise argparse.ArgumentTypeError(
            f"unknown encoding {name!r} (e.g. utf-8, gb18030, utf-16)"
        ) from None


def add_encoding_option(parser: object) -> None:
    """Add ``--encoding NAME`` to a command that reads input files."""
    parser.add_argument(  # type: ignore[attr-defined]
        "--encoding", type=check_encoding, metavar="NAME", help=ENCODING_HELP
    )


@dataclass(frozen=True, slots=True)
class Record:
    """One record of an input file: where it is, its JSON value, or why it is unreadable.

    ``where`` is ``"line N"`` (NDJSON) or ``"events[i]"`` (a document); ``line`` the 1-based
    line for NDJSON (0 in a document); ``problem`` is set (and ``value`` None) for an NDJSON
    line that is not JSON.
    """

    where: str
    value: object
    line: int = 0
    container: str | None = None
    problem: FieldProblem | None = None


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


# One decoder: NaN/Infinity are Python's extensions, not JSON; 1e999 would become inf.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def _too_deep(value: object, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests deeper than ``limit`` (iterative: no recursion to exhaust)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict):
            children: Sequence[object] = list(current.values())
        elif isinstance(current, list):
            children = current
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


@dataclass(frozen=True, slots=True)
class _Bad:
    rule: str
    message: str


def _decode_json(text: str) -> object | _Bad:
    """The JSON value of ``text``, or why it is not one (never raises for bad content)."""
    try:
        value: object = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}" if "\n" in text else f"column {exc.colno}"
        truncated = exc.pos >= len(text.rstrip())
        return _Bad("json", f"not JSON: {exc.msg} at {where}" + (" (truncated?)" * truncated))
    except RecursionError:
        return _Bad("nesting", f"nested deeper than {MAX_DEPTH} levels")
    except ValueError as exc:  # int digits limit, NaN, inf
        message = str(exc)
        if "digits" in message:
            message = "an integer has more than 4,300 digits"
        return _Bad("number" if "NaN" not in message else "json", message)
    # Cheap filter first: a value cannot be deeper than its count of brackets.
    if (text.count("[") + text.count("{")) > MAX_DEPTH and _too_deep(value):
        return _Bad("nesting", f"nested deeper than {MAX_DEPTH} levels")
    return value


class JsonInput:
    """A JSON or NDJSON input file (see the module docstring for shapes and rules).

    ``encoding`` is the ``--encoding`` option (None: UTF-8 with BOM detection).
    """

    def __init__(self, path: str | Path, *, encoding: str | None = None) -> None:
        self.path = Path(path)
        self.name = str(path)
        self.encoding = encoding

    # --- bytes and text -------------------------------------------------------------------

    def _open(self) -> IO[bytes]:
        try:
            if self.path.is_dir():
                raise ConfigError(f"cannot read {self.name}: a directory, not a file")
            return self.path.open("rb")
        except OSError as exc:
            raise ConfigError(f"cannot read {self.name}: {exc.strerror}") from None

    def _codec(self, head: bytes) -> tuple[str, int]:
        """(codec, bytes to skip) for this file: ``--encoding`` wins; else a BOM; else UTF-8."""
        if self.encoding is not None and self.encoding not in ("utf-8", "utf_8"):
            return self.encoding, 0
        for bom, codec in _BOMS:
            if head.startswith(bom):
                if codec == "utf-8-sig":
                    return "utf-8", len(bom)
                if self.encoding is None:  # the utf-16/utf-32 codecs read the BOM themselves
                    return codec, 0
        return "utf-8", 0

    def _error(self, where: str, rule: str, message: str) -> InputFileError:
        return InputFileError(self.name, where, rule, message)

    def _decode_error(self, line: int, exc: UnicodeDecodeError, codec: str) -> InputFileError:
        byte = exc.object[exc.start : exc.start + 1].hex()
        hint = (
            "; a GBK/GB18030 export from a hall system: pass --encoding gb18030"
            if codec.replace("_", "-") in ("utf-8", "utf8")
            else "; pass the file's --encoding"
        )
        return self._error(
            f"line {line}",
            "encoding",
            f"not {codec} text (byte 0x{byte} at column {exc.start + 1}){hint}",
        )

    def lines(self) -> Iterator[tuple[int, str]]:
        """``(line number, text)`` of every line, decoded; raises on the first bad line.

        Raises:
            ConfigError: the path cannot be read.
            InputFileError: rule ``encoding`` or ``binary``.
        """
        with self._open() as fh:
            head = fh.read(4)
            codec, skip = self._codec(head)
            fh.seek(skip)
            if codecs.lookup(codec).name.startswith(("utf-16", "utf-32")):
                data = fh.read()
                try:
                    text = data.decode(codec)
                except UnicodeDecodeError as exc:
                    line = data[: exc.start].decode(codec, "replace").count("\n") + 1
                    raise self._decode_error(line, exc, codec) from None
                for number, line_text in enumerate(text.split("\n"), start=1):
                    yield number, line_text.rstrip("\r")
                return
            # ASCII-compatible encodings (UTF-8, GB18030, ...): b"\n" never occurs inside a
            # multi-byte character, so the file streams line by line with exact line numbers.
            for number, raw in enumerate(fh, start=1):
                if b"\0" in raw:
                    raise self._error(
                        f"line {number}",
                        "binary",
                        "holds a NUL byte: a binary file, or UTF-16 without a byte-order mark "
                        "(pass --encoding utf-16-le)",
                    )
                try:
                    yield number, raw.decode(codec).rstrip("\r\n")
                except UnicodeDecodeError as exc:
                    raise self._decode_error(number, exc, codec) from None

    def text(self) -> str:
        """The whole file, decoded (for TOML files and documents)."""
        return "\n".join(text for _, text in self.lines())

    # --- JSON -------------------------------------------------------------------------------

    def document(self) -> object:
        """The file as one JSON document.

        Raises:
            ConfigError: the path cannot be read.
            InputFileError: empty, undecodable, not JSON, too deep, numbers out of range.
        """
        text = self.text()
        if not text.strip():
            raise self._error("", "empty", "empty file: expected JSON")
        value = _decode_json(text)
        if isinstance(value, _Bad):
            raise self._error("", value.rule, value.message)
        return value

    def records(
        self, containers: Sequence[str] = ("events",), *, only_containers: bool = False
    ) -> Iterator[Record]:
        """Every record of the file (NDJSON lines, or a document's elements).

        ``containers`` are the keys of a document object that hold records (the first also
        names the elements of a top-level array); with ``only_containers`` such an object
        may hold no other key (rule ``unknown_field``). An NDJSON line that is not JSON is yielded
        with its :attr:`Record.problem`; every other content problem raises.

        Raises:
            ConfigError: the path cannot be read.
            InputFileError: see the module's rule table.
        """
        lines = self.lines()
        first: tuple[int, str] | None = None
        for number, text in lines:
            if text.strip():
                first = (number, text)
                break
        if first is None:
            raise self._error("", "empty", "empty file: expected JSON or NDJSON records")
        value = _decode_json(first[1])
        second: tuple[int, str] | None = None
        if not isinstance(value, _Bad):
            for number, text in lines:
                if text.strip():
                    second = (number, text)
                    break
            if second is None:  # one line: a document (or NDJSON of one record)
                yield from self._document_records(value, containers, first[0], only_containers)
                return
            yield from self._ndjson([(first[0], value), second], lines)
            return
        # The first line is no JSON value by itself: a multi-line document (or a bad line 1).
        rest = [text for _, text in lines]
        if not any(t.strip() for t in rest) or value.rule != "json":
            raise self._error(f"line {first[0]}", value.rule, value.message)
        whole = _decode_json("\n".join(["\n" * (first[0] - 1) + first[1], *rest]))
        if isinstance(whole, _Bad):
            raise self._error("", whole.rule, whole.message)
        yield from self._document_records(whole, containers, 0, only_containers)

    def _ndjson(
        self,
        head: list[tuple[int, object | str]],
        lines: Iterator[tuple[int, str]],
    ) -> Iterator[Record]:
        def parsed(number: int, item: object | str) -> Record:
            value = _decode_json(item) if isinstance(item, str) else item
            if isinstance(value, _Bad):
                if value.rule != "json":  # too deep, huge numbers: never worth reading on
                    raise self._error(f"line {number}", value.rule, value.message)
                return Record(
                    f"line {number}",
                    None,
                    number,
                    problem=FieldProblem(f"line {number}", value.rule, value.message),
                )
            return Record(f"line {number}", value, number)

        for number, item in head:
            yield parsed(number, item)
        for number, text in lines:
            if text.strip():
                yield parsed(number, text)

    def _document_records(
        self, value: object, containers: Sequence[str], line: int, only: bool
    ) -> Iterator[Record]:
        if isinstance(value, list):
            key = containers[0] if containers else "records"
            for index, element in enumerate(value):
                yield Record(f"{key}[{index}]", element, container=key)
            return
        if isinstance(value, dict) and any(key in value for key in containers):
            unknown = sorted(set(value) - set(containers))
            if only and unknown:
                raise self._error(
                    unknown[0],
                    "unknown_field",
                    f"unknown key {unknown[0]!r} (expected {', '.join(containers)})",
                )
            for key in containers:
                if key not in value:
                    continue
                elements = value[key]
                if not isinstance(elements, list):
                    raise self._error(key, "type", f"{key} must be a list")
                for index, element in enumerate(elements):
                    yield Record(f"{key}[{index}]", element, container=key)
            return
        yield Record(f"line {line or 1}", value, line or 1)


def read_holiday_files(
    paths: Iterable[str | Path], encoding: str | None = None
) -> list[HolidayYear]:
    """The years of operator holiday files (``.toml`` or JSON; ``docs/calendar.md``), read by
    this module's reader so encodings, depth and numbers get the same rules.

    Raises:
        ConfigError: a file cannot be opened.
        InputFileError: a file is not text in the encoding, not TOML/JSON, or too deep.
        ValidationError: a file breaks the holiday format (field and rule named).
    """
    years: list[HolidayYear] = []
    for path in paths:
        source = JsonInput(path, encoding=encoding)
        if Path(path).suffix == ".toml":
            try:
                data: object = tomllib.loads(source.text())
            except tomllib.TOMLDecodeError as exc:
                raise InputFileError(source.name, "", "toml", f"not TOML: {exc}") from None
            except RecursionError:
                raise InputFileError(
                    source.name, "", "nesting", f"nested deeper than {MAX_DEPTH} levels"
                ) from None
        else:
            data = source.document()
        years.extend(parse_holiday_data(data, origin=source.name))
    return years
