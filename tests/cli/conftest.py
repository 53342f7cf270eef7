"""Fixtures for the command's tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean home and no govlink.toml in the working directory (the root conftest already
    clears every GOVLINK_* variable)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"
