"""An editor-like test client on top of pytest-lsp: it keeps its own copy of every open
document, applies ``workspace/applyEdit`` to it the way an editor does (edits relative to the
original text, positions in the negotiated encoding: UTF-16 unless told otherwise), and sends
``didChange`` with the next version. One model for every LSP test (see :class:`Editor`)."""

from __future__ import annotations

import asyncio
import bisect
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


def to_position(text: str, off: int, enc: str) -> types.Position:
    """The position of code point ``off`` of ``text`` in ``enc`` code units."""
    starts = line_starts(text)
    ln = bisect.bisect_right(starts, off) - 1
    return types.Position(line=ln, character=units(text[starts[ln] : off], enc))


class Editor:
    """The client's documents: text and version per URI, positions in ``enc`` code units.

    ``workspace/applyEdit`` is answered as ``mode`` says: ``"apply"`` (the default),
    ``"refuse"`` (``applied: false``), ``"error"`` (an error answer) or ``"null"``
    (``result: null``, as a buggy client might). An edit for a version the editor has moved
    past fails the test, or with ``refuse_stale=True`` is refused with ``applied: false`` as
    vscode-languageclient does. ``before_next_apply`` is called once, with no argument, when
    the next applyEdit arrives and before it is looked at (the user's keystroke already on its
    way). ``applied`` keeps every applyEdit request received."""

    def __init__(self, client, enc: str = "utf-16", *, refuse_stale: bool = False):
        self.client = client
        self.enc = enc
        self.refuse_stale = refuse_stale
        self.docs: dict[str, str] = {}
        self.versions: dict[str, int] = {}
        self.applied: list[types.ApplyWorkspaceEditParams] = []
        self.mode = "apply"
        self.before_next_apply = None

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def _apply(params: types.ApplyWorkspaceEditParams):
            self.applied.append(params)
            if self.before_next_apply is not None:
                fn, self.before_next_apply = self.before_next_apply, None
                fn()
            if self.mode == "error":
                raise RuntimeError("the editor crashed while applying")
            if self.mode == "refuse":
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason="refused by the user")
            if self.mode == "null":
                return None
            for dc in params.edit.document_changes or []:
                uri, version = dc.text_document.uri, dc.text_document.version
                if version is not None and uri in self.versions and version != self.versions[uri]:
                    assert self.refuse_stale, f"stale version {version} of {uri} in applyEdit (the editor is at {self.versions[uri]})"
                    return types.ApplyWorkspaceEditResult(
                        applied=False, failure_reason=f"Version {version} of {uri} differs from the current version {self.versions[uri]}"
                    )
            self.apply_workspace_edit(params.edit)
            return types.ApplyWorkspaceEditResult(applied=True)

    @property
    def refuse(self) -> bool:
        """Shorthand: ``mode == "refuse"``."""
        return self.mode == "refuse"

    @refuse.setter
    def refuse(self, value: bool) -> None:
        self.mode = "refuse" if value else "apply"

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
        """Apply a WorkspaceEdit (from applyEdit, a rename, a resolved code action): open
        documents change in the editor (a didChange each), other files on disk, as editors do."""
        per_doc: dict[str, list] = {}
        for dc in edit.document_changes or []:
            per_doc.setdefault(dc.text_document.uri, []).extend(dc.edits)
        for uri, edits in (edit.changes or {}).items():
            per_doc.setdefault(uri, []).extend(edits)
        for uri, edits in per_doc.items():
            if uri in self.docs:
                self.replace(uri, apply_edits(self.docs[uri], edits, self.enc))
            else:
                path = Path(unquote(urlparse(uri).path))
                path.write_bytes(apply_edits(path.read_bytes().decode("utf-8"), edits, self.enc).encode("utf-8"))

    def _send(self, uri: str, change) -> None:
        self.versions[uri] += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]), content_changes=[change]
            )
        )

    def replace(self, uri: str, text: str) -> None:
        """Replace the whole text (a full-sync didChange)."""
        self.docs[uri] = text
        self._send(uri, types.TextDocumentContentChangeWholeDocument(text=text))

    def type_at(self, uri: str, rng: types.Range, text: str) -> None:
        """An incremental change of ``rng`` (in ``enc`` positions), as editors send on typing."""
        old = self.docs[uri]
        s, e = to_offset(old, rng.start, self.enc), to_offset(old, rng.end, self.enc)
        self.docs[uri] = old[:s] + text + old[e:]
        self._send(uri, types.TextDocumentContentChangePartial(range=rng, text=text))

    def edit(self, uri: str, start: int, end: int, text: str) -> None:
        """An incremental change of code points ``[start, end)``."""
        old = self.docs[uri]
        self.type_at(uri, types.Range(to_position(old, start, self.enc), to_position(old, end, self.enc)), text)

    def command_future(self, name: str, *args) -> asyncio.Future:
        """Send ``workspace/executeCommand`` now (before anything sent after this call)."""
        return self.client.protocol.send_request_async(
            types.WORKSPACE_EXECUTE_COMMAND, types.ExecuteCommandParams(command=name, arguments=list(args))
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
