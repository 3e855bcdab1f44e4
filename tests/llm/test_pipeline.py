"""The edit pipeline against the fake OpenAI-compatible server, over real HTTP with the real
``openai`` client: success, repair, fallback, cancel, each fault — one result, never a
half-applied edit, never the key in logs."""

from __future__ import annotations

import asyncio
import logging

import attrs
import pytest

from gap_engine import Artifact
from gap_ls.llm import CancelToken, EditFailed, EditPipeline, LLMConfig
from tests.fakes.fake_openai import Reply
from tests.fakes import recordings as R

from .conftest import API_KEY


def dash() -> Artifact:
    return Artifact("dashboard", 3, "text/html", R.DASHBOARD)


async def test_successful_edit_from_json_envelope(pipeline, fake):
    art = dash()
    out = await pipeline.edit(art, R.REVENUE_INSTRUCTION)
    assert '<gap:target id="revenue-value">$15,720</gap:target>' in out.artifact.body
    assert '<gap:target id="revenue-trend">+6.0%</gap:target>' in out.artifact.body
    assert out.envelope.version == 4 and out.envelope.id == "dashboard"
    assert not out.fallback and len(out.attempts) == 1
    acc = out.accounting
    assert acc.output_tokens < acc.full_tokens and acc.attempts == 1
    assert acc.ttft is not None and acc.ttlt >= acc.ttft
    assert "estimate" in acc.counter
    # the request was the maintain context: system prompt + artifact + closed inventory + instruction
    body = fake.requests[-1]["body"]
    assert body["stream"] is True and body["model"] == "fake-gap-model"
    user = body["messages"][-1]["content"]
    assert R.DASHBOARD in user and "- revenue-value" in user and R.REVENUE_INSTRUCTION in user
    assert "maintain context" in body["messages"][0]["content"]
    assert fake.requests[-1]["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert art.body == R.DASHBOARD  # the input artifact is a value: untouched


async def test_successful_edit_from_edit_blocks_and_operations_streamed(pipeline):
    seen = []
    out = await pipeline.edit(dash(), R.ORDERS_INSTRUCTION, on_operation=seen.append)
    assert "<tr><td>#1002</td><td>Grace</td><td>$12.50</td></tr>" in out.artifact.body
    assert [op.op for op in seen] == ["insert_after"]
    assert pipeline.session.edits == 1


async def test_code_with_quotes_in_blocks_needs_no_escaping(pipeline):
    art = Artifact("users.py", 1, "text/x-python", R.PY_MODULE)
    out = await pipeline.edit(art, R.PY_INSTRUCTION)
    assert 'PAGE_SIZE = 50' in out.artifact.body
    assert '"""Return the first page of users (\\"PAGE_SIZE\\" of them)."""' in out.artifact.body


async def test_repair_after_hallucinated_target(pipeline, fake):
    fake.script(Reply(R.ORDERS_BLOCKS, fault="hallucinate"), Reply(R.ORDERS_BLOCKS))
    out = await pipeline.edit(dash(), R.ORDERS_INSTRUCTION)
    assert [a.kind for a in out.attempts] == ["edit", "repair"]
    assert "target_not_found" in out.attempts[0].error and "orders-rows-v2" in out.attempts[0].error
    assert out.attempts[1].error is None
    repair = fake.requests[-1]["body"]["messages"]
    assert repair[-2]["role"] == "assistant" and "orders-rows-v2" in repair[-2]["content"]
    assert "target_not_found" in repair[-1]["content"] and "- orders-rows" in repair[-1]["content"]
    assert out.accounting.attempts == 2 and out.accounting.output_tokens > out.accounting.envelope_tokens
    assert pipeline.session.rejected_answers == 1 and pipeline.session.misses == 0


async def test_fallback_regenerates_the_selected_target_and_records_the_miss(pipeline, fake):
    bad = Reply(R.ORDERS_BLOCKS, fault="hallucinate")
    region = "\n<tr><td>#1001</td><td>Ada</td><td>$40.00</td></tr>\n<tr><td>#1002</td><td>Grace</td><td>$12.50</td></tr>\n"
    fake.script(bad, bad, bad, Reply("```html" + region + "```"))
    out = await pipeline.edit(dash(), R.ORDERS_INSTRUCTION, target_id="orders-rows")
    assert out.fallback and [a.kind for a in out.attempts] == ["edit", "repair", "repair", "fallback"]
    assert "#1002" in out.artifact.body and out.envelope.content[0].target.value == "orders-rows"
    assert out.accounting.fallback and pipeline.session.misses == 1
    assert "Region to rewrite" in fake.requests[-1]["body"]["messages"][-1]["content"]


async def test_fallback_whole_artifact_when_no_target(pipeline, fake):
    bad = Reply("<<< replace nowhere\nx\n>>>")
    new = R.DASHBOARD.replace("$12,340", "$99")
    fake.script(bad, bad, bad, Reply(new))
    out = await pipeline.edit(dash(), "Set revenue to $99")
    assert out.fallback and out.envelope.name == "synthesize" and out.artifact.body == new


async def test_fallback_that_loses_markers_is_refused(pipeline, fake):
    bad = Reply("<<< replace nowhere\nx\n>>>")
    fake.script(bad, bad, bad, Reply("<html>no markers</html>"))
    with pytest.raises(EditFailed) as ei:
        await pipeline.edit(dash(), "Set revenue to $99")
    assert ei.value.code == "target_not_found"
    assert "lost every <gap:target> marker" in ei.value.message
    assert len(ei.value.attempts) == 4


async def test_no_fallback_gives_the_engine_error(config, fake):
    pipe = EditPipeline(LLMConfig.resolve({}, env={}, base_url=config.base_url, api_key=API_KEY, max_repairs=1))
    fake.script(Reply(R.ORDERS_BLOCKS, fault="hallucinate"), Reply(R.ORDERS_BLOCKS, fault="hallucinate"))
    with pytest.raises(EditFailed) as ei:
        await pipe.edit(dash(), R.ORDERS_INSTRUCTION, fallback=False)
    await pipe.aclose()
    assert ei.value.code == "target_not_found" and "rejected 2 times" in ei.value.message


async def test_cancel_stops_the_stream_upstream(pipeline, fake):
    fake.script(Reply(R.ORDERS_BLOCKS * 40, latency=0.02))
    cancel = CancelToken()
    ticks = []

    def progress(p):
        ticks.append(p.tokens)
        if p.tokens >= 5:
            cancel.cancel()

    with pytest.raises(EditFailed) as ei:
        await pipeline.edit(dash(), R.ORDERS_INSTRUCTION, cancel=cancel, on_progress=progress)
    assert ei.value.code == "cancelled"
    for _ in range(100):
        if fake.disconnects:
            break
        await asyncio.sleep(0.02)
    assert fake.disconnects == 1 and fake.completed == 0
    assert max(ticks) < 40


async def test_cancel_by_polled_flag_while_no_token_arrives(pipeline, fake):
    fake.script(Reply(R.ORDERS_BLOCKS, fault="timeout", delay=3, mid=True))
    flag = {"v": False}
    cancel = CancelToken(poll=lambda: flag["v"])
    task = asyncio.ensure_future(pipeline.edit(dash(), R.ORDERS_INSTRUCTION, cancel=cancel))
    await asyncio.sleep(0.3)
    flag["v"] = True
    t0 = asyncio.get_running_loop().time()
    with pytest.raises(EditFailed) as ei:
        await task
    assert ei.value.code == "cancelled" and asyncio.get_running_loop().time() - t0 < 1.0


async def test_task_cancellation_closes_the_stream(pipeline, fake):
    fake.script(Reply(R.ORDERS_BLOCKS * 40, latency=0.02))
    task = asyncio.ensure_future(pipeline.edit(dash(), R.ORDERS_INSTRUCTION))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if fake.disconnects:
            break
        await asyncio.sleep(0.02)
    assert fake.disconnects == 1


@pytest.mark.parametrize(
    "reply, code, fragment",
    [
        (Reply(R.REVENUE_JSON, fault="malformed"), "invalid_envelope", "rejected"),
        (Reply(R.ORDERS_BLOCKS, fault="timeout", delay=3), "timeout", "did not answer within 1 s"),
        (Reply(R.ORDERS_BLOCKS, fault="timeout", delay=3, mid=True), "timeout", "did not answer within 1 s"),
        (Reply(R.ORDERS_BLOCKS, fault="rate_limit", retry_after=120), "rate_limited", "retry after 120 s"),
        (Reply(R.ORDERS_BLOCKS, fault="drop"), "connection", "broke off mid-stream"),
        (Reply(R.ORDERS_BLOCKS, fault="auth"), "auth", "refused the API key"),
    ],
    ids=["malformed", "timeout-before-headers", "timeout-mid-stream", "rate-limit", "dropped", "auth"],
)
async def test_faults_give_one_clear_error_and_no_key_in_logs(fake, config, caplog, reply, code, fragment):
    caplog.set_level(logging.DEBUG)
    cfg = LLMConfig.resolve({}, env={}, base_url=config.base_url, api_key=API_KEY, timeout=1.0, max_repairs=1)
    pipe = EditPipeline(cfg)
    art = dash()
    # every call of this edit (first answer, repair, fallback) hits the same fault
    fake.script(*[attrs.evolve(reply) for _ in range(4)])
    with pytest.raises(EditFailed) as ei:
        await pipe.edit(art, R.REVENUE_INSTRUCTION)
    await pipe.aclose()
    err = ei.value
    assert err.code == code, err
    assert fragment in err.message
    assert art.body == R.DASHBOARD
    everything = caplog.text + str(err) + repr(err) + repr(pipe) + repr(cfg) + str(err.to_dict())
    assert API_KEY not in everything
    assert API_KEY[:8] not in everything and API_KEY[-8:] not in everything


async def test_rate_limit_with_short_retry_after_is_retried(pipeline, fake):
    fake.script(Reply(fault="rate_limit", retry_after=0.2), Reply(R.ORDERS_BLOCKS))
    out = await pipeline.edit(dash(), R.ORDERS_INSTRUCTION)
    assert "#1002" in out.artifact.body and len(fake.requests) == 2


async def test_selected_target_that_does_not_exist(pipeline, fake):
    with pytest.raises(EditFailed) as ei:
        await pipeline.edit(dash(), "x", target_id="nope")
    assert ei.value.code == "target_not_found" and not fake.requests


async def test_synthesize_streams_text_without_fences(pipeline, fake):
    fake.script(Reply("```html\n" + R.SYNTH_HTML + "```\n"))
    got = []
    out = await pipeline.synthesize(R.SYNTH_INSTRUCTION, "text/html", artifact_id="status.html", on_text=got.append)
    assert "".join(got).rstrip("\n") == R.SYNTH_HTML.rstrip("\n")
    assert out.artifact.body.rstrip("\n") == R.SYNTH_HTML.rstrip("\n")
    assert {t.id for t in out.artifact.targets} == {"title", "title-text", "status", "status-text"}
    assert "init context" in fake.requests[-1]["body"]["messages"][0]["content"]
    assert "single marker around the whole document is WRONG" in fake.requests[-1]["body"]["messages"][0]["content"]


async def test_synthesize_from_recording_and_warns_on_no_targets(pipeline, fake):
    out = await pipeline.synthesize(R.SYNTH_INSTRUCTION, "text/html")
    assert len(out.artifact.targets) == 4 and not out.warnings
    fake.script(Reply("<html>plain</html>"))
    out = await pipeline.synthesize("anything", "text/html")
    assert any("no <gap:target> markers" in w for w in out.warnings)


async def test_add_targets_accepts_only_marker_changes(pipeline, fake):
    art = Artifact("status.html", 1, "text/html", R.UNMARKED)
    changed = R.MARKED.replace("All systems normal.", "All good.")
    fake.script(Reply(changed), Reply(R.MARKED))
    out = await pipeline.add_targets(art)
    assert out.artifact.body == R.MARKED
    assert "changed the artifact's text" in out.attempts[0].error


async def test_json_artifact_is_edited_by_pointer(pipeline, fake):
    body = '{\n  "pagination": {"page": 1, "size": 20},\n  "data": [\n    {"id": 1, "email": "a@x.io"}\n  ]\n}\n'
    art = Artifact("users.json", 1, "application/json", body)
    fake.script(Reply('<<< replace /pagination/page\n3\n>>>\n<<< insert_after /data/0\n{"id": 2, "email": "b@x.io"}\n>>>\n'))
    out = await pipeline.edit(art, "Go to page 3 and add user 2")
    import json

    data = json.loads(out.artifact.body)
    assert data["pagination"]["page"] == 3 and [u["id"] for u in data["data"]] == [1, 2]
    assert '"size": 20' in out.artifact.body  # formatting elsewhere kept
    user = fake.requests[-1]["body"]["messages"][-1]["content"]
    assert "Valid JSON Pointer paths" in user and "- /pagination/page" in user and "- /data/0/email" in user
    assert "/json/pointer" in fake.requests[-1]["body"]["messages"][0]["content"]


async def test_json_pointer_hallucination_is_repaired(pipeline, fake):
    body = '{"a": {"b": 1}}'
    art = Artifact("c.json", 1, "application/json", body)
    fake.script(Reply('<<< replace /a/c\n2\n>>>'), Reply('<<< replace /a/b\n2\n>>>'))
    out = await pipeline.edit(art, "set b to 2")
    assert out.artifact.body == '{"a": {"b": 2}}' and "target_not_found" in out.attempts[0].error


async def test_failures_are_recorded_in_the_session(pipeline, fake):
    fake.script(*[Reply("<<< replace nowhere\nx\n>>>")] * 3, Reply("<html>no markers</html>"))
    with pytest.raises(EditFailed):
        await pipeline.edit(dash(), "x")
    s = pipeline.session.to_dict()
    assert s["failed"] == 1 and s["edits"] == 0 and s["rejected_answers"] == 4 and s["wasted_tokens"] > 0


async def test_pointer_answer_for_yaml_nested_too_deep_is_rejected_not_a_crash(pipeline, fake):
    """A model answer addressing by JSON Pointer a YAML artifact nested deeper than
    tree-sitter-yaml survives (it crashes the process, tree-sitter-grammars/tree-sitter-yaml#48)
    is rejected like a missing target, with the reason (the repair prompt says it too),
    instead of taking the process down in the dry run."""
    body = "- " * 300 + "v\nname: x\n"
    art = Artifact("deep.yaml", 1, "application/yaml", body)
    answer = '[{"op": "replace", "target": {"type": "pointer", "value": "/name"}, "content": "y"}]'
    fake.script(*[Reply(answer)] * 3, Reply("a: [unclosed"))  # the edit, 2 repairs, the fallback
    with pytest.raises(EditFailed) as ei:
        await pipeline.edit(art, "rename it")
    assert ei.value.code == "target_not_found" and "tree-sitter-yaml#48" in ei.value.message
    assert art.body == body
