"""Folding, selection ranges, highlights and hover on targets (pytest-lsp)."""

from __future__ import annotations

from lsprotocol import types

from .editor import position_of, text_in

TID = types.TextDocumentIdentifier


async def test_folding_ranges_per_multiline_target(ws_client):
    uri = ws_client.editor.open_file(ws_client.ws / "dashboard.html")
    text = ws_client.editor.docs[uri]
    folds = await ws_client.text_document_folding_range_async(types.FoldingRangeParams(text_document=TID(uri=uri)))
    by_name = {f.collapsed_text: f for f in folds}
    assert set(by_name) >= {"header", "stats", "sales-chart", "orders"}
    assert "revenue-value" not in by_name, "single-line targets do not fold"
    stats = by_name["stats"]
    lines = text.split("\n")
    assert lines[stats.start_line].startswith('<gap:target id="stats"')
    assert lines[stats.end_line].startswith("</gap:target>")
    assert all(f.kind == types.FoldingRangeKind.Region for f in folds)


async def test_selection_ranges_grow_target_by_target(ws_client):
    uri = ws_client.editor.open_file(ws_client.ws / "dashboard.html")
    text = ws_client.editor.docs[uri]
    pos = position_of(text, "$12,340", 3)
    (sel,) = await ws_client.text_document_selection_range_async(
        types.SelectionRangeParams(text_document=TID(uri=uri), positions=[pos])
    )
    chain = []
    while sel is not None:
        chain.append(text_in(text, sel.range))
        sel = sel.parent
    assert chain[0] == "$12,340"
    assert chain[1] == '<gap:target id="revenue-value" type="value">$12,340</gap:target>'
    assert chain[2].startswith("\n<section") and chain[3].startswith('<gap:target id="stats"')
    assert chain[-1] == text
    assert all(len(a) <= len(b) for a, b in zip(chain, chain[1:]))


async def test_highlight_matching_marker_and_hover(ws_client):
    uri = ws_client.editor.open_file(ws_client.ws / "dashboard.html")
    text = ws_client.editor.docs[uri]
    pos = position_of(text, '<gap:target id="stats"', 3)
    hl = await ws_client.text_document_document_highlight_async(types.DocumentHighlightParams(text_document=TID(uri=uri), position=pos))
    assert [text_in(text, h.range) for h in hl] == ['<gap:target id="stats" type="section" label="Key figures">', "</gap:target>"]
    close = hl[1].range.start
    assert text.split("\n")[close.line].startswith("</gap:target>")
    # from the closing marker: the same pair
    hl2 = await ws_client.text_document_document_highlight_async(types.DocumentHighlightParams(text_document=TID(uri=uri), position=types.Position(close.line, close.character + 2)))
    assert [h.range for h in hl2] == [h.range for h in hl]
    # nothing away from markers
    assert not await ws_client.text_document_document_highlight_async(types.DocumentHighlightParams(text_document=TID(uri=uri), position=types.Position(0, 1)))
    hov = await ws_client.text_document_hover_async(types.HoverParams(text_document=TID(uri=uri), position=pos))
    md = hov.contents.value
    assert "`stats`" in md and "type `section`" in md and "label: Key figures" in md
    assert "nested targets: 8" in md
    assert "tokens" in md and "full regeneration of dashboard.html" in md and "estimate" in md
    hov = await ws_client.text_document_hover_async(types.HoverParams(text_document=TID(uri=uri), position=position_of(text, 'id="orders-rows"', 4)))
    assert "accepts: `tr*`" in hov.contents.value
    assert await ws_client.text_document_hover_async(types.HoverParams(text_document=TID(uri=uri), position=types.Position(0, 1))) is None
