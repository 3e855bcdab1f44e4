"""Wrap / unwrap / strip markers, rename a target, references from a marker (pytest-lsp)."""

from __future__ import annotations

import json

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from .editor import position_of, range_of, text_in, wait_for


async def code_actions(client, uri, rng, only=None):
    return await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=rng,
            context=types.CodeActionContext(diagnostics=[], only=only),
        )
    ) or []


async def run(client, action):
    """Resolve (when lazy) and apply a code action as an editor does."""
    if action.edit is None and action.data is not None:
        action = await client.code_action_resolve_async(action)
    assert action.edit is not None
    client.editor.apply_workspace_edit(action.edit)
    return action


async def test_wrap_selection_proposes_a_unique_role_based_id(ws_client):
    uri = ws_client.editor.open_file(ws_client.ws / "dashboard.html")
    text = ws_client.editor.docs[uri]
    sel = "<title>Store dashboard</title>"
    acts = await code_actions(ws_client, uri, range_of(text, sel), only=["refactor.rewrite.gap.wrap"])
    (act,) = acts
    assert act.kind == "refactor.rewrite.gap.wrap" and act.edit is None and act.data, "edit is resolved lazily"
    await run(ws_client, act)
    after = ws_client.editor.docs[uri]
    assert after == text.replace(sel, f'<gap:target id="title">{sel}</gap:target>')
    # wrapping another <title>-like selection never duplicates the id
    sel2 = "<h1>"
    text2 = after
    h1 = text2.index("<h1>")
    end = text2.index("</h1>") + len("</h1>")
    acts = await code_actions(ws_client, uri, range_of(text2, text2[h1:end]), only=["refactor.rewrite"])
    wrap = next(a for a in acts if a.kind == "refactor.rewrite.gap.wrap")
    assert "(h1)" in wrap.title or "(store-name" in wrap.title
    # a selection that cuts a marker is not wrappable
    cut = text2.index('<gap:target id="store-name"')
    bad = await code_actions(ws_client, uri, types.Range(position_of(text2, "<h1>"), position_of(text2, '<gap:target id="store-name"', 5)), only=["refactor.rewrite.gap.wrap"])
    assert bad == [] and cut > 0 and sel2


async def test_wrap_id_is_never_a_duplicate(ws_client):
    uri = "file:///tmp/dup.html"
    text = '<gap:target id="title">x</gap:target>\n<title>Hello</title>\n'
    ws_client.editor.open(uri, text)
    (act,) = await code_actions(ws_client, uri, range_of(text, "<title>Hello</title>"), only=["refactor.rewrite.gap.wrap"])
    await run(ws_client, act)
    assert '<gap:target id="title-2"><title>Hello</title></gap:target>' in ws_client.editor.docs[uri]


async def test_unwrap_and_strip(ws_client):
    uri = ws_client.editor.open_file(ws_client.ws / "dashboard.html")
    text = ws_client.editor.docs[uri]
    pos = position_of(text, "$12,340", 2)
    acts = await code_actions(ws_client, uri, types.Range(pos, pos), only=["refactor.rewrite.gap.unwrap"])
    (act,) = acts
    assert "revenue-value" in act.title
    await run(ws_client, act)
    after = ws_client.editor.docs[uri]
    assert after == text.replace('<gap:target id="revenue-value" type="value">$12,340</gap:target>', "$12,340")
    # context.only = source → only source actions; strip is one
    pos0 = types.Position(0, 0)
    acts = await code_actions(ws_client, uri, types.Range(pos0, pos0), only=["source"])
    assert [a.kind for a in acts] == ["source.gap.strip"]
    await run(ws_client, acts[0])
    stripped = ws_client.editor.docs[uri]
    assert "gap:target" not in stripped and "$12,340" in stripped and "<title>Store dashboard</title>" in stripped
    # no strip action on a document without markers
    assert await code_actions(ws_client, uri, types.Range(pos0, pos0), only=["source.gap.strip"]) == []


async def test_strip_markers_command(ws_client):
    uri = ws_client.editor.open_file(ws_client.ws / "dashboard.html")
    n = ws_client.editor.docs[uri].count("gap:target")
    res = await ws_client.editor.command("gap.stripMarkers", uri)
    assert res == {"applied": True, "removed": n}
    assert "gap:target" not in ws_client.editor.docs[uri]
    assert len(ws_client.editor.applied) == 1, "one undoable edit"


async def test_strip_markers_refused_by_the_client_says_why(ws_client):
    uri = ws_client.editor.open_file(ws_client.ws / "dashboard.html")
    before = ws_client.editor.docs[uri]
    ws_client.editor.refuse = True
    try:
        res = await ws_client.editor.command("gap.stripMarkers", uri)
    finally:
        ws_client.editor.refuse = False
    assert res == {"applied": False, "removed": 0, "reason": "refused by the user"}
    assert ws_client.editor.docs[uri] == before


async def test_rename_updates_marker_and_envelope_files(ws_client):
    ws = ws_client.ws
    uri = ws_client.editor.open_file(ws / "dashboard.html")
    text = ws_client.editor.docs[uri]
    pos = position_of(text, 'id="revenue-value"', 6)
    prep = await ws_client.text_document_prepare_rename_async(
        types.PrepareRenameParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos)
    )
    assert prep.placeholder == "revenue-value" and text_in(text, prep.range) == "revenue-value"
    edit = await ws_client.text_document_rename_async(
        types.RenameParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos, new_name="net-revenue")
    )
    uris = sorted(dc.text_document.uri.rsplit("/", 1)[-1] for dc in edit.document_changes)
    assert uris == ["dashboard.html", "more.gap.jsonl", "revenue.gap.json"]
    ws_client.editor.apply_workspace_edit(edit)
    assert ws_client.editor.docs[uri] == text.replace('id="revenue-value"', 'id="net-revenue"')
    env = json.loads((ws / "revenue.gap.json").read_text())
    assert env["content"][0]["target"]["value"] == "net-revenue"
    assert '"value":"net-revenue"' in (ws / "more.gap.jsonl").read_text()
    assert "revenue-value" in (ws / "notes.txt").read_text(), "only envelopes are touched"


async def test_rename_from_an_envelope_file_and_refusals(ws_client):
    ws = ws_client.ws
    art = ws_client.editor.open_file(ws / "dashboard.html")
    env_uri = ws_client.editor.open_file(ws / "revenue.gap.json", "json")
    env_text = ws_client.editor.docs[env_uri]
    pos = position_of(env_text, '"orders-count"', 3)
    edit = await ws_client.text_document_rename_async(
        types.RenameParams(text_document=types.TextDocumentIdentifier(uri=env_uri), position=pos, new_name="order-total")
    )
    ws_client.editor.apply_workspace_edit(edit)
    assert 'id="order-total"' in ws_client.editor.docs[art]
    assert '"value": "order-total"' in ws_client.editor.docs[env_uri]
    # a duplicate or malformed name is refused
    text = ws_client.editor.docs[art]
    for bad in ("stats", 'a"b', ""):
        with pytest.raises(JsonRpcException):
            await ws_client.text_document_rename_async(
                types.RenameParams(text_document=types.TextDocumentIdentifier(uri=art), position=position_of(text, 'id="store-name"', 5), new_name=bad)
            )
    # nothing to rename outside markers
    none = await ws_client.text_document_rename_async(
        types.RenameParams(text_document=types.TextDocumentIdentifier(uri=art), position=types.Position(0, 0), new_name="x")
    )
    assert none is None


async def test_references_from_a_marker(ws_client):
    ws = ws_client.ws
    uri = ws_client.editor.open_file(ws / "dashboard.html")
    text = ws_client.editor.docs[uri]
    locs = await ws_client.text_document_references_async(
        types.ReferenceParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position_of(text, 'id="revenue-value"', 5),
            context=types.ReferenceContext(include_declaration=False),
        )
    )
    names = sorted(l.uri.rsplit("/", 1)[-1] for l in locs)
    assert names == ["more.gap.jsonl", "revenue.gap.json"]
    rv = next(l for l in locs if l.uri.endswith("revenue.gap.json"))
    assert text_in((ws / "revenue.gap.json").read_text(), rv.range) == "revenue-value"
    # from the closing marker, with the declaration
    close = text.index("</gap:target>", text.index("$12,340"))
    line = text.count("\n", 0, close)
    col = close - (text.rfind("\n", 0, close) + 1) + 3
    locs = await ws_client.text_document_references_async(
        types.ReferenceParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line, col),
            context=types.ReferenceContext(include_declaration=True),
        )
    )
    assert locs[0].uri == uri and text_in(text, locs[0].range).startswith('<gap:target id="revenue-value"')
    assert len(locs) == 3


async def test_rename_changes_the_id_attribute_not_one_ending_in_id(ws_client):
    """``data-id`` or a label mentioning ``id='…'`` is not the target's id (the engine reads
    attributes by name): rename and prepareRename change the ``id`` attribute itself, and a
    closing marker that names the target follows it."""
    ed = ws_client.editor
    uri = (ws_client.ws / "ids.html").as_uri()
    text = '<gap:target data-id="q" label="by id=\'z\'" id="total">1</gap:target id="total">\n'
    ed.open(uri, text)
    tid = types.TextDocumentIdentifier(uri=uri)
    prep = await ws_client.text_document_prepare_rename_async(types.PrepareRenameParams(text_document=tid, position=types.Position(0, 3)))
    assert prep.placeholder == "total" and text_in(text, prep.range) == "total"
    edit = await ws_client.text_document_rename_async(types.RenameParams(text_document=tid, position=types.Position(0, 3), new_name="sum"))
    ed.apply_workspace_edit(edit)
    assert ed.docs[uri] == text.replace('id="total"', 'id="sum"')
    # the overlap check reads ids the same way: 'b' is the inner target, not 'a'
    o = (ws_client.ws / "overlap.html").as_uri()
    ed.open(o, '<gap:target id="a">1<gap:target data-id="a" id="b">2</gap:target id="a"></gap:target id="b">\n')
    assert await wait_for(lambda: "overlap" in [d.code for d in ws_client.diagnostics.get(o, [])])


async def test_rename_and_references_find_ids_written_with_json_escapes(ws_client):
    """An envelope file written by ``json.dumps`` (ASCII escapes: ``"caf\\u00e9"``) addresses
    the target ``café`` too: references list it and rename changes it."""
    ws, ed = ws_client.ws, ws_client.editor
    (ws / "menu.html").write_text('<gap:target id="café">espresso</gap:target>\n<gap:target id="a/b">x</gap:target>\n', "utf-8")
    env = {"protocol": "gap/0.1", "id": "menu", "version": 2, "name": "edit", "meta": {"format": "text/html"},
           "content": [{"op": "replace", "target": {"type": "id", "value": "café"}, "content": "latte"},
                       {"op": "replace", "target": {"type": "id", "value": "a/b"}, "content": "y"}]}
    raw = json.dumps(env).replace("/", "\\/")  # ASCII escapes; some writers escape "/" too
    assert "caf\\u00e9" in raw and "a\\/b" in raw
    (ws / "menu.gap.json").write_text(raw, "utf-8")
    uri = ed.open_file(ws / "menu.html")
    text = ed.docs[uri]
    tid = types.TextDocumentIdentifier(uri=uri)
    for target in ("café", "a/b"):
        locs = await ws_client.text_document_references_async(types.ReferenceParams(
            text_document=tid, position=position_of(text, f'id="{target}"', 5), context=types.ReferenceContext(include_declaration=False)))
        assert [l.uri.rsplit("/", 1)[-1] for l in locs] == ["menu.gap.json"], target
    edit = await ws_client.text_document_rename_async(types.RenameParams(text_document=tid, position=position_of(text, 'id="café"', 5), new_name="coffee"))
    ed.apply_workspace_edit(edit)
    assert json.loads((ws / "menu.gap.json").read_text("utf-8"))["content"][0]["target"]["value"] == "coffee"
    assert 'id="coffee"' in ed.docs[uri]
