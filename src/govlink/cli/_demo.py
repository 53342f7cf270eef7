"""``govlink demo``: the main job end to end on embedded defaults.

The story is told in steps, each in its own module ``govlink.cli._demo_<name>`` exposing
``step(demo: Demo) -> None``; a step records failures with :meth:`Demo.fail` (the demo then exits
1) and leaves what later steps use in the typed :attr:`Demo.state` (:class:`DemoState`).
"""

from __future__ import annotations

import argparse
import importlib
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

__all__ = ["STEPS", "Demo", "DemoState", "register"]

#: The demo's steps, in story order.
STEPS: tuple[str, ...] = ("catalog", "cases", "identity", "province", "catalog_sync", "sync")


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


@dataclass
class Demo:
    """What the demo steps share: a console, a scratch home, a clock and the results."""

    ctx: CliContext
    home: Path
    clock: Clock = field(default_factory=VirtualClock)
    state: DemoState = field(default_factory=DemoState)
    failures: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def console(self) -> Console:
        return self.ctx.out if not self.ctx.json else self.ctx.err

    def section(self, title: str) -> None:
        self.console.rule(f"[bold]{title}")

    def ok(self, message: str) -> None:
        self.console.print(f"[green]✓[/green] {message}")

    def info(self, message: str) -> None:
        self.console.print(f"  {message}")

    def fail(self, message: str) -> None:
        self.failures.append(message)
        self.console.print(f"[red]✗ {message}[/red]")


def run_demo(ctx: CliContext) -> int:
    keep = getattr(ctx.args, "keep", None)
    with tempfile.TemporaryDirectory(prefix="govlink-demo-") as scratch:
        home = Path(keep) if keep else Path(scratch)
        try:
            home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"--keep {keep!r}: cannot be used ({exc.strerror})") from None
        demo = Demo(ctx=ctx, home=home)
        if not ctx.json:
            demo.console.print(
                "[dim]govlink demo: the bundled demo city (Dongying, 6 halls) on embedded "
                f"development defaults; state in {home}[/dim]"
            )
        steps = ctx.args.steps or list(STEPS)
        for name in steps:
            module = importlib.import_module(f"govlink.cli._demo_{name}")
            module.step(demo)
        if ctx.json:
            ctx.emit({"ok": not demo.failures, "failures": demo.failures, **demo.summary})
        elif demo.failures:
            demo.console.print(f"[red bold]demo finished with {len(demo.failures)} failure(s)")
        else:
            demo.console.print("[green bold]demo finished: every step passed")
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
