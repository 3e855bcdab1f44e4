"""Fixtures for the real-editor end-to-end tests; the helpers live in tests/e2e/helpers.py."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from .helpers import FIXTURES, server_command


@pytest.fixture
def editor_env(tmp_path: Path) -> dict[str, str]:
    """Environment for an editor process: HOME and XDG_* point at a temp dir (nothing touches the real home)."""
    home = tmp_path / "home"
    env = dict(os.environ)
    for var, sub in (
        ("HOME", "."),
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_RUNTIME_DIR", "run"),
    ):
        d = home / sub
        d.mkdir(parents=True, exist_ok=True)
        env[var] = str(d)
    os.chmod(home / "run", 0o700)
    # The server must never reach a real LLM from these tests.
    for var in ("OPENAI_API_KEY", "GAP_LLM_API_KEY"):
        env.pop(var, None)
    env["GAP_LS_TEST_COMMAND_JSON"] = json.dumps(server_command())
    return env


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh copy of tests/e2e/fixtures (tests edit files and the server may rewrite envelope files)."""
    ws = tmp_path / "ws"
    shutil.copytree(FIXTURES, ws)
    return ws
