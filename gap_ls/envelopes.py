"""Envelope files as a language: validation and go-to-definition (LSP 3.17
§textDocument_publishDiagnostics, §textDocument_definition; GAP §3.1, §4.2, §7.3).

For every envelope in an envelope container (``*.gap.json``, ``*.gap.jsonl``, Markdown
fences):

- ``invalid_json`` — the text does not parse (at the first syntax error);
- ``invalid_envelope`` — the envelope schema's first violation (strict for ``*.gap.json(l)``,
  what lenient ingestion cannot repair for Markdown fences), on the operation it concerns;
- ``artifact_not_found`` — no open document or workspace file is the artifact ``id`` names;
- ``target_not_found`` — an operation's id / JSON Pointer does not exist in that artifact
  (on the ``target.value`` string);
- ``version_mismatch`` (information) — the envelope's version does not follow the artifact's
  (applying it rebases or renumbers it, see :func:`gap_ls.edits.rebase_check`).

definition: from an operation's ``target.value`` to the marker of that target (or the value
at that JSON Pointer) in the artifact, open or on disk.
"""

from __future__ import annotations

from gap_engine import GapError, ingest
from gap_engine.model import validate_envelope_data
from gap_engine.pointer import pointer_span
from lsprotocol import types

from . import diagnostics
from .documents import Document, pointer_blocked
from .envelope_files import ArtifactView, envelope_kind, envelopes_of, is_envelope_file, resolve_artifact
from .rename import op_at

SOURCE = "gap"


def _diag(doc, s, e, msg, code, sev=types.DiagnosticSeverity.Error):
    return types.Diagnostic(range=doc.range_at(s, max(e, s)), message=msg, severity=sev, code=code, source=SOURCE)


def envelope_diagnostics(ls, doc: Document) -> list[types.Diagnostic]:
    """Diagnostics for the envelopes of ``doc`` (empty for documents that hold none)."""
    kind = envelope_kind(doc.uri, doc.language_id)
    if kind is None:
        return []
    strict = kind in ("json", "jsonl")
    out: list[types.Diagnostic] = []
    for env in envelopes_of(doc):
        head_end = doc.text.find("\n", env.start)
        head_end = env.end if head_end < 0 or head_end > env.end else head_end
        if env.error:
            s, e = env.error_at or (env.start, env.end)
            out.append(_diag(doc, s, e, env.error, "invalid_json"))
            continue
        try:
            if strict:
                validate_envelope_data(env.data)
            else:
                ingest(env.data)
        except GapError as err:
            i = err.op_index
            if i is not None and i < len(env.ops):
                s, e = env.ops[i].start, env.ops[i].end
            else:
                s, e = env.start, head_end
            out.append(_diag(doc, s, e, err.message, "invalid_envelope"))
            continue
        if isinstance(env.data, dict) and env.data.get("name") not in (None, "edit"):
            continue
        view = resolve_artifact(ls, env.artifact_name, doc.uri) if (env.artifact_name or strict) else None
        if view is None:
            if env.artifact_name or strict:
                out.append(
                    _diag(doc, env.start, head_end, f"no artifact named {env.artifact_name!r} is open or in the workspace; "
                          "targets cannot be checked", "artifact_not_found", types.DiagnosticSeverity.Warning)
                )
            continue
        out.extend(_target_diagnostics(doc, env, view))
        v, cur = env.version, max(view.version or 1, 1)
        if strict and v is not None and v != cur + 1:
            out.append(_diag(doc, env.start, head_end,
                             f"version {v} does not follow {view.name}'s version {cur} (expected {cur + 1}); applying it "
                             f"{'rebases it when its targets are unchanged since version ' + str(v - 1) if v - 1 < cur else 'renumbers it'} "
                             "(GAP §3.3)", "version_mismatch", types.DiagnosticSeverity.Information))
    return out


def _target_diagnostics(doc, env, view: ArtifactView) -> list[types.Diagnostic]:
    out = []
    # the artifact's own yaml_too_deep diagnostic says why its pointers are not checked
    blocked = any(op.target_type == "pointer" for op in env.ops) and pointer_blocked(view.text, view.format) is not None
    for op in env.ops:
        if op.value_span is None or op.target_value is None:
            continue
        if op.target_type == "id":
            if op.target_value not in view.index:
                known = ", ".join(view.index.ids()[:12])
                out.append(
                    _diag(doc, *op.value_span, f"target {op.target_value!r} does not exist in {view.name} "
                          f"(target_not_found, GAP §7.3); its targets: {known}{'…' if len(view.index) > 12 else ''}",
                          "target_not_found")
                )
        elif op.target_type == "pointer" and not blocked:
            if pointer_span(view.text, view.format, op.target_value) is None:
                out.append(_diag(doc, *op.value_span, f"JSON Pointer {op.target_value!r} does not resolve in {view.name} "
                                 "(target_not_found, GAP §4.2)", "target_not_found"))
    return out


def definition(ls, doc: Document, pos: types.Position) -> types.Location | None:
    hit = op_at(ls, doc, doc.offset_at(pos))
    if hit is None:
        return None
    env, op = hit
    if not op.target_value:
        return None
    view = resolve_artifact(ls, env.artifact_name, doc.uri)
    if view is None:
        return None
    vdoc = view.doc or Document(view.uri, None, "", view.text, ls.documents.encoding)
    if op.target_type == "pointer":
        sp = pointer_span(view.text, view.format, op.target_value)
        return None if sp is None else types.Location(uri=view.uri, range=vdoc.range_at(*sp))
    span = view.index.get(op.target_value)
    if span is None:
        return None
    return types.Location(uri=view.uri, range=vdoc.range_at(span.start, span.end))


def register(ls) -> None:
    diagnostics.CONTEXT_PROVIDERS.append(envelope_diagnostics)

    @ls.feature(types.TEXT_DOCUMENT_DEFINITION)
    def _definition(ls, params: types.DefinitionParams):
        doc = ls.documents.get(params.text_document.uri)
        if doc is None or envelope_kind(doc.uri, doc.language_id) is None:
            return None
        return definition(ls, doc, params.position)


__all__ = ["envelope_diagnostics", "definition", "is_envelope_file"]
