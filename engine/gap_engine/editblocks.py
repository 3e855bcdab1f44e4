"""Plain-text edit blocks: GAP edit operations with the replacement text written unescaped.

Why: code and markup inside JSON strings must be escaped (every quote, backslash and newline),
and models write escaped code measurably worse than plain code (field evidence collected in the
project notes). Edit blocks carry the same operations as a GAP ``edit`` envelope (GAP §4.2),
one block per operation, with the content as raw lines. They map 1:1 onto envelopes:
:func:`parse_blocks` gives an :class:`~gap_engine.model.Envelope`, :func:`format_blocks` gives
the text back, and ``parse_blocks(format_blocks(env))`` equals ``env``.

Syntax
------

A block opens with a header line and, for every op but ``delete``, closes with a fence line::

    <<< replace revenue-value
    $15,720
    >>>

- The header is ``N`` opening angle brackets (``N ≥ 3``), the operation
  (``replace``, ``insert_before``, ``insert_after``, ``delete``), and the target.
- The target is a marker id (``revenue-value``) or a JSON Pointer (``/data/0/email``, any
  target that starts with ``/``). ``id:…`` and ``pointer:…`` force the kind (``pointer:`` alone
  is the root pointer ``""``); a target with spaces is written in double quotes.
- The content is every line after the header up to the closing fence: a line that is exactly
  ``N`` closing angle brackets (``>>>`` for ``<<<``). The line break just before the fence is not
  part of the content; an empty line there means the content ends with a line break. Nothing
  inside is escaped. When the content itself has a line ``>>>``, use a longer fence
  (``<<<<`` … ``>>>>``); :func:`format_blocks` does so automatically.
- ``delete`` has no content and no closing fence (a fence written right after it is accepted).
- A ``synthesize`` is one block ``<<< synthesize`` whose content is the whole artifact.
- An optional first line ``<<< gap ID VERSION FORMAT`` (e.g. ``<<< gap dash-1 2 text/html``)
  carries the envelope's id, version and ``meta.format``; without it they are left for the
  caller (see :func:`parse_blocks`' parameters) — the apply engine's ingestion fills them
  from the artifact.
- Text outside blocks (prose, Markdown fences around the whole answer) is ignored.

The module is pure: no I/O and no dependency beyond the engine's own model.
"""

from __future__ import annotations

import re
from typing import Iterable

from .errors import INVALID_ENVELOPE, GapError
from .model import OPS, PROTOCOL, EditOperation, Envelope, SynthesizeContent, Target

__all__ = [
    "BlockStream",
    "format_blocks",
    "format_operation",
    "looks_like_blocks",
    "parse_blocks",
    "parse_operations",
]

_HEADER = re.compile(r"^[ \t]*(<{3,})[ \t]*([A-Za-z][A-Za-z_-]*)(?:[ \t]+(.*?))?[ \t]*$")
_OP_ALIASES = {
    "replace": "replace",
    "update": "replace",
    "set": "replace",
    "delete": "delete",
    "remove": "delete",
    "insert_before": "insert_before",
    "insert-before": "insert_before",
    "insertbefore": "insert_before",
    "prepend": "insert_before",
    "before": "insert_before",
    "insert_after": "insert_after",
    "insert-after": "insert_after",
    "insertafter": "insert_after",
    "append": "insert_after",
    "after": "insert_after",
    "synthesize": "synthesize",
    "gap": "gap",
}


def looks_like_blocks(text: str) -> bool:
    """True when ``text`` holds at least one edit-block header line (``<<< op …``) whose op is
    known — the test a pipeline uses to pick :func:`parse_blocks` over JSON ingestion."""
    for m in re.finditer(r"(?m)^[ \t]*<{3,}[ \t]*([A-Za-z][A-Za-z_-]*)", text):
        if m.group(1).lower() in _OP_ALIASES:
            return True
    return False


def _parse_target(raw: str | None, where: str) -> Target:
    if raw is None or not raw.strip():
        raise GapError(INVALID_ENVELOPE, f"{where}: the header names no target")
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        raw = raw[1:-1]
        if raw.startswith("/"):
            return Target("pointer", raw)
        return Target("id", raw)
    m = _KEYED.match(raw)
    if m is not None:  # `id="x"` / `pointer="/a"` — lenient
        kind, val = m.group(1), m.group(2)
        if kind == "pointer" or (kind == "target" and val.startswith("/")):
            return Target("pointer", val)
        return Target("id", val)
    if raw.startswith("pointer:"):
        return Target("pointer", raw[len("pointer:") :])
    if raw.startswith("id:"):
        return Target("id", raw[3:])
    if raw.startswith("#") and len(raw) > 1:  # a habit some models have: '#revenue-value'
        return Target("id", raw[1:])
    if raw.startswith("/"):
        return Target("pointer", raw)
    if any(c.isspace() for c in raw):
        raise GapError(INVALID_ENVELOPE, f"{where}: the target {raw!r} has spaces; quote it (\"…\")")
    return Target("id", raw)


_KEYED = re.compile(r'(id|pointer|target)\s*=\s*"?([^"]*)"?$')


def _format_target(t: Target) -> str:
    v = t.value
    if t.type == "pointer":
        if v == "":
            return "pointer:"
        if any(c.isspace() for c in v) or v.startswith('"'):
            return f'"{v}"' if v.startswith("/") and '"' not in v else f"pointer:{v}"
        return v if v.startswith("/") else f"pointer:{v}"
    if v.startswith(("/", "#", "id:", "pointer:", '"')) or v == "" or _KEYED.match(v):
        return f"id:{v}"
    if any(c.isspace() for c in v):
        return f'"{v}"'
    return v


class _Op:
    """A parsed block before it becomes an envelope item (internal)."""

    __slots__ = ("kind", "target", "content", "line")

    def __init__(self, kind: str, target: Target | None, content: str | None, line: int):
        self.kind = kind
        self.target = target
        self.content = content
        self.line = line


class BlockStream:
    """Incremental parser: feed model output as it streams, get operations as they complete.

    ``feed(chunk)`` returns the :class:`EditOperation` items (and, for a ``synthesize`` block, a
    :class:`SynthesizeContent`) completed by that chunk, so a preview can show each operation
    as soon as its closing fence arrives (issue: "as soon as each operation is complete in the
    stream"). ``close()`` finishes the text and returns what remained; it raises
    :class:`GapError` (``invalid_envelope``) for an unterminated block.

    Attributes after use: ``header`` — ``(id, version, format)`` from a ``<<< gap`` line or
    None; ``items`` — every completed item so far, in order.
    """

    def __init__(self) -> None:
        self._buf = ""
        self._line_no = 0
        self._open: _Op | None = None
        self._fence = ""
        self._lines: list[str] = []
        self._pending_delete_fence: str | None = None
        self.header: tuple[str | None, int | None, str | None] | None = None
        self.items: list = []
        self._count = 0

    def feed(self, chunk: str) -> list:
        buf = self._buf + chunk
        out: list = []
        pos = 0  # (the buffer is cut once per chunk, not once per line)
        try:
            while True:
                nl = buf.find("\n", pos)
                if nl < 0:
                    break
                line = buf[pos:nl]
                pos = nl + 1
                if line.endswith("\r"):
                    line = line[:-1]
                self._line(line, out)
        finally:
            self._buf = buf[pos:]
        return out

    def close(self) -> list:
        out: list = []
        if self._buf:
            line, self._buf = self._buf, ""
            self._line(line.rstrip("\r"), out)
        if self._open is not None:
            op = self._open
            raise GapError(
                INVALID_ENVELOPE,
                f"edit block {self._count} ({op.kind} {_describe(op.target)}, line {op.line}) is not closed: "
                f"expected a line {self._fence!r}",
                op_index=self._count - 1,
            )
        return out

    def _line(self, line: str, out: list) -> None:
        self._line_no += 1
        if self._open is not None:
            if line.strip() == self._fence:
                op = self._open
                op.content = "\n".join(self._lines)
                self._open = None
                self._lines = []
                out.append(self._finish(op))
            else:
                self._lines.append(line)
            return
        if self._pending_delete_fence is not None:
            fence, self._pending_delete_fence = self._pending_delete_fence, None
            if line.strip() == fence:
                return
        m = _HEADER.match(line)
        if m is None:
            return  # prose or a Markdown fence around the blocks
        fence, word, rest = m.group(1), m.group(2), m.group(3)
        kind = _OP_ALIASES.get(word.lower())
        if kind is None:
            return  # `<<<EOF` in prose, a heredoc…: not a block
        where = f"edit block {self._count + 1} (line {self._line_no})"
        if kind == "gap":
            parts = (rest or "").split(None, 2)  # the format may have parameters (`; charset=…`)
            ident = parts[0] if parts else None
            version = None
            if len(parts) > 1:
                if not (parts[1].isascii() and parts[1].isdigit()) or int(parts[1]) < 1:
                    raise GapError(INVALID_ENVELOPE, f"{where}: version {parts[1]!r} is not a positive integer (GAP §3.1)")
                version = int(parts[1])
            fmt = parts[2] if len(parts) > 2 else None
            self.header = (ident, version, fmt)
            return
        self._count += 1
        if kind == "synthesize":
            self._open = _Op(kind, None, None, self._line_no)
        else:
            target = _parse_target(rest, where)
            op = _Op(kind, target, None, self._line_no)
            if kind == "delete":
                self._pending_delete_fence = ">" * len(fence)
                out.append(self._finish(op))
                return
            self._open = op
        self._fence = ">" * len(fence)
        self._lines = []

    def _finish(self, op: _Op):
        if op.kind == "synthesize":
            item = SynthesizeContent(op.content or "")
        else:
            item = EditOperation(op.kind, op.target, op.content)
        self.items.append(item)
        return item


def _describe(t: Target | None) -> str:
    if t is None:
        return "artifact"
    return f"{t.type} {t.value!r}"


def parse_operations(text: str) -> list:
    """The items of the blocks in ``text``: :class:`EditOperation` and/or
    :class:`SynthesizeContent`, in order (see the module docstring for the syntax).

    Raises:
        GapError: ``invalid_envelope`` for no block at all, an unterminated block, a header
            without a target, naming the block and its line.
    """
    s = BlockStream()
    s.feed(text)
    s.close()
    if not s.items:
        raise GapError(INVALID_ENVELOPE, "no edit blocks found (expected a line like '<<< replace TARGET-ID')")
    return s.items


def parse_blocks(
    text: str,
    *,
    id: str | None = None,
    version: int | None = None,
    format: str | None = None,
) -> Envelope:
    """Edit blocks → a GAP envelope (``edit``, or ``synthesize`` for a ``<<< synthesize`` block).

    ``id``, ``version`` and ``format`` override the optional ``<<< gap`` header line; when
    neither gives them, the envelope gets ``id "artifact"``, version 1 and ``text/html`` — pass
    the artifact's values (or re-address the envelope through :func:`gap_engine.ingest`).

    Raises:
        GapError: ``invalid_envelope`` for malformed blocks (see :func:`parse_operations`), or
            a mix of ``synthesize`` and edit blocks.
    """
    s = BlockStream()
    s.feed(text)
    s.close()
    items = s.items
    if not items:
        raise GapError(INVALID_ENVELOPE, "no edit blocks found (expected a line like '<<< replace TARGET-ID')")
    hid, hver, hfmt = s.header or (None, None, None)
    synth = [x for x in items if isinstance(x, SynthesizeContent)]
    if synth and len(items) > 1:
        raise GapError(INVALID_ENVELOPE, "a synthesize block cannot be combined with other blocks")
    name = "synthesize" if synth else "edit"
    fmt = format or hfmt or "text/html"
    return Envelope(PROTOCOL, id or hid or "artifact", version or hver or 1, name, {"format": fmt}, tuple(items))


def _fence_for(content: str) -> int:
    n = 3
    lines = set(line.strip() for line in content.split("\n"))
    while ">" * n in lines:
        n += 1
    return n


def format_operation(op: EditOperation | SynthesizeContent) -> str:
    """One block's text (no trailing line break) for an edit operation or synthesize body."""
    if isinstance(op, SynthesizeContent):
        n = _fence_for(op.body)
        return f"{'<' * n} synthesize\n{op.body}\n{'>' * n}"
    if op.op not in OPS:
        raise GapError(INVALID_ENVELOPE, f"unknown op {op.op!r}")
    head = f"{op.op} {_format_target(op.target)}"
    if op.op == "delete":
        return f"<<< {head}"
    content = op.content if op.content is not None else ""
    n = _fence_for(content)
    if content == "":
        return f"{'<' * n} {head}\n{'>' * n}"
    return f"{'<' * n} {head}\n{content}\n{'>' * n}"


def format_blocks(envelope: Envelope | Iterable, *, header: bool = True) -> str:
    """An envelope (or a sequence of operations) → edit-block text; the inverse of
    :func:`parse_blocks`. With ``header`` (and an envelope) the first line is
    ``<<< gap ID VERSION FORMAT``.

    Raises:
        GapError: ``invalid_envelope`` for a ``handle`` envelope (an output, not an edit).
    """
    parts: list[str] = []
    if isinstance(envelope, Envelope):
        if envelope.name == "handle":
            raise GapError(INVALID_ENVELOPE, "a handle envelope has no edit-block form")
        if header and not any(c.isspace() for c in envelope.id):
            parts.append(f"<<< gap {envelope.id} {envelope.version} {envelope.format}")
        items = envelope.content
    else:
        items = tuple(envelope)
    parts.extend(format_operation(x) for x in items)
    return "\n".join(parts) + "\n"
