"""Lenient ingestion of model output, and the recorded-run replay (GAP §5.1 pre-apply repair)."""

from __future__ import annotations

import json

import pytest

from gap_engine import Artifact, GapError, apply, apply_with_splices, ingest, parse_envelope, scan
from gap_engine.replay import format_for_path, load_experiments, replay_experiment

ART = Artifact("page", 4, "text/html", '<gap:target id="n">1</gap:target>')
OP = {"op": "replace", "target": {"type": "id", "value": "n"}, "content": "2"}


@pytest.mark.parametrize(
    "text, repair",
    [
        ('```json\n{"protocol": "gap", "id": "x", "version": 1, "name": "edit", "meta": {}, "content": [%s]}\n```' % json.dumps(OP), "fence"),
        ('Sure! Here it is: {"content": [%s,], "name": "edit"} hope this helps' % json.dumps(OP), "trailing commas"),
        (json.dumps([OP]), "bare list"),
        (json.dumps(OP), "single operation"),
        (json.dumps({"content": [{"op": "update", "id": "n", "value": "2"}]}), "'update' as 'replace'"),
    ],
)
def test_ingest_repairs_model_output(text, repair):
    ing = ingest(text, artifact=ART)
    assert any(repair in r for r in ing.repairs), ing.repairs
    env = ing.envelope
    assert env.protocol == "gap/0.1" and env.id == "page" and env.version == 5
    new, _ = apply(ART, env)
    assert new.body == '<gap:target id="n">2</gap:target>'


def test_ingest_pointer_content_given_as_json_value():
    a = Artifact("c", 1, "application/json", '{"a": {"b": 1}}')
    ing = ingest(json.dumps({"content": [{"op": "replace", "target": {"type": "pointer", "value": "/a/b"}, "content": {"x": [1]}}]}), artifact=a)
    assert any("serialized a JSON value" in r for r in ing.repairs)
    assert apply(a, ing.envelope)[0].body == '{"a": {"b": {"x": [1]}}}'


def test_ingest_valid_envelope_needs_no_repair_and_failures_are_errors():
    env = {"protocol": "gap/0.1", "id": "page", "version": 5, "name": "edit", "meta": {"format": "text/html"}, "content": [OP]}
    assert ingest(json.dumps(env), artifact=ART).repairs == ()
    assert parse_envelope(json.dumps(env), lenient=True) == parse_envelope(json.dumps(env))
    for bad in ("", "no json here", json.dumps({"content": [{"op": "explode", "target": "n"}]})):
        with pytest.raises(GapError) as ei:
            ingest(bad, artifact=ART)
        assert ei.value.code == "invalid_envelope"


def test_format_for_path():
    assert format_for_path("a/b.YAML") == "application/yaml" and format_for_path("x.unknown") == "text/plain"


@pytest.mark.evals
def test_recorded_runs_replay_with_full_agreement(evals_dir):
    exps = load_experiments(evals_dir)
    assert exps, f"no experiments under {evals_dir}"
    results = [r for exp in exps for r, _ in replay_experiment(exp)]
    assert results
    bad = [(r.experiment, r.turn, r.status, r.error) for r in results if not r.agrees]
    assert not bad, bad
    # the recorded runs that named a missing target left the artifact unchanged: we refuse them
    assert all(r.error.code == "target_not_found" for r in results if r.status == "rejected")


# -- opt-in repair: the content re-emits the target's own marker -----------------------------

OWN = "content[0]: removed the target's own marker that the content repeated"
NEST = Artifact("page", 1, "text/html", '<p><gap:target id="n" label="N">1</gap:target></p>')


def _replace(content, target="n", op="replace", ttype="id"):
    return json.dumps([{"op": op, "target": {"type": ttype, "value": target}, "content": content}])


@pytest.mark.parametrize(
    "content, repaired",
    [
        ('<gap:target id="n">2</gap:target>', "2"),
        ('\n  <gap:target id="n" label="other">2 <gap:target id="k">3</gap:target></gap:target>\n', "\n  2 <gap:target id=\"k\">3</gap:target>\n"),
        ("<gap:target type=\"v\" id='n'></gap:target>", ""),
    ],
)
def test_repair_markers_unwraps_the_targets_own_marker(content, repaired):
    ing = ingest(_replace(content), artifact=NEST, repair_markers=True)
    assert OWN in ing.repairs
    assert ing.envelope.content[0].content == repaired
    r = apply_with_splices(NEST, ing.envelope, strict_markers=True)  # no duplicated id left
    assert r.artifact.body == f'<p><gap:target id="n" label="N">{repaired}</gap:target></p>'
    assert not r.artifact.index().problems and not r.warnings


def test_repair_markers_is_opt_in():
    content = '<gap:target id="n">2</gap:target>'
    ing = ingest(_replace(content), artifact=NEST)
    assert ing.envelope.content[0].content == content and not any("own marker" in r for r in ing.repairs)
    assert parse_envelope(_replace(content), lenient=True).content[0].content == content
    r = apply_with_splices(NEST, ing.envelope)  # applied as written, as the reference engine does
    assert [p.kind for p in r.artifact.index().problems] == ["duplicate_id"] and r.warnings
    with pytest.raises(GapError) as ei:
        apply_with_splices(NEST, ing.envelope, strict_markers=True)
    assert ei.value.code == "invalid_content"


@pytest.mark.parametrize(
    "content, target, op, ttype",
    [
        ('<gap:target id="m">2</gap:target>', "n", "replace", "id"),  # another id
        ('x <gap:target id="n">2</gap:target>', "n", "replace", "id"),  # text outside the region
        ('<gap:target id="n">2</gap:target> x', "n", "replace", "id"),
        ('<gap:target id="n">a</gap:target><gap:target id="m">b</gap:target>', "n", "replace", "id"),  # two regions
        ('<gap:target id="n">a</gap:target>\n<gap:target id="n">b</gap:target>', "n", "replace", "id"),
        ('<gap:target id="n"><gap:target id="n">x</gap:target></gap:target>', "n", "replace", "id"),  # repeated twice
        ('<gap:target id="n">a<gap:target id="k">b</gap:target>', "n", "replace", "id"),  # unbalanced
        ('<gap:target id="n">a</gap:target></gap:target>', "n", "replace", "id"),
        ('<gap:target id="n">2</gap:target>', "n", "insert_after", "id"),  # only replace is repaired
        ('"<gap:target id=\\"n\\">2</gap:target>"', "/n", "replace", "pointer"),
        ("plain", "n", "replace", "id"),
    ],
)
def test_repair_markers_only_when_unambiguous(content, target, op, ttype):
    ing = ingest(_replace(content, target, op, ttype), artifact=NEST, repair_markers=True)
    assert not any("own marker" in r for r in ing.repairs)
    assert ing.envelope.content[0].content == content


def test_repair_markers_names_each_repaired_operation():
    a = Artifact("page", 1, "text/html", '<gap:target id="a">1</gap:target><gap:target id="b">2</gap:target>')
    ops = [
        {"op": "replace", "target": {"type": "id", "value": "a"}, "content": "one"},
        {"op": "replace", "target": {"type": "id", "value": "b"}, "content": ' <gap:target id="b">two</gap:target>'},
    ]
    ing = ingest(json.dumps(ops), artifact=a, repair_markers=True)
    assert "content[1]: removed the target's own marker that the content repeated" in ing.repairs
    assert not any(r.startswith("content[0]") for r in ing.repairs)
    new, _ = apply(a, ing.envelope)
    assert new.body == '<gap:target id="a">one</gap:target><gap:target id="b"> two</gap:target>'


def _without_nested_duplicate(body: str, target_id: str) -> str:
    """``body`` with the second marker of ``target_id`` (opening and matching closing) removed."""
    from gap_engine import iter_markers, scan

    dup = [p for p in scan(body).problems if p.kind == "duplicate_id" and p.id == target_id]
    assert len(dup) == 1, dup
    start, end = dup[0].start, dup[0].end
    depth = 0
    for ms, me, closing in iter_markers(body):
        if ms < end:
            continue
        if not closing:
            depth += 1
        elif depth:
            depth -= 1
        else:
            return body[:start] + body[end:ms] + body[me:]
    raise AssertionError("the duplicate marker is never closed")


@pytest.mark.evals
@pytest.mark.parametrize("experiment, turn, target", [("039-css-design-system", 3, "buttons-component-block"), ("057-sql-schema-ecommerce", 3, "views-section")])
def test_recorded_own_marker_turns_apply_cleanly_with_repair(evals_dir, experiment, turn, target):
    exp = next((e for e in load_experiments(evals_dir) if e.name == experiment), None)
    if exp is None:
        pytest.skip(f"{experiment} is not among the recorded runs in {evals_dir}")
    turns = {t.number: t for t in exp.turns}
    prev = turns[turn - 1].expected if turn > 1 else exp.turn0
    rec = turns[turn]
    art = Artifact(exp.name, turn, exp.format, prev)
    # as recorded (no repair): the reference engine nested a duplicate id
    plain = ingest(rec.envelope_text, artifact=art)
    assert apply(art, plain.envelope)[0].body == rec.expected
    assert any(p.kind == "duplicate_id" and p.id == target for p in scan(rec.expected).problems)
    with pytest.raises(GapError):
        apply_with_splices(art, plain.envelope, strict_markers=True)
    # with the repair: strict markers accept it, and the result is the recording minus the wrapper
    ing = ingest(rec.envelope_text, artifact=art, repair_markers=True)
    assert "content[0]: removed the target's own marker that the content repeated" in ing.repairs
    r = apply_with_splices(art, ing.envelope, strict_markers=True)
    assert not r.warnings
    assert not scan(r.artifact.body).problems  # well-formed: no duplicated id, nothing unbalanced
    assert r.artifact.body == _without_nested_duplicate(rec.expected, target)
    assert r.handle.content[0].targets == scan(r.artifact.body).infos


# -- messier model output ---------------------------------------------------------------------

TWO = Artifact("page", 4, "text/html", '<gap:target id="n">1</gap:target> <gap:target id="m">9</gap:target>')
OP_M = {"op": "delete", "target": {"type": "id", "value": "m"}}
BOTH = '<gap:target id="n">2</gap:target> <gap:target id="m"></gap:target>'


@pytest.mark.parametrize(
    "text",
    [
        # one fenced block per operation
        "First:\n```json\n%s\n```\nThen:\n```json\n%s\n```\n" % (json.dumps(OP), json.dumps(OP_M)),
        # two operations in prose, one with a trailing comma
        "Do %s and then %s." % (json.dumps(OP), json.dumps(OP_M)[:-1] + ",}"),
        # a list in one fence and an operation in another
        "```json\n%s\n```\n```json\n%s\n```" % (json.dumps([OP]), json.dumps(OP_M)),
    ],
)
def test_ingest_joins_operations_written_as_several_json_values(text):
    # taking only the first would silently drop half of the edit
    ing = ingest(text, artifact=TWO)
    assert any("joined the operations of 2" in r for r in ing.repairs), ing.repairs
    assert apply(TWO, ing.envelope)[0].body == BOTH


def test_ingest_takes_the_first_of_several_envelopes_and_says_so():
    env = lambda c: json.dumps({"protocol": "gap/0.1", "name": "edit", "content": [{**OP, "content": c}]})
    ing = ingest("```json\n%s\n```\nor maybe\n```json\n%s\n```" % (env("2"), env("3")), artifact=TWO)
    assert any("ignored the others" in r for r in ing.repairs)
    assert [o.content for o in ing.envelope.content] == ["2"]


@pytest.mark.parametrize("wrap", ["%s", "Here: %s", "```json\n%s\n```"])
def test_ingest_reads_raw_line_breaks_inside_strings(wrap):
    # models often write a multi-line replacement with real line breaks inside the JSON string
    raw = '{"op": "replace", "target": {"type": "id", "value": "n"}, "content": "line 1\n\tline 2"}'
    ing = ingest(wrap % raw, artifact=TWO)
    assert any("raw line breaks" in r for r in ing.repairs), ing.repairs
    assert ing.envelope.content[0].content == "line 1\n\tline 2"


def test_ingest_does_not_mistake_an_inner_object_for_the_envelope():
    # an operation that does not decode must not leave its target object as "the envelope"
    with pytest.raises(GapError) as ei:
        ingest('Use {"op": "replace", "target": {"type": "id", "value": "n"}, "content": x} please', artifact=TWO)
    assert ei.value.code == "invalid_envelope" and "no JSON envelope" in ei.value.message


def test_ingest_reads_a_target_type_in_capitals():
    ing = ingest(json.dumps({"content": [{**OP, "target": {"type": "ID", "value": "n"}}]}), artifact=TWO)
    assert any("read 'ID' as 'id'" in r for r in ing.repairs)
    assert apply(TWO, ing.envelope)[0].body.startswith('<gap:target id="n">2<')


def test_ingest_trailing_comma_and_raw_line_break_together_in_prose():
    raw = 'Here: {"op": "replace", "target": {"type": "id", "value": "n"}, "content": "a\nb",} done'
    ing = ingest(raw, artifact=TWO)
    assert ing.envelope.content[0].content == "a\nb"
    assert any("trailing commas" in r for r in ing.repairs) and any("raw line breaks" in r for r in ing.repairs)


@pytest.mark.parametrize("text", ["[" * 100_000, '{"content": [' + "[" * 100_000 + "]" * 100_000 + "]}", "x " + "{" * 50_000])
def test_deeply_nested_json_is_refused_cleanly_and_quickly(text):
    # the decoders hit Python's recursion limit: that must be an invalid_envelope error, not
    # a RecursionError traceback, and scanning the prose must not go quadratic
    import time

    for parse in (parse_envelope, lambda t: parse_envelope(t, lenient=True)):
        t0 = time.perf_counter()
        with pytest.raises(GapError) as ei:
            parse(text)
        assert ei.value.code == "invalid_envelope"
        assert time.perf_counter() - t0 < 5


def test_deeply_nested_pointer_content_is_invalid_content():
    a = Artifact("c", 1, "application/json", '{"a": 1}')
    env = {"protocol": "gap/0.1", "id": "c", "version": 2, "name": "edit", "meta": {"format": "application/json"},
           "content": [{"op": "replace", "target": {"type": "pointer", "value": "/a"}, "content": "[" * 100_000 + "]" * 100_000}]}
    with pytest.raises(GapError) as ei:
        apply(a, parse_envelope(json.dumps(env)))
    assert ei.value.code == "invalid_content" and "nested too deeply" in ei.value.message


def test_ingest_names_a_missing_id_or_version_as_set_not_as_none():
    ing = ingest(json.dumps({"name": "edit", "content": [OP]}), artifact=ART)
    assert "id set to 'page'" in ing.repairs and "version set to 5" in ing.repairs
    assert not any("None" in r for r in ing.repairs), ing.repairs
    ing = ingest(json.dumps({"id": "other", "version": 9, "name": "edit", "content": [OP]}), artifact=ART)
    assert "id 'other' → 'page'" in ing.repairs and "version 9 → 5" in ing.repairs
    ing = ingest(json.dumps({"name": "synthesize", "content": [{"body": "<p>x</p>"}]}))
    assert "version set to 1" in ing.repairs and ing.envelope.version == 1


@pytest.mark.parametrize("version, want", [("²", 1), ("1²", 1), ("３", 3), (" 7 ", 7), ("0", 1)])
def test_ingest_a_version_string_of_odd_digits_is_repaired_not_a_traceback(version, want):
    # str.isdigit() is true for '²', which int() does not read
    ing = ingest(json.dumps({"protocol": "gap/0.1", "id": "page", "version": version, "name": "edit", "content": [OP]}))
    assert ing.envelope.version == want and f"version {version!r} → {want}" in ing.repairs


@pytest.mark.parametrize("flaw", ["", ",", "raw"])
def test_ingest_finds_an_envelope_longer_than_the_decode_window_in_prose(flaw):
    # prose is decoded from each bracket on a bounded window first (a failing decode costs its
    # position in the text: unbounded, scanning long prose would be quadratic); a value that
    # is longer than the window, or whose flaw lies beyond it, must still be read whole
    body = "x" * 70_000 + ("\nraw" if flaw == "raw" else "")
    text = json.dumps({"protocol": "gap/0.1", "id": "page", "version": 5, "name": "synthesize", "meta": {"format": "text/html"},
                       "content": [{"body": body}]})
    if flaw == "raw":
        text = text.replace("\\nraw", "\nraw")
    if flaw == ",":
        text = text[:-2] + ",]}"
    ing = ingest("Here is the {new} version [as asked]:\n" + text + "\nDone {ok}.")
    assert ing.envelope.content[0].body == body
    assert ("removed trailing commas" in ing.repairs) == (flaw == ",")
    assert ("kept raw line breaks or tabs inside strings" in ing.repairs) == (flaw == "raw")


@pytest.mark.parametrize("text", ["```" * 30_000, "say ```json " + "```" * 30_000 + "\n" + '{"op": "delete", "target": "a"}'])
def test_backticks_without_a_line_break_after_them_open_no_fence(text):
    # a fence opens with a line; each "```" after the last line break used to be matched
    # against the whole rest of the text (quadratic: tens of seconds for these)
    if "\n" in text:
        assert ingest(text).envelope.content[0].target.value == "a"
    else:
        with pytest.raises(GapError):
            ingest(text)


def test_many_repairable_values_in_prose_are_read_in_linear_time():
    # each "[1,]" decodes after removing its trailing comma but is no envelope; the repair
    # used to strip the commas of the whole rest of the text for each (quadratic: minutes)
    text = "x " + "[1,]" * 10_000 + ' {"op": "delete", "target": "a",}'
    ing = ingest(text)
    assert ing.envelope.content[0].target.value == "a" and "removed trailing commas" in ing.repairs
