"""Envelopes → minimal, undoable workspace edits (LSP 3.17 §workspace_applyEdit; GAP §4, §3.3).

:func:`apply_envelope` parses an envelope (leniently by default: what models write), applies
it with the engine to the document's current text, turns the engine's splices into
``TextEdit`` s in the negotiated position encoding, and sends ONE ``workspace/applyEdit`` with
a versioned document identifier (so one undo restores the previous text). A rejected envelope
changes nothing: the error names the operation and the reason, goes back as the command's
error (``RequestFailed``, ``data`` = the GAP error) and to ``window/showMessage``.

- Change annotations: with a client that supports them and ``gap.confirmEdits`` on, every
  edit is an ``AnnotatedTextEdit`` of one ``ChangeAnnotation`` with ``needsConfirmation``
  (VS Code shows accept/reject); other clients get a plain versioned edit.
- Automatic rebase: an envelope produced for an older, remembered version of the document
  applies when every region it targets is unchanged since, else ``version_conflict`` says
  which targets changed (:func:`rebase_check`).

Command ``gap.applyEnvelope`` ``[uri, envelope]`` (text, decoded JSON or an envelope file URI)
or ``[envelopeFileUri]`` → ``{"applied": true, "version": N, "targets": [ids…], "repairs": […],
"warnings": […]}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import attrs
from gap_engine import GapError, apply_with_splices, ingest, parse_envelope, scan
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from .documents import Document, refuse_blocked_pointers, uri_to_path

log = logging.getLogger("gap_ls.edits")

#: LSP 3.17 ``LSPErrorCodes.RequestFailed``
REQUEST_FAILED = -32803
#: times an edit refused because the user typed meanwhile is derived again and re-sent
MAX_RETRIES = 2


class ApplyFailed(JsonRpcException):
    """A refused envelope or edit, answered as a ``RequestFailed`` error whose ``data`` is the
    GAP error object ``{"code", "message", "op_index"?}``."""

    CODE = REQUEST_FAILED

    def __init__(self, message: str, data: dict | None = None):
        super().__init__(message=message, code=REQUEST_FAILED, data=data)


def text_edits(doc: Document, splices) -> list[types.TextEdit]:
    """``TextEdit`` s for engine splices (input-body code-point offsets)."""
    return [types.TextEdit(range=doc.range_at(s.start, s.end), new_text=s.text) for s in splices]


#: the change annotation used for applied envelopes (LSP 3.17 §ChangeAnnotation)
ANNOTATION_ID = "gap.apply"


def supports_annotations(ls) -> bool:
    """Does the client support change annotations (and so ``needsConfirmation``)?"""
    caps = ls.client_capabilities.workspace
    we = caps.workspace_edit if caps else None
    return bool(we is not None and we.document_changes and we.change_annotation_support is not None)


def multi_edit(ls, per_doc: dict[str, tuple[int | None, list[types.TextEdit]]], annotation: types.ChangeAnnotation | None = None) -> types.WorkspaceEdit:
    """A ``WorkspaceEdit`` over several documents: ``{uri: (version or None, edits)}``.

    ``documentChanges`` with ``OptionalVersionedTextDocumentIdentifier`` when the client
    supports them (else ``changes``); with ``annotation`` and a client that supports change
    annotations, every edit is an ``AnnotatedTextEdit`` referring to it.
    """
    caps = ls.client_capabilities.workspace
    we = caps.workspace_edit if caps else None
    if we is not None and we.document_changes:
        annotate = annotation is not None and supports_annotations(ls)
        dcs = []
        for uri, (version, edits) in per_doc.items():
            if annotate:
                edits = [types.AnnotatedTextEdit(range=e.range, new_text=e.new_text, annotation_id=ANNOTATION_ID) for e in edits]
            dcs.append(
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
                    edits=edits,
                )
            )
        return types.WorkspaceEdit(
            document_changes=dcs,
            change_annotations={ANNOTATION_ID: annotation} if annotate else None,
        )
    return types.WorkspaceEdit(changes={uri: edits for uri, (_, edits) in per_doc.items()})


def workspace_edit(ls, doc: Document, edits: list[types.TextEdit], label: str | None = None, annotation: types.ChangeAnnotation | None = None) -> types.WorkspaceEdit:
    """A ``WorkspaceEdit`` for one document (see :func:`multi_edit`)."""
    return multi_edit(ls, {doc.uri: (doc.version, edits)}, annotation)


def can_apply_edits(ls) -> bool:
    """Does the client accept ``workspace/applyEdit`` (capability ``workspace.applyEdit``)?"""
    caps = ls.client_capabilities.workspace
    return bool(caps is not None and caps.apply_edit)


async def send_edit(ls, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
    """Send ``workspace/applyEdit`` (LSP 3.17 §workspace_applyEdit) and return the client's
    answer; an error answer comes back as ``applied: false`` with the error as the reason.

    Raises:
        ApplyFailed: ``client_refused`` without sending anything when the client does not
            support ``workspace/applyEdit``.
    """
    if not can_apply_edits(ls):
        msg = "the client does not support workspace/applyEdit (capability workspace.applyEdit), so the server cannot edit documents"
        raise ApplyFailed(f"client_refused: {msg}", {"code": "client_refused", "message": msg})
    try:
        return await ls.workspace_apply_edit_async(params)
    except JsonRpcException as err:
        log.warning("workspace/applyEdit answered with an error: %s", err)
        return types.ApplyWorkspaceEditResult(applied=False, failure_reason=f"the client answered with an error: {err.message or err}")


@contextlib.contextmanager
def uncancellable(ls):
    """Within this block, ``$/cancelRequest`` for the request being handled is ignored and the
    request answers with its real outcome (see :class:`gap_ls.server.GapProtocol`)."""
    proto = getattr(ls, "protocol", None)
    keep = getattr(proto, "uncancellable", None)
    msg_id = getattr(proto, "msg_id", None)
    if keep is None or msg_id is None:
        yield
        return
    keep.add(msg_id)
    try:
        yield
    finally:
        keep.discard(msg_id)


def check_arguments(command: str, args: tuple, shape: str, least: int, most: int) -> None:
    """Check a command's ``arguments``: between ``least`` and ``most`` of them, the first a
    non-empty string (a URI).

    Raises:
        JsonRpcInvalidParams: naming ``command`` and the expected ``shape``.
    """
    if not least <= len(args) <= most:
        raise JsonRpcInvalidParams(f"{command} expects {shape}; got {len(args)} argument(s)")
    if not isinstance(args[0], str) or not args[0]:
        raise JsonRpcInvalidParams(f"{command} expects {shape}; the first argument must be a URI string, got {json.dumps(args[0])[:80]}")


def envelope_text(envelope: Any) -> str:
    if isinstance(envelope, str):
        return envelope
    return json.dumps(envelope, ensure_ascii=False)


def resolve_document(ls, uri: str) -> Document:
    """The open document for ``uri``; a file not open in the editor is read from disk.

    Raises:
        ApplyFailed: not open, and not a file that can be read as UTF-8 text.
    """
    doc = ls.documents.get(uri)
    if doc is not None:
        return doc
    path = uri_to_path(uri)
    if path is None or not path.is_file():
        raise ApplyFailed(f"{uri} is not open and not a readable file")
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError as exc:
        raise ApplyFailed(f"{uri} is not open and is not UTF-8 text ({exc.reason} at byte {exc.start}): open it in the editor to edit it") from None
    except OSError as exc:
        raise ApplyFailed(f"{uri} is not open and cannot be read: {exc.strerror or exc}") from None
    return Document(uri, None, "", text, ls.documents.encoding)


def _stated_version(text: str) -> int | None:
    """The ``version`` an envelope states (None when it states none or is not an edit)."""
    try:
        ing = ingest(text)
    except GapError:
        return None
    if ing.envelope.name != "edit" or any(r.startswith("version ") for r in ing.repairs):
        return None
    return ing.envelope.version


def _region(text: str, fmt: str, target, index) -> str | None:
    """The text of the region ``target`` names in ``text`` (``index`` = ``scan(text)``, for
    id targets), or None when it does not resolve."""
    if target.type == "id":
        span = index.get(target.value)
        return None if span is None else text[span.content_start : span.content_end]
    from gap_engine.pointer import pointer_span

    sp = pointer_span(text, fmt, target.value)
    return None if sp is None else text[sp[0] : sp[1]]


def changed_targets(old: str, new: str, fmt: str, env) -> list[str]:
    """The regions an edit envelope targets that differ between the texts ``old`` and ``new``
    (a marked target's content, or the value at a JSON Pointer), as
    ``"<type> '<value>' was edited|removed|added"`` (no duplicates, in operation order)."""
    changed: list[str] = []
    # each text is scanned once, not once per operation
    by_id = any(op.target.type == "id" for op in env.content)
    old_index, new_index = (scan(old), scan(new)) if by_id else (None, None)
    for op in env.content:
        t = op.target
        was = _region(old, fmt, t, old_index)
        now = _region(new, fmt, t, new_index)
        if was is None and now is None:
            continue  # target_not_found will say so
        if was != now:
            what = "was removed" if now is None else ("was added" if was is None else "was edited")
            changed.append(f"{t.type} {t.value!r} {what}")
    return list(dict.fromkeys(changed))


def rebase_check(doc: Document, env, stated: int | None) -> str | None:
    """Automatic rebase (GAP §3.3, §5.3): an envelope produced for an older version of ``doc``
    applies to the current text only when every region it targets is unchanged since.

    Returns a note for the repairs list when the envelope was rebased, None when no rebase
    was needed or the base version is unknown (lenient: the stated version is then taken as a
    model's guess).

    Raises:
        ApplyFailed: ``version_conflict`` naming the targets that changed (or disappeared).
    """
    if stated is None or doc.version is None:
        return None
    cur = max(doc.version, 1)
    base = stated - 1
    if base >= cur:
        return None
    old = doc.text_at(base if base != 1 or doc.text_at(1) is not None else 0)
    if old is None:
        return None
    changed = changed_targets(old, doc.text, doc.format, env)
    if changed:
        msg = (
            f"the envelope was produced for version {base} but the document is at version {cur}, "
            f"and since then {', '.join(dict.fromkeys(changed))}; re-create the edit against the current text"
        )
        raise ApplyFailed(f"version_conflict: {msg}", {"code": "version_conflict", "message": msg, "changed": changed})
    return f"rebased from version {base} to {cur}: the targeted regions are unchanged"


def read_envelope_argument(ls, envelope: Any) -> tuple[Any, str | None]:
    """An envelope argument → (envelope text or data, artifact name it states if read from a
    file). A ``file:`` URI of an envelope file is read (from the editor when open)."""
    if isinstance(envelope, str) and envelope.startswith("file:") and "\n" not in envelope and len(envelope) < 4096:
        from .envelope_files import envelope_kind, find_envelopes
        from .workspace import read_text

        text = read_text(ls, envelope)
        if text is None:
            raise ApplyFailed(f"cannot read envelope file {envelope}")
        refs = [r for r in find_envelopes(text, envelope_kind(envelope) or "json") if r.data is not None]
        if not refs:
            raise ApplyFailed(f"{envelope} holds no readable envelope", {"code": "invalid_envelope", "message": "no envelope"})
        return refs[0].text, refs[0].artifact_name
    return envelope, None


def _named_elsewhere(ls, doc: Document, envelope: Any) -> Document | None:
    """The open document other than ``doc`` that the envelope's ``id`` names, if any."""
    try:
        name = ingest(envelope_text(envelope)).envelope.id
    except GapError:
        return None
    other = ls.documents.find_artifact(name) if name else None
    return other if other is not None and other.uri != doc.uri else None


def dry_run(ls, doc: Document, text: str, *, lenient: bool = True):
    """Parse envelope ``text`` for ``doc`` and apply it to the document's current text without
    touching the document: lenient ingestion (with the marker repair) or strict parsing, the
    rebase check for envelopes written for an older version, and ``gap.strictMarkers``.
    What "Apply" sends and what "Preview result" shows both come from here.

    Returns:
        ``(ApplyResult, envelope, repairs)`` — the engine's result, the envelope as applied
        and the list of repairs made.

    Raises:
        GapError: the envelope is refused (the document is unchanged).
    """
    artifact = doc.artifact()
    if lenient:
        ing = ingest(text, artifact=artifact, repair_markers=True)
        env, repairs = ing.envelope, list(ing.repairs)
    else:
        env, repairs = parse_envelope(text), []
    if env.name == "edit":
        refuse_blocked_pointers(doc.text, doc.format, env)
        note = rebase_check(doc, env, _stated_version(text) if lenient else env.version)
        if note is not None:
            repairs = [r for r in repairs if not r.startswith("version ")] + [note]
            if not lenient:
                env = attrs.evolve(env, version=artifact.version + 1)
    return apply_with_splices(artifact, env, strict_markers=ls.settings.strict_markers), env, repairs


async def apply_envelope(ls, uri: str, envelope: Any, *, lenient: bool = True, label: str = "Apply GAP edit") -> dict:
    """Apply an envelope to the document ``uri`` through ``workspace/applyEdit``.

    Args:
        envelope: envelope JSON text (or raw model output when ``lenient``), decoded JSON,
            or the ``file:`` URI of an envelope file.

    Rebase: when the envelope states a version older than the document's and that version is
    remembered, it applies only if every targeted region is unchanged since (see
    :func:`rebase_check`).

    The edit carries a change annotation with ``needsConfirmation`` when the client supports
    annotations and ``gap.confirmEdits`` is on (VS Code then shows accept/reject); a plain
    versioned edit otherwise.

    The user typing meanwhile: when the client refuses the edit because the document moved on
    to a newer version, the edit is derived again from the current text and re-sent (at most
    :data:`MAX_RETRIES` times) provided that no region the envelope targets changed; else
    ``version_conflict`` names the regions that did.

    Cancelling: ``$/cancelRequest`` before the edit is sent answers ``RequestCancelled`` and
    changes nothing; once the edit is sent it cannot be taken back, so the cancel is ignored
    and the command answers with the real outcome.

    Returns:
        ``{"applied": True, "version": <document version after the edit>, "targets": [ids],
        "repairs": [what lenient parsing fixed], "warnings": [...]}``

    Raises:
        ApplyFailed: the envelope was rejected (``data`` = the GAP error), the document
            changed under it (``version_conflict``), the client refused the edit or cannot
            apply edits (``client_refused``). The document is unchanged in every case.
    """
    envelope, _ = read_envelope_argument(ls, envelope)
    doc = resolve_document(ls, uri)
    try:
        result, env, repairs = dry_run(ls, doc, envelope_text(envelope), lenient=lenient)
    except GapError as err:
        data = err.to_dict()
        if err.op_index is not None:
            data["op_index"] = err.op_index
        message = err.message
        if err.code == "target_not_found" and (other := _named_elsewhere(ls, doc, envelope)) is not None:
            message += f"; the envelope names the artifact {other.uri}, which is open: apply it there"
            data["message"], data["artifact_uri"] = message, other.uri
        ls.show(f"GAP edit rejected, document unchanged — {err.code}: {message}", types.MessageType.Error)
        raise ApplyFailed(f"{err.code}: {message}", data) from None
    except ApplyFailed as err:
        ls.show(f"GAP edit rejected, document unchanged — {err.message}", types.MessageType.Error)
        raise
    # From here on the edit goes to the client: a $/cancelRequest can no longer take it back,
    # so the command answers with what really happened (LSP 3.17 §cancelRequest allows a result)
    with uncancellable(ls):
        return await _deliver(ls, doc, env, result, repairs, label, doc.text)


async def _deliver(ls, doc: Document, env, result, repairs: list[str], label: str, base: str) -> dict:
    """Send the edit for ``result`` (derived from the text ``base``; see :func:`apply_envelope`).
    When the document moved on since — the user typed before the edit was sent, or the client
    refused it for that reason — the edit is derived again from the current text provided the
    regions it targets are unchanged, else ``version_conflict``. Then wait for the client's
    ``didChange``."""
    attempt = 0
    while True:
        if doc.text != base:
            changed = changed_targets(base, doc.text, doc.format, env) if env.name == "edit" else ["the document"]
            if changed:
                msg = (
                    f"the document changed while the edit was being applied (now version {doc.version}) "
                    f"and {', '.join(changed)}; re-create the edit against the current text"
                )
                ls.show(f"GAP edit not applied: {msg}", types.MessageType.Error)
                raise ApplyFailed(f"version_conflict: {msg}", {"code": "version_conflict", "message": msg, "changed": changed})
            art = doc.artifact()
            try:
                result = apply_with_splices(art, attrs.evolve(env, version=art.version + 1), strict_markers=ls.settings.strict_markers)
            except GapError as err:
                ls.show(f"GAP edit rejected, document unchanged — {err.code}: {err.message}", types.MessageType.Error)
                raise ApplyFailed(f"{err.code}: {err.message}", err.to_dict()) from None
            base = doc.text
            repairs = repairs + [f"re-derived for version {doc.version}: the document changed while the edit was being applied"]
        new_body = result.artifact.body
        targets = [t.id for t in result.artifact.targets]
        if new_body == doc.text:
            return {"applied": True, "version": doc.version, "targets": targets, "repairs": repairs, "warnings": list(result.warnings)}
        sent_version = doc.version
        edits = text_edits(doc, result.splices)
        if doc.changed is not None:
            doc.changed.clear()
        annotation = None
        if getattr(ls.settings, "confirm_edits", True):
            named = sorted({op.target.value for op in env.content}) if env.name == "edit" else []
            annotation = types.ChangeAnnotation(
                label=label,
                needs_confirmation=True,
                description=(f"{len(env.content)} operation(s) on {', '.join(named)}" if named else "regenerate the artifact"),
            )
        res = await send_edit(
            ls, types.ApplyWorkspaceEditParams(edit=workspace_edit(ls, doc, edits, annotation=annotation), label=label)
        )
        if res.applied:
            break
        reason = res.failure_reason or "the client did not apply the edit"
        if attempt < MAX_RETRIES and doc.uri in ls.documents and doc.version != sent_version and doc.text != base:
            # the user typed while the edit was on its way and the client refused the stale
            # version: derive it again (top of the loop)
            log.info("applyEdit refused after a change (%s); re-deriving against version %s", reason, doc.version)
            attempt += 1
            continue
        ls.show(f"GAP edit not applied: {reason}", types.MessageType.Error)
        raise ApplyFailed(f"client refused the edit: {reason}", {"code": "client_refused", "message": reason})
    # The client answers applyEdit and sends didChange in either order: wait briefly for it.
    if doc.uri in ls.documents and doc.changed is not None:
        try:
            async with asyncio.timeout(2.0):
                while doc.version == sent_version and doc.text != new_body:
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
    async def _apply_envelope(ls, *args) -> dict:
        """``gap.applyEnvelope [uri, envelope]`` (see :func:`apply_envelope`); ``envelope`` is
        text, decoded JSON or an envelope file URI. ``gap.applyEnvelope [envelopeFileUri]``
        applies that file's envelope to the artifact it names.

        Raises:
            JsonRpcInvalidParams: not one or two arguments, or a URI that is not a string.
        """
        check_arguments("gap.applyEnvelope", args, "[uri, envelope] or [envelopeFileUri]", 1, 2)
        uri = args[0]
        if len(args) == 2:
            return await apply_envelope(ls, uri, args[1])
        from .envelope_files import resolve_artifact

        text, name = read_envelope_argument(ls, uri)
        view = resolve_artifact(ls, name, uri)
        if view is None:
            raise ApplyFailed(f"no artifact named {name!r} is open or in the workspace", {"code": "target_not_found", "message": f"artifact {name!r} not found"})
        return await apply_envelope(ls, view.uri, text)
