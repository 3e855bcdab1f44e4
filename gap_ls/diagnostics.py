"""Diagnostics for malformed markers (LSP 3.17 §textDocument_publishDiagnostics).

Reported: an opening marker never closed, a stray closing marker, a duplicate target id, an
opening marker without an id, a self-closing marker. Published on open at once, after each
change debounced per document (``gap.diagnostics.debounceMs``) with the document version,
and cleared on close.
"""

from __future__ import annotations

import asyncio

from lsprotocol import types

from .documents import Document

SEVERITY = {
    "unclosed": types.DiagnosticSeverity.Error,
    "stray_close": types.DiagnosticSeverity.Error,
    "duplicate_id": types.DiagnosticSeverity.Error,
    "missing_id": types.DiagnosticSeverity.Warning,
    "self_closing": types.DiagnosticSeverity.Warning,
}
SOURCE = "gap"


def marker_diagnostics(doc: Document) -> list[types.Diagnostic]:
    """Diagnostics for the marker problems of ``doc``'s current text."""
    out = []
    for p in doc.index.problems:
        out.append(
            types.Diagnostic(
                range=doc.range_at(p.start, p.end),
                message=p.message,
                severity=SEVERITY.get(p.kind, types.DiagnosticSeverity.Warning),
                code=p.kind,
                source=SOURCE,
            )
        )
    return out


#: extra diagnostic providers: callables ``f(doc) -> list[Diagnostic]`` (other modules add theirs)
PROVIDERS = [marker_diagnostics]


def publish(ls, doc: Document) -> None:
    diags: list[types.Diagnostic] = []
    for provider in PROVIDERS:
        try:
            diags.extend(provider(doc))
        except Exception:
            import logging

            logging.getLogger("gap_ls").exception("diagnostic provider %r failed", provider)
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=doc.uri, diagnostics=diags, version=doc.version)
    )


def register(ls) -> None:
    pending: dict[str, asyncio.TimerHandle] = {}

    def on_document(ls, doc: Document, event: str) -> None:
        handle = pending.pop(doc.uri, None)
        if handle is not None:
            handle.cancel()
        if event == "close":
            ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=doc.uri, diagnostics=[]))
            return
        if event == "open" or ls.settings.debounce_ms <= 0:
            publish(ls, doc)
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            pending.pop(doc.uri, None)
            if doc.uri in ls.documents:
                publish(ls, doc)

        pending[doc.uri] = loop.call_later(ls.settings.debounce_ms / 1000, fire)

    ls.listeners.append(on_document)
