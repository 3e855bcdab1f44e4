"""Token counting for the accounting: a real tokenizer when one is configured and available
offline, otherwise a labelled estimate.

``gap.tokenizer`` / ``GAP_TOKENIZER`` is either a path to a Hugging Face ``tokenizer.json``
or a hub name (``gpt2``, ``org/name``) that is already in the local Hugging Face cache. Nothing
is ever downloaded. When the engine provides ``gap_engine.tokens`` its loader is used first.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable

import attrs

from gap_engine import estimate_tokens

log = logging.getLogger(__name__)

__all__ = ["TokenCounter", "make_counter", "ESTIMATE_LABEL"]

try:
    from gap_engine.tokens import ESTIMATE_LABEL  # one label across the project
except ImportError:  # an engine without gap_engine.tokens
    ESTIMATE_LABEL = "estimate (characters / 4)"


@attrs.frozen
class TokenCounter:
    """``count(text) -> int`` plus ``label`` (what counted: ``tokenizer <spec>`` or
    the estimate label) and ``exact`` (False for the estimate)."""

    count: Callable[[str], int]
    label: str
    exact: bool
    problem: str | None = None  # why a configured tokenizer was not used

    def __call__(self, text: str) -> int:
        return self.count(text)


def _hf_cache_dirs() -> list[Path]:
    out = []
    if os.environ.get("HF_HUB_CACHE"):
        out.append(Path(os.environ["HF_HUB_CACHE"]))
    if os.environ.get("HUGGINGFACE_HUB_CACHE"):
        out.append(Path(os.environ["HUGGINGFACE_HUB_CACHE"]))
    if os.environ.get("HF_HOME"):
        out.append(Path(os.environ["HF_HOME"]) / "hub")
    out.append(Path.home() / ".cache" / "huggingface" / "hub")
    return out


def find_tokenizer_file(spec: str) -> Path | None:
    """The ``tokenizer.json`` for ``spec``: the path itself (or ``spec/tokenizer.json`` for a
    directory), or the newest snapshot of hub name ``spec`` in the local cache; None if absent.
    Never touches the network."""
    p = Path(spec).expanduser()
    if p.is_file():
        return p
    if p.is_dir() and (p / "tokenizer.json").is_file():
        return p / "tokenizer.json"
    repo = "models--" + spec.replace("/", "--")
    for cache in _hf_cache_dirs():
        snaps = cache / repo / "snapshots"
        if snaps.is_dir():
            files = sorted(snaps.glob("*/tokenizer.json"), key=lambda f: f.stat().st_mtime, reverse=True)
            if files:
                return files[0]
    return None


def _estimate(problem: str | None = None) -> TokenCounter:
    return TokenCounter(estimate_tokens, ESTIMATE_LABEL, False, problem)


def make_counter(spec: str | None) -> TokenCounter:
    """A :class:`TokenCounter` for ``spec`` (path or cached hub name), or the estimate when
    ``spec`` is empty, ``tokenizers`` is not installed or the file is not available offline
    (``problem`` then says why)."""
    if not spec:
        return _estimate()
    try:  # the engine's loader (gap_engine.tokens), when this engine has it
        from gap_engine.tokens import counter_or_estimate  # type: ignore
    except ImportError:
        counter_or_estimate = None
    if counter_or_estimate is not None:
        fn, label, problem = counter_or_estimate(spec)
        if fn is estimate_tokens:
            return _estimate(problem)
        return TokenCounter(fn, label, True)
    path = find_tokenizer_file(spec)
    if path is None:
        return _estimate(f"tokenizer {spec!r} is neither a file nor in the local Hugging Face cache (no downloads)")
    try:
        from tokenizers import Tokenizer
    except ImportError:
        return _estimate("the 'tokenizers' package is not installed")
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:  # noqa: BLE001
        return _estimate(f"could not load {path}: {exc}")

    def count(text: str) -> int:
        if not text:
            return 0
        return len(tok.encode(text, add_special_tokens=False).ids)

    return TokenCounter(count, f"tokenizer {spec}", True)
