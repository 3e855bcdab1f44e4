"""Code actions (LSP 3.17 §textDocument_codeAction).

"Apply GAP edit" is offered when the selection holds an envelope (JSON, a fenced block in
model output, a bare operation list). It applies to the artifact the envelope names (an open
document whose URI, path, file name or stem equals the envelope ``id``) when the selection is
in another document, else to the current document — without asking.
"""

from __future__ import annotations

from gap_engine import GapError, ingest
from lsprotocol import types

KIND_APPLY = "refactor.rewrite.gap.apply"
TITLE_APPLY = "Apply GAP edit"


def _wanted(only, kind: str) -> bool:
    if not only:
        return True
    return any(kind == k or kind.startswith(k + ".") or k == "" for k in only)


def _looks_like_envelope(text: str) -> bool:
    return '"op"' in text or '"name"' in text or '"content"' in text


def apply_action(ls, doc, start: int, end: int) -> types.CodeAction | None:
    """The "Apply GAP edit" action for the selection ``[start, end)`` of ``doc``, if any."""
    sel = doc.text[start:end]
    if not sel.strip() or not _looks_like_envelope(sel):
        return None
    try:
        env = ingest(sel).envelope
    except GapError:
        return None
    target = doc
    named = ls.documents.find_artifact(env.id)
    if named is not None and named.uri != doc.uri:
        target = named
    return types.CodeAction(
        title=TITLE_APPLY if target is doc else f"{TITLE_APPLY} to {target.uri.rsplit('/', 1)[-1]}",
        kind=KIND_APPLY,
        command=types.Command(title=TITLE_APPLY, command="gap.applyEnvelope", arguments=[target.uri, sel]),
    )


def register(ls) -> None:
    @ls.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[KIND_APPLY]),
    )
    def _code_action(ls, params: types.CodeActionParams):
        doc = ls.documents.get(params.text_document.uri)
        if doc is None:
            return None
        only = params.context.only if params.context else None
        actions = []
        if _wanted(only, KIND_APPLY):
            s = doc.offset_at(params.range.start)
            e = doc.offset_at(params.range.end)
            act = apply_action(ls, doc, min(s, e), max(s, e))
            if act is not None:
                actions.append(act)
        return actions or None
