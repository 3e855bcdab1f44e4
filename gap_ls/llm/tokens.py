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

ESTIMATE_LABEL = "estimate (≈4 chars/token)"


@attrs.frozen
class TokenCounter:
    """``count(text) -> int`` plus ``label`` (what counted: ``tokenizers:<name>`` or
    ``estimate (≈4 chars/token)``) and ``exact`` (False for the estimate)."""

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
    try:  # the engine's loader, when it has one
        from gap_engine import tokens as engine_tokens  # type: ignore

        loader = getattr(engine_tokens, "load_counter", None) or getattr(engine_tokens, "counter", None)
        if loader is not None:
            c = loader(spec)
            if c is not None:
                fn = getattr(c, "count", c)
                label = getattr(c, "label", None) or f"tokenizers:{spec}"
                return TokenCounter(fn, label, True)
    except Exception:  # noqa: BLE001 - fall through to our own loader
        pass
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

    name = spec if not Path(spec).expanduser().exists() else Path(spec).name
    return TokenCounter(count, f"tokenizers:{name}", True)
