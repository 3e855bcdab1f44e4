"""gap-ls end to end through pytest-lsp: edits from an instruction, synthesize, add targets,
code actions, progress and cancel — against the fake OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.fakes import recordings as R
from tests.fakes.fake_openai import FakeOpenAI, Reply
from tests.lsp.editor import start_session

from .conftest import API_KEY, ROOT

LOG_DIR = Path(tempfile.mkdtemp(prefix="gap-llm-e2e-"))
LOG_FILE = LOG_DIR / "server.log"
URI = "file:///tmp/gap-llm-e2e/dashboard.html"


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[sys.executable, str(Path(__file__).with_name("lsp_server.py")), "--log-file", str(LOG_FILE)],
        server_env={"PYTHONPATH": str(ROOT), "GAP_LLM_API_KEY": "", "OPENAI_API_KEY": "", "GAP_LLM_BASE_URL": ""},
    ),
)
async def client(lsp_client: LanguageClient):
    fake = FakeOpenAI(recordings=R.RECORDINGS).start()
    lsp_client.fake = fake
    lsp_client.set_configuration(
        {"llm": {"baseUrl": fake.base_url, "model": "fake-gap-model", "apiKey": API_KEY, "maxRepairs": 1}, "confirmEdits": False},
        section="gap",
    )
    await start_session(lsp_client, LOG_DIR)
    yield lsp_client
    await lsp_client.shutdown_session()
    fake.stop()


async def _settle(client):
    # let the server finish reading configuration after `initialized`
    await asyncio.sleep(0.3)


def _progress_kinds(client) -> list[list[str]]:
    return [[type(v).__name__ for v in values] for values in client.progress_reports.values()]


async def test_edit_with_instruction_applies_one_edit(client: LanguageClient):
    await _settle(client)
    ed = client.editor
    ed.open(URI, R.DASHBOARD)
    res = await ed.command("gap.editWithInstruction", URI, R.REVENUE_INSTRUCTION)
    assert res["applied"] is True
    assert '<gap:target id="revenue-value">$15,720</gap:target>' in ed.docs[URI]
    assert len(ed.applied) == 1
    acc = res["accounting"]
    assert acc["attempts"] == 1 and acc["output_tokens"] < acc["full_tokens"] and acc["counter"].startswith("estimate")
    assert res["tokens_saved"] == acc["saved_tokens"] > 0 and res["session_tokens_saved"] >= res["tokens_saved"]
    assert any(k[0] == "WorkDoneProgressBegin" and k[-1] == "WorkDoneProgressEnd" for k in _progress_kinds(client))
    assert any("output tokens vs" in m.message for m in client.log_messages)
    stats = await ed.command("gap.llmStats")
    assert stats["edits"] == 1 and stats["saved_tokens"] > 0


async def test_repair_then_apply_and_failure_leaves_document_unchanged(client: LanguageClient):
    await _settle(client)
    ed = client.editor
    ed.open(URI, R.DASHBOARD)
    client.fake.script(Reply(R.ORDERS_BLOCKS, fault="hallucinate"), Reply(R.ORDERS_BLOCKS))
    res = await ed.command("gap.editWithInstruction", URI, R.ORDERS_INSTRUCTION, "orders-rows")
    assert res["accounting"]["attempts"] == 2 and "#1002" in ed.docs[URI]
    before = ed.docs[URI]
    client.fake.script(*[Reply(fault="drop", text="x y z w v u")] * 3)
    with pytest.raises(JsonRpcException) as ei:
        await ed.command("gap.editWithInstruction", URI, "anything")
    assert "connection" in str(ei.value) and "unchanged" in str(ei.value)
    assert ed.docs[URI] == before and len(ed.applied) == 1
    assert any("document unchanged" in m.message for m in client.messages)
    log_text = LOG_FILE.read_text("utf-8") if LOG_FILE.exists() else ""
    everything = log_text + "".join(m.message for m in client.log_messages + client.messages) + str(ei.value)
    assert API_KEY not in everything and API_KEY[:8] not in everything


async def test_missing_instruction_is_a_clear_error(client: LanguageClient):
    await _settle(client)
    client.editor.open(URI, R.DASHBOARD)
    with pytest.raises(JsonRpcException) as ei:
        await client.editor.command("gap.editWithInstruction", URI, None, "revenue-value")
    assert "needs an instruction" in str(ei.value)


async def test_code_actions_edit_with_instruction_and_add_targets(client: LanguageClient):
    await _settle(client)
    ed = client.editor
    ed.open(URI, R.DASHBOARD)
    pos = types.Position(line=4, character=73)  # inside revenue-value
    acts = await client.text_document_code_action_async(
        types.CodeActionParams(text_document=types.TextDocumentIdentifier(uri=URI), range=types.Range(pos, pos), context=types.CodeActionContext(diagnostics=[]))
    )
    mine = [a for a in acts if a.kind == "refactor.rewrite.gap.instruction"]
    assert len(mine) == 1 and mine[0].command.command == "gap.editWithInstruction"
    assert list(mine[0].command.arguments) == [URI, None, "revenue-value"]
    assert not [a for a in acts if a.kind == "refactor.rewrite.gap.addTargetsWithModel"]  # already has targets

    plain = "file:///tmp/gap-llm-e2e/status.html"
    ed.open(plain, R.UNMARKED)
    acts = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=plain),
            range=types.Range(types.Position(0, 0), types.Position(0, 0)),
            context=types.CodeActionContext(diagnostics=[], only=["refactor.rewrite.gap.addTargetsWithModel"]),
        )
    )
    assert [a.title for a in acts] == ["Add targets with the model"]
    client.fake.script(Reply(R.MARKED))
    res = await ed.command(*([acts[0].command.command] + list(acts[0].command.arguments)))
    assert res["applied"] and ed.docs[plain] == R.MARKED


async def test_synthesize_streams_into_the_buffer(client: LanguageClient):
    await _settle(client)
    ed = client.editor
    uri = "file:///tmp/gap-llm-e2e/new.html"
    ed.open(uri, "old text")
    client.fake.script(Reply(R.SYNTH_HTML, latency=0.01))
    res = await ed.command("gap.synthesize", uri, R.SYNTH_INSTRUCTION, "text/html")
    assert res["applied"] and set(res["targets"]) == {"title", "title-text", "status", "status-text"}
    assert ed.docs[uri] == R.SYNTH_HTML
    assert len(ed.applied) >= 3  # cleared, then streamed in several appends


async def test_synthesize_failure_restores_the_buffer(client: LanguageClient):
    await _settle(client)
    ed = client.editor
    uri = "file:///tmp/gap-llm-e2e/keep.html"
    ed.open(uri, "keep me")
    client.fake.script(Reply(R.SYNTH_HTML, fault="drop"))
    with pytest.raises(JsonRpcException):
        await ed.command("gap.synthesize", uri, R.SYNTH_INSTRUCTION, "text/html")
    assert ed.docs[uri] == "keep me"


async def test_cancel_from_progress_stops_the_stream(client: LanguageClient):
    await _settle(client)
    ed = client.editor
    ed.open(URI, R.DASHBOARD)
    client.fake.script(Reply(R.ORDERS_BLOCKS * 50, latency=0.02))
    task = asyncio.ensure_future(ed.command("gap.editWithInstruction", URI, R.ORDERS_INSTRUCTION))
    token = None
    for _ in range(500):  # up to 10 s on a loaded machine
        begun = [t for t, vals in client.progress_reports.items() if vals and not any(isinstance(v, types.WorkDoneProgressEnd) for v in vals)]
        # a report with tokens: the stream is open (the first report, 0 tokens, comes before the
        # request is sent, and a cancel then never reaches the model server's stream)
        if begun and any(isinstance(v, types.WorkDoneProgressReport) and ": 0 tokens" not in (v.message or "")
                         for v in client.progress_reports[begun[0]]):
            token = begun[0]
            break
        await asyncio.sleep(0.02)
    assert token is not None
    client.protocol.notify(types.WINDOW_WORK_DONE_PROGRESS_CANCEL, types.WorkDoneProgressCancelParams(token=token))
    with pytest.raises(JsonRpcException) as ei:
        await task
    assert "cancelled" in str(ei.value)
    assert ed.docs[URI] == R.DASHBOARD and not ed.applied
    for _ in range(500):  # the fake server notices the dropped stream; allow 10 s under load
        if client.fake.disconnects:
            break
        await asyncio.sleep(0.02)
    assert client.fake.disconnects == 1 and client.fake.completed == 0
    assert isinstance(client.progress_reports[token][-1], types.WorkDoneProgressEnd)


async def test_synthesize_without_uri_creates_a_file(client: LanguageClient):
    await _settle(client)
    client.fake.script(Reply(R.SYNTH_HTML))
    res = await client.editor.command("gap.synthesize", R.SYNTH_INSTRUCTION, "text/html")
    assert res["created"] and res["uri"].startswith(LOG_DIR.as_uri())
    path = Path(res["uri"].removeprefix("file://"))
    assert path.read_text("utf-8") == R.SYNTH_HTML and path.suffix == ".html"


async def test_accounting_reaches_the_preview_status_bar(client: LanguageClient):
    """Issue 6: each edit's accounting shows in the command result, a log line, and the
    preview's status bar (a ``preview:status`` event on the page's stream)."""
    from urllib.parse import parse_qs, urlparse

    import httpx

    await _settle(client)
    ed = client.editor
    ed.open(URI, R.DASHBOARD)
    url = await ed.command("gap.previewUrl", URI)
    u = urlparse(url)
    q = parse_qs(u.query)
    res = await ed.command("gap.editWithInstruction", URI, R.REVENUE_INSTRUCTION)
    assert res["applied"]
    note = None
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{u.port}", timeout=10) as http:
        async with http.stream("GET", "/events", params={"doc": q["doc"][0], "token": q["token"][0]}) as r:
            event = None
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event == "preview:status":
                    note = json.loads(line[5:])["text"]
                    break
    assert note and "tokens" in note


def _trickle() -> Reply:
    """A model that never finishes: a token every 0.2 s for hours."""
    return Reply("tok " * 50_000, chunk_size=4, latency=0.2)


async def _set_deadline(client, seconds: float) -> None:
    """Change the client's ``gap`` settings and wait until the server has read them (it asks
    with ``workspace/configuration`` after ``didChangeConfiguration``)."""
    client.set_configuration(
        {"llm": {"baseUrl": client.fake.base_url, "model": "fake-gap-model", "apiKey": API_KEY, "maxRepairs": 1, "deadline": seconds}, "confirmEdits": False},
        section="gap",
    )
    asked = []
    original = client.get_configuration

    def spy(*args, **kwargs):
        asked.append(kwargs.get("section"))
        return original(*args, **kwargs)

    client.get_configuration = spy
    try:
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        for _ in range(250):
            if "gap" in asked:
                break
            await asyncio.sleep(0.02)
        assert "gap" in asked, "the server never read the changed settings"
        await asyncio.sleep(0.05)  # the answer is applied before the next request is read
    finally:
        client.get_configuration = original


async def _wait_disconnect(client) -> None:
    for _ in range(250):  # the fake server notices the dropped stream; allow 5 s under load
        if client.fake.disconnects:
            return
        await asyncio.sleep(0.02)


async def test_deadline_stops_a_trickling_model_and_leaves_the_document(client: LanguageClient):
    await _settle(client)
    await _set_deadline(client, 1.5)
    ed = client.editor
    ed.open(URI, R.DASHBOARD)
    client.fake.script(_trickle())
    t0 = time.monotonic()
    with pytest.raises(JsonRpcException) as ei:
        await ed.command("gap.editWithInstruction", URI, R.ORDERS_INSTRUCTION)
    took = time.monotonic() - t0
    assert 1.4 <= took < 6.0, took  # the deadline, promptly: only it can end a trickle (a token each 0.2 s)
    text = str(ei.value)
    assert "deadline" in text and "1.5 s" in text and "document unchanged" in text
    assert ed.docs[URI] == R.DASHBOARD and not ed.applied
    assert any("deadline" in m.message for m in client.messages)  # shown to the user as an error
    ended = [vals for vals in client.progress_reports.values() if vals and isinstance(vals[-1], types.WorkDoneProgressEnd)]
    assert ended and ended[-1][-1].message == "failed"
    assert any(isinstance(v, types.WorkDoneProgressReport) for v in ended[-1])  # tokens were arriving
    await _wait_disconnect(client)
    assert client.fake.disconnects == 1 and client.fake.completed == 0 and len(client.fake.requests) == 1
    log_text = LOG_FILE.read_text("utf-8") if LOG_FILE.exists() else ""
    everything = log_text + "".join(m.message for m in client.log_messages + client.messages) + text
    assert API_KEY not in everything and API_KEY[:8] not in everything


async def test_cancel_request_still_stops_the_stream_under_a_deadline(client: LanguageClient):
    """``$/cancelRequest`` for the running ``workspace/executeCommand`` stops the command (pygls
    alone would answer RequestCancelled and let it run on to the deadline, then apply): the
    stream is closed at once, long before the 10 s deadline, and nothing is applied."""
    await _settle(client)
    await _set_deadline(client, 10)
    ed = client.editor
    ed.open(URI, R.DASHBOARD)
    client.fake.script(_trickle())
    params = types.ExecuteCommandParams(command="gap.editWithInstruction", arguments=[URI, R.ORDERS_INSTRUCTION])
    fut = asyncio.ensure_future(client.protocol.send_request_async(types.WORKSPACE_EXECUTE_COMMAND, params, msg_id="edit-cancel-1"))
    for _ in range(250):
        if client.fake.requests:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    t0 = time.monotonic()
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="edit-cancel-1"))
    with pytest.raises(JsonRpcException) as ei:
        await asyncio.wait_for(fut, 5)
    assert "canceled" in str(ei.value).lower()
    await _wait_disconnect(client)
    assert client.fake.disconnects == 1 and client.fake.completed == 0
    assert time.monotonic() - t0 < 2.0  # the model stream was stopped by the cancel, not the deadline
    for _ in range(100):  # the command's own ending reaches the log
        if any("cancelled" in m.message for m in client.log_messages):
            break
        await asyncio.sleep(0.02)
    assert any("document unchanged — cancelled" in m.message for m in client.log_messages)
    assert not any("deadline" in m.message for m in client.log_messages + client.messages)
    assert ed.docs[URI] == R.DASHBOARD and not ed.applied


async def test_arguments_of_the_wrong_type_are_a_clear_error_and_change_nothing(client: LanguageClient):
    """A URI, format or target id of the wrong JSON type answers RequestFailed with code
    ``invalid_params`` naming the argument — before any model call or edit: the buffer is
    left as it was (gap.synthesize used to empty it first, then fail with an internal error)."""
    await _settle(client)
    ed = client.editor
    ed.open(URI, R.DASHBOARD)
    for args in [
        ("gap.synthesize", URI, "make a page", 3),
        ("gap.synthesize", 5, "make a page", "text/html"),
        ("gap.editWithInstruction", URI, R.REVENUE_INSTRUCTION, {"a": 1}),
        ("gap.addTargetsWithModel", 5),
    ]:
        with pytest.raises(JsonRpcException) as ei:
            await ed.command(*args)
        err = ei.value
        assert err.code == -32803 and err.data["code"] == "invalid_params", (args, err)
        assert args[0] in err.message, err.message
    assert ed.docs[URI] == R.DASHBOARD and ed.applied == []
    assert client.fake.requests == []
