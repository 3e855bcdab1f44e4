"""Plain-text edit blocks ↔ GAP envelopes (gap_engine.editblocks)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gap_engine import Artifact, GapError, apply_with_splices
from gap_engine.editblocks import BlockStream, format_blocks, looks_like_blocks, parse_blocks, parse_operations
from gap_engine.model import PROTOCOL, EditOperation, Envelope, SynthesizeContent, Target

BODY = (
    '<div><gap:target id="revenue-value">$12,340</gap:target>\n'
    '<ul><gap:target id="list">\n<li>a</li>\n</gap:target></ul></div>\n'
)


def test_replace_block_carries_raw_content():
    text = '<<< replace revenue-value\n$15,720 "quoted" \\ back\n>>>\n'
    env = parse_blocks(text, id="a", version=2, format="text/html")
    assert env.name == "edit"
    assert env.content == (EditOperation("replace", Target("id", "revenue-value"), '$15,720 "quoted" \\ back'),)
    art = Artifact("a", 1, "text/html", BODY)
    res = apply_with_splices(art, env)
    assert '<gap:target id="revenue-value">$15,720 "quoted" \\ back</gap:target>' in res.artifact.body


def test_all_ops_pointer_targets_prose_and_fences_are_ignored():
    text = """Here is the edit you asked for:

```text
<<< gap dash 7 application/json
<<< insert_after /data/0
{"id": 2}
>>>
<<< delete /data/5
<<< replace pointer:
{}
>>>
<<< insert_before "my id"
x
>>>
```
Hope this helps!
"""
    env = parse_blocks(text)
    assert (env.id, env.version, env.format) == ("dash", 7, "application/json")
    assert [(o.op, o.target.type, o.target.value, o.content) for o in env.content] == [
        ("insert_after", "pointer", "/data/0", '{"id": 2}'),
        ("delete", "pointer", "/data/5", None),
        ("replace", "pointer", "", "{}"),
        ("insert_before", "id", "my id", "x"),
    ]


def test_trailing_newline_and_empty_content():
    ops = parse_operations("<<< replace a\nline\n\n>>>\n<<< replace b\n>>>\n")
    assert ops[0].content == "line\n"
    assert ops[1].content == ""


def test_longer_fence_when_content_has_the_short_fence():
    op = EditOperation("replace", Target("id", "doc"), "x\n>>>\ny")
    text = format_blocks([op])
    assert text.startswith("<<<< replace doc\n")
    assert parse_operations(text) == [op]


def test_delete_followed_by_fence_is_accepted():
    ops = parse_operations("<<< delete a\n>>>\n<<< replace b\nz\n>>>")
    assert [o.op for o in ops] == ["delete", "replace"]


def test_synthesize_block():
    env = parse_blocks("<<< synthesize\n<html>\n</html>\n>>>", format="text/html")
    assert env.name == "synthesize"
    assert env.content == (SynthesizeContent("<html>\n</html>"),)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("<<< replace a\nno end", "not closed"),
        ("<<< replace\nx\n>>>", "no target"),
        ("just prose", "no edit blocks"),
        ("<<< synthesize\na\n>>>\n<<< delete b", "cannot be combined"),
    ],
)
def test_errors_are_clear(text, fragment):
    with pytest.raises(GapError) as ei:
        parse_blocks(text)
    assert ei.value.code == "invalid_envelope"
    assert fragment in ei.value.message


def test_looks_like_blocks():
    assert looks_like_blocks("ok\n<<< replace x\ny\n>>>")
    assert not looks_like_blocks('{"protocol": "gap/0.1"}')
    assert not looks_like_blocks("cat <<<EOF")


def test_stream_yields_each_operation_when_its_fence_arrives():
    text = "<<< replace a\n1\n>>>\n<<< delete b\n<<< insert_after c\n2\n>>>\n"
    s = BlockStream()
    seen = []
    for i, ch in enumerate(text):
        for item in s.feed(ch):
            seen.append((i, item.op))
    s.close()
    assert [op for _, op in seen] == ["replace", "delete", "insert_after"]
    assert seen[0][0] == text.index(">>>") + 3  # complete as soon as the fence line ends


_ids = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters='"\n\r'), min_size=1, max_size=12)
_content = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=60)


@st.composite
def _ops(draw):
    kind = draw(st.sampled_from(["replace", "insert_before", "insert_after", "delete"]))
    if draw(st.booleans()):
        target = Target("pointer", "/" + draw(st.text(alphabet="abc/0123~", max_size=10)))
    else:
        target = Target("id", draw(_ids).strip() or "x")
    return EditOperation(kind, target, None if kind == "delete" else draw(_content))


@settings(max_examples=300, deadline=None)
@given(st.lists(_ops(), min_size=1, max_size=5))
def test_round_trip_envelope_text_envelope(ops):
    env = Envelope(PROTOCOL, "art-1", 3, "edit", {"format": "text/x-python"}, tuple(ops))
    assert parse_blocks(format_blocks(env)) == env


@pytest.mark.parametrize("value", ['id="x"', "target=/a", "pointer=y", 'id=', "target="])
def test_round_trip_of_an_id_written_like_a_keyed_target(value):
    # the parser reads `id="x"` / `target=/a` leniently as keyed targets; such an id itself
    # must be written so that it comes back as that id
    env = Envelope(PROTOCOL, "art-1", 3, "edit", {"format": "text/html"}, (EditOperation("replace", Target("id", value), "c"),))
    assert parse_blocks(format_blocks(env)) == env


def test_round_trip_of_a_format_with_parameters():
    env = Envelope(PROTOCOL, "art-1", 3, "edit", {"format": "text/markdown; charset=utf-8"},
                   (EditOperation("delete", Target("id", "x"), None),))
    assert format_blocks(env).startswith("<<< gap art-1 3 text/markdown; charset=utf-8\n")
    assert parse_blocks(format_blocks(env)) == env


def test_a_large_synthesize_block_is_read_whole():
    body = "\n".join(f"<p>line {i}</p>" for i in range(50_000))
    env = parse_blocks("<<< synthesize\n" + body + "\n>>>\n")
    assert env.content == (SynthesizeContent(body),)


@pytest.mark.parametrize("version", ["0", "-3", "1_0", "+2", "x"])
def test_a_header_version_that_is_not_a_positive_integer_is_refused(version):
    # GAP §3.1: versions are integers from 1; parse_blocks builds the envelope directly, so a
    # header's 0 became 1 silently and -3 an envelope no schema accepts
    with pytest.raises(GapError) as ei:
        parse_blocks(f"<<< gap doc {version} text/html\n<<< delete a\n")
    assert ei.value.code == "invalid_envelope" and "version" in ei.value.message
