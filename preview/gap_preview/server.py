"""``PreviewServer``: the preview in a background thread, with a thread-safe API.

Used by the language server (one per process, started on first need) and by the
``gap-preview`` command. See docs/preview.md.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import threading
import time
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, Iterable
from urllib.parse import urlencode

import uvicorn

from .hub import Hub

log = logging.getLogger("gap_preview")

#: ``token_source(prompt, model, max_tokens)`` → async iterator of text tokens
TokenSource = Callable[[str, "str | None", "int | None"], "AsyncIterator[str] | Awaitable[AsyncIterator[str]]"]
#: ``on_reveal(key, uri, offset, target_id)`` — called on the server thread
RevealCallback = Callable[[str, str, int, str], None]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class PreviewServer:
    """A live preview server (HTTP + GAP-SSE + WebSocket) running on its own thread and loop.

    Args:
        host: interface to bind; loopback (``127.0.0.1``) by default. A non-loopback host is
            refused unless ``allow_remote`` is true (security checklist item 1).
        port: TCP port, ``0`` for a free one.
        roots: directories whose files the artifact may embed (relative URLs of a document
            that lies under a root resolve there); nothing outside them is ever served.
        allow_remote: accept non-loopback binds and any ``Host`` header (the token and Origin
            checks still apply).
        token_source: optional ``async (prompt, model, max_tokens) -> AsyncIterator[str]`` for
            ``POST /generate`` and ``GET /chat/stream`` (they answer 503 without one).
        heartbeat: seconds of idle before a ``gap:heartbeat`` (GAP-SSE §6: 15).
        retry_ms: the SSE ``retry:`` sent on the first event (GAP-SSE §3: 3000; ≥ 1000 advised).

    Attributes (after :meth:`start`): ``base_url``, ``port``, ``token`` (the per-session
    secret, 256 bits, URL-safe), ``on_reveal`` (set it to receive click-to-source).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        roots: Iterable[str | Path] = (),
        allow_remote: bool = False,
        *,
        token_source: TokenSource | None = None,
        heartbeat: float = 15.0,
        retry_ms: int = 3000,
    ):
        if not allow_remote and not _is_loopback(host):
            raise ValueError(f"refusing to bind {host!r}: not a loopback address (pass allow_remote=True)")
        self.host = host
        self.port = port
        self.allow_remote = allow_remote
        self.roots: list[Path] = [Path(r).resolve() for r in roots]
        self.token = secrets.token_urlsafe(32)
        self.files_token = secrets.token_urlsafe(24)
        self.token_source = token_source
        self.hub = Hub(heartbeat=heartbeat, retry_ms=retry_ms)
        self._thread: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None

    # -- click-to-source -----------------------------------------------------------------
    @property
    def on_reveal(self) -> RevealCallback | None:
        return self.hub.on_reveal

    @on_reveal.setter
    def on_reveal(self, cb: RevealCallback | None) -> None:
        self.hub.on_reveal = cb

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> "PreviewServer":
        """Start uvicorn on a background thread; return once it listens (raises on failure)."""
        if self._thread is not None:
            return self
        from .app import build_app

        config = uvicorn.Config(
            build_app(self),
            host=self.host,
            port=self.port,
            ws="websockets-sansio",
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
            server_header=False,
        )
        server = uvicorn.Server(config)
        self._server = server

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self.hub.attach(loop)
                loop.run_until_complete(server.serve())
            except BaseException as e:  # reported by start()
                self._error = e
            finally:
                try:
                    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                    for t in pending:
                        t.cancel()
                    if pending:
                        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                finally:
                    loop.close()

        self._thread = threading.Thread(target=run, name="gap-preview", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                err = self._error
                self._thread = None
                raise RuntimeError(f"preview server failed to start on {self.host}:{self.port}") from err
            time.sleep(0.01)
        sock = server.servers[0].sockets[0]
        self.port = sock.getsockname()[1]
        return self

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (``[::1]`` for an IPv6 bind)."""
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        elif ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def url_for(self, key: str | None = None, *, transport: str | None = None) -> str:
        """The page URL for one document (token included; the page drops it from the address
        bar). Without ``key``: the document picker."""
        q = {}
        if key is not None:
            q["doc"] = key
        if transport:
            q["transport"] = transport
        q["token"] = self.token
        return f"{self.base_url}/?{urlencode(q)}"

    def stop(self, timeout: float = 5.0) -> None:
        """End every stream, stop uvicorn and join the thread."""
        server, loop, thread = self._server, self._loop, self._thread
        if thread is None or server is None:
            return
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self.hub.shutdown)
            except RuntimeError:
                pass
        server.should_exit = True
        if threading.current_thread() is thread:  # called from a callback on the server thread
            return
        thread.join(timeout)
        if thread.is_alive():  # pragma: no cover - streams that would not end
            server.force_exit = True
            thread.join(timeout)
        self._thread = None

    def __enter__(self) -> "PreviewServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- documents (thread-safe, non-blocking) ----------------------------------------------
    def publish(self, key: str, *, uri: str, version: int, text: str, format: str) -> None:
        """Make ``text`` (MIME type ``format``, LSP ``version``) the current state of document
        ``key``. Cheap: records the request and wakes the server thread; a burst of publishes
        coalesces to the latest one, which is never dropped."""
        self.hub.submit_publish(key, uri, version, text, format)

    def set_cursor(self, key: str, offset: int | None) -> None:
        """The editor cursor is at ``offset`` (a Python str index into the last published text);
        viewers outline the innermost target there. ``None`` clears the outline."""
        self.hub.submit_cursor(key, offset)

    def set_status(self, key: str, text: str | None) -> None:
        """Show one line of ``text`` in the bar of the pages viewing ``key`` (None clears it) —
        e.g. what the last model edit cost against a full regeneration. Thread-safe; carried
        to viewers as a ``preview:status`` event ``{"text", "artifact_id"}``."""
        self.hub.submit_status(key, text)

    def close_document(self, key: str) -> None:
        """The document closed: viewers receive ``gap:complete`` (reason ``closed``)."""
        self.hub.submit_close(key, "closed")

    def call(self, fn: Callable, *args) -> "asyncio.Future":
        """Run ``fn(*args)`` on the server loop (tests)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(_call(fn, *args), self._loop)


async def _call(fn, *args):
    r = fn(*args)
    if asyncio.iscoroutine(r):
        r = await r
    return r
