"""Open documents: text, version, line table, position conversions and the target index.

The server keeps its own document model instead of pygls' ``TextDocument`` (which re-splits
every line on each change). A change costs one string splice, an O(1) update of the target
index when no marker is touched (:meth:`gap_engine.Index.splice`), and a lazily applied
shift of the line table.

Positions: LSP ``Position.character`` counts code units of the negotiated encoding
(UTF-16 by default, LSP 3.17 §positionEncodingKind); Python strings count code points. Every
conversion goes through :meth:`Document.offset_at` / :meth:`Document.position_at`.
"""

from __future__ import annotations

import asyncio
import re
from bisect import bisect_right
from collections import deque
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote, urlparse

from gap_engine import Artifact, GapError, Index, scan
from gap_engine.replay import format_for_path
from lsprotocol import types

_NL = re.compile(r"\r\n|\r|\n")
HISTORY_VERSIONS = 256
HISTORY_CHARS = 32_000_000
#: texts longer than this are not kept in :attr:`Document.edits`
EDIT_TEXT_MAX = 1024
#: :attr:`Document.edits` is cleared (and ``edit_gen`` bumped) beyond this many entries
EDITS_MAX = 1024

#: LSP languageId → MIME type of the artifact (GAP §3.1.1 ``meta.format``).
LANGUAGE_FORMATS = {
    "html": "text/html",
    "svg": "image/svg+xml",
    "xml": "application/xml",
    "markdown": "text/markdown",
    "json": "application/json",
    "jsonc": "application/json",
    "yaml": "application/yaml",
    "toml": "application/toml",
    "css": "text/css",
    "javascript": "text/javascript",
    "typescript": "text/x-typescript",
    "python": "text/x-python",
    "rust": "text/x-rust",
    "go": "text/x-go",
    "java": "text/x-java",
    "ruby": "text/x-ruby",
    "sql": "application/sql",
    "shellscript": "text/x-shellscript",
    "sh": "text/x-shellscript",
    "plaintext": "text/plain",
}


def uri_to_path(uri: str) -> Path | None:
    """The local path of a ``file:`` URI, or None for other schemes."""
    u = urlparse(uri)
    if u.scheme != "file":
        return None
    return Path(unquote(u.path))


def format_for(uri: str, language_id: str | None) -> str:
    """The artifact MIME type for a document: by file extension, else by languageId."""
    path = uri_to_path(uri) or Path(urlparse(uri).path)
    name = path.name
    if name.endswith((".gap.json", ".gap.jsonl")):
        return "application/json"
    fmt = format_for_path(path, default="")
    if fmt:
        return fmt
    return LANGUAGE_FORMATS.get((language_id or "").lower(), "text/plain")


def pointer_blocked(text: str, fmt: str) -> str | None:
    """Why the engine's JSON Pointer functions (tree-sitter) must not be called on the body
    ``text`` of format ``fmt`` — a YAML document whose block nesting may be deeper than
    tree-sitter-yaml survives — or None when they may. A conservative, linear bound: the
    widest indentation-plus-indicators prefix of any line."""
    from gap_engine.pointer import YAML_MAX_COLUMNS, format_kind, yaml_block_columns

    if format_kind(fmt) != "yaml":
        return None
    widest = yaml_block_columns(text)
    if widest <= YAML_MAX_COLUMNS:
        return None
    return (
        f"this YAML document nests blocks up to {widest} columns deep; tree-sitter-yaml crashes on block nesting "
        f"about 255 levels deep (tree-sitter-grammars/tree-sitter-yaml#48), so JSON Pointer symbols, completion and "
        f"pointer edits are unavailable for it (at most {YAML_MAX_COLUMNS} columns); <gap:target> markers still work"
    )


def refuse_blocked_pointers(body: str, fmt: str, env) -> None:
    """Refuse an edit envelope ``env`` that addresses ``body`` by JSON Pointer when
    :func:`pointer_blocked` says the engine's pointer functions must not parse it.

    Raises:
        GapError: ``target_not_found`` on the first pointer operation, saying why.
    """
    if env.name != "edit":
        return
    why = pointer_blocked(body, fmt)
    if why is None:
        return
    for i, op in enumerate(env.content):
        if op.target.type == "pointer":
            raise GapError("target_not_found", f"JSON Pointer {op.target.value!r} cannot be resolved: {why}", op_index=i)


class Document:
    """One open text document.

    Attributes:
        uri: the document URI as the client sent it.
        version: the client's version number (LSP ``VersionedTextDocumentIdentifier``).
        language_id: the client's languageId.
        format: the artifact MIME type (see :func:`format_for`).
        text: the full current text.
        encoding: the negotiated position encoding: ``"utf-16"``, ``"utf-8"`` or ``"utf-32"``.
    """

    def __init__(self, uri: str, version: int | None, language_id: str, text: str, encoding: str = "utf-16"):
        self.uri = uri
        self.version = version
        self.language_id = language_id
        self.format = format_for(uri, language_id)
        self.text = text
        self.encoding = encoding
        self._starts: list[int] | None = None
        self._pending: list[tuple[int, int]] = []  # (line, delta): starts of lines > line shift by delta
        self._index: Index | None = None
        self.changed = asyncio.Event() if _has_loop() else None
        #: earlier ``(version, text)`` pairs, newest last (for automatic rebase, GAP §3.3)
        self.history: deque[tuple[int | None, str]] = deque(maxlen=HISTORY_VERSIONS)
        #: bumped on every change (cache key for derived data: symbols, envelopes…)
        self.generation = 0
        #: bumped when the whole text is replaced; ``line_log`` lists the edits since as
        #: ``(first_line, last_line, line_delta)`` (old lines ``first..last`` were replaced,
        #: later lines moved by ``line_delta``), so derived positions can be reused
        self.line_gen = 0
        self.line_log: list[tuple[int, int, int]] = []
        #: bumped when the whole text is replaced (or :attr:`edits` overflows); ``edits`` lists
        #: the splices since as ``(start, end, inserted, removed)`` in code points of the text
        #: before each one (``inserted``/``removed`` None when longer than :data:`EDIT_TEXT_MAX`)
        self.edit_gen = 0
        self.edits: list[tuple[int, int, str | None, str | None]] = []

    def remember(self) -> None:
        """Record the current ``(version, text)`` before a change (cheap: strings are shared)."""
        h = self.history
        if h and h[-1][0] == self.version:
            return
        h.append((self.version, self.text))
        total = sum(len(t) for _, t in h)
        while len(h) > 1 and total > HISTORY_CHARS:
            total -= len(h.popleft()[1])

    def text_at(self, version: int | None) -> str | None:
        """The text the document had at ``version`` (current or remembered), else None."""
        if version == self.version:
            return self.text
        for v, t in reversed(self.history):
            if v == version:
                return t
        return None

    # -- targets -----------------------------------------------------------------------------
    @property
    def index(self) -> Index:
        """The target index of :attr:`text` (GAP §3.2), maintained incrementally."""
        if self._index is None:
            self._index = scan(self.text)
        return self._index

    def compact_index(self) -> Index:
        """The index with every pending shift resolved (kept: later lookups are cheaper too)."""
        idx = self.index.compacted()
        self._index = idx
        return idx

    def artifact(self) -> Artifact:
        """The document as a GAP artifact: id = URI, version = document version (≥ 1)."""
        return Artifact(self.uri, max(self.version or 1, 1), self.format, self.text, index_=self.index)

    # -- line table --------------------------------------------------------------------------
    def _line_starts(self) -> list[int]:
        if self._starts is None:
            self._starts = [0] + [m.end() for m in _NL.finditer(self.text)]
            self._pending = []
        elif self._pending:
            starts = self._starts
            # merge the shifts (sorted by line) and apply them in one pass over the table
            shifts: dict[int, int] = {}
            for line, d in self._pending:
                shifts[line] = shifts.get(line, 0) + d
            acc = 0
            prev = 0
            out = starts[:0]
            for line in sorted(shifts):
                cut = min(line + 1, len(starts))
                out.extend([x + acc for x in starts[prev:cut]] if acc else starts[prev:cut])
                prev = cut
                acc += shifts[line]
            out.extend([x + acc for x in starts[prev:]] if acc else starts[prev:])
            self._starts = out
            self._pending = []
        return self._starts

    def _line_starts_old(self, old_text: str) -> list[int]:
        """The line table of the text before the current splice (pending shifts applied)."""
        text, self.text = self.text, old_text
        try:
            return self._line_starts()
        finally:
            self.text = text

    def _start_of(self, line: int) -> int:
        """Offset of the start of ``line`` honouring pending shifts (clamped to the text)."""
        if self._starts is None or len(self._pending) > 16:
            starts = self._line_starts()
            pending = ()
        else:
            starts = self._starts
            pending = self._pending
        if line >= len(starts):
            return len(self.text)
        off = starts[line]
        for l, d in pending:
            if line > l:
                off += d
        return off

    def line_count(self) -> int:
        if self._starts is not None:  # pending shifts never change the number of lines
            return len(self._starts)
        return len(self._line_starts())

    def line_text(self, line: int) -> str:
        """Line ``line`` without its line break."""
        s = self._start_of(line)
        e = self._start_of(line + 1) if line + 1 < self.line_count() else len(self.text)
        return self.text[s:e].rstrip("\r\n")

    # -- conversions -------------------------------------------------------------------------
    def _units(self, s: str) -> int:
        if self.encoding == "utf-32" or s.isascii():
            return len(s)
        if self.encoding == "utf-8":
            return len(s.encode("utf-8"))
        return len(s) + sum(1 for c in s if ord(c) > 0xFFFF)

    def offset_at(self, pos: types.Position) -> int:
        """Code-point offset of an LSP position (clamped into the document)."""
        n = self.line_count()
        if pos.line >= n:
            return len(self.text)
        line = self.line_text(pos.line)
        start = self._start_of(pos.line)
        ch = pos.character
        if self.encoding == "utf-32" or line.isascii():
            return start + min(ch, len(line))
        units = 0
        for i, c in enumerate(line):
            if units >= ch:
                return start + i
            units += self._units(c)
        return start + len(line)

    def position_at(self, offset: int) -> types.Position:
        """The LSP position of a code-point offset."""
        starts = self._line_starts()
        offset = max(0, min(offset, len(self.text)))
        line = bisect_right(starts, offset) - 1
        col = offset - starts[line]
        if col and self.encoding != "utf-32":
            seg = self.text[starts[line] : offset]
            if not seg.isascii():
                col = self._units(seg)
        return types.Position(line=line, character=col)

    def range_at(self, start: int, end: int) -> types.Range:
        """The LSP range of ``[start, end)``."""
        return types.Range(self.position_at(start), self.position_at(end))

    def positions_at(self, offsets: list[int]) -> Iterator[types.Position]:
        """Positions of many sorted offsets (one pass; for symbol lists)."""
        starts = self._line_starts()
        text = self.text
        utf32 = self.encoding == "utf-32"
        for off in offsets:
            line = bisect_right(starts, off) - 1
            col = off - starts[line]
            if col and not utf32:
                seg = text[starts[line] : off]
                if not seg.isascii():
                    col = self._units(seg)
            yield types.Position(line=line, character=col)

    def line_cols(self, offsets: list[int]) -> list[tuple[int, int]]:
        """``(line, character)`` of many offsets, as plain tuples (no ``Position`` objects:
        for answers built as JSON text)."""
        starts = self._line_starts()
        text = self.text
        lines = [bisect_right(starts, o) - 1 for o in offsets]
        if self.encoding == "utf-32" or text.isascii():
            return [(ln, o - starts[ln]) for ln, o in zip(lines, offsets)]
        out = []
        for ln, o in zip(lines, offsets):
            st = starts[ln]
            seg = text[st:o]
            out.append((ln, o - st if seg.isascii() else self._units(seg)))
        return out

    # -- changes -----------------------------------------------------------------------------
    def apply_change(self, change) -> None:
        """Apply one ``TextDocumentContentChangeEvent`` (incremental or full)."""
        rng = getattr(change, "range", None)
        if rng is None:
            self.replace_all(change.text)
            return
        s = self.offset_at(rng.start)
        e = self.offset_at(rng.end)
        l1, l2 = rng.start.line, rng.end.line
        if e < s or l2 < l1:
            s, e = min(s, e), max(s, e)
            l1, l2 = min(l1, l2), max(l1, l2)
        self.splice(s, e, change.text, start_line=l1, end_line=l2)

    def splice(self, s: int, e: int, text: str, *, start_line: int | None = None, end_line: int | None = None) -> None:
        """Replace ``[s, e)`` by ``text``, updating the line table and the target index."""
        old = self.text
        new = old[:s] + text + old[e:]
        self.text = new
        self.generation += 1
        if self._index is not None:
            # the engine also sees markers completed across the edit's edges (Neovim's diffs
            # split markers that way)
            self._index = self._index.splice(s, e, text, new)
        removed = old[s:e]
        if len(self.edits) >= EDITS_MAX:
            self.edit_gen += 1
            self.edits = []
        self.edits.append((s, e, text if len(text) <= EDIT_TEXT_MAX else None, removed if e - s <= EDIT_TEXT_MAX else None))
        single = (
            start_line is not None and start_line == end_line and "\n" not in text and "\r" not in text
            and "\r" not in removed and "\n" not in removed and (s == 0 or old[s - 1] != "\r")
        )
        if single:
            self.line_log.append((start_line, start_line, 0))
        elif start_line is not None and end_line is not None and "\r" not in text and "\r" not in removed and (s == 0 or old[s - 1] != "\r"):
            self.line_log.append((start_line, end_line, text.count("\n") - (end_line - start_line)))
        else:
            self.line_gen += 1
            self.line_log = []
        if len(self.line_log) > 10_000:
            self.line_gen += 1
            self.line_log = []
        if self._starts is not None:
            if single:
                self._pending.append((start_line, len(text) - (e - s)))
            elif self.line_log and self.line_log[-1][2] == text.count("\n") - (end_line - start_line) and "\r" not in text and "\r" not in removed:
                # lines added/removed: splice the line table instead of rescanning the text
                starts = self._line_starts_old(old)
                delta = len(text) - (e - s)
                fresh = [s + k + 1 for k, c in enumerate(text) if c == "\n"] if "\n" in text else []
                self._starts = starts[: start_line + 1] + fresh + [x + delta for x in starts[end_line + 1 :]]
            else:
                self._starts = None
        if self.changed is not None:
            self.changed.set()

    def replace_all(self, text: str) -> None:
        self.text = text
        self.generation += 1
        self.line_gen += 1
        self.line_log = []
        self.edit_gen += 1
        self.edits = []
        self._starts = None
        self._pending = []
        self._index = None
        if self.changed is not None:
            self.changed.set()


def _has_loop() -> bool:
    try:
        asyncio.get_running_loop()
        return True
    except RuntimeError:
        return False


class DocumentStore:
    """The open documents by URI (LSP ``textDocument/didOpen`` … ``didClose``)."""

    def __init__(self) -> None:
        self._docs: dict[str, Document] = {}
        self.encoding = "utf-16"

    def __contains__(self, uri: str) -> bool:
        return uri in self._docs

    def __iter__(self):
        return iter(list(self._docs.values()))

    def get(self, uri: str) -> Document | None:
        return self._docs.get(uri)

    def open(self, item: types.TextDocumentItem) -> Document:
        doc = Document(item.uri, item.version, item.language_id, item.text, self.encoding)
        self._docs[item.uri] = doc
        return doc

    def close(self, uri: str) -> Document | None:
        return self._docs.pop(uri, None)

    def find_artifact(self, name: str) -> Document | None:
        """The open document an envelope's ``id`` names: same URI, path, file name or stem."""
        if name in self._docs:
            return self._docs[name]
        for doc in self._docs.values():
            path = uri_to_path(doc.uri)
            if path is None:
                continue
            if name in (str(path), path.name, path.stem, path.name.split(".", 1)[0]):
                return doc
        return None
