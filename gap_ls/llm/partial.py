"""Operations of a JSON envelope as soon as they are complete in a stream.

:class:`JsonOpStream` scans streamed text once, character by character (strings, escapes,
nesting), and hands back each edit operation object the moment its closing brace arrives —
an element of the envelope's ``content`` array, or of a bare top-level list of operations.
Each object is read with ``json.loads`` and normalised by the engine's lenient ingestion
(aliases such as ``"id": …`` for the target, pointer values as JSON). Used only to show
operations early in the preview; the final answer is still parsed and validated as a whole.
"""

from __future__ import annotations

import json

from gap_engine import GapError, ingest
from gap_engine.model import EditOperation

__all__ = ["JsonOpStream"]


class JsonOpStream:
    """``feed(delta) -> [EditOperation]`` for a JSON envelope being streamed."""

    def __init__(self, fmt: str | None = None) -> None:
        self._buf: list[str] = []
        self._pos = 0
        self._stack: list[tuple[str, int]] = []  # (kind "{"/"[", start offset)
        self._in_str = False
        self._esc = False
        self._started = False
        self._fmt = fmt

    def feed(self, delta: str) -> list[EditOperation]:
        out: list[EditOperation] = []
        for ch in delta:
            self._buf.append(ch)
            i = self._pos
            self._pos += 1
            if self._in_str:
                if self._esc:
                    self._esc = False
                elif ch == "\\":
                    self._esc = True
                elif ch == '"':
                    self._in_str = False
                continue
            if not self._started:
                if ch in "{[":
                    self._started = True
                else:
                    continue
            if ch == '"':
                self._in_str = True
            elif ch in "{[":
                self._stack.append((ch, i))
            elif ch in "}]":
                if not self._stack:
                    continue
                kind, start = self._stack.pop()
                if kind == "{" and self._stack and self._stack[-1][0] == "[" and len(self._stack) in (1, 2):
                    op = self._read("".join(self._buf[start : i + 1]))
                    if op is not None:
                        out.append(op)
        return out

    def _read(self, text: str) -> EditOperation | None:
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict) or "op" not in data:
            return None
        try:
            env = ingest([data], format=self._fmt).envelope
        except GapError:
            return None
        return env.content[0] if env.content and isinstance(env.content[0], EditOperation) else None
