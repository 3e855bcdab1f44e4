"""An editor-like test client on top of pytest-lsp: it keeps its own copy of every open
document, applies ``workspace/applyEdit`` to it the way an editor does (edits relative to the
original text, UTF-16 positions), and sends ``didChange`` with the next version."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Union
from urllib.parse import unquote, urlparse

from lsprotocol import types


# positions as an editor counts them, written independently of the server's code: every line end
# the LSP recognises, code units of the negotiated encoding
_EOL = re.compile(r"\r\n|\r|\n")


def units(s: str, enc: str) -> int:
    """Length of ``s`` in code units of ``enc``."""
    if enc == "utf-8":
        return len(s.encode("utf-8"))
    if enc == "utf-16":
        return len(s.encode("utf-16-le")) // 2
    return len(s)


def line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in _EOL.finditer(text)]


def to_offset(text: str, pos: types.Position, enc: str) -> int:
    """Code-point offset of an LSP position in ``enc`` (LSP 3.17 §position)."""
    starts = line_starts(text)
    if pos.line >= len(starts):
        return len(text)
    s = starts[pos.line]
    e = starts[pos.line + 1] if pos.line + 1 < len(starts) else len(text)
    line = text[s:e].rstrip("\r\n")
    n = 0
    for i, ch in enumerate(line):
        if n >= pos.character:
            return s + i
        n += units(ch, enc)
    return s + len(line)


def apply_edits(text: str, edits, enc: str) -> str:
    """``text`` with LSP ``TextEdit`` s (positions in ``enc``, all relative to ``text``) applied."""
    spans = sorted(((to_offset(text, e.range.start, enc), to_offset(text, e.range.end, enc), e.new_text) for e in edits), key=lambda t: t[0])
    for (_, e1, _), (s2, _, _) in zip(spans, spans[1:]):
        assert e1 <= s2, "overlapping TextEdits"
    for s, e, t in reversed(spans):
        text = text[:s] + t + text[e:]
    return text


def utf16_offset(text: str, pos: types.Position) -> int:
    """Code-point offset of a UTF-16 position."""
    return to_offset(text, pos, "utf-16")


def apply_text_edits(text: str, edits: list[types.TextEdit]) -> str:
    return apply_edits(text, edits, "utf-16")


class Editor:
    def __init__(self, client):
        self.client = client
        self.docs: dict[str, str] = {}
        self.versions: dict[str, int] = {}
        self.applied: list[types.ApplyWorkspaceEditParams] = []
        self.refuse = False

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def _apply(params: types.ApplyWorkspaceEditParams):
            self.applied.append(params)
            if self.refuse:
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason="refused by test")
            edit = params.edit
            per_doc: dict[str, list] = {}
            if edit.document_changes:
                for dc in edit.document_changes:
                    uri = dc.text_document.uri
                    if dc.text_document.version is not None:
                        assert dc.text_document.version == self.versions[uri], "stale version in applyEdit"
                    per_doc.setdefault(uri, []).extend(dc.edits)
            for uri, edits in (edit.changes or {}).items():
                per_doc.setdefault(uri, []).extend(edits)
            for uri, edits in per_doc.items():
                if uri in self.docs:
                    self.replace(uri, apply_text_edits(self.docs[uri], edits))
                else:  # a file not open in the editor: edited on disk, as editors do
                    path = Path(unquote(urlparse(uri).path))
                    path.write_text(apply_text_edits(path.read_text("utf-8"), edits), "utf-8")
            return types.ApplyWorkspaceEditResult(applied=True)

    def open(self, uri: str, text: str, language_id: str = "html") -> None:
        self.docs[uri] = text
        self.versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=uri, language_id=language_id, version=1, text=text))
        )

    def open_file(self, path: Path, language_id: str | None = None) -> str:
        """Open a file from disk; returns its URI."""
        lang = language_id or {".html": "html", ".json": "json", ".jsonl": "json", ".md": "markdown", ".py": "python", ".yaml": "yaml"}.get(path.suffix, "plaintext")
        uri = path.as_uri()
        self.open(uri, path.read_text("utf-8"), lang)
        return uri

    def apply_workspace_edit(self, edit: types.WorkspaceEdit) -> None:
        """Apply a WorkspaceEdit the server returned (rename, resolved code action)."""
        per_doc: dict[str, list] = {}
        for dc in edit.document_changes or []:
            per_doc.setdefault(dc.text_document.uri, []).extend(dc.edits)
        for uri, edits in (edit.changes or {}).items():
            per_doc.setdefault(uri, []).extend(edits)
        for uri, edits in per_doc.items():
            if uri in self.docs:
                self.replace(uri, apply_text_edits(self.docs[uri], edits))
            else:
                path = Path(unquote(urlparse(uri).path))
                path.write_text(apply_text_edits(path.read_text("utf-8"), edits), "utf-8")

    def replace(self, uri: str, text: str) -> None:
        """Replace the whole text (a full-sync didChange)."""
        self.docs[uri] = text
        self.versions[uri] += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def type_at(self, uri: str, rng: types.Range, text: str) -> None:
        """An incremental change, as editors send on typing."""
        old = self.docs[uri]
        s, e = utf16_offset(old, rng.start), utf16_offset(old, rng.end)
        self.docs[uri] = old[:s] + text + old[e:]
        self.versions[uri] += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
                content_changes=[types.TextDocumentContentChangePartial(range=rng, text=text)],
            )
        )

    async def command(self, name: str, *args):
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=list(args))
        )


def position_of(text: str, needle: str, shift: int = 0, nth: int = 0) -> types.Position:
    """The UTF-16 position of the ``nth`` occurrence of ``needle`` in ``text`` (+ ``shift`` chars)."""
    off = -1
    for _ in range(nth + 1):
        off = text.index(needle, off + 1)
    off += shift
    line = text.count("\n", 0, off)
    start = text.rfind("\n", 0, off) + 1
    col = sum(2 if ord(c) > 0xFFFF else 1 for c in text[start:off])
    return types.Position(line=line, character=col)


def range_of(text: str, needle: str, nth: int = 0) -> types.Range:
    """The UTF-16 range of the ``nth`` occurrence of ``needle``."""
    start = position_of(text, needle, 0, nth)
    end = position_of(text, needle, len(needle), nth)
    return types.Range(start=start, end=end)


def text_in(text: str, rng: types.Range) -> str:
    from .editor import utf16_offset

    return text[utf16_offset(text, rng.start) : utf16_offset(text, rng.end)]


async def wait_for(pred, timeout: float = 5.0) -> bool:
    """Poll ``pred()`` every 20 ms until true (True) or ``timeout`` seconds pass (False)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if pred():
            return True
        await asyncio.sleep(0.02)
    return False


def fix_code_action_structuring(client) -> None:
    """lsprotocol 2025.0.0 structures a CodeAction carrying a ``command`` as a Command whose
    ``.command`` is a stringified dict (NOTES.md): pick Command only when ``command`` is a
    string."""
    conv = client.protocol._converter

    def hook(obj, _):
        if isinstance(obj, dict) and isinstance(obj.get("command"), str):
            return conv.structure(obj, types.Command)
        return conv.structure(obj, types.CodeAction)

    conv.register_structure_hook(Union[types.Command, types.CodeAction], hook)


async def start_session(client, root: Path, capabilities: "str | types.ClientCapabilities" = "visual-studio-code") -> "Editor":
    """Initialize a pytest-lsp client with ``capabilities`` (the name of a recorded editor, or
    the capabilities themselves), rooted at ``root``; attaches an :class:`Editor` as
    ``client.editor`` and returns it."""
    from pytest_lsp import client_capabilities

    fix_code_action_structuring(client)
    client.editor = Editor(client)
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(capabilities) if isinstance(capabilities, str) else capabilities,
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name or "root")],
        )
    )
    return client.editor
