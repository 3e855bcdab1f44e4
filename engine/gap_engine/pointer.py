"""JSON Pointer targeting for JSON and YAML artifacts, format-preserving (GAP §4.2, RFC 6901).

GAP §4.2 lets an ``edit`` operation address a value of an ``application/json`` or YAML artifact
by JSON Pointer instead of by marker id:

- ``replace``: ``content`` is a JSON value (for YAML: a YAML or JSON value) that replaces the
  value at the pointer;
- ``delete``: removes the member from its object or the element from its array;
- ``insert_before`` / ``insert_after``: the pointer names an array element (last token a
  non-negative integer, or ``-`` for "after the last element"); the value is inserted there.
- Pointers that do not resolve are refused (``target_not_found``); nothing is auto-created.

Unlike the reference engine, which re-serialises the document, every operation here is ONE
splice of the input body that touches only the addressed value (plus, for ``delete`` and the
inserts, the separating comma / line): key order, indentation, whitespace elsewhere and YAML
comments stay byte for byte. Source spans come from tree-sitter grammars (``tree-sitter-json``,
``tree-sitter-yaml``); values are checked with :mod:`json` / PyYAML, and every splice is
verified by re-parsing the result and comparing it with the expected document (so a splice
that would mean something else — e.g. through YAML anchors — is refused, never applied).

Offsets are code-point indexes into the body, like everywhere else in the engine.
"""

from __future__ import annotations

import copy
import json
import math
import re
import textwrap
from bisect import bisect_left
from functools import lru_cache
from typing import Any

from .errors import INVALID_CONTENT, TARGET_NOT_FOUND, GapError

__all__ = [
    "JSON_FORMATS",
    "YAML_FORMATS",
    "apply_pointer_op",
    "escape_token",
    "format_kind",
    "list_paths",
    "parse_pointer",
    "pointer_span",
]

JSON_FORMATS = frozenset({"application/json", "text/json"})
YAML_FORMATS = frozenset({"application/yaml", "text/yaml", "text/x-yaml", "application/x-yaml"})

_INDEX = re.compile(r"(?:0|[1-9][0-9]*)\Z")


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON value (RFC 8259 has no NaN or Infinity)")


def _json_loads(text: str) -> Any:
    """``json.loads`` that refuses ``NaN``, ``Infinity`` and ``-Infinity``, which Python's
    decoder accepts but RFC 8259 does not (a document holding them is not JSON). Raises
    ``ValueError``, also for values nested too deeply for the decoder."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("arrays or objects nested too deeply") from None


def format_kind(fmt: str | None) -> str | None:
    """``"json"``, ``"yaml"`` or None for a MIME type (``+json``/``+yaml`` suffixes count)."""
    if not fmt:
        return None
    base = fmt.split(";", 1)[0].strip().lower()
    if base in JSON_FORMATS or base.endswith("+json"):
        return "json"
    if base in YAML_FORMATS or base.endswith("+yaml"):
        return "yaml"
    return None


def parse_pointer(pointer: str) -> list[str]:
    """Split an RFC 6901 pointer into unescaped reference tokens (``~1`` → ``/``, ``~0`` → ``~``).

    ``""`` is the whole document (no tokens).

    Raises:
        ValueError: the pointer is not empty and does not start with ``/``, or has a ``~`` not
            followed by ``0`` or ``1``.
    """
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"a JSON Pointer starts with '/' (got {pointer!r})")
    out = []
    for raw in pointer[1:].split("/"):
        if "~" in raw:
            if re.search(r"~(?![01])", raw):
                raise ValueError(f"bad escape in JSON Pointer token {raw!r} (only ~0 and ~1)")
            raw = raw.replace("~1", "/").replace("~0", "~")
        out.append(raw)
    return out


def escape_token(token: str) -> str:
    """Escape one reference token for a JSON Pointer (``~`` → ``~0``, ``/`` → ``~1``)."""
    return token.replace("~", "~0").replace("/", "~1")


# --------------------------------------------------------------------------------------------
# parsing (cached per body: an envelope's ops often address the same document several times)


@lru_cache(maxsize=1)
def _parsers():
    import tree_sitter as ts
    import tree_sitter_json
    import tree_sitter_yaml

    return (
        ts.Parser(ts.Language(tree_sitter_json.language())),
        ts.Parser(ts.Language(tree_sitter_yaml.language())),
    )


class _Tagged(tuple):
    """A value under an application tag (``!Ref x``, ``!vault …``): ``(tag, value)``."""

    __slots__ = ()


@lru_cache(maxsize=1)
def _loader():
    """PyYAML's safe loader (the C one when available) that also reads application tags
    (CloudFormation ``!Ref``, GitLab ``!reference``…) as :class:`_Tagged` values instead of
    failing; nothing is ever constructed from a tag."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        pass

    def tagged(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = tuple(loader.construct_sequence(node, deep=True))
        else:
            value = tuple(sorted(((repr(k), v) for k, v in loader.construct_mapping(node, deep=True).items()), key=lambda kv: kv[0]))
        return _Tagged((node.tag, value))

    Loader.add_multi_constructor("!", tagged)
    return Loader


def _yaml_load(text: str) -> Any:
    import yaml

    return yaml.load(text, Loader=_loader())  # noqa: S506 - a safe loader


def _yaml_load_all(text: str) -> list:
    import yaml

    return list(yaml.load_all(text, Loader=_loader()))  # noqa: S506 - a safe loader


class _TreeError(ValueError):
    """The body parses, but its syntax tree (which every splice is placed by) does not."""


#: The most lines of YAML that tree-sitter-yaml reads (tree-sitter-grammars/tree-sitter-yaml#49);
#: a longer YAML document is not pointer-addressable here.
YAML_MAX_LINES = 32768


#: The start of a YAML line up to its content: indentation and compact block indicators
#: (``- - ? …``); every block nesting level on the line starts at a column of its own in it.
_YAML_LEVELS = re.compile(r"^[ \t]*(?:[-?:](?:[ \t]+|$))*", re.M)

#: tree-sitter-yaml's scanner writes past its state buffer and crashes the process at about
#: 255 nested block levels (tree-sitter-grammars/tree-sitter-yaml#48). A line whose
#: indentation and block indicators stay within this many columns nests at most that deep;
#: YAML reaching further is not handed to it.
YAML_MAX_COLUMNS = 200


def yaml_block_columns(text: str) -> int:
    """The widest indentation-plus-block-indicators prefix of any line of ``text``, in
    characters: a linear upper bound of its block nesting (compare with
    :data:`YAML_MAX_COLUMNS`)."""
    return max((m.end() - m.start() for m in _YAML_LEVELS.finditer(text)), default=0)


def _yaml_too_deep(text: str) -> str | None:
    cols = yaml_block_columns(text)
    if cols <= YAML_MAX_COLUMNS:
        return None
    return (
        f"nested up to {cols} columns deep; the format-preserving parser reads at most {YAML_MAX_COLUMNS} "
        "(tree-sitter-yaml crashes on block nesting about 255 levels deep, tree-sitter-grammars/tree-sitter-yaml#48)"
    )


class _Doc:
    """A parsed body: its tree-sitter tree, its value, and byte → code point conversion."""

    __slots__ = ("body", "kind", "raw", "tree", "value", "_line_cp", "_lines_b", "_ascii")

    def __init__(self, body: str, kind: str):
        self.body = body
        self.kind = kind
        self.raw = body.encode("utf-8")
        if kind == "yaml" and (deep := _yaml_too_deep(body)) is not None:
            raise _TreeError(deep)
        jp, yp = _parsers()
        self.tree = (jp if kind == "json" else yp).parse(self.raw)
        self._ascii = body.isascii()
        self._line_cp = None
        self._lines_b = None
        if kind == "json":
            self.value = _json_loads(body)
        else:
            docs = _yaml_load_all(body)
            if len(docs) > 1:
                raise ValueError("a multi-document YAML stream is not pointer-addressable (one document only)")
            self.value = docs[0] if docs else None
            if any(c.type == "ERROR" for c in self.tree.root_node.children):
                # valid YAML the tree cannot read: no place in it can be trusted for a splice
                lines = body.count("\n") + 1
                why = (
                    f"it has {lines} lines and tree-sitter-yaml reads at most {YAML_MAX_LINES:,} "
                    "(tree-sitter-grammars/tree-sitter-yaml#49)"
                    if lines > YAML_MAX_LINES
                    else "tree-sitter-yaml rejects it"
                )
                raise _TreeError(f"valid YAML, but the format-preserving parser cannot read it: {why}")

    def cp(self, node_or_byte) -> int:
        """Code-point offset of a byte offset (or of a node's start)."""
        b = node_or_byte if isinstance(node_or_byte, int) else node_or_byte.start_byte
        if self._ascii:
            return b
        return len(self.raw[:b].decode("utf-8"))

    def start(self, node) -> int:
        return self.cp(node.start_byte)

    def end(self, node) -> int:
        return self.cp(node.end_byte)


@lru_cache(maxsize=8)
def _doc(body: str, kind: str) -> _Doc:
    return _Doc(body, kind)


def _load_doc(body: str, kind: str, label: str, artifact_id) -> _Doc:
    try:
        return _doc(body, kind)
    except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError, ValueError
        what = "JSON" if kind == "json" else "YAML"
        why = f"the artifact is {exc}" if isinstance(exc, _TreeError) else f"the artifact is not a valid {what} document ({_short(exc)})"
        raise GapError(TARGET_NOT_FOUND, f"{label}: the pointer cannot be resolved, {why}", artifact_id=artifact_id) from None


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


# --------------------------------------------------------------------------------------------
# the value model over the tree (both grammars)

_COMMENT = "comment"


# comments, and the directives (`%YAML 1.2`, `%TAG …`) that head a YAML document: no values
_NOT_VALUES = frozenset({_COMMENT, "yaml_directive", "tag_directive", "reserved_directive"})


def _named(node):
    return [c for c in node.named_children if c.type not in _NOT_VALUES]


def _unwrap(node):
    """The value node under JSON ``document`` / YAML ``block_node``/``flow_node`` wrappers
    (YAML anchors and tags are skipped); returns (wrapper, inner)."""
    inner = node
    while inner is not None and inner.type in ("document", "block_node", "flow_node", "stream"):
        kids = [c for c in _named(inner) if c.type not in ("anchor", "tag")]
        if inner.type == "stream":
            docs = [c for c in kids if c.type == "document"]
            inner = docs[0] if docs else None
            continue
        if not kids:
            return node, None
        inner = kids[0]
    return node, inner


def _root_value(doc: _Doc):
    root = doc.tree.root_node
    if doc.kind == "json":
        kids = _named(root)
        return kids[0] if kids else None
    # stream → document → (block_node | flow_node)
    for d in _named(root):
        if d.type == "document":
            kids = _named(d)
            return kids[0] if kids else None
    return None


def _kind(inner) -> str:
    t = inner.type if inner is not None else "null"
    if t in ("object", "block_mapping", "flow_mapping"):
        return "map"
    if t in ("array", "block_sequence", "flow_sequence"):
        return "seq"
    return "scalar"


def _key_text(doc: _Doc, key_node) -> str:
    """The pointer token a mapping key stands for."""
    text = doc.body[doc.start(key_node) : doc.end(key_node)]
    if doc.kind == "json":
        return json.loads(text)
    _, inner = _unwrap(key_node)
    if inner is not None and inner.type in ("double_quote_scalar", "single_quote_scalar"):
        v = _yaml_load(doc.body[doc.start(inner) : doc.end(inner)])
        return v if isinstance(v, str) else str(v)
    return doc.body[doc.start(inner) : doc.end(inner)].strip() if inner is not None else text.strip()


class _Member:
    """One member of a container: ``node`` spans the whole member (pair / item),
    ``value`` the value node (None for ``key:`` with no value), ``key`` the token."""

    __slots__ = ("node", "value", "key", "colon")

    def __init__(self, node, value, key, colon=None):
        self.node = node
        self.value = value
        self.key = key
        self.colon = colon


def _members(doc: _Doc, inner) -> list[_Member]:
    t = inner.type
    out = []
    if t == "object":
        for p in _named(inner):
            if p.type == "pair":
                out.append(_Member(p, p.child_by_field_name("value"), _key_text(doc, p.child_by_field_name("key"))))
    elif t == "array":
        for i, e in enumerate(_named(inner)):
            out.append(_Member(e, e, str(i)))
    elif t == "block_mapping":
        for p in _named(inner):
            if p.type == "block_mapping_pair":
                k = p.child_by_field_name("key")
                colon = next((c for c in p.children if c.type == ":"), None)
                out.append(_Member(p, p.child_by_field_name("value"), _key_text(doc, k) if k is not None else "", colon))
    elif t == "block_sequence":
        i = 0
        for it in _named(inner):
            if it.type == "block_sequence_item":
                kids = _named(it)
                out.append(_Member(it, kids[0] if kids else None, str(i)))
                i += 1
    elif t == "flow_mapping":
        for p in _named(inner):
            if p.type == "flow_pair":
                k = p.child_by_field_name("key")
                colon = next((c for c in p.children if c.type == ":"), None)
                out.append(_Member(p, p.child_by_field_name("value"), _key_text(doc, k) if k is not None else "", colon))
            else:  # a key with no value ({a, b})
                out.append(_Member(p, None, _key_text(doc, p)))
    elif t == "flow_sequence":
        for i, e in enumerate(_named(inner)):
            out.append(_Member(e, e, str(i)))
    return out


def _resolve(doc: _Doc, tokens: list[str], label: str, artifact_id):
    """Walk ``tokens`` → (container inner node | None, member | None, value node)."""
    node = _root_value(doc)
    container = None
    member = None
    for depth, tok in enumerate(tokens):
        _, inner = _unwrap(node) if node is not None else (None, None)
        if inner is not None and inner.type == "alias":
            raise GapError(
                TARGET_NOT_FOUND,
                f"{label}: the path goes through a YAML alias at {_ptr(tokens[:depth])!r}; edit the anchored value instead",
                artifact_id=artifact_id,
            )
        kind = _kind(inner)
        if kind == "scalar":
            raise GapError(
                TARGET_NOT_FOUND,
                f"{label}: {_at(tokens[:depth])} is a scalar, it has no member {tok!r}",
                artifact_id=artifact_id,
            )
        mems = _members(doc, inner)
        if kind == "seq":
            if tok == "-" and depth == len(tokens) - 1:
                return inner, None, None
            if not _INDEX.match(tok):
                raise GapError(
                    TARGET_NOT_FOUND,
                    f"{label}: {tok!r} is not an array index (array at {_at(tokens[:depth])})",
                    artifact_id=artifact_id,
                )
            i = int(tok)
            if i >= len(mems):
                raise GapError(
                    TARGET_NOT_FOUND,
                    f"{label}: index {i} is out of range (the array at {_at(tokens[:depth])} has {len(mems)} elements)",
                    artifact_id=artifact_id,
                )
            m = mems[i]
        else:
            found = [m for m in mems if m.key == tok]
            if not found:
                keys = ", ".join(repr(m.key) for m in mems[:12])
                raise GapError(
                    TARGET_NOT_FOUND,
                    f"{label}: no member {tok!r} in the object at {_at(tokens[:depth])} (members: {keys or 'none'})",
                    artifact_id=artifact_id,
                )
            m = found[-1]  # duplicate keys: the last one wins, as in json.loads / PyYAML
        container, member, node = inner, m, m.value
    return container, member, node


def _at(tokens) -> str:
    return repr(_ptr(tokens)) if tokens else "the root"


def _ptr(tokens) -> str:
    return "".join("/" + escape_token(t) for t in tokens)


# --------------------------------------------------------------------------------------------
# expected document (for verification) on the Python value


def _yaml_key_matches(k, tok: str) -> bool:
    if isinstance(k, str):
        return k == tok
    try:
        v = _yaml_load(tok)
    except Exception:
        return False
    return type(v) is type(k) and v == k


def _py_patch(doc_value, tokens, op: str, value):
    """Apply ``op`` to a deep copy of ``doc_value`` the RFC 6902 way (for verification)."""
    root = copy.deepcopy(doc_value)
    if not tokens:
        return value if op == "replace" else None
    parent = root
    for tok in tokens[:-1]:
        parent = _py_step(parent, tok)
    last = tokens[-1]
    if isinstance(parent, list):
        i = len(parent) if last == "-" else int(last)
        if op == "replace":
            parent[i] = value
        elif op == "delete":
            del parent[i]
        elif op == "insert_before":
            parent.insert(i, value)
        else:
            parent.insert(i + 1 if last != "-" else i, value)
    else:
        key = _py_key(parent, last)
        if op == "replace":
            parent[key] = value
        else:
            del parent[key]
    return root


def _py_key(d: dict, tok: str):
    keys = [k for k in d if _yaml_key_matches(k, tok)]
    return keys[-1] if keys else tok


def _py_step(node, tok):
    if isinstance(node, list):
        return node[int(tok)]
    return node[_py_key(node, tok)]


def _same(a, b) -> bool:
    """Strict structural equality (``1 != 1.0 != True``; NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return len(a) == len(b) and all(k in b and _same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


# --------------------------------------------------------------------------------------------
# text helpers


def _line_start(body: str, pos: int) -> int:
    return body.rfind("\n", 0, pos) + 1


def _line_end(body: str, pos: int) -> int:
    j = body.find("\n", pos)
    return len(body) if j < 0 else j


def _col(body: str, pos: int) -> int:
    return pos - _line_start(body, pos)


def _indent_of_line(body: str, pos: int) -> str:
    ls = _line_start(body, pos)
    j = ls
    while j < len(body) and body[j] in " \t":
        j += 1
    return body[ls:j]


def _reindent(text: str, prefix: str) -> str:
    """Prefix every line but the first with ``prefix`` (blank lines stay empty)."""
    if "\n" not in text:
        return text
    lines = text.split("\n")
    return "\n".join([lines[0]] + [(prefix + ln) if ln.strip() else "" for ln in lines[1:]])


# --------------------------------------------------------------------------------------------
# JSON


def _json_splice(doc: _Doc, tokens, op, content, value, label, aid):
    body = doc.body
    if not tokens:
        root = _root_value(doc)
        if op != "replace" or root is None:
            raise GapError(TARGET_NOT_FOUND if root is None else INVALID_CONTENT, f"{label}: the root can only be replaced", artifact_id=aid)
        s, e = doc.start(root), doc.end(root)
        return s, e, _reindent(content, _indent_of_line(body, s))
    container, member, node = _resolve(doc, tokens, label, aid)
    mems = _members(doc, container)
    if op == "replace":
        if member is None:
            raise GapError(TARGET_NOT_FOUND, f"{label}: '-' names no existing element to replace", artifact_id=aid)
        s, e = doc.start(node), doc.end(node)
        return s, e, _reindent(content, _indent_of_line(body, doc.start(member.node)))
    if op == "delete":
        if member is None:
            raise GapError(TARGET_NOT_FOUND, f"{label}: '-' names no existing element to delete", artifact_id=aid)
        _no_duplicate_key(container, mems, member, tokens, label, aid)
        return _remove_listed(doc, container, mems, member)
    # inserts: the container must be an array
    if container.type != "array":
        raise GapError(
            INVALID_CONTENT,
            f"{label}: insert_before/insert_after need a pointer to an array element (last token an index or '-')",
            artifact_id=aid,
        )
    return _insert_listed(doc, container, mems, member, op, content)


def _no_duplicate_key(container, mems, member, tokens, label, aid) -> None:
    """Refuse to delete a key the object holds more than once: removing the member that is
    read (the last) would bring an earlier value back."""
    if _kind(container) == "map" and sum(1 for m in mems if m.key == member.key) > 1:
        raise GapError(
            INVALID_CONTENT,
            f"{label}: the object at {_at(tokens[:-1])} has the key {member.key!r} more than once; "
            "deleting one would bring back another (remove the duplicates by hand)",
            artifact_id=aid,
        )


def _remove_listed(doc: _Doc, container, mems, member):
    """Remove one member of a comma-separated container (JSON object/array, YAML flow)."""
    i = next(k for k, m in enumerate(mems) if m.node.id == member.node.id)
    if len(mems) == 1:
        # empty the container: everything between the brackets goes
        s = doc.start(container) + 1
        e = doc.end(container) - 1
        return s, e, ""
    if i + 1 < len(mems):
        return doc.start(member.node), doc.start(mems[i + 1].node), ""
    return doc.end(mems[i - 1].node), doc.end(member.node), ""


def _insert_listed(doc: _Doc, container, mems, member, op, content):
    body = doc.body
    if not mems:
        s = doc.start(container) + 1
        e = doc.end(container) - 1
        inner = body[s:e]
        if "\n" in inner:
            ind = _indent_of_line(body, doc.start(container))
            step = _indent_step(body) or "  "
            return s, e, "\n" + ind + step + _reindent(content, ind + step) + "\n" + ind
        return s, e, _reindent(content, _indent_of_line(body, s))
    if member is None:  # '-': after the last element
        member = mems[-1]
        op = "insert_after"
    i = next(k for k, m in enumerate(mems) if m.node.id == member.node.id)
    if len(mems) > 1:
        j = i if i + 1 < len(mems) else i - 1
        sep = body[doc.end(mems[j].node) : doc.start(mems[j + 1].node)]
    else:
        s0 = doc.start(container) + 1
        lead = body[s0 : doc.start(member.node)]
        if "\n" in lead:
            sep = ",\n" + _indent_of_line(body, doc.start(member.node))
        else:
            sep = ", "
    text = _reindent(content, _indent_of_line(body, doc.start(member.node)))
    if op == "insert_before":
        p = doc.start(member.node)
        return p, p, text + sep
    p = doc.end(member.node)
    return p, p, sep + text


def _indent_step(body: str) -> str:
    """The smallest positive indentation used in ``body`` (``"  "`` when none is found)."""
    best = None
    for m in re.finditer(r"\n([ \t]+)\S", body):
        w = m.group(1)
        if best is None or len(w) < len(best):
            best = w
            if len(w) <= 1:
                break
    return best or "  "


# --------------------------------------------------------------------------------------------
# YAML


_STRUCTURAL = frozenset(
    {"document", "block_node", "flow_node", "block_mapping", "block_sequence", "block_mapping_pair", "block_sequence_item"}
)


def _content_end(doc: _Doc, node) -> int:
    """End of ``node`` without trailing comments (or line breaks) the grammar folded into it:
    the end of its last non-comment token."""
    while node.type in _STRUCTURAL:
        last = None
        for c in reversed(node.children):
            if c.type != _COMMENT:
                last = c
                break
        if last is None:
            break
        node = last
    end = doc.cp(node.end_byte)
    if node.type == "block_scalar":
        # a block scalar that closes the document also spans the line breaks (and blank
        # lines) after its last line; they belong to the document, not to the value
        body, start = doc.body, doc.cp(node.start_byte)
        while True:
            nl = body.rfind("\n", start, end)
            if nl < 0 or body[nl + 1 : end].strip(" \t\r"):
                break
            end = nl
        if body[end - 1 : end] == "\r":  # (a CRLF body, as pointer_span reads it)
            end -= 1
    return end


def _yaml_value_kind(content: str):
    """How content can be placed: (text, is_block_collection)."""
    if _yaml_too_deep(content) is not None:
        return True  # never parsed here: _yaml_splice refuses it
    _, yp = _parsers()
    tree = yp.parse(content.encode("utf-8"))
    root = tree.root_node
    docs = [c for c in root.named_children if c.type == "document"]
    if not docs:
        return False
    kids = _named(docs[0])
    if not kids:
        return False
    w = kids[0]
    _, inner = _unwrap(w)
    return inner is not None and inner.type in ("block_mapping", "block_sequence")


@lru_cache(maxsize=2)
def _dumper(indent_seqs: bool):
    import yaml

    class Dumper(yaml.SafeDumper):
        def increase_indent(self, flow=False, indentless=False):
            return super().increase_indent(flow, False if indent_seqs else indentless)

    return Dumper


def _prepare_yaml_content(content: str, value, indent_seqs: bool = True) -> tuple[str, bool]:
    """Normalise YAML content → (text without common indentation, block collection?)."""
    text = textwrap.dedent(content.strip("\n")).rstrip()
    # a document start / end line ("---", "...") belongs to a stream, not to a value
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1].strip() == "...":
        lines.pop()
    if len(lines) > 1 and lines[0].strip() == "---":
        lines.pop(0)
    elif lines and lines[0].startswith("--- "):
        lines[0] = lines[0][4:]
    text = textwrap.dedent("\n".join(lines)).rstrip()
    if "\n" in text and isinstance(value, (dict, list)) and value:
        try:
            json.loads(text)
        except ValueError:
            pass
        else:  # pretty-printed JSON: give it the document's block style
            import yaml

            text = yaml.dump(
                value,
                Dumper=_dumper(indent_seqs),
                default_flow_style=False,
                sort_keys=False,
                allow_unicode=True,
                width=1 << 16,
            ).rstrip("\n")
    text = text.strip()
    return text, _yaml_value_kind(text)


def _seq_indented(doc: _Doc) -> bool:
    """Does this document indent block sequences under their key (``k:\\n  - x``)?"""
    body = doc.body
    stack = [doc.tree.root_node]
    while stack:
        n = stack.pop()
        if n.type == "block_mapping_pair":
            v = n.child_by_field_name("value")
            if v is not None:
                _, inner = _unwrap(v)
                if inner is not None and inner.type == "block_sequence":
                    return _col(body, doc.start(inner)) > _col(body, doc.start(n))
        stack.extend(n.named_children)
    return True


def _yaml_place(doc: _Doc, text: str, block: bool, col: int, inline_ok: bool) -> str:
    """Render ``text`` to start at column ``col`` (continuation lines indented to ``col``)."""
    pad = " " * col
    if block and not inline_ok:
        return "\n" + pad + _reindent(text, pad)
    return _reindent(text, pad)


def _yaml_replace_value(doc: _Doc, member, node, text, block, label, aid):
    body = doc.body
    parent = member.node
    if parent.type == "block_sequence_item":
        dash = doc.start(parent)
        col = _col(body, dash) + 2
        if node is None:
            p = dash + 1
            return p, p, " " + _reindent(text, " " * col)
        s, e = doc.start(node), _content_end(doc, node)
        return s, e, _yaml_place(doc, text, block, _col(body, s), True)
    if parent.type in ("block_mapping_pair",):
        key_col = _col(body, doc.start(parent))
        colon_end = doc.end(member.colon)
        if node is None:
            step = len(_indent_step(body))
            if block:
                _, inner = _unwrap_text(text)
                c = key_col + (step if (inner != "seq" or _seq_indented(doc)) else 0)
                return colon_end, colon_end, "\n" + " " * c + _reindent(text, " " * c)
            return colon_end, colon_end, " " + _reindent(text, " " * (key_col + step))
        s, e = doc.start(node), _content_end(doc, node)
        gap = body[colon_end:s]
        old_inner = _unwrap(node)[1]
        old_block = old_inner is not None and old_inner.type in ("block_mapping", "block_sequence")
        comment = gap.strip()  # comments between the key and its value: they stay
        if block:
            if old_block and (_col(body, s) > key_col or _unwrap_text(text)[1] == "seq"):
                c = _col(body, s)  # where the old block value was (a mapping must be deeper)
            else:
                step = len(_indent_step(body))
                kind = _unwrap_text(text)[1]
                c = key_col + (step if (kind != "seq" or _seq_indented(doc)) else 0)
            if comment:  # the block starts on the line after the comments
                return _line_start(body, s), e, " " * c + _reindent(text, " " * c)
            return colon_end, e, "\n" + " " * c + _reindent(text, " " * c)
        c = key_col + len(_indent_step(body))
        placed = _reindent(text, " " * c)
        if not comment:
            if gap and "\n" not in gap:
                return s, e, placed  # on the key's line: the space before it (alignment) stays
            return colon_end, e, " " + placed
        # a scalar or flow value goes on the key's line, before the comments
        if placed.lstrip()[:1] in ("|", ">") and "\n" in placed:
            # a block scalar: after its header, a comment line would be text; keep them there
            nl = placed.index("\n")
            notes = " ".join(ln.strip() for ln in gap.split("\n") if ln.strip())
            return colon_end, e, " " + placed[:nl] + "  " + notes + placed[nl:]
        return colon_end, e, " " + placed + gap.rstrip()
    # flow pair / flow element: everything inline
    if node is None:
        if member.colon is None:
            raise GapError(INVALID_CONTENT, f"{label}: cannot give a value to a bare flow key", artifact_id=aid)
        p = doc.end(member.colon)
        return p, p, " " + _flow_text(text, block, label, aid)
    s, e = doc.start(node), doc.end(node)
    return s, e, _flow_text(text, block, label, aid)


def _flow_text(text: str, block: bool, label, aid) -> str:
    if block or "\n" in text:
        # inside a flow collection the value must be flow style: write it as JSON
        try:
            v = _yaml_load(text)
            return json.dumps(v, ensure_ascii=False, default=str)
        except Exception as exc:  # pragma: no cover - validated before
            raise GapError(INVALID_CONTENT, f"{label}: {exc}", artifact_id=aid) from None
    return text


def _unwrap_text(text: str):
    return text, ("seq" if text.lstrip().startswith("-") else "map")


def _yaml_splice(doc: _Doc, tokens, op, content, value, label, aid):
    body = doc.body
    text = block = None
    if content is not None:
        text, block = _prepare_yaml_content(content, value, _seq_indented(doc))
        if (deep := _yaml_too_deep(text)) is not None:  # (pretty JSON content becomes block YAML)
            raise GapError(INVALID_CONTENT, f"{label}: the content is {deep}", artifact_id=aid)
    if not tokens:
        root = _root_value(doc)
        if op != "replace":
            raise GapError(INVALID_CONTENT, f"{label}: the root can only be replaced", artifact_id=aid)
        if root is None:
            return len(body), len(body), text
        s, e = doc.start(root), _content_end(doc, root)
        return s, e, text
    container, member, node = _resolve(doc, tokens, label, aid)
    ctype = container.type
    if op == "replace":
        if member is None:
            raise GapError(TARGET_NOT_FOUND, f"{label}: '-' names no existing element to replace", artifact_id=aid)
        return _yaml_replace_value(doc, member, node, text, block, label, aid)
    mems = _members(doc, container)
    if op == "delete":
        if member is None:
            raise GapError(TARGET_NOT_FOUND, f"{label}: '-' names no existing element to delete", artifact_id=aid)
        _no_duplicate_key(container, mems, member, tokens, label, aid)
        if ctype in ("flow_mapping", "flow_sequence"):
            return _remove_listed(doc, container, mems, member)
        if len(mems) == 1:  # the collection becomes empty: {} or []
            empty = "{}" if ctype == "block_mapping" else "[]"
            return _yaml_splice(doc, tokens[:-1], "replace", empty, {} if empty == "{}" else [], label, aid)
        return _remove_block_member(doc, mems, member)
    if ctype not in ("block_sequence", "flow_sequence"):
        raise GapError(
            INVALID_CONTENT,
            f"{label}: insert_before/insert_after need a pointer to an array element (last token an index or '-')",
            artifact_id=aid,
        )
    if ctype == "flow_sequence":
        return _insert_listed(doc, container, mems, member, op, _flow_text(text, block, label, aid))
    if member is None:
        member, op = mems[-1], "insert_after"
    dash = doc.start(member.node)
    col = _col(body, dash)
    item = "- " + _reindent(text, " " * (col + 2))
    if op == "insert_before":
        return dash, dash, item + "\n" + " " * col
    p = _content_end(doc, member.node)
    # after a trailing comment on the item's last line, if any
    le = _line_end(body, p)
    if body[p:le].strip().startswith("#") or not body[p:le].strip():
        p = le
    return p, p, "\n" + " " * col + item


def _remove_block_member(doc: _Doc, mems, member):
    """Remove a block mapping pair / sequence item with its line(s) (siblings exist)."""
    body = doc.body
    i = next(k for k, m in enumerate(mems) if m.node.id == member.node.id)
    s = doc.start(member.node)
    e = _content_end(doc, member.node)
    ls = _line_start(body, s)
    at_line_start = not body[ls:s].strip()
    # take a trailing comment on the member's last line with it
    le = _line_end(body, e)
    if body[e:le].strip().startswith("#"):
        e = le
    if not at_line_start:
        # compact position (first pair after "- "): remove up to the next member
        if i + 1 < len(mems):
            return s, doc.start(mems[i + 1].node), ""
        return s, e, ""
    if i + 1 < len(mems) or le < len(body):
        e2 = le + 1 if le < len(body) else le
        if body[e:le].strip() == "":
            return ls, min(e2, len(body)), ""
        return ls, e, ""
    # the last member, at the end of the body: remove the preceding newline instead
    return max(ls - 1, 0), le, ""


# --------------------------------------------------------------------------------------------
# public API


def _content_value(kind: str, content: str, label: str, aid):
    if kind == "json":
        try:
            return _json_loads(content)
        except ValueError as exc:
            raise GapError(INVALID_CONTENT, f"{label}: content is not a valid JSON value ({_short(exc)})", artifact_id=aid) from None
    try:
        docs = _yaml_load_all(content)
    except Exception as exc:
        raise GapError(INVALID_CONTENT, f"{label}: content is not a valid YAML/JSON value ({_short(exc)})", artifact_id=aid) from None
    if len(docs) != 1 or (not content.strip()):
        raise GapError(INVALID_CONTENT, f"{label}: content must be exactly one YAML/JSON value", artifact_id=aid)
    return docs[0]


_SURROGATE_PAIR = re.compile(r"(?<!\\)((?:\\\\)*)\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})")


def _join_surrogate_escapes(content: str) -> str:
    """JSON content for a YAML artifact with its UTF-16 surrogate-pair escapes
    (``"\\ud83d\\ude00"``, what ``json.dumps`` writes for 😀) turned into the characters they
    stand for: JSON is YAML, but PyYAML reads no surrogate pairs. Content that is not JSON
    (e.g. a single-quoted YAML scalar, where a backslash is just a backslash) is returned as is."""
    if "\\u" not in content or not _SURROGATE_PAIR.search(content):
        return content
    try:
        _json_loads(content)
    except ValueError:
        return content

    def joined(m: re.Match) -> str:
        return m.group(1) + chr(0x10000 + ((int(m.group(2), 16) - 0xD800) << 10) + (int(m.group(3), 16) - 0xDC00))

    return _SURROGATE_PAIR.sub(joined, content)


def apply_pointer_op(i: int, op, body: str, fmt: str, artifact_id: str | None) -> tuple[int, int, str]:
    """Resolve one pointer-targeted edit operation to ONE splice of ``body`` (GAP §4.2).

    Args:
        i: the operation's index in the envelope's ``content`` (for messages and ``op_index``).
        op: an :class:`~gap_engine.model.EditOperation` whose ``target.type`` is ``"pointer"``.
        body: the current artifact body (JSON or YAML text).
        fmt: the artifact's MIME type: ``application/json`` (or ``+json``) or
            ``application/yaml`` / ``text/yaml`` / ``text/x-yaml`` (or ``+yaml``).
        artifact_id: for the error.

    Returns:
        ``(start, end, text)``: code-point offsets of the replaced range of ``body`` and the
        text to put there. Only the addressed value changes (plus, for delete/inserts, the
        separating comma or line); the result re-parses to exactly the RFC 6902-style edit of
        the document.

    Raises:
        GapError: ``target_not_found`` when the pointer does not resolve (or the artifact does
            not parse); ``invalid_content`` for a malformed pointer, missing or invalid
            content (not a JSON value / YAML value), an insert not aimed at an array element,
            a non-JSON/YAML artifact, or an edit that would change more than the addressed
            value (e.g. through YAML anchors).
    """
    ptr = op.target.value
    label = f"operation {i} ({op.op} on pointer {ptr!r})"
    kind = format_kind(fmt)
    if kind is None:
        raise GapError(
            INVALID_CONTENT,
            f"{label}: pointer targets address JSON or YAML artifacts, not {fmt!r}; use an id target",
            artifact_id=artifact_id,
            op_index=i,
        )
    content = op.content
    if content is not None and "\r" in content:
        content = content.replace("\r\n", "\n").replace("\r", "\n")  # the body's line breaks are used below
    view = _view(body)
    try:
        if view is None:
            return _apply(i, op, body, kind, artifact_id, ptr, label, content)
        norm, to_body, newline = view
        s, e, text = _apply(i, op, norm, kind, artifact_id, ptr, label, content)
    except GapError as err:
        if err.op_index is None:
            err.op_index = i
        raise
    if newline != "\n":
        text = text.replace("\n", newline)
    return to_body(s), to_body(e), text


_BOM = "\ufeff"


_FIRST_BREAK = re.compile(r"\r\n?|\n")


def _view(body: str):
    """The body as the parsers should see it, when that differs from the body: without a
    leading byte order mark (RFC 8259 §8.1 lets a parser ignore it; Python's and tree-sitter's
    JSON parsers refuse it) and with CRLF and lone CR line breaks (YAML 1.2 §5.4; whitespace
    to JSON) read as LF, so that every line break an edit writes can follow the body's own
    (the first one's kind). → ``(normalized body, offset in it → offset in body, the body's
    line break)``, or None when the body has neither."""
    bom = 1 if body.startswith(_BOM) else 0
    crlf = "\r\n" in body
    if not bom and "\r" not in body:
        return None
    norm = body[bom:]
    crs: list[int] = []  # offsets in `norm` of the "\n" of each "\r\n"
    if crlf:
        parts = norm.split("\r\n")
        pos = 0
        for part in parts[:-1]:
            pos += len(part)
            crs.append(pos)
            pos += 1
        norm = "\n".join(parts)
    if "\r" in norm:
        norm = norm.replace("\r", "\n")  # lone CRs: one character for one, offsets unchanged
    first = _FIRST_BREAK.search(body)
    newline = first.group() if first is not None else "\n"

    def to_body(o: int) -> int:
        return o + bom + bisect_left(crs, o)  # a "\r" before `o` for each "\r\n" before it

    return norm, to_body, newline


def _apply(i, op, body, kind, aid, ptr, label, content):
    try:
        tokens = parse_pointer(ptr)
    except ValueError as exc:
        raise GapError(INVALID_CONTENT, f"{label}: {exc}", artifact_id=aid) from None
    kindop = op.op
    value = None
    if kindop != "delete":
        if content is None:
            raise GapError(INVALID_CONTENT, f"{label}: `content` is required for {kindop}", artifact_id=aid)
        if kind == "yaml":
            content = _join_surrogate_escapes(content)
        value = _content_value(kind, content, label, aid)
        content = content.strip() if kind == "json" else content
    if kindop in ("insert_before", "insert_after"):
        if not tokens or not (_INDEX.match(tokens[-1]) or tokens[-1] == "-"):
            raise GapError(
                INVALID_CONTENT,
                f"{label}: insert_before/insert_after need a pointer to an array element (last token an index or '-')",
                artifact_id=aid,
            )
    doc = _load_doc(body, kind, label, aid)
    if kind == "json":
        s, e, text = _json_splice(doc, tokens, kindop, content, value, label, aid)
    else:
        s, e, text = _yaml_splice(doc, tokens, kindop, content, value, label, aid)
        if content is not None and content.lstrip()[:1] in ("|", ">"):
            # a block scalar runs to the end of its last line: a comment after the old value
            # would become its text, so it moves up to the scalar's header line (`k: |  # c`)
            le = _line_end(body, e)
            nl = text.find("\n")
            if nl > 0 and text[:nl].strip() and body[e:le].strip().startswith("#"):
                text = text[:nl] + body[e:le] + text[nl:]
                e = le
            if body[e : e + 1] in ("\n", "\r"):
                value = _yaml_load(content.strip("\n") + "\n")  # a block scalar keeps its line break
    _verify(doc, kind, tokens, kindop, value, body[:s] + text + body[e:], label, aid)
    return s, e, text


def _verify(doc: _Doc, kind, tokens, op, value, new_body, label, aid):
    try:
        expected = _py_patch(doc.value, tokens, op, value)
    except (KeyError, IndexError, TypeError, ValueError):
        return  # the tree and the loader disagree on addressing; the splice stands on the tree
    try:
        got = _json_loads(new_body) if kind == "json" else _yaml_load(new_body)
    except Exception as exc:
        if kind == "yaml" and "undefined alias" in str(exc):
            raise GapError(
                INVALID_CONTENT,
                f"{label}: the edit would remove an anchor (&name) that an alias (*name) elsewhere still uses; "
                "the anchored value is shared, so it cannot be changed in one place",
                artifact_id=aid,
            ) from None
        raise GapError(
            INVALID_CONTENT,
            f"{label}: the content does not fit at this place, the result would not parse ({_short(exc)})",
            artifact_id=aid,
        ) from None
    if not _same(got, expected):
        raise GapError(
            INVALID_CONTENT,
            f"{label}: the edit cannot be made in place without changing other values (YAML anchors/aliases or merge keys?)",
            artifact_id=aid,
        )


def pointer_span(body: str, fmt: str, pointer: str) -> tuple[int, int] | None:
    """The code-point span ``[start, end)`` of the value at ``pointer``, or None when the
    pointer does not resolve or the body does not parse (GAP §4.2, RFC 6901)."""
    kind = format_kind(fmt)
    if kind is None:
        return None
    bom = 1 if body.startswith(_BOM) else 0  # (see _view)
    if bom:
        body = body[1:]
    try:
        tokens = parse_pointer(pointer)
        doc = _doc(body, kind)
        if not tokens:
            node = _root_value(doc)
        else:
            _, member, node = _resolve(doc, tokens, "pointer", None)
            if member is None:
                return None
    except (GapError, ValueError, Exception):
        return None
    if node is None:
        return None
    return bom + doc.start(node), bom + (_content_end(doc, node) if kind == "yaml" else doc.end(node))


def list_paths(body: str, fmt: str, *, leaves_only: bool = False) -> list[str]:
    """Every JSON Pointer that addresses a value of the document, in document order
    (the pointer inventory for a maintain context, GAP §5.1 "Supervisor inventory").

    The root (``""``) is not listed. With ``leaves_only``, only scalars and empty
    collections are listed. Every path listed is one an edit can address: in YAML, an alias
    (``*x``) and a merge key (``<<: *x``) are listed themselves, not what they stand for
    (edit the anchored value instead), and a key written more than once is listed once.

    Raises:
        GapError: ``invalid_content`` when ``fmt`` is not JSON/YAML or the body does not parse
            (a multi-document YAML stream included).
    """
    kind = format_kind(fmt)
    if kind is None:
        raise GapError(INVALID_CONTENT, f"list_paths: {fmt!r} is not a JSON or YAML format")
    try:
        if body.startswith(_BOM):
            body = body[1:]
        if kind == "yaml":
            return _yaml_paths(_doc(body, "yaml"), leaves_only)
        value = _json_loads(body)
    except Exception as exc:
        raise GapError(INVALID_CONTENT, f"list_paths: the artifact does not parse ({_short(exc)})") from None
    out: list[str] = []

    def walk(v, prefix):
        if isinstance(v, dict):
            items = [(k if isinstance(k, str) else _scalar_token(k), x) for k, x in v.items()]
        elif isinstance(v, list):
            items = [(str(i), x) for i, x in enumerate(v)]
        else:
            return
        for k, x in items:
            p = prefix + "/" + escape_token(k)
            container = isinstance(x, (dict, list)) and len(x) > 0
            if not (leaves_only and container):
                out.append(p)
            walk(x, p)

    walk(value, "")
    return out


def _yaml_paths(doc: _Doc, leaves_only: bool) -> list[str]:
    """:func:`list_paths` of a YAML document, from the tree :func:`apply_pointer_op` edits."""
    out: list[str] = []

    def collection(node):
        inner = _unwrap(node)[1] if node is not None else None
        if inner is None or inner.type == "alias" or _kind(inner) == "scalar":
            return None
        return inner

    def walk(inner, prefix):
        last: dict = {}
        for m in _members(doc, inner):
            last[m.key] = m  # a repeated key: the last one is the value (as in _resolve)
        for key, m in last.items():
            p = prefix + "/" + escape_token(key)
            sub = collection(m.value)
            if not (leaves_only and sub is not None and _members(doc, sub)):
                out.append(p)
            if sub is not None:
                walk(sub, p)

    root = collection(_root_value(doc))
    if root is not None:
        walk(root, "")
    return out


def _scalar_token(k) -> str:
    if k is True:
        return "true"
    if k is False:
        return "false"
    if k is None:
        return "null"
    return str(k)
