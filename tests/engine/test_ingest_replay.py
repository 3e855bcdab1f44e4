"""Lenient ingestion of model output, and the recorded-run replay (GAP §5.1 pre-apply repair)."""

from __future__ import annotations

import json

import pytest

from gap_engine import Artifact, GapError, apply, ingest, parse_envelope
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
