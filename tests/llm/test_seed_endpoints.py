"""The seed streaming endpoints of the preview server (POST /generate, GET /chat/stream) backed
by gap_ls.llm's token_source, over the fake OpenAI-compatible server: tokens as the model
streams them, errors without the key, and a browser disconnect stops generation upstream."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from httpx_sse import connect_sse

from gap_ls.llm.stream import make_token_source
from tests.fakes.fake_openai import Reply, chunks

from .conftest import API_KEY

gap_preview = pytest.importorskip("gap_preview")


@pytest.fixture
def preview(config):
    srv = gap_preview.PreviewServer(token_source=make_token_source(config)).start()
    try:
        yield srv
    finally:
        srv.stop()


TEXT = "A large language model predicts the next token, one at a time."


def test_generate_streams_model_tokens(preview, fake):
    fake.script(Reply(TEXT))
    with httpx.Client(base_url=preview.base_url, timeout=10) as c:
        body = {"prompt": "what is a large language model?", "model": "TinyLlama/TinyLlama-1.1B-Chat-v1.0", "params": {"max_tokens": 128}}
        with connect_sse(c, "POST", "/generate", json=body, headers={"X-Gap-Token": preview.token}) as es:
            data = [json.loads(e.data) for e in es.iter_sse()]
    pieces = chunks(TEXT)
    assert data[:-1] == [{"token": p, "index": i} for i, p in enumerate(pieces)]
    assert data[-1] == {"done": True, "total_tokens": len(pieces)}
    sent = fake.requests[-1]["body"]
    assert sent["model"] == "TinyLlama/TinyLlama-1.1B-Chat-v1.0" and sent["max_tokens"] == 128 and sent["stream"] is True


def test_chat_stream_events(preview, fake):
    fake.script(Reply("Hello!"))
    with httpx.Client(base_url=preview.base_url, timeout=10) as c:
        with connect_sse(c, "GET", "/chat/stream", params={"prompt": "hello", "token": preview.token}) as es:
            evs = [(e.event, e.data) for e in es.iter_sse()]
    assert evs[-1] == ("done", "[DONE]")
    assert "".join(d for ev, d in evs if ev == "token") == "Hello!"


def test_errors_are_reported_without_the_key(preview, fake):
    fake.script(Reply(fault="auth"), Reply(fault="rate_limit", retry_after=300))
    with httpx.Client(base_url=preview.base_url, timeout=10) as c:
        with connect_sse(c, "POST", "/generate", json={"prompt": "x"}, headers={"X-Gap-Token": preview.token}) as es:
            data = [json.loads(e.data) for e in es.iter_sse()]
        with connect_sse(c, "GET", "/chat/stream", params={"prompt": "x", "token": preview.token}) as es:
            evs = [(e.event, e.data) for e in es.iter_sse()]
    assert len(data) == 1 and "refused the API key" in data[0]["error"]
    assert evs[0][0] == "error" and "HTTP 429" in evs[0][1]
    assert API_KEY not in json.dumps(data) + json.dumps(evs) and "sk-" not in json.dumps(data)


def test_browser_disconnect_stops_generation_upstream(preview, fake):
    fake.script(Reply("word " * 2000, latency=0.01))
    with httpx.Client(base_url=preview.base_url, timeout=10) as c:
        with connect_sse(c, "POST", "/generate", json={"prompt": "x"}, headers={"X-Gap-Token": preview.token}) as es:
            for i, _ in enumerate(es.iter_sse()):
                if i == 5:
                    break
    deadline = time.time() + 5
    while time.time() < deadline and not fake.disconnects:
        time.sleep(0.02)
    assert fake.disconnects == 1 and fake.completed == 0


def test_a_stream_past_the_deadline_is_stopped_upstream(fake, config):
    import attrs

    src = make_token_source(attrs.evolve(config, deadline=0.8))
    srv = gap_preview.PreviewServer(token_source=src).start()
    try:
        fake.script(Reply("word " * 50_000, chunk_size=4, latency=0.05))  # would take ~10 minutes
        t0 = time.monotonic()
        with httpx.Client(base_url=srv.base_url, timeout=10) as c:
            with connect_sse(c, "POST", "/generate", json={"prompt": "x"}, headers={"X-Gap-Token": srv.token}) as es:
                data = [json.loads(e.data) for e in es.iter_sse()]
        took = time.monotonic() - t0
    finally:
        srv.stop()
    assert 0.7 < took < 6, took
    assert data[0].get("token") and "deadline" in data[-1]["error"] and "0.8 s" in data[-1]["error"]
    for _ in range(250):
        if fake.disconnects:
            break
        time.sleep(0.02)
    assert fake.disconnects == 1 and fake.completed == 0
