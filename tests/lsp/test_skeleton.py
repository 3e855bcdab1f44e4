"""End-to-end through a real LSP client (pytest-lsp): symbols, apply, rejection, code action,
diagnostics, position encoding."""

from __future__ import annotations

import asyncio
import json

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from ..conftest import EXAMPLES
from .editor import utf16_offset, wait_for

DASH = EXAMPLES / "dashboard"
URI = "file:///work/example/dashboard.html"


def dashboard() -> str:
    return (DASH / "dashboard.html").read_text("utf-8")


async def symbols(client, uri):
    return await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )


async def test_symbols_nest_as_markers_nest(client):
    text = dashboard()
    client.editor.open(URI, text)
    syms = await symbols(client, URI)
    names = [s.name for s in syms]
    assert names == ["header", "stats", "sales-chart", "orders", "footer"]
    stats = syms[1]
    assert [c.name for c in stats.children] == [
        "revenue-value", "revenue-trend", "orders-count", "orders-trend",
        "customers-count", "customers-trend", "refunds-count", "refunds-trend",
    ]
    # range = whole marked region; selectionRange = the opening marker
    rv = stats.children[0]
    start = utf16_offset(text, rv.range.start)
    end = utf16_offset(text, rv.range.end)
    assert text[start:end] == '<gap:target id="revenue-value" type="value">$12,340</gap:target>'
    sel = text[utf16_offset(text, rv.selection_range.start) : utf16_offset(text, rv.selection_range.end)]
    assert sel == '<gap:target id="revenue-value" type="value">'
    assert syms[0].detail.startswith("Page header · ")


async def test_apply_envelope_sends_minimal_versioned_edits(client):
    text = dashboard()
    client.editor.open(URI, text)
    env = json.loads((DASH / "01-revenue.json").read_text("utf-8"))
    result = await client.editor.command("gap.applyEnvelope", URI, json.dumps(env))
    assert result["applied"] is True
    assert result["version"] == 2
    assert "revenue-value" in result["targets"]
    expected = text.replace(">$12,340<", ">$15,720<").replace(">↑ 4.1% this week<", ">↑ 27.4% this week<").replace(">Mon 09:00<", ">Mon 09:15<")
    assert client.editor.docs[URI] == expected
    (params,) = client.editor.applied
    (dc,) = params.edit.document_changes
    assert dc.text_document.version == 1
    assert len(dc.edits) == 3
    assert sum(len(e.new_text) for e in dc.edits) < 40  # splices, not a whole-document replacement


async def test_lenient_model_output_is_normalised(client):
    text = dashboard()
    client.editor.open(URI, text)
    raw = (DASH / "02-new-order.md").read_text("utf-8")
    result = await client.editor.command("gap.applyEnvelope", URI, raw)
    assert result["applied"]
    assert any("fence" in r for r in result["repairs"])
    assert any("trailing commas" in r for r in result["repairs"])
    assert "#1043" in client.editor.docs[URI]
    assert ">319<" in client.editor.docs[URI]


async def test_rejected_envelope_changes_nothing_and_says_why(client):
    text = dashboard()
    client.editor.open(URI, text)
    raw = (DASH / "03-hallucinated.json").read_text("utf-8")
    with pytest.raises(JsonRpcException) as info:
        await client.editor.command("gap.applyEnvelope", URI, raw)
    msg = info.value.message
    assert "target_not_found" in msg and "operation 1" in msg and "average-basket" in msg
    assert client.editor.applied == []
    assert client.editor.docs[URI] == text
    await asyncio.sleep(0.1)
    assert any("average-basket" in m.message and m.type == types.MessageType.Error for m in client.messages)
    # the server's own copy is untouched too: a follow-up edit still applies cleanly
    ok = await client.editor.command("gap.applyEnvelope", URI, '[{"op":"replace","target":{"type":"id","value":"orders-count"},"content":"320"}]')
    assert ok["applied"] and ">320<" in client.editor.docs[URI]


@pytest.mark.parametrize(
    "bad",
    [
        "not json at all",
        '{"protocol":"gap/0.1","id":"x","version":2,"name":"edit","meta":{"format":"text/html"},"content":[{"op":"explode","target":{"type":"id","value":"stats"}}]}',
        '[{"op":"replace","target":{"type":"id","value":"stats"}}]',
    ],
)
async def test_malformed_envelopes_are_refused(client, bad):
    text = dashboard()
    client.editor.open(URI, text)
    with pytest.raises(JsonRpcException):
        await client.editor.command("gap.applyEnvelope", URI, bad)
    assert client.editor.docs[URI] == text and client.editor.applied == []


async def test_code_action_applies_to_the_artifact_the_envelope_names(client):
    text = dashboard()
    client.editor.open(URI, text)
    chat = "file:///work/example/chat.md"
    note = 'The model says:\n\n```json\n{"protocol":"gap","id":"dashboard","version":9,"name":"edit","meta":{},"content":[{"op":"replace","target":{"type":"id","value":"store-name"},"content":"Northwind Outlet"}]}\n```\n'
    client.editor.open(chat, note, "markdown")
    lines = note.split("\n")
    rng = types.Range(types.Position(0, 0), types.Position(len(lines) - 1, 0))
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=chat),
            range=rng,
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert actions, "Apply GAP edit should be offered"
    act = actions[0]
    assert act.title.startswith("Apply GAP edit")
    assert isinstance(act, types.CodeAction) and act.kind == "refactor.rewrite.gap.apply"
    cmd = act.command
    assert cmd.command == "gap.applyEnvelope" and cmd.arguments[0] == URI
    result = await client.editor.command(cmd.command, *cmd.arguments)
    assert result["applied"]
    assert ">Northwind Outlet<" in client.editor.docs[URI]
    assert client.editor.docs[chat] == note
    # nothing offered for a selection without an envelope, or when only other kinds are asked
    none = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=chat),
            range=types.Range(types.Position(0, 0), types.Position(0, 10)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert not [a for a in none or [] if a.kind == "refactor.rewrite.gap.apply"]
    only = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=chat),
            range=rng,
            context=types.CodeActionContext(diagnostics=[], only=[types.CodeActionKind.QuickFix]),
        )
    )
    assert not only



async def test_marker_diagnostics_follow_the_text(client):
    uri = "file:///work/example/broken.html"
    text = (
        '<gap:target id="a">one</gap:target>\n'
        '<gap:target id="a">dup</gap:target>\n'
        '</gap:target>\n'
        '<gap:target id="open">never closed\n'
    )
    client.editor.open(uri, text)
    assert await wait_for(lambda: len(client.diagnostics.get(uri, [])) == 3)
    codes = sorted(d.code for d in client.diagnostics[uri])
    assert codes == ["duplicate_id", "stray_close", "unclosed"]
    stray = next(d for d in client.diagnostics[uri] if d.code == "stray_close")
    assert stray.range.start.line == 2
    client.editor.replace(uri, '<gap:target id="a">one</gap:target>\n<gap:target id="b">two</gap:target>\n')
    assert await wait_for(lambda: uri in client.diagnostics and len(client.diagnostics[uri]) == 0)


async def test_utf16_positions_around_astral_characters(client):
    uri = "file:///work/example/emoji.html"
    text = "<p>😀😀 <gap:target id=\"mood\">happy</gap:target> 😀</p>\n"
    client.editor.open(uri, text)
    (sym,) = await symbols(client, uri)
    # "<p>" + two astral chars (2 UTF-16 units each) + space = 3 + 4 + 1 = 8
    assert sym.range.start.character == 8
    result = await client.editor.command("gap.applyEnvelope", uri, '[{"op":"replace","target":{"type":"id","value":"mood"},"content":"ecstatic 🎉"}]')
    assert result["applied"]
    assert client.editor.docs[uri] == text.replace("happy", "ecstatic 🎉")


async def test_incremental_typing_keeps_targets_in_place(client):
    text = dashboard()
    client.editor.open(URI, text)
    # type inside revenue-value: "$12,340" → "$12,3405"
    off = text.index("$12,340") + len("$12,340")
    line = text.count("\n", 0, off)
    col = off - (text.rfind("\n", 0, off) + 1)
    pos = types.Position(line, col)
    client.editor.type_at(URI, types.Range(pos, pos), "5")
    client.editor.type_at(URI, types.Range(types.Position(0, 0), types.Position(0, 0)), "<!-- top -->\n")
    syms = await symbols(client, URI)
    rv = syms[1].children[0]
    doc = client.editor.docs[URI]
    assert doc[utf16_offset(doc, rv.range.start) : utf16_offset(doc, rv.range.end)] == '<gap:target id="revenue-value" type="value">$12,3405</gap:target>'
    result = await client.editor.command("gap.applyEnvelope", URI, '[{"op":"replace","target":{"type":"id","value":"revenue-value"},"content":"$1"}]')
    assert result["version"] == 4
    assert '<gap:target id="revenue-value" type="value">$1</gap:target>' in client.editor.docs[URI]


async def test_client_refusal_is_reported(client):
    text = dashboard()
    client.editor.open(URI, text)
    client.editor.refuse = True
    with pytest.raises(JsonRpcException) as info:
        await client.editor.command("gap.applyEnvelope", URI, '[{"op":"delete","target":{"type":"id","value":"footer"}}]')
    assert "refused" in info.value.message
