"""Coverage-guided fuzzing (atheris) of the parsers: a bounded run of every target in the
default suite, a long one behind ``-m soak``.

Every target runs in its own process (libFuzzer ends the process when it is done), all at
once, each for a fixed time budget from a seed corpus of valid inputs. A target fails when
its process reports a crash (a non-govlink exception: libFuzzer prints the traceback and saves
the input as ``crash-*`` under the artifact folder, shown in the failure) or ran no inputs.
Replay a saved input with ``python tests/fuzz/fuzz_targets.py TARGET crash-<sha1>``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from fuzz_targets import TARGETS

RUNNER = Path(__file__).with_name("fuzz_targets.py")
CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
#: Seconds per target in the default run (all targets run at the same time).
BOUNDED_SECONDS = 2
#: Seconds per target behind ``-m soak``.
SOAK_SECONDS = 120

pytestmark = pytest.mark.fuzz


@dataclass
class FuzzRun:
    target: str
    returncode: int
    output: str
    artifacts: list[Path]

    @property
    def runs(self) -> int:
        done = re.search(r"Done (\d+) runs", self.output)
        return int(done.group(1)) if done else 0

    def explain(self) -> str:
        saved = "\n".join(f"{a}: {a.read_bytes()[:300]!r}" for a in self.artifacts)
        return f"{self.target} exit {self.returncode}\n{self.output[-4000:]}\n{saved}"


def _need_atheris() -> None:
    if importlib.util.find_spec("atheris") is None:
        message = "atheris is not installed (pip install -e '.[dev]' installs it on Linux)"
        if CI:
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)


def fuzz_all(seconds: int, workdir: Path) -> dict[str, FuzzRun]:
    """Run every target for ``seconds`` at the same time; their outcomes by target."""
    shm = Path("/dev/shm")  # noqa: S108 - only a parent for mkdtemp, never a fixed name
    processes = {}
    for target in TARGETS:
        artifacts = workdir / f"{target}-artifacts"
        artifacts.mkdir()
        scratch = tempfile.mkdtemp(prefix="govlink-fuzz-", dir=shm if shm.is_dir() else workdir)
        command = [
            sys.executable,
            str(RUNNER),
            target,
            str(workdir / f"{target}-corpus"),
            f"-max_total_time={seconds}",
            "-seed=1",
            "-timeout=20",  # one input running 20 s is a hang: a crash
            "-rss_limit_mb=2048",
            f"-artifact_prefix={artifacts}/",
        ]
        env = {**os.environ, "GOVLINK_FUZZ_SCRATCH": scratch}
        processes[target] = (
            subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True
            ),
            artifacts,
            scratch,
        )
    results = {}
    for target, (process, artifacts, scratch) in processes.items():
        try:
            output, _ = process.communicate(timeout=seconds + 120)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            output += "\n(killed: the fuzzer did not stop at its time budget)"
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        results[target] = FuzzRun(target, process.returncode, output, sorted(artifacts.glob("*")))
    return results


@pytest.fixture(scope="module")
def bounded_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FuzzRun]:
    _need_atheris()
    return fuzz_all(BOUNDED_SECONDS, tmp_path_factory.mktemp("fuzz"))


@pytest.mark.parametrize("target", TARGETS)
def test_bounded_fuzz_run_finds_no_crash(target: str, bounded_runs: dict[str, FuzzRun]) -> None:
    run = bounded_runs[target]
    assert run.returncode == 0, run.explain()
    assert not run.artifacts, run.explain()
    assert run.runs > 0, run.explain()


@pytest.mark.soak
def test_long_fuzz_run_finds_no_crash(tmp_path: Path) -> None:
    _need_atheris()
    runs = fuzz_all(SOAK_SECONDS, tmp_path)
    failed = [run.explain() for run in runs.values() if run.returncode or run.artifacts]
    assert not failed, "\n\n".join(failed)
    assert all(run.runs > 0 for run in runs.values())


def test_a_crash_is_reported(tmp_path: Path) -> None:
    """The harness itself: a target that raises a non-govlink error fails the run."""
    _need_atheris()
    script = tmp_path / "crashing.py"
    script.write_text(
        "import sys, atheris\n"
        "def target(data):\n"
        "    if len(data) > 2: raise ValueError('not a govlink error')\n"
        "atheris.Setup(sys.argv, target)\n"
        "atheris.Fuzz()\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script), "-runs=100000", f"-artifact_prefix={tmp_path}/"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "ValueError" in done.stdout + done.stderr
    assert list(tmp_path.glob("crash-*"))
