"""Each item of the security checklist: try the attack, see it refused."""

from __future__ import annotations

import asyncio
import os
import socket

import httpx
import pytest

from gap_preview import PreviewServer
from gap_preview import security as security_mod

from .conftest import DASHBOARD, run_async, wait_version

KEY = "doc"


@pytest.fixture
def live(srv):
    srv.publish(KEY, uri="file:///w/d.html", version=1, text=DASHBOARD, format="text/html")
    wait_version(srv, KEY, 1)
    return srv


def raw(srv, request: bytes) -> bytes:
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    try:
        s.sendall(request)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        return buf
    finally:
        s.close()


def status(resp: bytes) -> int:
    return int(resp.split(b" ", 2)[1])


# 1. bind ----------------------------------------------------------------------------------------


def test_binds_loopback_by_default(srv):
    assert srv.host == "127.0.0.1"
    sock = srv._server.servers[0].sockets[0]
    assert sock.getsockname()[0] == "127.0.0.1"
    with pytest.raises(ValueError):
        PreviewServer(host="0.0.0.0")
    with pytest.raises(ValueError):
        PreviewServer(host="192.168.1.10")


# 2. Host (DNS rebinding) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["evil.example:{p}", "evil.example", "127.0.0.1:{q}", "127.0.0.1", "localhost.evil.example:{p}", "127.0.0.2:{p}", ""],
)
def test_foreign_host_refused(live, host):
    h = host.format(p=live.port, q=live.port + 1)
    req = f"GET /content?doc={KEY}&token={live.token} HTTP/1.1\r\nHost: {h}\r\nConnection: close\r\n\r\n".encode()
    resp = raw(live, req)
    assert status(resp) in (400, 403)
    assert DASHBOARD.encode()[:40] not in resp


def test_missing_host_refused(live):
    resp = raw(live, f"GET /content?doc={KEY}&token={live.token} HTTP/1.0\r\n\r\n".encode())
    assert status(resp) in (400, 403)


@pytest.mark.parametrize("host", ["127.0.0.1:{p}", "localhost:{p}", "[::1]:{p}", "LOCALHOST:{p}"])
def test_loopback_hosts_accepted(live, host):
    h = host.format(p=live.port)
    resp = raw(live, f"GET /content?doc={KEY}&token={live.token} HTTP/1.1\r\nHost: {h}\r\nConnection: close\r\n\r\n".encode())
    assert status(resp) == 200


# 3. Origin on SSE, WebSocket and every POST; no CORS ---------------------------------------------

BAD_ORIGINS = ["http://evil.example", "null", "http://127.0.0.1:1", "https://127.0.0.1:{p}", "http://localhost:{p}.evil.example"]


@pytest.mark.parametrize("origin", BAD_ORIGINS)
def test_sse_refuses_foreign_origin(live, client, origin):
    r = client.get("/events", params={"doc": KEY, "token": live.token}, headers={"Origin": origin.format(p=live.port)})
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize("path", ["/done", "/reveal", "/generate"])
@pytest.mark.parametrize("origin", ["http://evil.example", "null"])
def test_post_refuses_foreign_origin(live, client, path, origin):
    r = client.post(path, params={"doc": KEY}, json={"doc": KEY, "target": "stats", "prompt": "x"},
                    headers={"Origin": origin, "X-Gap-Token": live.token})
    assert r.status_code == 403
    assert live.hub.docs[KEY].complete is None  # /done had no effect


def test_same_origin_post_accepted(live, client):
    r = client.post("/reveal", json={"doc": KEY, "target": "stats"},
                    headers={"Origin": f"http://127.0.0.1:{live.port}", "X-Gap-Token": live.token})
    assert r.status_code == 200


@pytest.mark.parametrize("origin", ["http://evil.example", "null"])
def test_websocket_refuses_foreign_origin(live, origin):
    run_async(_websocket_refuses_foreign_origin, live, origin)


async def _websocket_refuses_foreign_origin(live, origin):
    import websockets

    url = f"ws://127.0.0.1:{live.port}/ws?doc={KEY}&token={live.token}"
    with pytest.raises(websockets.InvalidStatus) as e:
        async with websockets.connect(url, origin=origin):
            pass
    assert e.value.response.status_code == 403
    async with websockets.connect(url, origin=f"http://127.0.0.1:{live.port}") as ws:  # same origin works
        assert "retry" in await asyncio.wait_for(ws.recv(), 5)


def test_cross_site_fetch_metadata_refused(live, client):
    r = client.get("/content", params={"doc": KEY, "token": live.token}, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403


def test_no_permissive_cors(live, client):
    pre = client.options(
        "/content",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET", "X-Gap-Token": live.token},
    )
    assert pre.status_code in (403, 405) and not any(k.startswith("access-control-") for k in pre.headers)
    r = client.get("/content", params={"doc": KEY, "token": live.token})
    assert not any(k.startswith("access-control-") for k in r.headers)


# 4. token ----------------------------------------------------------------------------------------


def wrong_tokens(t: str):
    return [None, "", t[:-1], t + "x", t.upper() if t.upper() != t else t.lower(), "x" * len(t), t[:16]]


@pytest.mark.parametrize("path", ["/content", "/events", "/documents", "/chat/stream"])
def test_token_required_on_gets(live, client, path):
    for tok in wrong_tokens(live.token):
        params = {"doc": KEY, "prompt": "x"}
        if tok is not None:
            params["token"] = tok
        r = client.get(path, params=params)
        assert r.status_code == 401, (path, tok)
        assert DASHBOARD[:30] not in r.text


@pytest.mark.parametrize("path", ["/done", "/reveal", "/generate"])
def test_token_required_on_posts(live, client, path):
    for tok in wrong_tokens(live.token):
        headers = {} if tok is None else {"X-Gap-Token": tok}
        r = client.post(path, json={"doc": KEY, "target": "stats", "prompt": "x"}, headers=headers)
        assert r.status_code == 401
    assert live.hub.docs[KEY].complete is None


def test_token_required_on_websocket(live):
    run_async(_token_required_on_websocket, live)


async def _token_required_on_websocket(live):
    import websockets

    for tok in wrong_tokens(live.token)[1:]:
        with pytest.raises(websockets.InvalidStatus) as e:
            async with websockets.connect(f"ws://127.0.0.1:{live.port}/ws?doc={KEY}&token={tok}"):
                pass
        assert e.value.response.status_code == 403


def test_shell_without_token_shows_nothing(live, client):
    r = client.get("/", params={"doc": KEY})
    assert r.status_code == 401 and live.token not in r.text and "gap-config" not in r.text
    assert "default-src 'none'" in r.headers["content-security-policy"]


def test_token_is_compared_in_constant_time(live, client, monkeypatch):
    calls = []
    real = security_mod.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(security_mod.hmac, "compare_digest", spy)
    client.get("/content", params={"doc": KEY, "token": "guess"})
    assert calls and calls[-1][1] == live.token.encode()


def test_token_strength(srv):
    import base64

    raw_bytes = base64.urlsafe_b64decode(srv.token + "=" * (-len(srv.token) % 4))
    assert len(raw_bytes) * 8 >= 128
    assert PreviewServer().token != srv.token


def test_security_headers_everywhere(live, client):
    for r in (
        client.get("/content", params={"doc": KEY, "token": live.token}),
        client.get("/content", params={"doc": KEY}),  # 401
        client.get("/", params={"token": live.token}),
        client.get("/frame"),
        client.get("/nope", params={"token": live.token}),
    ):
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert r.headers["referrer-policy"] == "no-referrer", r.url


# 5. files only under the roots, by resolved path ------------------------------------------------


@pytest.fixture
def tree(tmp_path_factory):
    base = tmp_path_factory.mktemp("ws")
    root = base / "root"
    (root / "img").mkdir(parents=True)
    (root / "img" / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>")
    (root / "page.html").write_text("<p>hi</p>")
    (root / ".env").write_text("SECRET=1")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("secret")
    (base / "outside.txt").write_text("SECRET outside")
    (base / "root-evil").mkdir()
    (base / "root-evil" / "x.txt").write_text("SECRET sibling")
    os.symlink(base / "outside.txt", root / "link.txt")
    os.symlink(base, root / "up")
    # links inside the root whose names have no dot, to a dot-file / dot-directory of the root
    os.symlink(root / ".env", root / "env-link.txt")
    os.symlink(root / ".git", root / "gitdir")
    return base, root


@pytest.fixture
def fsrv(tree):
    base, root = tree
    s = PreviewServer(roots=[root]).start()
    s.publish("p", uri=(root / "page.html").as_uri(), version=1, text="<img src='img/logo.svg'>", format="text/html")
    wait_version(s, "p", 1)
    try:
        yield s
    finally:
        s.stop()


def test_files_served_only_under_roots(fsrv, tree):
    base, root = tree
    ft = fsrv.files_token
    ok = httpx.get(f"{fsrv.base_url}/f/{ft}/0/img/logo.svg")
    assert ok.status_code == 200 and "svg" in ok.text and ok.headers["content-security-policy"] == "sandbox"
    attacks = [
        f"/f/{ft}/0/../outside.txt",
        f"/f/{ft}/0/%2e%2e/outside.txt",
        f"/f/{ft}/0/img/%2e%2e/%2e%2e/outside.txt",
        f"/f/{ft}/0/..%2foutside.txt",
        f"/f/{ft}/0/link.txt",  # symlink leaving the root
        f"/f/{ft}/0/up/outside.txt",  # directory symlink leaving the root
        f"/f/{ft}/0/up/root-evil/x.txt",
        f"/f/{ft}/0/.env",
        f"/f/{ft}/0/.git/config",
        f"/f/{ft}/0/env-link.txt",  # symlink to a dot-file inside the root
        f"/f/{ft}/0/gitdir/config",  # directory symlink to a dot-directory inside the root
        f"/f/{ft}/0//etc/passwd",
        f"/f/{ft}/0/%2fetc%2fpasswd",
        f"/f/{ft}/1/x.txt",  # no such root
        f"/f/{ft}/0/img",  # a directory
        f"/f/wrong{ft}/0/img/logo.svg",  # wrong capability
        f"/f/{ft[:-1]}/0/img/logo.svg",
    ]
    for path in attacks:
        with httpx.Client(base_url=fsrv.base_url) as c:
            r = c.get(path)
        assert r.status_code in (400, 403, 404), (path, r.status_code)
        assert "SECRET" not in r.text and "secret" not in r.text
    # a sandboxed frame's fetch() carries Origin: null → refused even for a good path
    for mode in (None, "cors", "websocket", "same-origin"):
        hs = {"Origin": "null"} if mode is None else {"Origin": "null", "Sec-Fetch-Mode": mode}
        r = httpx.get(f"{fsrv.base_url}/f/{ft}/0/img/logo.svg", headers=hs)
        assert r.status_code == 403, mode
    # a foreign site embedding it is refused too (it would need the capability anyway)
    r = httpx.get(f"{fsrv.base_url}/f/{ft}/0/img/logo.svg", headers={"Origin": "http://evil.example", "Sec-Fetch-Mode": "no-cors"})
    assert r.status_code == 403
    # what the sandboxed frame's <img> sends is accepted
    r = httpx.get(f"{fsrv.base_url}/f/{ft}/0/img/logo.svg", headers={"Origin": "null", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 200


def test_frame_url_follows_the_document_directory(fsrv, tree):
    r = httpx.get(f"{fsrv.base_url}/documents", headers={"X-Gap-Token": fsrv.token})
    assert r.json()[0]["frame"] == f"/f/{fsrv.files_token}/0/.gap-frame.html"
    page = httpx.get(fsrv.base_url + r.json()[0]["frame"])
    assert page.status_code == 200 and "morphdom" in page.text and fsrv.token not in page.text


@pytest.mark.browser
def test_relative_image_loads_inside_the_frame(page, fsrv):
    from .test_browser import rendered

    page.goto(fsrv.url_for("p"))
    rendered(page, 1)
    fr = page.frames[1]
    from .conftest import wait_until

    wait_until(lambda: fr.evaluate("document.images[0] && document.images[0].complete && document.images[0].naturalWidth > 0"))


def test_ipv6_loopback_bind():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this environment")
    try:
        s = PreviewServer(host="::1").start()
    except RuntimeError:
        pytest.skip("cannot bind ::1 here")
    try:
        assert s.base_url == f"http://[::1]:{s.port}"
        s.publish(KEY, uri="", version=1, text="x", format="text/plain")
        wait_version(s, KEY, 1)
        assert httpx.get(s.base_url + "/content", params={"token": s.token}).text == "x"
        r = httpx.get(s.base_url + "/content", params={"token": s.token}, headers={"Host": "evil.example"})
        assert r.status_code == 403
    finally:
        s.stop()


def test_framing_by_an_editor_webview_needs_the_token(live):
    """An editor's webview (VS Code, code-server) may frame the shell — a cross-site iframe
    navigation to ``/`` — only with the session token; without it the request is refused."""
    nav = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "iframe", "Sec-Fetch-Mode": "navigate"}
    with httpx.Client(base_url=live.base_url) as c:
        r = c.get("/", params={"doc": KEY, "token": live.token}, headers=nav)
        assert r.status_code == 200 and "x-frame-options" not in r.headers
        r = c.get("/", params={"doc": KEY}, headers=nav)
        assert r.status_code in (401, 403)
        r = c.get("/", params={"doc": KEY, "token": "A" * 43}, headers=nav)
        assert r.status_code in (401, 403)
        # other paths are never framed cross-site, token or not
        r = c.get("/content", params={"doc": KEY, "token": live.token}, headers=nav)
        assert r.status_code == 403


# 6. the frame bootstrap runs only in the shell's sandbox ---------------------------------------


def test_frame_bootstrap_only_for_the_shell(fsrv):
    """``/f/{cap}/…/.gap-frame.html`` is the shell's (same-origin) to embed. Another page — on
    another local port, or a site that learnt the capability from an artifact (it can read
    its own frame's URL) — must not get it: framed without the sandbox it would run what that
    page posts with the server's own origin."""
    url = f"{fsrv.base_url}/f/{fsrv.files_token}/0/.gap-frame.html"
    assert httpx.get(url, headers={"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Dest": "iframe"}).status_code == 200
    for site in ("same-site", "cross-site", "none"):
        r = httpx.get(url, headers={"Sec-Fetch-Site": site, "Sec-Fetch-Dest": "iframe", "Sec-Fetch-Mode": "navigate"})
        assert r.status_code == 403 and "morphdom" not in r.text, site


@pytest.fixture
def evil_site():
    """A page on another local port (any dev server), serving what the test puts in ``pages``."""
    import http.server
    import socketserver
    import threading

    pages = {}

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path, "").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    httpd = socketserver.TCPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", pages
    finally:
        httpd.shutdown()
        httpd.server_close()


EVIL = """<iframe id=f src="FRAME"></iframe><script>
f.onload = () => (document.title = "loaded", f.contentWindow.postMessage({type: "render", version: 1, patches: [],
  html: "<p id=pwn>pwn</p><script>parent.postMessage('origin:' + window.origin, '*')<\\/script>"}, "*"));
window.onmessage = (e) => { if (typeof e.data === "string") document.title = e.data; };
</script>"""


@pytest.mark.browser
@pytest.mark.parametrize("served", ["by the server", "by anyone"])
def test_another_local_page_cannot_run_script_in_the_frame_bootstrap(page, fsrv, evil_site, served):
    """Another local page frames the bootstrap without a sandbox and posts it a render: no
    script may run with the preview server's origin. The server refuses it; and frame.js
    itself renders nothing where its origin is not opaque (checked with the bootstrap served
    to that page anyway)."""
    import time

    from gap_preview.pages import frame_page

    from .conftest import wait_until

    base, pages = evil_site
    frame_url = f"{fsrv.base_url}/f/{fsrv.files_token}/0/.gap-frame.html"
    pages["/"] = EVIL.replace("FRAME", frame_url)
    if served == "by anyone":
        page.route(frame_url, lambda route: route.fulfill(status=200, content_type="text/html", body=frame_page()))
    page.goto(base + "/")
    wait_until(lambda: page.title() != "")
    time.sleep(1.0)  # the render was posted on load; what it would run has run by now
    assert not page.title().startswith("origin:")
    for f in page.frames[1:]:
        try:
            assert f.evaluate("!document.getElementById('pwn')")
        except Exception as e:  # an error page (403) is cross-origin: nothing of ours in it
            assert "pwn" not in str(e)
