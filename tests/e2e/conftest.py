"""Fixtures for the real-editor end-to-end tests; the helpers live in tests/e2e/helpers.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .helpers import FIXTURES, make_editor_env


@pytest.fixture
def editor_env(tmp_path: Path) -> dict[str, str]:
    """Environment for an editor process: HOME and XDG_* point at a temp dir (nothing touches the real home)."""
    return make_editor_env(tmp_path / "home")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh copy of tests/e2e/fixtures (tests edit files and the server may rewrite envelope files)."""
    ws = tmp_path / "ws"
    shutil.copytree(FIXTURES, ws)
    return ws
