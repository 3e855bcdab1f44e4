"""Robustness through a real client (pytest-lsp): the LSP lifecycle (requests before
``initialize`` and after ``shutdown``), malformed messages and params, command arguments,
position encodings (UTF-8/16/32) with astral characters, combining characters, CRLF and lone
CR line ends, ``workspace/applyEdit`` refused or failing on the client's side, and the user
typing while an applied envelope is on its way.

The client here keeps its own model of the documents (:class:`tests.lsp.editor.Editor`), with positions in the
negotiated encoding and every line end the LSP recognises (``\\r\\n``, ``\\r``, ``\\n``), written
independently of the server's code.
"""

from __future__ import annotations

import asyncio
import json
import sys

import pytest
import pytest_lsp
from gap_engine import Artifact, apply, ingest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from ..conftest import ROOT
from .editor import Editor, fix_code_action_structuring, to_offset

TID = types.TextDocumentIdentifier
SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "gap_ls"], server_env={"GAP_LLM_API_KEY": ""})

def text_of(text: str, rng: types.Range, enc: str) -> str:
    return text[to_offset(text, rng.start, enc) : to_offset(text, rng.end, enc)]


def capabilities(enc: str | None = None, **workspace) -> types.ClientCapabilities:
    caps = client_capabilities("visual-studio-code")
    if enc is not None:
        caps.general.position_encodings = [enc]
    for k, v in workspace.items():
        setattr(caps.workspace, k, v)
    return caps


async def initialize(client: LanguageClient, caps: types.ClientCapabilities | None = None) -> types.InitializeResult:
    fix_code_action_structuring(client)
    return await client.initialize_session(
        types.InitializeParams(capabilities=caps or capabilities(), root_uri=ROOT.as_uri(), process_id=None)
    )


def record(client: LanguageClient) -> None:
    """Keep every message the server sends in ``client.received`` (JSON-RPC dicts as sent),
    and let :func:`raw_request` wait for answers."""
    client.received = []
    client.arrived = asyncio.Event()
    proto = client.protocol
    orig = proto.structure_message

    def keep(data):
        if isinstance(data, dict) and "jsonrpc" in data:
            client.received.append(dict(data))
            client.arrived.set()
        return orig(data)

    proto.structure_message = keep


def write_raw(client: LanguageClient, body: bytes) -> None:
    client.protocol.writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


_raw_ids = iter(range(1, 1 << 30))


async def raw_request(client: LanguageClient, method: str, params=..., timeout: float = 5.0) -> dict:
    """Send a request as JSON text, whatever its params (the typed client would refuse
    malformed ones), and return the server's answer as a dict."""
    msg_id = f"raw-{next(_raw_ids)}"
    msg = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not ...:
        msg["params"] = params
    write_raw(client, json.dumps(msg).encode())
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        for m in client.received:
            if m.get("id") == msg_id:
                return m
        client.arrived.clear()
        await asyncio.wait_for(client.arrived.wait(), end - loop.time())


@pytest_lsp.fixture(config=SERVER)
async def raw_client(lsp_client: LanguageClient):
    """A started client that has NOT initialized the session (see :func:`record`)."""
    record(lsp_client)
    yield lsp_client
    if lsp_client._server.returncode is None:  # the test failed half-way: end the server
        lsp_client._server.kill()


@pytest_lsp.fixture(config=SERVER, params=["utf-16", "utf-8", "utf-32"])
async def enc_client(lsp_client: LanguageClient, request):
    """An initialized client whose only position encoding is the parameter;
    ``enc_client.editor`` is its :class:`~tests.lsp.editor.Editor`."""
    enc = request.param
    record(lsp_client)
    lsp_client.editor = Editor(lsp_client, enc, refuse_stale=True)
    result = await initialize(lsp_client, capabilities(enc))
    assert result.capabilities.position_encoding == enc
    yield lsp_client
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=SERVER)
async def vs_client(lsp_client: LanguageClient):
    record(lsp_client)
    lsp_client.editor = Editor(lsp_client, "utf-16", refuse_stale=True)
    await initialize(lsp_client)
    yield lsp_client
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=SERVER)
async def no_apply_client(lsp_client: LanguageClient):
    """A client without ``workspace.applyEdit`` (e.g. a read-only viewer)."""
    lsp_client.editor = Editor(lsp_client, "utf-16", refuse_stale=True)
    await initialize(lsp_client, capabilities(apply_edit=False))
    yield lsp_client
    await lsp_client.shutdown_session()


async def error_of(fut, timeout: float = 5.0) -> JsonRpcException:
    """The error a request is answered with (a missing answer fails after ``timeout`` s)."""
    with pytest.raises(JsonRpcException) as info:
        await asyncio.wait_for(fut, timeout)
    return info.value


# -- lifecycle --------------------------------------------------------------------------------


async def test_requests_before_initialize_are_refused_and_a_second_initialize_too(raw_client):
    c = raw_client
    ans = await raw_request(c, types.TEXT_DOCUMENT_DOCUMENT_SYMBOL, {"textDocument": {"uri": "file:///t/a.html"}})
    assert ans["error"]["code"] == -32002 and "not initialized" in ans["error"]["message"]  # ServerNotInitialized
    # a notification before initialize is dropped (LSP 3.17 §initialize)
    c.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri="file:///t/early.html", language_id="html", version=1, text='<gap:target id="a">x</gap:target>')))
    await initialize(c)
    syms = await c.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=TID(uri="file:///t/early.html")))
    assert syms == []
    ans = await raw_request(c, types.INITIALIZE, {"processId": None, "rootUri": None, "capabilities": {}})
    assert ans["error"]["code"] == -32600 and "once" in ans["error"]["message"]  # InvalidRequest
    await c.shutdown_session()


async def test_requests_after_shutdown_are_answered_with_invalid_request(raw_client):
    c = raw_client
    await initialize(c)
    await c.shutdown_async(None)
    for method, params in [(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL, {"textDocument": {"uri": "file:///t/a.html"}}),
                           (types.WORKSPACE_EXECUTE_COMMAND, {"command": "gap.applyEnvelope", "arguments": ["file:///t/a.html", "[]"]}),
                           (types.TEXT_DOCUMENT_HOVER, {"textDocument": "bad"})]:
        ans = await raw_request(c, method, params)
        assert ans["error"]["code"] == -32600 and "shut down" in ans["error"]["message"], ans
    c.exit(None)
    await asyncio.wait_for(c._server.wait(), 5)
    assert c._server.returncode == 0  # exit after shutdown


async def test_exit_without_shutdown_ends_the_server_with_code_1(raw_client):
    c = raw_client
    await initialize(c)
    c.exit(None)
    await asyncio.wait_for(c._server.wait(), 5)
    assert c._server.returncode == 1  # LSP 3.17 §exit


# -- malformed messages -----------------------------------------------------------------------


async def test_requests_with_malformed_params_get_invalid_params_and_the_server_goes_on(raw_client):
    c = raw_client
    await initialize(c)
    uri = "file:///t/m.html"
    c.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id="html", version=1, text='<gap:target id="a">x</gap:target>')))
    bad = [
        (types.TEXT_DOCUMENT_DOCUMENT_SYMBOL, {"textDocument": "file:///t/m.html"}),
        (types.TEXT_DOCUMENT_DOCUMENT_SYMBOL, ...),
        (types.TEXT_DOCUMENT_HOVER, {"textDocument": {"uri": uri}, "position": {"line": -1, "character": 0}}),
        (types.TEXT_DOCUMENT_HOVER, {"textDocument": {"uri": uri}}),
        (types.TEXT_DOCUMENT_RENAME, {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 17}}),
        (types.WORKSPACE_EXECUTE_COMMAND, {"arguments": []}),
    ]
    for method, params in bad:
        ans = await raw_request(c, method, params)
        assert "error" in ans, (method, params, ans)
        assert ans["error"]["code"] == -32602 and ans["error"]["message"].startswith(method), ans
    # notifications with bad params are dropped quietly (no error shown to the user)
    write_raw(c, b'{"jsonrpc":"2.0","method":"$/cancelRequest","params":{}}')
    write_raw(c, json.dumps({"jsonrpc": "2.0", "method": types.TEXT_DOCUMENT_DID_CHANGE,
                             "params": {"textDocument": {"uri": uri}, "contentChanges": "zz"}}).encode())
    syms = await c.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=TID(uri=uri)))
    assert [s.name for s in syms] == ["a"]
    assert not [m for m in c.received if m.get("method") == types.WINDOW_SHOW_MESSAGE]
    await c.shutdown_session()


async def test_a_message_that_is_not_json_gets_a_parse_error_with_a_null_id(raw_client):
    c = raw_client
    await initialize(c)
    write_raw(c, b"{not json")
    syms = await c.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=TID(uri="file:///t/x.html")))
    assert syms == []  # still serving, in order: the parse error was answered before this
    (err,) = [m for m in c.received if "error" in m and m.get("id") is None]
    assert err["error"]["code"] == -32700 and "id" in err
    assert not [m for m in c.received if m.get("method") == types.WINDOW_SHOW_MESSAGE]
    await c.shutdown_session()


# -- command arguments ------------------------------------------------------------------------


async def test_apply_envelope_with_wrong_arguments_is_invalid_params(vs_client):
    b = vs_client.editor
    uri = "file:///t/a.html"
    b.open(uri, '<gap:target id="a">x</gap:target>')
    env = '[{"op":"replace","target":{"type":"id","value":"a"},"content":"y"}]'
    ans = await raw_request(vs_client, types.WORKSPACE_EXECUTE_COMMAND, {"command": "gap.applyEnvelope"})
    assert ans["error"]["code"] == -32602 and "gap.applyEnvelope expects [uri, envelope]" in ans["error"]["message"], ans
    for fut in [b.command_future("gap.applyEnvelope"), b.command_future("gap.applyEnvelope", uri, env, 3),
                b.command_future("gap.applyEnvelope", 42, env), b.command_future("gap.applyEnvelope", None)]:
        err = await error_of(fut)
        assert err.code == -32602 and "gap.applyEnvelope expects [uri, envelope]" in err.message, err
    assert b.applied == []
    assert (await b.command("gap.applyEnvelope", uri, env))["applied"]



async def test_apply_envelope_to_a_closed_file_that_is_not_utf8_is_a_clear_refusal(vs_client, tmp_path):
    """A closed file the server cannot read as UTF-8 (or a folder) is refused with
    RequestFailed naming it, not an internal error; nothing is sent to the editor and the file
    is unchanged."""
    b = vs_client.editor
    latin = tmp_path / "latin1.html"
    raw = '<gap:target id="a">caf\xe9</gap:target>'.encode("latin-1")
    latin.write_bytes(raw)
    env = '[{"op":"replace","target":{"type":"id","value":"a"},"content":"y"}]'
    for uri in (latin.as_uri(), tmp_path.as_uri()):
        err = await error_of(b.command_future("gap.applyEnvelope", uri, env))
        assert err.code == -32803 and uri in err.message, err
    err = await error_of(b.command_future("gap.applyEnvelope", latin.as_uri(), env))
    assert "UTF-8" in err.message, err
    assert b.applied == [] and latin.read_bytes() == raw


async def test_code_action_resolve_with_malformed_data_is_invalid_params(vs_client):
    """``codeAction/resolve`` whose ``data`` is not what the server gave out (a URI that is no
    string, a missing field) answers InvalidParams naming the resolver, not an internal error;
    the document is unchanged."""
    b = vs_client.editor
    uri = "file:///t/resolve.html"
    b.open(uri, '<gap:target id="a">x</gap:target>')
    for data in ({"resolver": "strip", "uri": ["x"]}, {"resolver": "unwrap", "uri": uri, "version": 1},
                 {"resolver": "wrap", "uri": uri, "version": 1}):
        fut = vs_client.protocol.send_request_async(types.CODE_ACTION_RESOLVE, types.CodeAction(title="x", data=data))
        err = await error_of(fut)
        assert err.code == -32602 and data["resolver"] in err.message, (data, err)
    assert b.docs[uri] == '<gap:target id="a">x</gap:target>' and b.applied == []

# -- position encodings, line ends ------------------------------------------------------------

#: astral characters (2 UTF-16 units, 4 UTF-8 bytes), a combining accent, CRLF, a lone CR, no
#: final line end, an unclosed marker on the last line
TEXT = (
    'h😀e\u0301\r\n<gap:target id="t😀" type="section">x😀\r\n'
    '  <gap:target id="inner">é\u0301😀</gap:target>\ry\n'
    '</gap:target>\r<gap:target id="z">😀'
)


def _walk(symbols, text, enc, out):
    for s in symbols:
        out.append((s.name, text_of(text, s.range, enc), text_of(text, s.selection_range, enc)))
        _walk(s.children or [], text, enc, out)
    return out


async def test_symbols_diagnostics_and_applied_edits_in_every_encoding(enc_client, tmp_path):
    c, b = enc_client, enc_client.editor
    enc = b.enc
    # a file that is not open, edited before any document was opened: the edit's positions
    # are in the negotiated encoding too
    disk = tmp_path / "disk.html"
    disk.write_bytes('é😀\rü😀<gap:target id="one">é😀</gap:target>\n'.encode("utf-8"))
    env = '[{"op":"replace","target":{"type":"id","value":"one"},"content":"X😀"}]'
    res = await b.command("gap.applyEnvelope", disk.as_uri(), env)
    assert res["applied"]
    assert disk.read_bytes().decode("utf-8") == 'é😀\rü😀<gap:target id="one">X😀</gap:target>\n'

    uri = "file:///t/enc.html"
    b.open(uri, TEXT)
    syms = await c.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=TID(uri=uri)))
    assert _walk(syms, TEXT, enc, []) == [
        ("t😀", TEXT[TEXT.index('<gap:target id="t'): TEXT.index('\r<gap:target id="z"')], '<gap:target id="t😀" type="section">'),
        ("inner", '<gap:target id="inner">é\u0301😀</gap:target>', '<gap:target id="inner">'),
    ]
    diags = await _diagnostics(c, uri, 1)
    assert [(d.code, text_of(TEXT, d.range, enc)) for d in diags] == [("unclosed", '<gap:target id="z">')]
    # an applied envelope: the client's result is exactly the engine's
    env = json.dumps([
        {"op": "replace", "target": {"type": "id", "value": "inner"}, "content": "ü😀\r\nq"},
        {"op": "insert_after", "target": {"type": "id", "value": "t😀"}, "content": "e\u0301😀"},
    ])
    art = Artifact(uri, 1, "text/html", TEXT)
    want = apply(art, ingest(env, artifact=art).envelope)[0].body
    res = await b.command("gap.applyEnvelope", uri, env)
    assert res["applied"] and b.docs[uri] == want
    # and the server's copy agrees with the client's: symbols of the edited document are
    # those of the same text opened fresh
    b.open("file:///t/fresh.html", want)
    got, fresh = [
        _walk(await c.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=TID(uri=u))), want, enc, [])
        for u in (uri, "file:///t/fresh.html")
    ]
    assert got == fresh and got[1][1] == '<gap:target id="inner">ü😀\r\nq</gap:target>'


async def _diagnostics(client, uri: str, version: int) -> list[types.Diagnostic]:
    """The diagnostics published for ``uri`` at ``version`` (waits for them; see :func:`record`)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + 5
    while True:
        for m in client.received:
            p = m.get("params") or {}
            if m.get("method") == types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS and p.get("uri") == uri and p.get("version") == version:
                return [client.protocol._converter.structure(d, types.Diagnostic) for d in p["diagnostics"]]
        client.arrived.clear()
        await asyncio.wait_for(client.arrived.wait(), end - loop.time())


# -- workspace/applyEdit on the client's side ---------------------------------------------------


async def test_an_edit_refused_because_the_user_typed_is_derived_again(vs_client):
    b = vs_client.editor
    uri = "file:///t/stale.html"
    text = '<p><gap:target id="total">1</gap:target></p>\n<p>notes</p>\n'
    b.open(uri, text)
    env = '[{"op":"replace","target":{"type":"id","value":"total"},"content":"42"}]'
    b.before_next_apply = lambda: b.edit(uri, text.index("notes"), text.index("notes"), "my ")
    res = await b.command("gap.applyEnvelope", uri, env)
    assert res["applied"] and any("re-derived" in r for r in res["repairs"])
    assert b.docs[uri] == '<p><gap:target id="total">42</gap:target></p>\n<p>my notes</p>\n'
    assert len(b.applied) == 2 and b.applied[0].edit.document_changes[0].text_document.version == 1
    assert res["version"] == b.versions[uri] == 3
    # typing inside the target meanwhile: refused, the user's text is kept
    text = b.docs[uri]
    b.before_next_apply = lambda: b.edit(uri, text.index(">42<") + 3, text.index(">42<") + 3, "0")
    err = await error_of(b.command_future("gap.applyEnvelope", uri, env.replace("42", "7")))
    assert err.code == -32803 and "version_conflict" in err.message and "'total' was edited" in err.message
    assert b.docs[uri] == '<p><gap:target id="total">420</gap:target></p>\n<p>my notes</p>\n'


async def test_an_error_answer_to_apply_edit_is_a_clear_refusal(vs_client):
    b = vs_client.editor
    uri = "file:///t/err.html"
    b.open(uri, '<gap:target id="a">x</gap:target>')
    b.mode = "error"
    # the handler's exception is what this test wants: answered as an error, not a test failure
    vs_client.report_server_error = lambda error, source: None
    err = await error_of(b.command_future("gap.applyEnvelope", uri, '[{"op":"replace","target":{"type":"id","value":"a"},"content":"y"}]'))
    assert err.code == -32803 and err.message.startswith("client refused the edit") and "crashed" in err.message
    assert err.data["code"] == "client_refused"
    b.mode = "refuse"
    err = await error_of(b.command_future("gap.applyEnvelope", uri, '[{"op":"replace","target":{"type":"id","value":"a"},"content":"y"}]'))
    assert "refused by the user" in err.message
    b.mode = "null"  # an answer of the wrong shape: refused at once, not waited for forever
    err = await error_of(b.command_future("gap.applyEnvelope", uri, '[{"op":"replace","target":{"type":"id","value":"a"},"content":"y"}]'))
    assert err.code == -32803 and "wrong shape" in err.message
    assert b.docs[uri] == '<gap:target id="a">x</gap:target>'


async def test_an_answer_with_neither_result_nor_error_fails_the_edit_without_a_server_error(vs_client):
    """JSON-RPC 2.0 §5: a response carries ``result`` or ``error``. One with neither (a buggy
    client) fails the server's applyEdit like any answer of the wrong shape: the command is
    refused, the document stays, and the user sees no "Error in server" message."""
    b = vs_client.editor
    uri = "file:///t/neither.html"
    b.open(uri, '<gap:target id="a">x</gap:target>')

    def answer_without_result() -> None:  # sent before the editor's own (refusing) answer
        req = [m for m in vs_client.received if m.get("method") == types.WORKSPACE_APPLY_EDIT][-1]
        write_raw(vs_client, json.dumps({"jsonrpc": "2.0", "id": req["id"]}).encode())

    b.before_next_apply = answer_without_result
    b.mode = "refuse"
    shown = len([m for m in vs_client.received if m.get("method") == types.WINDOW_SHOW_MESSAGE])
    err = await error_of(b.command_future("gap.applyEnvelope", uri, '[{"op":"replace","target":{"type":"id","value":"a"},"content":"y"}]'))
    assert err.code == -32803 and "wrong shape" in err.message
    assert b.docs[uri] == '<gap:target id="a">x</gap:target>'
    messages = [m["params"]["message"] for m in vs_client.received if m.get("method") == types.WINDOW_SHOW_MESSAGE][shown:]
    assert not [m for m in messages if "Error in server" in m], messages
    assert [m for m in messages if "neither result nor error" in m], messages  # the user is told why


async def test_no_apply_edit_request_to_a_client_that_cannot_apply_edits(no_apply_client):
    b = no_apply_client.editor
    uri = "file:///t/ro.html"
    b.open(uri, '<gap:target id="a">x</gap:target>')
    for name, args in [("gap.applyEnvelope", [uri, '[{"op":"replace","target":{"type":"id","value":"a"},"content":"y"}]']),
                       ("gap.stripMarkers", [uri])]:
        err = await error_of(b.command_future(name, *args))
        assert err.code == -32803 and "workspace/applyEdit" in err.message, (name, err)
    assert b.applied == []


# -- rejected envelopes ---------------------------------------------------------------------------


async def test_a_rejected_envelope_changes_nothing_names_the_operation_and_the_artifact_it_names(vs_client):
    b = vs_client.editor
    a_uri, b_uri = "file:///t/a.html", "file:///t/b.html"
    a_text, b_text = '<gap:target id="one">1</gap:target>\r\n<gap:target id="two">2</gap:target>', '<gap:target id="bee">B</gap:target>'
    b.open(a_uri, a_text)
    b.open(b_uri, b_text)
    ops = [{"op": "replace", "target": {"type": "id", "value": v}, "content": "X"} for v in ("one", "nope", "two")]
    err = await error_of(b.command_future("gap.applyEnvelope", a_uri, json.dumps(ops)))
    assert err.code == -32803 and "operation 1 (replace on id 'nope')" in err.message and err.data["op_index"] == 1
    # an envelope written for another open document, sent with this one's URI
    env = {"protocol": "gap/0.1", "id": "b", "version": 2, "name": "edit", "meta": {"format": "text/html"},
           "content": [{"op": "replace", "target": {"type": "id", "value": "bee"}, "content": "Q"}]}
    err = await error_of(b.command_future("gap.applyEnvelope", a_uri, json.dumps(env)))
    assert "target_not_found" in err.message and f"names the artifact {b_uri}" in err.message
    assert err.data["artifact_uri"] == b_uri
    for bad in ["{not json", "", json.dumps({"content": "x"}), json.dumps([{"op": "replace"}]), json.dumps(["x" * 100_000])]:
        err = await error_of(b.command_future("gap.applyEnvelope", a_uri, bad))
        assert err.code == -32803 and err.data["code"] == "invalid_envelope", bad[:40]
    assert b.applied == [] and b.docs == {a_uri: a_text, b_uri: b_text}
    # and the same envelope applies where it belongs
    assert (await b.command("gap.applyEnvelope", b_uri, json.dumps(env)))["applied"]
    assert b.docs[b_uri] == '<gap:target id="bee">Q</gap:target>' and b.docs[a_uri] == a_text


async def test_two_envelopes_applied_at_once_both_land(vs_client):
    b = vs_client.editor
    uri = "file:///t/two.html"
    b.open(uri, '<gap:target id="a">1</gap:target> <gap:target id="b">2</gap:target>')
    one = b.command_future("gap.applyEnvelope", uri, '[{"op":"replace","target":{"type":"id","value":"a"},"content":"A"}]')
    two = b.command_future("gap.applyEnvelope", uri, '[{"op":"replace","target":{"type":"id","value":"b"},"content":"B"}]')
    r1, r2 = await asyncio.wait_for(asyncio.gather(one, two), 5)
    assert r1["applied"] and r2["applied"]
    assert b.docs[uri] == '<gap:target id="a">A</gap:target> <gap:target id="b">B</gap:target>'


async def test_cancelling_an_apply_whose_edit_was_already_sent_answers_with_what_happened(vs_client):
    b = vs_client.editor
    uri = "file:///t/cancel.html"
    b.open(uri, '<gap:target id="a">1</gap:target>')
    msg_id = "apply-to-cancel"
    fut = vs_client.protocol.send_request_async(types.WORKSPACE_EXECUTE_COMMAND, types.ExecuteCommandParams(
        command="gap.applyEnvelope", arguments=[uri, '[{"op":"replace","target":{"type":"id","value":"a"},"content":"A"}]']), msg_id=msg_id)
    # the user cancels while the editor is applying the edit
    b.before_next_apply = lambda: vs_client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    res = await asyncio.wait_for(fut, 5)
    assert res["applied"] and res["version"] == 2
    assert b.docs[uri] == '<gap:target id="a">A</gap:target>'


# -- big documents ----------------------------------------------------------------------------------


async def test_folding_honours_the_client_range_limit_keeping_the_outermost_targets(vs_client):
    b = vs_client.editor
    uri = "file:///t/many.html"
    sections = []
    for s in range(3):
        rows = "".join(f'<gap:target id="row-{s}-{i}">\nrow {i}\n</gap:target>\n' for i in range(2000))
        sections.append(f'<gap:target id="section-{s}">\n{rows}</gap:target>\n')
    text = "".join(sections)  # 6,003 multi-line targets; VS Code's rangeLimit is 5,000
    b.open(uri, text)
    folds = await vs_client.text_document_folding_range_async(types.FoldingRangeParams(text_document=TID(uri=uri)))
    assert len(folds) == 5000
    names = [f.collapsed_text for f in folds]
    assert {"section-0", "section-1", "section-2"} <= set(names)
    starts = [f.start_line for f in folds]
    assert starts == sorted(starts)
    lines = text.split("\n")
    assert all(lines[f.start_line].startswith(f'<gap:target id="{f.collapsed_text}"') and lines[f.end_line] == "</gap:target>" for f in folds)
