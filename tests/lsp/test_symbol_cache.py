"""The incremental symbol answer (positions and heads reused across edits) equals a fresh one
after any sequence of edits — single-line typing, line insertions, multi-line replacements,
astral characters (in-process, no server)."""

from __future__ import annotations

import random

import pytest
from lsprotocol import types as t

from gap_ls.documents import Document
from gap_ls.symbols import marker_symbols_json


def artifact(n: int) -> str:
    parts = ["<html><body>\n"]
    for i in range(n):
        parts.append(f'<gap:target id="s-{i}" type="section" label="S{i}">\n<div>\n')
        for j in range(3):
            parts.append(f'  <p>m{j} <gap:target id="v-{i}-{j}" type="value">{i * j}</gap:target> é</p>\n')
        parts.append("</div>\n</gap:target>\n")
    return "".join(parts) + "</body></html>\n"


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
def test_incremental_symbols_equal_fresh_ones(seed, encoding):
    rnd = random.Random(seed)
    doc = Document("file:///a.html", 1, "html", artifact(60), encoding)
    marker_symbols_json(None, doc, True)
    for k in range(150):
        lines = doc.text.split("\n")
        ln = rnd.randrange(len(lines))
        c = rnd.randrange(len(lines[ln]) + 1)
        text = rnd.choice(["x", "ab", "é😀", "", "\n", "a\nb\n", "\n\n", "z"])
        ln2 = min(ln + rnd.choice([0, 0, 0, 0, 1, 2]), len(lines) - 1)
        c2 = min(c, len(lines[ln2])) if ln2 != ln else min(c + rnd.choice([0, 0, 1]), len(lines[ln]))
        # positions in the document's encoding: the lines here are short, count code units
        def units(s):
            return len(s.encode("utf-16-le")) // 2 if encoding == "utf-16" else len(s.encode("utf-8"))
        start = t.Position(ln, units(lines[ln][:c]))
        end = t.Position(ln2, units(lines[ln2][:c2]))
        doc.apply_change(t.TextDocumentContentChangePartial(range=t.Range(start, end), text=text))
        if k % 2 == 0:
            hierarchical = k % 4 == 0
            fresh = Document("file:///a.html", 1, "html", doc.text, encoding)
            assert marker_symbols_json(None, doc, hierarchical) == marker_symbols_json(None, fresh, hierarchical), k


@pytest.mark.parametrize("seed", [5, 6])
def test_line_table_follows_edits(seed):
    """The document's line table (shifted lazily, spliced on line-adding edits) equals a fresh one."""
    rnd = random.Random(seed)
    doc = Document("u", 1, "x", "".join(f"line {i} é😀 abc\n" for i in range(200)))
    doc._line_starts()
    for k in range(400):
        lines = doc.text.split("\n")
        ln = rnd.randrange(len(lines))
        c = rnd.randrange(len(lines[ln]) + 1)
        ln2 = min(ln + rnd.choice([0, 0, 1, 2]), len(lines) - 1)
        c2 = rnd.randrange(len(lines[ln2]) + 1) if ln2 != ln else min(c + rnd.choice([0, 1]), len(lines[ln]))

        def u(s):
            return len(s.encode("utf-16-le")) // 2

        rng = t.Range(t.Position(ln, u(lines[ln][:c])), t.Position(ln2, u(lines[ln2][:c2])))
        doc.apply_change(t.TextDocumentContentChangePartial(range=rng, text=rnd.choice(["x", "", "yy", "\n", "a\nb", "\n\n\n"])))
        if k % 5 == 0:
            fresh = Document("u", 1, "x", doc.text)
            assert doc._line_starts() == fresh._line_starts(), k
            o = rnd.randrange(len(doc.text) + 1)
            assert doc.position_at(o) == fresh.position_at(o)
