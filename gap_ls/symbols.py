"""Targets as document symbols (LSP 3.17 §textDocument_documentSymbol).

One symbol per well-formed ``<gap:target id="…">``: name = the id, range = the whole marked
region (both markers included), selectionRange = the opening marker, children = nested
targets. Clients without ``hierarchicalDocumentSymbolSupport`` get flat
``SymbolInformation`` with the parent id as container name.
"""

from __future__ import annotations

from lsprotocol import types

from .documents import Document

#: marker ``type`` attribute → symbol kind
KINDS = {
    "section": types.SymbolKind.Namespace,
    "value": types.SymbolKind.Constant,
    "list": types.SymbolKind.Array,
    "table": types.SymbolKind.Struct,
    "row": types.SymbolKind.Field,
    "code": types.SymbolKind.Function,
    "function": types.SymbolKind.Function,
    "class": types.SymbolKind.Class,
    "text": types.SymbolKind.String,
}


def symbol_kind(span) -> types.SymbolKind:
    """The symbol kind of a target: from its ``type`` attribute, else Namespace for a
    target with nested targets… decided by the caller; default Field."""
    t = span.info.type
    if t is not None:
        return KINDS.get(t.lower(), types.SymbolKind.Object)
    return types.SymbolKind.Field


def _detail(span) -> str | None:
    info = span.info
    parts = [p for p in (info.label, f"accepts {info.accepts}" if info.accepts else None) if p]
    return " · ".join(parts) or None


def document_symbols(doc: Document) -> list[types.DocumentSymbol]:
    """The target tree of ``doc`` as ``DocumentSymbol`` s."""
    spans = list(doc.index.spans())
    if not spans:
        return []
    offs = sorted({o for s in spans for o in (s.start, s.content_start, s.end)})
    pos = dict(zip(offs, doc.positions_at(offs)))
    roots: list[types.DocumentSymbol] = []
    by_id: dict[str, types.DocumentSymbol] = {}
    for s in spans:
        sym = types.DocumentSymbol(
            name=s.info.id,
            kind=symbol_kind(s),
            range=types.Range(pos[s.start], pos[s.end]),
            selection_range=types.Range(pos[s.start], pos[s.content_start]),
            detail=_detail(s),
            children=[],
        )
        by_id[s.info.id] = sym
        parent = by_id.get(s.parent) if s.parent is not None else None
        if parent is not None:
            parent.children.append(sym)
        else:
            roots.append(sym)
    for sym in by_id.values():
        if sym.children and sym.kind == types.SymbolKind.Field:
            sym.kind = types.SymbolKind.Namespace
    return roots


def flat_symbols(doc: Document) -> list[types.SymbolInformation]:
    """The targets of ``doc`` as flat ``SymbolInformation`` (container = parent id)."""
    out = []
    for s in doc.index.spans():
        out.append(
            types.SymbolInformation(
                name=s.info.id,
                kind=symbol_kind(s),
                location=types.Location(doc.uri, doc.range_at(s.start, s.end)),
                container_name=s.parent,
            )
        )
    return out


def register(ls) -> None:
    @ls.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def _document_symbol(ls, params: types.DocumentSymbolParams):
        doc = ls.documents.get(params.text_document.uri)
        if doc is None:
            return []
        caps = ls.client_capabilities.text_document
        sym_caps = caps.document_symbol if caps else None
        if sym_caps is not None and sym_caps.hierarchical_document_symbol_support:
            return document_symbols(doc)
        return flat_symbols(doc)
