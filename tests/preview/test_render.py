"""Views (rendering with markers kept) and target diffs, without a server."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gap_engine import scan, strip
from gap_preview.diff import changed_targets
from gap_preview.render import html_view, markdown_view, render_view


def test_html_markers_canonicalised_or_removed():
    src = (
        '<head><style><gap:target id="css">b{}</gap:target></style></head>'
        '<gap:target id="a" label="L" accepts="text/html"><h1>Hi<gap:target id="b">x</gap:target></h1></gap:target>'
        '<gap:target id="bad id">z</gap:target><!-- <gap:target id="c">c</gap:target> -->'
        '</gap:target><gap:target id="open">'
    )
    v = html_view(src)
    assert v == '<head><style>b{}</style></head><gap:target id="a" label="L" accepts="text/html"><h1>Hi<gap:target id="b">x</gap:target></h1></gap:target>z<!-- c -->'
    assert strip(v) == strip(src).replace("</gap:target>", "")
    assert [s.id for s in scan(v).spans()] == ["a", "b"]


def test_html_without_markers_untouched():
    s = "<p>plain & simple</p>"
    assert html_view(s) is s


def test_markdown_block_targets_kept_inline_ones_dropped():
    md = '# T\n\n<gap:target id="sec">\nPara with <gap:target id="inl">inline</gap:target> target.\n\n- a\n- b\n</gap:target>\n\nEnd\n'
    v = markdown_view(md)
    idx = scan(v)
    assert idx.ids() == ["sec"]
    sp = idx.get("sec")
    inner = v[sp.content_start : sp.content_end]
    assert "<p>Para with inline target.</p>" in inner and "<ul>" in inner and "End" not in inner


def test_markdown_is_sanitised():
    v = render_view('<img src=x onerror=alert(1)>\n\n[a](javascript:alert(1)) ![i](data:image/png;base64,AA)', "text/markdown").body
    assert "<img src=x" not in v and 'href="javascript:' not in v and "&lt;img" in v


@pytest.mark.parametrize(
    "fmt,needle",
    [
        ("application/json", '<span class="nt">&quot;a&quot;</span>'),
        ("application/yaml", '<span class="nt">a</span>'),
        ("application/toml", '<span class="n">a</span>'),
        ("text/x-python", '<span class="k">def</span>'),
        ("text/plain; charset=utf-8", "a = &lt;b&gt;"),
        ("application/octet-stream", "a = &lt;b&gt;"),
    ],
)
def test_code_views(fmt, needle):
    src = {"application/json": '{"a": 1}', "application/yaml": "a: 1\n", "application/toml": "a = 1\n",
           "text/x-python": "def f(): pass\n"}.get(fmt.split(";")[0], "a = <b>")
    v = render_view(src, fmt).body
    assert needle.replace("&quot;", '"') in v or needle in v
    assert "<b>" not in v.split("</style>", 1)[1]


def test_code_view_keeps_targets_between_spans():
    src = 'x = 1\n# <gap:target id="body">\ndef f():\n    return "<gap>"\n# </gap:target>\n'
    v = render_view(src, "text/x-python").body
    idx = scan(v)
    assert idx.ids() == ["body"]
    sp = idx.get("body")
    assert "def" in v[sp.content_start : sp.content_end]


# -- diff -------------------------------------------------------------------------------------

BASE = '<h1>t</h1><gap:target id="a"><p>A <gap:target id="a1">1</gap:target> <gap:target id="a2">2</gap:target></p></gap:target><gap:target id="b">B</gap:target>'


def test_diff_inner_target():
    new = BASE.replace(">1<", ">one<")
    assert changed_targets(BASE, new) == [("a1", "one")]


def test_diff_two_targets():
    new = BASE.replace(">1<", ">one<").replace(">B<", ">bee<")
    assert changed_targets(BASE, new) == [("a1", "one"), ("b", "bee")]


def test_diff_parent_when_its_own_text_changes():
    new = BASE.replace("<p>A ", "<p>AA ")
    assert changed_targets(BASE, new) == [("a", new[new.index("<p>AA") : new.index("</p>") + 4])]


def test_diff_outside_or_structure_gives_none():
    assert changed_targets(BASE, BASE.replace("<h1>t", "<h1>T")) is None
    assert changed_targets(BASE, BASE.replace('<gap:target id="b">B</gap:target>', "")) is None
    assert changed_targets(BASE, BASE + "<gap:target id=\"c\">c</gap:target>") is None
    assert changed_targets(BASE, BASE) == []


def _apply(body: str, ops):
    for tid, content in ops:
        sp = scan(body).get(tid)
        body = body[: sp.content_start] + content + body[sp.content_end :]
    return body


_leaf = st.text(alphabet="ab<>/ \n", max_size=6)


@st.composite
def docs(draw, depth=0, ids=None):
    ids = ids if ids is not None else iter(range(1000))
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        if depth < 3 and draw(st.booleans()):
            tid = f"t{next(ids)}"
            parts.append(f'<gap:target id="{tid}">{draw(docs(depth + 1, ids))}</gap:target>')
        else:
            parts.append(draw(_leaf))
    return "".join(parts)


@settings(max_examples=200, deadline=None)
@given(docs(), st.data())
def test_diff_reproduces_the_new_body(old, data):
    # mutate some leaf text inside or outside targets
    new = old
    for _ in range(data.draw(st.integers(1, 3))):
        if not new:
            break
        i = data.draw(st.integers(0, len(new)))
        # only insert where it cannot break a marker
        if "gap:target" in new[max(0, i - 20) : i + 20]:
            continue
        new = new[:i] + data.draw(_leaf) + new[i:]
    ops = changed_targets(old, new)
    if ops is None:
        return
    assert _apply(old, ops) == new
    ids = [t for t, _ in ops]
    idx = scan(new)
    for t in ids:  # no op nested in another
        p = idx.get(t).parent
        while p is not None:
            assert p not in ids
            p = idx.get(p).parent


# -- the typing fast path -------------------------------------------------------------------------

from gap_preview.diff import common_affixes, fast_update  # noqa: E402
from gap_preview.render import html_view as _hv  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abc", max_size=50), st.text(alphabet="abc", max_size=50))
def test_common_affixes(a, b):
    p, ea, eb = common_affixes(a, b)
    assert a[:p] == b[:p] and a[ea:] == b[eb:] and p <= ea and p <= eb
    assert a[:p] + b[p:eb] + a[ea:] == b
    if p < min(len(a), len(b)):
        assert a[p] != b[p]


def test_common_affixes_long():
    a = "x" * 100_000 + "A" + "y" * 50_000
    b = "x" * 100_000 + "BB" + "y" * 50_000
    assert common_affixes(a, b) == (100_000, 100_001, 100_002)


_edit_text = st.text(alphabet='ab <>/-!"=\n', max_size=8) | st.sampled_from(["<!--", "-->", "<style>", "</script>", "gap:target", "<gap:target id=\"z\">"])


@settings(max_examples=400, deadline=None)
@given(docs(), st.data())
def test_fast_update_agrees_with_full_render(old, data):
    if _hv(old) != old:
        return  # the fast path is only taken when the view is the body itself
    i = data.draw(st.integers(0, len(old)))
    j = data.draw(st.integers(i, min(len(old), i + 6)))
    new = old[:i] + data.draw(_edit_text) + old[j:]
    res = fast_update(old, new, scan(old))
    if res is None:
        return
    idx, ops = res
    assert _hv(new) == new  # identity still holds
    assert [(s.id, s.start, s.content_start, s.content_end, s.end) for s in idx.spans()] == [
        (s.id, s.start, s.content_start, s.content_end, s.end) for s in scan(new).spans()
    ]
    if ops is None:  # outside every target: the slow path must agree it is not an edit
        assert changed_targets(old, new) is None
    else:
        assert _apply(old, ops) == new
        slow = changed_targets(old, new)
        assert slow is not None and _apply(old, slow) == new


def test_large_code_is_shown_without_highlighting():
    """A 5 MB JSON file highlighted by pygments took 6 s per change and made an 82 MB view
    (millions of spans) that no browser tab takes well: above HIGHLIGHT_MAX_CHARS code is shown
    as escaped text, with a note, and its targets still work."""
    from gap_preview.render import HIGHLIGHT_MAX_CHARS

    row = '{"a": 1, "b": [1, 2, 3], "c": "<text>"},\n'
    body = row * (HIGHLIGHT_MAX_CHARS // len(row) + 10)
    text = '[\n<gap:target id="rows">\n' + body + '</gap:target>\n{}]\n'
    v = render_view(text, "application/json")
    assert v.kind == "text" and "<span" not in v.body
    assert len(v.body) < 1.2 * len(text)
    assert '<gap:target id="rows">' in v.body and "&lt;text&gt;" in v.body
    assert "without syntax highlighting" in v.body
    small = render_view('{"a": 1}', "application/json")
    assert small.kind == "code" and "<span" in small.body and "highlighting" not in small.body
