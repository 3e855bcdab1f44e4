"""GAP-SSE codec (gap-sse.md §2–§7) and WHATWG event-stream parsing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gap_engine import GapError, parse_envelope
from gap_engine.sse import (
    EventDecoder,
    GapStreamDecoder,
    Sequencer,
    SSEEvent,
    encode_comment,
    encode_complete,
    encode_envelope,
    encode_error,
    encode_event,
    encode_heartbeat,
    parse_event_id,
)

SYN = parse_envelope(json.dumps({
    "protocol": "gap/0.1", "id": "dashboard-001", "version": 1, "name": "synthesize", "meta": {"format": "text/html"},
    "content": [{"body": '<gap:target id="stats"><h1>Revenue: $12,340</h1></gap:target>\nline2'}],
}))
EDIT = parse_envelope(json.dumps({
    "protocol": "gap/0.1", "id": "dashboard-001", "version": 2, "name": "edit", "meta": {"format": "text/html"},
    "content": [{"op": "replace", "target": {"type": "id", "value": "stats"}, "content": "<h1>Revenue: $15,720</h1>"}],
}))


def test_wire_format_of_the_spec_examples():
    text = encode_envelope(SYN, 0, retry=3000)
    assert text.startswith("retry: 3000\nevent: gap:envelope\nid: 0\ndata: {")
    assert text.endswith("}\n\n") and text.count("\ndata: ") == 1  # compact JSON is one line
    assert encode_heartbeat() == "event: gap:heartbeat\ndata: {}\n\n"
    assert encode_complete(tokens_used=847, checksum="sha256:abc") == 'event: gap:complete\ndata: {"tokens_used":847,"checksum":"sha256:abc"}\n\n'
    err = encode_error("version_conflict", "Expected base version 2, got 1")
    assert err == 'event: gap:error\ndata: {"code":"version_conflict","message":"Expected base version 2, got 1","fatal":true}\n\n'
    assert '"fatal":false' in encode_error(GapError("target_not_found", "no x", artifact_id="a"))
    assert '"artifact_id":"a"' in encode_error(GapError("target_not_found", "no x", artifact_id="a"))
    assert encode_envelope(EDIT, 1, multiplex=True).split("\n")[1] == "id: dashboard-001:1"


def test_round_trip_through_the_decoder():
    seq = Sequencer()
    stream = seq.encode(SYN, retry=3000) + seq.encode(EDIT) + encode_comment("keep-alive") + encode_heartbeat() + encode_complete(tokens_used=5)
    dec = GapStreamDecoder()
    events = dec.feed(stream.encode())
    assert [e.kind for e in events] == ["envelope", "envelope", "heartbeat", "complete"]
    assert events[0].envelope == SYN and events[1].envelope == EDIT
    assert (events[0].seq, events[1].seq) == (0, 1) and events[1].artifact_id == "dashboard-001"
    assert dec.retry == 3000 and dec.last_event_id == "1" and dec.complete
    assert events[3].payload == {"tokens_used": 5}


def test_multiplexed_ids_and_sequencer():
    seq = Sequencer(multiplex=True)
    other = parse_envelope(SYN.to_json().replace("dashboard-001", "sidebar:002"))
    ids = [seq.encode(e).split("\n")[1] for e in (SYN, other, EDIT)]
    assert ids == ["id: dashboard-001:0", "id: sidebar:002:0", "id: dashboard-001:1"]
    assert parse_event_id("sidebar:002:7") == ("sidebar:002", 7)
    assert parse_event_id("12") == (None, 12) and parse_event_id("x") == (None, None) and parse_event_id(None) == (None, None)
    seq.resume_from("dashboard-001:1")
    assert seq.next("dashboard-001") == 2
    single = Sequencer()
    single.resume_from("41")
    assert single.next() == 42
    evs = GapStreamDecoder().feed(encode_error("timeout", "slow", artifact_id="sidebar:002"))
    assert evs[0].kind == "error" and evs[0].fatal and evs[0].artifact_id == "sidebar:002"


def test_whatwg_parsing_rules():
    d = EventDecoder()
    text = "\ufeff: comment\r\nevent: a\r\ndata:x\r\ndata:  y\rid: 7\n\ndata\nretry: 12x\nretry: 250\nunknown: 1\n\nid: 8\0\n\n\ndata: z\n"
    evs = d.feed(text)
    assert evs == [SSEEvent("a", "x\n y", "7"), SSEEvent("message", "", "7", 250)]
    assert d.retry == 250 and d.last_event_id == "7"  # an id with NUL is ignored
    assert d.close() == []  # the unterminated event is dropped


def test_encode_rejects_bad_fields_and_splits_multiline_data():
    with pytest.raises(ValueError):
        encode_event("a\nb", "x")
    with pytest.raises(ValueError):
        encode_event("a", "x", id="1\r")
    assert encode_event(None, "l1\r\nl2\nl3") == "data: l1\ndata: l2\ndata: l3\n\n"
    assert EventDecoder().feed(encode_event("e", "l1\nl2")) == [SSEEvent("e", "l1\nl2")]


def test_bad_gap_payloads():
    with pytest.raises(GapError) as ei:
        GapStreamDecoder().feed(encode_event("gap:envelope", '{"protocol": "gap/0.1"}'))
    assert ei.value.code == "invalid_envelope"
    with pytest.raises(GapError):
        GapStreamDecoder().feed(encode_event("gap:error", '{"code": 1}'))
    assert GapStreamDecoder().feed(encode_event("other", "x"))[0].kind == "other"


@settings(max_examples=200, deadline=None)
@given(cuts=st.lists(st.integers(0, 10_000), max_size=12), crlf=st.sampled_from(["\n", "\r\n", "\r"]))
def test_property_any_chunking_gives_the_same_events(cuts, crlf):
    seq = Sequencer(multiplex=True)
    text = (seq.encode(SYN, retry=1000) + encode_comment("é ü") + seq.encode(EDIT) + encode_heartbeat()
            + encode_event("x", "multi\nline ✓") + encode_complete(checksum="sha256:00"))
    text = text.replace("\n", crlf)
    raw = text.encode("utf-8")
    whole = EventDecoder().feed(raw)
    points = sorted({c % (len(raw) + 1) for c in cuts})
    d = EventDecoder()
    got = []
    prev = 0
    for p in points + [len(raw)]:
        got += d.feed(raw[prev:p])
        prev = p
    got += d.close()
    assert got == whole and len(whole) == 5


def test_deeply_nested_event_data_is_an_invalid_envelope_not_a_traceback():
    from gap_engine.sse import ENVELOPE, to_gap_event

    with pytest.raises(GapError) as ei:
        to_gap_event(SSEEvent(ENVELOPE, "[" * 100_000, "1"))
    assert ei.value.code == "invalid_envelope"


def test_last_event_id_counts_only_dispatched_events():
    # WHATWG: the source's last event ID is set when an event is dispatched (blank line), so an
    # event cut off by the end of the stream is not reported as received: reconnecting with
    # Last-Event-ID must make the server send it again (GAP-SSE §3)
    d = GapStreamDecoder()
    evs = d.feed(encode_envelope(SYN, 1) + encode_envelope(EDIT, 2)[:-1])
    assert [e.seq for e in evs] == [1]
    assert d.last_event_id == "1"
    assert d.close() == [] and d.last_event_id == "1"
    # an id-only block (no data) is dispatched without an event and does move it
    raw = EventDecoder()
    assert raw.feed("id: 4\n\nid: 5\n") == [] and raw.last_event_id == "4"
    assert raw.feed("data: x\n\n") == [SSEEvent("message", "x", "5")] and raw.last_event_id == "5"


@pytest.mark.parametrize("text", ["a\rdata: injected", "a\r\ndata: injected", "a\ndata: injected"])
def test_comment_with_line_breaks_cannot_inject_fields(text):
    wire = encode_comment(text) + encode_heartbeat()
    evs = EventDecoder().feed(wire)
    assert [e.event for e in evs] == ["gap:heartbeat"] and evs[0].data == "{}"


def test_a_long_data_line_in_many_chunks_is_one_event():
    # the pieces of a line are kept apart until its line break arrives (joining them on every
    # chunk made a multi-megabyte envelope quadratic to decode)
    data = json.dumps({"body": "é" * 300_000})
    wire = encode_event("gap:envelope", data, id="3").encode()
    d = EventDecoder()
    evs = [ev for i in range(0, len(wire), 1000) for ev in d.feed(wire[i : i + 1000])]
    assert evs == [SSEEvent("gap:envelope", data, "3")] and d.close() == []


def test_only_one_leading_byte_order_mark_is_dropped_even_when_it_comes_alone():
    # WHATWG: one leading U+FEFF is ignored; a second one is part of the first line's field name
    d = EventDecoder()
    assert d.feed(b"\xef\xbb\xbf") == [] and d.feed(b"\xef\xbb\xbfdata: x\n\ndata: y\n\n") == [SSEEvent("message", "y")]
