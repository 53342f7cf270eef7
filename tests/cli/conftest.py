"""Fixtures for the command's tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean home, no GOVLINK_* environment and no govlink.toml in the working directory."""
    for name in list(os.environ):
        if name.startswith("GOVLINK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"
