"""Hover on a marker (LSP 3.17 §textDocument_hover; GAP §3.2, §7.1.1, §7.2).

On an opening or closing marker: the target's id, type, label, accepts, how many targets are
nested in it, its size in tokens, and what a full regeneration of the artifact would cost
against a targeted ``replace`` of this target (both in output tokens). Tokens are counted by
the configured tokenizer (``gap.tokenizer``) or estimated (≈ 4 characters per token), and the
hover says which.

On an operation's ``target.value`` in an envelope container: the same for the target it names.
"""

from __future__ import annotations

import json
from functools import lru_cache

from gap_engine import estimate_tokens
from lsprotocol import types

from .envelope_files import resolve_artifact
from .rename import op_at, target_at

ESTIMATE = "estimate, ≈4 chars/token"


@lru_cache(maxsize=4)
def _counter(spec: str | None):
    """``(count(text) -> int, label)`` for ``gap.tokenizer``; the estimate when unavailable."""
    if spec:
        try:
            from .llm.tokens import make_counter

            c = make_counter(spec)
            return c.count, (c.label if c.exact else ESTIMATE)
        except Exception:  # the LLM package is optional here
            pass
    return estimate_tokens, ESTIMATE


_FULL: dict[int, tuple[str, object, int]] = {}


def count_tokens(ls, text: str) -> tuple[int, str]:
    """``(tokens, label)`` for ``text``; whole-document counts are remembered per text."""
    fn, label = _counter(getattr(ls.settings, "tokenizer", None))
    if len(text) < 4096:
        return fn(text), label
    key = id(text)
    hit = _FULL.get(key)
    if hit is not None and hit[0] is text and hit[1] is fn:
        return hit[2], label
    n = fn(text)
    if len(_FULL) > 8:
        _FULL.clear()
    _FULL[key] = (text, fn, n)
    return n, label


def describe(ls, text: str, index, span, artifact_name: str) -> str:
    """The hover Markdown for ``span`` of an artifact body ``text``."""
    info = span.info
    from .symbols import _span_tuples

    nested = direct = 0
    for t in _span_tuples(index):  # (info, start, content_start, content_end, end, parent)
        if span.start < t[1] < span.end:
            nested += 1
            if t[5] == span.id:
                direct += 1
    content = text[span.content_start : span.content_end]
    n_content, label = count_tokens(ls, content)
    n_full, _ = count_tokens(ls, text)
    op = {"op": "replace", "target": {"type": "id", "value": span.id}, "content": content}
    n_edit, _ = count_tokens(ls, json.dumps(op, ensure_ascii=False))
    lines = [f"**GAP target** `{span.id}`" + (f" · type `{info.type}`" if info.type else "")]
    if info.label:
        lines.append(f"label: {info.label}")
    if info.accepts:
        lines.append(f"accepts: `{info.accepts}`")
    lines.append(f"nested targets: {nested}" + (f" ({direct} direct)" if nested != direct else ""))
    lines.append(f"size: {n_content:,} tokens ({len(content):,} chars) — {label}")
    saved = (1 - n_edit / n_full) * 100 if n_full else 0.0
    lines.append(
        f"full regeneration of {artifact_name}: {n_full:,} output tokens; "
        f"a `replace` of this target: ≈{n_edit:,} ({saved:.0f}% less)"
    )
    return "\n\n".join(lines)


def hover(ls, doc, pos: types.Position) -> types.Hover | None:
    off = doc.offset_at(pos)
    span = target_at(doc, off)
    if span is not None:
        md = describe(ls, doc.text, doc.compact_index(), span, doc.uri.rsplit("/", 1)[-1])
        rng = doc.range_at(span.start, span.content_start) if off <= span.content_start else doc.range_at(span.content_end, span.end)
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=md), range=rng)
    hit = op_at(ls, doc, off)
    if hit is None:
        return None
    env, op = hit
    if op.target_type != "id" or not op.target_value:
        return None
    view = resolve_artifact(ls, env.artifact_name, doc.uri)
    if view is None:
        return None
    span = view.index.get(op.target_value)
    if span is None:
        return None
    md = describe(ls, view.text, view.index, span, view.name)
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=md), range=doc.range_at(*op.value_span))


def register(ls) -> None:
    @ls.feature(types.TEXT_DOCUMENT_HOVER)
    def _hover(ls, params: types.HoverParams):
        doc = ls.documents.get(params.text_document.uri)
        return hover(ls, doc, params.position) if doc is not None else None
