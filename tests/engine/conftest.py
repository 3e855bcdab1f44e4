"""Shared helpers for the engine tests: where the spec and the recorded runs live.

Both are read from ``../shared`` beside the repository (never copied into it); tests that need
them skip with a clear reason when they are absent (fail instead with ``GAP_REQUIRE_ALL=1``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import require_or_skip

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SPEC_DIR = SHARED / "gap-spec"
EVALS_DIR = SHARED / "gap-evals"


@pytest.fixture(scope="session")
def spec_dir() -> Path:
    require_or_skip((SPEC_DIR / "examples").is_dir(), f"the GAP spec is not at {SPEC_DIR} (examples/ missing)")
    return SPEC_DIR


@pytest.fixture(scope="session")
def evals_dir() -> Path:
    require_or_skip(EVALS_DIR.is_dir(), f"the recorded GAP runs are not at {EVALS_DIR} (optional CC-BY-4.0 data, never copied here)")
    return EVALS_DIR
