"""GAP-SSE: encoding and decoding of GAP events on a Server-Sent Events stream (GAP-SSE §2–§7).

Events (GAP-SSE §2): ``gap:envelope`` (a JSON envelope of any name), ``gap:error``
(``{"code", "message"[, "fatal"][, "artifact_id"]}``), ``gap:heartbeat`` (``{}``) and
``gap:complete`` (``{"tokens_used"?, "checksum"?[, "artifact_id"]}``). Every ``gap:envelope``
carries an ``id:`` that is a monotonically increasing sequence number, or
``<artifact_id>:<seq>`` when one stream multiplexes several artifacts (§3, §7); ``retry:``
sets the client's reconnection delay in milliseconds (§3, default 3000).

The decoder follows the WHATWG HTML "event stream interpretation" rules: UTF-8 (a leading BOM
is dropped), lines end in CRLF, LF or CR — also when a CR and its LF arrive in different
chunks —, lines starting with ``:`` are comments, ``field: value`` loses one leading space,
``data`` lines join with ``\\n``, an empty line dispatches, an event with no data is not
dispatched, the last event id persists across events and is the one of the last dispatched
block (an id in an event cut off by the end of the stream does not count), ``retry`` takes
ASCII digits only, an ``id`` containing NUL is ignored, and an unterminated event at the end
of the stream is dropped. Chunks may be split anywhere (even inside a UTF-8 sequence).

Pure: no I/O; feed it what your HTTP client yields.
"""

from __future__ import annotations

import codecs
import json
from typing import Any, Iterable, Iterator, Mapping

import attrs

from .errors import GapError
from .model import Envelope, envelope_from_data

__all__ = [
    "COMPLETE",
    "DEFAULT_RETRY_MS",
    "ENVELOPE",
    "ERROR",
    "FATAL_CODES",
    "HEARTBEAT",
    "EventDecoder",
    "GapEvent",
    "GapStreamDecoder",
    "Sequencer",
    "SSEEvent",
    "encode_comment",
    "encode_complete",
    "encode_envelope",
    "encode_error",
    "encode_event",
    "encode_heartbeat",
    "format_event_id",
    "parse_event_id",
    "to_gap_event",
]

ENVELOPE = "gap:envelope"
ERROR = "gap:error"
HEARTBEAT = "gap:heartbeat"
COMPLETE = "gap:complete"
DEFAULT_RETRY_MS = 3000

#: Error codes that end the stream (GAP-SSE §5.2); other codes default to non-fatal.
FATAL_CODES = frozenset({"seq_expired", "budget_exceeded", "version_conflict", "timeout", "internal"})


# -- encoding ------------------------------------------------------------------------------------


def _check_field(name: str, value: str) -> None:
    if "\n" in value or "\r" in value or (name == "id" and "\0" in value):
        raise ValueError(f"an SSE {name} cannot contain line breaks{' or NUL' if name == 'id' else ''}: {value!r}")


def encode_event(event: str | None, data: str, *, id: str | None = None, retry: int | None = None) -> str:
    """One SSE event as text: ``retry:``, ``event:``, ``id:``, one ``data:`` line per line of
    ``data``, then the blank line that dispatches it (WHATWG event stream format).

    Raises:
        ValueError: ``event``/``id`` with a line break (or ``id`` with NUL), a negative retry.
    """
    out = []
    if retry is not None:
        if int(retry) < 0:
            raise ValueError("retry is a non-negative number of milliseconds")
        out.append(f"retry: {int(retry)}\n")
    if event is not None:
        _check_field("event", event)
        out.append(f"event: {event}\n")
    if id is not None:
        _check_field("id", id)
        out.append(f"id: {id}\n")
    for line in data.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        out.append(f"data: {line}\n")
    out.append("\n")
    return "".join(out)


def encode_comment(text: str = "") -> str:
    """A comment line (``: text``), e.g. a transport keep-alive; clients ignore it. Each line
    of ``text`` (CRLF, LF or CR, as the decoder splits them) becomes its own comment line."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if text else [""]
    return "".join(f": {line}\n" if line else ":\n" for line in lines)


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def format_event_id(seq: int, artifact_id: str | None = None) -> str:
    """``"<seq>"`` or, multiplexed, ``"<artifact_id>:<seq>"`` (GAP-SSE §3, §7)."""
    if seq < 0:
        raise ValueError("sequence numbers are non-negative")
    return f"{artifact_id}:{seq}" if artifact_id is not None else str(seq)


def parse_event_id(value: str | None) -> tuple[str | None, int | None]:
    """``"7"`` → ``(None, 7)``; ``"dash:1:7"`` → ``("dash:1", 7)`` (the sequence follows the
    LAST colon, so artifact ids may contain colons); anything else → ``(None, None)``."""
    if not value:
        return None, None
    if value.isdigit() and value.isascii():
        return None, int(value)
    aid, sep, seq = value.rpartition(":")
    if sep and aid and seq.isdigit() and seq.isascii():
        return aid, int(seq)
    return None, None


def encode_envelope(
    envelope: Envelope | Mapping[str, Any],
    seq: int,
    *,
    multiplex: bool = False,
    retry: int | None = None,
) -> str:
    """A ``gap:envelope`` event (GAP-SSE §2, §4.1–§4.3) with ``id: <seq>`` or, when
    ``multiplex``, ``id: <artifact_id>:<seq>`` (§7); ``retry`` on the first event (§3)."""
    data = envelope.to_dict() if isinstance(envelope, Envelope) else dict(envelope)
    aid = data.get("id") if multiplex else None
    return encode_event(ENVELOPE, _json(data), id=format_event_id(seq, aid), retry=retry)


def encode_error(
    code: str | GapError,
    message: str | None = None,
    *,
    fatal: bool | None = None,
    artifact_id: str | None = None,
    id: str | None = None,
) -> str:
    """A ``gap:error`` event (GAP-SSE §5): ``{"code", "message", "fatal"[, "artifact_id"]}``.

    ``code`` may be a :class:`GapError` (its code, message and artifact id are used).
    ``fatal`` defaults to the table of §5.2 (``seq_expired``, ``budget_exceeded``,
    ``version_conflict``, ``timeout``, ``internal`` are fatal). Multiplexed streams must give
    ``artifact_id`` (§7).
    """
    if isinstance(code, GapError):
        message = code.message if message is None else message
        artifact_id = artifact_id if artifact_id is not None else code.artifact_id
        code = code.code
    obj: dict[str, Any] = {"code": code, "message": message or ""}
    obj["fatal"] = (code in FATAL_CODES) if fatal is None else bool(fatal)
    if artifact_id is not None:
        obj["artifact_id"] = artifact_id
    return encode_event(ERROR, _json(obj), id=id)


def encode_heartbeat() -> str:
    """A ``gap:heartbeat`` event with ``{}`` (GAP-SSE §4.5; every ~15 s when idle, §6)."""
    return encode_event(HEARTBEAT, "{}")


def encode_complete(
    *, tokens_used: int | None = None, checksum: str | None = None, artifact_id: str | None = None, id: str | None = None
) -> str:
    """A ``gap:complete`` event (GAP-SSE §4.4): optional ``tokens_used`` and ``checksum``;
    ``artifact_id`` when multiplexing (§7)."""
    obj: dict[str, Any] = {}
    if tokens_used is not None:
        obj["tokens_used"] = tokens_used
    if checksum is not None:
        obj["checksum"] = checksum
    if artifact_id is not None:
        obj["artifact_id"] = artifact_id
    return encode_event(COMPLETE, _json(obj), id=id)


class Sequencer:
    """Hands out monotonically increasing sequence numbers: one counter per stream, or one per
    artifact when multiplexing (GAP-SSE §3, §7). ``start`` resumes after a ``Last-Event-ID``."""

    def __init__(self, *, multiplex: bool = False, start: int = 0) -> None:
        self.multiplex = multiplex
        self._start = start
        self._next: dict[str | None, int] = {}

    def next(self, artifact_id: str | None = None) -> int:
        """The next sequence number (per artifact when multiplexing), starting at ``start``."""
        key = artifact_id if self.multiplex else None
        n = self._next.get(key, self._start)
        self._next[key] = n + 1
        return n

    def resume_from(self, last_event_id: str) -> None:
        """Continue after ``Last-Event-ID`` (the server resumes from ``seq + 1``, §3)."""
        aid, seq = parse_event_id(last_event_id)
        if seq is not None:
            self._next[aid if self.multiplex else None] = seq + 1

    def encode(self, envelope: Envelope, *, retry: int | None = None) -> str:
        """``encode_envelope`` with the next sequence number for this envelope's artifact."""
        return encode_envelope(envelope, self.next(envelope.id), multiplex=self.multiplex, retry=retry)


# -- decoding --------------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class SSEEvent:
    """One dispatched SSE event: ``event`` type (``"message"`` by default), ``data`` (lines
    joined with ``\\n``), ``id`` (the last event id at dispatch, or None) and ``retry``
    (milliseconds, when this event set it)."""

    event: str
    data: str
    id: str | None = None
    retry: int | None = None


class EventDecoder:
    """Incremental SSE parser (WHATWG "interpret an event stream").

    ``feed(chunk)`` takes ``bytes`` (decoded as UTF-8 incrementally) or ``str`` and returns
    the events completed by it; ``close()`` ends the stream (an unterminated event is
    dropped, as the standard says). ``last_event_id`` and ``retry`` hold the stream state.
    """

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf: list[str] = []  # text after the last line break, in the pieces it came in
        self._cr = False  # the previous chunk ended with CR: skip a LF that starts this one
        self._first = True
        self._event = ""
        self._data: list[str] = []
        self._has_data = False
        self._retry_set: int | None = None
        self._id_buf = ""  # the last event ID buffer; the source's last event ID follows it on dispatch
        self.last_event_id: str = ""
        self.retry: int | None = None

    def feed(self, chunk: bytes | str) -> list[SSEEvent]:
        """Parse a chunk (bytes: UTF-8, split anywhere; or text) → the events it completes."""
        text = self._utf8.decode(chunk) if isinstance(chunk, (bytes, bytearray)) else chunk
        if not text:
            return []
        if self._first:
            self._first = False
            if text.startswith("\ufeff"):
                text = text[1:]
            if not text:
                return []
        if self._cr and text.startswith("\n"):
            text = text[1:]
        self._cr = False
        if "\n" not in text and "\r" not in text:
            self._buf.append(text)  # a long line arriving in pieces is joined once, at its end
            return []
        self._buf.append(text)
        buf = "".join(self._buf)
        out: list[SSEEvent] = []
        pos = 0
        n = len(buf)
        while pos < n:
            # next line break: CR, LF or CRLF
            lf = buf.find("\n", pos)
            cr = buf.find("\r", pos, lf if lf >= 0 else n)
            i = cr if cr >= 0 else lf
            if i < 0:
                break
            line = buf[pos:i]
            if buf[i] == "\r":
                if i + 1 < n:
                    pos = i + 2 if buf[i + 1] == "\n" else i + 1
                else:
                    pos = i + 1
                    self._cr = True  # a LF may follow in the next chunk
            else:
                pos = i + 1
            ev = self._line(line)
            if ev is not None:
                out.append(ev)
        self._buf = [buf[pos:]] if pos < n else []
        return out

    def close(self) -> list[SSEEvent]:
        """End of stream: flush the decoder; an event without its blank line is discarded."""
        tail = self._utf8.decode(b"", final=True)
        out = self.feed(tail) if tail else []
        self._buf = []
        self._reset()
        return out

    def _reset(self) -> None:
        self._event = ""
        self._data = []
        self._has_data = False
        self._retry_set = None

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line[0] == ":":
            return None  # comment
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
            self._has_data = True
        elif field == "id":
            if "\0" not in value:
                self._id_buf = value
        elif field == "retry":
            if value and value.isascii() and value.isdigit():
                self.retry = int(value)
                self._retry_set = self.retry
        return None

    def _dispatch(self) -> SSEEvent | None:
        self.last_event_id = self._id_buf  # also for an event without data (WHATWG)
        if not self._has_data:
            # no data, no event (e.g. a "retry: 3000" block, GAP-SSE §4.1): the retry value
            # stays in `self.retry`
            self._reset()
            return None
        ev = SSEEvent(self._event or "message", "\n".join(self._data), self.last_event_id or None, self._retry_set)
        self._reset()
        return ev

    def iter(self, chunks: Iterable[bytes | str]) -> Iterator[SSEEvent]:
        """Decode a whole iterable of chunks (then close the stream)."""
        for c in chunks:
            yield from self.feed(c)
        yield from self.close()


@attrs.frozen(slots=True)
class GapEvent:
    """A decoded GAP-SSE event.

    ``kind`` is ``envelope``, ``error``, ``heartbeat``, ``complete`` or ``other`` (an event
    type outside GAP-SSE, kept as ``raw``). ``envelope`` is the parsed :class:`Envelope`
    (``gap:envelope``); ``payload`` the decoded JSON of the other kinds. ``artifact_id`` and
    ``seq`` come from the event id (``<seq>`` or ``<artifact_id>:<seq>``) or, for errors and
    completions, from the payload; ``fatal`` is the error's ``fatal`` flag (default false).
    """

    kind: str
    raw: SSEEvent
    envelope: Envelope | None = None
    payload: Any = None
    artifact_id: str | None = None
    seq: int | None = None
    fatal: bool = False


_KINDS = {ENVELOPE: "envelope", ERROR: "error", HEARTBEAT: "heartbeat", COMPLETE: "complete"}


def to_gap_event(ev: SSEEvent, *, lenient: bool = False) -> GapEvent:
    """Interpret one SSE event as GAP-SSE (§2).

    Raises:
        GapError: ``invalid_envelope`` when a GAP event's data is not the JSON it must be
            (an envelope that fails validation, an error without ``code``/``message``).
    """
    kind = _KINDS.get(ev.event, "other")
    aid, seq = parse_event_id(ev.id)
    if kind == "other":
        return GapEvent("other", ev, artifact_id=aid, seq=seq)
    try:
        data = json.loads(ev.data)
    except (ValueError, RecursionError) as exc:
        raise GapError("invalid_envelope", f"{ev.event} event data is not JSON: {exc}") from None
    if kind == "envelope":
        if lenient:
            from .ingest import ingest

            env = ingest(data).envelope
        else:
            env = envelope_from_data(data)
        return GapEvent("envelope", ev, env, data, aid if aid is not None else env.id, seq)
    if not isinstance(data, dict):
        raise GapError("invalid_envelope", f"{ev.event} event data must be a JSON object")
    if isinstance(data.get("artifact_id"), str):
        aid = data["artifact_id"]
    if kind == "error":
        if not isinstance(data.get("code"), str) or not isinstance(data.get("message"), str):
            raise GapError("invalid_envelope", "gap:error data needs string fields code and message")
        return GapEvent("error", ev, None, data, aid, seq, bool(data.get("fatal", False)))
    return GapEvent(kind, ev, None, data, aid, seq)


class GapStreamDecoder:
    """SSE bytes → :class:`GapEvent` s: an :class:`EventDecoder` plus :func:`to_gap_event`.

    ``last_event_id`` is what to send as ``Last-Event-ID`` when reconnecting (GAP-SSE §3);
    ``retry`` the server's reconnection delay (ms, default 3000); ``complete`` turns true
    after ``gap:complete`` (single stream) — clients should not reconnect then (§6).
    """

    def __init__(self, *, lenient: bool = False) -> None:
        self._sse = EventDecoder()
        self.lenient = lenient
        self.complete = False

    @property
    def last_event_id(self) -> str:
        """What to send as ``Last-Event-ID`` when reconnecting (GAP-SSE §3)."""
        return self._sse.last_event_id

    @property
    def retry(self) -> int:
        """The reconnection delay in ms (``retry:`` from the server, default 3000, §3)."""
        return self._sse.retry if self._sse.retry is not None else DEFAULT_RETRY_MS

    def feed(self, chunk: bytes | str) -> list[GapEvent]:
        """Parse a chunk → the GAP events it completes (raises :class:`GapError` on bad data)."""
        return self._convert(self._sse.feed(chunk))

    def close(self) -> list[GapEvent]:
        """End of stream (an unterminated event is dropped)."""
        return self._convert(self._sse.close())

    def _convert(self, evs: list[SSEEvent]) -> list[GapEvent]:
        out = []
        for ev in evs:
            g = to_gap_event(ev, lenient=self.lenient)
            if g.kind == "complete":
                self.complete = True
            out.append(g)
        return out
