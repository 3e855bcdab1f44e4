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
    assert "CHANGED" not in p.stdout and "DIFFERS" not in p.stdout
    # every disagreement is a strict-marker refusal of an edit that would break markers, or an
    # edit applied after the documented repair of content that re-emitted its target's own
    # marker (the server ingests with repair_markers=True; the reference engine nested a
    # duplicate id there, so the recording differs by exactly that marker)
    refusals = p.stdout.count("gap.strictMarkers refuses that")
    differs = _differing_turns(p.stdout)
    for name, number in differs:
        assert _own_marker_repair(name, number), f"{name} turn {number} differs from the recording without a documented repair"
    assert agree + refusals + len(differs) == turns


def _differing_turns(out: str) -> list[tuple[str, int]]:
    """``(experiment, turn)`` of every turn the replay applied with a repair, so that it
    differs from the recording."""
    found, exp = [], None
    for line in out.splitlines():
        head = re.match(r"(\S+) \(", line)
        if head:
            exp = head.group(1)
        turn = re.match(r"  turn (\d+): applied in [\d.]+ ms — repaired \(", line)
        if turn:
            found.append((exp, int(turn.group(1))))
    return found


def _own_marker_repair(name: str, number: int) -> bool:
    """Did ingesting that recorded turn need the own-marker repair, and does the repaired edit
    give the recording minus the nested duplicate marker (the only difference)?"""
    from gap_engine import Artifact, apply, ingest, strip
    from gap_engine.replay import load_experiments

    exp = next(e for e in load_experiments(EVALS) if e.name == name)
    turns = {t.number: t for t in exp.turns}
    before = turns[number - 1].expected if number > 1 else exp.turn0
    art = Artifact(name, 1, exp.format, before)
    ing = ingest(turns[number].envelope_text, artifact=art, repair_markers=True)
    if not any(r.endswith("removed the target's own marker that the content repeated") for r in ing.repairs):
        return False
    new, _ = apply(art, ing.envelope)
    # same text once markers are stripped; one marker pair fewer than the recording
    return strip(new.body) == strip(turns[number].expected) and new.body.count("<gap:target") == turns[number].expected.count("<gap:target") - 1
