"""Code lenses on envelopes (LSP 3.17 §textDocument_codeLens; GAP §4.2, §7).

Above every edit envelope of an envelope container whose artifact resolves:

- ``Apply to <artifact> (v<N>)`` → ``gap.applyEnvelope [artifactUri, envelopeText]``
  (``N`` = the artifact's current version);
- ``Preview result`` → ``gap.previewEnvelope [artifactUri, envelopeText]``: a dry run whose
  result is shown in the live preview (``window/showDocument`` with ``external`` when the
  client supports it). Returns ``{"url", "targets", "repairs"}``; a rejected envelope answers
  RequestFailed with the GAP error, like ``gap.applyEnvelope``.
"""

from __future__ import annotations

import logging

from gap_engine import GapError
from lsprotocol import types

from .edits import ApplyFailed, envelope_text, dry_run, read_envelope_argument, resolve_document
from .envelope_files import envelope_kind, envelopes_of, resolve_artifact

log = logging.getLogger("gap_ls.codelens")


def lenses(ls, doc) -> list[types.CodeLens]:
    out = []
    for env in envelopes_of(doc):
        if env.data is None or not env.ops:
            continue
        view = resolve_artifact(ls, env.artifact_name, doc.uri)
        if view is None:
            continue
        rng = doc.range_at(env.start, env.start)
        version = max(view.version or 1, 1)
        out.append(types.CodeLens(range=rng, command=types.Command(
            title=f"Apply to {view.name} (v{version})", command="gap.applyEnvelope", arguments=[view.uri, env.text])))
        out.append(types.CodeLens(range=rng, command=types.Command(
            title="Preview result", command="gap.previewEnvelope", arguments=[view.uri, env.text])))
    return out


async def preview_envelope(ls, uri: str, envelope) -> dict:
    """Dry-run ``envelope`` on ``uri`` and publish the result to the preview (see module doc)."""
    envelope, _ = read_envelope_argument(ls, envelope)
    doc = resolve_document(ls, uri)
    try:
        result, _, repairs = dry_run(ls, doc, envelope_text(envelope))
    except GapError as err:
        raise ApplyFailed(f"{err.code}: {err.message}", err.to_dict()) from None
    from .preview import doc_key

    srv = ls.preview.ensure()
    key = doc_key(uri + "#gap-preview")
    srv.publish(key, uri=uri, version=result.artifact.version, text=result.artifact.body, format=doc.format)
    url = srv.url_for(key)
    caps = ls.client_capabilities.window
    if caps is not None and caps.show_document is not None and caps.show_document.support:
        try:
            await ls.window_show_document_async(types.ShowDocumentParams(uri=url, external=True))
        except Exception as exc:  # the client may refuse; the URL is still returned
            log.info("showDocument failed: %s", exc)
    return {"url": url, "targets": [t.id for t in result.artifact.targets], "repairs": repairs}


def register(ls) -> None:
    @ls.feature(types.TEXT_DOCUMENT_CODE_LENS, types.CodeLensOptions(resolve_provider=False))
    def _lens(ls, params: types.CodeLensParams):
        doc = ls.documents.get(params.text_document.uri)
        if doc is None or envelope_kind(doc.uri, doc.language_id) is None:
            return None
        return lenses(ls, doc)

    @ls.command("gap.previewEnvelope")
    async def _preview(ls, uri: str, envelope) -> dict:
        """``gap.previewEnvelope [artifactUri, envelope]`` → ``{"url", "targets", "repairs"}``."""
        return await preview_envelope(ls, uri, envelope)
