"""Envelopes inside documents, with source positions (GAP §3.1, §4.2).

Envelope containers are ``*.gap.json`` (one envelope), ``*.gap.jsonl`` (one per line) and
Markdown documents (envelopes in fenced code blocks, as models write them). Positions come
from tree-sitter-json (and markdown-it-py for the fences); nothing here raises on malformed
text — what cannot be read is reported in :attr:`EnvelopeRef.error`.

Shapes (all offsets are code-point offsets into the containing document, half-open):

- :class:`EnvelopeRef` ``start, end, text, data, error, error_at, ops``
- :class:`OpRef` ``index, start, end, op, op_span, target_type, target_value, value_span``
  where ``value_span`` covers the JSON string literal of ``target.value`` *including* its
  quotes and ``value_inner`` the characters between them.

:func:`resolve_artifact` finds the artifact an envelope names (open document first, then a
file beside the envelope file, then the workspace).
"""

from __future__ import annotations

import json
from bisect import bisect_right
from functools import lru_cache
from pathlib import Path
from typing import Any

import attrs
from gap_engine import Index, scan

from .documents import Document, format_for, uri_to_path

ENVELOPE_SUFFIXES = (".gap.json", ".gap.jsonl")
MARKDOWN_SUFFIXES = (".md", ".markdown")


def envelope_kind(uri: str, language_id: str | None = None) -> str | None:
    """``"json"`` for ``*.gap.json``, ``"jsonl"`` for ``*.gap.jsonl``, ``"markdown"`` for
    Markdown documents, else None."""
    low = uri.lower()
    if low.endswith(".gap.json"):
        return "json"
    if low.endswith(".gap.jsonl"):
        return "jsonl"
    if low.endswith(MARKDOWN_SUFFIXES) or (language_id or "").lower() == "markdown":
        return "markdown"
    return None


def is_envelope_file(uri: str) -> bool:
    """True for ``*.gap.json`` / ``*.gap.jsonl`` (documents that are envelopes, not artifacts)."""
    return uri.lower().endswith(ENVELOPE_SUFFIXES)


@attrs.define
class OpRef:
    """One edit operation of an envelope, with where its parts are."""

    index: int
    start: int
    end: int
    op: str | None = None
    op_span: tuple[int, int] | None = None
    target_type: str | None = None
    target_value: str | None = None
    value_span: tuple[int, int] | None = None  # the string literal, quotes included

    @property
    def value_inner(self) -> tuple[int, int] | None:
        if self.value_span is None:
            return None
        return self.value_span[0] + 1, self.value_span[1] - 1


@attrs.define
class EnvelopeRef:
    """One envelope (or bare operation list) found in a document."""

    start: int
    end: int
    text: str
    data: Any = None
    error: str | None = None
    error_at: tuple[int, int] | None = None
    ops: list[OpRef] = attrs.Factory(list)

    @property
    def artifact_name(self) -> str | None:
        d = self.data
        return d.get("id") if isinstance(d, dict) and isinstance(d.get("id"), str) else None

    @property
    def version(self) -> int | None:
        d = self.data
        v = d.get("version") if isinstance(d, dict) else None
        return v if isinstance(v, int) and not isinstance(v, bool) else None


# -- positions ------------------------------------------------------------------------------
class _ByteMap:
    """UTF-8 byte offsets → code-point offsets for one text."""

    def __init__(self, text: str):
        self.ascii = text.isascii()
        if not self.ascii:
            self.bpos: list[int] = []
            self.extra: list[int] = []
            b = extra = 0
            for c in text:
                n = len(c.encode("utf-8"))
                b += n
                if n > 1:
                    extra += n - 1
                    self.bpos.append(b)
                    self.extra.append(extra)

    def cp(self, b: int) -> int:
        if self.ascii:
            return b
        i = bisect_right(self.bpos, b)
        return b - (self.extra[i - 1] if i else 0)


@lru_cache(maxsize=1)
def _json_parser():
    import tree_sitter as ts
    import tree_sitter_json

    return ts.Parser(ts.Language(tree_sitter_json.language()))


def _string_value(node, src: bytes) -> str | None:
    if node is None or node.type != "string":
        return None
    try:
        v = json.loads(src[node.start_byte : node.end_byte].decode("utf-8"))
    except Exception:
        return None
    return v if isinstance(v, str) else None


def _pairs(obj) -> dict[str, Any]:
    out = {}
    for ch in obj.named_children:
        if ch.type == "pair":
            k = ch.child_by_field_name("key")
            v = ch.child_by_field_name("value")
            if k is not None:
                key = k.text.decode("utf-8", "replace")[1:-1] if k.type == "string" else None
                if key is not None:
                    out[key] = v
    return out


def _ops_of(array, src: bytes, bm: _ByteMap, base: int) -> list[OpRef]:
    ops = []
    i = 0
    for item in array.named_children:
        if item.type == "comment":
            continue
        ref = OpRef(i, base + bm.cp(item.start_byte), base + bm.cp(item.end_byte))
        i += 1
        if item.type == "object":
            p = _pairs(item)
            opn = p.get("op")
            if opn is not None and opn.type == "string":
                ref.op = _string_value(opn, src)
                ref.op_span = (base + bm.cp(opn.start_byte), base + bm.cp(opn.end_byte))
            tgt = p.get("target")
            if tgt is not None and tgt.type == "object":
                tp = _pairs(tgt)
                ref.target_type = _string_value(tp.get("type"), src)
                val = tp.get("value")
                if val is not None and val.type == "string":
                    ref.target_value = _string_value(val, src)
                    ref.value_span = (base + bm.cp(val.start_byte), base + bm.cp(val.end_byte))
        ops.append(ref)
    return ops


def _one_value(text: str, base: int) -> EnvelopeRef | None:
    """The single JSON value of ``text`` (None when ``text`` is blank)."""
    lead = len(text) - len(text.lstrip())
    body = text.strip()
    if not body:
        return None
    s, e = lead, lead + len(body)
    ref = EnvelopeRef(base + s, base + e, body)
    src = text.encode("utf-8")
    bm = _ByteMap(text)
    root = _json_parser().parse(src).root_node
    try:
        ref.data = json.loads(body)
    except ValueError as exc:
        pos = getattr(exc, "pos", 0) or 0
        ref.error = f"not valid JSON: {getattr(exc, 'msg', exc)}"
        ref.error_at = (base + s + pos, base + s + min(pos + 1, len(body)))
    node = None
    if root.type == "document":
        kids = [c for c in root.named_children if c.type != "comment"]
        node = kids[0] if len(kids) == 1 else max(kids, key=lambda c: c.end_byte - c.start_byte, default=None)
    if node is not None:
        if node.type == "object":
            content = _pairs(node).get("content")
            if content is not None and content.type == "array":
                ref.ops = _ops_of(content, src, bm, base)
        elif node.type == "array":
            ref.ops = _ops_of(node, src, bm, base)
    return ref


def parse_json_values(text: str, base: int = 0, *, lines: bool = False) -> list[EnvelopeRef]:
    """The envelope of ``text`` (one JSON value), or with ``lines`` one per non-blank line (JSON
    Lines: lines end at ``\n``, a ``\r`` before it is whitespace; not ``str.splitlines``, which
    also splits at U+2028, U+0085… that JSON allows raw inside strings)."""
    if not lines:
        ref = _one_value(text, base)
        return [ref] if ref is not None else []
    out = []
    off = 0
    for line in text.split("\n"):
        line += "\n"
        ref = _one_value(line, base + off)
        if ref is not None:
            out.append(ref)
        off += len(line)
    return out


def _markdown_fences(text: str) -> list[tuple[int, str]]:
    """``(offset, content)`` of every fenced code block that may hold an envelope."""
    from markdown_it import MarkdownIt

    out = []
    starts = [0]
    for i, c in enumerate(text):
        if c == "\n":
            starts.append(i + 1)
    for tok in MarkdownIt("commonmark").parse(text):
        if tok.type != "fence" or tok.map is None:
            continue
        lang = (tok.info or "").strip().split(" ", 1)[0].lower()
        if lang not in ("", "json", "jsonc", "json5", "gap", "jsonl"):
            continue
        if '"op"' not in tok.content and '"protocol"' not in tok.content:
            continue
        line = tok.map[0] + 1
        if line >= len(starts):
            continue
        off = starts[line]
        if text[off : off + len(tok.content)] != tok.content:
            continue  # an indented fence whose content markdown-it re-indented: skip
        out.append((off, tok.content))
    return out


def find_envelopes(text: str, kind: str | None) -> list[EnvelopeRef]:
    """The envelopes of a document of ``kind`` (see :func:`envelope_kind`)."""
    if kind in ("json", "jsonl"):
        return parse_json_values(text, lines=kind == "jsonl")
    if kind == "markdown":
        if '"op"' not in text and '"protocol"' not in text:
            return []
        out = []
        for off, content in _markdown_fences(text):
            out.extend(parse_json_values(content, off))
        return out
    return []


def envelopes_of(doc: Document) -> list[EnvelopeRef]:
    """:func:`find_envelopes` for an open document, cached per version."""
    cached = getattr(doc, "_envelopes", None)
    if cached is not None and cached[0] == doc.version and cached[1] is doc.text:
        return cached[2]
    refs = find_envelopes(doc.text, envelope_kind(doc.uri, doc.language_id))
    doc._envelopes = (doc.version, doc.text, refs)  # type: ignore[attr-defined]
    return refs


def envelope_at(refs: list[EnvelopeRef], offset: int) -> EnvelopeRef | None:
    for r in refs:
        if r.start <= offset <= r.end:
            return r
    return None


# -- the artifact an envelope names -----------------------------------------------------------
@attrs.define
class ArtifactView:
    """An artifact as the server sees it: open (``doc`` set) or read from disk."""

    uri: str
    text: str
    format: str
    version: int | None
    doc: Document | None = None
    _index: Index | None = None

    @property
    def index(self) -> Index:
        if self.doc is not None:
            return self.doc.index
        if self._index is None:
            self._index = scan(self.text)
        return self._index

    @property
    def name(self) -> str:
        return self.uri.rsplit("/", 1)[-1]


def _matches(path: Path, name: str) -> bool:
    return not path.name.lower().endswith(ENVELOPE_SUFFIXES) and name in (path.name, path.stem, path.name.split(".", 1)[0])


def view_of(ls, uri: str) -> ArtifactView | None:
    """The artifact at ``uri``: the open document, else the file on disk."""
    doc = ls.documents.get(uri)
    if doc is not None:
        return ArtifactView(doc.uri, doc.text, doc.format, doc.version, doc)
    path = uri_to_path(uri)
    if path is None or not path.is_file():
        return None
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return ArtifactView(uri, text, format_for(uri, None), None)


def resolve_artifact(ls, name: str | None, envelope_uri: str | None) -> ArtifactView | None:
    """The artifact an envelope's ``id`` names: an open document (not an envelope file) whose
    URI, path, file name or stem equals ``name``; else a file with that name or stem beside
    the envelope file; else in the workspace. ``name`` None → the envelope file's own stem
    (``dashboard.gap.json`` → ``dashboard``)."""
    if not name and envelope_uri:
        name = envelope_uri.rsplit("/", 1)[-1].split(".", 1)[0]
    if not name:
        return None
    for doc in ls.documents:
        if doc.uri == name and not is_envelope_file(doc.uri):
            return view_of(ls, doc.uri)
    if name.startswith("file:") and not is_envelope_file(name):
        return view_of(ls, name)  # an artifact id that is a URI (closed file)
    for doc in ls.documents:
        if is_envelope_file(doc.uri) or doc.uri == envelope_uri:
            continue
        path = uri_to_path(doc.uri)
        if path is not None and (str(path) == name or _matches(path, name)):
            return view_of(ls, doc.uri)
    here = uri_to_path(envelope_uri) if envelope_uri else None
    if here is not None and here.parent.is_dir():
        try:
            for p in sorted(here.parent.iterdir()):
                if p.is_file() and p != here and _matches(p, name) and not p.name.lower().endswith(MARKDOWN_SUFFIXES):
                    return view_of(ls, p.as_uri())
        except OSError:
            pass
    from .workspace import workspace_files

    for p in workspace_files(ls):
        if _matches(p, name) and not p.name.lower().endswith(MARKDOWN_SUFFIXES):
            return view_of(ls, p.as_uri())
    return None
