"""Marker refactorings (LSP 3.17 §textDocument_codeAction, §codeAction_resolve,
§workspace_executeCommand; GAP §3.2).

- **Wrap selection in a target** (``refactor.rewrite.gap.wrap``): puts
  ``<gap:target id="ID">`` … ``</gap:target>`` around the selection; ``ID`` is role-based,
  derived from the content (:func:`gap_ls.ids.propose_id`) and never a duplicate. Offered only
  when the selection holds whole, balanced markers and cuts no marker; never in JSON artifacts
  or envelope files.
- **Unwrap target** (``refactor.rewrite.gap.unwrap``): removes the two markers of the
  innermost target at the cursor, keeping its content.
- **Strip all markers** (``source.gap.strip``): removes every marker (a clean export). Also
  command ``gap.stripMarkers [uri]`` → ``{"applied": bool, "removed": <markers removed>}``
  (plus ``"reason"`` when the client refused the edit).

Edits are computed lazily in ``codeAction/resolve`` when the client can (``data`` =
``{"resolver", "uri", "version", …}``); a resolve for a document that changed since is
refused with ``RequestFailed`` (ask for the actions again).
"""

from __future__ import annotations

from gap_engine.markers import iter_markers
from gap_engine.pointer import format_kind
from lsprotocol import types

from . import actions
from .edits import ApplyFailed, multi_edit, send_edit
from .envelope_files import is_envelope_file
from .ids import propose_id, unique

KIND_WRAP = "refactor.rewrite.gap.wrap"
KIND_UNWRAP = "refactor.rewrite.gap.unwrap"
KIND_STRIP = "source.gap.strip"


def _doc_for(ls, data: dict):
    doc = ls.documents.get(data.get("uri"))
    if doc is None:
        raise ApplyFailed(f"{data.get('uri')} is not open")
    if data.get("version") != doc.version:
        raise ApplyFailed("the document changed since the code action was offered; ask for it again",
                          {"code": "version_conflict", "message": "document changed"})
    return doc


def _is_artifact(doc) -> bool:
    return not is_envelope_file(doc.uri) and format_kind(doc.format) != "json"


def _balanced(text: str) -> bool:
    depth = 0
    for _, _, closing in iter_markers(text):
        depth += -1 if closing else 1
        if depth < 0:
            return False
    return depth == 0


def _inside_marker(text: str, off: int) -> bool:
    lt = text.rfind("<", 0, off)
    if lt < 0:
        return False
    gt = text.find(">", lt)
    return (text.startswith("<gap:target", lt) or text.startswith("</gap:target", lt)) and gt >= off


def taken_ids(doc) -> set[str]:
    ids = set(doc.index.ids())
    ids.update(p.id for p in doc.index.problems if p.id)
    return ids


def wrap_id(doc, s: int, e: int) -> str:
    """The id Wrap proposes for ``[s, e)``: role-based, unique in the document."""
    return unique(propose_id(doc.text[s:e], doc.format), taken_ids(doc))


def wrap_edits(doc, s: int, e: int, ident: str) -> list[types.TextEdit]:
    """Two insertions: the opening marker at ``s`` and the closing marker at ``e``."""
    return [
        types.TextEdit(range=doc.range_at(s, s), new_text=f'<gap:target id="{ident}">'),
        types.TextEdit(range=doc.range_at(e, e), new_text="</gap:target>"),
    ]


def _provide_wrap(ls, doc, params, s, e):
    if s == e or not _is_artifact(doc):
        return []
    # trim surrounding whitespace/newlines of the selection
    text = doc.text
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    if s == e or _inside_marker(text, s) or _inside_marker(text, e) or not _balanced(text[s:e]):
        return []
    ident = wrap_id(doc, s, e)
    data = {"uri": doc.uri, "version": doc.version, "range": [s, e], "id": ident}
    return [actions.lazy_action(ls, f"Wrap selection in a target ({ident})", KIND_WRAP, "wrap", data)]


def _resolve_wrap(ls, data) -> types.WorkspaceEdit:
    doc = _doc_for(ls, data)
    s, e = data["range"]
    return multi_edit(ls, {doc.uri: (doc.version, wrap_edits(doc, s, e, data["id"]))})


def unwrap_edits(doc, span) -> list[types.TextEdit]:
    return [
        types.TextEdit(range=doc.range_at(span.start, span.content_start), new_text=""),
        types.TextEdit(range=doc.range_at(span.content_end, span.end), new_text=""),
    ]


def _provide_unwrap(ls, doc, params, s, e):
    """On a marker: that target; anywhere inside a target only when the client asks for
    refactorings explicitly (``context.only``), so the light bulb is not always on."""
    if "gap:target" not in doc.text:
        return []
    from .rename import target_at

    on_marker = target_at(doc, s)
    only = params.context.only if params.context else None
    if on_marker is None and not only:
        return []
    span = on_marker or doc.index.innermost_at(s)
    while span is not None and not (span.start <= e <= span.end):
        span = doc.index.get(span.parent) if span.parent else None
    if span is None:
        return []
    data = {"uri": doc.uri, "version": doc.version, "id": span.id}
    return [actions.lazy_action(ls, f"Unwrap target {span.id!r}", KIND_UNWRAP, "unwrap", data)]


def _resolve_unwrap(ls, data) -> types.WorkspaceEdit:
    doc = _doc_for(ls, data)
    span = doc.index.get(data["id"])
    if span is None:
        raise ApplyFailed(f"no target {data['id']!r}", {"code": "target_not_found", "message": data["id"]})
    return multi_edit(ls, {doc.uri: (doc.version, unwrap_edits(doc, span))})


def strip_edits(doc) -> list[types.TextEdit]:
    """One deletion per marker (a single whole-text replacement above 5,000 markers)."""
    marks = list(iter_markers(doc.text))
    if len(marks) > 5000:
        from gap_engine import strip

        return [types.TextEdit(range=doc.range_at(0, len(doc.text)), new_text=strip(doc.text))]
    offs = sorted({o for s, e, _ in marks for o in (s, e)})
    pos = dict(zip(offs, doc.positions_at(offs)))
    return [types.TextEdit(range=types.Range(pos[s], pos[e]), new_text="") for s, e, _ in marks]


def _provide_strip(ls, doc, params, s, e):
    if "gap:target" not in doc.text or is_envelope_file(doc.uri):
        return []
    return [actions.lazy_action(ls, "Strip all GAP markers", KIND_STRIP, "strip", {"uri": doc.uri, "version": doc.version})]


def _resolve_strip(ls, data) -> types.WorkspaceEdit:
    doc = _doc_for(ls, data)
    return multi_edit(ls, {doc.uri: (doc.version, strip_edits(doc))})


def register(ls) -> None:
    actions.add_provider(KIND_WRAP, _provide_wrap)
    actions.add_resolver("wrap", _resolve_wrap)
    actions.add_provider(KIND_UNWRAP, _provide_unwrap)
    actions.add_resolver("unwrap", _resolve_unwrap)
    actions.add_provider(KIND_STRIP, _provide_strip)
    actions.add_resolver("strip", _resolve_strip)

    @ls.command("gap.stripMarkers")
    async def _strip(ls, uri: str) -> dict:
        """``gap.stripMarkers [uri]`` → ``{"applied", "removed"}`` (one undoable edit); when the
        client refuses the edit, ``{"applied": false, "removed": 0, "reason": <its failureReason>}``."""
        doc = ls.documents.get(uri)
        if doc is None:
            raise ApplyFailed(f"{uri} is not open")
        n = sum(1 for _ in iter_markers(doc.text))
        if n == 0:
            return {"applied": True, "removed": 0}
        res = await send_edit(
            ls,
            types.ApplyWorkspaceEditParams(edit=multi_edit(ls, {doc.uri: (doc.version, strip_edits(doc))}), label="Strip GAP markers")
        )
        if not res.applied:
            return {"applied": False, "removed": 0, "reason": res.failure_reason or "the client did not apply the edit"}
        return {"applied": True, "removed": n}
