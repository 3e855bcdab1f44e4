"""The README's main job, run as a user runs it: ``gap-ls demo`` (and ``--evals``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from .conftest import EVALS, ROOT


def run_demo(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, CI="1")
    return subprocess.run(
        [sys.executable, "-m", "gap_ls", "demo", "--delay", "0", "--hold", "0", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )


def test_demo_applies_the_example_envelopes_live():
    p = run_demo()
    out = p.stdout
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"Live preview: http://127\.0\.0\.1:\d+/\S+", out), out
    assert out.count("✓") == 4 and out.count("✗") == 1
    assert "03-hallucinated.json: rejected, document unchanged — target_not_found: operation 1" in out
    assert "20 targets now" in out


def test_demo_replays_the_recorded_runs():
    if not EVALS.is_dir():
        pytest.skip(f"recorded runs not found at {EVALS}")
    p = run_demo("--evals", str(EVALS))
    assert p.returncode == 0, p.stdout + p.stderr
    m = re.search(r"Replayed (\d+) recorded turns through the language server: (\d+) applied, (\d+) rejected; (\d+)/(\d+) agree", p.stdout)
    assert m, p.stdout
    turns, applied, rejected, agree, _ = map(int, m.groups())
    assert turns == applied + rejected and turns > 0
    assert "DIFFERS" not in p.stdout and "CHANGED" not in p.stdout
    # every disagreement is a strict-marker refusal of an edit that would break markers
    refusals = p.stdout.count("gap.strictMarkers refuses that")
    assert agree + refusals == turns
