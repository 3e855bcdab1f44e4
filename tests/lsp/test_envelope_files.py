"""Envelope files as a language: diagnostics, completion, definition, code lenses, apply from
a file (pytest-lsp)."""

from __future__ import annotations

import asyncio
import json

from lsprotocol import types

from .editor import position_of, text_in, wait_for

TID = types.TextDocumentIdentifier



BAD = """{
  "protocol": "gap/0.1",
  "id": "dashboard",
  "version": 2,
  "name": "edit",
  "meta": {"format": "text/html"},
  "content": [
    {"op": "replace", "target": {"type": "id", "value": "revenue-value"}, "content": "$1"},
    {"op": "replace", "target": {"type": "id", "value": "average-basket"}, "content": "$2"}
  ]
}
"""


async def test_envelope_diagnostics_schema_and_missing_targets(ws_client):
    ws = ws_client.ws
    ws_client.editor.open_file(ws / "dashboard.html")
    (ws / "bad.gap.json").write_text(BAD)
    uri = ws_client.editor.open_file(ws / "bad.gap.json", "json")
    assert await wait_for(lambda: ws_client.diagnostics.get(uri))
    (d,) = ws_client.diagnostics[uri]
    assert d.code == "target_not_found" and "average-basket" in d.message
    assert text_in(BAD, d.range) == '"average-basket"'
    # a schema violation names the operation; a syntax error is reported where it is
    broken = BAD.replace('"op": "replace", "target": {"type": "id", "value": "average-basket"}', '"op": "explode", "target": {"type": "id", "value": "stats"}')
    ws_client.editor.replace(uri, broken)
    assert await wait_for(lambda: [x.code for x in ws_client.diagnostics.get(uri, [])] == ["invalid_envelope"])
    d = ws_client.diagnostics[uri][0]
    assert d.range.start.line == 8 and "explode" in d.message
    ws_client.editor.replace(uri, BAD.replace('"name": "edit",', '"name": "edit"'))
    assert await wait_for(lambda: [x.code for x in ws_client.diagnostics.get(uri, [])] == ["invalid_json"])
    # fixing the artifact (adding the target) clears the envelope's diagnostic
    ws_client.editor.replace(uri, BAD)
    assert await wait_for(lambda: [x.code for x in ws_client.diagnostics.get(uri, [])] == ["target_not_found"])
    art = (ws / "dashboard.html").as_uri()
    html = ws_client.editor.docs[art]
    ws_client.editor.replace(art, html.replace("<main>", '<main><gap:target id="average-basket">$9</gap:target>'))
    # (the artifact is at version 2 now: the envelope's version 2 is merely noted)
    assert await wait_for(lambda: [x.code for x in ws_client.diagnostics.get(uri, [])] == ["version_mismatch"])


async def test_envelopes_in_markdown_fences_and_jsonl(ws_client):
    ws = ws_client.ws
    ws_client.editor.open_file(ws / "dashboard.html")
    md = 'Model output:\n\n```json\n{"protocol":"gap","id":"dashboard","version":2,"name":"edit","meta":{},"content":[{"op":"replace","target":{"type":"id","value":"nope"},"content":"x"}]}\n```\n'
    (ws / "chat.md").write_text(md)
    uri = ws_client.editor.open_file(ws / "chat.md")
    assert await wait_for(lambda: ws_client.diagnostics.get(uri))
    (d,) = ws_client.diagnostics[uri]
    assert d.code == "target_not_found" and d.range.start.line == 3
    jl = ws_client.editor.open_file(ws / "more.gap.jsonl", "json")
    syms = await ws_client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=TID(uri=jl)))
    assert [(s.name, [c.name for c in s.children]) for s in syms] == [
        ("edit dashboard v3", ["delete revenue-value"]), ("edit dashboard v4", ["replace store-name"])]
    await asyncio.sleep(0.3)
    assert await wait_for(lambda: jl in ws_client.diagnostics)
    # versions 3 and 4 against an artifact at version 1: information only, no errors
    assert [(d.code, d.range.start.line, d.severity) for d in ws_client.diagnostics[jl]] == [
        ("version_mismatch", 0, types.DiagnosticSeverity.Information), ("version_mismatch", 1, types.DiagnosticSeverity.Information)]
    assert "expected 2" in ws_client.diagnostics[jl][0].message


async def test_completion_of_ids_ops_pointers_and_snippets(ws_client):
    ws = ws_client.ws
    ws_client.editor.open_file(ws / "dashboard.html")
    uri = ws_client.editor.open_file(ws / "revenue.gap.json", "json")
    text = ws_client.editor.docs[uri]

    async def complete(pos):
        res = await ws_client.text_document_completion_async(types.CompletionParams(text_document=TID(uri=uri), position=pos))
        return res.items if hasattr(res, "items") else res

    items = await complete(position_of(text, '"revenue-value"', 4))
    labels = [i.label for i in items]
    assert labels[:3] == ["header", "store-name", "system-status"] and "orders-rows" in labels
    rv = next(i for i in items if i.label == "revenue-value")
    assert text_in(text, rv.text_edit.range) == "rev"
    assert "value" in (rv.detail or "")
    items = await complete(position_of(text, '"replace"', 2))
    assert [i.label for i in items] == ["replace", "insert_before", "insert_after", "delete"]
    items = await complete(position_of(text, '"type": "id"', 9))
    assert [i.label for i in items] == ["id", "pointer"]
    # between operations: a whole operation snippet with the artifact's ids as choices
    items = await complete(position_of(text, "\n  ]"))
    (snip,) = items
    assert snip.insert_text_format == types.InsertTextFormat.Snippet and '"op": "${1|replace,insert_before' in snip.insert_text
    assert "revenue-value" in snip.insert_text
    # an empty envelope file: a whole envelope
    (ws / "new.gap.json").write_text("")
    new = ws_client.editor.open_file(ws / "new.gap.json", "json")
    res = await ws_client.text_document_completion_async(types.CompletionParams(text_document=TID(uri=new), position=types.Position(0, 0)))
    assert res.items[0].label == "GAP edit envelope"


async def test_pointer_completion_and_definition_for_json_artifacts(ws_client):
    ws = ws_client.ws
    (ws / "config.json").write_text('{\n  "database": {"host": "db", "port": 5432},\n  "features": ["a", "b"]\n}\n')
    env = '{"protocol":"gap/0.1","id":"config","version":2,"name":"edit","meta":{"format":"application/json"},"content":[{"op":"replace","target":{"type":"pointer","value":"/database/host"},"content":"\\"x\\""}]}\n'
    (ws / "config.gap.json").write_text(env)
    uri = ws_client.editor.open_file(ws / "config.gap.json", "json")
    res = await ws_client.text_document_completion_async(types.CompletionParams(text_document=TID(uri=uri), position=position_of(env, "/database/host", 3)))
    assert [i.label for i in res.items] == ["/database", "/database/host", "/database/port", "/features", "/features/0", "/features/1"]
    loc = await ws_client.text_document_definition_async(types.DefinitionParams(text_document=TID(uri=uri), position=position_of(env, "/database/host", 3)))
    loc = loc[0] if isinstance(loc, list) else loc
    assert loc.uri == (ws / "config.json").as_uri()
    assert text_in((ws / "config.json").read_text(), loc.range) == '"db"'


async def test_definition_from_operation_to_marker(ws_client):
    ws = ws_client.ws
    art = ws_client.editor.open_file(ws / "dashboard.html")
    uri = ws_client.editor.open_file(ws / "revenue.gap.json", "json")
    text = ws_client.editor.docs[uri]
    loc = await ws_client.text_document_definition_async(types.DefinitionParams(text_document=TID(uri=uri), position=position_of(text, "orders-count", 2)))
    loc = loc[0] if isinstance(loc, list) else loc
    assert loc.uri == art
    assert text_in(ws_client.editor.docs[art], loc.range) == '<gap:target id="orders-count" type="value">318</gap:target>'
    # not on a target value: nothing
    assert not await ws_client.text_document_definition_async(types.DefinitionParams(text_document=TID(uri=uri), position=types.Position(1, 3)))
    # hover on the operation's target: what the target is
    hov = await ws_client.text_document_hover_async(types.HoverParams(text_document=TID(uri=uri), position=position_of(text, "orders-count", 2)))
    assert "`orders-count`" in hov.contents.value and "type `value`" in hov.contents.value


async def test_code_lenses_apply_and_preview(ws_client):
    ws = ws_client.ws
    art = ws_client.editor.open_file(ws / "dashboard.html")
    uri = ws_client.editor.open_file(ws / "more.gap.jsonl", "json")
    lenses = await ws_client.text_document_code_lens_async(types.CodeLensParams(text_document=TID(uri=uri)))
    titles = [l.command.title for l in lenses]
    assert titles == ["Apply to dashboard.html (v1)", "Preview result"] * 2
    assert [l.range.start.line for l in lenses] == [0, 0, 1, 1]
    preview = lenses[3].command
    res = await ws_client.editor.command(preview.command, *preview.arguments)
    assert res["url"].startswith("http://127.0.0.1:")
    assert ws_client.shown_documents and ws_client.shown_documents[0].external
    apply = lenses[2].command
    res = await ws_client.editor.command(apply.command, *apply.arguments)
    assert res["applied"] and ">X</gap:target>" in ws_client.editor.docs[art]


async def test_apply_from_an_envelope_file(ws_client):
    ws = ws_client.ws
    art = ws_client.editor.open_file(ws / "dashboard.html")
    env_uri = (ws / "revenue.gap.json").as_uri()
    # the command with only the envelope file's URI: the artifact is the one the envelope names
    res = await ws_client.editor.command("gap.applyEnvelope", env_uri)
    assert res["applied"] and ">$15,720<" in ws_client.editor.docs[art]
    # the code action anywhere in an envelope file
    uri = ws_client.editor.open_file(ws / "more.gap.jsonl", "json")
    text = ws_client.editor.docs[uri]
    pos = position_of(text, "store-name")
    acts = await ws_client.text_document_code_action_async(types.CodeActionParams(
        text_document=TID(uri=uri), range=types.Range(pos, pos), context=types.CodeActionContext(diagnostics=[])))
    (act,) = [a for a in acts if a.kind == "refactor.rewrite.gap.apply"]
    assert act.title == "Apply GAP edit to dashboard.html"
    res = await ws_client.editor.command(act.command.command, *act.command.arguments)
    assert res["applied"] and ">X</gap:target>" in ws_client.editor.docs[art]
    assert json.loads(text.split("\n")[1])["content"][0]["content"] == "X"


async def test_envelope_diagnostics_follow_the_artifact_being_closed_and_reopened(ws_client):
    """An envelope file is checked against the open artifact's buffer; when the artifact is
    closed unsaved, it is checked against the file again (and again against the buffer when
    it is reopened with other text) — with no change to the envelope file itself."""
    ws, ed = ws_client.ws, ws_client.editor
    (ws / "bad.gap.json").write_text(BAD)
    art = ed.open_file(ws / "dashboard.html")
    added = ed.docs[art].replace("<main>", '<main><gap:target id="average-basket">$9</gap:target>')
    ed.replace(art, added)
    uri = ed.open_file(ws / "bad.gap.json", "json")
    codes = lambda: [d.code for d in ws_client.diagnostics.get(uri, [])]  # noqa: E731
    assert await wait_for(lambda: codes() == ["version_mismatch"])
    ws_client.text_document_did_close(types.DidCloseTextDocumentParams(TID(uri=art)))
    assert await wait_for(lambda: codes() == ["target_not_found"])
    ws_client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=art, language_id="html", version=1, text=added)))
    assert await wait_for(lambda: codes() == [])


def _record_publishes(client) -> list[tuple[str, int | None, list]]:
    """Every publishDiagnostics the server sends, as ``(uri, version, diagnostics)``."""
    out: list = []
    proto = client.protocol
    orig = proto.structure_message

    def keep(data):
        if isinstance(data, dict) and data.get("method") == types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS:
            p = data["params"]
            out.append((p["uri"], p.get("version"), p["diagnostics"]))
        return orig(data)

    proto.structure_message = keep
    return out


async def test_typing_in_an_artifact_does_not_republish_unchanged_envelope_diagnostics(ws_client):
    """Typing in an artifact re-checks the open envelope containers, but their diagnostics
    are published again only when they changed (the same list for the same version is not
    sent twice); a change that does affect them is published."""
    ws, ed = ws_client.ws, ws_client.editor
    md = 'Model output:\n\n```json\n{"protocol":"gap","id":"dashboard","version":2,"name":"edit","meta":{},"content":[{"op":"replace","target":{"type":"id","value":"nope"},"content":"x"}]}\n```\n'
    (ws / "chat.md").write_text(md)
    sent = _record_publishes(ws_client)
    uri = ed.open_file(ws / "chat.md")
    art = ed.open_file(ws / "dashboard.html")
    assert await wait_for(lambda: [d.code for d in ws_client.diagnostics.get(uri, [])] == ["target_not_found"])
    for _ in range(3):  # typing away from the target the envelope names
        ed.edit(art, 0, 0, " ")
        v = ed.versions[art]
        assert await wait_for(lambda: any(u == art and ver == v for u, ver, _ in sent))
    html = ed.docs[art]
    ed.replace(art, html.replace("<main>", '<main><gap:target id="nope">$9</gap:target>'))
    assert await wait_for(lambda: (uri, 1, []) in sent)
    mine = [(ver, [d["code"] for d in ds]) for u, ver, ds in sent if u == uri]
    assert mine == [(1, ["target_not_found"]), (1, [])]


async def test_jsonl_lines_are_split_at_line_feeds_only(ws_client):
    """JSON Lines separates values by \\n (JSON allows a raw U+2028, U+0085 or form feed…
    inside a string): such an envelope is one envelope with no invalid_json error, as a
    single envelope in the outline."""
    ws, ed = ws_client.ws, ws_client.editor
    line = json.dumps({"protocol": "gap/0.1", "id": "dashboard", "version": 2, "name": "edit", "meta": {"format": "text/html"},
                       "content": [{"op": "replace", "target": {"type": "id", "value": "revenue-value"}, "content": "a\u2028b\u0085c"}]},
                      ensure_ascii=False)
    (ws / "odd.gap.jsonl").write_text(line + "\r\n" + line + "\n", "utf-8", newline="")
    ed.open_file(ws / "dashboard.html")
    uri = ed.open_file(ws / "odd.gap.jsonl", "json")
    assert await wait_for(lambda: uri in ws_client.diagnostics)
    assert not ws_client.diagnostics[uri], ws_client.diagnostics[uri]
    syms = await ws_client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=TID(uri=uri)))
    assert [(s.name, s.range.start.line, [c.name for c in s.children]) for s in syms] == [
        ("edit dashboard v2", 0, ["replace revenue-value"]), ("edit dashboard v2", 1, ["replace revenue-value"])]


async def test_completed_target_ids_are_written_as_json_string_content(ws_client):
    """A target id holding a backslash or a double quote (``id='say "hi"'``) is completed as
    JSON string content: the envelope stays valid JSON and names that id."""
    ws, ed = ws_client.ws, ws_client.editor
    (ws / "odd.html").write_text('<gap:target id=\'say "hi"\'>x</gap:target><gap:target id="a\\b">y</gap:target>\n', "utf-8")
    env = '{"protocol":"gap/0.1","id":"odd","version":2,"name":"edit","meta":{"format":"text/html"},"content":[{"op":"replace","target":{"type":"id","value":""},"content":"z"}]}'
    (ws / "odd.gap.json").write_text(env, "utf-8")
    uri = ed.open_file(ws / "odd.gap.json", "json")
    pos = position_of(env, '"value":""', 9)
    res = await ws_client.text_document_completion_async(types.CompletionParams(text_document=TID(uri=uri), position=pos))
    items = {i.label: i for i in (res.items if hasattr(res, "items") else res)}
    assert set(items) == {'say "hi"', "a\\b"}
    for label, item in items.items():
        done = env[: len(env[:env.index('"value":""') + 9])] + item.text_edit.new_text + env[env.index('"value":""') + 9 :]
        assert json.loads(done)["content"][0]["target"]["value"] == label, done
