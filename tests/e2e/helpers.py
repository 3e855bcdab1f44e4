"""Helpers for the real-editor end-to-end tests (tests/e2e).

Each test drives a real client (Neovim, Emacs, Node's LSP stack, code-server + Chromium)
against the real server started over stdio. A test whose tool is missing skips and says
why, unless ``GAP_REQUIRE_ALL=1`` (CI), in which case it fails instead.

``GAP_LS_COMMAND`` (a shell-quoted command line) overrides how the server is started;
by default it is the ``gap-ls`` script next to this Python, else ``python -m gap_ls``.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from pathlib import Path

import pytest

E2E = Path(__file__).resolve().parent
REPO = E2E.parents[1]
FIXTURES = E2E / "fixtures"
CLIENTS = REPO / "clients"


def require_all() -> bool:
    """True when missing tools/features must fail rather than skip (CI sets GAP_REQUIRE_ALL=1)."""
    return os.environ.get("GAP_REQUIRE_ALL", "") not in ("", "0", "false", "no")


def missing(reason: str) -> None:
    """Skip the current test with ``reason`` — or fail with it under GAP_REQUIRE_ALL=1."""
    if require_all():
        pytest.fail(f"{reason} (GAP_REQUIRE_ALL=1, so this fails instead of skipping)")
    pytest.skip(reason)


def require_tool(name: str, *, hint: str) -> str:
    """The absolute path of executable ``name`` (or ``name`` itself if it is a path); skip/fail if absent."""
    found = name if os.path.isabs(name) and os.access(name, os.X_OK) else shutil.which(name)
    if not found:
        missing(f"{name} not found: {hint}")
    return found


def server_command() -> list[str]:
    """The command line that starts gap-ls over stdio."""
    override = os.environ.get("GAP_LS_COMMAND")
    if override:
        return shlex.split(override)
    script = Path(sys.executable).with_name("gap-ls")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "gap_ls"]




def make_editor_env(home: Path) -> dict[str, str]:
    """A copy of os.environ with HOME and XDG_* under ``home`` and no LLM API keys."""
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
