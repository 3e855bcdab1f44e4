"""Add targets to unmarked files, structurally (tree-sitter), with progress (pytest-lsp)."""

from __future__ import annotations

import re

from gap_engine import scan
from lsprotocol import types

TID = types.TextDocumentIdentifier

PY = "import os\n\n\n@dataclass\nclass User:\n    name: str\n\n\ndef main():\n    pass\n"
MD = "# Guide\n\nintro\n\n## Install\n\npip install x\n\n## Usage\n\nrun it\n"
HTML = '<html><head><title>Shop</title></head><body>\n<header id="top"><h1>Shop</h1></header>\n<main>\n<div class="card"><span class="value">12</span></div>\n</main>\n<script>var header = "<div class=x>";</script>\n</body></html>\n'


async def actions(client, uri, only):
    p = types.Position(0, 0)
    return await client.text_document_code_action_async(types.CodeActionParams(
        text_document=TID(uri=uri), range=types.Range(p, p), context=types.CodeActionContext(diagnostics=[], only=only))) or []


async def test_add_targets_action_for_code_markdown_and_html(client):
    cases = {
        "file:///t/app.py": ("python", PY, ["user", "main"]),
        "file:///t/guide.md": ("markdown", MD, ["guide", "install", "usage"]),
        "file:///t/shop.html": ("html", HTML, ["title", "top", "h1", "main", "card", "value"]),
    }
    for uri, (lang, text, ids) in cases.items():
        client.editor.open(uri, text, lang)
        (act,) = await actions(client, uri, ["source.gap.addTargets"])
        assert act.kind == "source.gap.addTargets"
        act = await client.code_action_resolve_async(act)
        client.editor.apply_workspace_edit(act.edit)
        new = client.editor.docs[uri]
        idx = scan(new)
        assert idx.ids() == ids, (uri, idx.ids())
        assert not idx.problems
        assert re.sub(r"</?gap:target[^>]*>\n?", "", new) == text or lang == "html"
        # marked now: no more offer, but strip is offered
        assert await actions(client, uri, ["source.gap.addTargets"]) == []
    html = client.editor.docs["file:///t/shop.html"]
    assert '<gap:target id="top"><header id="top"><gap:target id="h1"><h1>Shop</h1></gap:target></header></gap:target>' in html
    assert 'var header = "<div class=x>";' in html, "script contents are not touched"
    assert 'class User:' in client.editor.docs["file:///t/app.py"]
    assert client.editor.docs["file:///t/app.py"].startswith('import os\n\n\n<gap:target id="user">\n@dataclass')


async def test_add_targets_refused_by_the_client_says_why(client):
    uri = "file:///t/refused.py"
    text = "def a():\n    return 1\n\n\ndef b():\n    return 2\n"
    client.editor.open(uri, text, "python")
    client.editor.refuse = True
    try:
        res = await client.editor.command("gap.addTargets", uri)
    finally:
        client.editor.refuse = False
    assert res == {"applied": False, "added": [], "reason": "refused by the user"}
    assert client.editor.docs[uri] == text


async def test_add_targets_command_reports_progress_on_big_files(client):
    uri = "file:///t/big.py"
    body = "    # " + "x" * 150 + "\n"
    text = "".join(f"def handler_{i}(request):\n{body}    return {i}\n\n\n" for i in range(600))
    client.editor.open(uri, text, "python")
    res = await client.editor.command("gap.addTargets", uri)
    assert res["applied"] and len(res["added"]) == 600 and res["added"][0] == "handler-0"
    assert len(scan(client.editor.docs[uri])) == 600
    (reports,) = client.progress_reports.values()
    assert reports[0].kind == "begin" and reports[-1].kind == "end"
    # unknown grammar: a clear error
    client.editor.open("file:///t/notes.txt", "hello\n", "plaintext")
    import pytest
    from pygls.exceptions import JsonRpcException

    with pytest.raises(JsonRpcException):
        await client.editor.command("gap.addTargets", "file:///t/notes.txt")


async def test_add_targets_in_a_crlf_file_keeps_its_line_ends(client):
    """Markers put on their own lines use the document's line end: a CRLF file stays CRLF
    (no bare LF appears) for the command and the code action alike."""
    for lang, text, name in (("python", PY, "crlf.py"), ("markdown", MD, "crlf.md")):
        crlf = text.replace("\n", "\r\n")
        uri = f"file:///t/{name}"
        client.editor.open(uri, crlf, lang)
        res = await client.editor.command("gap.addTargets", uri)
        assert res["applied"] and res["added"]
        new = client.editor.docs[uri]
        assert "\n" not in new.replace("\r\n", ""), repr(new)
        assert re.sub(r"</?gap:target[^>]*>\r\n", "", new) == crlf
        assert not scan(new).problems
