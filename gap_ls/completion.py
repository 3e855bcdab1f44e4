"""Completion in envelope containers (LSP 3.17 §textDocument_completion; GAP §4.2, §5.1).

Inside an envelope (``*.gap.json``, ``*.gap.jsonl``, a Markdown fence):

- in the string after ``"value":`` — the target ids of the artifact the envelope names
  (with their label/type), or its JSON Pointers when the operation's ``type`` is
  ``"pointer"`` or the artifact is JSON/YAML (the closed inventory of GAP §5.1);
- after ``"op":`` — ``replace``, ``insert_before``, ``insert_after``, ``delete``;
- after ``"type":`` — ``id``, ``pointer``; after ``"name":`` — ``edit``, ``synthesize``;
- elsewhere — a whole operation (a snippet with a choice of ops and targets when the client
  supports snippets), and in an empty ``*.gap.json`` a whole edit envelope.

The artifact comes from the envelope's ``id`` (see
:func:`gap_ls.envelope_files.resolve_artifact`), or from the first ``"id"`` in the text while
the JSON is still too broken to parse.
"""

from __future__ import annotations

import json
import re

from gap_engine.model import OPS
from gap_engine.pointer import format_kind, list_paths
from lsprotocol import types

from .envelope_files import envelope_at, envelope_kind, envelopes_of, resolve_artifact

_STR_AFTER = re.compile(r'"(value|op|type|name)"\s*:\s*"([^"\\]*)$')
_ANY_ID = re.compile(r'"id"\s*:\s*"([^"\\]+)"')
_PTR_TYPE = re.compile(r'"type"\s*:\s*"pointer"')
_OP_START = re.compile(r"\{[^{}]*$")


def _snippets_ok(ls) -> bool:
    caps = ls.client_capabilities.text_document
    c = caps.completion if caps else None
    ci = c.completion_item if c else None
    return bool(ci and ci.snippet_support)


def _choice(items: list[str]) -> str:
    esc = [re.sub(r"([$}\\,|])", r"\\\1", json.dumps(i, ensure_ascii=False)[1:-1]) for i in items]
    return "|" + ",".join(esc) + "|"


def _artifact(ls, doc, off):
    env = envelope_at(envelopes_of(doc), off)
    name = env.artifact_name if env is not None else None
    if name is None:
        m = _ANY_ID.search(doc.text)
        name = m.group(1) if m else None
    return resolve_artifact(ls, name, doc.uri)


def completions(ls, doc, pos: types.Position) -> list[types.CompletionItem]:
    off = doc.offset_at(pos)
    text = doc.text
    line_start = text.rfind("\n", 0, off) + 1
    prefix = text[max(line_start - 400, 0) : off]
    m = _STR_AFTER.search(prefix)
    if m is not None:
        key, partial = m.group(1), m.group(2)
        rng = doc.range_at(off - len(partial), off)
        if key == "op":
            return [types.CompletionItem(label=o, kind=types.CompletionItemKind.EnumMember, text_edit=types.TextEdit(range=rng, new_text=o)) for o in OPS]
        if key == "type":
            return [types.CompletionItem(label=t, kind=types.CompletionItemKind.EnumMember, text_edit=types.TextEdit(range=rng, new_text=t)) for t in ("id", "pointer")]
        if key == "name":
            return [types.CompletionItem(label=t, kind=types.CompletionItemKind.EnumMember, text_edit=types.TextEdit(range=rng, new_text=t)) for t in ("edit", "synthesize")]
        view = _artifact(ls, doc, off)
        if view is None:
            return []
        op_text = prefix[prefix.rfind("{", 0, m.start()) :] if "{" in prefix[: m.start()] else prefix
        wants_ptr = _PTR_TYPE.search(op_text) is not None or format_kind(view.format) is not None
        if wants_ptr:
            try:
                paths = list_paths(view.text, view.format)
            except Exception:
                paths = []
            return [
                types.CompletionItem(label=p, kind=types.CompletionItemKind.Field, detail=f"JSON Pointer in {view.name}",
                                     text_edit=types.TextEdit(range=rng, new_text=json.dumps(p)[1:-1]), sort_text=f"{i:06d}")
                for i, p in enumerate(paths[:5000])
            ]
        items = []
        for i, info in enumerate(view.index.infos):
            detail = " · ".join(x for x in (info.type, info.label, f"accepts {info.accepts}" if info.accepts else None) if x)
            items.append(
                types.CompletionItem(label=info.id, kind=types.CompletionItemKind.Reference, detail=detail or f"target in {view.name}",
                                     text_edit=types.TextEdit(range=rng, new_text=json.dumps(info.id, ensure_ascii=False)[1:-1]),
                                     sort_text=f"{i:06d}")
            )
        return items
    return _structural(ls, doc, off, pos)


def _structural(ls, doc, off, pos) -> list[types.CompletionItem]:
    snip = _snippets_ok(ls)
    kind = envelope_kind(doc.uri, doc.language_id)
    out = []
    if kind == "json" and not doc.text.strip():
        name = doc.uri.rsplit("/", 1)[-1].split(".", 1)[0]
        view = resolve_artifact(ls, name, doc.uri)
        fmt = view.format if view else "text/html"
        first = json.dumps(view.index.ids()[0], ensure_ascii=False)[1:-1] if view and len(view.index) else "target-id"
        version = max((view.version or 1), 1) + 1 if view else 2
        body = (
            '{\n  "protocol": "gap/0.1",\n  "id": "%s",\n  "version": %d,\n  "name": "edit",\n  "meta": {"format": "%s"},\n'
            '  "content": [\n    {"op": "replace", "target": {"type": "id", "value": "%s"}, "content": "%s"}\n  ]\n}\n'
        ) % (name, version, fmt, "${1:%s}" % re.sub(r"([$}\\])", r"\\\1", first) if snip else first, "$2" if snip else "")
        out.append(types.CompletionItem(label="GAP edit envelope", kind=types.CompletionItemKind.Snippet,
                                        insert_text=body, insert_text_format=types.InsertTextFormat.Snippet if snip else types.InsertTextFormat.PlainText))
        return out
    view = _artifact(ls, doc, off)
    ids = view.index.ids() if view is not None else []
    if snip:
        target = "${2%s}" % _choice(ids[:200]) if ids else "${2:target-id}"
        body = '{"op": "${1%s}", "target": {"type": "id", "value": "%s"}, "content": "$3"}' % (_choice(list(OPS)), target)
    else:
        body = '{"op": "replace", "target": {"type": "id", "value": "%s"}, "content": ""}' % (json.dumps(ids[0], ensure_ascii=False)[1:-1] if ids else "target-id")
    out.append(
        types.CompletionItem(
            label="GAP operation", kind=types.CompletionItemKind.Snippet, detail="replace / insert / delete one target",
            insert_text=body, insert_text_format=types.InsertTextFormat.Snippet if snip else types.InsertTextFormat.PlainText,
        )
    )
    return out


def register(ls) -> None:
    @ls.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=['"', "/"]))
    def _completion(ls, params: types.CompletionParams):
        doc = ls.documents.get(params.text_document.uri)
        if doc is None or envelope_kind(doc.uri, doc.language_id) is None:
            return None
        if envelope_kind(doc.uri, doc.language_id) == "markdown":
            off = doc.offset_at(params.position)
            if envelope_at(envelopes_of(doc), off) is None:
                return None
        return types.CompletionList(is_incomplete=False, items=completions(ls, doc, params.position))
