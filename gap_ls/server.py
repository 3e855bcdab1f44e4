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
import functools
import importlib
import json
import logging
from typing import Any, Callable

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcParseError,
    JsonRpcServerNotInitialized,
)
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


class _Unreadable:
    """A request or notification whose ``params`` do not have the shape its method needs
    (kept so that :meth:`GapProtocol.handle_message` can answer it instead of dropping it)."""

    __slots__ = ("data", "reason")

    def __init__(self, data: dict, reason: str) -> None:
        self.data = data
        self.reason = reason


def _reason(exc: BaseException) -> str:
    """A short account of why cattrs could not structure a message (its innermost causes)."""
    seen = []
    stack = [exc]
    while stack:
        e = stack.pop()
        subs = getattr(e, "exceptions", None)
        if subs:
            stack.extend(subs)
            continue
        cause = e.__cause__
        if cause is not None and cause is not e and not isinstance(e, (TypeError, ValueError, KeyError)):
            stack.append(cause)
            continue
        note = "; ".join(getattr(e, "__notes__", []) or [])
        text = f"{type(e).__name__}: {e}" + (f" ({note})" if note else "")
        if text not in seen:
            seen.append(text)
    return "; ".join(seen[:3]) or type(exc).__name__


class GapProtocol(LanguageServerProtocol):
    """pygls' protocol with text synchronisation routed to our :class:`DocumentStore`
    (LSP 3.17 §textDocument/didOpen, didChange, didClose), :class:`RawJSON` results written
    without re-serialisation, and the lifecycle and error answers of LSP 3.17 §lifeCycleMessages
    / JSON-RPC 2.0 §5.1 that pygls leaves out:

    - a request before ``initialize`` → error ``ServerNotInitialized`` (-32002); a notification
      before it (other than ``exit``) is dropped; a second ``initialize`` → ``InvalidRequest``;
    - a request after ``shutdown`` → ``InvalidRequest`` (-32600) (pygls sends no answer at all);
    - a request whose params have the wrong shape → ``InvalidParams`` (-32602) naming the method
      (pygls sends no answer and shows an error to the user); such a notification is logged
      and dropped;
    - a message that is not JSON → ``ParseError`` (-32700) with ``id: null``;
    - ``$/cancelRequest`` for a request in :attr:`uncancellable` is ignored;
    - an async command behind ``workspace/executeCommand`` runs as a task of its own behind the
      request's future, which is what ``$/cancelRequest`` cancels: :meth:`command_request`
      gives that future to the command, so it can stop cooperatively (pygls would let the task
      run on), and the task's entry in the pending-request table is dropped when it ends
      (pygls keeps one per command run);
    - a client's answer of the wrong shape (``workspace/applyEdit`` answered with ``null``, or
      with neither ``result`` nor ``error``…) fails the server's request instead of leaving
      its handler waiting forever or handing it None.
    """

    _initialize_seen = False
    #: an ``exit`` notification arrived (the process then ends with :meth:`exit_code`)
    exit_received = False

    def exit_code(self) -> int:
        """The process exit code (LSP 3.17 §exit): 1 when ``exit`` came without a ``shutdown``
        before it, else 0 (also when the client just closed the stream)."""
        return 1 if self.exit_received and not self._shutdown else 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        #: ids of requests past the point where cancelling could take their effect back (an
        #: edit sent to the client): ``$/cancelRequest`` for them is ignored and they answer
        #: with what happened (LSP 3.17 §cancelRequest: a cancelled request may return a result)
        self.uncancellable: set = set()
        #: the request future of each running command task (see :meth:`command_request`)
        self._command_requests: dict = {}

    def command_request(self) -> "asyncio.Future | None":
        """The future of the ``workspace/executeCommand`` request whose command runs in the
        current task, or None (not in a command, or a synchronous one). It is cancelled by
        ``$/cancelRequest`` (LSP 3.17 §cancelRequest) unless the request is in
        :attr:`uncancellable`; a command polls ``.cancelled()`` to stop and tidy up."""
        try:
            task = asyncio.current_task()
        except RuntimeError:
            return None
        return self._command_requests.get(task)

    def _execute_handler(self, msg_id, handler, callback, args=None, kwargs=None):
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        # pygls drives executeCommand as a generator: the command itself is started here under
        # a fresh id, with a callback that carries the request's own future
        request = callback.keywords.get("result_future") if isinstance(callback, functools.partial) else None
        task = self._request_futures.get(msg_id) if request is not None else None
        if not isinstance(task, asyncio.Task):
            return
        if task.done():
            self._request_futures.pop(msg_id, None)
            return
        self._command_requests[task] = request

        def ended(t: asyncio.Task, msg_id=msg_id) -> None:
            self._command_requests.pop(t, None)
            self._request_futures.pop(msg_id, None)

        task.add_done_callback(ended)

    def _handle_cancel_notification(self, msg_id):
        if msg_id in self.uncancellable:
            log.info("cancel for request %r ignored: its edit was already sent to the client", msg_id)
            return
        return super()._handle_cancel_notification(msg_id)

    def send_raw(self, text: str) -> None:
        """Write one JSON-RPC message given as JSON text (framed with its headers)."""
        body = text.encode("utf-8")
        log.debug("Sending raw message: %d bytes", len(body))
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

    def structure_message(self, data):
        if isinstance(data, dict) and "jsonrpc" in data and "id" in data and "method" not in data \
                and "result" not in data and "error" not in data:
            # an answer must carry one of them (JSON-RPC 2.0 §5); pygls would resolve the
            # server's request with None
            return _Unreadable(data, "an answer with neither result nor error")
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if isinstance(data, dict) and "jsonrpc" in data and isinstance(data.get("method"), str):
                return _Unreadable(data, _reason(exc.__cause__ or exc))
            if isinstance(data, dict) and "jsonrpc" in data and "id" in data and ("result" in data or "error" in data):
                return _Unreadable(data, _reason(exc.__cause__ or exc))  # an answer of the wrong shape
            raise

    def _answer_error(self, msg_id, exc: JsonRpcException) -> None:
        self._send_response(msg_id, None, exc.to_response_error())

    def handle_message(self, message):
        ls: GapLanguageServer = self._server  # type: ignore[assignment]
        unreadable = isinstance(message, _Unreadable)
        if unreadable and "method" not in message.data:
            # the client's answer to one of our requests has the wrong shape: fail that request
            # (its awaiting handler would otherwise wait forever)
            fut = self._request_futures.pop(message.data["id"], None)
            log.warning("malformed answer to request %r: %s", message.data["id"], message.reason)
            if fut is not None and not fut.done():
                fut.set_exception(JsonRpcInternalError(f"the client's answer has the wrong shape: {message.reason}"))
            return
        if unreadable:
            method, msg_id = message.data["method"], message.data.get("id")
            if not isinstance(msg_id, (int, str)) or isinstance(msg_id, bool):
                msg_id = None
        else:
            method, msg_id = getattr(message, "method", None), getattr(message, "id", None)
        is_request = method is not None and msg_id is not None
        if method == types.EXIT and not unreadable:
            self.exit_received = True
            return super().handle_message(message)
        if is_request and self._shutdown:
            self._answer_error(msg_id, JsonRpcInvalidRequest(f"{method}: the server is shut down (LSP 3.17 §shutdown)"))
            return
        if method is not None and not self._initialize_seen and method != types.INITIALIZE:
            if is_request:
                self._answer_error(msg_id, JsonRpcServerNotInitialized(f"{method}: the server is not initialized yet"))
            else:
                log.warning("dropped notification %s received before initialize", method)
            return
        if method == types.INITIALIZE and self._initialize_seen and is_request:
            self._answer_error(msg_id, JsonRpcInvalidRequest("initialize may only be sent once"))
            return
        if unreadable:
            if is_request:
                log.warning("invalid params for %s (id %r): %s", method, msg_id, message.reason)
                self._answer_error(msg_id, JsonRpcInvalidParams(f"{method}: invalid params: {message.reason}"))
            else:
                log.warning("dropped notification %s with invalid params: %s", method, message.reason)
            return
        if method == types.INITIALIZE:
            self._initialize_seen = True
            super().handle_message(message)
            ls.documents.encoding = ls.position_encoding()
            return
        return super().handle_message(message)

    def _send_response(self, msg_id, result=None, error=None):
        if error is None and isinstance(result, RawJSON):
            self._result_types.pop(msg_id, None)
            self.send_raw('{"jsonrpc":"2.0","id":%s,"result":%s}' % (json.dumps(msg_id), result.text))
            return
        return super()._send_response(msg_id, result, error)

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(self, params: types.ExecuteCommandParams):
        # ``arguments`` is optional (LSP 3.17 §workspace_executeCommand): absent = none, so that
        # a command missing its arguments answers InvalidParams, not an internal TypeError
        if params.arguments is None:
            params.arguments = []
        return (yield from super().lsp_workspace__execute_command(params))

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
        #: the settings problems last shown to the user (see gap_ls.settings.apply_section)
        self._settings_told: frozenset = frozenset()
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

    def report_server_error(self, error: Exception, source) -> None:
        """Errors outside any request. A message that is not JSON is answered with
        ``ParseError`` and ``id: null`` (JSON-RPC 2.0 §5.1) instead of a message to the user;
        other errors keep pygls' default (``window/showMessage``)."""
        if isinstance(error, json.JSONDecodeError):
            log.warning("unparsable message: %s", error)
            try:
                err = {"code": JsonRpcParseError.CODE, "message": f"Parse error: the message is not JSON ({error})"}
                self.protocol.send_raw(json.dumps({"jsonrpc": "2.0", "id": None, "error": err}))
            except Exception:
                log.exception("could not answer a parse error")
            return
        super().report_server_error(error, source)

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
