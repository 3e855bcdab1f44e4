"""Targets as document symbols (LSP 3.17 §textDocument_documentSymbol; GAP §3.2, §4.2).

One symbol per well-formed ``<gap:target id="…">``: name = the id, kind from the marker's
``type`` attribute (:data:`KINDS`), detail = label · accepts · size in tokens, range = the
whole marked region (both markers included), selectionRange = the opening marker, children =
nested targets. Clients without ``hierarchicalDocumentSymbolSupport`` get flat
``SymbolInformation`` with the parent id as container name.

JSON and YAML artifacts without markers get their addressable structure instead: one symbol
per JSON Pointer (the same inventory as :func:`gap_engine.pointer.list_paths`, found in one
tree-sitter walk), named by its last token, with the pointer as detail, nested as the values
nest (at most :data:`MAX_POINTERS`). Envelope files get one symbol per envelope with its
operations as children.

Speed: the answer is built as JSON text directly and sent through
:class:`gap_ls.server.RawJSON` (no attrs objects, no converter; ASCII only), cached per
document generation, and followed across edits instead of being rebuilt:

- marker symbols (:class:`MarkerSymbols`) are kept as blocks of ``%`` templates whose holes
  are line numbers; an edit (:attr:`Document.line_log`) recomputes only the symbols on the
  lines it touched and shifts the line numbers of every block after it by a constant;
- JSON Pointer symbols (:class:`PointerSymbols`) keep their code-point offsets and follow
  edits (:attr:`Document.edits`) that cannot change a symbol — whitespace between tokens,
  plain text inside a string value — else rebuild;

and big documents whose symbols the client asks for are re-built :data:`PREWARM_S` after the
last change. Sizes are ``ceil(chars / 4)`` estimates above :data:`EXACT_TOKENS_LIMIT`
characters of artifact (marked ``≈``), else counted with ``gap.tokenizer`` when configured.
"""

from __future__ import annotations

import gc
import json
import re
from bisect import bisect_right

from gap_engine import estimate_tokens
from gap_engine.pointer import format_kind
from lsprotocol import types

from .documents import Document, pointer_blocked

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
_SAFE = re.compile(r'[^"\\\x00-\x1f\x7f-\U0010ffff]*\Z')


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


#: symbols per block of the cached answer (a block is re-rendered when one of its symbols
#: moves or changes; blocks wholly after a line-adding edit only get their lines shifted)
BLOCK = 128
#: edits (entries of :attr:`Document.line_log`) followed incrementally before a full rebuild
MAX_LOG_STEPS = 256


def _esc(s: str) -> str:
    """``s`` as a JSON string literal, escaped for use in a ``%`` template."""
    return _q(s).replace("%", "%%")


def _cols(doc: Document, starts: list[int], lines: list[int], offs: list[int]) -> list[int]:
    """``Position.character`` of each offset on its line, in the document's encoding."""
    if doc.encoding == "utf-32" or doc.text.isascii():
        return [o - starts[ln] for ln, o in zip(lines, offs)]
    text = doc.text
    out = []
    for ln, o in zip(lines, offs):
        seg = text[starts[ln] : o]
        out.append(o - starts[ln] if seg.isascii() else doc._units(seg))
    return out


class _Block:
    """Up to :data:`BLOCK` consecutive symbols of a :class:`MarkerSymbols` answer.

    Attributes:
        frags: per symbol, its JSON text (with the separators and closing brackets that
            precede it) as a ``%`` template with ``%d`` for every line number.
        lines: the line numbers for the templates, ``width`` per symbol, flat; slot 0 is the
            symbol's first line, slot 1 its last line (both stored without :attr:`delta`).
        delta: a pending shift of every line in :attr:`lines` (a line-adding edit before the
            whole block).
        lo, hi: the smallest first line and the largest last line (without :attr:`delta`).
        dirty: local indexes of symbols to recompute (an edit touched their lines).
        tmpl: ``"".join(frags)`` or None; text: the rendered block or None.
    """

    __slots__ = ("first", "frags", "lines", "delta", "lo", "hi", "dirty", "tmpl", "text")

    def __init__(self, first: int, frags: list[str], lines: list[int], width: int):
        self.first = first
        self.frags = frags
        self.lines = lines
        self.delta = 0
        self.lo = min(lines[0::width])
        self.hi = max(lines[1::width])
        self.dirty: set[int] = set()
        self.tmpl: str | None = None
        self.text: str | None = None


class MarkerSymbols:
    """The ``textDocument/documentSymbol`` answer for the targets of one document, as JSON
    text that follows the document's edits.

    The answer is ``[`` + blocks + closing brackets + ``]``; each block (:class:`_Block`) keeps
    its symbols as ``%`` templates whose only holes are line numbers, and its line numbers
    apart. An edit recorded in :attr:`Document.line_log` as ``(l1, l2, d)`` (old lines
    ``l1..l2`` replaced, later lines moved by ``d``) leaves symbols that end before ``l1``
    alone, moves symbols that start after ``l2`` by ``d`` — a whole block at once when it lies
    after ``l2``, re-rendered with one ``%`` format — and recomputes only the symbols whose
    lines meet ``l1..l2`` (their positions, size and detail). Valid while the document has the
    same targets (the engine index's ``infos`` tuple) and the same line generation.

    Shapes: hierarchical — ``DocumentSymbol[]`` (templates hold 4 lines per symbol: range
    start, range end, selection start, selection end); flat — ``SymbolInformation[]``
    (2 lines: range start and end). The text is ASCII (``≈`` is written ``\\u2248``).
    """

    def __init__(self, ls, doc: Document, hierarchical: bool):
        self.hierarchical = hierarchical
        self.width = 4 if hierarchical else 2
        self.count, approx = _counter(ls, doc)
        self.approx = approx
        self.approx_json = json.dumps(approx)[1:-1]  # "≈" as \u2248: the answer stays ASCII
        self.encoding = doc.encoding
        index = doc.compact_index()
        self.infos = index.infos
        self.line_gen = doc.line_gen
        self.log_pos = len(doc.line_log)
        spans = _span_tuples(index)
        self.ids = [t[0].id for t in spans]
        self.blocks: list[_Block] = []
        self.tail = ""
        self._text: str | None = None
        if not spans:
            return
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

        # what precedes each symbol: separators and the brackets closing earlier symbols
        glue: list[str] = []
        if hierarchical:
            stack: list[str] = []
            first = True
            for t in spans:
                parent = t[5]
                g = ""
                while stack and stack[-1] != parent:
                    stack.pop()
                    g += "]}"
                    first = False
                glue.append(g if first else g + ",")
                stack.append(t[0].id)
                first = True
            self.tail = "]}" * len(stack)
            self.pres = [
                '%s{"name":%s,"kind":%d,"range":{"start":{"line":%%d,"character":' % (g, _esc(t[0].id), kind_of(t[0]))
                for g, t in zip(glue, spans)
            ]
        else:
            uri = _esc(doc.uri)
            self.pres = [
                '%s{"name":%s,"kind":%d,"location":{"uri":%s,"range":{"start":{"line":%%d,"character":' % (
                    "," if i else "", _esc(t[0].id), kind_of(t[0]), uri)
                for i, t in enumerate(spans)
            ]
            self.posts = [',"containerName":%s}' % _esc(t[5]) if t[5] is not None else "}" for t in spans]
        starts = doc._line_starts()
        os_ = [t[1] for t in spans]
        oe_ = [t[4] for t in spans]
        l_os = [bisect_right(starts, o) - 1 for o in os_]
        l_oe = [bisect_right(starts, o) - 1 for o in oe_]
        c_os = _cols(doc, starts, l_os, os_)
        c_oe = _cols(doc, starts, l_oe, oe_)
        if hierarchical:
            cs_ = [t[2] for t in spans]
            l_cs = [bisect_right(starts, o) - 1 for o in cs_]
            c_cs = _cols(doc, starts, l_cs, cs_)
            if self.count is estimate_tokens:
                sizes = [-(-(t[3] - t[2]) // 4) for t in spans]
            else:
                text = doc.text
                sizes = [self.count(text[t[2] : t[3]]) for t in spans]
            frags = [self._frag(i, spans[i][0], c_os[i], c_oe[i], c_cs[i], sizes[i]) for i in range(len(spans))]
            lines = [0] * (4 * len(spans))
            lines[0::4] = l_os
            lines[1::4] = l_oe
            lines[2::4] = l_os
            lines[3::4] = l_cs
        else:
            frags = [self._frag(i, None, c_os[i], c_oe[i], 0, 0) for i in range(len(spans))]
            lines = [0] * (2 * len(spans))
            lines[0::2] = l_os
            lines[1::2] = l_oe
        w = self.width
        self.blocks = [_Block(i, frags[i : i + BLOCK], lines[i * w : (i + BLOCK) * w], w) for i in range(0, len(spans), BLOCK)]

    def _frag(self, i: int, info, c_os: int, c_oe: int, c_cs: int, size: int) -> str:
        """The template of symbol ``i`` (``%d`` for its line numbers)."""
        if not self.hierarchical:
            return '%s%d},"end":{"line":%%d,"character":%d}}}%s' % (self.pres[i], c_os, c_oe, self.posts[i])
        if info.label is None and info.accepts is None:
            det = '"%s%d tok"' % (self.approx_json, size)
        else:
            det = _esc(_detail(info, size, self.approx))
        return '%s%d},"end":{"line":%%d,"character":%d}},"selectionRange":{"start":{"line":%%d,"character":%d},"end":{"line":%%d,"character":%d}},"detail":%s,"children":[' % (
            self.pres[i], c_os, c_oe, c_os, c_cs, det)

    def usable(self, ls, doc: Document, hierarchical: bool) -> bool:
        """Can :meth:`update` follow ``doc`` from here (same targets, mode, encoding, counter,
        line generation, and few enough edits since)?"""
        log_len = len(doc.line_log)
        if (self.hierarchical != hierarchical or self.encoding != doc.encoding or self.line_gen != doc.line_gen
                or not self.log_pos <= log_len <= self.log_pos + MAX_LOG_STEPS or doc.index.infos is not self.infos):
            return False
        count, approx = _counter(ls, doc)
        return count is self.count and approx == self.approx

    def update(self, doc: Document) -> None:
        """Follow the edits logged since the last update (see the class docstring)."""
        log = doc.line_log
        entries = log[self.log_pos :]
        self.log_pos = len(log)
        if not entries:
            return
        w = self.width
        for l1, l2, d in entries:
            for b in self.blocks:
                bd = b.delta
                if b.hi + bd < l1:
                    continue
                if b.lo + bd > l2:
                    if d:
                        b.delta = bd + d
                        b.text = None
                    continue
                L = b.lines
                if bd:
                    L = b.lines = [x + bd for x in L]
                    b.lo += bd
                    b.hi += bd
                    b.delta = 0
                moved = False
                for k in range(0, len(L), w):
                    if L[k + 1] < l1:
                        continue
                    if L[k] > l2:
                        if d:
                            for j in range(k, k + w):
                                L[j] += d
                            moved = True
                    else:
                        b.dirty.add(k // w)
                if moved:
                    b.lo = min(L[0::w])
                    b.hi = max(L[1::w])
                    b.text = None
                if b.dirty:
                    b.text = None
        self._text = None

    def _recompute(self, doc: Document, b: _Block, starts: list[int]) -> None:
        """New positions, size and template for the dirty symbols of ``b``."""
        index = doc.index
        infos = self.infos
        w = self.width
        L = b.lines
        text = doc.text
        for k in sorted(b.dirty):
            i = b.first + k
            span = index.get(self.ids[i])
            offs = [span.start, span.end, span.content_start]
            lns = [bisect_right(starts, o) - 1 for o in offs]
            cols = _cols(doc, starts, lns, offs)
            if w == 4:
                L[4 * k : 4 * k + 4] = [lns[0], lns[1], lns[0], lns[2]]
                if self.count is estimate_tokens:
                    size = -(-(span.content_end - span.content_start) // 4)
                else:
                    size = self.count(text[span.content_start : span.content_end])
                b.frags[k] = self._frag(i, infos[i], cols[0], cols[1], cols[2], size)
            else:
                L[2 * k : 2 * k + 2] = lns[:2]
                b.frags[k] = self._frag(i, None, cols[0], cols[1], 0, 0)
        b.dirty.clear()
        b.tmpl = None
        b.lo = min(L[0::w])
        b.hi = max(L[1::w])

    def text(self, doc: Document) -> str:
        """The answer as JSON text (renders the blocks that changed)."""
        if self._text is not None:
            return self._text
        starts = None
        parts = ["["]
        for b in self.blocks:
            if b.text is None:
                if b.delta:
                    b.lines = [x + b.delta for x in b.lines]
                    b.lo += b.delta
                    b.hi += b.delta
                    b.delta = 0
                if b.dirty:
                    if starts is None:
                        starts = doc._line_starts()
                    self._recompute(doc, b, starts)
                if b.tmpl is None:
                    b.tmpl = "".join(b.frags)
                b.text = b.tmpl % tuple(b.lines)
            parts.append(b.text)
        parts.append(self.tail)
        parts.append("]")
        self._text = "".join(parts)
        return self._text


def marker_symbols_json(ls, doc: Document, hierarchical: bool) -> str:
    """The target symbols of ``doc`` as a JSON array text (``DocumentSymbol[]`` or
    ``SymbolInformation[]``), following the document's edits incrementally through its
    :class:`MarkerSymbols` (``doc._marker_symbols``). The cyclic garbage collector is paused
    meanwhile (tens of thousands of short-lived objects would trigger it for nothing)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        cache: MarkerSymbols | None = getattr(doc, "_marker_symbols", None)
        if cache is not None and cache.usable(ls, doc, hierarchical):
            cache.update(doc)
        else:
            cache = MarkerSymbols(ls, doc, hierarchical)
            doc._marker_symbols = cache  # type: ignore[attr-defined]
        return cache.text(doc)
    finally:
        if enabled:
            gc.enable()


def _ts_parser(kind: str):
    from .addtargets import parser

    return parser("json" if kind == "json" else "yaml")


def _scalar_kind(node) -> types.SymbolKind:
    t = node.type
    while t in ("flow_node", "block_node") and node.named_children:
        node = node.named_children[-1]
        t = node.type
    if t in ("object", "block_mapping", "flow_mapping"):
        return types.SymbolKind.Object
    if t in ("array", "block_sequence", "flow_sequence"):
        return types.SymbolKind.Array
    if t == "plain_scalar" and node.named_children:
        t = node.named_children[0].type
    return {
        "number": types.SymbolKind.Number, "integer_scalar": types.SymbolKind.Number, "float_scalar": types.SymbolKind.Number,
        "true": types.SymbolKind.Boolean, "false": types.SymbolKind.Boolean, "boolean_scalar": types.SymbolKind.Boolean,
        "null": types.SymbolKind.Null, "null_scalar": types.SymbolKind.Null,
    }.get(t, types.SymbolKind.String)


def _key_text(node, src: bytes) -> str:
    raw = src[node.start_byte : node.end_byte].decode("utf-8", "replace").strip()
    if raw[:1] == '"':
        if "\\" not in raw:
            return raw[1:-1]
        try:
            return json.loads(raw)
        except ValueError:
            return raw.strip('"')
    if raw[:1] == "'":
        return raw[1:-1].replace("''", "'")
    return raw


_JSON_KINDS = {
    "object": int(types.SymbolKind.Object), "array": int(types.SymbolKind.Array), "string": int(types.SymbolKind.String),
    "number": int(types.SymbolKind.Number), "true": int(types.SymbolKind.Boolean), "false": int(types.SymbolKind.Boolean),
    "null": int(types.SymbolKind.Null),
}
_JSON_WS = frozenset(" \t\r\n")
#: text that may be typed inside a JSON string value without changing any symbol
_PLAIN = re.compile(r'[^"\\\x00-\x1f]*\Z')


class PointerSymbols:
    """The ``textDocument/documentSymbol`` answer for a JSON/YAML artifact without markers:
    one symbol per JSON Pointer (GAP §4.2; the inventory of :func:`gap_engine.pointer.list_paths`),
    found in one tree-sitter walk, named by its last token (``""`` for an empty key), kind
    from the value, detail = the pointer, nested as the values nest (at most
    :data:`MAX_POINTERS`).

    Built once as a ``%`` template whose holes are the line/character numbers (8 per symbol
    for ``DocumentSymbol[]``: range start/end, selectionRange start/end; 4 for
    ``SymbolInformation[]``, whose container is the parent pointer), plus the code-point
    offsets of every symbol. For JSON, edits that cannot change any symbol's name, kind or
    nesting — whitespace between tokens, or plain text typed inside a string value (no quote,
    backslash or control character) — are followed from :attr:`Document.edits` by moving the
    offsets (:meth:`update`); anything else rebuilds.
    """

    def __init__(self, doc: Document, hierarchical: bool):
        from gap_engine.pointer import escape_token

        self.hierarchical = hierarchical
        self.encoding = doc.encoding
        self.edit_gen = doc.edit_gen
        self.edit_pos = len(doc.edits)
        self.uri = doc.uri
        kind = format_kind(doc.format)
        self.incremental = kind == "json"
        src = doc.text.encode("utf-8")
        # per symbol, in document order: depth, name, kind, pointer; byte spans (whole, key)
        depth: list[int] = []
        names: list[str] = []
        kinds: list[int] = []
        ptrs: list[str] = []
        b_s: list[int] = []  # whole start, selection start (2 per symbol)
        b_e: list[int] = []  # whole end, selection end
        t_s: list[int] = []  # token spans (keys and scalar values), for update()
        t_e: list[int] = []
        t_plain: list[bool] = []  # a string value without escapes (plain text may be typed in it)
        budget = MAX_POINTERS
        try:
            root = _ts_parser(kind).parse(src).root_node
        except Exception:
            root = None
            self.incremental = False
        if root is not None and root.has_error:
            self.incremental = False

        def walk_json(node, prefix: str, d: int) -> None:
            nonlocal budget
            t = node.type
            if t == "object":
                members = node.named_children
            elif t == "array":
                members = node.named_children
            else:
                return
            i = 0
            for m in members:
                mt = m.type
                if mt == "comment":
                    self.incremental = False
                    continue
                if budget <= 0:
                    self.incremental = False
                    return
                if t == "object":
                    if mt != "pair":
                        self.incremental = False
                        continue
                    k = m.child_by_field_name("key")
                    if k is None:
                        self.incremental = False
                        continue
                    v = m.child_by_field_name("value")
                    key = _key_text(k, src)
                    ks, ke = k.start_byte, k.end_byte
                    t_s.append(ks)
                    t_e.append(ke)
                    t_plain.append(False)
                else:
                    v = m
                    key = str(i)
                    i += 1
                budget -= 1
                ptr = prefix + "/" + escape_token(key)
                ms, me = m.start_byte, m.end_byte
                depth.append(d)
                names.append(key or '""')
                ptrs.append(ptr)
                b_s.append(ms)
                b_e.append(me)
                if t == "object":
                    b_s.append(ks)
                    b_e.append(ke)
                else:
                    b_s.append(ms)
                    b_e.append(me)
                if v is None:
                    kinds.append(int(types.SymbolKind.Null))
                    continue
                vt = v.type
                kinds.append(_JSON_KINDS.get(vt, int(types.SymbolKind.String)))
                if vt == "object" or vt == "array":
                    walk_json(v, ptr, d + 1)
                else:
                    vs, ve = v.start_byte, v.end_byte
                    t_s.append(vs)
                    t_e.append(ve)
                    t_plain.append(vt == "string" and b"\\" not in src[vs:ve])

        def members_yaml(node):
            """(key or index, key node or None, value node, whole node) of a YAML container."""
            t = node.type
            if t in ("flow_node", "block_node") and node.named_children:
                inner = [c for c in node.named_children if c.type not in ("anchor", "tag", "comment")]
                return members_yaml(inner[-1]) if inner else []
            if t in ("block_mapping", "flow_mapping"):
                out = []
                for p in node.named_children:
                    if p.type in ("block_mapping_pair", "flow_pair"):
                        k = p.child_by_field_name("key")
                        if k is not None:
                            out.append((_key_text(k, src), k, p.child_by_field_name("value"), p))
                return out
            if t in ("block_sequence", "flow_sequence"):
                items = [c for c in node.named_children if c.type in ("block_sequence_item", "flow_node")]
                out = []
                for i, c in enumerate(items):
                    v = c.named_children[0] if c.type == "block_sequence_item" and c.named_children else c
                    out.append((str(i), None, v, c))
                return out
            return []

        def walk_yaml(node, prefix: str, d: int) -> None:
            nonlocal budget
            for key, knode, value, whole in members_yaml(node):
                if budget <= 0:
                    return
                budget -= 1
                ptr = prefix + "/" + escape_token(key)
                depth.append(d)
                names.append(key or '""')
                ptrs.append(ptr)
                kinds.append(int(_scalar_kind(value) if value is not None else types.SymbolKind.Null))
                b_s.append(whole.start_byte)
                b_e.append(whole.end_byte)
                sel = knode if knode is not None else whole
                b_s.append(sel.start_byte)
                b_e.append(sel.end_byte)
                if value is not None:
                    walk_yaml(value, ptr, d + 1)

        top = None
        if root is not None:
            if kind == "json":
                vals = [c for c in root.named_children if c.type != "comment"]
                top = vals[0] if vals else None
                if len(vals) != 1 or len(vals) != len(root.named_children) or (top is not None and top.type not in ("object", "array")):
                    self.incremental = False
                if top is not None:
                    walk_json(top, "", 0)
            else:
                docs = [c for c in root.named_children if c.type == "document"]
                top = docs[0].named_children[0] if docs and docs[0].named_children else None
                if top is not None:
                    walk_yaml(top, "", 0)
        n = len(names)
        self.n = n
        conv = _ByteOffsets(doc)
        self.s_off = conv.cps(b_s)
        self.e_off = conv.cps(b_e)
        if self.incremental:
            self.t_s = conv.cps(t_s)
            self.t_e = conv.cps(t_e)
            self.t_plain = t_plain
        # the template
        parts: list[str] = []
        if hierarchical:
            pd = -1
            for i in range(n):
                d = depth[i]
                glue = "" if d > pd else "]}" * (pd - d + 1) + ","
                pd = d
                parts.append('%s{"name":%s,"kind":%d,"range":{"start":{"line":%%d,"character":%%d},"end":{"line":%%d,"character":%%d}},'
                             '"selectionRange":{"start":{"line":%%d,"character":%%d},"end":{"line":%%d,"character":%%d}},'
                             '"detail":%s,"children":[' % (glue, _esc(names[i]), kinds[i], _esc(ptrs[i])))
            tail = "]}" * (pd + 1)
        else:
            uri = _esc(doc.uri)
            parents: list[str] = []
            for i in range(n):
                d = depth[i]
                del parents[d:]
                cn = ',"containerName":%s' % _esc(parents[-1]) if parents else ""
                parts.append('%s{"name":%s,"kind":%d,"location":{"uri":%s,"range":{"start":{"line":%%d,"character":%%d},'
                             '"end":{"line":%%d,"character":%%d}}}%s}' % ("," if i else "", _esc(names[i]), kinds[i], uri, cn))
                parents.append(ptrs[i])
            tail = ""
        self.template = "[" + "".join(parts) + tail + "]"
        self._text: str | None = None

    def usable(self, doc: Document, hierarchical: bool) -> bool:
        return (self.hierarchical == hierarchical and self.encoding == doc.encoding and self.uri == doc.uri
                and self.edit_gen == doc.edit_gen and self.edit_pos <= len(doc.edits))

    def update(self, doc: Document) -> bool:
        """Follow the edits since (see the class docstring); False when they may have changed
        a symbol (the caller rebuilds)."""
        edits = doc.edits[self.edit_pos :]
        self.edit_pos = len(doc.edits)
        if not edits:
            return True
        if not self.incremental:
            return False
        t_s, t_e, plain = self.t_s, self.t_e, self.t_plain
        for s, e, ins, rem in edits:
            if ins is None or rem is None:
                return False
            j = bisect_right(t_s, s) - 1  # the last token starting at or before s
            inside = j >= 0 and s < t_e[j] and t_s[j] < s
            if inside:  # in a token: plain text within a string value only
                if not (plain[j] and e < t_e[j] and _PLAIN.match(ins) and _PLAIN.match(rem)):
                    return False
            else:  # between tokens: whitespace only, and no token may end inside the range
                if not (_JSON_WS.issuperset(ins) and _JSON_WS.issuperset(rem)):
                    return False
                k = bisect_right(t_s, e) - 1
                if k >= 0 and t_s[k] < e < t_e[k]:
                    return False
            delta = len(ins) - (e - s)
            if delta:
                # starts at or after the edit move (text inserted right before a token pushes
                # it); ends move only when after the edit's start
                t_s = [o if o < s else o + delta for o in t_s]
                t_e = [o if o <= s else o + delta for o in t_e]
                self.s_off = [o if o < s else o + delta for o in self.s_off]
                self.e_off = [o if o <= s else o + delta for o in self.e_off]
        self.t_s, self.t_e = t_s, t_e
        self._text = None
        return True

    def text(self, doc: Document) -> str:
        if self._text is not None:
            return self._text
        if not self.n:
            self._text = "[]"
            return self._text
        starts = doc._line_starts()
        s_off, e_off = self.s_off, self.e_off
        sl = [bisect_right(starts, o) - 1 for o in s_off]
        el = [bisect_right(starts, o) - 1 for o in e_off]
        sc = _cols(doc, starts, sl, s_off)
        ec = _cols(doc, starts, el, e_off)
        if self.hierarchical:
            nums = [0] * (8 * self.n)
            nums[0::8] = sl[0::2]
            nums[1::8] = sc[0::2]
            nums[2::8] = el[0::2]
            nums[3::8] = ec[0::2]
            nums[4::8] = sl[1::2]
            nums[5::8] = sc[1::2]
            nums[6::8] = el[1::2]
            nums[7::8] = ec[1::2]
        else:
            nums = [0] * (4 * self.n)
            nums[0::4] = sl[0::2]
            nums[1::4] = sc[0::2]
            nums[2::4] = el[0::2]
            nums[3::4] = ec[0::2]
        self._text = self.template % tuple(nums)
        return self._text


class _ByteOffsets:
    """UTF-8 byte offsets of a document's text → code-point offsets (through the line table:
    only non-ASCII lines are decoded)."""

    def __init__(self, doc: Document):
        self.text = doc.text
        self.ascii = self.text.isascii()
        if not self.ascii:
            text = self.text
            starts = self.starts = doc._line_starts()
            ends = starts[1:] + [len(text)]
            self.lines = [text[a:b] for a, b in zip(starts, ends)]
            lens = [len(s.encode("utf-8")) for s in self.lines]
            bst = [0] * len(lens)
            acc = 0
            for i, n in enumerate(lens):
                bst[i] = acc
                acc += n
            self.bstarts = bst
            self.line_ascii = [n == len(s) for n, s in zip(lens, self.lines)]

    def cps(self, offs: list[int]) -> list[int]:
        if self.ascii:
            return list(offs)
        out = []
        bst, starts, asc, lines = self.bstarts, self.starts, self.line_ascii, self.lines
        for b in offs:
            r = bisect_right(bst, b) - 1
            col = b - bst[r]
            out.append(starts[r] + (col if asc[r] else len(lines[r].encode("utf-8")[:col].decode("utf-8", "ignore"))))
        return out


def pointer_symbols_json(doc: Document, hierarchical: bool) -> str:
    """The JSON Pointer symbols of a JSON/YAML artifact as JSON text (``DocumentSymbol[]``, or
    ``SymbolInformation[]`` with the parent pointer as container), kept in
    ``doc._pointer_symbols`` (:class:`PointerSymbols`) and followed across safe edits."""
    cache: PointerSymbols | None = getattr(doc, "_pointer_symbols", None)
    if cache is None or not cache.usable(doc, hierarchical) or not cache.update(doc):
        cache = PointerSymbols(doc, hierarchical)
        doc._pointer_symbols = cache  # type: ignore[attr-defined]
    return cache.text(doc)


def envelope_symbols(doc: Document) -> list[dict]:
    """Symbols of an envelope file: one per envelope (``edit dashboard v2``), its operations
    as children (``replace revenue-value``)."""
    from .envelope_files import envelopes_of

    def rng(s: int, e: int) -> dict:
        r = doc.range_at(s, e)
        return {"start": {"line": r.start.line, "character": r.start.character}, "end": {"line": r.end.line, "character": r.end.character}}

    out = []
    for env in envelopes_of(doc):
        d = env.data if isinstance(env.data, dict) else {}
        name = " ".join(str(x) for x in (d.get("name") or "envelope", env.artifact_name, f"v{env.version}" if env.version else None) if x)
        children = [
            {"name": f"{op.op or '?'} {op.target_value or '?'}", "kind": int(types.SymbolKind.Event), "range": rng(op.start, op.end),
             "selectionRange": rng(*(op.value_span or (op.start, op.end))), "detail": f"{op.target_type or '?'} target", "children": []}
            for op in env.ops
        ]
        out.append({"name": name, "kind": int(types.SymbolKind.Object), "range": rng(env.start, env.end),
                    "selectionRange": rng(env.start, env.start), "detail": "GAP envelope", "children": children})
    return out


def _flatten(syms: list[dict], uri: str, container=None, out=None) -> list[dict]:
    out = [] if out is None else out
    for s in syms:
        d = {"name": s["name"], "kind": s["kind"], "location": {"uri": uri, "range": s["range"]}}
        if container is not None:
            d["containerName"] = container
        out.append(d)
        _flatten(s["children"], uri, s["detail"], out)
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
    if doc.uri.lower().endswith((".gap.json", ".gap.jsonl")):
        syms = envelope_symbols(doc)
        result = RawJSON(json.dumps(syms if hierarchical else _flatten(syms, doc.uri)))
    elif not len(doc.index) and format_kind(doc.format) is not None and pointer_blocked(doc.text, doc.format) is None:
        result = RawJSON(pointer_symbols_json(doc, hierarchical))
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
