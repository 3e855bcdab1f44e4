"""Hypothesis strategies shared by the engine tests: bodies with target markers."""

from __future__ import annotations

from hypothesis import strategies as st

IDS = ["a", "b", "c", "d", "e"]


@st.composite
def marked_bodies(draw, max_depth=3):
    """Bodies with well-formed targets, and sometimes malformed markers."""
    used = set()
    out = []

    def node(depth):
        kind = draw(st.integers(0, 9))
        if kind <= 2 or depth >= max_depth:
            out.append(draw(st.sampled_from(["x", "yy", " ", "\n", "é", "<p>", ""])))
            return
        if kind == 9:
            out.append(draw(st.sampled_from([
                '<gap:target id="a">', "</gap:target>", '<gap:target class="z">', '<gap:target id="q"/>',
                '<gap:target id="a">dup</gap:target>', "</gap:target", "<gap:target", '<gap:target-x id="b">',
                "</gap:target-x>",
            ])))
            return
        ident = draw(st.sampled_from(IDS + [f"n{len(used)}"]))
        used.add(ident)
        attrs = draw(st.sampled_from(['id="{}"', 'id="{}" label="L"', 'type="v" id="{}"', "id='{}'", 'id="{}" accepts="li*"']))
        out.append(f"<gap:target {attrs.format(ident)}>")
        for _ in range(draw(st.integers(0, 3))):
            node(depth + 1)
        out.append("</gap:target>")

    for _ in range(draw(st.integers(1, 5))):
        node(0)
    return "".join(out)


inserts = st.one_of(
    st.sampled_from(["", "z", "\n", '<gap:target id="new">v</gap:target>', '<gap:target id="a">w</gap:target>',
                     "</gap:target>", '<gap:target id="u">', "gap:target", '<gap:tar', 'get id="k">',
                     ">", ">y", "-x>", ' id="k">', "</gap:target", "<gap:target"]),
    marked_bodies(max_depth=2),
)
