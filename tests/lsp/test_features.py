"""Symbols (kinds, details, flat fallback, JSON Pointers, workspace), diagnostics, settings,
rebase and change annotations, malformed requests (pytest-lsp)."""

from __future__ import annotations

import asyncio
import json

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from .editor import position_of, text_in, wait_for

TID = types.TextDocumentIdentifier



async def test_symbol_kinds_details_and_json_pointer_symbols(ws_client):
    uri = ws_client.editor.open_file(ws_client.ws / "dashboard.html")
    syms = await ws_client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=TID(uri=uri)))
    header = syms[0]
    assert header.kind == types.SymbolKind.Namespace and header.detail.startswith("Page header · ") and header.detail.endswith(" tok")
    store = header.children[0]
    assert store.name == "store-name" and store.kind == types.SymbolKind.Constant and store.detail == "≈4 tok"
    rows = next(s for s in syms if s.name == "orders").children[0]
    assert rows.kind == types.SymbolKind.Struct and "accepts tr*" in rows.detail
    # JSON and YAML artifacts: the addressable structure with its pointers
    ws_client.editor.open("file:///t/config.json", '{\n  "db": {"host": "x", "port": 5432},\n  "tags": ["a"]\n}\n', "json")
    syms = await ws_client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=TID(uri="file:///t/config.json")))
    assert [(s.name, s.detail, s.kind) for s in syms] == [("db", "/db", types.SymbolKind.Object), ("tags", "/tags", types.SymbolKind.Array)]
    assert [(c.name, c.detail) for c in syms[0].children] == [("host", "/db/host"), ("port", "/db/port")]
    assert syms[0].children[1].kind == types.SymbolKind.Number
    ws_client.editor.open("file:///t/compose.yaml", "services:\n  web:\n    image: nginx\n    ports:\n      - 80\n", "yaml")
    syms = await ws_client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=TID(uri="file:///t/compose.yaml")))
    web = syms[0].children[0]
    assert web.detail == "/services/web" and [c.detail for c in web.children] == ["/services/web/image", "/services/web/ports"]


async def test_flat_symbols_eager_actions_and_plain_edits_for_a_minimal_client(plain_client):
    c = plain_client
    uri = c.editor.open_file(c.ws / "dashboard.html")
    text = c.editor.docs[uri]
    syms = await c.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=TID(uri=uri)))
    assert all(isinstance(s, types.SymbolInformation) for s in syms)
    rv = next(s for s in syms if s.name == "revenue-value")
    assert rv.container_name == "stats" and text_in(text, rv.location.range).startswith('<gap:target id="revenue-value"')
    # no resolve support: the edit comes with the action
    acts = await c.text_document_code_action_async(types.CodeActionParams(
        text_document=TID(uri=uri), range=types.Range(position_of(text, "<title>"), position_of(text, "</title>", 8)),
        context=types.CodeActionContext(diagnostics=[], only=["refactor.rewrite.gap.wrap"])))
    assert acts[0].edit is not None and acts[0].edit.changes
    # no change annotations: a plain edit
    res = await c.editor.command("gap.applyEnvelope", uri, (c.ws / "revenue.gap.json").read_text())
    assert res["applied"]
    (params,) = c.editor.applied
    assert params.edit.change_annotations is None and params.edit.changes


async def test_workspace_symbols_over_open_and_disk_artifacts_with_progress(ws_client):
    ws = ws_client.ws
    (ws / "sub").mkdir()
    (ws / "sub" / "page.md").write_text('# Page\n\n<gap:target id="revenue-note">text</gap:target>\n')
    ws_client.editor.open("file:///t/other.html", '<gap:target id="revenue-chart">x</gap:target>')
    res = await ws_client.workspace_symbol_async(types.WorkspaceSymbolParams(query="revenue"))
    names = sorted((s.name, s.location.uri.rsplit("/", 1)[-1]) for s in res)
    assert names == [("revenue-chart", "other.html"), ("revenue-note", "page.md"), ("revenue-trend", "dashboard.html"), ("revenue-value", "dashboard.html")]
    fuzzy = await ws_client.workspace_symbol_async(types.WorkspaceSymbolParams(query="rvval"))
    assert [s.name for s in fuzzy] == ["revenue-value"]
    (reports, _) = ws_client.progress_reports.values()  # one per search: created by the server
    assert reports[0].kind == "begin" and reports[0].cancellable and reports[-1].kind == "end"


async def test_diagnostics_for_values_as_ids_json_markers_and_overlaps(client):
    uri = "file:///t/ids.html"
    text = '<gap:target id="12340">$12,340</gap:target>\n<gap:target id="2024-05-01">x</gap:target>\n<gap:target id="revenue-value">$1</gap:target>\n'
    client.editor.open(uri, text)
    assert await wait_for(lambda: len(client.diagnostics.get(uri, [])) == 2)
    assert sorted(d.code for d in client.diagnostics[uri]) == ["not_role_based", "not_role_based"]
    assert all("role" in d.message for d in client.diagnostics[uri])
    j = "file:///t/data.json"
    client.editor.open(j, '{"a": "<gap:target id=\\"x\\">1</gap:target>"}\n', "json")
    assert await wait_for(lambda: "markers_in_json" in [d.code for d in client.diagnostics.get(j, [])])
    o = "file:///t/overlap.html"
    client.editor.open(o, '<gap:target id="a">one <gap:target id="b">two</gap:target id="a"> three</gap:target id="b">\n')
    assert await wait_for(lambda: "overlap" in [d.code for d in client.diagnostics.get(o, [])])
    d = next(d for d in client.diagnostics[o] if d.code == "overlap")
    assert "'a'" in d.message and "'b'" in d.message
    # versioned, cleared on close
    client.editor.replace(uri, '<gap:target id="revenue-value">$1</gap:target>\n')
    assert await wait_for(lambda: uri in client.diagnostics and not client.diagnostics[uri])
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=TID(uri=j)))
    assert await wait_for(lambda: not client.diagnostics.get(j))


async def test_invalid_settings_fall_back_and_the_user_is_told(client):
    client.set_configuration({"strictMarkers": "yes", "diagnostics": {"debounceMs": "fast"}, "preview": {"port": 70000},
                              "llm": {"apiKey": 12345, "maxRepairs": 3}, "confirmEdits": False}, section="gap")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    assert await wait_for(lambda: sum("gap." in m.message for m in client.messages) >= 4)
    said = " | ".join(m.message for m in client.messages)
    assert "gap.strictMarkers" in said and "gap.diagnostics.debounceMs" in said and "gap.preview.port" in said and "gap.llm.apiKey" in said
    assert "12345" not in said, "the key is never shown"
    # the valid ones took effect: confirmEdits false → no change annotation on applied edits
    uri = "file:///t/s.html"
    client.editor.open(uri, '<gap:target id="title">a</gap:target>')
    await client.editor.command("gap.applyEnvelope", uri, '[{"op":"replace","target":{"type":"id","value":"title"},"content":"b"}]')
    assert client.editor.applied[-1].edit.change_annotations is None


async def test_model_settings_reach_the_server_and_empty_strings_do_not_hide_env(client):
    client.set_configuration({"llm": {"model": "", "baseUrl": "  ", "editSyntax": "yaml", "timeout": 0, "deadline": -1}}, section="gap")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    assert await wait_for(lambda: sum("gap.llm." in m.message for m in client.messages) >= 3)
    said = " | ".join(m.message for m in client.messages)
    assert "gap.llm.editSyntax" in said and "gap.llm.timeout" in said and "gap.llm.deadline" in said
    assert "gap.llm.model" not in said and "gap.llm.baseUrl" not in said  # empty = unset, not invalid


async def test_apply_rebases_when_targets_are_unchanged_else_conflicts(client):
    uri = "file:///t/dash.html"
    text = '<p><gap:target id="revenue-value">$1</gap:target> <gap:target id="orders-count">3</gap:target></p>\n<p>notes</p>\n'
    client.editor.open(uri, text)
    # the user edits an untargeted region (v2) and revenue-value (v3)
    client.editor.type_at(uri, types.Range(position_of(text, "notes"), position_of(text, "notes")), "my ")
    t2 = client.editor.docs[uri]
    client.editor.type_at(uri, types.Range(position_of(t2, "$1", 2), position_of(t2, "$1", 2)), "0")
    env = {"protocol": "gap/0.1", "id": "dash", "version": 2, "name": "edit", "meta": {"format": "text/html"},
           "content": [{"op": "replace", "target": {"type": "id", "value": "orders-count"}, "content": "4"}]}
    res = await client.editor.command("gap.applyEnvelope", uri, json.dumps(env))
    assert res["applied"] and any("rebased from version 1" in r for r in res["repairs"])
    assert ">4</gap:target>" in client.editor.docs[uri] and ">$10</gap:target>" in client.editor.docs[uri]
    # change annotation with needsConfirmation (VS Code supports them)
    edit = client.editor.applied[-1].edit
    (ann,) = edit.change_annotations.values()
    assert ann.needs_confirmation is True and "orders-count" in ann.description
    assert all(e.annotation_id for dc in edit.document_changes for e in dc.edits)
    before = client.editor.docs[uri]
    env["content"][0]["target"]["value"] = "revenue-value"
    with pytest.raises(JsonRpcException) as info:
        await client.editor.command("gap.applyEnvelope", uri, json.dumps(env))
    assert "version_conflict" in info.value.message and "'revenue-value' was edited" in info.value.message
    assert client.editor.docs[uri] == before


async def test_malformed_requests_never_crash_the_server(client):
    uri = "file:///t/m.html"
    client.editor.open(uri, '<gap:target id="a">x</gap:target>')
    far = types.Position(9999, 9999)
    # positions past the end, unknown documents, bad command arguments
    assert await client.text_document_hover_async(types.HoverParams(text_document=TID(uri=uri), position=far)) is None
    assert await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=TID(uri="file:///nope.html"))) == []
    assert await client.text_document_rename_async(types.RenameParams(text_document=TID(uri="file:///nope.html"), position=far, new_name="x")) is None
    for cmd, args in [("gap.applyEnvelope", []), ("gap.applyEnvelope", [1, 2, 3]), ("gap.stripMarkers", ["file:///nope.html"]),
                      ("gap.addTargets", []), ("gap.previewEnvelope", ["file:///nope.html", "{}"])]:
        with pytest.raises(JsonRpcException):
            await client.editor.command(cmd, *args)
    bogus = types.CodeAction(title="x", data={"resolver": "nope"})
    with pytest.raises(JsonRpcException):
        await client.code_action_resolve_async(bogus)
    # stale resolve: the document changed since the action was offered
    acts = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=TID(uri=uri), range=types.Range(types.Position(0, 0), types.Position(0, 0)),
        context=types.CodeActionContext(diagnostics=[], only=["source.gap.strip"])))
    client.editor.replace(uri, '<gap:target id="a">y</gap:target>')
    with pytest.raises(JsonRpcException):
        await client.code_action_resolve_async(acts[0])
    # still alive and correct
    syms = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=TID(uri=uri)))
    assert [s.name for s in syms] == ["a"]


async def test_workspace_symbol_scan_stops_when_the_user_cancels(ws_client):
    ws = ws_client.ws
    many = ws / "many"
    many.mkdir()
    for i in range(1500):
        (many / f"f{i:04d}.md").write_text(f'<gap:target id="item-{i}">x</gap:target>\n')
    task = asyncio.ensure_future(ws_client.workspace_symbol_async(types.WorkspaceSymbolParams(query="item")))
    assert await wait_for(lambda: any(r and r[0].kind == "begin" for r in ws_client.progress_reports.values()), 10)
    (token,) = [t for t, r in ws_client.progress_reports.items() if r and r[0].kind == "begin"]
    ws_client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    res = await task
    assert len(res) < 1500, "the scan stopped early"
    assert await wait_for(lambda: ws_client.progress_reports[token][-1].kind == "end")
    assert ws_client.progress_reports[token][-1].message == "cancelled"


async def test_apply_envelope_from_a_decoded_json_argument(client):
    uri = "file:///t/arg.html"
    client.editor.open(uri, '<gap:target id="title">a</gap:target>')
    env = {"protocol": "gap/0.1", "id": "arg", "version": 2, "name": "edit", "meta": {"format": "text/html"},
           "content": [{"op": "replace", "target": {"type": "id", "value": "title"}, "content": "b"}]}
    res = await client.editor.command("gap.applyEnvelope", uri, env)
    assert res["applied"] and client.editor.docs[uri] == '<gap:target id="title">b</gap:target>'


async def test_settings_pushed_by_a_client_without_workspace_configuration(plain_client):
    c = plain_client
    c.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"gap": {"diagnostics": {"debounceMs": -5}, "strictMarkers": False}}))
    assert await wait_for(lambda: any("gap.diagnostics.debounceMs" in m.message for m in c.messages))
    # strictMarkers false took effect: content leaving an unclosed marker is applied (with a warning)
    uri = "file:///t/p.html"
    c.editor.open(uri, '<gap:target id="a">x</gap:target>')
    res = await c.editor.command("gap.applyEnvelope", uri, '[{"op":"replace","target":{"type":"id","value":"a"},"content":"<gap:target id=\\"b\\">y"}]')
    assert res["applied"] and res["warnings"]


async def test_a_yaml_artifact_too_long_for_pointers_says_why_its_outline_is_empty(client):
    import yaml

    uri = "file:///t/huge.yaml"
    text = yaml.safe_dump({"items": [{"id": i, "nested": {"y": [1, 2, 3]}} for i in range(6000)]})
    assert text.count("\n") > 32768
    client.editor.open(uri, text, "yaml")
    assert await wait_for(lambda: "yaml_too_long" in [d.code for d in client.diagnostics.get(uri, [])])
    d = next(d for d in client.diagnostics[uri] if d.code == "yaml_too_long")
    assert d.range.start.line == 0 and "32,768" in d.message and "tree-sitter-yaml#49" in d.message
    syms = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=TID(uri=uri)))
    assert not syms  # what the diagnostic explains
    # cut below the limit: the pointer outline comes back and the diagnostic goes
    short = "".join(text.splitlines(keepends=True)[:30000])
    short = short[: short.rindex("\n- id:") + 1]
    client.editor.replace(uri, short)
    assert await wait_for(lambda: uri in client.diagnostics and "yaml_too_long" not in [d.code for d in client.diagnostics[uri]])
    syms = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=TID(uri=uri)))
    assert syms and syms[0].name == "items"


async def test_yaml_nested_deeper_than_tree_sitter_yaml_survives_does_not_crash_the_server(ws_client):
    """tree-sitter-yaml overflows its scanner's state buffer and crashes the process on block
    nesting ~255 levels deep (tree-sitter-grammars/tree-sitter-yaml#48) — one line of 300
    ``- `` is enough. Such a document gets no pointer outline and a ``yaml_too_deep``
    diagnostic saying why; envelopes addressing it by JSON Pointer are refused with a clear
    error; and the server keeps answering."""
    ws, ed = ws_client.ws, ws_client.editor
    deep = "- " * 300 + "v\nname: x\n"
    (ws / "deep.yaml").write_text(deep, "utf-8")
    uri = ed.open_file(ws / "deep.yaml")
    syms = await ws_client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=TID(uri=uri)))
    assert not syms
    assert await wait_for(lambda: "yaml_too_deep" in [d.code for d in ws_client.diagnostics.get(uri, [])])
    d = next(d for d in ws_client.diagnostics[uri] if d.code == "yaml_too_deep")
    assert d.range.start.line == 0 and "tree-sitter-yaml#48" in d.message
    # an envelope file naming it, with a pointer target: checked without a crash
    env = {"protocol": "gap/0.1", "id": "deep", "version": 2, "name": "edit", "meta": {"format": "application/yaml"},
           "content": [{"op": "replace", "target": {"type": "pointer", "value": "/name"}, "content": "y"}]}
    (ws / "deep.gap.json").write_text(json.dumps(env), "utf-8")
    env_uri = ed.open_file(ws / "deep.gap.json", "json")
    assert await wait_for(lambda: env_uri in ws_client.diagnostics)
    env_text = ed.docs[env_uri]
    pos = position_of(env_text, '"/name"', 2)
    await ws_client.text_document_completion_async(types.CompletionParams(text_document=TID(uri=env_uri), position=pos))
    await ws_client.text_document_definition_async(types.DefinitionParams(text_document=TID(uri=env_uri), position=pos))
    with pytest.raises(JsonRpcException) as ei:
        await ed.command("gap.applyEnvelope", uri, json.dumps(env))
    assert "tree-sitter-yaml#48" in ei.value.message and ed.docs[uri] == deep and ed.applied == []
    # still alive, and the outline comes back once the nesting is gone
    ed.replace(uri, "name: x\nitems: [1, 2]\n")
    syms = await ws_client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=TID(uri=uri)))
    assert [s.name for s in syms] == ["name", "items"]
