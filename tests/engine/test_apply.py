"""The apply engine: ID targeting semantics, all-or-nothing, handles, splices (GAP §4, §7)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gap_engine import Artifact, ArtifactStore, GapError, apply, apply_with_splices, parse_envelope, scan
from gap_engine.model import PROTOCOL, EditOperation, Envelope, Target

from ._strategies import IDS, inserts, marked_bodies


def edit(ops, version=2, id_="a", fmt="text/html"):
    return Envelope(PROTOCOL, id_, version, "edit", {"format": fmt}, tuple(EditOperation(o, Target(t, v), c) for o, t, v, c in ops))


def art(body, version=1, fmt="text/html", state=None):
    return Artifact("a", version, fmt, body, state)


LIST = '<gap:target id="list">item1, item2</gap:target>'


@pytest.mark.parametrize(
    "op, content, expected",
    [
        ("insert_after", ", item3", '<gap:target id="list">item1, item2, item3</gap:target>'),
        ("insert_before", "item0, ", '<gap:target id="list">item0, item1, item2</gap:target>'),
        ("replace", "x", '<gap:target id="list">x</gap:target>'),
        ("delete", None, '<gap:target id="list"></gap:target>'),
    ],
)
def test_spec_4_2_id_semantics(op, content, expected):
    new, handle = apply(art(LIST), edit([(op, "id", "list", content)]))
    assert new.body == expected  # markers are never moved or removed
    assert new.version == 2 and [t.id for t in handle.content[0].targets] == ["list"]


def test_nested_targets_removed_and_new_ones_appear():
    body = '<gap:target id="p"><gap:target id="c1">1</gap:target><gap:target id="c2">2</gap:target></gap:target><gap:target id="q">q</gap:target>'
    new, handle = apply(art(body), edit([("replace", "id", "p", '<gap:target id="n" label="New">n</gap:target>')]))
    ids = [t.id for t in handle.content[0].targets]
    assert ids == ["p", "n", "q"] and handle.content[0].targets[1].label == "New"
    new2, h2 = apply(new, edit([("replace", "id", "n", "plain")], version=3))
    assert [t.id for t in h2.content[0].targets] == ["p", "n", "q"]


def test_operations_apply_in_order_all_or_nothing():
    body = '<gap:target id="a">1</gap:target><gap:target id="b">2</gap:target>'
    a0 = art(body)
    new, _ = apply(a0, edit([("replace", "id", "a", '<gap:target id="z">z</gap:target>'), ("replace", "id", "z", "Z")]))
    assert new.body == '<gap:target id="a"><gap:target id="z">Z</gap:target></gap:target><gap:target id="b">2</gap:target>'
    with pytest.raises(GapError) as ei:
        apply(a0, edit([("replace", "id", "a", "x"), ("replace", "id", "nope", "y")]))
    assert ei.value.code == "target_not_found" and ei.value.op_index == 1 and "operation 1" in ei.value.message
    assert ei.value.to_dict() == {"code": "target_not_found", "message": ei.value.message, "artifact_id": "a"}
    assert a0.body == body


def test_version_and_envelope_checks():
    a0 = art(LIST)
    for env, code in [
        (edit([("replace", "id", "list", "x")], version=3), "version_conflict"),
        (edit([("replace", "id", "list", "x")], id_="other"), "version_conflict"),
        (Envelope(PROTOCOL, "a", 2, "handle", {"format": "text/html"}, ()), "invalid_envelope"),
    ]:
        with pytest.raises(GapError) as ei:
            apply(a0, env)
        assert ei.value.code == code
    with pytest.raises(GapError) as ei:
        apply(None, edit([("replace", "id", "list", "x")]))
    assert ei.value.code == "invalid_envelope"
    with pytest.raises(GapError) as ei:
        apply(art(LIST, state="archived"), edit([("replace", "id", "list", "x")]))
    assert ei.value.code == "invalid_envelope" and "archived" in ei.value.message


def test_malformed_markers_warn_or_refuse():
    env = edit([("replace", "id", "list", '<gap:target id="open">')])
    r = apply_with_splices(art(LIST), env)
    assert r.warnings and "unclosed" in r.warnings[0]
    with pytest.raises(GapError) as ei:
        apply_with_splices(art(LIST), env, strict_markers=True)
    assert ei.value.code == "invalid_content"


def test_synthesize_splices_and_counter():
    a0 = art("<p>hello world</p>")
    syn = Envelope(PROTOCOL, "a", 5, "synthesize", {"format": "text/html", "state": "draft"}, (parse_envelope(json.dumps({
        "protocol": PROTOCOL, "id": "a", "version": 1, "name": "synthesize", "meta": {"format": "text/html"},
        "content": [{"body": "<p>hello there world</p>"}]})).content[0],))
    r = apply_with_splices(a0, syn, count_tokens=len)
    assert r.artifact.version == 5 and r.artifact.state == "draft" and r.handle.content[0].token_count == len(r.artifact.body)
    body = a0.body
    for sp in reversed(r.splices):
        body = body[: sp.start] + sp.text + body[sp.end :]
    assert body == r.artifact.body and len(r.splices) == 1 and r.splices[0].text == "there "


# -- conformance: every example of the spec -----------------------------------------------------


def load_example(spec_dir, name):
    return json.loads((spec_dir / "examples" / name).read_text("utf-8"))


def test_spec_examples_parse_strictly(spec_dir):
    for p in sorted((spec_dir / "examples").glob("*.json")):
        data = json.loads(p.read_text("utf-8"))
        envs = [v for k, v in data.items() if isinstance(v, dict) and "protocol" in v] if "protocol" not in data else [data]
        if "step_2_maintain_context" in data:
            envs.append(data["step_2_maintain_context"]["maintain_context_output"])
        assert envs, p
        for d in envs:
            d = {k: v for k, v in d.items() if not k.startswith("_")}
            assert parse_envelope(json.dumps(d)).to_dict() == d


def test_spec_examples_apply_in_sequence(spec_dir):
    store = ArtifactStore()
    h1 = store.apply(load_example(spec_dir, "synthesize.json"))
    assert [t.id for t in h1.content[0].targets] == ["stats", "revenue-value", "user-count", "users-table", "orders-table"]
    h2 = store.apply(load_example(spec_dir, "edit-id-targeting.json"))
    body = store.get("dashboard-001").body
    assert h2.version == 2 and '<gap:target id="revenue-value"><span class="stat-value">$15,720</span></gap:target>' in body
    h3 = store.apply(load_example(spec_dir, "edit-section-replace.json"))
    assert h3.version == 3 and "<td>Dana</td>" in store.get("dashboard-001").body
    assert [t.id for t in h3.content[0].targets] == [t.id for t in h1.content[0].targets]


def test_spec_pointer_example(spec_dir):
    env = load_example(spec_dir, "edit-pointer-targeting.json")
    body = '{\n  "database": {"host": "localhost", "port": 5432},\n  "features": {"dark_mode": false},\n  "deprecated_field": 1\n}\n'
    new, handle = apply(Artifact("config-001", 1, "application/json", body), parse_envelope(json.dumps(env)))
    assert new.body == '{\n  "database": {"host": "prod-db.example.com", "port": 5432},\n  "features": {"dark_mode": true}\n}\n'
    assert handle.content[0].targets == ()


def test_spec_delegation_example(spec_dir):
    ex = load_example(spec_dir, "edit-delegation.json")
    before = {k: v for k, v in ex["step_1_handle"].items() if not k.startswith("_")}
    after = {k: v for k, v in ex["step_4_handle_returned"].items() if not k.startswith("_")}
    # an artifact whose markers carry what the step-1 handle lists
    parts = []
    for t in before["content"][0]["targets"]:
        attrs_ = "".join(f' {k}="{v}"' for k, v in t.items() if k != "id")
        parts.append(f'<gap:target id="{t["id"]}"{attrs_}>old</gap:target>')
    art3 = Artifact("dashboard-001", 3, "text/html", "\n".join(parts), "published")
    new, handle = apply(art3, parse_envelope(json.dumps(ex["step_2_maintain_context"]["maintain_context_output"])))
    got = handle.to_dict()
    assert got["version"] == after["version"] and got["meta"] == after["meta"]
    assert got["content"][0]["targets"] == after["content"][0]["targets"]
    assert ">$15,720<" in new.body and ">384<" in new.body


# -- properties ---------------------------------------------------------------------------------

ops = st.sampled_from(["replace", "insert_before", "insert_after", "delete"])


@st.composite
def envelopes(draw, body):
    ids = scan(body).ids()
    n = draw(st.integers(0, 4))
    items = []
    for _ in range(n):
        op = draw(ops)
        tid = draw(st.sampled_from(ids + IDS + ["zz"])) if ids else draw(st.sampled_from(IDS))
        kind = draw(st.sampled_from(["id", "id", "id", "pointer"]))
        content = None if op == "delete" and draw(st.booleans()) else draw(inserts)
        items.append((op, kind, tid if kind == "id" else "/" + tid, content))
    version = draw(st.sampled_from([2, 2, 2, 1, 3]))
    return edit(items, version=version)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=marked_bodies(), data=st.data())
def test_property_apply_is_total_atomic_and_consistent(body, data):
    a0 = art(body)
    idx_before = [(s.id, s.start, s.end) for s in a0.index().spans()]
    env = data.draw(envelopes(body))
    strict = data.draw(st.booleans())
    try:
        r = apply_with_splices(a0, env, strict_markers=strict)
    except GapError as err:
        assert err.code in ("version_conflict", "target_not_found", "invalid_envelope", "invalid_content")
        assert a0.body == body and [(s.id, s.start, s.end) for s in a0.index().spans()] == idx_before
        return
    new = r.artifact
    # the handle's targets always equal a fresh scan of the result
    assert r.handle.content[0].targets == scan(new.body).infos == new.targets
    assert [(s.id, s.start, s.end) for s in new.index().spans()] == [(s.id, s.start, s.end) for s in scan(new.body).spans()]
    # splices are sorted, non-overlapping, and reproduce the output from the input
    out = body
    last = -1
    for sp in r.splices:
        assert sp.start >= last and sp.start <= sp.end
        last = sp.end
    for sp in reversed(r.splices):
        out = out[: sp.start] + sp.text + out[sp.end :]
    assert out == new.body
    assert a0.body == body


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=marked_bodies(), data=st.data(), text=st.text(st.sampled_from("ab <>/\né"), max_size=8))
def test_property_replace_then_replace_back_is_identity(body, data, text):
    a0 = art(body)
    ids = a0.index().ids()
    if not ids:
        return
    tid = data.draw(st.sampled_from(ids))
    sp = a0.index().get(tid)
    original = body[sp.content_start : sp.content_end]
    a1, _ = apply(a0, edit([("replace", "id", tid, text)]))
    a2, h2 = apply(a1, edit([("replace", "id", tid, original)], version=3))
    assert a2.body == body
    assert h2.content[0].targets == a0.targets


@settings(max_examples=300, deadline=None)
@given(data=st.data(), body=st.text("abcdef", min_size=0, max_size=30))
def test_property_splice_log_composes_sequential_splices(data, body):
    """The splice log turns sequential edits into input-coordinate splices that reproduce them."""
    from gap_engine.apply import _SpliceLog

    log = _SpliceLog()
    cur = body
    for _ in range(data.draw(st.integers(1, 6))):
        a = data.draw(st.integers(0, len(cur)))
        b = data.draw(st.integers(a, len(cur)))
        text = data.draw(st.text("XY", max_size=4))
        cur = cur[:a] + text + cur[b:]
        log.add(a, b, len(text))
    out = body
    last = -1
    sps = log.raw(cur)
    for s, e, t in sps:
        assert s >= last and s <= e
        last = e
    for s, e, t in reversed(sps):
        out = out[:s] + t + out[e:]
    assert out == cur


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=marked_bodies(), data=st.data())
def test_property_fast_path_equals_sequential_path(body, data):
    """The one-pass path for independent edits (plain ones, and ones whose content adds or
    removes markers) gives exactly what applying the operations one by one gives: body,
    splices, index, warnings."""
    import sys

    A = sys.modules["gap_engine.apply"]  # the module (the package exports the function `apply`)

    a0 = art(body)
    ids = a0.index().ids()
    if not ids:
        return
    chosen = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=5))  # repeats: composed
    items = []
    for tid in chosen:
        op = data.draw(ops)
        text = None if op == "delete" else data.draw(st.sampled_from([
            "", "x", "<b>y</b>", "<gap:tar", "get>", "get id='k'>", "\n",
            # content that adds markers (well-formed, duplicated, re-declared or unbalanced)
            '<gap:target id="new">v</gap:target>', '<gap:target id="n2" label="L">w<gap:target id="n3">z</gap:target></gap:target>',
            '<gap:target id="a">w</gap:target>', '<gap:target id="b"></gap:target>x', "</gap:target>", '<gap:target id="u">',
        ]))
        items.append((op, "id", tid, text))
    env = edit(items)
    fast = A._id_batch(body, a0.index(), env.content)
    try:
        r_fast = apply_with_splices(a0, env)
    except GapError:
        return
    orig = A._id_batch
    A._id_batch = lambda *a: None
    try:
        r_seq = apply_with_splices(a0, env)
    finally:
        A._id_batch = orig
    assert r_fast.artifact.body == r_seq.artifact.body
    assert r_fast.handle == r_seq.handle
    assert r_fast.warnings == r_seq.warnings
    assert [(s.id, s.start, s.content_start, s.content_end, s.end) for s in r_fast.artifact.index().spans()] == \
        [(s.id, s.start, s.content_start, s.content_end, s.end) for s in scan(r_seq.artifact.body).spans()]
    assert r_fast.artifact.index().problems == scan(r_seq.artifact.body).problems
    if fast is not None:
        out = body
        for sp in reversed(r_fast.splices):
            out = out[: sp.start] + sp.text + out[sp.end :]
        assert out == r_fast.artifact.body


@pytest.mark.parametrize(
    "items",
    [
        # a replace that drops a parent's children, after an insert on that parent and an
        # operation on a childless target in between (the fast path once judged the parent by
        # the other target's record)
        [("insert_before", "p", "B"), ("delete", "leaf", None), ("replace", "p", "R"), ("insert_after", "leaf", "A")],
        [("insert_before", "p", "B"), ("replace", "leaf", "x"), ("delete", "p", None)],
        # an insert_before and an insert_after of one target commute; other pairs on one target do not
        [("insert_after", "leaf", "A"), ("insert_before", "leaf", "B"), ("replace", "other", "o")],
        [("insert_after", "empty", "A"), ("insert_before", "empty", "B")],
        [("replace", "leaf", "x"), ("insert_after", "leaf", "y")],
        [("insert_after", "leaf", "y"), ("replace", "leaf", "x")],
        [("insert_before", "leaf", "1"), ("insert_before", "leaf", "2"), ("delete", "other", None)],
    ],
)
def test_several_operations_equal_applying_them_one_by_one(items):
    body = ('<gap:target id="p">a<gap:target id="c1">1</gap:target>b<gap:target id="c2">2</gap:target></gap:target>'
            '<i><gap:target id="leaf">L</gap:target></i><gap:target id="empty"></gap:target>'
            '<gap:target id="other">O</gap:target>')
    a0 = art(body)
    new, handle = apply(a0, edit([(o, "id", t, c) for o, t, c in items]))
    cur = art(body)
    for o, t, c in items:  # one envelope per operation, each on a freshly scanned artifact
        cur, _ = apply(art(cur.body, cur.version), edit([(o, "id", t, c)], version=cur.version + 1))
    assert new.body == cur.body
    assert new.targets == scan(new.body).infos == handle.content[0].targets


_CHAIN_TEXTS = [
    "", "x", "<b>y</b>", ">", "<", "<gap:tar", "get>", "</gap:target", " id='z'>", "gap:target>",
    '<gap:target id="new">v</gap:target>', '<gap:target id="n2" label="L">w<gap:target id="n3">z</gap:target></gap:target>',
    '<gap:target id="a">w</gap:target>', "</gap:target>", '<gap:target id="u">',
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(body=marked_bodies(), data=st.data())
def test_property_one_pass_path_equals_sequential_path_along_a_chain(body, data):
    """As above, on artifacts whose index carries pending shifts from earlier edits (a chain of
    edits, as in an editor), with strict markers or not, and with repeated targets."""
    import sys

    A = sys.modules["gap_engine.apply"]

    def draw_env(a, version):
        ids = a.index().ids()
        if not ids:
            return None
        items = []
        for tid in data.draw(st.lists(st.sampled_from(ids[:3] + ["zz"]), min_size=1, max_size=4)):
            op = data.draw(ops)
            items.append((op, "id", tid, None if op == "delete" else data.draw(st.sampled_from(_CHAIN_TEXTS))))
        return edit(items, version=version)

    a0 = art(body)
    for v in range(2, 2 + data.draw(st.integers(0, 3))):
        env = draw_env(a0, v)
        if env is None:
            return
        try:
            a0 = apply_with_splices(a0, env).artifact
        except GapError:
            return
    env = draw_env(a0, a0.version + 1)
    if env is None:
        return
    strict = data.draw(st.booleans())

    def run():
        try:
            return apply_with_splices(a0, env, strict_markers=strict), None
        except GapError as err:
            return None, (err.code, err.message, err.op_index)

    r_fast, e_fast = run()
    orig = A._id_batch, A._one_id_op
    A._id_batch = A._one_id_op = lambda *a: None
    try:
        r_seq, e_seq = run()
    finally:
        A._id_batch, A._one_id_op = orig
    assert e_fast == e_seq
    if e_fast:
        return
    assert r_fast.artifact.body == r_seq.artifact.body and r_fast.handle == r_seq.handle
    assert r_fast.warnings == r_seq.warnings
    fresh = scan(r_fast.artifact.body)
    key = lambda sp: (sp.id, sp.start, sp.content_start, sp.content_end, sp.end, sp.parent, sp.depth)  # noqa: E731
    idx = r_fast.artifact.index()
    assert [key(sp) for sp in idx.spans()] == [key(sp) for sp in fresh.spans()] == [key(sp) for sp in idx.compacted().spans()]
    assert idx.problems == fresh.problems and idx.infos == fresh.infos
    out = a0.body
    for sp in reversed(r_fast.splices):
        out = out[: sp.start] + sp.text + out[sp.end :]
    assert out == r_fast.artifact.body


def test_edits_never_rescan_the_artifact(monkeypatch):
    """Edits that keep markers balanced are followed incrementally: no full scan happens."""
    import gap_engine.markers as M

    body = "".join(
        f'<gap:target id="s{i}" type="section">\n<div><gap:target id="v{i}">{i}</gap:target></div>\n</gap:target>\n'
        for i in range(2000)
    )
    a = Artifact("a", 1, "text/html", body)
    a.index().infos  # built when the document was opened
    real_scan = M.scan

    def no_scan(_body):
        raise AssertionError("a full rescan happened")

    monkeypatch.setattr(M, "scan", no_scan)
    envs = [
        edit([("replace", "id", "v10", "ten")], version=2),
        edit([("replace", "id", "v20", '<gap:target id="n20" label="New">x</gap:target>')], version=3),
        edit([("insert_after", "id", "s30", '<gap:target id="s5">dup of an earlier id</gap:target>')], version=4),
        edit([("replace", "id", "v1", "1"), ("delete", "id", "v1999", None), ("insert_before", "id", "v500", ">")], version=5),
        edit([("replace", "id", "s40", "section emptied")], version=6),
    ]
    for env in envs:
        a, handle = apply(a, env)
    monkeypatch.setattr(M, "scan", real_scan)
    fresh = scan(a.body)
    assert a.targets == fresh.infos == handle.content[0].targets
    assert a.index().problems == fresh.problems and [p.kind for p in fresh.problems] == ["duplicate_id"]
    assert "v40" not in a.index() and "n20" in a.index()
