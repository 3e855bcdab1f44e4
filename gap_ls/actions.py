"""Code actions: the hub (LSP 3.17 §textDocument_codeAction, §codeAction_resolve).

Feature modules add providers with :func:`add_provider` (``kind``, ``fn(ls, doc, params,
start, end) -> list[CodeAction]``) and resolvers with :func:`add_resolver` (``name``,
``fn(ls, data) -> WorkspaceEdit``). A provider that wants a lazy edit builds its action with
:func:`lazy_action`: when the client can resolve ``edit`` the action carries only ``data``
(``{"resolver", "uri", "version", …}``) and the edit is computed in ``codeAction/resolve``;
otherwise the edit is computed at once. ``context.only`` is honoured (prefix match on the
dot-separated kind, LSP §CodeActionKind).

"Apply GAP edit" (``refactor.rewrite.gap.apply``) is offered when the selection holds an
envelope (JSON, a fenced block in model output, a bare operation list), and anywhere in an
envelope file (``*.gap.json``, ``*.gap.jsonl``, a fence in Markdown) for the envelope under the
cursor. It applies to the artifact the envelope names (see
:func:`gap_ls.envelope_files.resolve_artifact`) when that is another document, else to the
current document.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from gap_engine import GapError, ingest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from .envelope_files import envelope_at, envelopes_of, is_envelope_file, resolve_artifact

log = logging.getLogger("gap_ls.actions")

KIND_APPLY = "refactor.rewrite.gap.apply"
TITLE_APPLY = "Apply GAP edit"

Provider = Callable[..., list]
_PROVIDERS: list[tuple[str, Provider]] = []
_RESOLVERS: dict[str, Callable[[Any, dict], types.WorkspaceEdit]] = {}
KINDS: list[str] = [KIND_APPLY]


def add_provider(kind: str, fn: Provider) -> None:
    """Register ``fn(ls, doc, params, start, end) -> list[CodeAction]`` for ``kind``."""
    _PROVIDERS.append((kind, fn))
    if kind not in KINDS:
        KINDS.append(kind)


def add_resolver(name: str, fn: Callable[[Any, dict], types.WorkspaceEdit]) -> None:
    """Register the lazy-edit computation ``fn(ls, data) -> WorkspaceEdit`` under ``name``."""
    _RESOLVERS[name] = fn


def wanted(only, kind: str) -> bool:
    """Does ``context.only`` ask for ``kind``? (None/empty = everything)."""
    if not only:
        return True
    return any(k == "" or kind == k or kind.startswith(k + ".") for k in only)


def can_resolve_edit(ls) -> bool:
    caps = ls.client_capabilities.text_document
    ca = caps.code_action if caps else None
    rs = ca.resolve_support if ca else None
    return bool(rs and "edit" in (rs.properties or []))


def lazy_action(ls, title: str, kind: str, resolver: str, data: dict, **kw) -> types.CodeAction:
    """A code action whose edit is computed by resolver ``resolver`` (lazily when possible)."""
    data = dict(data, resolver=resolver)
    if can_resolve_edit(ls):
        return types.CodeAction(title=title, kind=kind, data=data, **kw)
    return types.CodeAction(title=title, kind=kind, edit=_RESOLVERS[resolver](ls, data), **kw)


def _looks_like_envelope(text: str) -> bool:
    return '"op"' in text or '"name"' in text or '"content"' in text


def _apply_for(ls, doc, env_text: str, named: str | None) -> types.CodeAction | None:
    try:
        env = ingest(env_text).envelope
    except GapError:
        return None
    name = named or env.id
    target_uri = doc.uri
    if is_envelope_file(doc.uri) or named:
        view = resolve_artifact(ls, name, doc.uri)  # open documents, then files on disk
        found = view.uri if view is not None else None
    else:  # a selection in an ordinary document: only open documents (cheap on every request)
        other = ls.documents.find_artifact(name)
        found = other.uri if other is not None and not is_envelope_file(other.uri) else None
    if found is not None and found != doc.uri:
        target_uri = found
    elif is_envelope_file(doc.uri):
        return None  # an envelope file is never the artifact
    label = target_uri.rsplit("/", 1)[-1]
    return types.CodeAction(
        title=TITLE_APPLY if target_uri == doc.uri else f"{TITLE_APPLY} to {label}",
        kind=KIND_APPLY,
        command=types.Command(title=TITLE_APPLY, command="gap.applyEnvelope", arguments=[target_uri, env_text]),
    )


def apply_action(ls, doc, start: int, end: int) -> types.CodeAction | None:
    """The "Apply GAP edit" action for the selection ``[start, end)`` of ``doc``, or, in an
    envelope container, for the envelope under the cursor."""
    sel = doc.text[start:end]
    if sel.strip() and _looks_like_envelope(sel):
        act = _apply_for(ls, doc, sel, None)
        if act is not None:
            return act
    refs = envelopes_of(doc)
    if refs:
        ref = envelope_at(refs, start)
        if ref is None and len(refs) == 1 and is_envelope_file(doc.uri):
            ref = refs[0]
        if ref is not None and ref.data is not None:
            return _apply_for(ls, doc, ref.text, ref.artifact_name)
    return None


def register(ls) -> None:
    @ls.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=KINDS, resolve_provider=True),
    )
    def _code_action(ls, params: types.CodeActionParams):
        doc = ls.documents.get(params.text_document.uri)
        if doc is None:
            return None
        only = params.context.only if params.context else None
        s = doc.offset_at(params.range.start)
        e = doc.offset_at(params.range.end)
        s, e = min(s, e), max(s, e)
        actions: list = []
        if wanted(only, KIND_APPLY):
            act = apply_action(ls, doc, s, e)
            if act is not None:
                actions.append(act)
        for kind, fn in _PROVIDERS:
            if not wanted(only, kind):
                continue
            try:
                actions.extend(fn(ls, doc, params, s, e) or [])
            except Exception:
                log.exception("code action provider for %s failed", kind)
        return actions or None

    @ls.feature(types.CODE_ACTION_RESOLVE)
    def _resolve(ls, action: types.CodeAction) -> types.CodeAction:
        """``codeAction/resolve``: compute the lazy ``edit`` from ``action.data``.

        Raises:
            JsonRpcInvalidParams: ``data`` names no resolver, or not in the shape the server
                gave out (a missing field, a URI that is not a string…).
            ApplyFailed: the document was closed or changed since the action was offered.
        """
        data = action.data if isinstance(action.data, dict) else None
        if data is None or action.edit is not None:
            return action
        name = data.get("resolver")
        fn = _RESOLVERS.get(name) if isinstance(name, str) else None
        if fn is None:
            raise JsonRpcInvalidParams(f"unknown code action data {name!r}")
        try:
            action.edit = fn(ls, data)
        except (KeyError, TypeError, ValueError) as exc:
            # data is echoed by the client: what the server gave out came back altered
            log.warning("codeAction/resolve: malformed data for %r", name, exc_info=True)
            raise JsonRpcInvalidParams(f"codeAction/resolve: malformed data for {name!r} ({type(exc).__name__}: {exc})") from None
        return action
