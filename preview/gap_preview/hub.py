"""The preview hub: documents, their GAP-SSE event log, coalescing, fan-out (GAP-SSE §2–§6).

Threads: :meth:`Hub.submit_publish` / :meth:`Hub.submit_cursor` / :meth:`Hub.submit_close`
may be called from any thread; they only record the latest request per document and wake
the hub's flusher task on the server's event loop. Everything else runs on that loop.

Per document the hub keeps the current *view* (see :mod:`gap_preview.render`), a sequence
number ``seq`` (the SSE ``id:`` of the latest envelope; envelope ``version`` is ``seq + 1``,
so every edit envelope's version is its base version + 1 as GAP §3.3 requires) and a bounded
log of recent envelope events for ``Last-Event-ID`` resumption (GAP-SSE §3).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import threading
from collections import deque
from itertools import islice
from typing import AsyncIterator, Callable

from gap_engine import PROTOCOL, Index, scan

from .diff import changed_targets, common_affixes, fast_update
from .render import HTML_FORMATS, normalise_format, render_view

log = logging.getLogger("gap_preview")

RETRY_MS = 3000
#: envelope events kept per document for resumption, and their total size bound (bytes)
LOG_EVENTS = 512
LOG_BYTES = 16 * 1024 * 1024
#: a viewer further behind than this many events gets one fresh synthesize instead
COALESCE_AFTER = 64
#: seconds after gap:complete before a closed document is dropped (when no viewer is left)
GC_AFTER = 10.0
#: render in a worker thread above this many characters (keeps the loop responsive)
THREAD_RENDER_CHARS = 64 * 1024


_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid_text(s: str) -> str:
    """``s`` with lone surrogates (which no UTF-8 stream can carry: an LSP edit that split an
    emoji's UTF-16 pair, a file name read with surrogateescape) replaced by U+FFFD, one for one
    (offsets into the text stay valid). ASCII text costs nothing, other text one encode."""
    if s.isascii():
        return s
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", s)


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _utf16(s: str, i: int) -> int:
    """The UTF-16 offset (a JavaScript string index) of code-point offset ``i`` in ``s``."""
    head = s[:i]
    return i if head.isascii() else len(head.encode("utf-16-le")) // 2


def splice_item(old: str, new: str, seq: int, key: str, meta: dict) -> Item | None:
    """The ``preview:splice`` form of a synthesize of ``new`` over ``old`` (SSE id ``seq``):
    the one changed range in UTF-16 offsets of ``old`` (``start``, ``end``), its new ``text``,
    and ``base_length`` (``old``'s UTF-16 length) for the viewer to check its copy. None when
    the change is more than half the view (the synthesize is then as cheap)."""
    p, e0, e1 = common_affixes(old, new)
    if 2 * (e1 - p) > len(new):
        return None
    data = {
        "artifact_id": key,
        "version": seq + 1,
        "base_length": _utf16(old, len(old)),
        "start": _utf16(old, p),
        "end": _utf16(old, e0),
        "text": new[p:e1],
        "meta": meta,
    }
    return Item("preview:splice", _dumps(data), seq)


class Item:
    """One stream event, encoded once and shared by every viewer.

    ``event`` is the SSE event name, ``data`` the JSON text, ``seq`` the SSE id (envelopes
    only, else None). ``alt`` is an optional ``preview:splice`` form of a synthesize envelope
    (same ``seq``) for viewers that asked for it (see :meth:`Hub.stream`).
    """

    __slots__ = ("event", "data", "seq", "alt", "_sse", "_ws")

    def __init__(self, event: str, data: str, seq: int | None = None):
        self.event = event
        self.data = data
        self.seq = seq
        self.alt: Item | None = None
        self._sse: bytes | None = None
        self._ws: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def sse(self) -> bytes:
        """The SSE wire form (GAP-SSE §4): ``event:``, ``id:`` (envelopes), one ``data:`` line."""
        b = self._sse
        if b is None:
            head = f"event: {self.event}\n"
            if self.seq is not None:
                head += f"id: {self.seq}\n"
            b = (head + "data: " + self.data + "\n\n").encode("utf-8")
            self._sse = b
        return b

    def ws(self) -> str:
        """The WebSocket text frame: ``{"event", ["id",] "data"}`` with the same payload."""
        s = self._ws
        if s is None:
            ident = f',"id":"{self.seq}"' if self.seq is not None else ""
            s = f'{{"event":{_dumps(self.event)}{ident},"data":{self.data}}}'
            self._ws = s
        return s


HEARTBEAT = Item("gap:heartbeat", "{}")


class Doc:
    """One live document (on the hub's loop only)."""

    def __init__(self, key: str):
        self.key = key
        self.uri = ""
        self.format = "text/plain"
        self.version = 0
        self.text = ""
        self.view: str | None = None
        self.view_idx: Index | None = None
        self.seq = -1
        self.log: deque[Item] = deque()
        self.log_bytes = 0
        self.changed = asyncio.Event()
        self.complete: Item | None = None
        self.cursor: str | None = None
        self.cursor_gen = 0
        self.status: str | None = None  # a one-line note from the editor side (e.g. LLM accounting)
        self.status_gen = 0
        self._snap: Item | None = None
        self._raw: tuple[str, Index] | None = None
        self.subscribers = 0
        self.drop_gen = 0
        #: the view is the source text itself (HTML with every marker kept): fast path allowed
        self.identity = False

    # -- state -----------------------------------------------------------------------------
    def meta(self) -> dict:
        return {
            "format": "text/html",
            "source_format": self.format,
            "uri": self.uri,
            "source_version": self.version,
        }

    def raw_index(self) -> Index:
        """The source text's targets (cached per text)."""
        r = self._raw
        if r is None or r[0] is not self.text:
            r = (self.text, scan(self.text))
            self._raw = r
        return r[1]

    def notify(self) -> None:
        ev = self.changed
        self.changed = asyncio.Event()
        ev.set()

    def envelope(self, name: str, content: list) -> dict:
        return {
            "protocol": PROTOCOL,
            "id": self.key,
            "version": self.seq + 1,
            "name": name,
            "meta": self.meta(),
            "content": content,
        }

    def push(self, name: str, content: list) -> Item:
        self.seq += 1
        item = Item("gap:envelope", _dumps(self.envelope(name, content)), self.seq)
        self.log.append(item)
        self.log_bytes += item.size
        while len(self.log) > LOG_EVENTS or (self.log_bytes > LOG_BYTES and len(self.log) > 1):
            old = self.log.popleft()
            self.log_bytes -= old.size
        self._snap = item if name == "synthesize" else None
        self.notify()
        return item

    def snapshot(self) -> Item:
        """A synthesize envelope of the current view, with the id of the latest event."""
        s = self._snap
        if s is None or s.seq != self.seq:
            env = self.envelope("synthesize", [{"body": self.view or ""}])
            s = Item("gap:envelope", _dumps(env), self.seq)
            self._snap = s
        return s

    def oldest(self) -> int:
        return self.log[0].seq if self.log else self.seq + 1

    def cursor_item(self) -> Item:
        return Item("preview:cursor", _dumps({"target": self.cursor, "artifact_id": self.key}))

    def status_item(self) -> Item:
        return Item("preview:status", _dumps({"text": self.status, "artifact_id": self.key}))


def _error(code: str, message: str, key: str, fatal: bool = False) -> Item:
    return Item("gap:error", _dumps({"code": code, "message": message, "fatal": fatal, "artifact_id": key}))


class Hub:
    """All documents of one preview server and the thread-safe way in."""

    def __init__(self, heartbeat: float = 15.0, retry_ms: int = RETRY_MS):
        self.heartbeat = heartbeat
        self.retry_ms = retry_ms
        #: Last-Event-ID values viewers resumed from (most recent last; bounded; for tests)
        self.resumes: deque[str] = deque(maxlen=64)
        self.docs: dict[str, Doc] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closing = False
        self._lock = threading.Lock()
        self._pending: dict[str, tuple] = {}
        self._seq_base: dict[str, int] = {}
        self._cursor: dict[str, int | None] = {}
        self._status: dict[str, str | None] = {}
        self._scheduled = False
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self.on_reveal: Callable | None = None
        #: called on the loop after each flush with the set of keys updated (tests, bench)
        self.after_flush: Callable[[set], None] | None = None

    # -- lifecycle (on the loop) -----------------------------------------------------------
    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._wake = asyncio.Event()
        self._task = loop.create_task(self._flusher())
        with self._lock:
            if self._pending or self._cursor:
                self._wake.set()

    def shutdown(self) -> None:
        self.closing = True
        for d in self.docs.values():
            d.notify()
        if self._task is not None:
            self._task.cancel()

    # -- thread-safe entry points ------------------------------------------------------------
    def _kick(self) -> None:
        # caller holds no lock; schedules one wake-up per burst
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        loop = self.loop
        if loop is not None and self._wake is not None:
            try:
                loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # loop closed
                pass

    def submit_publish(self, key: str, uri: str, version: int, text: str, fmt: str) -> None:
        with self._lock:
            self._pending[key] = ("publish", uri, version, text, fmt)
        self._kick()

    def submit_close(self, key: str, reason: str = "closed") -> None:
        with self._lock:
            self._pending[key] = ("close", reason)
        self._kick()

    def submit_cursor(self, key: str, offset: int | None) -> None:
        with self._lock:
            self._cursor[key] = offset
        self._kick()

    def submit_status(self, key: str, text: str | None) -> None:
        """Thread-safe: show ``text`` (one line; None clears it) in the page's bar."""
        with self._lock:
            self._status[key] = text
        self._kick()

    # -- the flusher -------------------------------------------------------------------------
    async def _flusher(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            with self._lock:
                pending, self._pending = self._pending, {}
                cursors, self._cursor = self._cursor, {}
                statuses, self._status = self._status, {}
                self._scheduled = False
            done = set()
            for key, op in pending.items():
                try:
                    if op[0] == "publish":
                        await self._publish(key, *op[1:])
                    else:
                        self._close(key, op[1])
                    done.add(key)
                except Exception:  # one document's failure must not stop the others
                    log.exception("preview: update of %r failed", key)
            for key, offset in cursors.items():
                try:
                    self._set_cursor(key, offset)
                except Exception:
                    log.exception("preview: cursor of %r failed", key)
            for key, text in statuses.items():
                doc = self.docs.get(key)
                if doc is not None and text != doc.status:
                    doc.status = None if text is None else str(text).splitlines()[0][:300] if str(text) else ""
                    doc.status_gen += 1
                    doc.notify()
            if self.after_flush is not None and done:
                self.after_flush(done)

    async def _publish(self, key: str, uri: str, version: int, text: str, fmt: str) -> None:
        fmt = normalise_format(fmt) or "text/plain"
        text, uri = _valid_text(text), _valid_text(uri)
        doc = self.docs.get(key)
        if doc is None:
            doc = self.docs[key] = Doc(key)
            doc.seq = self._seq_base.pop(key, -1)  # ids keep increasing across a reopen
        old_view, old_idx = doc.view, doc.view_idx
        live = old_view is not None and doc.complete is None and doc.format == fmt

        fast = None
        if live and doc.identity and fmt in HTML_FORMATS:
            # typing in an HTML artifact whose markers are all kept: no render, no rescan
            fast = fast_update(doc.text, text, old_idx)

        def work():
            view = render_view(text, fmt).body
            idx = scan(view)
            ops = changed_targets(old_view, view, old_idx, idx) if live else None
            return view, idx, ops, view is text or view == text

        if fast is not None:
            view, idx, ops, identity = text, fast[0], fast[1], True
        elif len(text) > THREAD_RENDER_CHARS:
            view, idx, ops, identity = await asyncio.to_thread(work)
        else:
            view, idx, ops, identity = work()
        doc.identity = identity
        if identity:
            doc._raw = (text, idx)
        reopened = doc.complete is not None
        doc.uri, doc.version, doc.text = uri, version, text
        format_changed = doc.format != fmt
        doc.format = fmt
        doc.view, doc.view_idx = view, idx
        doc.complete = None
        if old_view is None or reopened or format_changed or ops is None:
            item = doc.push("synthesize", [{"body": view}])
            if old_view is not None and not reopened and not format_changed:
                # a change outside every target: viewers that asked for it get only the range
                item.alt = splice_item(old_view, view, item.seq, key, doc.meta())
        elif ops:
            doc.push(
                "edit",
                [{"op": "replace", "target": {"type": "id", "value": i}, "content": c} for i, c in ops],
            )
        # else: the view did not change (e.g. only a marker attribute changed): no event

    def _close(self, key: str, reason: str) -> None:
        doc = self.docs.get(key)
        if doc is None or doc.complete is not None:
            return
        digest = hashlib.sha256(doc.text.encode("utf-8")).hexdigest()
        doc.complete = Item("gap:complete", _dumps({"reason": reason, "checksum": "sha256:" + digest, "artifact_id": key}))
        doc.notify()
        if self.loop is not None:
            self.loop.call_later(GC_AFTER, self._forget, key, doc)

    def _forget(self, key: str, doc: Doc) -> None:
        """Drop a closed document (its text, view and log) once no viewer is left on it."""
        if self.docs.get(key) is not doc or doc.complete is None:
            return  # reopened meanwhile
        if doc.subscribers > 0 and self.loop is not None:
            self.loop.call_later(GC_AFTER, self._forget, key, doc)
            return
        del self.docs[key]
        self._seq_base[key] = doc.seq

    def _set_cursor(self, key: str, offset: int | None) -> None:
        doc = self.docs.get(key)
        if doc is None or doc.view_idx is None:
            return
        target = None
        if offset is not None:
            sp = doc.raw_index().innermost_at(max(0, int(offset)))
            while sp is not None and sp.info.id not in doc.view_idx:
                sp = doc.raw_index().get(sp.parent) if sp.parent is not None else None
            target = sp.info.id if sp is not None else None
        if target != doc.cursor:
            doc.cursor = target
            doc.cursor_gen += 1
            doc.notify()

    # -- reads (on the loop) -----------------------------------------------------------------
    def drop_viewers(self, key: str) -> None:
        """End every open stream of ``key`` without ``gap:complete`` (as a network failure
        would): viewers reconnect and resume with ``Last-Event-ID``. For tests and restarts."""
        doc = self.docs.get(key)
        if doc is not None:
            doc.drop_gen += 1
            doc.notify()

    def live_docs(self) -> list[Doc]:
        return [d for d in self.docs.values() if d.complete is None and d.view is not None]

    def close_all(self, reason: str) -> None:
        for key in list(self.docs):
            self._close(key, reason)

    def source_offset(self, key: str, target: str) -> tuple[str, int] | None:
        """(uri, offset of the target's content in the source text) for click-to-source."""
        doc = self.docs.get(key)
        if doc is None:
            return None
        sp = doc.raw_index().get(target)
        if sp is None:
            return None
        return doc.uri, sp.content_start

    async def stream(self, doc: Doc, last_event_id: str | None, splice: bool = False) -> AsyncIterator[Item]:
        """The event sequence for one viewer (GAP-SSE §3, §6).

        Without ``last_event_id``: a synthesize of the current view. With one: the envelopes
        after it from the log, or ``gap:error`` ``seq_expired`` (non-fatal here) followed by a
        synthesize when it is no longer in the log. Then every new envelope as it comes (a
        viewer that falls more than :data:`COALESCE_AFTER` events behind gets one synthesize
        instead), ``preview:cursor`` when the editor's target changes, ``gap:heartbeat`` after
        :attr:`heartbeat` idle seconds, and ``gap:complete`` when the document closes.

        With ``splice`` (the preview page's own stream, ``?splice=1``), a synthesize that has a
        ``preview:splice`` form is sent in that form instead, with the same id: the changed range
        against the previous view, which such a viewer always has (it received every event
        before it, or a synthesize). Without it the stream is plain GAP-SSE.
        """
        doc.subscribers += 1
        drop_gen = doc.drop_gen
        if last_event_id is not None:
            self.resumes.append(last_event_id)
        try:
            pos: int
            if last_event_id is None or doc.view is None:
                if doc.view is not None:
                    yield doc.snapshot()
                pos = doc.seq
            else:
                try:
                    n = int(last_event_id.strip().rsplit(":", 1)[-1])
                except ValueError:
                    n = None
                if n is None or n > doc.seq or n < doc.oldest() - 1:
                    yield _error(
                        "seq_expired",
                        f"event {last_event_id!r} is no longer available; sending a full snapshot",
                        doc.key,
                    )
                    yield doc.snapshot()
                    pos = doc.seq
                else:
                    pos = n
            cursor_gen = 0 if doc.cursor is not None else doc.cursor_gen
            status_gen = 0 if doc.status is not None else doc.status_gen
            while not self.closing and doc.drop_gen == drop_gen:
                ev = doc.changed
                if doc.seq > pos:
                    oldest = doc.oldest()
                    if pos + 1 < oldest or doc.seq - pos > COALESCE_AFTER:
                        yield doc.snapshot()
                        pos = doc.seq
                    else:
                        for item in list(islice(doc.log, pos + 1 - oldest, None)):
                            yield item.alt if splice and item.alt is not None else item
                            pos = item.seq
                    continue
                if cursor_gen != doc.cursor_gen:
                    cursor_gen = doc.cursor_gen
                    yield doc.cursor_item()
                    continue
                if status_gen != doc.status_gen:
                    status_gen = doc.status_gen
                    yield doc.status_item()
                    continue
                if doc.complete is not None:
                    yield doc.complete
                    return
                try:
                    await asyncio.wait_for(ev.wait(), self.heartbeat)
                except (asyncio.TimeoutError, TimeoutError):
                    yield HEARTBEAT
        finally:
            doc.subscribers -= 1
