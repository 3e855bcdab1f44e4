"""A local OpenAI-compatible chat-completions server for tests (no hosted model needed).

``FakeOpenAI`` is a small Starlette app served by uvicorn on 127.0.0.1 (random port) in a
background thread, so the real ``openai`` client talks to it over real HTTP. It answers
``POST /v1/chat/completions`` (streaming SSE and not) and ``GET /v1/models``.

What it answers, per request:

1. the next scripted :class:`Reply` if the test queued any (``fake.script(...)``);
2. otherwise a *recording* whose instruction appears in the last user message: the real
   envelopes and artifacts recorded by the GAP authors in ``../shared/gap-evals`` (read from
   there at test time, never copied — see :func:`eval_recordings`) and the project-written
   recordings in :mod:`tests.fakes.recordings`;
3. otherwise HTTP 404 with an OpenAI-style error naming the miss.

Streams are chunked like a real model's: pieces of 1–4 characters with their leading space
(or fixed ``chunk_size`` characters), ``latency`` seconds apart. Faults (``Reply.fault``):

- ``malformed`` — the text is cut short and ends in junk (invalid JSON / unterminated block);
- ``hallucinate`` — every target id in the text gets a ``-v2`` suffix (a target that does not
  exist); queue the correct reply after it to test the repair;
- ``timeout`` — the server waits ``delay`` seconds (before the headers, or with
  ``mid=True`` after the first chunks) so the client's timeout fires;
- ``rate_limit`` — HTTP 429 with ``Retry-After: retry_after`` and OpenAI's error body;
- ``drop`` — the connection is cut after the first chunks (an incomplete chunked body);
- ``auth`` — HTTP 401 echoing a masked key the way a hosted provider does.

Everything it saw is in ``fake.requests`` (JSON body plus headers); ``fake.disconnects``
counts streams the client abandoned before the end (generation stopped upstream) and
``fake.completed`` streams sent in full.
"""

from __future__ import annotations

import asyncio
import collections
import json
import re
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Iterable

import attrs

EVALS_DIR = Path(__file__).resolve().parents[3] / "shared" / "gap-evals"

_PIECE = re.compile(r"\s*[A-Za-z]{1,4}|\s*\d{1,3}|\s*[^\sA-Za-z\d]|\s+", re.S)


@attrs.define
class Reply:
    """One scripted answer. ``text`` is what the model "writes"; see the module docstring for
    ``fault``. ``chunk_size``/``latency`` override the server's knobs for this reply."""

    text: str = ""
    fault: str | None = None
    retry_after: float = 1.0
    delay: float = 5.0
    mid: bool = False
    chunk_size: int | None = None
    latency: float | None = None
    usage: bool = True


@attrs.define
class Recording:
    """A recorded exchange: when ``instruction`` is in the request, answer ``response``.
    ``artifact`` (optional) is the artifact the recording was made against; ``kind`` is
    ``edit`` or ``synthesize``; ``source`` says where it came from."""

    instruction: str
    response: str
    artifact: str | None = None
    kind: str = "edit"
    source: str = ""
    format: str | None = None


def eval_recordings(root: Path = EVALS_DIR) -> list[Recording]:
    """Recordings from the GAP authors' recorded runs (CC-BY-4.0, read in place): each edit
    turn's instruction (``inputs/base/turn-N.md``) → the envelope the model wrote
    (``outputs/gap/turn-N.json``) against ``turn-(N-1)``; each turn-0 prompt → the synthesized
    artifact. Empty when the folder is absent."""
    if not root.is_dir():
        return []
    from gap_engine.replay import load_experiments

    out: list[Recording] = []
    for exp in load_experiments(root):
        base = exp.path / "inputs" / "base"
        t0 = base / "turn-0.md"
        if t0.is_file():
            out.append(Recording(t0.read_text("utf-8").strip(), exp.turn0, None, "synthesize", f"{exp.name}/turn-0", exp.format))
        prev = exp.turn0
        for t in exp.turns:
            instr = base / f"turn-{t.number}.md"
            if instr.is_file():
                out.append(Recording(instr.read_text("utf-8").strip(), t.envelope_text, prev, "edit", f"{exp.name}/turn-{t.number}", exp.format))
            prev = t.expected
    return out


def chunks(text: str, size: int | None = None) -> list[str]:
    """``text`` cut like a model stream: fixed ``size`` characters, or token-like pieces."""
    if not text:
        return []
    if size:
        return [text[i : i + size] for i in range(0, len(text), size)]
    out = _PIECE.findall(text)
    assert "".join(out) == text
    return out


def hallucinate(text: str) -> str:
    """Every id target in ``text`` (JSON envelope or edit blocks) renamed to a missing one."""
    text = re.sub(r'("type"\s*:\s*"id"\s*,\s*"value"\s*:\s*")([^"]+)"', r'\1\2-v2"', text)
    text = re.sub(r'("value"\s*:\s*")([^"/][^"]*)("\s*,?\s*"type"\s*:\s*"id")', r"\1\2-v2\3", text)
    text = re.sub(r"(?m)^(<{3,} *(?:replace|delete|insert_before|insert_after) +)([^/\s]\S*)\s*$", r"\1\2-v2", text)
    return text


def malform(text: str) -> str:
    """``text`` cut at two thirds and ended with junk."""
    cut = max(1, (len(text) * 2) // 3)
    return text[:cut] + ' ,,"<|eot_id|>'


class FakeOpenAI:
    """See the module docstring. Use as a context manager, or ``start()``/``stop()``.

    Knobs: ``chunk_size`` (None: token-like pieces), ``latency`` (s between chunks),
    ``recordings`` (extra :class:`Recording`s, searched before the evals), ``use_evals``.
    """

    def __init__(
        self,
        *,
        chunk_size: int | None = None,
        latency: float = 0.0,
        recordings: Iterable[Recording] = (),
        use_evals: bool = True,
    ) -> None:
        self.chunk_size = chunk_size
        self.latency = latency
        self.replies: collections.deque[Reply] = collections.deque()
        self.requests: list[dict] = []
        self.disconnects = 0
        self.completed = 0
        self.recordings: list[Recording] = list(recordings)
        if use_evals:
            self.recordings += eval_recordings()
        self._server = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    # --- control -----------------------------------------------------------------------------
    def script(self, *replies: Reply | str) -> "FakeOpenAI":
        """Queue replies (strings are plain replies), answered in order before recordings."""
        for r in replies:
            self.replies.append(r if isinstance(r, Reply) else Reply(r))
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def find(self, messages: list[dict]) -> Recording | None:
        """The recording for a request: its instruction is in the user messages (the
        longest such instruction wins; a recorded artifact, when given, must be in it too)."""
        def text_of(c) -> str:
            if isinstance(c, list):
                return " ".join(p.get("text", "") for p in c if isinstance(p, dict))
            return str(c or "")

        user = "\n".join(text_of(m.get("content")) for m in messages if m.get("role") == "user")
        system = " ".join(str(m.get("content") or "") for m in messages if m.get("role") == "system").lower()
        wants_synth = "init context" in system or "synthesize" in system and "maintain" not in system
        best = None
        for r in self.recordings:
            if r.instruction and r.instruction in user:
                if (r.kind == "synthesize") != wants_synth:
                    continue
                if r.artifact is not None and r.kind == "edit":
                    probe = r.artifact[:200]
                    if probe not in user:
                        continue
                if best is None or len(r.instruction) > len(best.instruction):
                    best = r
        return best

    # --- the app -----------------------------------------------------------------------------
    def _app(self):
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse, StreamingResponse
        from starlette.routing import Route

        async def models(request):
            return JSONResponse({"object": "list", "data": [{"id": "fake-gap-model", "object": "model", "owned_by": "tests"}]})

        async def completions(request):
            body = await request.json()
            self.requests.append({"body": body, "headers": dict(request.headers), "at": time.time()})
            reply = self.replies.popleft() if self.replies else None
            if reply is None:
                rec = self.find(body.get("messages") or [])
                if rec is None:
                    return JSONResponse(
                        {"error": {"message": "fake server: no recording matches this request", "type": "invalid_request_error", "code": "no_recording"}},
                        status_code=404,
                    )
                reply = Reply(rec.response)
            text = reply.text
            if reply.fault == "rate_limit":
                return JSONResponse(
                    {"error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}},
                    status_code=429,
                    headers={"retry-after": f"{reply.retry_after:g}"},
                )
            if reply.fault == "auth":
                key = (request.headers.get("authorization") or "").removeprefix("Bearer ").strip()
                masked = key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 7 else "***"
                return JSONResponse(
                    {"error": {"message": f"Incorrect API key provided: {masked}. You can find your API key at https://platform.openai.com/account/api-keys.", "type": "invalid_request_error", "code": "invalid_api_key"}},
                    status_code=401,
                )
            if reply.fault == "timeout" and not reply.mid:
                await asyncio.sleep(reply.delay)
            if reply.fault == "malformed":
                text = malform(text)
            elif reply.fault == "hallucinate":
                text = hallucinate(text)
            model = body.get("model") or "fake-gap-model"
            cid = "chatcmpl-" + uuid.uuid4().hex[:12]
            created = int(time.time())
            pieces = chunks(text, reply.chunk_size or self.chunk_size)
            latency = self.latency if reply.latency is None else reply.latency
            usage = {"prompt_tokens": sum(len(str(m.get("content") or "")) for m in body.get("messages") or []) // 4, "completion_tokens": len(pieces), "total_tokens": 0}
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]

            if not body.get("stream"):
                if latency:
                    await asyncio.sleep(latency * len(pieces))
                self.completed += 1
                return JSONResponse(
                    {
                        "id": cid,
                        "object": "chat.completion",
                        "created": created,
                        "model": model,
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                        "usage": usage,
                    }
                )

            def event(delta: dict, finish: str | None = None) -> str:
                chunk = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                return "data: " + json.dumps(chunk) + "\n\n"

            include_usage = bool((body.get("stream_options") or {}).get("include_usage")) and reply.usage

            async def gen():
                finished = False
                try:
                    yield event({"role": "assistant", "content": ""})
                    for i, piece in enumerate(pieces):
                        if latency:
                            await asyncio.sleep(latency)
                        if i == 3 and reply.fault == "timeout" and reply.mid:
                            await asyncio.sleep(reply.delay)
                        if i == 3 and reply.fault == "drop":
                            raise ConnectionAbortedError("fake server: connection dropped mid-stream")
                        yield event({"content": piece})
                    yield event({}, "stop")
                    if include_usage:
                        yield "data: " + json.dumps({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [], "usage": usage}) + "\n\n"
                    yield "data: [DONE]\n\n"
                    finished = True
                finally:
                    if finished:
                        self.completed += 1
                    elif reply.fault != "drop":
                        self.disconnects += 1

            return StreamingResponse(gen(), media_type="text/event-stream", headers={"cache-control": "no-cache"})

        return Starlette(
            routes=[
                Route("/v1/chat/completions", completions, methods=["POST"]),
                Route("/chat/completions", completions, methods=["POST"]),
                Route("/v1/models", models, methods=["GET"]),
            ]
        )

    def start(self) -> "FakeOpenAI":
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self._app(), log_level="critical", lifespan="off", access_log=False, timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="fake-openai")
        self._thread.start()
        deadline = time.time() + 10
        while not self._server.started:
            if time.time() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake OpenAI server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the fake server in the foreground: ``python -m tests.fakes.fake_openai [--port N]``
    (prints the base URL; for trying ``gap-ls edit`` by hand)."""
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.02)
    args = ap.parse_args(argv)
    from tests.fakes.recordings import RECORDINGS

    with FakeOpenAI(latency=args.latency, recordings=RECORDINGS) as fake:
        print(fake.base_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
