"""The localhost-preview security checklist as one ASGI middleware (see docs/preview.md).

Every HTTP request and WebSocket upgrade passes :class:`Guard` before any route runs:

1. ``Host`` must be exactly ``127.0.0.1:P``, ``localhost:P`` or ``[::1]:P`` for the port the
   request arrived on (DNS rebinding). With ``allow_remote`` any host name is accepted.
2. ``Origin``, when present, must equal ``http://<Host>`` exactly; ``Origin: null`` (sandboxed
   frames, file: pages) and every other origin are refused — except a no-cors embed
   (``Sec-Fetch-Mode: no-cors``) of a ``/f/`` file by the sandboxed frame, whose bytes the
   frame cannot read. No CORS headers are ever sent.
3. ``Sec-Fetch-Site: cross-site``/``same-site`` is refused (except artifact sub-resources
   under ``/f/``, which the sandboxed frame loads and which need no Origin to be embedded).
4. The session token (query ``token``, header ``X-Gap-Token`` or ``Authorization: Bearer``)
   is required on every path except the frame bootstrap and ``/f/`` files (those carry their
   own capability) and ``/`` (which answers 401 itself); compared with
   :func:`hmac.compare_digest`.
5. Every response gets ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``,
   ``Cross-Origin-Resource-Policy`` and ``X-Frame-Options`` (except the frame).
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

#: paths reachable without the session token (they check their own capability or hold nothing)
PUBLIC_PREFIXES = ("/f/",)
PUBLIC_PATHS = {"/", "/frame", "/favicon.ico"}


def token_equal(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented token with the session token."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


def presented_token(scope: Scope, headers: Headers) -> str | None:
    h = headers.get("x-gap-token")
    if h:
        return h
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    qs = scope.get("query_string", b"")
    if qs and b"token=" in qs:
        vals = parse_qs(qs.decode("latin-1"), keep_blank_values=True).get("token")
        if vals:
            return vals[-1]
    return None


def allowed_hosts(port: int) -> set[str]:
    return {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}


class Guard:
    """ASGI middleware enforcing Host, Origin, Sec-Fetch-Site and the session token."""

    def __init__(self, app: ASGIApp, *, token: str, allow_remote: bool = False):
        self.app = app
        self.token = token
        self.allow_remote = allow_remote

    async def _deny(self, scope: Scope, receive: Receive, send: Send, status: int, why: str) -> None:
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008, "reason": why})
            return
        body = (why + "\n").encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = (headers.get("host") or "").lower()
        server = scope.get("server")
        port = server[1] if server else None
        if not host or (not self.allow_remote and (port is None or host not in allowed_hosts(port))):
            await self._deny(scope, receive, send, 403, "forbidden host")
            return
        path = scope.get("path", "")
        public_file = path.startswith(PUBLIC_PREFIXES)
        origin = headers.get("origin")
        if origin is not None and origin.lower() != f"http://{host}":
            # The one exception: the sandboxed frame (an opaque origin, so "Origin: null")
            # embedding a file under a root as an image/style/script — a no-cors load whose
            # bytes the artifact cannot read. fetch()/XHR (mode "cors") stay refused.
            embed = origin == "null" and headers.get("sec-fetch-mode") in ("no-cors", "navigate")
            if not (public_file and embed):
                await self._deny(scope, receive, send, 403, "forbidden origin")
                return
        site = headers.get("sec-fetch-site")
        # an editor's webview (VS Code, code-server) framing the shell: a navigation into an
        # iframe that carries the session token; the shell then talks to its own origin only
        embedded = (path == "/" and headers.get("sec-fetch-dest") == "iframe"
                    and headers.get("sec-fetch-mode") == "navigate"
                    and token_equal(presented_token(scope, headers), self.token))
        if site in ("cross-site", "same-site") and not public_file and not embedded:
            await self._deny(scope, receive, send, 403, "forbidden cross-site request")
            return
        if not public_file and path not in PUBLIC_PATHS:
            if not token_equal(presented_token(scope, headers), self.token):
                await self._deny(scope, receive, send, 401, "missing or wrong token")
                return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        framed = path == "/frame" or public_file or embedded

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                hs = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _STRIP]
                hs.append((b"x-content-type-options", b"nosniff"))
                hs.append((b"referrer-policy", b"no-referrer"))
                if not any(k.lower() == b"cache-control" for k, _ in hs):
                    hs.append((b"cache-control", b"no-store"))
                if not framed:
                    hs.append((b"x-frame-options", b"DENY"))
                    hs.append((b"cross-origin-resource-policy", b"same-origin"))
                message = {**message, "headers": hs}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# never let a permissive CORS header out, whatever a route does
_STRIP = {
    b"access-control-allow-origin",
    b"access-control-allow-credentials",
    b"access-control-allow-methods",
    b"access-control-allow-headers",
    b"x-content-type-options",
    b"referrer-policy",
}
