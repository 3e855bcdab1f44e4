"""Rename a target id, find the envelope operations that target it (LSP 3.17
§textDocument_prepareRename, §textDocument_rename, §textDocument_references; GAP §3.2, §4.2).

A target is addressed from the id in its opening marker, from anywhere on its closing
marker, or from the ``target.value`` of an operation in an envelope container (``*.gap.json``,
``*.gap.jsonl``, Markdown fences). Renaming changes the marker's ``id`` attribute (and a closing marker that
names the target) and every operation, in open
documents and in workspace files, whose envelope names that artifact (``id`` → artifact, see
:func:`gap_ls.envelope_files.resolve_artifact`). A new name that is empty, holds quotes,
angle brackets or whitespace, or is already used in the artifact is refused (RequestFailed).
Both report work-done progress when the request carries a ``workDoneToken``.
"""

from __future__ import annotations

import json
import re

from lsprotocol import types

from .documents import Document
from .edits import ApplyFailed, multi_edit
from .envelope_files import ArtifactView, envelope_at, envelope_kind, envelopes_of, find_envelopes, is_envelope_file, resolve_artifact
from .ids import attr_id_span
from .progress import work_done
from .workspace import envelope_file_uris, read_text

_VALID = re.compile(r"""\A[^\s"'<>&\\]+\Z""")


def marker_id_span(text: str, span) -> tuple[int, int] | None:
    """Offsets of the id value inside ``span``'s opening marker."""
    return attr_id_span(text, span.start, span.content_start)


def target_at(doc: Document, offset: int):
    """The target whose opening or closing marker is under ``offset`` (or None)."""
    if "gap:target" not in doc.text:
        return None
    span = doc.index.innermost_at(offset)
    # innermost_at gives the innermost region holding offset; the marker may be its parent's
    while span is not None:
        if span.start <= offset <= span.content_start or span.content_end <= offset <= span.end:
            return span
        span = doc.index.get(span.parent) if span.parent else None
    return None


def _view_doc(ls, view: ArtifactView) -> Document:
    return view.doc or Document(view.uri, None, "", view.text, ls.documents.encoding)


def op_at(ls, doc: Document, offset: int):
    """``(envelope, op)`` whose ``target.value`` string is under ``offset`` in an envelope
    container, or None."""
    if envelope_kind(doc.uri, doc.language_id) is None:
        return None
    refs = envelopes_of(doc)
    env = envelope_at(refs, offset)
    if env is None:
        return None
    for op in env.ops:
        if op.value_span and op.value_span[0] <= offset <= op.value_span[1]:
            return env, op
    return None


def references(ls, artifact_uri: str, target_id: str, kind: str = "id") -> list[types.Location]:
    """Locations of every operation (``target.value`` string content) that addresses
    ``target_id`` of the artifact ``artifact_uri``, in open documents and workspace files."""
    out: list[types.Location] = []
    resolved: dict[tuple[str | None, str], str | None] = {}
    # a quick test on the raw text, unless JSON may spell the id otherwise (``\u00e9``, ``\/``)
    literal = target_id.isascii() and "/" not in target_id and "\\" not in target_id and '"' not in target_id
    for uri in envelope_file_uris(ls):
        text = read_text(ls, uri)
        if text is None or (literal and target_id not in text):
            continue
        open_doc = ls.documents.get(uri)
        refs = envelopes_of(open_doc) if open_doc is not None else find_envelopes(text, envelope_kind(uri))
        holder = None
        for env in refs:
            hits = [op for op in env.ops if op.target_type == kind and op.target_value == target_id and op.value_span]
            if not hits:
                continue
            key = (env.artifact_name, uri)
            if key not in resolved:
                view = resolve_artifact(ls, env.artifact_name, uri)
                resolved[key] = view.uri if view is not None else None
            if resolved[key] != artifact_uri:
                continue
            holder = holder or open_doc or Document(uri, None, "", text, ls.documents.encoding)
            for op in hits:
                s, e = op.value_inner
                out.append(types.Location(uri=uri, range=holder.range_at(s, e)))
    return out


def _resolve_position(ls, uri: str, pos: types.Position):
    """(artifact view, target span) for a position in an artifact or an envelope container."""
    doc = ls.documents.get(uri)
    if doc is None:
        return None
    off = doc.offset_at(pos)
    if not is_envelope_file(uri):
        span = target_at(doc, off)
        if span is not None:
            return ArtifactView(doc.uri, doc.text, doc.format, doc.version, doc), span
    hit = op_at(ls, doc, off)
    if hit is None:
        return None
    env, op = hit
    if op.target_type != "id" or not op.target_value:
        return None
    view = resolve_artifact(ls, env.artifact_name, uri)
    if view is None:
        return None
    span = view.index.get(op.target_value)
    return (view, span) if span is not None else None


def rename_edit(ls, view: ArtifactView, span, new_name: str) -> types.WorkspaceEdit:
    """The workspace edit renaming ``span``'s target to ``new_name`` everywhere."""
    if not _VALID.match(new_name or ""):
        raise ApplyFailed(f"{new_name!r} is not a valid target id (no spaces, quotes or angle brackets)")
    if new_name != span.id and new_name in view.index:
        raise ApplyFailed(f"the artifact already has a target {new_name!r}")
    adoc = _view_doc(ls, view)
    per: dict[str, tuple[int | None, list[types.TextEdit]]] = {}
    ids = marker_id_span(adoc.text, span)
    if ids is not None:
        per[adoc.uri] = (adoc.version, [types.TextEdit(range=adoc.range_at(*ids), new_text=new_name)])
        closing = attr_id_span(adoc.text, span.content_end, span.end)  # ``</gap:target id="…">``
        if closing is not None and adoc.text[closing[0] : closing[1]] == span.id:
            per[adoc.uri][1].append(types.TextEdit(range=adoc.range_at(*closing), new_text=new_name))
    escaped = json.dumps(new_name, ensure_ascii=False)[1:-1]
    for loc in references(ls, view.uri, span.id):
        version = ls.documents.get(loc.uri).version if loc.uri in ls.documents else None
        per.setdefault(loc.uri, (version, []))[1].append(types.TextEdit(range=loc.range, new_text=escaped))
    return multi_edit(ls, per)


def register(ls) -> None:
    @ls.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
    def _prepare(ls, params: types.PrepareRenameParams):
        hit = _resolve_position(ls, params.text_document.uri, params.position)
        if hit is None:
            return None
        view, span = hit
        doc = ls.documents.get(params.text_document.uri)
        off = doc.offset_at(params.position)
        if doc.uri == view.uri:
            ids = marker_id_span(doc.text, span)
            if ids is None:
                return None
            return types.PrepareRenamePlaceholder(range=doc.range_at(*ids), placeholder=span.id)
        env, op = op_at(ls, doc, off)
        return types.PrepareRenamePlaceholder(range=doc.range_at(*op.value_inner), placeholder=span.id)

    @ls.feature(types.TEXT_DOCUMENT_RENAME, types.RenameOptions(prepare_provider=True))
    async def _rename(ls, params: types.RenameParams):
        hit = _resolve_position(ls, params.text_document.uri, params.position)
        if hit is None:
            return None
        view, span = hit
        if params.work_done_token is None:
            return rename_edit(ls, view, span, params.new_name)
        async with work_done(ls, f"Renaming {span.id!r} in envelope files", token=params.work_done_token):
            return rename_edit(ls, view, span, params.new_name)

    @ls.feature(types.TEXT_DOCUMENT_REFERENCES)
    async def _references(ls, params: types.ReferenceParams):
        hit = _resolve_position(ls, params.text_document.uri, params.position)
        if hit is None:
            return None
        view, span = hit
        if params.work_done_token is None:
            out = references(ls, view.uri, span.id)
        else:
            async with work_done(ls, f"Finding operations on {span.id!r}", token=params.work_done_token):
                out = references(ls, view.uri, span.id)
        if params.context is None or params.context.include_declaration:
            adoc = _view_doc(ls, view)
            out.insert(0, types.Location(uri=view.uri, range=adoc.range_at(span.start, span.content_start)))
        return out
