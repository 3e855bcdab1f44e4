"""Each edit-block operation reaches the live preview as soon as it is complete in the stream;
a failed edit puts the preview back to the document."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gap_engine import Artifact
from gap_ls.llm import EditFailed
from gap_ls.llm.commands import _PartialPreview
from tests.fakes import recordings as R
from tests.fakes.fake_openai import Reply


class _Server:
    def __init__(self):
        self.published: list[str] = []

    def publish(self, key, *, uri, version, text, format):
        self.published.append(text)


def _ls():
    return SimpleNamespace(preview=SimpleNamespace(running=True, server=_Server()))


def _doc():
    return SimpleNamespace(uri="file:///d.html", version=3, text=R.DASHBOARD, format="text/html")


TWO = "<<< replace revenue-value\n$1\n>>>\n<<< replace user-count\n7\n>>>\n"


async def test_operations_are_previewed_as_they_complete(pipeline, fake):
    ls, doc = _ls(), _doc()
    art = Artifact(doc.uri, 3, "text/html", doc.text)
    partial = _PartialPreview(ls, doc, art)
    fake.script(Reply(TWO, latency=0.005))
    out = await pipeline.edit(art, "x", on_operation=partial)
    shown = ls.preview.server.published
    assert len(shown) == 2
    assert ">$1</gap:target>" in shown[0] and ">1,205</gap:target>" in shown[0]
    assert shown[1] == out.artifact.body


async def test_failed_edit_resets_the_preview_and_repairs_start_afresh(pipeline, fake):
    ls, doc = _ls(), _doc()
    art = Artifact(doc.uri, 3, "text/html", doc.text)
    partial = _PartialPreview(ls, doc, art)
    bad = "<<< replace revenue-value\n$1\n>>>\n<<< replace nowhere\nx\n>>>\n"
    fake.script(Reply(bad), Reply(bad))
    with pytest.raises(EditFailed):
        await pipeline.edit(art, "x", on_operation=partial, fallback=False)
    partial.reset()
    shown = ls.preview.server.published
    assert ">$1</gap:target>" in shown[0]
    assert shown[-1] == R.DASHBOARD


def test_json_operations_are_read_as_their_objects_close():
    from gap_ls.llm.partial import JsonOpStream

    text = R.REVENUE_JSON  # prose, a ```json fence, a trailing comma, "protocol": "gap"
    s = JsonOpStream("text/html")
    got = []
    for i, ch in enumerate(text):
        for op in s.feed(ch):
            got.append((i, op))
    assert [(op.op, op.target.value, op.content) for _, op in got] == [
        ("replace", "revenue-value", "$15,720"),
        ("replace", "revenue-trend", "+6.0%"),
    ]
    first_close = text.index('"$15,720"}') + len('"$15,720"}') - 1
    assert got[0][0] == first_close
    bare = JsonOpStream()
    ops = bare.feed('[{"op": "delete", "id": "a"}, {"op": "replace", "target": "b", "content": "x}{\\"]"}]')
    assert [(o.op, o.target.value, o.content) for o in ops] == [("delete", "a", None), ("replace", "b", 'x}{"]')]


async def test_json_answer_operations_reach_the_preview_early(pipeline, fake):
    ls, doc = _ls(), _doc()
    art = Artifact(doc.uri, 3, "text/html", doc.text)
    partial = _PartialPreview(ls, doc, art)
    out = await pipeline.edit(art, R.REVENUE_INSTRUCTION, on_operation=partial)
    shown = ls.preview.server.published
    assert len(shown) == 2 and shown[-1] == out.artifact.body
