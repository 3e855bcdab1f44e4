"""Target markers: scanning, an incrementally maintained index, and stripping (GAP §3.2, §7.4).

A target is the region between ``<gap:target id="ID" …>`` and its matching ``</gap:target>``.
Markers nest. :func:`scan` reads a body once, in linear time, into an :class:`Index`; an index
then follows edits with :meth:`Index.splice` without rescanning the untouched parts: positions
after an edit are shifted lazily (each record remembers how many recorded shifts it has already
seen), and only the inserted text is scanned for new markers.

Offsets are Python string indexes (code points) into the body, half-open ``[start, end)``.
"""

from __future__ import annotations

import gc
import re
from bisect import bisect_left
from itertools import chain
from operator import itemgetter
from typing import Iterable, Iterator

import attrs

from ._fast import fast_ctor

# `<gap:target …>` or `</gap:target …>` (the element name ends there: `<gap:target-x>` is another
# element, not a marker); group 1 is "/" for a closing marker, group 2 the rest.
_MARKER = re.compile(r"<(/?)gap:target(?=[\s/>])([^>]*)>")
# The same markers, split for the scanner: 1 "/" for a closing marker, 2 the attribute text,
# 3 the id when it is the first attribute (double-quoted, no ">"), 4 what follows it.
_MARKER_FAST = re.compile(r"<(/?)gap:target(?=[\s/>])((?:\s+id\s*=\s*\"([^\">]*)\")?([^>]*))>")
_ID_ONLY = re.compile(r"\s+id\s*=\s*\"([^\"]*)\"\s*\Z")
# (a name starts at the first name-start character of a run of name characters: matching is
# tried once per run, not once per character, so a long run without "=" stays linear)
_ATTR = re.compile(r"(?<![-\w:.])(?:[-.]|(?![A-Za-z_])\w)*+([A-Za-z_:][-\w:.]*+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")

# an attribute value whose quote is not closed within the marker: a ">" in it ended the marker
_CUT_QUOTE = re.compile(r"[\"']")
_CUT_MESSAGE = (
    "an attribute value of this <gap:target> holds '>' (write &gt;): the marker ends there "
    "and the rest of the value is read as content"
)

_OS_KEY = itemgetter(3)  # a record's opening start (valid when no shift is pending)

#: Above this many pending shifts, an index resolves every record once and starts afresh.
_MAX_PENDING = 32


@attrs.frozen(slots=True, weakref_slot=False)
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
    ``self_closing`` (``<gap:target …/>``, which marks no region), ``bad_attribute`` (a
    quoted attribute value cut by a ``>`` in it, e.g. ``label="a > b"``: markers end at the
    first ``>``, so write ``&gt;``). ``start``/``end`` span the offending marker. An empty
    ``id=""`` counts as ``missing_id``: no operation can name it.
    """

    kind: str
    message: str
    start: int
    end: int
    id: str | None = None


# A record of one opening marker is a list (internal; lists are the cheapest objects to build
# in the scanner's hot loop): [id, raw attrs, TargetInfo, open start, content start,
# content end, close end, parent id, depth, epoch, kind]. Offsets are as of `epoch` pending
# shifts of the index. Kind: 0 a well-formed unique target, 1 a duplicate id, 2 unclosed,
# 3 an opening marker without id. `raw` is None when the marker is just `id="…"`; the
# TargetInfo is built on first use.
_ID, _RAW, _INF, _OS, _CS, _CE, _OE, _PAR, _DEP, _EP, _KIND = range(11)

_new_info = fast_ctor(TargetInfo)  # (id, label, accepts, type, attrs)

#: TargetInfo by attribute text, shared between scans (infos are immutable); bounded.
_INFO_CACHE: dict = {}
_INFO_CACHE_MAX = 1 << 16


def _rec_info(rec) -> TargetInfo:
    info = rec[_INF]
    if info is None:
        ident = rec[_ID]
        raw = rec[_RAW]
        key = ident if raw is None else raw
        info = _INFO_CACHE.get(key)
        if info is None or info.id != ident:
            if raw is None:
                info = _new_info(ident, None, None, None, (("id", ident),))
            else:
                pairs, _ = _parse_attrs(raw)
                info = _info(pairs, ident)
            if len(_INFO_CACHE) >= _INFO_CACHE_MAX:
                _INFO_CACHE.clear()
            _INFO_CACHE[key] = info
        rec[_INF] = info
    return info


def _moved(rec, os, cs, ce, oe, epoch):
    r = rec.copy()
    r[_OS] = os
    r[_CS] = cs
    r[_CE] = ce
    r[_OE] = oe
    r[_EP] = epoch
    return r


def _parse_attrs(raw: str) -> tuple[tuple[tuple[str, str], ...], str | None]:
    m = _ID_ONLY.match(raw)
    if m is not None:
        return (("id", m.group(1)),), m.group(1)
    pairs = tuple([(name, dq or sq) for name, dq, sq in _ATTR.findall(raw)])
    ident = None
    for name, val in pairs:
        if name == "id":
            ident = val
            break
    return pairs, ident


def _info(pairs: tuple[tuple[str, str], ...], ident: str) -> TargetInfo:
    if len(pairs) == 1:
        return _new_info(ident, None, None, None, pairs)
    d = dict(pairs)
    return _new_info(ident, d.get("label"), d.get("accepts"), d.get("type"), pairs)


def _scan_raw(text: str, base: int, epoch: int, parent: str | None, depth0: int):
    """Scan ``text`` (offsets shifted by ``base``) → (every opening marker's record in document
    order, problems). Records of kind 0 are the addressable targets.

    This is the hot path of indexing: one regular-expression match per marker and one small
    list per opening marker (target infos are built lazily).
    """
    recs: list = []
    problems: list[MarkerProblem] = []
    good: dict = {}  # id → record of its first opening marker (later ones are duplicates)
    stack: list = []
    append = recs.append
    push = stack.append
    pop = stack.pop
    par = parent
    depth = depth0
    # a marker ends with ">": none starts after the last one (and a "<gap:target" there would
    # search to the end of the text for it, quadratically when there are many)
    for m in _MARKER_FAST.finditer(text, 0, text.rfind(">") + 1):
        close, raw, sid, rest = m.groups()
        if close:
            ms, me = m.span()
            if stack:
                rec = pop()
                rec[5] = ms + base
                rec[6] = me + base
                depth -= 1
                par = rec[7]
            else:
                problems.append(MarkerProblem("stray_close", "closing </gap:target> has no open target", ms + base, me + base))
            continue
        ms, me = m.span()
        if sid and (not rest or rest.isspace()):
            ident = sid
            raw = None
        else:
            tail = raw.rstrip()[-1:]
            if tail == "/":
                problems.append(MarkerProblem("self_closing", "self-closing <gap:target …/> marks no region", ms + base, me + base))
                continue
            # attributes end with a closing quote; otherwise look for a value cut by a ">"
            if tail != '"' and tail != "'" and _CUT_QUOTE.search(_ATTR.sub("", raw)):
                problems.append(MarkerProblem("bad_attribute", _CUT_MESSAGE, ms + base, me + base))
            ident = sid if sid is not None else _parse_attrs(raw)[1]
            if not ident:  # no id, or id="" (which no edit operation can name: GAP §4.2)
                what = "has no id attribute" if ident is None else 'has an empty id (id="")'
                problems.append(MarkerProblem("missing_id", f"opening <gap:target> {what}", ms + base, me + base))
                rec = [None, raw, None, ms + base, me + base, -1, -1, par, depth, epoch, 3]
                append(rec)
                push(rec)
                depth += 1
                continue
        if ident in good:
            problems.append(
                MarkerProblem("duplicate_id", f"target id {ident!r} is already used earlier", ms + base, me + base, ident)
            )
            rec = [ident, raw, None, ms + base, me + base, -1, -1, par, depth, epoch, 1]  # nesting only
        else:
            rec = [ident, raw, None, ms + base, me + base, -1, -1, par, depth, epoch, 0]
            good[ident] = rec
        append(rec)
        push(rec)
        depth += 1
        par = ident
    for rec in stack:
        if rec[10] != 3:
            ident = rec[0]
            problems.append(MarkerProblem("unclosed", f"<gap:target id={ident!r}> is never closed", rec[3], rec[4], ident))
            if rec[10] == 0:
                rec[10] = 2
                del good[ident]
    return recs, problems, good


def joins_marker(body: str, pos: int) -> bool:
    """Does a marker of ``body`` start before ``pos`` and end after it? (internal)"""
    return _joins_marker(body, pos)


def _joins_marker(body: str, pos: int) -> bool:
    """Does a marker of ``body`` start before ``pos`` and end after it?"""
    if pos <= 0 or pos >= len(body) or body[pos - 1] == ">":
        return False  # a marker holds no ">" before its end
    lt = body.rfind("<", 0, pos)
    while lt >= 0:
        if body.find(">", lt, pos) >= 0:
            return False  # any marker starting at or before `lt` ends before `pos`
        if body.startswith("gap:target", lt + 1) or body.startswith("/gap:target", lt + 1):
            m = _MARKER.match(body, lt)
            if m is not None and m.end() > pos:
                return True
        lt = body.rfind("<", 0, lt)
    return False


def _problem_start(p: MarkerProblem) -> int:
    return p.start


def _shift_problem(p: MarkerProblem, d: int) -> MarkerProblem:
    return MarkerProblem(p.kind, p.message, p.start + d, p.end + d, p.id)


class Index:
    """The targets of one body: lookups by id, document order, nesting, problems.

    Build one with :func:`scan`; derive the index of an edited body with :meth:`splice`.
    An index is immutable once built: :meth:`splice` returns a new one and never disturbs the
    original (so dry runs are free).

    Attributes:
        problems: the :class:`MarkerProblem` s found, in document order (offsets valid for the
            body this index describes).
        infos: the :class:`TargetInfo` of every well-formed, unique target in document order
            (built on first access).
    """

    __slots__ = ("_recs", "_order", "_infos", "_deltas", "problems", "_others", "_dups", "_parents")

    def __init__(
        self, recs: dict, order: tuple, deltas: tuple, problems: tuple, others: tuple = (), dups: frozenset = frozenset(), infos=None
    ):
        self._recs = recs
        self._order: tuple = order
        self._infos: tuple[TargetInfo, ...] | None = infos
        self._deltas = deltas
        self.problems: tuple[MarkerProblem, ...] = problems
        # opening markers that are not addressable targets (duplicates, unclosed, no id):
        # they still nest, so incremental splices must know where they are
        self._others: tuple = others
        # ids that occur more than once
        self._dups: frozenset = dups
        # ids of the targets that contain other targets (built on first use by _parent_ids)
        self._parents: frozenset | None = None

    @property
    def infos(self) -> tuple[TargetInfo, ...]:
        """Every addressable target's :class:`TargetInfo`, in document order (GAP §7.2 "Target
        info schema"); built on first use, then derived incrementally by :meth:`splice`."""
        infos = self._infos
        if infos is None:
            infos = tuple([_rec_info(r) for r in self._order])
            self._infos = infos
        return infos

    def _parent_ids(self) -> frozenset:
        """Ids of the targets whose content holds another target (internal). With no marker
        problems every marker belongs to a well-formed target, so a target's content holds a
        marker exactly when its id is in this set: the apply fast paths ask this instead of
        searching the replaced text. Built once per marker structure (O(targets)); indexes
        derived by shifts alone share it."""
        parents = self._parents
        if parents is None:
            parents = self._parents = frozenset([r[_PAR] for r in self._order])
        return parents

    # -- lookups -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, target_id: object) -> bool:
        return target_id in self._recs

    def ids(self) -> list[str]:
        """Target ids in document order."""
        return [r[_ID] for r in self._order]

    def get(self, target_id: str) -> TargetSpan | None:
        """The span of ``target_id``, or None when the body has no such (well-formed) target."""
        rec = self._recs.get(target_id)
        if rec is None:
            return None
        os, cs, ce, oe = self._resolve(rec)
        return TargetSpan(_rec_info(rec), os, cs, ce, oe, rec[_PAR], rec[_DEP])

    def _content_range(self, target_id: str) -> tuple[int, int] | None:
        """``(content_start, content_end)`` of ``target_id`` or None (the apply hot path)."""
        rec = self._recs.get(target_id)
        if rec is None:
            return None
        if rec[9] == len(self._deltas):
            return rec[4], rec[5]
        _, cs, ce, _ = self._resolve(rec)
        return cs, ce

    def spans(self) -> Iterator[TargetSpan]:
        """Every target's span in document order (parents before their children)."""
        for rec in self._order:
            os, cs, ce, oe = self._resolve(rec)
            yield TargetSpan(_rec_info(rec), os, cs, ce, oe, rec[_PAR], rec[_DEP])

    def innermost_at(self, offset: int) -> TargetSpan | None:
        """The innermost target whose whole region ``[start, end)`` contains ``offset``."""
        j = self._first_starting_at_or_after(offset + 1)
        if j == 0:
            return None
        rec = self._order[j - 1]
        while rec is not None:
            os, cs, ce, oe = self._resolve(rec)
            if os <= offset < oe:
                return TargetSpan(_rec_info(rec), os, cs, ce, oe, rec[_PAR], rec[_DEP])
            par = rec[_PAR]
            if par is not None and par in self._dups:  # ambiguous parent id: look linearly
                for r in reversed(self._order[: j - 1]):
                    os, cs, ce, oe = self._resolve(r)
                    if os <= offset < oe:
                        return TargetSpan(_rec_info(r), os, cs, ce, oe, r[_PAR], r[_DEP])
                return None
            rec = self._recs.get(par) if par is not None else None
        return None

    # -- positions ---------------------------------------------------------------------------
    def _resolve(self, rec) -> tuple[int, int, int, int]:
        os, cs, ce, oe = rec[3], rec[4], rec[5], rec[6]
        ep = rec[9]
        deltas = self._deltas
        for s, d in (deltas[ep:] if ep else deltas):
            # opening starts and content ends move with text inserted exactly at them;
            # content starts and closing ends stay (the inserted text lands inside / after).
            if os >= s:  # the whole target is at or after the shift
                os += d
                cs += d
                if oe >= 0:
                    ce += d
                    oe += d
            elif oe > s:  # the target contains the shift
                if cs > s:
                    cs += d
                if ce >= s:
                    ce += d
                oe += d
        return os, cs, ce, oe

    def _os(self, rec) -> int:
        os = rec[3]
        ep = rec[9]
        for s, d in (self._deltas[ep:] if ep else self._deltas):
            if os >= s:
                os += d
        return os

    def _first_starting_at_or_after(self, pos: int) -> int:
        order = self._order
        lo, hi = 0, len(order)
        if not self._deltas:
            while lo < hi:
                mid = (lo + hi) // 2
                if order[mid][3] < pos:
                    lo = mid + 1
                else:
                    hi = mid
            return lo
        os_of = self._os
        while lo < hi:
            mid = (lo + hi) // 2
            if os_of(order[mid]) < pos:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def compacted(self) -> "Index":
        """The same index with every pending shift resolved (cheaper lookups afterwards)."""
        if not self._deltas:
            return self
        positions = self._bulk_positions()
        recs = {}
        order = []
        if positions is None:  # the simple way: every record through every pending shift
            for rec in self._order:
                r = _moved(rec, *self._resolve(rec), 0)
                recs[r[_ID]] = r
                order.append(r)
        else:
            resolve = self._resolve
            for rec, pos in zip(self._order, positions):
                os, cs, ce, oe = pos if pos is not None else resolve(rec)
                r = [rec[0], rec[1], rec[2], os, cs, ce, oe, rec[7], rec[8], 0, rec[10]]
                recs[rec[0]] = r
                order.append(r)
        others = tuple(_moved(rec, *self._resolve(rec), 0) for rec in self._others)
        idx = Index(recs, tuple(order), (), self.problems, others, self._dups)
        idx._infos = self._infos
        idx._parents = self._parents
        return idx

    def _bulk_positions(self):
        """Resolved positions of the records that predate every pending shift, in O(n + m²
        log n) for n records and m shifts instead of O(n·m); None entries are resolved one by
        one; None overall when the shortcut does not apply (ambiguous parent ids).

        Each shift ``(s, d)`` moves every record opening at or after ``s`` (a suffix of the
        document order, found by binary search) and, among earlier records, only those whose
        region contains ``s`` — the chain of containers of ``s`` (a shift never falls inside a
        marker: such splices rescan).
        """
        order = self._order
        deltas = self._deltas
        dups = self._dups
        bulk = [b for b, r in enumerate(order) if r[_EP] == 0]
        nb = len(bulk)
        if nb < 64:
            return None
        os0 = [order[b][_OS] for b in bulk]
        where = {order[b][_ID]: i for i, b in enumerate(bulk)}  # id → bulk index
        thresholds: list[tuple[int, int]] = []
        adj_ce = [0] * nb
        adj_oe = [0] * nb

        def shift_at(i_b: int) -> int:
            t = 0
            for k, d in thresholds:
                if k <= i_b:
                    t += d
            return t

        for s, d in deltas:
            lo, hi = 0, nb
            while lo < hi:
                mid = (lo + hi) // 2
                if os0[mid] + shift_at(mid) < s:
                    lo = mid + 1
                else:
                    hi = mid
            # containers of s: the record just before the suffix or one of its ancestors
            i_b = lo - 1
            while i_b >= 0:
                rec = order[bulk[i_b]]
                if rec[_OE] + shift_at(i_b) + adj_oe[i_b] > s:
                    adj_ce[i_b] += d
                    adj_oe[i_b] += d
                par = rec[_PAR]
                if par is None:
                    break
                if par in dups:
                    return None
                nxt = where.get(par)
                if nxt is None:
                    break  # the parent is not addressable (unclosed): nor are its ancestors
                i_b = nxt
            thresholds.append((lo, d))
        thresholds.sort()
        out: list = [None] * len(order)
        t = 0
        ti = 0
        nt = len(thresholds)
        for i_b, b in enumerate(bulk):
            while ti < nt and thresholds[ti][0] <= i_b:
                t += thresholds[ti][1]
                ti += 1
            rec = order[b]
            out[b] = (rec[_OS] + t, rec[_CS] + t, rec[_CE] + t + adj_ce[i_b], rec[_OE] + t + adj_oe[i_b])
        return out

    # -- derivation --------------------------------------------------------------------------
    def _shifted(self, shifts: list) -> "Index":
        """This index after text changes that touch no marker (internal fast path of apply):
        ``shifts`` are ``(position, length change)`` pairs in the order applied (each in the
        coordinates of the body before it); no target is added or removed."""
        deltas = self._deltas + tuple(shifts)
        problems = self.problems
        if problems:
            out = []
            for p in problems:
                t = 0
                ps = p.start
                for s, d in shifts:
                    if ps >= s:
                        ps += d
                        t += d
                out.append(_shift_problem(p, t) if t else p)
            problems = tuple(out)
        idx = _new_index(
            self._recs, self._order, deltas, problems, self._others, self._dups,
            self._infos if self._infos is not None else self.infos, self._parents,
        )
        if len(deltas) > _MAX_PENDING:
            idx = idx.compacted()
        return idx

    def _edit_one(self, s: int, e: int, text: str, rec, text_marked: bool = True) -> "Index | None | bool":
        """:meth:`_edit_pieces` for one piece (one operation), specialised for a body with no
        marker problems (so no duplicated, unclosed or id-less marker anywhere): targets whose
        region lies in ``[s, e)`` go, the markers of ``text`` come. Other cases, and a new id
        that is already in use, go to :meth:`_edit_pieces`. Same results and contract.
        ``text_marked`` False says the caller knows ``text`` spells no marker."""
        if self.problems or self._others:
            return self._edit_pieces(((s, e, text, rec, True),), (rec[_ID],), True)
        order = self._order
        deltas = self._deltas
        nd = len(deltas)
        recs = self._recs
        key = _OS_KEY if not nd else self._os
        j = bisect_left(order, s, key=key)
        k = bisect_left(order, e, j, key=key) if s < e else j
        new_list = ()
        if text_marked and "gap:target" in text:
            new_list, new_problems, _ = _scan_raw(text, s, nd + 1, rec[_ID], rec[_DEP] + 1)
            if new_problems:
                return False  # malformed on its own: splice would rescan the whole body too
            removed_ids = None
            for r in new_list:
                rid = r[_ID]
                if rid in recs:
                    if removed_ids is None:
                        removed_ids = {o[_ID] for o in order[j:k]}
                    if rid not in removed_ids:
                        # an id in use elsewhere: a duplicate or a take-over (the general path)
                        return self._edit_pieces(((s, e, text, rec, True),), (rec[_ID],), True)
        if j == k and not new_list:
            new_recs = recs
            new_order = order
            new_infos = self._infos if self._infos is not None else self.infos
        else:
            infos = self._infos if self._infos is not None else self.infos
            new_recs = recs.copy()
            for i in range(j, k):
                del new_recs[order[i][_ID]]
            if new_list:
                for r in new_list:
                    new_recs[r[_ID]] = r
                # one copy of each tuple (slicing and joining three would copy twice)
                new_order = list(order)
                new_order[j:k] = new_list
                new_order = tuple(new_order)
                new_infos = list(infos)
                new_infos[j:k] = [_rec_info(r) for r in new_list]
                new_infos = tuple(new_infos)
            else:
                new_order = order[:j] + order[k:]
                new_infos = infos[:j] + infos[k:]
        idx = _new_index(new_recs, new_order, deltas + ((s, len(text) - (e - s)),), (), (), self._dups, new_infos)
        if nd >= _MAX_PENDING:
            idx = idx.compacted()
        return idx

    def _edit_pieces(self, pieces, targeted, single: bool = False) -> "Index | None | bool":
        """This index after independent edits of target contents, some of which add or remove
        markers (internal fast path of apply), or None when the edits are not simple enough
        (the caller then applies them one by one through :meth:`splice`).

        ``pieces`` are ``(start, end, text, rec, marked)`` in document order, non-overlapping,
        in the coordinates of this index's body: ``[start, end)`` lies within the content of
        the target whose record is ``rec``; ``marked`` says whether the text or the replaced
        range holds ``gap:target`` at all. The pieces are applied from last to first, so each
        one's coordinates stay valid; one pending shift is recorded per piece. ``targeted`` is
        a container of the ids the envelope addresses: none of them may be removed.
        ``single`` says that the pieces come from one operation (one piece).

        Returns None unless every piece's text is well-formed on its own (balanced, unique
        ids), every new id is new to the body (or re-declares an id that the same piece
        removes; for a single operation, an id used by an earlier marker makes the new marker a
        ``duplicate_id``, as :meth:`splice` does), no removed or re-declared id is ambiguous
        (duplicated, unclosed…), and no marker problem or non-addressable marker is involved.
        Text joined with its surroundings is the caller's check. The result equals
        ``scan(new_body)``. False (rather than None) says that a piece's text is malformed on
        its own: any incremental derivation would rescan the new body.
        """
        order = self._order
        deltas = self._deltas
        nd = len(deltas)
        m = len(pieces)
        recs = self._recs
        others = self._others
        dups = self._dups
        problems = self.problems
        infos = self._infos if self._infos is not None else self.infos
        key = _OS_KEY if not nd else self._os
        other_pos = [(self._resolve(r), r[_ID]) for r in others] if others else ()
        other_ids = {r[_ID] for r in others} if others else ()
        new_dups: list = []
        seg_order: list = []
        seg_infos: list = []
        removed_all: list = []
        new_all: list = []
        prev = 0
        for i, (s, e, text, rec, marked) in enumerate(pieces):
            if not marked:
                continue
            if problems:
                for p in problems:
                    if (p.start < e and s < p.end) if s < e else (p.start < s < p.end):
                        return None  # a malformed marker inside the range, or cut by it
            if other_pos:
                t_os = rec[_OS] if rec[_EP] == nd else self._resolve(rec)[0]
                for (o_os, o_cs, o_ce, o_oe), o_id in other_pos:
                    if o_os < s:
                        if o_oe < 0 or o_oe > s:  # open at s: it must not be a closer container
                            if s < o_cs or (o_oe >= 0 and e > o_ce) or o_os > t_os:
                                return None
                    elif o_os < e:
                        return None  # a non-addressable marker would be removed
            j = bisect_left(order, s, prev, key=key)
            k = bisect_left(order, e, j, key=key) if s < e else j
            removed = order[j:k]
            if removed:
                removed_ids = {r[_ID] for r in removed}
                if not removed_ids.isdisjoint(targeted) or (dups and not removed_ids.isdisjoint(dups)):
                    return None
                removed_all.extend(removed)
            else:
                removed_ids = ()
            if "gap:target" in text:
                new_list, new_problems, _ = _scan_raw(text, s, nd + m - i, rec[_ID], rec[_DEP] + 1)
                if new_problems:
                    return False  # malformed on its own: splice would rescan the whole body too
                for r in new_list:
                    rid = r[_ID]
                    if other_ids and rid in other_ids:
                        return None  # an id already duplicated or unclosed
                    if rid in recs and rid not in removed_ids:
                        # an id already in use: for a single operation, a marker after an
                        # earlier one is a duplicate (the earlier one stays the target), as
                        # splice does
                        if not single or self._os(recs[rid]) >= s:
                            return None  # several operations, or the new marker would take over
                        r[_KIND] = 1
                        new_dups.append(r)
                if new_dups:
                    new_list = [r for r in new_list if not r[_KIND]]
                if new_all and new_list and not {r[_ID] for r in new_all}.isdisjoint([r[_ID] for r in new_list]):
                    return None
                new_all.extend(new_list)
            else:
                new_list = ()
            if removed or new_list:
                seg_order.append(order[prev:j])
                seg_order.append(new_list)
                seg_infos.append(infos[prev:j])
                seg_infos.append([_rec_info(r) for r in new_list] if new_list else ())
                prev = k
        if m == 1:
            s, e, text = pieces[0][:3]
            new_deltas = deltas + ((s, len(text) - (e - s)),)
        else:
            new_deltas = deltas + tuple([(s, len(text) - (e - s)) for s, e, text, _, _ in reversed(pieces)])
        if problems:
            out = []
            for p in problems:
                t = 0
                ps = p.start
                for s, d in new_deltas[nd:]:
                    if ps >= s:
                        ps += d
                        t += d
                out.append(_shift_problem(p, t) if t else p)
            problems = tuple(out)
        if new_dups:  # (single: one piece, so their offsets are final)
            others = others + tuple(new_dups)
            dups = dups | {r[_ID] for r in new_dups}
            added = tuple(
                [MarkerProblem("duplicate_id", f"target id {r[_ID]!r} is already used earlier", r[_OS], r[_CS], r[_ID]) for r in new_dups]
            )
            problems = tuple(sorted(problems + added, key=_problem_start))
        if seg_order:
            if len(seg_order) == 2:
                new_order = seg_order[0] + tuple(seg_order[1]) + order[prev:]
                new_infos = seg_infos[0] + tuple(seg_infos[1]) + infos[prev:]
            else:
                seg_order.append(order[prev:])
                seg_infos.append(infos[prev:])
                new_order = tuple(chain.from_iterable(seg_order))
                new_infos = tuple(chain.from_iterable(seg_infos))
            new_recs = recs.copy()
            for r in removed_all:
                del new_recs[r[_ID]]
            for r in new_all:
                new_recs[r[_ID]] = r
        else:
            new_recs = recs
            new_order = order
            new_infos = infos
        idx = _new_index(new_recs, new_order, new_deltas, problems, others, dups, new_infos)
        if len(new_deltas) > _MAX_PENDING:
            idx = idx.compacted()
        return idx

    def splice(self, start: int, end: int, text: str, new_body: str) -> "Index":
        """The index of ``new_body`` = old body with ``[start, end)`` replaced by ``text``.

        Targets wholly inside ``[start, end)`` disappear, markers in ``text`` become new
        targets, everything after shifts (lazily); untouched parts are not rescanned. Bodies
        with marker problems (unclosed, duplicate ids…) are followed incrementally too, as
        long as the replaced range and the inserted text are balanced (every marker in them
        closes within them) and no duplicated id is involved. Otherwise — e.g. when the splice
        cuts through a marker — the new body is scanned in full instead (still correct, just
        not incremental). The result always equals ``scan(new_body)``.

        Cost: O(log n) to locate the range, O(k) for the k targets removed or added, plus
        O(n) pointer copies when targets are added or removed.
        """
        order = self._order
        recs = self._recs
        deltas = self._deltas
        n = len(order)
        # first target opening at or after `start`
        lo, hi = 0, n
        if deltas:
            os_of = self._os
            while lo < hi:
                mid = (lo + hi) // 2
                if os_of(order[mid]) < start:
                    lo = mid + 1
                else:
                    hi = mid
        else:
            while lo < hi:
                mid = (lo + hi) // 2
                if order[mid][3] < start:
                    lo = mid + 1
                else:
                    hi = mid
        j = k = lo
        # Targets starting inside a replaced range must end inside it (clean removal); a point
        # insertion (start == end) removes nothing, even right before an opening marker.
        removed = ()
        if start < end:
            rl = []
            while k < n:
                rec = order[k]
                os, cs, ce, oe = self._resolve(rec)
                if os >= end:
                    break
                if oe > end:
                    return scan(new_body)
                rl.append(rec)
                k += 1
            removed = rl
        # The innermost target still open at `start` must contain the whole range in its
        # content; it is the last target opened before `start` or one of its ancestors.
        container = None
        if j > 0:
            rec = order[j - 1]
            while rec is not None:
                if rec[9] == len(deltas):
                    os, cs, ce, oe = rec[3], rec[4], rec[5], rec[6]
                else:
                    os, cs, ce, oe = self._resolve(rec)
                if oe > start:
                    if not (cs <= start and end <= ce):
                        return scan(new_body)
                    container = rec
                    break
                par = rec[_PAR]
                if par is None:
                    break
                if par in self._dups:
                    return scan(new_body)  # the parent id is ambiguous: a duplicated id
                rec = recs.get(par)
        others = self._others
        dups = self._dups
        problems = self.problems
        removed_others = ()
        has_markers = "gap:target" in text
        parent = depth = None
        if others:
            parent = container[_ID] if container is not None else None
            depth = container[_DEP] + 1 if container is not None else 0
            cont_os = self._resolve(container)[0] if container is not None else -1
            # non-addressable opening markers: the range must not cut through them, and the
            # innermost opening marker around `start` (of any kind) is the new text's parent
            kept = []
            gone = []
            for rec in others:
                os, cs, ce, oe = self._resolve(rec)
                if os < start:
                    if oe < 0 or oe > start:  # open at `start` (unclosed: open to the end)
                        if start < cs or (oe >= 0 and not end <= ce):
                            return scan(new_body)
                        if os > cont_os:  # a closer parent than the good container
                            cont_os = os
                            parent = rec[_ID] if rec[_KIND] != 3 else rec[_PAR]
                            depth = rec[_DEP] + 1
                    kept.append(rec)
                elif os < end:
                    if oe < 0 or oe > end:
                        return scan(new_body)
                    gone.append(rec)
                else:
                    kept.append(rec)
            if gone:
                removed_others = tuple(gone)
                others = tuple(kept)
            if dups and removed and any(r[_ID] in dups for r in removed):
                return scan(new_body)  # removing the first of a duplicated id promotes another
        if problems:
            for p in problems:
                ps = p.start
                if ps < end and start < p.end:
                    if p.kind in ("stray_close", "unclosed") and start <= ps:
                        return scan(new_body)  # the range holds an unbalanced marker
                    if ps < start or end < p.end:
                        return scan(new_body)  # the range cuts through a marker
        # text joined with its surroundings may form a marker across either edge of the text
        if _joins_marker(new_body, start) or (text and _joins_marker(new_body, start + len(text))):
            return scan(new_body)
        epoch = len(deltas) + 1
        new_list = ()
        new_dups = ()
        if has_markers:
            if parent is None and depth is None:
                parent = container[_ID] if container is not None else None
                depth = container[_DEP] + 1 if container is not None else 0
            new_list, new_problems, _ = _scan_raw(text, start, epoch, parent, depth)
            if new_problems:
                return scan(new_body)
            removed_ids = {r[_ID] for r in removed}
            other_ids = {r[_ID] for r in others}
            for r in new_list:
                rid = r[_ID]
                if rid in other_ids:
                    return scan(new_body)  # an id already duplicated or unclosed: rescan
                if rid in recs and rid not in removed_ids:
                    if self._os(recs[rid]) < start:
                        # the earlier marker stays the target; the new one is a duplicate
                        r[_KIND] = 1
                        new_dups += (r,)
                    else:
                        return scan(new_body)  # the new marker would take over the id
            if new_dups:
                new_list = [r for r in new_list if not r[_KIND]]
                others = others + new_dups
                dups = dups | {r[_ID] for r in new_dups}
        delta = len(text) - (end - start)
        old_infos = self._infos
        if old_infos is None:
            old_infos = self.infos  # handles need them after every edit: derive, never rebuild
        if removed or new_list:
            new_recs = recs.copy()
            for r in removed:
                del new_recs[r[_ID]]
            for r in new_list:
                if r[_ID] in new_recs:
                    return scan(new_body)
                new_recs[r[_ID]] = r
            new_order = order[:j] + tuple(new_list) + order[k:]
            new_infos = old_infos[:j] + tuple([_rec_info(r) for r in new_list]) + old_infos[k:]
        else:
            new_recs = recs
            new_order = order
            new_infos = old_infos
        if problems:
            if start < end:
                problems = tuple(p for p in problems if not (start <= p.start < end))
            if delta:
                problems = tuple(_shift_problem(p, delta) if p.start >= end else p for p in problems)
            if removed_others:
                # a duplicate whose marker went away: the id may no longer be duplicated
                still = {r[_ID] for r in others if r[_KIND] == 1}
                dups = frozenset(d for d in dups if d in still)
        if new_dups:
            added = [
                MarkerProblem("duplicate_id", f"target id {r[_ID]!r} is already used earlier", r[_OS], r[_CS], r[_ID])
                for r in new_dups
            ]
            problems = tuple(sorted(problems + tuple(added), key=lambda p: p.start))
        idx = _new_index(new_recs, new_order, deltas + ((start, delta),), problems, others, dups, new_infos)
        if epoch > _MAX_PENDING:
            idx = idx.compacted()
        return idx


def _new_index(recs, order, deltas, problems, others, dups, infos, parents=None, _new=object.__new__, _cls=Index) -> Index:
    """``Index(...)`` without the call to ``__init__`` (the apply hot path); ``parents`` is
    the source index's parent-id set when the marker structure is unchanged."""
    idx = _new(_cls)
    idx._parents = parents
    idx._recs = recs
    idx._order = order
    idx._infos = infos
    idx._deltas = deltas
    idx.problems = problems
    idx._others = others
    idx._dups = dups
    return idx


def scan(body: str) -> Index:
    """Index every target marker of ``body`` in one linear pass (GAP §3.2, §7.4).

    Never raises: malformed markers are reported in :attr:`Index.problems`, and only
    well-formed targets with unique ids are addressable. Cost: one regular-expression pass
    plus a small constant per marker (≈ 1 MB with 10,000 targets in well under 20 ms).
    """
    if len(body) > 65536 and gc.isenabled():
        # tens of thousands of small acyclic lists: cyclic GC passes would only slow this down
        gc.disable()
        try:
            recs, problems, good = _scan_raw(body, 0, 0, None, 0)
        finally:
            gc.enable()
    else:
        recs, problems, good = _scan_raw(body, 0, 0, None, 0)
    if not problems:  # every record is a well-formed unique target
        return Index(good, tuple(recs), (), (), (), frozenset())
    order = []
    others = []
    dups = set()
    for r in recs:
        if r[10]:
            others.append(r)
            if r[10] == 1:
                dups.add(r[0])
            continue
        order.append(r)
    # a child of an unclosed or duplicate marker keeps a parent id that is not addressable
    if len(problems) > 1:
        problems.sort(key=lambda p: p.start)
    return Index(good, tuple(order), (), tuple(problems), tuple(others), frozenset(dups))


def strip(body: str) -> str:
    """``body`` with every ``<gap:target …>`` and ``</gap:target>`` marker removed.

    Used for clean exports and for rendering; content between markers is kept as is.
    """
    if "gap:target" not in body:
        return body
    k = body.rfind(">") + 1  # (no marker ends after the last ">"; see _scan_raw)
    return _MARKER.sub("", body[:k]) + body[k:]


def iter_markers(body: str) -> Iterable[tuple[int, int, bool]]:
    """Every marker as ``(start, end, is_closing)``, in document order."""
    for m in _MARKER.finditer(body, 0, body.rfind(">") + 1):
        yield m.start(), m.end(), bool(m.group(1))
