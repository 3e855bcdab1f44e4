"""Issue 2, point 4: the server starts the preview on first need; the page's streams (GAP-SSE
and WebSocket) receive every didChange sent through the LSP."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs, urlparse

import httpx
import websockets
from httpx_sse import aconnect_sse
from lsprotocol import types

from ..conftest import EXAMPLES

URI = "file:///work/example/live.html"


def where(text: str, needle: str) -> types.Range:
    s = text.index(needle)
    e = s + len(needle)

    def pos(off):
        line = text.count("\n", 0, off)
        return types.Position(line, off - (text.rfind("\n", 0, off) + 1))

    return types.Range(pos(s), pos(e))


def payload_text(env: dict) -> str:
    """All text an envelope carries (synthesize body or edit contents)."""
    return json.dumps(env, ensure_ascii=False)


async def open_with_preview(client):
    text = (EXAMPLES / "dashboard" / "dashboard.html").read_text("utf-8")
    client.editor.open(URI, text)
    url = await client.editor.command("gap.previewUrl", URI)
    u = urlparse(url)
    assert u.hostname == "127.0.0.1" and u.port
    q = parse_qs(u.query)
    token = q["token"][0]
    assert len(token) >= 22  # ≥ 128 bits in URL-safe base64
    return text, f"http://127.0.0.1:{u.port}", q["doc"][0], token


async def test_sse_stream_follows_did_change(client):
    text, base, key, token = await open_with_preview(client)
    async with httpx.AsyncClient(timeout=10) as http:
        async with aconnect_sse(http, "GET", f"{base}/events", params={"doc": key, "token": token}) as src:
            events = src.aiter_sse()
            first = await asyncio.wait_for(anext(events), 5)
            while first.event != "gap:envelope":  # a leading retry-only frame (GAP-SSE §4.1)
                first = await asyncio.wait_for(anext(events), 5)
            env = json.loads(first.data)
            assert env["name"] == "synthesize" and "$12,340" in env["content"][0]["body"]
            first_id = int(first.id)
            client.editor.type_at(URI, where(text, "$12,340"), "$99,999")
            while True:
                ev = await asyncio.wait_for(anext(events), 5)
                if ev.event == "gap:envelope":
                    break
            assert int(ev.id) > first_id
            assert "$99,999" in payload_text(json.loads(ev.data))
    # the plain-text endpoint has the new content too
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.get(f"{base}/content", params={"doc": key, "token": token})
        assert r.status_code == 200 and "$99,999" in r.text


async def test_websocket_stream_follows_did_change(client):
    text, base, key, token = await open_with_preview(client)
    ws_url = base.replace("http://", "ws://") + f"/ws?doc={key}&token={token}"
    async with websockets.connect(ws_url) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert first == {"retry": 3000}
        first = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert first["event"] == "gap:envelope" and "Northwind Store" in payload_text(first)
        client.editor.type_at(URI, where(text, "Northwind Store"), "Southwind Market")
        for _ in range(20):
            msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if "Southwind Market" in payload_text(msg):
                break
        else:
            raise AssertionError("the WebSocket never carried the change")


async def test_stream_refuses_requests_without_the_token(client):
    _, base, key, _ = await open_with_preview(client)
    async with httpx.AsyncClient(timeout=5) as http:
        r = await http.get(f"{base}/events", params={"doc": key})
        assert r.status_code in (401, 403)
        r = await http.get(f"{base}/content", params={"doc": key, "token": "x" * 43})
        assert r.status_code in (401, 403)


async def test_editor_cursor_outlines_the_target_in_the_preview(client):
    text, base, key, token = await open_with_preview(client)
    async with httpx.AsyncClient(timeout=10) as http:
        async with aconnect_sse(http, "GET", f"{base}/events", params={"doc": key, "token": token}) as src:
            events = src.aiter_sse()
            # the cursor lands inside "$12,340"; editors ask for highlights as the cursor moves
            pos = where(text, "12,340").start
            await client.text_document_document_highlight_async(
                types.DocumentHighlightParams(text_document=types.TextDocumentIdentifier(uri=URI), position=pos)
            )
            for _ in range(20):
                ev = await asyncio.wait_for(anext(events), 5)
                if ev.event == "preview:cursor":
                    break
            else:
                raise AssertionError("no preview:cursor event")
            assert json.loads(ev.data)["target"] == "revenue-value"
