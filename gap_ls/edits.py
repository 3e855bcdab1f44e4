"""Envelopes → minimal, undoable workspace edits (LSP 3.17 §workspace_applyEdit).

:func:`apply_envelope` parses an envelope (leniently by default: what models write), applies
it with the engine to the document's current text, turns the engine's splices into
``TextEdit`` s in the negotiated position encoding, and sends ONE ``workspace/applyEdit`` with
a versioned document identifier. A rejected envelope changes nothing: the error names the
operation and the reason, goes back as the command's error and to ``window/showMessage``.

Command ``gap.applyEnvelope`` ``[uri, envelopeText]`` → ``{"applied": true, "version": N,
"targets": [ids…], "repairs": […]}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from gap_engine import GapError, apply_with_splices, ingest, parse_envelope
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from .documents import Document, uri_to_path

log = logging.getLogger("gap_ls.edits")

#: LSP 3.17 ``LSPErrorCodes.RequestFailed``
REQUEST_FAILED = -32803


class ApplyFailed(JsonRpcException):
    """A refused envelope or edit, answered as a ``RequestFailed`` error whose ``data`` is the
    GAP error object ``{"code", "message", "op_index"?}``."""

    CODE = REQUEST_FAILED

    def __init__(self, message: str, data: dict | None = None):
        super().__init__(message=message, code=REQUEST_FAILED, data=data)


def text_edits(doc: Document, splices) -> list[types.TextEdit]:
    """``TextEdit`` s for engine splices (input-body code-point offsets)."""
    return [types.TextEdit(range=doc.range_at(s.start, s.end), new_text=s.text) for s in splices]


def workspace_edit(ls, doc: Document, edits: list[types.TextEdit], label: str | None = None) -> types.WorkspaceEdit:
    """A ``WorkspaceEdit`` for one document: ``documentChanges`` with a versioned identifier
    when the client supports them, else ``changes``."""
    caps = ls.client_capabilities.workspace
    we = caps.workspace_edit if caps else None
    if we is not None and we.document_changes:
        return types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(uri=doc.uri, version=doc.version),
                    edits=edits,
                )
            ]
        )
    return types.WorkspaceEdit(changes={doc.uri: edits})


def _envelope_text(envelope: Any) -> str:
    if isinstance(envelope, str):
        return envelope
    return json.dumps(envelope, ensure_ascii=False)


def resolve_document(ls, uri: str) -> Document:
    """The open document for ``uri``; a file not open in the editor is read from disk."""
    doc = ls.documents.get(uri)
    if doc is not None:
        return doc
    path = uri_to_path(uri)
    if path is None or not path.is_file():
        raise ApplyFailed(f"{uri} is not open and not a readable file")
    return Document(uri, None, "", path.read_text("utf-8"), ls.documents.encoding)


async def apply_envelope(ls, uri: str, envelope: Any, *, lenient: bool = True, label: str = "Apply GAP edit") -> dict:
    """Apply an envelope to the document ``uri`` through ``workspace/applyEdit``.

    Args:
        envelope: envelope JSON text (or raw model output when ``lenient``), or decoded JSON.

    Returns:
        ``{"applied": True, "version": <document version after the edit>, "targets": [ids],
        "repairs": [what lenient parsing fixed], "warnings": [...]}``

    Raises:
        ApplyFailed: the envelope was rejected (``data`` = the GAP error) or the client
            refused the edit. The document is unchanged in both cases.
    """
    doc = resolve_document(ls, uri)
    artifact = doc.artifact()
    text = _envelope_text(envelope)
    try:
        if lenient:
            ing = ingest(text, artifact=artifact)
            env, repairs = ing.envelope, list(ing.repairs)
        else:
            env, repairs = parse_envelope(text), []
        result = apply_with_splices(artifact, env, strict_markers=ls.settings.strict_markers)
    except GapError as err:
        data = err.to_dict()
        if err.op_index is not None:
            data["op_index"] = err.op_index
        ls.show(f"GAP edit rejected, document unchanged — {err.code}: {err.message}", types.MessageType.Error)
        raise ApplyFailed(f"{err.code}: {err.message}", data) from None
    new_body = result.artifact.body
    targets = [t.id for t in result.artifact.targets]
    if new_body == doc.text:
        return {"applied": True, "version": doc.version, "targets": targets, "repairs": repairs, "warnings": list(result.warnings)}
    edits = text_edits(doc, result.splices)
    if doc.changed is not None:
        doc.changed.clear()
    res = await ls.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(edit=workspace_edit(ls, doc, edits), label=label)
    )
    if not res.applied:
        reason = res.failure_reason or "the client did not apply the edit"
        ls.show(f"GAP edit not applied: {reason}", types.MessageType.Error)
        raise ApplyFailed(f"client refused the edit: {reason}", {"code": "client_refused", "message": reason})
    # The client answers applyEdit and sends didChange in either order: wait briefly for it.
    if doc.uri in ls.documents and doc.changed is not None:
        try:
            async with asyncio.timeout(2.0):
                while doc.text != new_body:
                    doc.changed.clear()
                    await doc.changed.wait()
        except TimeoutError:
            log.warning("no didChange with the applied edit for %s within 2 s", doc.uri)
    return {
        "applied": True,
        "version": doc.version,
        "targets": targets,
        "repairs": repairs,
        "warnings": list(result.warnings),
    }


def register(ls) -> None:
    @ls.command("gap.applyEnvelope")
    async def _apply_envelope(ls, uri: str, envelope: Any) -> dict:
        """``gap.applyEnvelope [uri, envelopeText]`` (see :func:`apply_envelope`)."""
        return await apply_envelope(ls, uri, envelope)
