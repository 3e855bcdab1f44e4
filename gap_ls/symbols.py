"""Targets as document symbols (LSP 3.17 §textDocument_documentSymbol; GAP §3.2, §4.2).

One symbol per well-formed ``<gap:target id="…">``: name = the id, kind from the marker's
``type`` attribute (:data:`KINDS`), detail = label · accepts · size in tokens, range = the
whole marked region (both markers included), selectionRange = the opening marker, children =
nested targets. Clients without ``hierarchicalDocumentSymbolSupport`` get flat
``SymbolInformation`` with the parent id as container name.

JSON and YAML artifacts without markers get their addressable structure instead: one symbol
per JSON Pointer (:func:`gap_engine.pointer.list_paths`), named by its last token, with the
pointer as detail, nested as the values nest (at most :data:`MAX_POINTERS`).

Speed: the answer is built as JSON text directly and sent through
:class:`gap_ls.server.RawJSON` (no attrs objects, no converter), cached per document
generation, and re-built :data:`PREWARM_S` after the last change for big documents whose
symbols the client asks for; sizes are ``ceil(chars / 4)`` estimates above :data:`EXACT_TOKENS_LIMIT`
characters of artifact (marked ``≈``), else counted with ``gap.tokenizer`` when configured.
"""

from __future__ import annotations

import gc
import json
import re
from bisect import bisect_right

from gap_engine import estimate_tokens
from gap_engine.pointer import format_kind, list_paths, parse_pointer, pointer_span
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
    "method": types.SymbolKind.Method,
    "class": types.SymbolKind.Class,
    "module": types.SymbolKind.Module,
    "text": types.SymbolKind.String,
    "heading": types.SymbolKind.Namespace,
    "config": types.SymbolKind.Property,
    "property": types.SymbolKind.Property,
    "style": types.SymbolKind.Property,
}
MAX_POINTERS = 5000
EXACT_TOKENS_LIMIT = 200_000
_SAFE = re.compile(r'[^"\\\x00-\x1f\x7f-\uffff]*\Z')


def symbol_kind(span) -> types.SymbolKind:
    """The symbol kind of a target: from its ``type`` attribute (Object for an unknown type),
    else Field (Namespace when it has nested targets, decided by the caller)."""
    t = span.info.type
    if t is not None:
        return KINDS.get(t.lower(), types.SymbolKind.Object)
    return types.SymbolKind.Field


def _counter(ls, doc: Document):
    if ls is None or len(doc.text) > EXACT_TOKENS_LIMIT or not getattr(ls.settings, "tokenizer", None):
        return estimate_tokens, "≈"
    from .hover import _counter as hover_counter

    fn, label = hover_counter(ls.settings.tokenizer)
    return fn, ("" if "tokenizers" in label else "≈")


def _detail(info, n_tokens: int | None, approx: str) -> str | None:
    parts = [info.label, f"accepts {info.accepts}" if info.accepts else None]
    if n_tokens is not None:
        parts.append(f"{approx}{n_tokens} tok")
    return " · ".join(p for p in parts if p) or None


def _q(s: str) -> str:
    return f'"{s}"' if _SAFE.match(s) else json.dumps(s)


def _span_tuples(index) -> list[tuple]:
    """``(info, start, content_start, content_end, end, parent)`` for every target in document
    order, from a compacted index (no pending shifts). Reads the engine index's records
    directly when it can (no ``TargetSpan`` objects: 10,000 of them cost more than the rest of
    the answer), else uses :meth:`Index.spans`."""
    try:
        if not index._deltas:
            return [(info, r[3], r[4], r[5], r[6], r[7]) for r, info in zip(index._order, index.infos)]
    except (AttributeError, TypeError, IndexError):
        pass
    return [(s.info, s.start, s.content_start, s.content_end, s.end, s.parent) for s in index.spans()]


def marker_symbols_json(ls, doc: Document, hierarchical: bool) -> str:
    """The target symbols of ``doc`` as a JSON array text (``DocumentSymbol[]`` or
    ``SymbolInformation[]``). The cyclic garbage collector is paused meanwhile (tens of
    thousands of short-lived tuples would trigger it several times for nothing)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _marker_symbols_json(ls, doc, hierarchical)
    finally:
        if enabled:
            gc.enable()


def _marker_symbols_json(ls, doc: Document, hierarchical: bool) -> str:
    spans = _span_tuples(doc.compact_index())
    if not spans:
        return "[]"
    starts = doc._line_starts()
    text = doc.text
    simple = doc.encoding == "utf-32" or text.isascii()

    def positions(offs: list[int]) -> list[str]:
        lines = [bisect_right(starts, o) - 1 for o in offs]
        if simple:
            return ['{"line":%d,"character":%d}' % (ln, o - starts[ln]) for ln, o in zip(lines, offs)]
        out = []
        for ln, o in zip(lines, offs):
            seg = text[starts[ln] : o]
            out.append('{"line":%d,"character":%d}' % (ln, o - starts[ln] if seg.isascii() else doc._units(seg)))
        return out

    P_os = positions([t[1] for t in spans])
    P_cs = positions([t[2] for t in spans])
    P_oe = positions([t[4] for t in spans])
    count, approx = _counter(ls, doc)
    estimate = count is estimate_tokens
    has_children = {t[5] for t in spans if t[5] is not None}
    field, namespace = int(types.SymbolKind.Field), int(types.SymbolKind.Namespace)
    kinds: dict[str, int] = {}

    def kind_of(info) -> int:
        t = info.type
        if t is None:
            return namespace if info.id in has_children else field
        k = kinds.get(t)
        if k is None:
            k = kinds[t] = int(KINDS.get(t.lower(), types.SymbolKind.Object))
        return k

    if not hierarchical:
        uri = _q(doc.uri)
        parts = []
        for i, (info, os, cs, ce, oe, parent) in enumerate(spans):
            container = ',"containerName":%s' % _q(parent) if parent is not None else ""
            parts.append('{"name":%s,"kind":%d,"location":{"uri":%s,"range":{"start":%s,"end":%s}}%s}' % (
                _q(info.id), kind_of(info), uri, P_os[i], P_oe[i], container))
        return "[" + ",".join(parts) + "]"
    # heads in document order ("children":[ left open), then one pass closing them by nesting
    ids = [_q(t[0].id) for t in spans]
    ks = [kind_of(t[0]) for t in spans]
    if estimate:
        sizes = [-(-(t[3] - t[2]) // 4) for t in spans]
    else:
        sizes = [count(text[t[2] : t[3]]) for t in spans]
    dets = [
        f'"{approx}{n} tok"' if (t[0].label is None and t[0].accepts is None) else _q(_detail(t[0], n, approx))
        for t, n in zip(spans, sizes)
    ]
    heads = [
        '{"name":%s,"kind":%d,"range":{"start":%s,"end":%s},"selectionRange":{"start":%s,"end":%s},"detail":%s,"children":[' % h
        for h in zip(ids, ks, P_os, P_oe, P_os, P_cs, dets)
    ]
    out: list[str] = ["["]
    stack: list[str] = []  # ids of the open symbols
    first = True  # no sibling written yet at the current level
    for t, head in zip(spans, heads):
        parent = t[5]
        while stack and stack[-1] != parent:
            stack.pop()
            out.append("]}")
            first = False
        if not first:
            out.append(",")
        out.append(head)
        stack.append(t[0].id)
        first = True
    out.append("]}" * len(stack))
    out.append("]")
    return "".join(out)


def _value_kind(text: str) -> types.SymbolKind:
    c = text[:1]
    if c == "{" or c == "" or c == "\n":
        return types.SymbolKind.Object
    if c == "[" or c == "-" and text[1:2] in (" ", "\n"):
        return types.SymbolKind.Array
    if c in "\"'":
        return types.SymbolKind.String
    if c.isdigit() or c == "-":
        return types.SymbolKind.Number
    if text in ("true", "false"):
        return types.SymbolKind.Boolean
    if text in ("null", "~"):
        return types.SymbolKind.Null
    return types.SymbolKind.String


def pointer_symbols(doc: Document) -> list[types.DocumentSymbol]:
    """``DocumentSymbol`` s for the JSON Pointers of a JSON/YAML artifact (GAP §4.2)."""
    try:
        paths = list_paths(doc.text, doc.format)[:MAX_POINTERS]
    except Exception:
        return []
    by_ptr: dict[str, types.DocumentSymbol] = {}
    roots: list[types.DocumentSymbol] = []
    for p in paths:
        sp = pointer_span(doc.text, doc.format, p)
        if sp is None:
            continue
        tokens = parse_pointer(p)
        name = tokens[-1] if tokens else p
        rng = doc.range_at(*sp)
        sym = types.DocumentSymbol(name=name or '""', kind=_value_kind(doc.text[sp[0] : sp[1]][:5]), range=rng, selection_range=rng, detail=p, children=[])
        by_ptr[p] = sym
        parent = by_ptr.get(p[: p.rfind("/")]) if p.count("/") > 1 else None
        if parent is not None:
            # the parent's range must contain the child's (YAML spans start at the value)
            if (parent.range.start.line, parent.range.start.character) > (rng.start.line, rng.start.character):
                parent.range = types.Range(rng.start, parent.range.end)
            parent.children.append(sym)
        else:
            roots.append(sym)
    return roots


def _flatten(syms, uri, container=None, out=None):
    out = [] if out is None else out
    for s in syms:
        out.append(types.SymbolInformation(name=s.name, kind=s.kind, location=types.Location(uri, s.range), container_name=container))
        _flatten(s.children or [], uri, s.detail, out)
    return out


def document_symbols(doc: Document, ls=None) -> list[types.DocumentSymbol]:
    """The target tree of ``doc`` as ``DocumentSymbol`` objects (for in-process callers)."""
    data = json.loads(marker_symbols_json(ls, doc, True))
    conv = __import__("lsprotocol.converters", fromlist=["get_converter"]).get_converter()
    return [conv.structure(d, types.DocumentSymbol) for d in data]


def flat_symbols(doc: Document) -> list[types.SymbolInformation]:
    """The targets of ``doc`` as flat ``SymbolInformation`` (container = parent id)."""
    out = []
    for s in doc.index.spans():
        out.append(types.SymbolInformation(name=s.info.id, kind=symbol_kind(s), location=types.Location(doc.uri, doc.range_at(s.start, s.end)), container_name=s.parent))
    return out


def symbols_result(ls, doc: Document, hierarchical: bool):
    """The ``textDocument/documentSymbol`` answer for ``doc`` (cached per generation)."""
    from .server import RawJSON

    key = (doc.generation, hierarchical, doc.encoding, getattr(ls.settings, "tokenizer", None))
    cached = getattr(doc, "_symbols", None)
    if cached is not None and cached[0] == key and cached[1] is doc.text:
        return cached[2]
    if not len(doc.index) and format_kind(doc.format) is not None and not doc.uri.endswith((".gap.json", ".gap.jsonl")):
        syms = pointer_symbols(doc)
        result = syms if hierarchical else _flatten(syms, doc.uri)
    else:
        result = RawJSON(marker_symbols_json(ls, doc, hierarchical))
    doc._symbols = (key, doc.text, result)  # type: ignore[attr-defined]
    return result


#: big documents whose symbols were asked for are re-built this long after the last change
#: (editors ask for symbols after a pause in typing: the answer is then ready)
PREWARM_S = 0.25
PREWARM_MIN_TARGETS = 1000


def register(ls) -> None:
    timers: dict[str, object] = {}

    def on_document(ls, doc: Document, event: str) -> None:
        t = timers.pop(doc.uri, None)
        if t is not None:
            t.cancel()
        cached = getattr(doc, "_symbols", None)
        if event != "change" or cached is None or len(doc.index) < PREWARM_MIN_TARGETS:
            return
        hierarchical = cached[0][1]

        def fire() -> None:
            timers.pop(doc.uri, None)
            if doc.uri in ls.documents:
                symbols_result(ls, doc, hierarchical)

        import asyncio

        timers[doc.uri] = asyncio.get_running_loop().call_later(PREWARM_S, fire)

    ls.listeners.append(on_document)

    @ls.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def _document_symbol(ls, params: types.DocumentSymbolParams):
        doc = ls.documents.get(params.text_document.uri)
        if doc is None:
            return []
        caps = ls.client_capabilities.text_document
        sym_caps = caps.document_symbol if caps else None
        hierarchical = bool(sym_caps is not None and sym_caps.hierarchical_document_symbol_support)
        return symbols_result(ls, doc, hierarchical)
