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
:class:`gap_ls.server.RawJSON` (no attrs objects, no converter), cached per document
generation, rebuilt incrementally (positions and per-symbol JSON reused for everything the
edits since did not move, see :attr:`Document.line_log`), and re-built :data:`PREWARM_S` after
the last change for big documents whose symbols the client asks for; sizes are ``ceil(chars / 4)`` estimates above :data:`EXACT_TOKENS_LIMIT`
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

    def positions(offs: list[int], lines: list[int] | None = None) -> tuple[list[int], list[int], list[str]]:
        if lines is None:
            lines = [bisect_right(starts, o) - 1 for o in offs]
        if simple:
            cols = [o - starts[ln] for ln, o in zip(lines, offs)]
        else:
            cols = []
            for ln, o in zip(lines, offs):
                seg = text[starts[ln] : o]
                cols.append(o - starts[ln] if seg.isascii() else doc._units(seg))
        return lines, cols, ['{"line":%d,"character":%d}' % lc for lc in zip(lines, cols)]

    infos = doc.index.infos
    prev = getattr(doc, "_sympos", None)
    offs = ([t[1] for t in spans], [t[2] for t in spans], [t[4] for t in spans])
    changed: set[int] | None = None  # indexes whose positions moved (None: everything new)
    log = doc.line_log
    if (prev is not None and prev[0] is infos and prev[1] == doc.line_gen and prev[2] <= len(log)
            and len(log) - prev[2] <= 64 and doc.encoding == prev[3]):
        # same targets: map the cached lines through the edits since; recompute the touched ones
        entries = log[prev[2]:]
        changed = set()
        result = []
        for k in range(3):
            lines, cols, strs = list(prev[4][k]), prev[5][k], list(prev[6][k])
            dirty: list[int] = []
            if entries and all(d == 0 and l1 == l2 for l1, l2, d in entries):
                # edits within lines (typing): only positions on those lines can move
                touched = {l1 for l1, _, _ in entries}
                dirty = [i for i, ln in enumerate(lines) if ln in touched]
                if dirty:
                    fl, fc, fs = positions([offs[k][i] for i in dirty], [lines[i] for i in dirty])
                    cols = list(cols)
                    for i, c, v in zip(dirty, fc, fs):
                        if strs[i] != v:
                            cols[i], strs[i] = c, v
                            changed.add(i)
            elif entries:
                old_lines = prev[4][k]
                is_dirty = [False] * len(lines)
                for l1, l2, d in entries:
                    is_dirty = [x or l1 <= ln <= l2 for x, ln in zip(is_dirty, lines)]
                    if d:
                        lines = [ln + d if ln > l2 else ln for ln in lines]
                dirty = [i for i, x in enumerate(is_dirty) if x]
                cols = list(cols)
                if dirty:
                    fl, fc, fs = positions([offs[k][i] for i in dirty])
                    for i, ln, c in zip(dirty, fl, fc):
                        lines[i], cols[i] = ln, c
                old_strs = prev[6][k]
                strs = ['{"line":%d,"character":%d}' % (ln, c) if (x or ln != o) else v
                        for ln, c, o, v, x in zip(lines, cols, old_lines, old_strs, is_dirty)]
                changed.update(i for i, (a, b) in enumerate(zip(strs, old_strs)) if a is not b and a != b)
            result.append((lines, cols, strs))
    else:
        result = [positions(o) for o in offs]
    P_os, P_cs, P_oe = (r[2] for r in result)
    cache_head = (infos, doc.line_gen, len(log), doc.encoding, [r[0] for r in result], [r[1] for r in result], [r[2] for r in result])
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
        doc._sympos = cache_head + (None, None, None)  # type: ignore[attr-defined]
        uri = _q(doc.uri)
        parts = []
        for i, (info, os, cs, ce, oe, parent) in enumerate(spans):
            container = ',"containerName":%s' % _q(parent) if parent is not None else ""
            parts.append('{"name":%s,"kind":%d,"location":{"uri":%s,"range":{"start":%s,"end":%s}}%s}' % (
                _q(info.id), kind_of(info), uri, P_os[i], P_oe[i], container))
        return "[" + ",".join(parts) + "]"
    # heads in document order ("children":[ left open), then one pass closing them by nesting
    if estimate:
        sizes = [-(-(t[3] - t[2]) // 4) for t in spans]
    else:
        sizes = [count(text[t[2] : t[3]]) for t in spans]

    # the parts of each head that only change with the targets themselves
    pre_cache = getattr(doc, "_sympre", None)
    if pre_cache is not None and pre_cache[0] is infos:
        pres = pre_cache[1]
    else:
        pres = ['{"name":%s,"kind":%d,"range":{"start":' % (_q(t[0].id), kind_of(t[0])) for t in spans]
        doc._sympre = (infos, pres)  # type: ignore[attr-defined]

    def head(i: int) -> str:
        info = spans[i][0]
        n = sizes[i]
        det = f'"{approx}{n} tok"' if (info.label is None and info.accepts is None) else _q(_detail(info, n, approx))
        return '%s%s,"end":%s},"selectionRange":{"start":%s,"end":%s},"detail":%s,"children":[' % (
            pres[i], P_os[i], P_oe[i], P_os[i], P_cs[i], det)

    if changed is not None and prev[7] is not None and prev[9] == approx and len(prev[7]) == len(spans):
        # reuse the heads whose position and size did not change
        heads = list(prev[7])
        old_sizes = prev[8]
        changed.update(i for i, (a, b) in enumerate(zip(sizes, old_sizes)) if a != b)
        if len(changed) > len(spans) // 2:
            heads = [head(i) for i in range(len(spans))]
        else:
            for i in changed:
                heads[i] = head(i)
    else:
        heads = [head(i) for i in range(len(spans))]
    doc._sympos = cache_head + (heads, sizes, approx)  # type: ignore[attr-defined]
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


def pointer_symbols_json(doc: Document, hierarchical: bool) -> str:
    """The JSON Pointer symbols of a JSON/YAML artifact as JSON text (``DocumentSymbol[]``, or
    ``SymbolInformation[]`` with the parent pointer as container)."""
    syms = pointer_symbols(doc)
    if hierarchical:
        def one(t) -> str:
            return '{"name":%s,"kind":%d,"range":%s,"selectionRange":%s,"detail":%s,"children":[%s]}' % (
                _q(t[0]), t[1], t[2], t[3], _q(t[4]), ",".join(one(c) for c in t[5]))

        return "[" + ",".join(one(t) for t in syms) + "]"
    uri = _q(doc.uri)
    parts: list[str] = []

    def flat(ts, container) -> None:
        for t in ts:
            cn = ',"containerName":%s' % _q(container) if container is not None else ""
            parts.append('{"name":%s,"kind":%d,"location":{"uri":%s,"range":%s}%s}' % (_q(t[0]), t[1], uri, t[2], cn))
            flat(t[5], t[4])

    flat(syms, None)
    return "[" + ",".join(parts) + "]"


def pointer_symbols(doc: Document) -> list[tuple]:
    """The JSON Pointers of a JSON/YAML artifact (GAP §4.2) as a tree of ``(name, kind,
    range JSON, selectionRange JSON, pointer, children)``: one tree-sitter parse and one walk
    (names = keys / indexes)."""
    from gap_engine.pointer import escape_token

    kind = format_kind(doc.format)
    src = doc.text.encode("utf-8")
    from .envelope_files import _ByteMap

    bm = _ByteMap(doc.text)
    try:
        root = _ts_parser(kind).parse(src).root_node
    except Exception:
        return []
    budget = [MAX_POINTERS]
    starts = doc._line_starts()
    text = doc.text
    simple = doc.encoding == "utf-32" or text.isascii()

    def pos(b: int) -> str:
        o = bm.cp(b)
        ln = bisect_right(starts, o) - 1
        if simple:
            return '{"line":%d,"character":%d}' % (ln, o - starts[ln])
        seg = text[starts[ln] : o]
        return '{"line":%d,"character":%d}' % (ln, len(seg) if seg.isascii() else doc._units(seg))

    def rng(sb: int, eb: int) -> str:
        return '{"start":%s,"end":%s}' % (pos(sb), pos(eb))

    def members(node):
        """(key or index, key node or None, value node, whole node) of a container node."""
        t = node.type
        if t in ("flow_node", "block_node") and node.named_children:
            inner = [c for c in node.named_children if c.type not in ("anchor", "tag", "comment")]
            return members(inner[-1]) if inner else []
        if t in ("object", "block_mapping", "flow_mapping"):
            out = []
            kinds = ("pair",) if t == "object" else ("block_mapping_pair", "flow_pair")
            for p in node.named_children:
                if p.type in kinds:
                    k = p.child_by_field_name("key")
                    if k is not None:
                        out.append((_key_text(k, src), k, p.child_by_field_name("value"), p))
            return out
        if t == "array":
            return [(str(i), None, c, c) for i, c in enumerate(x for x in node.named_children if x.type != "comment")]
        if t in ("block_sequence", "flow_sequence"):
            items = [c for c in node.named_children if c.type in ("block_sequence_item", "flow_node")]
            out = []
            for i, c in enumerate(items):
                v = c.named_children[0] if c.type == "block_sequence_item" and c.named_children else c
                out.append((str(i), None, v, c))
            return out
        return []

    def walk(node, prefix: str) -> list[tuple]:
        """``(name, kind, range JSON, selectionRange JSON, pointer, children)`` tuples."""
        out = []
        for key, knode, value, whole in members(node):
            if budget[0] <= 0:
                break
            budget[0] -= 1
            ptr = prefix + "/" + escape_token(key)
            r = rng(whole.start_byte, whole.end_byte)
            sel = rng(knode.start_byte, knode.end_byte) if knode is not None else r
            children = walk(value, ptr) if value is not None else []
            out.append((key or '""', int(_scalar_kind(value) if value is not None else types.SymbolKind.Null), r, sel, ptr, children))
        return out

    top = root
    if kind == "json":
        vals = [c for c in root.named_children if c.type != "comment"]
        top = vals[0] if vals else None
    else:
        docs = [c for c in root.named_children if c.type == "document"]
        top = docs[0].named_children[0] if docs and docs[0].named_children else None
    return walk(top, "") if top is not None else []


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
    elif not len(doc.index) and format_kind(doc.format) is not None:
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
