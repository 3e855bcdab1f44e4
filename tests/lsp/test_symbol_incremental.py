"""Property tests: the cached ``textDocument/documentSymbol`` JSON (marker symbols followed
through edits by :class:`gap_ls.symbols.MarkerSymbols`, pointer symbols by
:class:`gap_ls.symbols.PointerSymbols`) equals a fresh computation after random edit
sequences — typing, line inserts and deletes, multi-line replacements, CRLF line breaks,
astral characters counted in UTF-16, several edits between two requests, edits that add or
remove markers (in-process, no server)."""

from __future__ import annotations

import json
import random

import pytest
from lsprotocol import types as t

from gap_ls.documents import Document
from gap_ls.symbols import MarkerSymbols, marker_symbols_json, pointer_symbols_json

ENCODINGS = ["utf-16", "utf-8", "utf-32"]


def units(s: str, encoding: str) -> int:
    if encoding == "utf-16":
        return len(s.encode("utf-16-le")) // 2
    if encoding == "utf-8":
        return len(s.encode("utf-8"))
    return len(s)


def artifact(n: int, nl: str = "\n") -> str:
    parts = ["<html><body>" + nl]
    for i in range(n):
        parts.append(f'<gap:target id="s-{i}" type="section" label="S{i} 100%">{nl}<div>{nl}')
        for j in range(3):
            parts.append(f'  <p>m{j} <gap:target id="v-{i}-{j}"{" type=value" if j else ""}>{i * j} 😀</gap:target> é</p>{nl}')
        if i % 7 == 3:
            parts.append(f'<gap:target id="n-{i}">{nl}<gap:target id="nn-{i}">x</gap:target>{nl}</gap:target>{nl}')
        parts.append(f"</div>{nl}</gap:target>{nl}")
    return "".join(parts) + "</body></html>" + nl


SAFE_INSERTS = ["x", "ab", "é😀", "", "\n", "a\nb\n", "\n\n", "z", "😀\n😀", "%d", "\n\n\n\n", "%"]
INSERTS = SAFE_INSERTS + ["\r\n", "\r", '<gap:target id="new">q</gap:target>', "</gap:target>", "<gap:tar"]


def random_change(rnd: random.Random, doc: Document, wild: float = 0.2) -> t.TextDocumentContentChangePartial:
    """A random incremental change, positions in the document's encoding (lines split like
    LSP: at \\r\\n, \\r and \\n); with probability ``wild`` anything (markers, CRLF,
    ranges across lines and markers), else typing, line breaks and line deletions."""
    import re

    lines = re.split(r"\r\n|\r|\n", doc.text)
    ln = rnd.randrange(len(lines))
    c = rnd.randrange(len(lines[ln]) + 1)
    ln2 = min(ln + rnd.choice([0, 0, 0, 0, 1, 2, 5]), len(lines) - 1)
    if ln2 == ln:
        c2 = min(c + rnd.choice([0, 0, 1, 3]), len(lines[ln]))
    else:
        c2 = rnd.randrange(len(lines[ln2]) + 1)
    if rnd.random() >= wild:
        if rnd.random() < 0.2 and ln + 1 < len(lines) and "gap:target" not in lines[ln]:
            ln2, c, c2 = ln + 1, 0, 0  # delete a whole line
        else:
            line = lines[ln]
            for m in re.finditer(r"</?gap:target[^>]*>?", line):
                if m.start() < c <= m.end() or c < m.start() < c2:
                    c = m.start()  # never inside a marker
            ln2, c2 = ln, min(max(c, c2), c + 2) if ln2 == ln and "<" not in line[c:c2] else c
        text = rnd.choice(SAFE_INSERTS)
    else:
        text = rnd.choice(INSERTS) if rnd.random() < 0.9 else ""
    start = t.Position(ln, units(lines[ln][:c], doc.encoding))
    end = t.Position(ln2, units(lines[ln2][:c2], doc.encoding))
    return t.TextDocumentContentChangePartial(range=t.Range(start, end), text=text)


def fresh_json(doc: Document, hierarchical: bool) -> str:
    return marker_symbols_json(None, Document(doc.uri, 1, doc.language_id, doc.text, doc.encoding), hierarchical)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("hierarchical", [True, False])
def test_marker_symbols_follow_random_edits(seed, encoding, hierarchical):
    rnd = random.Random(seed * 31 + len(encoding))
    nl = "\r\n" if seed == 3 else "\n"
    doc = Document("file:///dir/a%25b.html", 1, "html", artifact(40, nl), encoding)
    marker_symbols_json(None, doc, hierarchical)
    for k in range(120):
        for _ in range(rnd.choice([1, 1, 1, 2, 5])):  # several edits between two requests
            doc.apply_change(random_change(rnd, doc))
        got = marker_symbols_json(None, doc, hierarchical)
        assert got == fresh_json(doc, hierarchical), k
        assert got.isascii()
        json.loads(got)


def test_line_inserts_and_deletes_reuse_the_cache():
    """Adding and removing lines (no marker touched) is followed incrementally — the same
    :class:`MarkerSymbols` object answers — and equals a fresh answer each time."""
    doc = Document("file:///a.html", 1, "html", artifact(300), "utf-16")
    marker_symbols_json(None, doc, True)
    cache = doc._marker_symbols
    assert isinstance(cache, MarkerSymbols)
    rnd = random.Random(7)
    for k in range(60):
        n = doc.line_count()
        ln = rnd.randrange(n - 1)
        if k % 3 == 2:  # delete a whole line
            rng = t.Range(t.Position(ln, 0), t.Position(ln + 1, 0))
            line = doc.line_text(ln)
            if "gap:target" in line:
                continue
            doc.apply_change(t.TextDocumentContentChangePartial(range=rng, text=""))
        else:
            doc.apply_change(t.TextDocumentContentChangePartial(range=t.Range(t.Position(ln, 0), t.Position(ln, 0)), text="<!-- a line 😀 -->\n" * (1 + k % 2)))
        assert marker_symbols_json(None, doc, True) == fresh_json(doc, True), k
        assert doc._marker_symbols is cache


def test_typing_a_marker_rebuilds():
    doc = Document("file:///a.html", 1, "html", artifact(5), "utf-16")
    before = json.loads(marker_symbols_json(None, doc, True))
    doc.apply_change(t.TextDocumentContentChangePartial(range=t.Range(t.Position(1, 0), t.Position(1, 0)), text='<gap:target id="top">'))
    doc.apply_change(t.TextDocumentContentChangePartial(range=t.Range(t.Position(doc.line_count() - 1, 0), t.Position(doc.line_count() - 1, 0)), text="</gap:target>"))
    after = json.loads(marker_symbols_json(None, doc, True))
    assert [s["name"] for s in after] == ["top"] and len(after[0]["children"]) == len(before)
    assert marker_symbols_json(None, doc, True) == fresh_json(doc, True)


OPENAPI = """{
  "openapi": "3.0.0",
  "info": {"title": "Shop 😀 API", "version": "1.0"},
  "paths": {
    "/users/{id}": {
      "get": {"summary": "Get a user é", "parameters": [{"name": "id", "in": "path", "required": true}],
        "responses": {"200": {"description": "OK"}, "404": {"description": "missing"}}}
    },
    "/orders": {"post": {"summary": "Create", "tags": ["orders", "write"], "x": null, "n": 12.5e3}}
  },
  "a~b/c": {"": [1, [2, 3], {}], "dir": "C:\\\\", "n": 1}
}
"""

JSON_INSERTS = [" ", "  ", "\n", "x", "é😀", "", "\\n", '"', ",", "1", "\n    ", "}", '"k": 1,', "\t", "\r\n", "a b", "%s"]


def json_edit(rnd: random.Random, doc: Document) -> t.TextDocumentContentChangePartial:
    """A random edit at a random offset, mostly one that keeps the JSON valid (whitespace
    between tokens, text in strings, keys and numbers changed…), sometimes one that breaks it."""
    text = doc.text
    for _ in range(200):
        s = rnd.randrange(len(text) + 1)
        if rnd.random() < 0.75:  # mostly what keeps every symbol: whitespace, text in strings
            e = s + (text[s : s + 1] in (" ", "\n") and rnd.random() < 0.3)
            ins = rnd.choice([" ", "\n", "  ", "\r\n", "x", "é😀", "a b", ""])
        else:
            e = min(len(text), s + rnd.choice([0, 0, 0, 1, 2, 3]))
            ins = rnd.choice(JSON_INSERTS)
        new = text[:s] + ins + text[e:]
        try:
            json.loads(new)
            ok = True
        except ValueError:
            ok = False
        if ok or rnd.random() < 0.03:
            break
    return t.TextDocumentContentChangePartial(range=t.Range(doc.position_at(s), doc.position_at(e)), text=ins)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("hierarchical", [True, False])
def test_pointer_symbols_follow_random_edits(seed, encoding, hierarchical):
    rnd = random.Random(seed + 100 * len(encoding))
    doc = Document("file:///spec/openapi.json", 1, "json", OPENAPI, encoding)
    pointer_symbols_json(doc, hierarchical)
    for k in range(150):
        for _ in range(rnd.choice([1, 1, 2, 4])):  # several edits between two requests
            doc.apply_change(json_edit(rnd, doc) if rnd.random() < 0.95 else random_change(rnd, doc, wild=1.0))
        got = pointer_symbols_json(doc, hierarchical)
        fresh = pointer_symbols_json(Document(doc.uri, 1, "json", doc.text, encoding), hierarchical)
        assert got == fresh, (k, doc.text)
        try:
            json.loads(doc.text)
        except ValueError:
            if rnd.random() < 0.7:  # back to a valid document, mostly
                doc.apply_change(t.TextDocumentContentChangeWholeDocument(text=OPENAPI))


def test_pointer_symbols_are_followed_across_whitespace_and_string_edits():
    """Typing in a string value or re-indenting keeps the same :class:`PointerSymbols`."""
    doc = Document("file:///spec/openapi.json", 1, "json", OPENAPI, "utf-16")
    pointer_symbols_json(doc, True)
    cache = doc._pointer_symbols
    at = doc.text.index("Get a user") + 3
    for text in ("very ", "😀", "\t" [:0] + "x"):
        doc.apply_change(t.TextDocumentContentChangePartial(range=t.Range(doc.position_at(at), doc.position_at(at)), text=text))
        assert pointer_symbols_json(doc, True) == pointer_symbols_json(Document(doc.uri, 1, "json", doc.text, "utf-16"), True)
    at = doc.text.index('"paths"')
    doc.apply_change(t.TextDocumentContentChangePartial(range=t.Range(doc.position_at(at), doc.position_at(at)), text="\n  "))
    assert pointer_symbols_json(doc, True) == pointer_symbols_json(Document(doc.uri, 1, "json", doc.text, "utf-16"), True)
    assert doc._pointer_symbols is cache
    def edit(at: int, text: str) -> None:
        doc.apply_change(t.TextDocumentContentChangePartial(range=t.Range(doc.position_at(at), doc.position_at(at)), text=text))
        assert pointer_symbols_json(doc, True) == pointer_symbols_json(Document(doc.uri, 1, "json", doc.text, "utf-16"), True)

    at = doc.text.index('"write"') + len('"write"')
    edit(at, " ")  # after a string: whitespace between tokens
    assert doc._pointer_symbols is cache
    edit(at, "x")  # right after the closing quote: not inside the string any more
    doc.apply_change(t.TextDocumentContentChangePartial(range=t.Range(doc.position_at(at), doc.position_at(at + 1)), text=""))
    pointer_symbols_json(doc, True)  # valid again: rebuilt
    cache = doc._pointer_symbols
    assert cache.incremental
    edit(doc.text.index('"orders"') + 3, '", "')  # a quote typed in a string splits it: 3 tags
    assert '"/paths/~1orders/post/tags/2"' in pointer_symbols_json(doc, True)
    assert doc._pointer_symbols is not cache
    cache = doc._pointer_symbols
    at = doc.text.index('"Create"') + 3
    edit(at, "\\n")  # an escape: the string is no longer plain
    assert doc._pointer_symbols is not cache  # a backslash typed: rebuilt
    edit(at + 1, "x")  # between the backslash and the n: now an invalid escape
    at = doc.text.index('C:') + 3
    edit(at, "x")  # between two backslashes: the closing quote is escaped now
    assert doc._pointer_symbols is not cache
    at = doc.text.index('"summary"') + 2  # in a key: the name changes, so a rebuild
    doc.apply_change(t.TextDocumentContentChangePartial(range=t.Range(doc.position_at(at), doc.position_at(at)), text="z"))
    syms = json.loads(pointer_symbols_json(doc, True))
    assert doc._pointer_symbols is not cache and "szummary" in json.dumps(syms)


def test_pointer_symbols_of_yaml_follow_edits():
    text = "services:\n  web:\n    image: nginx\n    ports:\n      - '80:80'\n  db:\n    image: postgres # é😀\n"
    rnd = random.Random(3)
    doc = Document("file:///c/compose.yaml", 1, "yaml", text, "utf-16")
    for k in range(120):
        doc.apply_change(random_change(rnd, doc))
        got = pointer_symbols_json(doc, True)
        assert got == pointer_symbols_json(Document(doc.uri, 1, "yaml", doc.text, "utf-16"), True), (k, doc.text)
