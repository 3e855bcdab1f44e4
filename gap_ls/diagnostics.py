"""Diagnostics for artifacts (LSP 3.17 §textDocument_publishDiagnostics; GAP §3.2).

Reported for artifacts: an opening marker never closed, a stray closing marker, a duplicate
target id, an opening marker without an id, a self-closing marker (all from the engine's
scan); ids that are not role-based (pure numbers or values, ``not_role_based``); markers in a
JSON artifact (``markers_in_json``, JSON is addressed by JSON Pointer); overlapping regions
(``overlap``: a closing marker that names a target other than the innermost open one, e.g.
``<gap:target id="a"><gap:target id="b"></gap:target id="a">``); a YAML artifact longer than
the format-preserving parser reads (``yaml_too_long``: no JSON Pointer symbols or edits), or
nested deeper than it survives (``yaml_too_deep``, see :func:`gap_ls.documents.pointer_blocked`).

Providers: :data:`PROVIDERS` ``f(doc)`` and :data:`CONTEXT_PROVIDERS` ``f(ls, doc)`` (those
that need other documents, e.g. envelope validation). Published on open at once, after each
change debounced per document (``gap.diagnostics.debounceMs``) with the document version,
and cleared on close. A change to any document also re-validates the open envelope
containers (their diagnostics depend on the artifacts they name).
"""

from __future__ import annotations

import asyncio
import logging

from gap_engine.markers import iter_markers
from gap_engine.pointer import YAML_MAX_LINES, format_kind
from lsprotocol import types

from .documents import Document, pointer_blocked
from .ids import attr_id_span, is_role_based

log = logging.getLogger("gap_ls.diagnostics")

SEVERITY = {
    "unclosed": types.DiagnosticSeverity.Error,
    "stray_close": types.DiagnosticSeverity.Error,
    "duplicate_id": types.DiagnosticSeverity.Error,
    "missing_id": types.DiagnosticSeverity.Warning,
    "self_closing": types.DiagnosticSeverity.Warning,
    "bad_attribute": types.DiagnosticSeverity.Error,
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


def _is_artifact(doc: Document) -> bool:
    return not doc.uri.lower().endswith((".gap.json", ".gap.jsonl"))


def id_diagnostics(doc: Document) -> list[types.Diagnostic]:
    """Target ids that are values, not roles (GAP §3.2 "describe the role, not the value")."""
    if not _is_artifact(doc) or not len(doc.index):
        return []
    infos = doc.index.infos
    cached = getattr(doc, "_bad_ids", None)
    if cached is not None and cached[0] is infos:
        bad = cached[1]
    else:  # the infos tuple is shared between generations until a marker changes
        bad = [i for i in infos if not is_role_based(i.id)]
        doc._bad_ids = (infos, bad)  # type: ignore[attr-defined]
    out = []
    for info in bad[:500]:
        span = doc.index.get(info.id)
        out.append(
            types.Diagnostic(
                range=doc.range_at(span.start, span.content_start),
                message=f"target id {info.id!r} is a value, not a role: name what the region is "
                f"(e.g. 'revenue-value', 'user-count') so it stays valid when the value changes (GAP §3.2)",
                severity=types.DiagnosticSeverity.Warning,
                code="not_role_based",
                source=SOURCE,
            )
        )
    return out


def json_marker_diagnostics(doc: Document) -> list[types.Diagnostic]:
    """Markers in a JSON artifact: JSON is addressed by JSON Pointer, not markers (GAP §3.2, §5.1)."""
    if not _is_artifact(doc) or format_kind(doc.format) != "json" or "gap:target" not in doc.text:
        return []
    out = []
    for s, e, closing in iter_markers(doc.text):
        if closing:
            continue
        out.append(
            types.Diagnostic(
                range=doc.range_at(s, e),
                message="a JSON artifact has no markers: address its values by JSON Pointer (GAP §3.2, §5.1)",
                severity=types.DiagnosticSeverity.Warning,
                code="markers_in_json",
                source=SOURCE,
            )
        )
        if len(out) >= 200:
            break
    return out


def yaml_size_diagnostics(doc: Document) -> list[types.Diagnostic]:
    """A YAML artifact too long for the format-preserving parser (``yaml_too_long``), or nested
    deeper than it survives (``yaml_too_deep``): say once, at the top, that its JSON Pointer
    symbols, completion and pointer edits are unavailable (rather than an empty outline with
    no reason). Markers (ID targets) still work."""
    if not _is_artifact(doc) or format_kind(doc.format) != "yaml":
        return []
    lines = doc.text.count("\n") + 1
    if lines <= YAML_MAX_LINES:
        why = pointer_blocked(doc.text, doc.format)
        if why is None:
            return []
        return [types.Diagnostic(range=doc.range_at(0, 0), message=why, severity=types.DiagnosticSeverity.Warning,
                                 code="yaml_too_deep", source=SOURCE)]
    return [
        types.Diagnostic(
            range=doc.range_at(0, 0),
            message=f"this YAML document has {lines:,} lines; the format-preserving parser (tree-sitter-yaml) reads at "
            f"most {YAML_MAX_LINES:,} (tree-sitter-grammars/tree-sitter-yaml#49), so JSON Pointer symbols, completion "
            f"and pointer edits are unavailable; <gap:target> markers still work",
            severity=types.DiagnosticSeverity.Warning,
            code="yaml_too_long",
            source=SOURCE,
        )
    ]


def overlap_diagnostics(doc: Document) -> list[types.Diagnostic]:
    """Regions that overlap instead of nesting: a closing marker naming a target that is not
    the innermost one still open."""
    text = doc.text
    if "</gap:target " not in text:
        return []
    out = []
    stack: list[str | None] = []
    for s, e, closing in iter_markers(text):
        ids = attr_id_span(text, s, e)
        if not closing:
            stack.append(text[ids[0] : ids[1]] if ids else None)
            continue
        named = text[ids[0] : ids[1]] if ids else None
        inner = stack.pop() if stack else None
        if named is not None and inner is not None and named != inner and named in stack:
            out.append(
                types.Diagnostic(
                    range=doc.range_at(s, e),
                    message=f"regions overlap: this closes {named!r} while {inner!r} (opened inside it) is still open; "
                    f"targets must nest (GAP §3.2)",
                    severity=types.DiagnosticSeverity.Error,
                    code="overlap",
                    source=SOURCE,
                )
            )
    return out


#: extra diagnostic providers: callables ``f(doc) -> list[Diagnostic]`` (other modules add theirs)
PROVIDERS = [marker_diagnostics, id_diagnostics, json_marker_diagnostics, overlap_diagnostics, yaml_size_diagnostics]
#: providers that need the server: callables ``f(ls, doc) -> list[Diagnostic]``
CONTEXT_PROVIDERS: list = []


def publish(ls, doc: Document) -> None:
    """Compute ``doc``'s diagnostics and send them (LSP 3.17 §textDocument_publishDiagnostics),
    unless the same list was already sent for this document at this version (an envelope
    container is re-checked on every change of the artifacts it names)."""
    diags: list[types.Diagnostic] = []
    for provider in PROVIDERS:
        try:
            diags.extend(provider(doc))
        except Exception:
            log.exception("diagnostic provider %r failed", provider)
    for provider in CONTEXT_PROVIDERS:
        try:
            diags.extend(provider(ls, doc))
        except Exception:
            log.exception("diagnostic provider %r failed", provider)
    sent: dict = ls.__dict__.setdefault("_published_diagnostics", {})
    key = (doc.version, diags)
    if sent.get(doc.uri) == key:
        return
    sent[doc.uri] = key
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
            ls.__dict__.get("_published_diagnostics", {}).pop(doc.uri, None)
            ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=doc.uri, diagnostics=[]))
        elif event == "open" or ls.settings.debounce_ms <= 0:
            publish(ls, doc)
        else:
            loop = asyncio.get_running_loop()

            def fire() -> None:
                pending.pop(doc.uri, None)
                if doc.uri in ls.documents:
                    publish(ls, doc)

            pending[doc.uri] = loop.call_later(ls.settings.debounce_ms / 1000, fire)
        if CONTEXT_PROVIDERS:
            # the open envelope containers are checked against this document's text: opening it
            # (its buffer may differ from the file), changing it or closing it (back to the
            # file on disk) can change their diagnostics
            _revalidate_others(ls, doc, pending)

    def _revalidate_others(ls, changed: Document, pending) -> None:
        from .envelope_files import envelope_kind

        loop = asyncio.get_running_loop()
        for other in ls.documents:
            if other.uri == changed.uri or other.uri in pending or not envelope_kind(other.uri, other.language_id):
                continue
            if envelope_kind(other.uri, other.language_id) == "markdown" and '"op"' not in other.text:
                continue

            def fire(other=other) -> None:
                pending.pop(other.uri, None)
                if other.uri in ls.documents:
                    publish(ls, other)

            pending[other.uri] = loop.call_later(max(ls.settings.debounce_ms, 50) / 1000, fire)

    ls.listeners.append(on_document)
