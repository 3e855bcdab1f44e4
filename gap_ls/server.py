"""The language server: a thin shell that owns the documents and wires feature modules in.

Each feature module exposes ``register(ls: GapLanguageServer) -> None`` and is listed in
:data:`FEATURES`; a module that fails to import or register is logged and skipped, so one
feature's failure never takes the server down.

Feature modules and the LSP methods they implement:

- ``symbols`` — textDocument/documentSymbol (targets, JSON Pointers, envelopes; raw JSON)
- ``workspace_symbols`` — workspace/symbol (open + workspace artifacts, progress, cancel)
- ``diagnostics`` — textDocument/publishDiagnostics (markers, ids, JSON markers, overlaps)
- ``envelopes`` — envelope validation diagnostics, textDocument/definition
- ``completion`` — textDocument/completion in envelopes
- ``codelens`` — textDocument/codeLens, command ``gap.previewEnvelope``
- ``edits`` — command ``gap.applyEnvelope`` (rebase, change annotations)
- ``actions`` — textDocument/codeAction, codeAction/resolve (the hub), "Apply GAP edit"
- ``wrap`` — Wrap / Unwrap / Strip (``gap.stripMarkers``)
- ``addtargets`` — Add targets (tree-sitter; ``gap.addTargets``)
- ``rename`` — textDocument/prepareRename, rename, references
- ``navigation`` — textDocument/foldingRange, selectionRange, documentHighlight
- ``hover`` — textDocument/hover
- ``preview`` — the live preview bridge (``gap.previewUrl``)
- ``settings`` — workspace/configuration, didChangeConfiguration
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
from typing import Any, Callable

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from . import __version__
from .documents import Document, DocumentStore
from .settings import Settings

log = logging.getLogger("gap_ls")

#: Feature modules, registered in this order.
FEATURES = (
    "gap_ls.symbols",
    "gap_ls.diagnostics",
    "gap_ls.edits",
    "gap_ls.actions",
    "gap_ls.wrap",
    "gap_ls.rename",
    "gap_ls.navigation",
    "gap_ls.hover",
    "gap_ls.envelopes",
    "gap_ls.completion",
    "gap_ls.codelens",
    "gap_ls.addtargets",
    "gap_ls.workspace_symbols",
    "gap_ls.llm.commands",
    "gap_ls.preview",
    "gap_ls.settings",
)

DocListener = Callable[["GapLanguageServer", Document, str], Any]


class RawJSON:
    """A request result already serialised as JSON text: sent as is, bypassing pygls'
    converter (the fast path for big answers such as 10,000 document symbols). ``text`` must
    be valid JSON and ASCII-only (``json.dumps`` default) or is encoded as UTF-8."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class GapProtocol(LanguageServerProtocol):
    """pygls' protocol with text synchronisation routed to our :class:`DocumentStore`
    (LSP 3.17 §textDocument/didOpen, didChange, didClose), and :class:`RawJSON` results
    written without re-serialisation."""

    def _send_response(self, msg_id, result=None, error=None):
        if error is None and isinstance(result, RawJSON):
            self._result_types.pop(msg_id, None)
            body = ('{"jsonrpc":"2.0","id":%s,"result":%s}' % (json.dumps(msg_id), result.text)).encode("utf-8")
            log.debug("Sending raw result for %s: %d bytes", msg_id, len(body))
            if self.writer is None:
                log.error("Unable to send data, no available transport!")
                return
            header = (
                f"Content-Length: {len(body)}\r\n"
                f"Content-Type: {self.CONTENT_TYPE}; charset={self.CHARSET}\r\n\r\n"
            ).encode("ascii")
            res = self.writer.write(header + body if self._include_headers else body)
            if asyncio.iscoroutine(res) or isinstance(res, asyncio.Future):
                asyncio.ensure_future(res)
            return
        return super()._send_response(msg_id, result, error)

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams):
        ls: GapLanguageServer = self._server  # type: ignore[assignment]
        ls.documents.encoding = ls.position_encoding()
        doc = ls.documents.open(params.text_document)
        ls.notify_document(doc, "open")
        if (h := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield h, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams):
        ls: GapLanguageServer = self._server  # type: ignore[assignment]
        doc = ls.documents.get(params.text_document.uri)
        if doc is not None:
            doc.remember()
            if log.isEnabledFor(logging.DEBUG):
                log.debug("didChange v%s %s", params.text_document.version, params.content_changes)
            for change in params.content_changes:
                doc.apply_change(change)
            doc.version = params.text_document.version
            ls.notify_document(doc, "change")
        if (h := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield h, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams):
        ls: GapLanguageServer = self._server  # type: ignore[assignment]
        doc = ls.documents.close(params.text_document.uri)
        if doc is not None:
            ls.notify_document(doc, "close")
        if (h := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield h, (params,), None


class GapLanguageServer(LanguageServer):
    """The gap-ls server.

    Attributes:
        documents: the open documents (:class:`gap_ls.documents.DocumentStore`).
        settings: the current :class:`gap_ls.settings.Settings`.
        listeners: callables ``f(ls, doc, event)`` run after every open/change/close
            (``event`` is ``"open"``, ``"change"`` or ``"close"``); diagnostics and the
            preview subscribe here.
    """

    def __init__(self) -> None:
        super().__init__("gap-ls", __version__, protocol_cls=GapProtocol)
        self.documents = DocumentStore()
        self.settings = Settings.from_env()
        self.listeners: list[DocListener] = []
        self.tasks: set[asyncio.Task] = set()
        self.preview = None  # set by gap_ls.preview

    def position_encoding(self) -> str:
        """The negotiated position encoding: ``"utf-16"`` (default), ``"utf-8"`` or ``"utf-32"``."""
        try:
            enc = self.server_capabilities.position_encoding
        except Exception:
            enc = None
        return str(enc.value if hasattr(enc, "value") else enc or "utf-16")

    def notify_document(self, doc: Document, event: str) -> None:
        for fn in list(self.listeners):
            try:
                fn(self, doc, event)
            except Exception:  # one listener's failure must not break the others
                log.exception("document listener %r failed on %s", fn, event)

    def spawn(self, coro) -> asyncio.Task:
        """Run ``coro`` in the background, keep a reference, log its failure."""
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)

        def _done(t: asyncio.Task) -> None:
            self.tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background task failed", exc_info=t.exception())

        task.add_done_callback(_done)
        return task

    def show(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        """``window/showMessage`` (LSP 3.17 §window_showMessage)."""
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))


def create_server() -> GapLanguageServer:
    """A server with every feature module in :data:`FEATURES` registered."""
    ls = GapLanguageServer()
    for name in FEATURES:
        try:
            importlib.import_module(name).register(ls)
        except Exception:
            log.exception("feature module %s failed to register; continuing without it", name)
    return ls
