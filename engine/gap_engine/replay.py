"""Replay of recorded model runs (the GAP authors' evaluation layout).

An experiment folder holds ``outputs/gap/turn-0.<ext>`` (the synthesized artifact) and, per
edit turn N ≥ 1, ``turn-N.json`` (the envelope as the model wrote it) and ``turn-N.<ext>``
(the artifact after that turn). For JSON artifacts ``turn-N.json`` is the artifact itself and
no envelope was recorded; such experiments are listed with no turns. ``metrics.json`` gives the
artifact's MIME type.

This module only reads files it is pointed at; it holds no recorded data itself.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

import attrs

from .apply import apply_with_splices
from .errors import GapError
from .ingest import ingest
from .model import Artifact

_EXT_FORMAT = {
    ".html": "text/html",
    ".htm": "text/html",
    ".py": "text/x-python",
    ".js": "text/javascript",
    ".ts": "text/x-typescript",
    ".css": "text/css",
    ".rs": "text/x-rust",
    ".java": "text/x-java",
    ".rb": "text/x-ruby",
    ".toml": "application/toml",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".json": "application/json",
    ".md": "text/markdown",
    ".svg": "image/svg+xml",
    ".sql": "application/sql",
    ".sh": "text/x-shellscript",
    ".txt": "text/plain",
}


def format_for_path(path: str | Path, default: str = "text/plain") -> str:
    """A MIME type for a file name by its extension (``.html`` → ``text/html`` …)."""
    return _EXT_FORMAT.get(Path(path).suffix.lower(), default)


@attrs.frozen
class Turn:
    """One recorded edit turn: ``number``, the raw ``envelope_text``, the ``expected`` body."""

    number: int
    envelope_text: str
    expected: str
    envelope_path: Path


@attrs.frozen
class Experiment:
    """One recorded run: its ``name``, artifact ``format``, ``turn0`` body and edit ``turns``."""

    name: str
    path: Path
    format: str
    turn0: str
    turns: tuple[Turn, ...]


@attrs.frozen
class TurnResult:
    """The outcome of replaying one turn.

    ``status`` is ``applied`` (the recorded artifact was reproduced byte for byte),
    ``rejected`` (the engine refused; ``error`` says why, and the recorded artifact was left
    unchanged by the recording too when ``agrees``), or ``mismatch`` (applied, but the result
    differs from the recording). ``seconds`` is the time of ingest + apply.
    """

    experiment: str
    turn: int
    status: str
    agrees: bool
    error: GapError | None = None
    repairs: tuple[str, ...] = ()
    seconds: float = 0.0


def _text(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def load_experiments(root: str | Path) -> list[Experiment]:
    """Every experiment under ``root`` that has a recorded turn-0 artifact, sorted by name.

    Raises:
        OSError: a file cannot be read; ValueError: a recorded file is not UTF-8 text.
    """
    root = Path(root)
    out = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        gap = d / "outputs" / "gap"
        if not gap.is_dir():
            continue
        turn0 = [p for p in gap.glob("turn-0.*")]
        if not turn0:
            continue
        t0 = turn0[0]
        fmt = None
        metrics = d / "metrics.json"
        if metrics.is_file():
            try:
                data = json.loads(metrics.read_text("utf-8"))
            except ValueError:
                data = None
            fmt = data.get("format") if isinstance(data, dict) and isinstance(data.get("format"), str) else None
        fmt = fmt or format_for_path(t0)
        turns = []
        if t0.suffix != ".json":
            for env in gap.glob("turn-*.json"):
                m = re.fullmatch(r"turn-(\d+)\.json", env.name)
                if not m or m.group(1) == "0":
                    continue
                n = int(m.group(1))
                exp = gap / f"turn-{n}{t0.suffix}"
                if exp.is_file():
                    turns.append(Turn(n, _text(env), _text(exp), env))
        turns.sort(key=lambda t: t.number)
        out.append(Experiment(d.name, d, fmt, _text(t0), tuple(turns)))
    return out


def replay_experiment(exp: Experiment) -> Iterator[tuple[TurnResult, Artifact]]:
    """Replay an experiment turn by turn, yielding each result and the artifact after it.

    Each turn is applied to the artifact the *recording* had before it (the previous turn's
    recorded body), so one disagreement does not cascade. Envelopes are ingested leniently
    and addressed to the artifact (the recorded models wrote ``"protocol": "gap"`` and
    arbitrary ids/versions).
    """
    import time

    prev_body = exp.turn0
    art = Artifact(exp.name, 1, exp.format, prev_body)
    for t in exp.turns:
        if art.body != prev_body:
            art = Artifact(exp.name, art.version, exp.format, prev_body)
        t0 = time.perf_counter()
        try:
            ing = ingest(t.envelope_text, artifact=art)
            res = apply_with_splices(art, ing.envelope)
        except GapError as err:
            dt = time.perf_counter() - t0
            yield TurnResult(exp.name, t.number, "rejected", t.expected == prev_body, err, seconds=dt), art
        else:
            dt = time.perf_counter() - t0
            ok = res.artifact.body == t.expected
            status = "applied" if ok else "mismatch"
            art = res.artifact
            yield TurnResult(exp.name, t.number, status, ok, None, ing.repairs, dt), art
        prev_body = t.expected
