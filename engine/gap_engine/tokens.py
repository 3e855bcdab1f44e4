"""Token counters for handles (GAP §7.2 ``token_count``, §6 token reporting).

A counter is any ``Callable[[str], int]``. Two are provided:

- :func:`~gap_engine.apply.estimate_tokens` (the default everywhere): ``ceil(len(text) / 4)``
  code points per token — a documented estimate, not a count.
- :class:`TokenizerCounter`: a real count with a Hugging Face ``tokenizers`` tokenizer, loaded
  from a ``tokenizer.json`` path (or a directory holding one) or from a hub name such as
  ``"gpt2"`` or ``"Qwen/Qwen2.5-0.5B"`` found in the LOCAL Hugging Face cache. Nothing is ever
  downloaded. ``tokenizers`` is an optional dependency (``pip install gap-engine[tokenizers]``)
  imported only when a tokenizer is loaded.

:func:`counter_or_estimate` picks one for a setting (or ``$GAP_TOKENIZER``) and says which.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Callable

from .apply import estimate_tokens

__all__ = [
    "ESTIMATE_LABEL",
    "TokenCounter",
    "TokenizerCounter",
    "TokenizerUnavailable",
    "counter_or_estimate",
    "estimate_tokens",
    "find_cached_tokenizer",
    "hf_cache_dirs",
    "load_tokenizer",
]

TokenCounter = Callable[[str], int]

#: How the default estimate is labelled wherever a count is shown.
ESTIMATE_LABEL = "estimate (characters / 4)"


class TokenizerUnavailable(RuntimeError):
    """No tokenizer could be loaded offline; the message says why and what was tried."""


def hf_cache_dirs() -> list[Path]:
    """Where a local Hugging Face hub cache may be, in the order ``huggingface_hub`` uses:
    ``$HF_HUB_CACHE``, ``$HUGGINGFACE_HUB_CACHE``, ``$HF_HOME/hub``,
    ``$XDG_CACHE_HOME/huggingface/hub``, ``~/.cache/huggingface/hub``."""
    out: list[Path] = []
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            out.append(Path(os.environ[var]).expanduser())
    if os.environ.get("HF_HOME"):
        out.append(Path(os.environ["HF_HOME"]).expanduser() / "hub")
    if os.environ.get("XDG_CACHE_HOME"):
        out.append(Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "huggingface" / "hub")
    out.append(Path.home() / ".cache" / "huggingface" / "hub")
    seen, uniq = set(), []
    for p in out:
        if p not in seen:
            seen.add(p)
            uniq.append(p)
    return uniq


def find_cached_tokenizer(name: str, cache_dirs: list[Path] | None = None) -> Path | None:
    """The ``tokenizer.json`` of hub repo ``name`` in a local cache, or None.

    Looks in ``models--<org>--<name>/snapshots/<rev>/tokenizer.json``, preferring the
    revision that ``refs/main`` points to, then the most recently modified snapshot.
    """
    folder = "models--" + name.replace("/", "--")
    for root in cache_dirs if cache_dirs is not None else hf_cache_dirs():
        repo = root / folder
        snaps = repo / "snapshots"
        if not snaps.is_dir():
            continue
        ref = repo / "refs" / "main"
        if ref.is_file():
            cand = snaps / ref.read_text("utf-8").strip() / "tokenizer.json"
            if cand.is_file():
                return cand
        found = sorted(snaps.glob("*/tokenizer.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        if found:
            return found[0]
    return None


def _resolve(spec: str | os.PathLike) -> Path:
    try:
        return _locate(spec)
    except (OSError, RuntimeError, ValueError) as exc:  # no such ~user, a name too long…
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise TokenizerUnavailable(f"tokenizer {str(spec)[:200]!r} cannot be looked up: {why}") from None


def _locate(spec: str | os.PathLike) -> Path:
    p = Path(spec).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        if (p / "tokenizer.json").is_file():
            return p / "tokenizer.json"
        raise TokenizerUnavailable(f"{p} is a directory without a tokenizer.json")
    s = str(spec)
    if s.endswith(".json") or s.startswith(("/", ".", "~")) or s.count("/") > 1 or "\\" in s:
        raise TokenizerUnavailable(f"tokenizer file {s!r} does not exist")
    hit = find_cached_tokenizer(s)
    if hit is None:
        where = ", ".join(str(d) for d in hf_cache_dirs())
        raise TokenizerUnavailable(
            f"tokenizer {s!r} is neither a tokenizer.json path nor in a local Hugging Face cache "
            f"(looked in {where}); nothing is downloaded — give a path to a tokenizer.json"
        )
    return hit


@lru_cache(maxsize=8)
def _load(path: str):
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise TokenizerUnavailable(
            "the 'tokenizers' package is not installed (pip install 'gap-engine[tokenizers]')"
        ) from None
    try:
        return Tokenizer.from_file(path)
    except Exception as exc:  # the library raises its own exception type
        raise TokenizerUnavailable(f"cannot load tokenizer {path}: {exc}") from None


def load_tokenizer(spec: str | os.PathLike):
    """A ``tokenizers.Tokenizer`` from a path or a cached hub name (offline only).

    Raises:
        TokenizerUnavailable: ``tokenizers`` is not installed, the file is missing or invalid,
            or the hub name is not in any local cache (the message lists where it looked).
    """
    return _load(str(_resolve(spec)))


class TokenizerCounter:
    """A token counter backed by a ``tokenizers`` tokenizer: ``counter(text) -> int``
    (special tokens are not added). ``name`` is the spec it was made from, ``path`` the file.

    Raises (on construction):
        TokenizerUnavailable: see :func:`load_tokenizer`.
    """

    def __init__(self, spec: str | os.PathLike) -> None:
        self.path = _resolve(spec)
        self.name = str(spec)
        self._tok = _load(str(self.path))

    def __call__(self, text: str) -> int:
        if not text:
            return 0
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    @property
    def label(self) -> str:
        """How counts from this counter are labelled: ``tokenizer <spec>``."""
        return f"tokenizer {self.name}"

    def __repr__(self) -> str:
        return f"TokenizerCounter({self.name!r})"


def counter_or_estimate(spec: str | os.PathLike | None = None) -> tuple[TokenCounter, str, str | None]:
    """The counter for a setting: ``spec`` or, when None, ``$GAP_TOKENIZER``.

    Returns ``(counter, label, problem)``: the tokenizer counter with label
    ``"tokenizer <spec>"`` and problem None; or, when nothing is configured or it cannot be
    loaded, :func:`estimate_tokens` labelled :data:`ESTIMATE_LABEL` and the reason (None when
    nothing was configured). Never raises.
    """
    if spec is None:
        spec = os.environ.get("GAP_TOKENIZER") or None
    if not spec:
        return estimate_tokens, ESTIMATE_LABEL, None
    try:
        c = TokenizerCounter(spec)
    except TokenizerUnavailable as exc:
        return estimate_tokens, ESTIMATE_LABEL, str(exc)
    return c, c.label, None
