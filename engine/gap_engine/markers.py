"""Target markers: scanning, an incrementally maintained index, and stripping (GAP §3.2, §7.4).

A target is the region between ``<gap:target id="ID" …>`` and its matching ``</gap:target>``.
Markers nest. :func:`scan` reads a body once, in linear time, into an :class:`Index`; an index
then follows edits with :meth:`Index.splice` without rescanning the untouched parts: positions
after an edit are shifted lazily (each record remembers how many recorded shifts it has already
seen), and only the inserted text is scanned for new markers.

Offsets are Python string indexes (code points) into the body, half-open ``[start, end)``.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import Iterable, Iterator

import attrs

# `<gap:target …>` or `</gap:target …>`; group 1 is "/" for a closing marker, group 2 the rest.
_MARKER = re.compile(r"<(/?)gap:target\b([^>]*)>")
_ID_ONLY = re.compile(r"\s+id\s*=\s*\"([^\"]*)\"\s*\Z")
_ATTR = re.compile(r"([A-Za-z_:][-\w:.]*)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")

#: Above this many pending shifts, an index resolves every record once and starts afresh.
_MAX_PENDING = 32


@attrs.frozen(slots=True)
class TargetInfo:
    """What a handle says of one target (GAP §7.2 "Target info schema").

    ``type``, ``label`` and ``accepts`` are the marker's optional attributes; ``attrs`` holds
    every attribute of the opening marker as written (including ``id``), in source order.
    """

    id: str
    label: str | None = None
    accepts: str | None = None
    type: str | None = None
    attrs: tuple[tuple[str, str], ...] = attrs.field(default=(), eq=False, repr=False)

    def to_dict(self) -> dict:
        """The handle's wire form: ``{"id"[, "label"][, "accepts"][, "type"]}``."""
        out = {"id": self.id}
        if self.label is not None:
            out["label"] = self.label
        if self.accepts is not None:
            out["accepts"] = self.accepts
        if self.type is not None:
            out["type"] = self.type
        return out


@attrs.frozen(slots=True)
class TargetSpan:
    """Where one target lies in a body, resolved to current offsets.

    ``start``/``end`` cover the whole marked region including both markers;
    ``content_start``/``content_end`` the text between them. ``parent`` is the id of the
    innermost enclosing target (None at top level); ``depth`` counts enclosing targets.
    """

    info: TargetInfo
    start: int
    content_start: int
    content_end: int
    end: int
    parent: str | None
    depth: int

    @property
    def id(self) -> str:
        return self.info.id


@attrs.frozen(slots=True)
class MarkerProblem:
    """A malformed marker found by :func:`scan`.

    ``kind`` is one of ``unclosed`` (an opening marker never closed), ``stray_close`` (a
    closing marker with no open target), ``duplicate_id`` (an id already used earlier in the
    body; the first one is the target), ``missing_id`` (an opening marker without ``id``),
    ``self_closing`` (``<gap:target …/>``, which marks no region). ``start``/``end`` span the
    offending marker.
    """

    kind: str
    message: str
    start: int
    end: int
    id: str | None = None


class _Rec:
    """One target's offsets as of ``epoch`` pending shifts of its index (internal)."""

    __slots__ = ("info", "os", "cs", "ce", "oe", "parent", "depth", "epoch", "dup")

    def __init__(self, info, os, cs, ce, oe, parent, depth, epoch):
        self.dup = False
        self.info = info
        self.os = os
        self.cs = cs
        self.ce = ce
        self.oe = oe
        self.parent = parent
        self.depth = depth
        self.epoch = epoch


def _parse_attrs(raw: str) -> tuple[tuple[tuple[str, str], ...], str | None]:
    m = _ID_ONLY.match(raw)
    if m is not None:
        return (("id", m.group(1)),), m.group(1)
    pairs = []
    ident = None
    for am in _ATTR.finditer(raw):
        val = am.group(2) if am.group(2) is not None else am.group(3)
        pairs.append((am.group(1), val))
        if am.group(1) == "id" and ident is None:
            ident = val
    return tuple(pairs), ident


def _info(pairs: tuple[tuple[str, str], ...], ident: str) -> TargetInfo:
    if len(pairs) == 1:
        return TargetInfo(ident, attrs=pairs)
    d = dict(pairs)
    return TargetInfo(ident, d.get("label"), d.get("accepts"), d.get("type"), pairs)


def _scan_raw(text: str, base: int, epoch: int, parent: str | None, depth0: int):
    """Scan ``text`` (offsets shifted by ``base``) → (recs in document order, problems)."""
    recs: list[_Rec] = []
    problems: list[MarkerProblem] = []
    seen: set[str] = set()
    stack: list[_Rec | None] = []  # None stands for an opening marker without an id
    for m in _MARKER.finditer(text):
        ms, me = m.start() + base, m.end() + base
        if m.group(1):  # closing marker
            if not stack:
                problems.append(MarkerProblem("stray_close", "closing </gap:target> has no open target", ms, me))
                continue
            rec = stack.pop()
            if rec is not None:
                rec.ce = ms
                rec.oe = me
            continue
        raw = m.group(2)
        if raw.rstrip().endswith("/"):
            problems.append(MarkerProblem("self_closing", "self-closing <gap:target …/> marks no region", ms, me))
            continue
        pairs, ident = _parse_attrs(raw)
        if ident is None:
            problems.append(MarkerProblem("missing_id", "opening <gap:target> has no id attribute", ms, me))
            stack.append(None)
            continue
        par = parent
        for s in reversed(stack):
            if s is not None:
                par = s.info.id
                break
        rec = _Rec(_info(pairs, ident), ms, me, -1, -1, par, depth0 + len(stack), epoch)
        if ident in seen:
            problems.append(
                MarkerProblem("duplicate_id", f"target id {ident!r} is already used earlier", ms, me, ident)
            )
            rec.dup = True  # tracked for nesting only
        else:
            seen.add(ident)
        recs.append(rec)
        stack.append(rec)
    for rec in stack:
        if rec is not None:
            ident = rec.info.id
            problems.append(
                MarkerProblem("unclosed", f"<gap:target id={ident!r}> is never closed", rec.os, rec.cs, ident)
            )
    return recs, problems


class Index:
    """The targets of one body: lookups by id, document order, nesting, problems.

    Build one with :func:`scan`; derive the index of an edited body with :meth:`splice`.
    An index is immutable once built: :meth:`splice` returns a new one and never disturbs the
    original (so dry runs are free).

    Attributes:
        problems: the :class:`MarkerProblem` s found, in document order (offsets valid only
            for the body the index was scanned from; an index with problems is rescanned on
            every splice).
        infos: the :class:`TargetInfo` of every well-formed, unique target in document order.
    """

    __slots__ = ("_recs", "infos", "_deltas", "problems")

    def __init__(self, recs: dict, infos: tuple, deltas: tuple, problems: tuple):
        self._recs = recs
        self.infos: tuple[TargetInfo, ...] = infos
        self._deltas = deltas
        self.problems: tuple[MarkerProblem, ...] = problems

    # -- lookups -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.infos)

    def __contains__(self, target_id: object) -> bool:
        return target_id in self._recs

    def ids(self) -> list[str]:
        """Target ids in document order."""
        return [i.id for i in self.infos]

    def get(self, target_id: str) -> TargetSpan | None:
        """The span of ``target_id``, or None when the body has no such (well-formed) target."""
        rec = self._recs.get(target_id)
        if rec is None:
            return None
        os, cs, ce, oe = self._resolve(rec)
        return TargetSpan(rec.info, os, cs, ce, oe, rec.parent, rec.depth)

    def spans(self) -> Iterator[TargetSpan]:
        """Every target's span in document order (parents before their children)."""
        recs = self._recs
        for info in self.infos:
            rec = recs[info.id]
            os, cs, ce, oe = self._resolve(rec)
            yield TargetSpan(info, os, cs, ce, oe, rec.parent, rec.depth)

    def innermost_at(self, offset: int) -> TargetSpan | None:
        """The innermost target whose whole region ``[start, end)`` contains ``offset``."""
        j = self._first_starting_at_or_after(offset + 1)
        if j == 0:
            return None
        rec = self._recs[self.infos[j - 1].id]
        while rec is not None:
            os, cs, ce, oe = self._resolve(rec)
            if os <= offset < oe:
                return TargetSpan(rec.info, os, cs, ce, oe, rec.parent, rec.depth)
            rec = self._recs.get(rec.parent) if rec.parent is not None else None
        return None

    # -- positions ---------------------------------------------------------------------------
    def _resolve(self, rec: _Rec) -> tuple[int, int, int, int]:
        os, cs, ce, oe = rec.os, rec.cs, rec.ce, rec.oe
        deltas = self._deltas
        for i in range(rec.epoch, len(deltas)):
            s, d = deltas[i]
            # opening starts and content ends move with text inserted exactly at them;
            # content starts and closing ends stay (the inserted text lands inside / after).
            if os >= s:
                os += d
            if cs > s:
                cs += d
            if ce >= s:
                ce += d
            if oe > s:
                oe += d
        return os, cs, ce, oe

    def _os(self, j: int) -> int:
        return self._resolve(self._recs[self.infos[j].id])[0]

    def _first_starting_at_or_after(self, pos: int) -> int:
        lo, hi = 0, len(self.infos)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._os(mid) < pos:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def compacted(self) -> "Index":
        """The same index with every pending shift resolved (cheaper lookups afterwards)."""
        if not self._deltas:
            return self
        recs = {}
        for k, rec in self._recs.items():
            os, cs, ce, oe = self._resolve(rec)
            recs[k] = _Rec(rec.info, os, cs, ce, oe, rec.parent, rec.depth, 0)
        return Index(recs, self.infos, (), self.problems)

    # -- derivation --------------------------------------------------------------------------
    def splice(self, start: int, end: int, text: str, new_body: str) -> "Index":
        """The index of ``new_body`` = old body with ``[start, end)`` replaced by ``text``.

        Targets wholly inside ``[start, end)`` disappear, markers in ``text`` become new
        targets, everything after shifts; untouched parts are not rescanned. When the splice
        cuts through a marker, or the result has malformed or duplicate markers, the new body
        is scanned in full instead (still correct, just not incremental).
        """
        if self.problems:
            return scan(new_body)
        infos = self.infos
        recs = self._recs
        j = self._first_starting_at_or_after(start)
        # Targets starting inside a replaced range must end inside it (clean removal); a point
        # insertion (start == end) removes nothing, even right before an opening marker.
        k = j
        n = len(infos)
        removed = []
        if start < end:
            while k < n:
                rec = recs[infos[k].id]
                os, cs, ce, oe = self._resolve(rec)
                if os >= end:
                    break
                if oe > end:
                    return scan(new_body)
                removed.append(rec.info.id)
                k += 1
        # The innermost target still open at `start` must contain the whole range in its
        # content; it is the last target opened before `start` or one of its ancestors.
        container = None
        if j > 0:
            rec = recs[infos[j - 1].id]
            while rec is not None:
                os, cs, ce, oe = self._resolve(rec)
                if oe > start:
                    if not (cs <= start and end <= ce):
                        return scan(new_body)
                    container = rec
                    break
                rec = recs.get(rec.parent) if rec.parent is not None else None
        epoch = len(self._deltas) + 1
        new_recs_list: list[_Rec] = []
        if "gap:target" in text:
            new_recs_list, problems = _scan_raw(
                text,
                start,
                epoch,
                container.info.id if container is not None else None,
                container.depth + 1 if container is not None else 0,
            )
            if problems:
                return scan(new_body)
        new_recs = recs.copy()
        for rid in removed:
            del new_recs[rid]
        for r in new_recs_list:
            if r.info.id in new_recs:
                return scan(new_body)  # a duplicate id: let the full scan report it
            new_recs[r.info.id] = r
        new_infos = infos[:j] + tuple(r.info for r in new_recs_list) + infos[k:] if (new_recs_list or removed) else infos
        idx = Index(new_recs, new_infos, self._deltas + ((start, len(text) - (end - start)),), ())
        if len(idx._deltas) > _MAX_PENDING:
            idx = idx.compacted()
        return idx


def scan(body: str) -> Index:
    """Index every target marker of ``body`` in one linear pass (GAP §3.2, §7.4).

    Never raises: malformed markers are reported in :attr:`Index.problems`, and only
    well-formed targets with unique ids are addressable.
    """
    recs, problems = _scan_raw(body, 0, 0, None, 0)
    good = {}
    infos = []
    for r in recs:
        if r.dup or r.oe < 0:
            continue
        good[r.info.id] = r
        infos.append(r.info)
    # a child of an unclosed or duplicate marker keeps a parent id that is not addressable
    return Index(good, tuple(infos), (), tuple(sorted(problems, key=lambda p: p.start)))


def strip(body: str) -> str:
    """``body`` with every ``<gap:target …>`` and ``</gap:target>`` marker removed.

    Used for clean exports and for rendering; content between markers is kept as is.
    """
    if "gap:target" not in body:
        return body
    return _MARKER.sub("", body)


def iter_markers(body: str) -> Iterable[tuple[int, int, bool]]:
    """Every marker as ``(start, end, is_closing)``, in document order."""
    for m in _MARKER.finditer(body):
        yield m.start(), m.end(), bool(m.group(1))
