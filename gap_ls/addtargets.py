"""Add targets to an unmarked file, structurally (LSP 3.17 §textDocument_codeAction,
§workspace_executeCommand; GAP §3.2, §5.1 "target-first").

The structure comes from tree-sitter grammars (py-tree-sitter + the grammar wheels), never
from regular expressions:

- HTML / SVG: elements with an ``id`` (named by it), landmarks (``header``, ``nav``, ``main``,
  ``footer``, ``aside``, ``section``, ``article``, ``form``, ``table``, ``title``, ``h1``–``h3``;
  named by ``id`` / ``class`` / ``aria-label`` / tag), and elements with a ``class`` up to
  depth :data:`HTML_CLASS_DEPTH`; wrapped inline (``<gap:target id="…"><header>…</header></gap:target>``).
  ``<script>``/``<style>`` contents are left alone.
- Code (Python, JavaScript, TypeScript, Rust, Go, Java, CSS): top-level definitions (functions,
  classes, types, impls, rule sets…), named by the definition's name; a file with a single
  top-level class/impl also gets its members. Markers go on their own lines around the
  definition.
- Markdown: every heading's section, named by the heading text, markers on their own lines.

Ids are role-based (:func:`gap_ls.ids.slug`) and unique. Offered as ``source.gap.addTargets``
when the document has no markers; also command ``gap.addTargets [uri]`` →
``{"applied": bool, "added": [ids]}`` with work-done progress on big files and cancellation.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache

from lsprotocol import types

from . import actions
from .edits import ApplyFailed, multi_edit, send_edit
from .envelope_files import _ByteMap, is_envelope_file
from .ids import slug, unique
from .progress import work_done

KIND_ADD = "source.gap.addTargets"
HTML_CLASS_DEPTH = 5
MAX_TARGETS = 20_000
PROGRESS_BYTES = 100_000

_LANDMARKS = {"header", "nav", "main", "footer", "aside", "section", "article", "form", "table", "title", "h1", "h2", "figure", "ul", "ol", "dl"}

#: document format (MIME) → grammar name
GRAMMARS = {
    "text/html": "html",
    "image/svg+xml": "html",
    "application/xhtml+xml": "html",
    "text/x-python": "python",
    "text/javascript": "javascript",
    "application/javascript": "javascript",
    "text/x-typescript": "typescript",
    "application/typescript": "typescript",
    "text/x-rust": "rust",
    "text/x-go": "go",
    "text/x-java": "java",
    "text/css": "css",
    "text/markdown": "markdown",
}
_BY_LANGUAGE_ID = {"html": "html", "python": "python", "javascript": "javascript", "javascriptreact": "javascript",
                   "typescript": "typescript", "typescriptreact": "tsx", "rust": "rust", "go": "go", "java": "java",
                   "css": "css", "markdown": "markdown", "svg": "html", "xml": "html"}


@lru_cache(maxsize=None)
def parser(name: str):
    """A tree-sitter parser for grammar ``name``."""
    import tree_sitter as ts

    if name == "typescript" or name == "tsx":
        import tree_sitter_typescript as m

        lang = m.language_typescript() if name == "typescript" else m.language_tsx()
    else:
        m = __import__(f"tree_sitter_{name}")
        lang = m.language()
    return ts.Parser(ts.Language(lang))


def grammar_for(doc) -> str | None:
    return _BY_LANGUAGE_ID.get((doc.language_id or "").lower()) or GRAMMARS.get(doc.format)


# -- candidate regions: (start_byte, end_byte, base_name, block) --------------------------------
def _text(node, src: bytes) -> str:
    return src[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _html_attrs(start_tag, src) -> dict[str, str]:
    out = {}
    for a in start_tag.named_children:
        if a.type != "attribute":
            continue
        name = val = None
        for c in a.named_children:
            if c.type == "attribute_name":
                name = _text(c, src).lower()
            elif c.type == "quoted_attribute_value":
                v = [x for x in c.named_children if x.type == "attribute_value"]
                val = _text(v[0], src) if v else ""
            elif c.type == "attribute_value":
                val = _text(c, src)
        if name:
            out[name] = val or ""
    return out


def html_regions(root, src: bytes):
    out = []

    def walk(node, depth):
        for ch in node.named_children:
            if ch.type in ("script_element", "style_element"):
                continue
            if ch.type == "element":
                st = ch.named_children[0] if ch.named_children and ch.named_children[0].type in ("start_tag", "self_closing_tag") else None
                if st is not None and st.type == "start_tag":
                    tags = [c for c in st.named_children if c.type == "tag_name"]
                    tag = _text(tags[0], src).lower() if tags else ""
                    at = _html_attrs(st, src)
                    name = None
                    if at.get("id"):
                        name = slug(at["id"], 5)
                    elif tag in _LANDMARKS:
                        cls = at.get("class", "").split()
                        name = slug(at.get("aria-label") or (cls[0] if cls else "") or tag) or tag
                    elif at.get("class") and depth <= HTML_CLASS_DEPTH and tag not in ("html", "body", "head"):
                        name = slug(at["class"].split()[0])
                    if name:
                        out.append((ch.start_byte, ch.end_byte, name, False))
                walk(ch, depth + 1)
            elif ch.type not in ("text", "comment", "doctype"):
                walk(ch, depth)

    walk(root, 0)
    return out


_CODE_DEFS = {
    "python": {"function_definition", "class_definition", "decorated_definition"},
    "javascript": {"function_declaration", "class_declaration", "lexical_declaration", "variable_declaration", "export_statement", "generator_function_declaration"},
    "typescript": {"function_declaration", "class_declaration", "lexical_declaration", "variable_declaration", "export_statement",
                   "interface_declaration", "type_alias_declaration", "enum_declaration", "abstract_class_declaration", "module"},
    "rust": {"function_item", "struct_item", "enum_item", "impl_item", "trait_item", "mod_item", "const_item", "static_item", "type_item", "macro_definition", "union_item"},
    "go": {"function_declaration", "method_declaration", "type_declaration", "const_declaration", "var_declaration"},
    "java": {"class_declaration", "interface_declaration", "enum_declaration", "record_declaration", "annotation_type_declaration"},
    "css": {"rule_set", "media_statement", "keyframes_statement", "supports_statement"},
}
_CODE_DEFS["tsx"] = _CODE_DEFS["typescript"]
_MEMBERS = {"class_body", "declaration_list", "block", "interface_body", "enum_body"}
_MEMBER_DEFS = {"method_declaration", "constructor_declaration", "function_definition", "decorated_definition", "method_definition",
                "function_item", "field_declaration", "public_field_definition"}


def _def_name(node, src: bytes) -> str | None:
    t = node.type
    if t == "decorated_definition":
        d = node.child_by_field_name("definition")
        return _def_name(d, src) if d is not None else None
    if t == "export_statement":
        d = node.child_by_field_name("declaration")
        return _def_name(d, src) if d is not None else "default-export"
    if t in ("lexical_declaration", "variable_declaration", "const_declaration", "var_declaration"):
        for c in node.named_children:
            n = c.child_by_field_name("name")
            if n is None and c.named_children:
                n = c.child_by_field_name("name") or next((x for x in c.named_children if x.type == "identifier"), None)
            if n is not None:
                return _text(n, src)
        return None
    if t == "impl_item":
        ty = node.child_by_field_name("type")
        tr = node.child_by_field_name("trait")
        if ty is not None:
            return (f"{_text(tr, src)}-for-" if tr is not None else "impl-") + _text(ty, src)
    if t == "type_declaration":
        spec = next((c for c in node.named_children if c.type in ("type_spec", "type_alias")), None)
        if spec is not None and spec.child_by_field_name("name") is not None:
            return _text(spec.child_by_field_name("name"), src)
    if t == "rule_set":
        sel = next((c for c in node.named_children if c.type == "selectors"), None)
        return _text(sel, src) if sel is not None else None
    if t in ("media_statement", "keyframes_statement", "supports_statement"):
        first = _text(node, src).split("{", 1)[0]
        return first.strip().lstrip("@")
    n = node.child_by_field_name("name")
    if n is not None and t == "constructor_declaration":
        return _text(n, src) + "-constructor"
    return _text(n, src) if n is not None else None


def code_regions(root, src: bytes, grammar: str):
    defs = _CODE_DEFS.get(grammar, set())
    tops = [c for c in root.named_children if c.type in defs]
    out = []
    for node in tops:
        name = _def_name(node, src)
        if name:
            out.append((node.start_byte, node.end_byte, slug(name, 5, keep_numbers=True) or "definition", True))
    if len(tops) == 1 and grammar not in ("css",):
        body = next((c for c in _descend(tops[0]) if c.type in _MEMBERS), None)
        if body is not None:
            for m in body.named_children:
                if m.type in _MEMBER_DEFS:
                    name = _def_name(m, src)
                    if name:
                        out.append((m.start_byte, m.end_byte, slug(name, 5, keep_numbers=True) or "member", True))
    return out


def _descend(node):
    for c in node.named_children:
        yield c
        if c.type in ("class_definition", "class_declaration", "function_definition"):
            yield from c.named_children


def markdown_regions(root, src: bytes):
    out = []

    def walk(node):
        for ch in node.named_children:
            if ch.type == "section":
                head = next((c for c in ch.named_children if c.type in ("atx_heading", "setext_heading")), None)
                if head is not None:
                    content = head.child_by_field_name("heading_content") or next((c for c in head.named_children if c.type in ("inline", "paragraph")), None)
                    title = _text(content, src) if content is not None else "section"
                    out.append((ch.start_byte, ch.end_byte, slug(title, 4) or "section", True))
                walk(ch)

    walk(root)
    return out


def plan(doc) -> list[tuple[int, int, str, bool]]:
    """``(start, end, id, block)`` for every target to add (code-point offsets, unique ids)."""
    g = grammar_for(doc)
    if g is None:
        return []
    src = doc.text.encode("utf-8")
    root = parser(g).parse(src).root_node
    if g == "html":
        regions = html_regions(root, src)
    elif g == "markdown":
        regions = markdown_regions(root, src)
    else:
        regions = code_regions(root, src, g)
    bm = _ByteMap(doc.text)
    taken: set[str] = set(doc.index.ids())
    out = []
    for sb, eb, name, block in regions[:MAX_TARGETS]:
        s, e = bm.cp(sb), bm.cp(eb)
        text = doc.text
        while e > s and text[e - 1] in "\r\n":  # a Markdown section ends after its newline
            e -= 1
        ident = unique(name, taken)
        taken.add(ident)
        out.append((s, e, ident, block))
    return out


def _eol(text: str) -> str:
    """The document's line end (that of its first line): markers on their own lines use it."""
    i = text.find("\n")
    return "\r\n" if i > 0 and text[i - 1] == "\r" else "\n"


def add_edits(doc, regions) -> list[types.TextEdit]:
    """Insertions for ``regions`` (in document order, parents first); block regions get
    markers on their own lines when they start a line."""
    ins: list[tuple[int, tuple[int, int], str]] = []  # (offset, rank, text)
    text = doc.text
    eol = _eol(text)
    for i, (s, e, ident, block) in enumerate(regions):
        line_start = text.rfind("\n", 0, s) + 1
        indent = text[line_start:s]
        if block and not indent.strip():
            ins.append((line_start, (1, i), f'{indent}<gap:target id="{ident}">{eol}'))
            ins.append((e, (0, -i), f"{eol}{indent}</gap:target>"))
        else:
            ins.append((s, (1, i), f'<gap:target id="{ident}">'))
            ins.append((e, (0, -i), "</gap:target>"))
    # at one offset: closings (inner first) before openings (outer first)
    ins.sort(key=lambda t: (t[0], t[1]))
    merged: dict[int, str] = {}
    for off, _, t in ins:
        merged[off] = merged.get(off, "") + t
    offs = sorted(merged)
    pos = dict(zip(offs, doc.positions_at(offs)))
    return [types.TextEdit(range=types.Range(pos[o], pos[o]), new_text=merged[o]) for o in offs]


def _provide(ls, doc, params, s, e):
    if "gap:target" in doc.text or is_envelope_file(doc.uri) or grammar_for(doc) is None:
        return []
    return [actions.lazy_action(ls, "Add GAP targets (structural)", KIND_ADD, "addTargets", {"uri": doc.uri, "version": doc.version})]


def _resolve(ls, data) -> types.WorkspaceEdit:
    from .wrap import _doc_for

    doc = _doc_for(ls, data)
    return multi_edit(ls, {doc.uri: (doc.version, add_edits(doc, plan(doc)))})


def register(ls) -> None:
    actions.add_provider(KIND_ADD, _provide)
    actions.add_resolver("addTargets", _resolve)

    @ls.command("gap.addTargets")
    async def _add(ls, uri: str) -> dict:
        """``gap.addTargets [uri]`` → ``{"applied", "added": [ids], "cancelled"?}``; when the
        client refuses the edit, ``"reason"`` carries its ``failureReason``."""
        doc = ls.documents.get(uri)
        if doc is None:
            raise ApplyFailed(f"{uri} is not open")
        if grammar_for(doc) is None:
            raise ApplyFailed(f"no structural grammar for {doc.format} ({doc.language_id})")
        version = doc.version
        big = len(doc.text) >= PROGRESS_BYTES
        async with work_done(ls, "Adding GAP targets") if big else _null() as p:
            if p is not None:
                p.report(f"parsing {len(doc.text) // 1000} KB", 10)
                await asyncio.sleep(0)
            regions = plan(doc)
            if p is not None:
                p.report(f"{len(regions)} targets found", 60)
                await asyncio.sleep(0)
                if p.cancelled:
                    return {"applied": False, "added": [], "cancelled": True}
            if doc.version != version:
                raise ApplyFailed("the document changed while targets were computed; run again")
            if not regions:
                return {"applied": True, "added": []}
            edit = multi_edit(ls, {doc.uri: (doc.version, add_edits(doc, regions))})
            res = await send_edit(ls, types.ApplyWorkspaceEditParams(edit=edit, label="Add GAP targets"))
        if not res.applied:
            return {"applied": False, "added": [], "reason": res.failure_reason or "the client did not apply the edit"}
        return {"applied": True, "added": [r[2] for r in regions]}


class _null:
    async def __aenter__(self):
        return None

    async def __aexit__(self, *exc):
        return None
