"""``govlink schemas export [--check] [--dir DIR]``: JSON Schemas of the public models.

One file per entry of :data:`PUBLIC_MODELS` (``<name>.schema.json``) and the identity provider's
OpenAPI document (``openapi-identity.json``), written deterministically
(sorted keys, two-space indent, UTF-8, trailing newline) so the committed ``schemas/`` can be
compared byte for byte, and the OpenAPI document of each mock province API
(``openapi-<api>.json``, see :func:`govlink.testing.openapi_documents`). ``--check`` writes
nothing and exits 1 listing the files that are missing or differ; other files in the directory
are left alone and never count as drift.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from .. import domain
from .._errors import ConfigError
from ._args import add_group
from ._context import CliContext

__all__ = [
    "PUBLIC_MODELS",
    "SchemaFile",
    "export_schemas",
    "register",
    "render_openapi_documents",
    "render_schemas",
]

#: The public models whose schemas are exported: ``(file stem, model or annotated type)``.
#: To export another model, add one line here and run ``govlink schemas export``.
PUBLIC_MODELS: tuple[tuple[str, Any], ...] = (
    ("applicant", domain.Applicant),
    ("case", domain.Case),
    ("case-status-event", domain.CaseStatusEvent),
    ("item", domain.Item),
    ("supervision-thresholds", domain.SupervisionThresholds),
)

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class SchemaFile:
    """One schema file: its name and exact content."""

    name: str
    text: str


def _schema_of(stem: str, model: Any) -> dict[str, Any]:
    schema = TypeAdapter(model).json_schema(mode="validation")
    schema.setdefault("title", "".join(part.capitalize() for part in stem.split("-")))
    return {"$schema": _DIALECT, **schema}


def render_schemas(models: Sequence[tuple[str, Any]] = PUBLIC_MODELS) -> list[SchemaFile]:
    """The schema files for ``models`` (pure: nothing is written)."""
    return [
        SchemaFile(
            f"{stem}.schema.json",
            json.dumps(_schema_of(stem, model), sort_keys=True, indent=2, ensure_ascii=False)
            + "\n",
        )
        for stem, model in models
    ]


def render_openapi_documents() -> list[SchemaFile]:
    """The OpenAPI documents of the mock province's APIs and of the identity provider (pure)."""
    from ..identity import render_identity_openapi
    from ..testing import openapi_documents  # the mock (Starlette) only when exporting

    mock = [SchemaFile(f"openapi-{api}.json", text) for api, text in openapi_documents().items()]
    return [*mock, SchemaFile("openapi-identity.json", render_identity_openapi())]


def export_schemas(directory: Path, *, check: bool = False) -> list[str]:
    """Write (or with ``check``, compare) the schema files in ``directory``.

    Returns the names of the files written, or with ``check`` the names that drifted (missing
    or different). Other files in ``directory`` are never touched or reported.

    Raises:
        OSError: the directory cannot be created or a file cannot be written.
    """
    changed: list[str] = []
    if not check:
        directory.mkdir(parents=True, exist_ok=True)
    for schema in [*render_schemas(), *render_openapi_documents()]:
        path = directory / schema.name
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == schema.text:
            continue
        changed.append(schema.name)
        if not check:
            path.write_text(schema.text, encoding="utf-8", newline="\n")
    return changed


def _run(ctx: CliContext) -> int:
    directory = Path(ctx.args.dir)
    check: bool = ctx.args.check
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"--dir {str(directory)!r}: not a directory")
    try:
        changed = export_schemas(directory, check=check)
    except OSError as exc:
        raise ConfigError(f"--dir {str(directory)!r}: cannot be used ({exc.strerror})") from None
    total = len(PUBLIC_MODELS) + len(render_openapi_documents())
    if check:
        listing = "".join(f"\n  {directory / name}" for name in changed)
        human = (
            f"schemas drifted ({len(changed)} of {total} files); run `govlink schemas export`:"
            f"{listing}"
            if changed
            else f"schemas up to date ({total} files in {directory})"
        )
        ctx.emit({"ok": not changed, "drifted": changed, "directory": str(directory)}, human)
        return 1 if changed else 0
    human = f"wrote {len(changed)} of {total} schema files to {directory}" + "".join(
        f"\n  {name}" for name in changed
    )
    ctx.emit({"written": changed, "directory": str(directory)}, human)
    return 0


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    actions = add_group(
        commands,
        common,
        "schemas",
        help="JSON Schemas of the public models",
        description="Export the JSON Schemas of govlink's public models.",
    )
    export = actions.add_parser(
        "export",
        parents=[common],
        help="write schemas/*.schema.json (or check them with --check)",
        description=(
            "Write one JSON Schema file per public model. With --check, write nothing and exit 1 "
            "when a committed file is missing or differs."
        ),
    )
    export.add_argument(
        "--check", action="store_true", help="compare instead of writing; exit 1 on drift"
    )
    export.add_argument(
        "--dir", default="schemas", metavar="DIR", help="schema directory (default: schemas)"
    )
    export.set_defaults(func=_run)
