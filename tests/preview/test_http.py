"""HTTP-level tests: every endpoint, GAP-SSE framing, resumption, WebSocket, streaming."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import httpx
import pytest
from httpx_sse import connect_sse

from gap_engine import apply, parse_envelope
from gap_preview import PreviewServer
from gap_preview import hub as hub_mod

from .conftest import DASHBOARD, run_async, wait_until, wait_version

KEY = "doc-1"
URI = "file:///work/dash.html"


def publish(srv, version, text, key=KEY, fmt="text/html", uri=URI):
    srv.publish(key, uri=uri, version=version, text=text, format=fmt)
    wait_version(srv, key, version)


def raw_sse(srv, path_qs: str, headers: dict | None = None, until=None, timeout=5.0) -> str:
    """Read an SSE response over a raw socket (exact bytes) until ``until`` appears."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    hs = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    s.sendall(f"GET {path_qs} HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nAccept: text/event-stream\r\n{hs}\r\n".encode())
    buf = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            if until is not None and until.encode() in buf:
                break
    finally:
        s.close()
    return buf.decode("utf-8", "replace")


def events_of(client, srv, n, key=KEY, headers=None, params=None):
    out = []
    p = {"doc": key, "token": srv.token, **(params or {})}
    with connect_sse(client, "GET", "/events", params=p, headers=headers or {}) as es:
        assert es.response.status_code == 200
        for ev in es.iter_sse():
            out.append(ev)
            if len(out) >= n:
                break
    return out


# -- the API the language server uses ---------------------------------------------------------


def test_api_shape(srv):
    assert srv.base_url == f"http://127.0.0.1:{srv.port}"
    assert len(srv.token) >= 43  # 32 random bytes, URL-safe base64 (≥ 128 bits)
    url = srv.url_for("a b/c")
    assert url.startswith(srv.base_url + "/?") and "doc=a+b%2Fc" in url and f"token={srv.token}" in url
    srv.publish("k", uri="file:///x.html", version=1, text="<p>x</p>", format="text/html")
    srv.set_cursor("k", 0)
    srv.close_document("k")
    srv.on_reveal = lambda *a: None


def test_refuses_non_loopback_bind_without_opt_in():
    with pytest.raises(ValueError):
        PreviewServer(host="0.0.0.0")
    PreviewServer(host="0.0.0.0", allow_remote=True)  # explicit opt-in is accepted


def test_publish_is_cheap_and_coalesces(srv, client):
    publish(srv, 1, DASHBOARD)
    t0 = time.perf_counter()
    for v in range(2, 502):
        srv.publish(KEY, uri=URI, version=v, text=DASHBOARD.replace("$12,340", f"${v}"), format="text/html")
    per_call = (time.perf_counter() - t0) / 500
    assert per_call < 0.001, per_call
    wait_version(srv, KEY, 501)
    doc = srv.hub.docs[KEY]
    assert doc.seq < 500  # bursts coalesced into fewer events
    assert client.get("/content", params={"doc": KEY, "token": srv.token}).text.count("$501") == 1


# -- GAP-SSE ------------------------------------------------------------------------------------


def test_sse_framing_synthesize_then_edits(srv, client):
    publish(srv, 1, DASHBOARD)
    body = raw_sse(srv, f"/events?doc={KEY}&token={srv.token}", until="\n\n", timeout=2)
    head, _, stream = body.partition("\r\n\r\n")
    assert "200 OK" in head and "text/event-stream" in head.lower() and "cache-control: no-cache" in head.lower()
    # retry: on the first event, then the synthesize with id 0 on a single data line
    assert stream.lstrip("0123456789abcdef\r\n").startswith("retry: 3000\nevent: gap:envelope\nid: 0\ndata: {")

    got = []
    ready = threading.Event()

    def reader():
        with httpx.Client(base_url=srv.base_url, timeout=10) as c:
            with connect_sse(c, "GET", "/events", params={"doc": KEY, "token": srv.token}) as es:
                for ev in es.iter_sse():
                    got.append(ev)
                    ready.set()
                    if ev.event == "gap:complete":
                        return

    t = threading.Thread(target=reader)
    t.start()
    ready.wait(5)
    v2 = DASHBOARD.replace("$12,340", "$15,720")
    publish(srv, 2, v2)
    v3 = v2.replace("<footer id=\"foot\">v1</footer>", "<footer id=\"foot\">v3</footer>").replace(
        "Revenue dashboard", "Revenue board"
    )
    publish(srv, 3, v3)
    publish(srv, 4, "<p>outside every target</p>" + v3)  # not inside a target → synthesize
    srv.close_document(KEY)
    t.join(10)
    envs = [e for e in got if e.event == "gap:envelope"]
    ids = [int(e.id) for e in envs]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    first = json.loads(envs[0].data)
    assert first["name"] == "synthesize" and first["protocol"] == "gap/0.1" and first["id"] == KEY
    assert first["meta"]["format"] == "text/html" and first["meta"]["uri"] == URI
    e2 = json.loads(envs[1].data)
    assert e2["name"] == "edit" and e2["content"] == [
        {"op": "replace", "target": {"type": "id", "value": "revenue"}, "content": "$15,720"}
    ]
    e3 = json.loads(envs[2].data)
    assert e3["name"] == "edit" and sorted(op["target"]["value"] for op in e3["content"]) == ["footer", "header"]
    assert json.loads(envs[3].data)["name"] == "synthesize"
    assert got[-1].event == "gap:complete" and json.loads(got[-1].data)["checksum"].startswith("sha256:")
    # the stream is a valid GAP version chain: replaying it with the engine gives the last view
    art = None
    for e in envs:
        env = parse_envelope(e.data)
        art, _ = apply(art, env)
    assert art.body == srv.hub.docs[KEY].view


def test_heartbeat_when_idle(srv, client):
    publish(srv, 1, "<p>x</p>")
    evs = events_of(client, srv, 2)
    assert evs[1].event == "gap:heartbeat" and evs[1].data == "{}"


def test_last_event_id_resume_and_seq_expired(srv, client, monkeypatch):
    publish(srv, 1, DASHBOARD)
    for v in range(2, 6):
        publish(srv, v, DASHBOARD.replace("$12,340", f"${v}"))
    seq = srv.hub.docs[KEY].seq
    assert seq == 4
    # resume after id 2: exactly events 3 and 4, no synthesize
    evs = events_of(client, srv, 2, headers={"Last-Event-ID": "2"})
    assert [e.id for e in evs] == ["3", "4"]
    assert all(json.loads(e.data)["name"] == "edit" for e in evs)
    # up to date: nothing until the next change
    evs = []

    def later():
        time.sleep(0.2)
        publish(srv, 6, DASHBOARD.replace("$12,340", "$6"))

    threading.Thread(target=later).start()
    evs = [e for e in events_of(client, srv, 3, headers={"Last-Event-ID": "4"}) if e.event == "gap:envelope"]
    assert evs[0].id == "5"
    # an id the log no longer holds → gap:error seq_expired, then a full snapshot
    doc = srv.hub.docs[KEY]
    doc.log.popleft()
    doc.log.popleft()  # now the log starts at id 2
    evs = events_of(client, srv, 2, headers={"Last-Event-ID": "0"})
    err = json.loads(evs[0].data)
    assert evs[0].event == "gap:error" and err["code"] == "seq_expired" and err["artifact_id"] == KEY
    snap = json.loads(evs[1].data)
    assert snap["name"] == "synthesize" and evs[1].id == str(doc.seq)
    # a future or garbage id is expired too
    for bad in ("999", "zz"):
        evs = events_of(client, srv, 1, headers={"Last-Event-ID": bad})
        assert json.loads(evs[0].data)["code"] == "seq_expired"


def test_log_is_bounded(srv, monkeypatch):
    monkeypatch.setattr(hub_mod, "LOG_EVENTS", 8)
    publish(srv, 1, DASHBOARD)
    for v in range(2, 40):
        publish(srv, v, DASHBOARD.replace("$12,340", f"${v}"))
    doc = srv.hub.docs[KEY]
    assert len(doc.log) <= 8 and doc.log[-1].seq == doc.seq


def test_slow_viewer_gets_one_snapshot(srv, client, monkeypatch):
    monkeypatch.setattr(hub_mod, "COALESCE_AFTER", 3)
    publish(srv, 1, DASHBOARD)
    for v in range(2, 12):
        publish(srv, v, DASHBOARD.replace("$12,340", f"${v}"))
    evs = events_of(client, srv, 1, headers={"Last-Event-ID": "1"})
    assert json.loads(evs[0].data)["name"] == "synthesize" and evs[0].id == str(srv.hub.docs[KEY].seq)


def test_non_html_formats_render(srv, client):
    publish(srv, 1, "# Title\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))\n", fmt="text/markdown", key="md")
    view = srv.hub.docs["md"].view
    assert '<h1 id="title">Title</h1>' in view and "<script>alert" not in view and 'href="javascript' not in view
    publish(srv, 1, '{"a": 1, "b": "<b>"}', fmt="application/json", key="json")
    view = srv.hub.docs["json"].view
    assert "&lt;b&gt;" in view and '<span class="nt">' in view
    publish(srv, 1, "a: 1\n", fmt="application/yaml", key="yaml")
    publish(srv, 1, "x = 1\n", fmt="application/toml", key="toml")
    publish(srv, 1, "def f():\n    return 1\n", fmt="text/x-python", key="py")
    assert '<span class="k">def</span>' in srv.hub.docs["py"].view
    publish(srv, 1, "<img src=x onerror=alert(1)>", fmt="application/x-unknown", key="unk")
    assert "&lt;img" in srv.hub.docs["unk"].view and "<img" not in srv.hub.docs["unk"].view


# -- WebSocket ---------------------------------------------------------------------------------


def test_websocket_stream_and_resume(srv):
    run_async(_websocket_stream_and_resume, srv)


async def _websocket_stream_and_resume(srv):
    import websockets

    srv.publish(KEY, uri=URI, version=1, text=DASHBOARD, format="text/html")
    await asyncio.to_thread(wait_version, srv, KEY, 1)
    url = f"ws://127.0.0.1:{srv.port}/ws?doc={KEY}&token={srv.token}"
    async with websockets.connect(url) as ws:
        assert json.loads(await ws.recv()) == {"retry": 3000}
        m = json.loads(await ws.recv())
        assert m["event"] == "gap:envelope" and m["id"] == "0" and m["data"]["name"] == "synthesize"
        srv.publish(KEY, uri=URI, version=2, text=DASHBOARD.replace("$12,340", "$1"), format="text/html")
        m = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert m["id"] == "1" and m["data"]["name"] == "edit"
    async with websockets.connect(url + "&last_event_id=0") as ws:
        await ws.recv()
        m = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert m["id"] == "1" and m["data"]["content"][0]["content"] == "$1"
        srv.close_document(KEY)
        m = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert m["event"] == "gap:complete"
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)


# -- other endpoints ----------------------------------------------------------------------------


def test_content_documents_done(srv, client, auth):
    publish(srv, 1, DASHBOARD)
    r = client.get("/content", params={"doc": KEY}, headers=auth)
    assert r.status_code == 200 and r.text == DASHBOARD and r.headers["content-type"].startswith("text/plain")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert client.get("/content", headers=auth).text == DASHBOARD  # the only document
    assert client.get("/content", params={"doc": "nope"}, headers=auth).status_code == 404
    docs = client.get("/documents", headers=auth).json()
    assert docs[0]["key"] == KEY and docs[0]["title"] == "dash.html"

    got = []

    def reader():
        with httpx.Client(base_url=srv.base_url, timeout=10) as c:
            with connect_sse(c, "GET", "/events", params={"doc": KEY, "token": srv.token}) as es:
                for ev in es.iter_sse():
                    got.append(ev)
                    if ev.event == "gap:complete":
                        return

    t = threading.Thread(target=reader)
    t.start()
    wait_until(lambda: got)
    r = client.post("/done", headers=auth)
    assert r.status_code == 200 and r.json() == {"ok": True}
    t.join(5)
    assert got[-1].event == "gap:complete" and json.loads(got[-1].data)["reason"] == "done"
    assert client.get("/documents", headers=auth).json() == []


def test_shell_page(srv, client):
    publish(srv, 1, DASHBOARD)
    r = client.get("/", params={"doc": KEY, "token": srv.token})
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    for part in ("default-src 'none'", "connect-src 'self'", "script-src 'nonce-"):
        assert part in csp
    # only the editor's own webview or a loopback page may frame the shell: never a web origin
    ancestors = csp.split("frame-ancestors")[1].split(";")[0].split()
    assert set(ancestors) <= {"'self'", "http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*", "vscode-webview:"}
    assert r.headers["referrer-policy"] == "no-referrer" and r.headers["x-frame-options"] == "DENY"
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in r.text
    assert 'sandbox", "allow-scripts"' in r.text and "allow-same-origin" not in r.text
    f = client.get("/frame")
    assert f.status_code == 200 and "morphdom" in f.text and srv.token not in f.text
    assert "connect-src https:" in f.headers["content-security-policy"]


def test_reveal_calls_back(srv, client, auth):
    publish(srv, 1, DASHBOARD)
    calls = []
    srv.on_reveal = lambda *a: calls.append(a)
    r = client.post("/reveal", json={"doc": KEY, "target": "revenue"}, headers=auth)
    assert r.status_code == 200
    (key, uri, offset, target), = calls
    assert (key, uri, target) == (KEY, URI, "revenue")
    assert DASHBOARD[offset:].startswith("$12,340")
    assert client.post("/reveal", json={"doc": KEY, "target": "nope"}, headers=auth).status_code == 404
    assert client.post("/reveal", content=b"[", headers=auth).status_code == 400


def test_cursor_event(srv, client):
    publish(srv, 1, DASHBOARD)
    got = []

    def reader():
        with httpx.Client(base_url=srv.base_url, timeout=10) as c:
            with connect_sse(c, "GET", "/events", params={"doc": KEY, "token": srv.token}) as es:
                for ev in es.iter_sse():
                    got.append(ev)
                    if ev.event == "preview:cursor":
                        return

    t = threading.Thread(target=reader)
    t.start()
    wait_until(lambda: got)
    srv.set_cursor(KEY, DASHBOARD.index("$12,340") + 2)
    t.join(5)
    assert json.loads(got[-1].data)["target"] == "revenue"


# -- token streaming (seeds 001/002) -----------------------------------------------------------


class FakeSource:
    """A token source that records whether it was closed."""

    def __init__(self, tokens=("Hel", "lo", ",", " world"), forever=False, fail_after=None):
        self.tokens = tokens
        self.forever = forever
        self.fail_after = fail_after
        self.closed = threading.Event()
        self.calls = []

    async def __call__(self, prompt, model, max_tokens):
        self.calls.append((prompt, model, max_tokens))
        try:
            i = 0
            while True:
                if self.fail_after is not None and i == self.fail_after:
                    raise RuntimeError("model exploded")
                if not self.forever and i >= len(self.tokens):
                    return
                yield self.tokens[i % len(self.tokens)]
                i += 1
                await asyncio.sleep(0.01 if self.forever else 0)
        finally:
            self.closed.set()


@pytest.fixture
def gen_srv(tmp_path):
    src = FakeSource()
    s = PreviewServer(token_source=src).start()
    s.fake = src
    try:
        yield s
    finally:
        s.stop()


def test_generate_stream(gen_srv):
    with httpx.Client(base_url=gen_srv.base_url, timeout=10) as c:
        body = {"prompt": "hi", "model": "tiny", "params": {"max_tokens": 3}}
        with connect_sse(c, "POST", "/generate", json=body, headers={"X-Gap-Token": gen_srv.token}) as es:
            data = [json.loads(e.data) for e in es.iter_sse()]
    assert data == [
        {"token": "Hel", "index": 0},
        {"token": "lo", "index": 1},
        {"token": ",", "index": 2},
        {"done": True, "total_tokens": 3},
    ]
    assert gen_srv.fake.calls == [("hi", "tiny", 3)]


def test_generate_error_and_bad_requests(gen_srv):
    gen_srv.token_source = FakeSource(fail_after=1)
    with httpx.Client(base_url=gen_srv.base_url, timeout=10, headers={"X-Gap-Token": gen_srv.token}) as c:
        with connect_sse(c, "POST", "/generate", json={"prompt": "x"}) as es:
            data = [json.loads(e.data) for e in es.iter_sse()]
        assert data == [{"token": "Hel", "index": 0}, {"error": "model exploded"}]
        assert c.post("/generate", json={"nope": 1}).status_code == 400
        assert c.post("/generate", content=b"{").status_code == 400


def test_chat_stream(gen_srv):
    with httpx.Client(base_url=gen_srv.base_url, timeout=10) as c:
        with connect_sse(c, "GET", "/chat/stream", params={"prompt": "hello", "token": gen_srv.token}) as es:
            evs = [(e.event, e.data) for e in es.iter_sse()]
    assert evs == [("token", "Hel"), ("token", "lo"), ("token", ","), ("token", " world"), ("done", "[DONE]")]
    gen_srv.token_source = FakeSource(fail_after=0)
    with httpx.Client(base_url=gen_srv.base_url, timeout=10) as c:
        with connect_sse(c, "GET", "/chat/stream", params={"prompt": "x", "token": gen_srv.token}) as es:
            evs = [(e.event, e.data) for e in es.iter_sse()]
    assert evs == [("error", "model exploded")]


def test_client_disconnect_stops_the_source(gen_srv):
    src = FakeSource(forever=True)
    gen_srv.token_source = src
    with httpx.Client(base_url=gen_srv.base_url, timeout=10) as c:
        with connect_sse(c, "POST", "/generate", json={"prompt": "x"}, headers={"X-Gap-Token": gen_srv.token}) as es:
            for i, _ in enumerate(es.iter_sse()):
                if i == 3:
                    break
    assert src.closed.wait(5), "token source not closed after the client went away"


def test_streaming_endpoints_503_without_source(srv, client, auth):
    assert client.post("/generate", json={"prompt": "x"}, headers=auth).status_code == 503
    assert client.get("/chat/stream", params={"prompt": "x"}, headers=auth).status_code == 503


def test_stop_ends_open_streams(tmp_path):
    s = PreviewServer(heartbeat=30).start()
    s.publish(KEY, uri=URI, version=1, text="<p>x</p>", format="text/html")
    wait_version(s, KEY, 1)
    done = threading.Event()

    def reader():
        try:
            with httpx.Client(base_url=s.base_url, timeout=10) as c:
                with connect_sse(c, "GET", "/events", params={"doc": KEY, "token": s.token}) as es:
                    for _ in es.iter_sse():
                        pass
        except httpx.HTTPError:
            pass
        done.set()

    threading.Thread(target=reader, daemon=True).start()
    time.sleep(0.2)
    t0 = time.monotonic()
    s.stop()
    assert time.monotonic() - t0 < 4
    assert done.wait(5)


def test_closed_document_is_forgotten_and_ids_continue(srv, client, monkeypatch):
    monkeypatch.setattr(hub_mod, "GC_AFTER", 0.05)
    publish(srv, 1, DASHBOARD)
    publish(srv, 2, DASHBOARD.replace("$12,340", "$2"))
    last = srv.hub.docs[KEY].seq
    srv.close_document(KEY)
    wait_until(lambda: KEY not in srv.hub.docs)
    assert client.get("/content", params={"doc": KEY, "token": srv.token}).status_code == 404
    publish(srv, 1, DASHBOARD)  # reopened
    evs = events_of(client, srv, 1)
    assert int(evs[0].id) > last and json.loads(evs[0].data)["name"] == "synthesize"


def test_fan_out_all_viewers_end_on_the_final_state(srv):
    publish(srv, 1, DASHBOARD)
    n_viewers = 12
    finals: dict[int, str] = {}
    ready = threading.Barrier(n_viewers + 1)

    def viewer(i):
        art = None
        with httpx.Client(base_url=srv.base_url, timeout=20) as c:
            with connect_sse(c, "GET", "/events", params={"doc": KEY, "token": srv.token}) as es:
                first = True
                for ev in es.iter_sse():
                    if ev.event == "gap:envelope":
                        art, _ = apply(art, parse_envelope(ev.data))
                        if first:
                            first = False
                            ready.wait(10)
                    elif ev.event == "gap:complete":
                        break
        finals[i] = art.body

    threads = [threading.Thread(target=viewer, args=(i,)) for i in range(n_viewers)]
    for t in threads:
        t.start()
    ready.wait(10)
    text = DASHBOARD
    for v in range(2, 302):
        text = text.replace("$12,340", f"$12,340{v % 10}", 1) if v % 3 else text.replace("v1</footer>", f"v1{v % 7}</footer>", 1)
        srv.publish(KEY, uri=URI, version=v, text=text, format="text/html")
    wait_version(srv, KEY, 301)
    final = srv.hub.docs[KEY].view
    srv.close_document(KEY)
    for t in threads:
        t.join(20)
    assert len(finals) == n_viewers and all(b == final for b in finals.values())
    assert final == text


def test_start_fails_clearly_when_the_port_is_taken(srv):
    with pytest.raises(RuntimeError, match="failed to start"):
        PreviewServer(port=srv.port).start()


def test_splice_form_for_the_page_and_plain_gap_for_others(srv, client):
    """A change outside every target is a synthesize on the GAP stream; with ``splice=1`` (the
    page's own stream) the same event id carries ``preview:splice``: the changed range in UTF-16
    offsets of the previous view. Edits and the first synthesize are unchanged."""
    text = DASHBOARD.replace("<body>", "<body><p>é😀 intro</p>")
    publish(srv, 1, text)
    got = {}

    def reader(name, params):
        got[name] = events_of(client, srv, 4, params=params)

    threads = [threading.Thread(target=reader, args=(n, p)) for n, p in (("gap", {}), ("splice", {"splice": "1"}))]
    for t in threads:
        t.start()
    wait_until(lambda: srv.hub.docs[KEY].subscribers == 2)
    v1 = srv.hub.docs[KEY].view
    t2 = text.replace("😀 intro", "😀 intro, longer")  # outside every target, after an astral char
    publish(srv, 2, t2)
    t3 = t2.replace("$12,340", "$1")  # inside a target: an edit
    publish(srv, 3, t3)
    t4 = t3.replace("<body>", "<body><h2>new</h2>")  # outside again
    publish(srv, 4, t4)
    for t in threads:
        t.join(10)
    gap, spl = got["gap"], got["splice"]
    assert [e.event for e in gap] == ["gap:envelope"] * 4
    assert [json.loads(e.data)["name"] for e in gap] == ["synthesize", "synthesize", "edit", "synthesize"]
    assert [e.event for e in spl] == ["gap:envelope", "preview:splice", "gap:envelope", "preview:splice"]
    assert [e.id for e in spl] == [e.id for e in gap]
    # the plain stream still replays with the engine
    art = None
    for e in gap:
        art, _ = apply(art, parse_envelope(e.data))
    assert art.body == srv.hub.docs[KEY].view

    def js_splice(view: str, d: dict) -> str:  # apply in UTF-16 units, as the page does
        u = view.encode("utf-16-le")
        out = u[: 2 * d["start"]] + d["text"].encode("utf-16-le") + u[2 * d["end"] :]
        assert len(u) // 2 == d["base_length"]
        return out.decode("utf-16-le")

    d2 = json.loads(spl[1].data)
    assert d2["version"] == 2 and d2["meta"]["source_version"] == 2 and d2["artifact_id"] == KEY
    assert d2["text"] == ", longer"
    v2 = js_splice(v1, d2)
    assert v2 == t2
    v3 = t3
    assert json.loads(spl[2].data)["name"] == "edit"
    assert js_splice(v3, json.loads(spl[3].data)) == t4


def test_lone_surrogates_do_not_break_the_streams(srv, client):
    """A text with a lone UTF-16 surrogate (an LSP edit that split an emoji's pair; a file name
    read with surrogateescape) cannot be sent as UTF-8: the stream died on every (re)connect and
    /content answered 500. It is shown with U+FFFD in its place, offsets unchanged."""
    publish(srv, 1, "<p id=a>half an emoji: \ud83d!</p>", uri="file:///w/caf\udce9.html")
    evs = events_of(client, srv, 1, params={"splice": "1"})
    env = json.loads(evs[0].data)
    assert env["content"][0]["body"] == "<p id=a>half an emoji: \ufffd!</p>"
    assert env["meta"]["uri"] == "file:///w/caf\ufffd.html"
    r = client.get("/content", params={"doc": KEY, "token": srv.token})
    assert r.status_code == 200 and r.text == "<p id=a>half an emoji: \ufffd!</p>"
    publish(srv, 2, "<p id=a>half an emoji: \ud83d!!</p>")  # and the next change, a splice
    evs = events_of(client, srv, 1, params={"last_event_id": "0", "splice": "1"})
    assert evs[0].event == "preview:splice" and json.loads(evs[0].data)["text"] == "!"
