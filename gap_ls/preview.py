"""The bridge from the language server to the live preview (``gap_preview``).

The preview server starts on first need (command ``gap.previewUrl``), bound to 127.0.0.1 on
a free port (``gap.preview.port``) with a per-session token. From then on every open/change
of a document is published to it; clicking an element in the page moves the editor to the
innermost target containing it (``window/showDocument`` with a selection).

Command ``gap.previewUrl`` ``[uri]`` → the URL of that document's preview page.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from lsprotocol import types

from .documents import Document, uri_to_path

log = logging.getLogger("gap_ls.preview")


def doc_key(uri: str) -> str:
    """A stable, opaque key for a document (not a raw path): 16 hex digits of SHA-256."""
    return hashlib.sha256(uri.encode("utf-8")).hexdigest()[:16]


class PreviewBridge:
    """Owns the preview server of one language-server process."""

    def __init__(self, ls) -> None:
        self.ls = ls
        self.server = None
        self.loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> bool:
        return self.server is not None

    def ensure(self):
        """Start the preview server if it is not running; returns it."""
        if self.server is not None:
            return self.server
        from gap_preview import PreviewServer

        roots = []
        for folder in (self.ls.workspace.folders or {}).values() if self._has_workspace() else ():
            p = uri_to_path(folder.uri)
            if p is not None:
                roots.append(str(p))
        if self._has_workspace() and self.ls.workspace.root_path and not roots:
            roots.append(self.ls.workspace.root_path)
        self.loop = asyncio.get_running_loop()
        try:  # the seed streaming endpoints (/generate, /chat/stream) answer from the model
            from .llm.stream import token_source_for

            token_source = token_source_for(self.ls)
        except Exception:  # without the LLM feature they answer 503
            log.exception("no token source for the preview's streaming endpoints")
            token_source = None
        srv = PreviewServer(host="127.0.0.1", port=self.ls.settings.preview_port, roots=roots, token_source=token_source)
        srv.on_reveal = self._on_reveal
        srv.start()
        self.server = srv
        log.info("preview at %s", srv.base_url)
        for doc in self.ls.documents:
            self.publish(doc)
        return srv

    def _has_workspace(self) -> bool:
        try:
            self.ls.workspace
            return True
        except RuntimeError:
            return False

    def publish(self, doc: Document) -> None:
        if self.server is not None:
            self.server.publish(doc_key(doc.uri), uri=doc.uri, version=doc.version or 0, text=doc.text, format=doc.format)

    def set_cursor(self, doc: Document, offset: int | None) -> None:
        """Tell the page where the editor's cursor is (code-point offset into ``doc.text``):
        the innermost target there is outlined (and followed, when the page follows)."""
        if self.server is not None:
            self.server.set_cursor(doc_key(doc.uri), offset)

    def url_for(self, doc_or_uri) -> str:
        uri = doc_or_uri if isinstance(doc_or_uri, str) else doc_or_uri.uri
        return self.ensure().url_for(doc_key(uri))

    def _on_reveal(self, key, uri, offset, target_id) -> None:
        """Called from the preview thread when a user clicks an element in the page."""
        if self.loop is None:
            return
        self.loop.call_soon_threadsafe(lambda: self.ls.spawn(self._reveal(uri, offset, target_id)))

    async def _reveal(self, uri, offset, target_id) -> None:
        doc = self.ls.documents.get(uri)
        if doc is None:
            return
        span = doc.index.get(target_id) if target_id else None
        if span is None and offset is not None:
            span = doc.index.innermost_at(offset)
        if span is None:
            return
        await self.ls.window_show_document_async(
            types.ShowDocumentParams(uri=uri, take_focus=True, selection=doc.range_at(span.content_start, span.content_end))
        )

    def stop(self) -> None:
        if self.server is not None:
            try:
                self.server.stop()
            finally:
                self.server = None


def register(ls) -> None:
    bridge = PreviewBridge(ls)
    ls.preview = bridge

    def on_document(ls, doc: Document, event: str) -> None:
        if not bridge.running:
            return
        if event == "close":
            bridge.server.close_document(doc_key(doc.uri))
        else:
            bridge.publish(doc)

    ls.listeners.append(on_document)

    @ls.command("gap.previewUrl")
    def _preview_url(ls, uri: str) -> str:
        """``gap.previewUrl [uri]`` → the preview URL of that document (starts the server)."""
        doc = ls.documents.get(uri)
        url = bridge.url_for(uri)
        if doc is not None:
            bridge.publish(doc)
        return url

    @ls.feature(types.SHUTDOWN)
    def _shutdown(ls, *args) -> None:
        bridge.stop()
