"""The Starlette application: routes of one preview server (see docs/preview.md for the API).

``GET /`` shell · ``GET /documents`` · ``GET /events`` GAP-SSE · ``WS /ws`` the same stream ·
``GET /content`` · ``POST /done`` · ``POST /reveal`` · ``GET /frame`` and ``GET /f/…`` (frame
bootstrap and files under the roots) · ``POST /generate`` · ``GET /chat/stream``.
Every route sits behind :class:`gap_preview.security.Guard`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlparse
from urllib.request import url2pathname

import anyio
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .hub import Doc, Hub
from .pages import FRAME_CSP, SHELL_CSP, frame_page, shell_page, unauthorized_page
from .security import Guard, presented_token, token_equal

if TYPE_CHECKING:  # pragma: no cover
    from .server import PreviewServer

log = logging.getLogger("gap_preview")

FRAME_NAME = ".gap-frame.html"
SSE_HEADERS = {"Cache-Control": "no-cache"}


def _title(doc: Doc) -> str:
    if doc.uri:
        p = urlparse(doc.uri)
        name = unquote(PurePosixPath(p.path).name) if p.path else ""
        if name:
            return name
        return doc.uri
    return doc.key


def build_app(srv: "PreviewServer") -> Guard:
    hub: Hub = srv.hub

    def frame_url(doc: Doc) -> str:
        """The frame for a document: under its directory when that lies in a root (so relative
        URLs in the artifact resolve to files under that root), else the bare bootstrap."""
        if doc.uri.startswith("file:"):
            try:
                path = Path(url2pathname(urlparse(doc.uri).path)).resolve()
            except (OSError, ValueError):
                return "/frame"
            for i, root in enumerate(srv.roots):
                if path.is_relative_to(root):
                    rel = path.parent.relative_to(root).as_posix()
                    if any(part.startswith(".") for part in PurePosixPath(rel).parts):
                        return "/frame"
                    prefix = f"/f/{srv.files_token}/{i}/"
                    return prefix + (quote(rel) + "/" if rel not in ("", ".") else "") + FRAME_NAME
        return "/frame"

    def doc_info(doc: Doc) -> dict:
        return {
            "key": doc.key,
            "uri": doc.uri,
            "format": doc.format,
            "version": doc.version,
            "title": _title(doc),
            "frame": frame_url(doc),
        }

    def find_doc(request, *, live_default: bool = True) -> Doc | None:
        key = request.query_params.get("doc")
        if key is None:
            live = hub.live_docs()
            return live[0] if live_default and len(live) == 1 else None
        return hub.docs.get(key)

    # -- pages ---------------------------------------------------------------------------
    async def shell(request: Request) -> Response:
        nonce = secrets.token_urlsafe(18)
        csp = SHELL_CSP.format(n=nonce)
        if not token_equal(presented_token(request.scope, request.headers), srv.token):
            return HTMLResponse(unauthorized_page(nonce), status_code=401, headers={"Content-Security-Policy": csp})
        docs = [doc_info(d) for d in hub.live_docs()]
        config = {
            "token": srv.token,
            "doc": request.query_params.get("doc"),
            "docs": docs,
            "frames": {d["key"]: d["frame"] for d in docs},
            "transport": "ws" if request.query_params.get("transport") == "ws" else "sse",
            "retry": hub.retry_ms,
        }
        if config["doc"] is not None and config["doc"] in hub.docs:
            config["frames"][config["doc"]] = frame_url(hub.docs[config["doc"]])
        return HTMLResponse(shell_page(nonce, config), headers={"Content-Security-Policy": csp})

    async def frame(request: Request) -> Response:
        return HTMLResponse(frame_page(), headers={"Content-Security-Policy": FRAME_CSP})

    async def files(request: Request) -> Response:
        """``/f/{files_token}/{root}/{path}``: the frame bootstrap or a file under a root.

        Confined by resolved path (``Path.resolve`` then ``is_relative_to`` on path segments,
        so symlinks and ``..`` cannot leave the root, and ``/root-other`` is not under
        ``/root``); dot-files and dot-directories are never served, named or reached through a
        symlink.
        """
        ft = request.path_params["ftoken"]
        if not hmac.compare_digest(ft.encode(), srv.files_token.encode()):
            return PlainTextResponse("not found", status_code=404)
        ri = request.path_params["ri"]
        rest = request.path_params["rest"]
        parts = rest.split("/") if rest else []
        if ri < 0 or ri >= len(srv.roots) or any(
            (not p) or p.startswith(".") or "\\" in p or "\x00" in p for p in parts[:-1]
        ):
            return PlainTextResponse("not found", status_code=404)
        if parts and parts[-1] == FRAME_NAME:
            # the frame bootstrap is the shell's to embed (same origin); another page (another
            # local port, a site that learnt the capability from an artifact) gets nothing
            if request.headers.get("sec-fetch-site", "same-origin") != "same-origin":
                return PlainTextResponse("forbidden", status_code=403)
            return HTMLResponse(frame_page(), headers={"Content-Security-Policy": FRAME_CSP})
        if not parts or (not parts[-1]) or parts[-1].startswith(".") or "\\" in parts[-1] or "\x00" in parts[-1]:
            return PlainTextResponse("not found", status_code=404)
        root = srv.roots[ri]
        try:
            target = root.joinpath(*parts).resolve()
        except (OSError, ValueError):
            return PlainTextResponse("not found", status_code=404)
        if not target.is_relative_to(root) or not target.is_file():
            return PlainTextResponse("not found", status_code=404)
        if any(p.startswith(".") for p in target.relative_to(root).parts):
            return PlainTextResponse("not found", status_code=404)  # a symlink to a dot-file
        return FileResponse(target, headers={"Content-Security-Policy": "sandbox", "Cache-Control": "no-cache"})

    # -- data ----------------------------------------------------------------------------
    async def documents(request: Request) -> Response:
        return JSONResponse([doc_info(d) for d in hub.live_docs()])

    async def content(request: Request) -> Response:
        doc = find_doc(request)
        if doc is None:
            return PlainTextResponse("unknown document (pass ?doc=KEY)", status_code=404)
        return PlainTextResponse(doc.text, headers={"X-Gap-Version": str(doc.version)})

    async def events(request: Request) -> Response:
        """GAP-SSE stream of one document (``?doc=KEY``; ``Last-Event-ID`` header or
        ``last_event_id`` query parameter to resume; ``splice=1``: synthesize envelopes of a
        change outside targets as ``preview:splice``, see :meth:`Hub.stream`)."""
        doc = find_doc(request)
        if doc is None:
            return PlainTextResponse("unknown document", status_code=404)
        last = request.headers.get("last-event-id") or request.query_params.get("last_event_id") or None
        splice = request.query_params.get("splice") == "1"

        async def gen():
            first = True
            async for item in hub.stream(doc, last, splice=splice):
                if first:  # GAP-SSE §3: retry on the first event
                    first = False
                    yield f"retry: {hub.retry_ms}\n".encode() + item.sse()
                else:
                    yield item.sse()

        return EventSourceResponse(gen(), ping=0, headers=SSE_HEADERS)

    async def ws_endpoint(websocket: WebSocket) -> None:
        """The same stream over WebSocket: text frames ``{"event", "id"?, "data"}``; the first
        frame is ``{"retry": 3000}``; resume with ``?last_event_id=N``."""
        key = websocket.query_params.get("doc")
        doc = hub.docs.get(key) if key is not None else None
        if doc is None and key is None:
            live = hub.live_docs()
            doc = live[0] if len(live) == 1 else None
        if doc is None:
            await websocket.close(code=1008)
            return
        await websocket.accept()
        last = websocket.query_params.get("last_event_id") or None
        splice = websocket.query_params.get("splice") == "1"

        async def sender():
            await websocket.send_text(json.dumps({"retry": hub.retry_ms}))
            agen = hub.stream(doc, last, splice=splice)
            try:
                async for item in agen:
                    await websocket.send_text(item.ws())
                    if item.event == "gap:complete":
                        break
            finally:
                await agen.aclose()
            await websocket.close(code=1000)

        async def receiver():
            try:
                while True:
                    msg = await websocket.receive()
                    if msg["type"] == "websocket.disconnect":
                        return
            except (WebSocketDisconnect, RuntimeError):
                return

        tasks = [asyncio.ensure_future(sender()), asyncio.ensure_future(receiver())]
        try:
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                if not t.done():
                    t.cancel()
            for t in tasks:
                try:
                    await t
                except (asyncio.CancelledError, Exception):
                    pass

    async def done(request: Request) -> Response:
        """Close the viewers (``gap:complete`` with reason ``done``; the tab closes itself when
        the browser lets it): of ``?doc=KEY``, or of every document."""
        key = request.query_params.get("doc")
        if key is not None:
            if key not in hub.docs:
                return JSONResponse({"ok": False, "error": "unknown document"}, status_code=404)
            hub._close(key, "done")
        else:
            hub.close_all("done")
        return JSONResponse({"ok": True})

    async def reveal(request: Request) -> Response:
        """Click-to-source: ``{"doc": KEY, "target": ID}`` → ``on_reveal(key, uri, offset, id)``."""
        try:
            body = await request.json()
        except Exception:
            return JSONResponse({"ok": False, "error": "invalid JSON"}, status_code=400)
        if not isinstance(body, dict) or not isinstance(body.get("doc"), str) or not isinstance(body.get("target"), str):
            return JSONResponse({"ok": False, "error": "expected {doc, target}"}, status_code=400)
        key, target = body["doc"], body["target"]
        found = hub.source_offset(key, target)
        if found is None:
            return JSONResponse({"ok": False, "error": "unknown document or target"}, status_code=404)
        uri, offset = found
        cb = srv.on_reveal
        if cb is not None:
            try:
                cb(key, uri, offset, target)
            except Exception:
                log.exception("preview: on_reveal callback failed")
        return JSONResponse({"ok": True, "uri": uri, "offset": offset, "target": target})

    # -- token streaming (seeds 001/002) -------------------------------------------------------
    async def _open_source(prompt: str, model, max_tokens):
        it = srv.token_source(prompt, model, max_tokens)
        if asyncio.iscoroutine(it):
            it = await it
        return it

    async def _aclose(it) -> None:
        close = getattr(it, "aclose", None)
        if close is not None:
            with anyio.CancelScope(shield=True):
                try:
                    await close()
                except Exception:
                    log.exception("preview: closing the token source failed")

    async def generate(request: Request) -> Response:
        """``POST /generate {"prompt", "model"?, "params": {"max_tokens"?}}`` → SSE ``data:``
        ``{"token", "index"}`` per token, then ``{"done": true, "total_tokens"}`` or
        ``{"error"}``. 503 without a token source. A client disconnect closes the source."""
        if srv.token_source is None:
            return JSONResponse({"error": "no token source configured"}, status_code=503)
        try:
            body = await request.json()
        except Exception:
            return JSONResponse({"error": "invalid JSON"}, status_code=400)
        if not isinstance(body, dict) or not isinstance(body.get("prompt"), str):
            return JSONResponse({"error": "expected {\"prompt\": string}"}, status_code=400)
        model = body.get("model") if isinstance(body.get("model"), str) else None
        params = body.get("params") if isinstance(body.get("params"), dict) else {}
        mt = params.get("max_tokens")
        max_tokens = mt if isinstance(mt, int) and not isinstance(mt, bool) and mt > 0 else None
        prompt = body["prompt"]

        async def gen():
            it = None
            n = 0
            try:
                it = await _open_source(prompt, model, max_tokens)
                async for tok in it:
                    if max_tokens is not None and n >= max_tokens:
                        break
                    yield {"data": json.dumps({"token": str(tok), "index": n}, ensure_ascii=False)}
                    n += 1
                yield {"data": json.dumps({"done": True, "total_tokens": n})}
            except Exception as e:  # the source failed: tell the client, end the stream
                log.warning("preview: token source failed: %s", e)
                yield {"data": json.dumps({"error": str(e) or type(e).__name__})}
            finally:
                if it is not None:
                    await _aclose(it)

        return EventSourceResponse(gen(), ping=0, headers=SSE_HEADERS, sep="\n")

    async def chat_stream(request: Request) -> Response:
        """``GET /chat/stream?prompt=…[&model=…][&max_tokens=N]`` → ``event: token`` per token,
        ``event: done`` / ``data: [DONE]``, or ``event: error``. 503 without a token source."""
        if srv.token_source is None:
            return JSONResponse({"error": "no token source configured"}, status_code=503)
        prompt = request.query_params.get("prompt")
        if prompt is None:
            return JSONResponse({"error": "missing prompt"}, status_code=400)
        model = request.query_params.get("model")
        try:
            max_tokens = int(request.query_params.get("max_tokens", "0")) or None
        except ValueError:
            max_tokens = None

        async def gen():
            it = None
            n = 0
            try:
                it = await _open_source(prompt, model, max_tokens)
                async for tok in it:
                    if max_tokens is not None and n >= max_tokens:
                        break
                    yield {"event": "token", "data": str(tok)}
                    n += 1
                yield {"event": "done", "data": "[DONE]"}
            except Exception as e:
                log.warning("preview: token source failed: %s", e)
                yield {"event": "error", "data": str(e) or type(e).__name__}
            finally:
                if it is not None:
                    await _aclose(it)

        return EventSourceResponse(gen(), ping=0, headers=SSE_HEADERS, sep="\n")

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    routes = [
        Route("/", shell, methods=["GET"]),
        Route("/favicon.ico", favicon, methods=["GET"]),
        Route("/frame", frame, methods=["GET"]),
        Route("/f/{ftoken}/{ri:int}/{rest:path}", files, methods=["GET"]),
        Route("/documents", documents, methods=["GET"]),
        Route("/content", content, methods=["GET"]),
        Route("/events", events, methods=["GET"]),
        WebSocketRoute("/ws", ws_endpoint),
        Route("/done", done, methods=["POST"]),
        Route("/reveal", reveal, methods=["POST"]),
        Route("/generate", generate, methods=["POST"]),
        Route("/chat/stream", chat_stream, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    return Guard(app, token=srv.token, allow_remote=srv.allow_remote)
