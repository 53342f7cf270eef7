"""``govlink demo``: the main job end to end on embedded defaults.

The story is told in steps, each in its own module ``govlink.cli._demo_<name>`` exposing
``step(demo: Demo) -> None``; a step reports each named check with :meth:`Demo.ok` or
:meth:`Demo.fail` (one line each; ``--json`` lists them under ``checks`` as ``step.name``; a
failed one makes the demo exit 1 naming it) and leaves what later steps use in the typed
:attr:`Demo.state` (:class:`DemoState`).

Without ``--keep`` the state lives in a temporary directory, removed at the end unless a step
wrote something worth opening there (the supervision report): then it is kept, and said so.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from .._clock import Clock, VirtualClock
from .._errors import ConfigError
from ..domain import Case, CaseStatusEvent
from ..samples import SampleCatalog
from ._context import CliContext

if TYPE_CHECKING:  # the mock is imported only when a step starts it
    from ..testing import MockProvince, ServedProvince

__all__ = ["STEPS", "Demo", "DemoCheck", "DemoState", "register"]

#: The demo's steps, in story order.
STEPS: tuple[str, ...] = (
    "catalog",
    "cases",
    "identity",
    "province",
    "catalog_sync",
    "sync",
    "supervision",
)


@dataclass
class DemoState:
    """What one step leaves for the later ones (None until a step has run)."""

    #: the bundled sample catalog (step "catalog"; read by "cases" and "catalog_sync")
    catalog: SampleCatalog | None = None
    #: the sample cases and their status events (step "cases"; read by "sync")
    cases: list[Case] | None = None
    events: list[CaseStatusEvent] | None = None
    #: the mock province (step "province", or "sync" starts one), in-process or served
    province: MockProvince | ServedProvince | None = None


@dataclass(frozen=True)
class DemoCheck:
    """One named check of the demo: ``name`` is ``step.check`` (e.g. ``identity.sso``)."""

    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class Demo:
    """What the demo steps share: a console, a scratch home, a clock and the results."""

    ctx: CliContext
    home: Path
    clock: Clock = field(default_factory=VirtualClock)
    state: DemoState = field(default_factory=DemoState)
    failures: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    checks: list[DemoCheck] = field(default_factory=list)
    #: the step running (names its checks)
    step: str = "demo"
    #: keep a temporary state directory after the run (something in it is worth opening)
    keep_home: bool = False

    @property
    def console(self) -> Console:
        return self.ctx.out if not self.ctx.json else self.ctx.err

    def section(self, title: str) -> None:
        self.console.rule(f"[bold]{title}")

    def _record(self, check: str, ok: bool, message: str) -> str:
        name = f"{self.step}.{check}"
        # The detail without rich markup escapes (``\\[`` prints a literal bracket).
        self.checks.append(DemoCheck(name, ok, message.replace("\\[", "[")))
        return name

    def ok(self, check: str, message: str) -> None:
        """Report the passed check ``check`` of the running step (one line)."""
        self._record(check, True, message)
        self.console.print(f"[green]✓[/green] {message}")

    def info(self, message: str) -> None:
        self.console.print(f"  {message}")

    def fail(self, check: str, message: str) -> None:
        """Report the failed check ``check`` of the running step (the demo exits 1)."""
        name = self._record(check, False, message)
        self.failures.append(f"{name}: {message}")
        self.console.print(f"[red]✗ {name}: {message}[/red]")

    def check(self, check: str, passed: bool, message: str) -> bool:
        """:meth:`ok` or :meth:`fail` as ``passed`` says; returns ``passed``."""
        (self.ok if passed else self.fail)(check, message)
        return passed


def run_demo(ctx: CliContext) -> int:
    keep = getattr(ctx.args, "keep", None)
    if keep:
        home = Path(keep)
        try:
            home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"--keep {keep!r}: cannot be used ({exc.strerror})") from None
    else:
        home = Path(tempfile.mkdtemp(prefix="govlink-demo-"))
    demo = Demo(ctx=ctx, home=home)
    try:
        if not ctx.json:
            demo.console.print(
                "[dim]govlink demo: the bundled demo city (Dongying, 6 halls) on embedded "
                f"development defaults; state in {home}[/dim]"
            )
        steps = ctx.args.steps or list(STEPS)
        for name in steps:
            module = importlib.import_module(f"govlink.cli._demo_{name}")
            demo.step = name
            module.step(demo)
    finally:
        if not keep and not demo.keep_home:
            shutil.rmtree(home, ignore_errors=True)
    checks = [c.to_dict() for c in demo.checks]
    failed = [c.name for c in demo.checks if not c.ok]
    if ctx.json:
        ctx.emit(
            {"ok": not demo.failures, "failures": demo.failures, "checks": checks, **demo.summary}
        )
    elif demo.failures:
        demo.console.print(
            f"[red bold]demo finished with {len(demo.failures)} failure(s): {', '.join(failed)}"
        )
    else:
        demo.console.print(
            "[green bold]demo finished: "
            + (f"all {len(checks)} checks passed" if len(checks) != 1 else "its 1 check passed")
            + (f"; state kept in {home}" if not keep and demo.keep_home else "")
        )
    return 1 if demo.failures else 0


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    parser = commands.add_parser(
        "demo",
        parents=[common],
        help="run the main job end to end on embedded defaults",
        description="Run govlink's story end to end on the bundled demo city.",
    )
    parser.add_argument(
        "--keep", metavar="DIR", help="keep the demo's state in DIR instead of a temporary folder"
    )
    parser.add_argument(
        "--step",
        dest="steps",
        action="append",
        choices=STEPS,
        metavar="STEP",
        help=f"run only this step (repeatable): {', '.join(STEPS) or 'none yet'}",
    )
    parser.set_defaults(func=run_demo)
