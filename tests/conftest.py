"""Shared test helpers: paths, optional data, and the editor-like LSP client fixture."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SHARED = ROOT.parent / "shared"
EVALS = SHARED / "gap-evals"


def require_or_skip(ok: bool, reason: str) -> None:
    """Skip with ``reason`` unless GAP_REQUIRE_ALL=1 (CI), in which case fail."""
    if ok:
        return
    if os.environ.get("GAP_REQUIRE_ALL") == "1":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)
