"""Replay the GAP authors' recorded runs (../shared/gap-evals, read in place) through the whole
pipeline: the fake server answers each maintain request with the envelope the real model wrote
for that instruction and artifact, streamed; the pipeline must reproduce the recorded artifact,
or — for the turns whose recorded envelope named a missing target — refuse it with
target_not_found and leave the artifact unchanged; envelopes whose result has malformed
markers (which the recording kept) are refused with invalid_content: the pipeline validates
with strict markers so that a repair prompt can fix them."""

from __future__ import annotations

import pytest

from gap_engine import Artifact, strip
from gap_ls.llm import EditFailed, EditPipeline, LLMConfig
from tests.conftest import EVALS, require_or_skip
from tests.fakes.fake_openai import FakeOpenAI, eval_recordings

pytestmark = pytest.mark.evals


async def test_recorded_envelopes_through_the_pipeline():
    require_or_skip(EVALS.is_dir(), f"recorded runs not found at {EVALS} (CC-BY-4.0 data, not shipped with the project)")
    recs = [r for r in eval_recordings(EVALS) if r.kind == "edit"]
    assert len(recs) >= 30
    applied = rejected = strict = repaired = 0
    out_tokens = full_tokens = 0
    with FakeOpenAI(chunk_size=16) as fake:
        cfg = LLMConfig.resolve({}, env={}, base_url=fake.base_url, api_key="k", max_repairs=0)
        pipe = EditPipeline(cfg)
        try:
            for rec in recs:
                exp, turn = rec.source.split("/turn-")
                art = Artifact(exp, 1, rec.format, rec.artifact)
                expected = (EVALS / exp / "outputs" / "gap").glob(f"turn-{turn}.*")
                expected = next(p for p in expected if p.suffix != ".json").read_text("utf-8")
                try:
                    out = await pipe.edit(art, rec.instruction, fallback=False)
                except EditFailed as err:
                    if err.code == "target_not_found":
                        assert expected == rec.artifact, f"{rec.source}: refused, but the recording changed the artifact"
                    else:  # stricter than the recording: the result would have malformed markers
                        assert err.code == "invalid_content" and "malformed markers" in err.message, (rec.source, err)
                        strict += 1
                    rejected += 1
                    continue
                if out.artifact.body != expected:
                    # the only allowed difference: content that re-emitted its target's own marker
                    # was unwrapped (the recording kept the nested duplicate id)
                    assert any("own marker" in r for r in out.repairs), rec.source
                    assert strip(out.artifact.body) == strip(expected), rec.source
                    assert out.artifact.body.count("<gap:target") == expected.count("<gap:target") - 1, rec.source
                    assert not out.artifact.index().problems, rec.source
                    repaired += 1
                applied += 1
                out_tokens += out.accounting.output_tokens
                full_tokens += out.accounting.full_tokens
        finally:
            await pipe.aclose()
    print(f"recorded turns: {applied} applied ({repaired} after the own-marker repair), {rejected} refused ({strict} of them for malformed markers the recording kept); output {out_tokens} vs full {full_tokens} tokens")
    assert applied >= 25 and applied + rejected == len(recs)
    assert out_tokens < full_tokens / 3  # the edits cost a fraction of regenerations
