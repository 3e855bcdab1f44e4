"""Envelopes: strict parsing, schema errors with JSON paths, round trips (GAP §3.1, §4, §7.2)."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gap_engine import Artifact, GapError, envelope_from_data, parse_envelope
from gap_engine.model import Envelope, _fast_valid, _structure_fast, converter, envelope_schema, validate_envelope_data

EDIT = {
    "protocol": "gap/0.1", "id": "a", "version": 2, "name": "edit",
    "meta": {"format": "text/html", "tokens_used": 3, "x-vendor": {"k": [1, 2]}, "state": "draft"},
    "content": [
        {"op": "replace", "target": {"type": "id", "value": "t"}, "content": "x"},
        {"op": "delete", "target": {"type": "pointer", "value": "/a/0"}},
    ],
}
HANDLE = {
    "protocol": "gap/0.1", "id": "a", "version": 5, "name": "handle", "meta": {"format": "text/html", "state": "published"},
    "content": [{"id": "a", "version": 5, "token_count": 10, "targets": [{"id": "s", "label": "S"}, {"id": "u", "accepts": "tr*", "type": "v"}]}],
}


def test_round_trip_keeps_unknown_meta():
    env = parse_envelope(json.dumps(EDIT))
    assert env.to_dict() == EDIT
    assert parse_envelope(env.to_json()) == env
    h = envelope_from_data(HANDLE)
    assert h.to_dict() == HANDLE and h.content[0].targets[1].accepts == "tr*"


@pytest.mark.parametrize(
    "mutate, where",
    [
        (lambda d: d.pop("meta"), "envelope"),
        (lambda d: d.update(protocol="gap"), "protocol"),
        (lambda d: d.update(version=0), "version"),
        (lambda d: d["meta"].update(format="HTML"), "meta.format"),
        (lambda d: d["meta"].update(checksum="md5:x"), "meta.checksum"),
        (lambda d: d["content"][1]["target"].update(type="xpath"), "content[1].target.type"),
        (lambda d: d["content"][0].pop("content"), "content[0]"),
        (lambda d: d["content"][0].update(op="upsert"), "content[0].op"),
        (lambda d: d["content"][0]["target"].update(extra=1), "content[0].target"),
    ],
)
def test_schema_errors_name_the_json_path(mutate, where):
    d = copy.deepcopy(EDIT)
    mutate(d)
    with pytest.raises(GapError) as ei:
        envelope_from_data(d)
    assert ei.value.code == "invalid_envelope"
    assert ei.value.message.startswith(where), ei.value.message
    if where.startswith("content["):
        assert ei.value.op_index == int(where[8])


def test_not_json_and_not_object():
    for text in ("{", "[]", "3"):
        with pytest.raises(GapError) as ei:
            parse_envelope(text)
        assert ei.value.code == "invalid_envelope"


def test_schema_is_available_and_format_default():
    assert envelope_schema()["properties"]["protocol"] == {"const": "gap/0.1"}
    env = envelope_from_data({**EDIT, "meta": {"format": "text/x-python"}})
    assert env.format == "text/x-python"
    art = Artifact("a", 1, "text/html", '<gap:target id="t">1</gap:target>')
    assert [t.id for t in art.targets] == ["t"] and art.index() is art.index()


# -- the hand-written fast check never accepts what the JSON Schema refuses ----------------------

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2, 3), st.floats(allow_nan=False, width=16), st.sampled_from(
    ["", "id", "pointer", "replace", "delete", "insert_before", "edit", "synthesize", "handle", "gap/0.1", "text/html",
     "draft", "archived", "sha256:" + "a" * 64, "x"]))


def _mutations(base):
    """Envelopes close to valid ones: one field replaced by an arbitrary JSON leaf or removed."""
    paths = []

    def walk(v, path):
        if isinstance(v, dict):
            for k, x in v.items():
                paths.append(path + [k])
                walk(x, path + [k])
        elif isinstance(v, list):
            for i, x in enumerate(v):
                paths.append(path + [i])
                walk(x, path + [i])

    walk(base, [])
    return paths


@settings(max_examples=400, deadline=None)
@given(base=st.sampled_from([EDIT, HANDLE, {"protocol": "gap/0.1", "id": "s", "version": 1, "name": "synthesize", "meta": {"format": "text/html"}, "content": [{"body": "b"}]}]),
       data=st.data())
def test_property_fast_check_agrees_with_jsonschema(base, data):
    d = copy.deepcopy(base)
    for _ in range(data.draw(st.integers(0, 2))):
        paths = _mutations(d)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = d
        for p in path[:-1]:
            parent = parent[p]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            parent.pop(path[-1])
        else:
            parent[path[-1]] = data.draw(json_leaf)
    try:
        validate_envelope_data(d, fast=False)
        schema_ok = True
    except GapError:
        schema_ok = False
    if _fast_valid(d):
        assert schema_ok, d
        assert _structure_fast(d) == converter.structure(d, Envelope)


def test_integral_float_version_becomes_an_int():
    # JSON Schema counts 2.0 as an integer; the artifact and its handle must say 2, not 2.0
    from gap_engine import Artifact, apply

    text = json.dumps({"protocol": "gap/0.1", "id": "a", "version": 2.0, "name": "edit", "meta": {"format": "text/html"}, "content": []})
    env = parse_envelope(text)
    assert type(env.version) is int and env.version == 2
    art, handle = apply(Artifact("a", 1, "text/html", "x"), env)
    assert type(art.version) is int and json.loads(handle.to_json())["version"] == 2
    assert '"version": 2.0' not in handle.to_json()


@pytest.mark.parametrize("version", [3.0, "3"])
def test_lenient_keeps_a_model_written_version_number(version):
    from gap_engine import ingest

    text = json.dumps({"protocol": "gap/0.1", "id": "a", "version": version, "name": "synthesize", "meta": {"format": "text/html"}, "content": [{"body": "x"}]})
    env = ingest(text).envelope
    assert env.version == 3 and type(env.version) is int
