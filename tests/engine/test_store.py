"""ArtifactStore: version chain, history, rollback, checksums, entity state, expiry (GAP §3.3,
§5.3, §5.4, §8, §10)."""

from __future__ import annotations

import json

import pytest

from gap_engine import ArtifactStore, GapError, checksum, verify_checksum
from gap_engine.model import PROTOCOL

BODY = '<h1><gap:target id="title" label="Title">Hello</gap:target></h1><p><gap:target id="n">1</gap:target></p>'


def synth(body=BODY, version=1, id_="doc", **meta):
    return {"protocol": PROTOCOL, "id": id_, "version": version, "name": "synthesize", "meta": {"format": "text/html", **meta}, "content": [{"body": body}]}


def edit(version, target="n", content="2", id_="doc", **meta):
    return {"protocol": PROTOCOL, "id": id_, "version": version, "name": "edit", "meta": {"format": "text/html", **meta},
            "content": [{"op": "replace", "target": {"type": "id", "value": target}, "content": content}]}


class Clock:
    def __init__(self, t=1_900_000_000.0):  # 2030
        self.t = t

    def __call__(self):
        return self.t


@pytest.fixture
def store():
    s = ArtifactStore(clock=Clock())
    s.apply(synth())
    return s


def test_synthesize_returns_handle_with_targets_state_checksum(store):
    h = store.handle("doc")
    assert h.name == "handle" and h.version == 1
    item = h.content[0]
    assert [t.id for t in item.targets] == ["title", "n"] and item.targets[0].label == "Title"
    assert item.state == "draft" and h.meta["state"] == "draft"
    assert h.meta["checksum"] == checksum(BODY) and item.token_count == -(-len(BODY) // 4)
    assert item.content is None and store.handle("doc", include_content=True).content[0].content == BODY
    wire = h.to_dict()
    assert wire["content"][0]["targets"][0] == {"id": "title", "label": "Title"}


def test_version_chain_and_conflicts(store):
    h = store.apply(edit(2))
    assert h.version == 2 and ">2<" in store.get("doc").body
    for bad in (2, 4, 1):
        with pytest.raises(GapError) as ei:
            store.apply(edit(bad, content="x"))
        assert ei.value.code == "version_conflict"
    assert store.get("doc").version == 2 and ">2<" in store.get("doc").body
    with pytest.raises(GapError) as ei:
        store.apply(edit(3, target="missing"))
    assert ei.value.code == "target_not_found" and store.get("doc").version == 2
    with pytest.raises(GapError) as ei:
        store.apply(edit(2, id_="other"))
    assert ei.value.code == "target_not_found"


def test_history_is_bounded_and_rollback_creates_a_new_version():
    s = ArtifactStore(history=3, clock=Clock())
    s.apply(synth())
    for v in range(2, 7):
        s.apply(edit(v, content=str(v)))
    assert [a.version for a in s.history("doc")] == [4, 5, 6]
    with pytest.raises(GapError) as ei:
        s.version("doc", 2)
    assert ei.value.code == "target_not_found"
    v4 = s.version("doc", 4).body
    h = s.rollback("doc", 4)
    assert h.version == 7 and s.get("doc").body == v4 and ">4<" in v4
    with pytest.raises(GapError) as ei:
        s.rollback("doc", 5, expected_version=7)
    assert ei.value.code == "version_conflict"
    assert s.rollback("doc", 5, expected_version=8).version == 8
    # the rolled-back artifact keeps a working index
    assert s.apply(edit(9, content="z")).version == 9 and ">z<" in s.get("doc").body


def test_synthesize_resets_the_chain(store):
    store.apply(edit(2))
    h = store.apply(synth("<p>new</p>", version=1))
    assert h.version == 1 and [a.version for a in store.history("doc")] == [1]
    assert store.apply(synth("<p>v3</p>", version=3)).version == 3


def test_checksums(store):
    good = checksum(BODY.replace(">1<", ">2<"))
    assert store.apply(edit(2, checksum=good)).version == 2
    assert store.verify("doc", good) and store.checksum("doc") == good
    assert verify_checksum("x", checksum("x").upper().replace("SHA256", "sha256"))
    assert not verify_checksum("x", "md5:00")
    with pytest.raises(GapError) as ei:
        store.apply(edit(3, content="3", checksum="sha256:" + "0" * 64))
    assert ei.value.code == "invalid_content" and "checksum" in ei.value.message
    assert store.get("doc").version == 2


def test_state_machine_legal_transitions_only(store):
    with pytest.raises(GapError) as ei:
        store.transition("doc", "archive")  # draft → archived is not legal
    assert ei.value.code == "invalid_envelope"
    assert store.transition("doc", "publish").meta["state"] == "published"
    assert store.transition("doc", "unpublish").meta["state"] == "draft"
    store.transition("doc", "published")
    h = store.transition("doc", "archive", expected_version=store.get("doc").version + 1)
    assert h.meta["state"] == "archived"
    v = store.get("doc").version
    # archived = read-only
    for call in (lambda: store.apply(edit(v + 1)), lambda: store.rollback("doc", 1), lambda: store.apply(synth(version=v + 1))):
        with pytest.raises(GapError) as ei:
            call()
        assert ei.value.code == "invalid_envelope" and "archived" in ei.value.message
    assert store.transition("doc", "restore").meta["state"] == "published"
    with pytest.raises(GapError):
        store.transition("doc", "explode")


def test_state_via_envelope_meta(store):
    with pytest.raises(GapError) as ei:
        store.apply(edit(2, state="archived"))  # draft → archived is not a legal transition
    assert ei.value.code == "invalid_envelope" and store.get("doc").version == 1
    assert store.apply(edit(2, state="published")).meta["state"] == "published"
    assert store.apply(edit(3, content="3", state="archived")).meta["state"] == "archived"


def test_ttl_and_expires_at_archive_on_read():
    clock = Clock()
    s = ArtifactStore(clock=clock)
    s.apply(synth(state="published"))
    s.set_entity("doc", ttl=60, owner="user:alice", tags=["x"])
    assert s.entity("doc")["owner"] == "user:alice"
    clock.t += 30
    s.apply(edit(2))  # an update restarts the ttl
    clock.t += 59
    assert s.get("doc").state == "published"
    clock.t += 2
    assert s.get("doc").state == "archived" and s.handle("doc").meta["state"] == "archived"
    with pytest.raises(GapError):
        s.apply(edit(3))
    s.transition("doc", "restore")
    assert s.get("doc").state == "published"
    # expires_at wins over ttl
    s.set_entity("doc", expires_at="2000-01-01T00:00:00Z")
    assert s.get("doc").state == "archived"
    s.transition("doc", "restore")  # a past expires_at is dropped on restore
    assert "expires_at" not in s.entity("doc") and s.get("doc").state == "published"


def test_entity_validation(store):
    with pytest.raises(GapError) as ei:
        store.set_entity("doc", ttl=0)
    assert ei.value.code == "invalid_content" and "ttl" in ei.value.message
    with pytest.raises(GapError) as ei:
        store.set_entity("doc", relationships=[{"type": "sibling", "target": "x"}])
    assert "relationships.0.type" in ei.value.message
    ent = store.set_entity("doc", {"owner": "team:a", "vendor_x": {"k": 1}})
    assert ent == {"owner": "team:a", "vendor_x": {"k": 1}}


def test_accepts_text_and_objects_and_keeps_meta(store):
    env = edit(2)
    env["meta"]["x-vendor"] = {"a": 1}
    h = store.apply(json.dumps(env))
    assert h.version == 2
    with pytest.raises(GapError) as ei:
        store.apply(json.dumps({"protocol": "gap/0.1"}))
    assert ei.value.code == "invalid_envelope"
    with pytest.raises(GapError):
        store.apply(store.handle("doc"))
    store.delete("doc")
    assert "doc" not in store and len(store) == 0
    with pytest.raises(GapError):
        store.get("doc")


def test_content_with_a_lone_surrogate_is_refused_and_the_store_is_unchanged(store):
    # "\ud800" is a valid JSON escape but no Unicode character: the body would have no UTF-8
    # bytes (no checksum, §10); the store must refuse it before committing anything
    before = store.get("doc")
    for env in (edit(2, content="x\ud800"), edit(2, content="y", checksum="sha256:" + "0" * 64) | {"content": [
        {"op": "replace", "target": {"type": "id", "value": "n"}, "content": "\udc80"}]}):
        with pytest.raises(GapError) as ei:
            store.apply(json.dumps(env))
        assert ei.value.code == "invalid_content" and "surrogate" in ei.value.message
        assert store.get("doc") == before and [a.version for a in store.history("doc")] == [1]
    with pytest.raises(GapError) as ei:
        store.apply(synth(body="a\udfff", id_="new"))
    assert ei.value.code == "invalid_content" and "new" not in store


@pytest.mark.parametrize("value", [object(), float("nan"), {1, 2}, b"x", {"k": float("inf")}])
def test_entity_fields_that_are_not_json_are_refused(store, value):
    before = store.entity("doc")
    with pytest.raises(GapError) as ei:
        store.set_entity("doc", vendor_x=value)
    assert ei.value.code == "invalid_content" and "vendor_x" in ei.value.message
    assert store.entity("doc") == before
