"""Targets as regions to move through (LSP 3.17 §textDocument_foldingRange,
§textDocument_selectionRange, §textDocument_documentHighlight; GAP §3.2).

- foldingRange: one ``region`` fold per target that spans several lines (opening marker line
  → closing marker line).
- selectionRange: for each position, innermost first: the target's content, the whole
  target (markers included), then the same for each enclosing target.
- documentHighlight: on an opening or closing marker, both markers of that target.
"""

from __future__ import annotations

from lsprotocol import types

from .rename import target_at


def folding_ranges(doc, limit: int | None = None) -> list[types.FoldingRange]:
    """One ``region`` fold per target spanning several lines (opening marker line → closing
    marker line), in document order.

    Args:
        limit: the client's ``rangeLimit`` (LSP 3.17 §FoldingRangeClientCapabilities): at most
            this many folds, the outermost targets first.

    Each fold's ``collapsedText`` is its target id (clients that do not support it ignore it).
    """
    spans = list(doc.index.spans())
    if not spans:
        return []
    offs = sorted({o for s in spans for o in (s.start, s.end)})
    lines = {o: p.line for o, p in zip(offs, doc.positions_at(offs))}
    folds = []
    depth: dict[str, int] = {}
    for i, s in enumerate(spans):
        d = depth[s.id] = depth.get(s.parent, -1) + 1 if s.parent else 0
        a, b = lines[s.start], lines[s.end]
        if b > a:
            folds.append((d, i, a, b, s.id))
    if limit is not None and 0 <= limit < len(folds):
        folds = sorted(sorted(folds)[:limit], key=lambda f: f[1])
    return [
        types.FoldingRange(start_line=a, end_line=b, kind=types.FoldingRangeKind.Region, collapsed_text=name)
        for _, _, a, b, name in folds
    ]


def _range_limit(ls) -> int | None:
    """The client's ``foldingRange.rangeLimit`` (None when it states none)."""
    caps = ls.client_capabilities.text_document
    fr = caps.folding_range if caps else None
    return fr.range_limit if fr is not None else None


def selection_range(doc, pos: types.Position) -> types.SelectionRange:
    off = doc.offset_at(pos)
    chain = []
    span = doc.index.innermost_at(off) if "gap:target" in doc.text else None
    while span is not None:
        if span.content_start <= off <= span.content_end:
            chain.append((span.content_start, span.content_end))
        chain.append((span.start, span.end))
        span = doc.index.get(span.parent) if span.parent else None
    chain.append((0, len(doc.text)))
    sel: types.SelectionRange | None = None
    last = None
    for s, e in reversed(chain):
        if (s, e) == last:
            continue
        sel = types.SelectionRange(range=doc.range_at(s, e), parent=sel)
        last = (s, e)
    if sel is None:  # pragma: no cover - chain is never empty
        sel = types.SelectionRange(range=doc.range_at(off, off))
    return sel


def highlights(doc, pos: types.Position) -> list[types.DocumentHighlight] | None:
    span = target_at(doc, doc.offset_at(pos))
    if span is None:
        return None
    return [
        types.DocumentHighlight(range=doc.range_at(span.start, span.content_start), kind=types.DocumentHighlightKind.Text),
        types.DocumentHighlight(range=doc.range_at(span.content_end, span.end), kind=types.DocumentHighlightKind.Text),
    ]


def register(ls) -> None:
    @ls.feature(types.TEXT_DOCUMENT_FOLDING_RANGE)
    def _folding(ls, params: types.FoldingRangeParams):
        doc = ls.documents.get(params.text_document.uri)
        if doc is None:
            return None
        return folding_ranges(doc, _range_limit(ls))

    @ls.feature(types.TEXT_DOCUMENT_SELECTION_RANGE)
    def _selection(ls, params: types.SelectionRangeParams):
        doc = ls.documents.get(params.text_document.uri)
        if doc is None:
            return None
        return [selection_range(doc, p) for p in params.positions]

    @ls.feature(types.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT)
    def _highlight(ls, params: types.DocumentHighlightParams):
        doc = ls.documents.get(params.text_document.uri)
        if doc is None:
            return None
        # editors ask for highlights as the cursor moves: the preview outlines that target
        if ls.preview is not None and ls.preview.running:
            ls.preview.set_cursor(doc, doc.offset_at(params.position))
        return highlights(doc, params.position)
