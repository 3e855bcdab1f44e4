"""The overall deadline of one instruction (``gap.llm.deadline``): a model server that trickles
tokens forever, or a chain of repair rounds, ends in ONE ``deadline`` failure within a bounded
time — nothing applied, the stream closed upstream, the key in no message — while a user's
cancel still wins as ``cancelled``. Against the fake OpenAI-compatible server over real HTTP."""

from __future__ import annotations

import asyncio
import logging
import time
from types import SimpleNamespace

import pytest

from gap_engine import Artifact
from gap_ls.llm import CancelToken, Deadline, EditFailed, EditPipeline, LLMConfig, LLMError
from tests.fakes import recordings as R
from tests.fakes.fake_openai import Reply

from .conftest import API_KEY

DEADLINE = 1.5
#: what the deadline may overshoot by (the watcher polls every 50 ms; closing the stream and a
#: loaded machine take the rest). Only the deadline can end these streams (a token arrives every
#: 0.2 s for hours, so the per-read timeout never fires): the bound just says "promptly"
SLACK = 3.0


def trickle(head: str = "") -> Reply:
    """A model that never finishes: ``head`` at once, then a token every 0.2 s for hours
    (50 000 tokens — "forever" for any test)."""
    if head:
        return Reply(head + "x " * 50_000, chunk_size=len(head), latency=0.2)
    return Reply("tok " * 50_000, chunk_size=4, latency=0.2)


def dash() -> Artifact:
    return Artifact("dashboard", 3, "text/html", R.DASHBOARD)


def _cfg(fake, **kw) -> LLMConfig:
    kw = {"timeout": 5.0, "deadline": DEADLINE, **kw}
    return LLMConfig.resolve({}, env={}, base_url=fake.base_url, model="fake-gap-model", api_key=API_KEY, **kw)


async def _wait_disconnect(fake, n: int = 1) -> None:
    for _ in range(250):  # the fake notices the closed stream; up to 5 s on a loaded machine
        if fake.disconnects >= n:
            return
        await asyncio.sleep(0.02)


async def test_trickling_server_fails_with_deadline_and_nothing_applied(fake, caplog):
    caplog.set_level(logging.DEBUG)
    pipe = EditPipeline(_cfg(fake))
    art = dash()
    fake.script(trickle())
    ticks: list[int] = []
    t0 = time.monotonic()
    with pytest.raises(EditFailed) as ei:
        await pipe.edit(art, R.ORDERS_INSTRUCTION, on_progress=lambda p: ticks.append(p.tokens))
    took = time.monotonic() - t0
    await pipe.aclose()
    err = ei.value
    assert err.code == "deadline", err
    assert "1.5 s" in err.message and "gap.llm.deadline" in err.message
    assert DEADLINE - 0.1 <= took < DEADLINE + SLACK, took
    # it really was streaming (a token each 0.2 s after the first request's set-up), so the
    # 5 s per-read timeout could never fire: only the deadline ended it
    assert max(ticks) >= 1
    assert art.body == R.DASHBOARD
    assert err.to_dict()["applied"] is False
    await _wait_disconnect(fake)
    assert fake.disconnects == 1 and fake.completed == 0 and len(fake.requests) == 1
    assert pipe.session.failed == 1 and pipe.session.edits == 0
    everything = caplog.text + str(err) + repr(err) + str(err.to_dict()) + repr(pipe)
    assert API_KEY not in everything and API_KEY[:8] not in everything and API_KEY[-8:] not in everything


async def test_deadline_spans_repair_rounds(fake):
    """Each answer alone is quick (~0.6 s) but wrong; the repairs together pass the deadline:
    the deadline is for the whole instruction, not per call."""
    pipe = EditPipeline(_cfg(fake, max_repairs=6))
    fake.script(Reply("ok"))
    await pipe.client.stream_chat([{"role": "user", "content": "warm up"}])  # client and connection set up
    fake.requests.clear()
    bad = Reply(R.ORDERS_BLOCKS, fault="hallucinate", chunk_size=max(1, len(R.ORDERS_BLOCKS) // 3), latency=0.2)
    fake.script(*[bad] * 8)
    t0 = time.monotonic()
    with pytest.raises(EditFailed) as ei:
        await pipe.edit(dash(), R.ORDERS_INSTRUCTION)
    took = time.monotonic() - t0
    await pipe.aclose()
    assert ei.value.code == "deadline" and "1.5 s" in ei.value.message
    assert took < DEADLINE + SLACK
    rejected = ei.value.attempts
    assert 1 <= len(rejected) < 7 and all(a.error and "target_not_found" in a.error for a in rejected)
    assert [a.kind for a in rejected][0] == "edit" and 2 <= len(fake.requests) <= 4


async def test_deadline_ends_the_partial_preview_like_a_failure(fake):
    """Through ``gap.editWithInstruction``'s own code path (a stand-in server object): an
    operation complete in the stream is shown in the preview, then the deadline passes — the
    preview gets the document back, the buffer is never edited, and the error says why."""
    from gap_ls.edits import ApplyFailed
    from gap_ls.llm.commands import edit_with_instruction

    published: list[str] = []
    shown: list[str] = []

    class Doc:
        uri, version, format, text = "file:///tmp/d.html", 3, "text/html", R.DASHBOARD

        def artifact(self):
            return Artifact(self.uri, 3, "text/html", self.text)

    doc = Doc()
    settings = SimpleNamespace(
        llm_base_url=fake.base_url, llm_model="fake-gap-model", llm_api_key=API_KEY, llm_max_repairs=1,
        llm_edit_syntax=None, llm_timeout=5.0, llm_deadline=DEADLINE, tokenizer=None,
    )
    server = SimpleNamespace(publish=lambda key, *, uri, version, text, format: published.append(text))
    ls = SimpleNamespace(
        settings=settings,
        documents={doc.uri: doc},
        preview=SimpleNamespace(running=True, server=server),
        show=lambda msg, kind=None: shown.append(msg),
    )
    fake.script(trickle("<<< replace revenue-value\n$1\n>>>\n"))
    t0 = time.monotonic()
    with pytest.raises(ApplyFailed) as ei:
        await edit_with_instruction(ls, doc.uri, "set revenue to $1")
    took = time.monotonic() - t0
    await ls.gap_llm.pipeline(ls).aclose()
    assert took < DEADLINE + SLACK
    assert "deadline" in str(ei.value) and "document unchanged" in str(ei.value) and "1.5 s" in str(ei.value)
    assert ">$1</gap:target>" in published[0]  # the operation was previewed while streaming
    assert published[-1] == R.DASHBOARD  # … and the preview was put back
    assert doc.text == R.DASHBOARD
    assert shown and "deadline" in shown[-1] and API_KEY not in "".join(shown) + str(ei.value)


async def test_user_cancel_still_wins_with_a_deadline(fake):
    pipe = EditPipeline(_cfg(fake))
    fake.script(trickle())
    flag = {"v": False}
    task = asyncio.ensure_future(pipe.edit(dash(), R.ORDERS_INSTRUCTION, cancel=CancelToken(poll=lambda: flag["v"])))
    await asyncio.sleep(0.4)
    flag["v"] = True
    t0 = time.monotonic()
    with pytest.raises(EditFailed) as ei:
        await task
    assert ei.value.code == "cancelled" and time.monotonic() - t0 < 1.0
    await _wait_disconnect(fake)
    assert fake.disconnects == 1
    await pipe.aclose()


async def test_task_cancellation_still_closes_the_stream_with_a_deadline(fake):
    pipe = EditPipeline(_cfg(fake))
    fake.script(trickle())
    task = asyncio.ensure_future(pipe.edit(dash(), R.ORDERS_INSTRUCTION))
    for _ in range(500):  # until the model is streaming (not a fixed sleep: the machine may be slow)
        if fake.requests:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)  # a token or so into the stream
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _wait_disconnect(fake)
    assert fake.disconnects == 1
    await pipe.aclose()


async def test_synthesize_and_add_targets_are_bounded_too(fake):
    pipe = EditPipeline(_cfg(fake, deadline=0.6))
    fake.script(trickle(), trickle())
    with pytest.raises(EditFailed) as ei:
        await pipe.synthesize(R.SYNTH_INSTRUCTION, "text/html")
    assert ei.value.code == "deadline" and "0.6 s" in ei.value.message
    with pytest.raises(EditFailed) as ei:
        await pipe.add_targets(Artifact("status.html", 1, "text/html", R.UNMARKED))
    assert ei.value.code == "deadline"
    await pipe.aclose()


async def test_zero_means_no_deadline(fake):
    pipe = EditPipeline(_cfg(fake, deadline=0))
    assert pipe._deadline(None) is None
    token = CancelToken()
    assert pipe._deadline(token) is token
    fake.script(Reply(R.ORDERS_BLOCKS, latency=0.01))
    out = await pipe.edit(dash(), R.ORDERS_INSTRUCTION)
    assert "#1002" in out.artifact.body
    await pipe.aclose()


async def test_deadline_token():
    d = Deadline(0.2)
    assert not d.cancelled and 0 < d.remaining <= 0.2
    t0 = time.monotonic()
    await asyncio.wait_for(d.wait(), 2)
    assert 0.15 <= time.monotonic() - t0 < 0.6
    assert d.cancelled and d.error().kind == "deadline" and "0.2 s" in d.error().message
    inner = CancelToken()
    d = Deadline(10, inner)
    inner.cancel()
    assert d.cancelled and d.error().kind == "cancelled"
    d = Deadline(0)
    assert d.remaining is None and not d.expired and not d.cancelled
    d = Deadline(0.01)
    d.check()  # not yet
    await asyncio.sleep(0.03)
    with pytest.raises(LLMError) as ei:
        d.check()
    assert ei.value.kind == "deadline"
