"""The apply engine: ``f(artifact, envelope) -> (artifact, handle)`` (GAP §4, §7, §7.4).

All-or-nothing: every operation of an ``edit`` envelope is applied in order to a working copy;
if any fails, a :class:`GapError` is raised and the input artifact is untouched (artifacts are
immutable values, so there is nothing to roll back).

Besides the new artifact and its handle, :func:`apply_with_splices` returns the exact splices
the envelope made, in the coordinates of the input body, so that an editor can be sent minimal
text edits without diffing.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Callable

import attrs

from .errors import INVALID_CONTENT, INVALID_ENVELOPE, TARGET_NOT_FOUND, VERSION_CONFLICT, GapError
from . import markers as _markers
from .markers import _MAX_PENDING, Index, _new_index, joins_marker
from .model import PROTOCOL, Artifact, EditOperation, Envelope, _new_artifact, _new_envelope, _new_handle_content

TokenCounter = Callable[[str], int]


def estimate_tokens(text: str) -> int:
    """The default token count: ``ceil(len(text) / 4)``, code points per token.

    An estimate, documented as such: ~4 characters per token is the rule of thumb GAP §7.1.2
    uses for HTML; real tokenizers vary by model (use a ``tokenizers`` counter for counts).
    """
    return -(-len(text) // 4)


@attrs.frozen(slots=True)
class Splice:
    """``[start, end)`` of the input body replaced by ``text`` (code-point offsets)."""

    start: int
    end: int
    text: str


@attrs.frozen(slots=True)
class ApplyResult:
    """What :func:`apply_with_splices` returns.

    ``splices`` are sorted, non-overlapping, in input-body coordinates; applying them to the
    input body (from last to first) gives ``artifact.body``. ``warnings`` name operations
    that were applied but left malformed markers (only with ``strict_markers=False``).
    """

    artifact: Artifact
    handle: Envelope
    splices: tuple[Splice, ...]
    warnings: tuple[str, ...] = ()


def make_handle(
    artifact: Artifact,
    *,
    count_tokens: TokenCounter | None = estimate_tokens,
    include_content: bool = False,
    meta: dict | None = None,
) -> Envelope:
    """The ``handle`` envelope of ``artifact`` (GAP §7.2, §7.4): id, version, token count,
    state, and the targets derived from the current body (never a stale list)."""
    m = {"format": artifact.format}
    if artifact.state is not None:
        m["state"] = artifact.state
    if meta:
        m.update(meta)
    item = _new_handle_content(
        artifact.id,
        artifact.version,
        count_tokens(artifact.body) if count_tokens is not None else None,
        artifact.state,
        artifact.body if include_content else None,
        artifact.index().infos,
    )
    return _new_envelope(PROTOCOL, artifact.id, artifact.version, "handle", m, (item,))


def _handle(artifact: Artifact, body: str, idx: Index, count_tokens: TokenCounter | None) -> Envelope:
    """:func:`make_handle` on the apply hot path (no content, no extra meta)."""
    state = artifact.state
    m = {"format": artifact.format} if state is None else {"format": artifact.format, "state": state}
    if count_tokens is estimate_tokens:
        tokens = -(-len(body) // 4)
    else:
        tokens = count_tokens(body) if count_tokens is not None else None
    infos = idx._infos
    if infos is None:
        infos = idx.infos
    ident = artifact.id
    version = artifact.version
    item = _new_handle_content(ident, version, tokens, state, None, infos)
    return _new_envelope(PROTOCOL, ident, version, "handle", m, (item,))


class _SpliceLog:
    """Composes sequential splices (each in the coordinates of the body before it) into
    non-overlapping splices in the coordinates of the original body."""

    __slots__ = ("items", "growth")

    def __init__(self) -> None:
        # each item: [orig_start, orig_end, cur_start, cur_len]
        self.items: list[list[int]] = []
        self.growth = 0  # total length change of the logged items

    def add(self, s: int, e: int, new_len: int) -> None:
        """Log ``[s, e)`` of the current body replaced by ``new_len`` characters."""
        items = self.items
        d = new_len - (e - s)
        if not items:
            items.append([s, e, s, new_len])
            self.growth = d
            return
        last = items[-1]
        if last[2] + last[3] < s:  # after everything logged so far (the usual order)
            g = self.growth
            items.append([s - g, e - g, s, new_len])
            self.growth = g + d
            return
        if e < items[0][2]:  # before everything logged so far
            self.items = [[s, e, s, new_len]] + [[o0, o1, c0 + d, cl] for o0, o1, c0, cl in items]
            self.growth += d
            return
        before, overlapping, after = [], [], []
        for it in self.items:
            c0, cl = it[2], it[3]
            if c0 + cl < s:
                before.append(it)
            elif c0 > e:
                after.append(it)
            else:
                overlapping.append(it)
        lo, hi = s, e
        if overlapping:
            lo = min(s, overlapping[0][2])
            hi = max(e, overlapping[-1][2] + overlapping[-1][3])
        growth_before = sum(it[3] - (it[1] - it[0]) for it in before)
        growth_inner = sum(it[3] - (it[1] - it[0]) for it in overlapping)
        merged = [lo - growth_before, hi - growth_before - growth_inner, lo, hi - lo + d]
        self.items = before + [merged] + [[o0, o1, c0 + d, cl] for o0, o1, c0, cl in after]
        self.growth = sum(it[3] - (it[1] - it[0]) for it in self.items)

    def splices(self, new_body: str) -> tuple[Splice, ...]:
        """The composed splices, their text taken from ``new_body``."""
        return tuple(Splice(o0, o1, new_body[c0 : c0 + cl]) for o0, o1, c0, cl in self.items)

    def raw(self, new_body: str) -> tuple[tuple[int, int, str], ...]:
        """The composed splices as ``(start, end, text)`` tuples."""
        return tuple((o0, o1, new_body[c0 : c0 + cl]) for o0, o1, c0, cl in self.items)


def _common_affix(a: str, b: str) -> tuple[int, int]:
    """Lengths of the common prefix and (non-overlapping) common suffix of a and b."""
    n = min(len(a), len(b))
    lo, hi = 0, n
    while lo < hi:  # binary search on slice equality (memcmp speed)
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    p = lo
    lo, hi = 0, n - p
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    return p, lo


def _content_holds_marker(body: str, idx: Index, rec, cs: int, ce: int) -> bool:
    """Does the content ``[cs, ce)`` of the target whose record is ``rec`` hold a marker?
    With no marker problems, exactly when the target has a child (the index knows);
    otherwise the text is searched."""
    if idx.problems:
        return body.find("<", cs, ce) >= 0 and body.find("gap:target", cs, ce) >= 0
    return rec[0] in idx._parent_ids()


def _op_label(i: int, op: EditOperation) -> str:
    return f"operation {i} ({op.op} on {op.target.type} {op.target.value!r})"


def _op_range(op: EditOperation, cs: int, ce: int):
    """Where an id operation edits a target whose content is ``[cs, ce)`` (GAP §4.2): replace
    and delete cover the content, insert_before is at its start, insert_after at its end; the
    markers never move. → ``(start, end, text)`` (``text`` None when a required ``content`` is
    missing), or None for an unknown op."""
    kind = op.op
    if kind == "replace":
        return cs, ce, op.content
    if kind == "insert_after":
        return ce, ce, op.content
    if kind == "insert_before":
        return cs, cs, op.content
    if kind == "delete":
        return cs, ce, ""
    return None


def _apply_id_op(i: int, op: EditOperation, body: str, idx: Index, artifact_id: str, strict: bool, warnings: list):
    rng = idx._content_range(op.target.value)
    if rng is None:
        raise GapError(
            TARGET_NOT_FOUND,
            f"{_op_label(i, op)}: no target with id {op.target.value!r} in the artifact",
            artifact_id=artifact_id,
            op_index=i,
        )
    where = _op_range(op, *rng)
    if where is None:  # pragma: no cover - schema-validated
        raise GapError(INVALID_CONTENT, f"{_op_label(i, op)}: unknown op", artifact_id=artifact_id, op_index=i)
    s, e, text = where
    if text is None:
        raise GapError(
            INVALID_CONTENT, f"{_op_label(i, op)}: `content` is required for {op.op}", artifact_id=artifact_id, op_index=i
        )
    new_body = body[:s] + text + body[e:]
    new_idx = idx.splice(s, e, text, new_body)
    if new_idx.problems and len(new_idx.problems) > len(idx.problems):
        _malformed(i, op, idx, new_idx, artifact_id, strict, warnings)
    return s, e, text, new_body, new_idx


def _malformed(i: int, op: EditOperation, idx: Index, new_idx: Index, artifact_id: str, strict: bool, warnings: list) -> None:
    """Operation ``i`` left more marker problems than there were: refuse it (strict) or warn."""
    old = {(p.kind, p.id) for p in idx.problems}
    p = next((p for p in new_idx.problems if (p.kind, p.id) not in old), new_idx.problems[0])
    msg = f"{_op_label(i, op)}: the result has malformed markers ({p.kind}: {p.message})"
    if strict:
        raise GapError(INVALID_CONTENT, msg, artifact_id=artifact_id, op_index=i)
    warnings.append(msg)


def apply_with_splices(
    artifact: Artifact | None,
    envelope: Envelope,
    *,
    count_tokens: TokenCounter | None = estimate_tokens,
    strict_markers: bool = False,
) -> ApplyResult:
    """Apply ``envelope`` to ``artifact`` (GAP §4.1, §4.2, §3.3, §7.4).

    - ``synthesize``: the new artifact is the envelope's body (``artifact`` may be None; the
      version chain restarts at the envelope's version).
    - ``edit``: ``artifact`` is required and ``envelope.version`` must be
      ``artifact.version + 1``; operations apply in order, all or nothing.
    - ``handle`` is an output and is refused.

    Replacement content may carry markers: they become targets (§7.4). Content that leaves
    markers unbalanced or duplicates an id is applied with a warning, as the reference engine
    does; with ``strict_markers=True`` it is refused with ``invalid_content``.

    Returns:
        :class:`ApplyResult` with the new artifact, its handle and the splices made.

    Raises:
        GapError: ``version_conflict`` (stale version or different artifact id),
            ``target_not_found`` (unknown target id / pointer; names the operation),
            ``invalid_content`` (missing content, malformed markers, bad pointer value),
            ``invalid_envelope`` (a handle, an archived artifact, an edit with no artifact).
    """
    new, handle, splices, warnings = _apply(artifact, envelope, count_tokens, strict_markers)
    return ApplyResult(new, handle, tuple([Splice(a, b, t) for a, b, t in splices]), tuple(warnings))


def _one_id_op(body: str, idx: Index, op):
    """:func:`_id_batch` for the most common envelope: one operation on an id target.

    Text joined with its surroundings must not form a marker. Every edit point is the start
    or the end of a well-formed target's content, and the index says that no marker spans it
    in the input: a marker across an edge of the inserted text therefore begins at most 12
    characters before that edge ("<gap:target" or "</gap:target" cut by it, or ending just
    before it — the character after the name decides whether it is a marker; a longer
    start, with no ">" up to the edit point, would already have been a marker ending at the
    target's closing ">"), or anywhere in the text when the text spells "gap:target".
    Only then is :func:`joins_marker` consulted. Content starts follow a ">" (the opening
    marker's), so nothing spans them from before."""
    t = op.target
    if t.type != "id":
        return None
    rec = idx._recs.get(t.value)
    if rec is None:
        return None  # the general path reports target_not_found
    if rec[9] == len(idx._deltas):
        cs = rec[4]
        ce = rec[5]
    else:
        _, cs, ce, _ = idx._resolve(rec)
    kind = op.op  # _op_range, inlined
    if kind == "replace":
        s, e, text = cs, ce, op.content
    elif kind == "insert_after":
        s, e, text = ce, ce, op.content
    elif kind == "insert_before":
        s, e, text = cs, cs, op.content
    elif kind == "delete":
        s, e, text = cs, ce, ""
    else:
        return None
    if text is None:
        return None  # the general path reports it
    n = len(text)
    new_body = body[:s] + text + body[e:]
    marked = "<" in text and "gap:target" in text  # memchr first: most texts of code hold no "<"
    # text joined with its surroundings must not form a marker (see the docstring)
    if (body[s - 1] != ">" and "<" in body[s - 12 : s] and joins_marker(new_body, s)) or (
        n and text[-1] != ">" and (marked or "<" in text[-11:]) and joins_marker(new_body, s + n)
    ):
        return None
    d = n - (e - s)
    # a replace or delete: does the content it drops hold a marker?
    if marked or (s < e and _content_holds_marker(body, idx, rec, s, e)):
        new_idx = idx._edit_one(s, e, text, rec, marked)
        if new_idx is None:
            return None
        if new_idx is False:  # the text is malformed on its own: what splice would do
            new_idx = _markers.scan(new_body)
    elif d:
        deltas = idx._deltas
        if idx.problems or len(deltas) >= _MAX_PENDING:
            new_idx = idx._shifted(((s, d),))
        else:  # Index._shifted, inlined for the commonest edit
            infos = idx._infos
            new_idx = _new_index(
                idx._recs, idx._order, deltas + ((s, d),), (), idx._others, idx._dups, infos if infos is not None else idx.infos,
                idx._parents,
            )
    else:
        new_idx = idx
    return new_body, new_idx, ((s, e, text),) if (n or s != e) else ()


def _id_batch(body: str, idx: Index, ops):
    """The fast path of an edit: id operations applied as one pass of splices computed on the
    input, with one derivation of the index. Applying the operations in order gives the same
    when each target's content is edited on its own: several operations on one target are
    composed (inserts stack at the start / end of the content, a replace or delete resets
    it); an operation may add or remove markers when it is the only one on its target, its
    text is well-formed on its own, and no other operation addresses what it adds or
    removes (see :meth:`Index._edit_pieces`).
    Returns ``(new body, new index, splices)`` or None when the general path is needed (which
    also reports every error with the right operation index)."""
    if len(ops) == 1:
        return _one_id_op(body, idx, ops[0])
    fast = _plain_batch(body, idx, ops)
    if fast is not None:
        return fast
    recs = idx._recs
    n_deltas = len(idx._deltas)
    # id → [rec, cs, ce, replaced, content, before, after, n ops, marked text, marked old content]
    entries: dict = {}
    for op in ops:
        t = op.target
        if t.type != "id":
            return None
        tid = t.value
        kind = op.op
        text = "" if kind == "delete" else op.content
        if text is None:
            return None
        marked = "<" in text and "gap:target" in text
        ent = entries.get(tid)
        if ent is None:
            rec = recs.get(tid)
            if rec is None:
                return None
            if rec[9] == n_deltas:
                cs, ce = rec[4], rec[5]
            else:
                _, cs, ce, _ = idx._resolve(rec)
            ent = entries[tid] = [rec, cs, ce, False, None, "", "", 1, marked, False]
        else:
            if marked or ent[8]:
                return None  # several operations on one target: plain texts only
            # this operation must address the content the earlier ones left: that content
            # must not spell a marker either (look at the written texts and their edges)
            cs, ce = ent[1], ent[2]
            if ent[3]:
                if "gap:target" in ent[4]:
                    return None
            elif (
                "gap:target" in ent[5] + body[cs : min(ce, cs + 10)]
                or "gap:target" in body[max(cs, ce - 10) : ce] + ent[6]
                or (cs == ce and "gap:target" in ent[5] + ent[6])
            ):
                return None
            ent[7] += 1
        if kind == "replace" or kind == "delete":
            if not ent[3]:
                cs, ce = ent[1], ent[2]
                if ce > cs and _content_holds_marker(body, idx, ent[0], cs, ce):
                    ent[9] = True
                ent[3] = True
            ent[4] = text
        elif kind == "insert_before":
            if ent[3]:
                ent[4] = text + ent[4]
            else:
                ent[5] = text + ent[5]
        elif kind == "insert_after":
            if ent[3]:
                ent[4] = ent[4] + text
            else:
                ent[6] = ent[6] + text
        else:
            return None
    # Targets may nest. Pieces that replace a content holding markers remove its targets (no
    # other operation may address them); inserts touch an ancestor only at its content's edges,
    # outside every descendant's region. All edit points are therefore distinct and independent.
    pieces = []
    any_marked = False
    for rec, cs, ce, replaced, content, before, after, n_ops, m_text, m_old in entries.values():
        if n_ops > 1 and "gap:target" in (content if replaced else before + after):
            return None  # composed texts that spell a marker
        marked = m_text or m_old
        any_marked = any_marked or marked
        if replaced:
            pieces.append((cs, ce, content, rec, marked))
        elif cs == ce:
            if before or after:
                pieces.append((cs, cs, before + after, rec, marked))
        else:
            if before:
                pieces.append((cs, cs, before, rec, marked))
            if after:
                pieces.append((ce, ce, after, rec, marked))
    if len(pieces) > 1:
        pieces.sort(key=_PIECE_KEY)
    parts = []
    pos = 0
    growth = 0
    for s, e, text, _, _ in pieces:
        if s < pos:
            return None  # overlapping pieces: a target inside a replaced one (the general path decides)
        parts.append(body[pos:s])
        parts.append(text)
        pos = e
    parts.append(body[pos:])
    new_body = "".join(parts)
    for s, e, text, _, _ in pieces:  # text joined with its surroundings: see _one_id_op
        p = s + growth
        n = len(text)
        if (body[s - 1] != ">" and "<" in body[s - 12 : s] and joins_marker(new_body, p)) or (
            n and text[-1] != ">" and ("<" in text[-11:] or "gap:target" in text) and joins_marker(new_body, p + n)
        ):
            return None
        growth += n - (e - s)
    if any_marked:
        new_idx = idx._edit_pieces(pieces, entries)
        if new_idx is None or new_idx is False:
            return None
    else:
        new_idx = idx._shifted([(s, len(text) - (e - s)) for s, e, text, _, _ in reversed(pieces)])
    splices = tuple([(s, e, text) for s, e, text, _, _ in pieces if s != e or text])
    return new_body, new_idx, splices


_PIECE_KEY = itemgetter(0, 1)


def _plain_batch(body: str, idx: Index, ops):
    """:func:`_id_batch` for the most common multi-operation edit: each operation on its own
    id target, no marker in any text or replaced content. Edit points of different targets
    are distinct (a content start follows its own opening marker, a content end precedes its
    own closing marker) and a replaced content holding no marker holds no other edit point, so
    the pieces are disjoint and independent; the index only shifts. Two operations on one
    target give pieces that share a point or overlap, and are left to :func:`_id_batch`
    (an insert_before and an insert_after of one non-empty content commute: they are kept).
    Returns ``(new body, new index, splices)`` or None (then :func:`_id_batch` decides)."""
    recs = idx._recs
    nd = len(idx._deltas)
    if idx.problems:
        parents = None
    else:
        parents = idx._parents
        if parents is None:
            parents = idx._parent_ids()
    pieces = []
    append = pieces.append
    for op in ops:
        t = op.target
        if t.type != "id":
            return None
        tid = t.value
        rec = recs.get(tid)
        if rec is None:
            return None
        if rec[9] == nd:
            cs = rec[4]
            ce = rec[5]
        else:
            _, cs, ce, _ = idx._resolve(rec)
        kind = op.op  # _op_range, inlined
        if kind == "replace":
            text = op.content
            if text is None:
                return None
            s, e = cs, ce
        elif kind == "delete":
            text = ""
            s, e = cs, ce
        elif kind == "insert_after":
            text = op.content
            if text is None:
                return None
            s = e = ce
        elif kind == "insert_before":
            text = op.content
            if text is None:
                return None
            s = e = cs
        else:
            return None
        if "<" in text and "gap:target" in text:
            return None
        if s < e and (
            tid in parents if parents is not None else body.find("<", s, e) >= 0 and body.find("gap:target", s, e) >= 0
        ):
            return None
        append((s, e, text))
    pieces.sort()  # distinct starts, unless two operations share a target (refused below)
    parts = []
    pos = -1  # where the last piece ends (its start, for an insert)
    prev = 0  # the end of the last piece's range in the body
    growth = 0
    edges = None  # edits where text joined with its surroundings may form a marker
    shifts = []
    empty = False
    for s, e, text in pieces:
        if s <= pos:
            return None  # a shared point or an overlap: one target addressed twice
        parts.append(body[prev:s])
        parts.append(text)
        prev = e
        pos = e if s < e else s  # an insert: a later piece at the same point is the same target's
        n = len(text)
        if (body[s - 1] != ">" and "<" in body[s - 12 : s]) or (n and text[-1] != ">" and "<" in text[-11:]):
            if edges is None:
                edges = []
            edges.append((s + growth, n))  # see _one_id_op
        d = n - (e - s)
        if not n and s == e:
            empty = True
        shifts.append((s, d))
        growth += d
    parts.append(body[prev:])
    new_body = "".join(parts)
    if edges is not None:
        for p, n in edges:
            if joins_marker(new_body, p) or (n and joins_marker(new_body, p + n)):
                return None
    shifts.reverse()
    deltas = idx._deltas
    if parents is None or len(deltas) + len(shifts) > _MAX_PENDING:
        new_idx = idx._shifted(shifts)
    else:  # Index._shifted, inlined
        infos = idx._infos
        new_idx = _new_index(
            idx._recs, idx._order, deltas + tuple(shifts), (), idx._others, idx._dups, infos if infos is not None else idx.infos,
            parents,
        )
    return new_body, new_idx, tuple([p for p in pieces if p[0] != p[1] or p[2]]) if empty else tuple(pieces)


def _apply(artifact, envelope, count_tokens, strict_markers):
    """The engine proper: → (new artifact, handle, raw splices ``(start, end, text)``, warnings)."""
    name = envelope.name
    if artifact is not None and artifact.state == "archived":
        raise GapError(INVALID_ENVELOPE, f"artifact {artifact.id!r} is archived (read-only, GAP §8.1)", artifact_id=artifact.id)
    if name == "synthesize":
        if len(envelope.content) != 1:
            raise GapError(INVALID_ENVELOPE, "a synthesize envelope carries exactly one content item")
        body = envelope.content[0].body
        new = Artifact(envelope.id, envelope.version, envelope.format, body, envelope.meta.get("state", artifact.state if artifact else None))
        splices: tuple = ()
        if artifact is not None and artifact.body != body:
            old = artifact.body
            p, q = _common_affix(old, body)
            splices = ((p, len(old) - q, body[p : len(body) - q]),)
            if artifact._index is not None and "gap:target" not in old[p : len(old) - q]:
                object.__setattr__(new, "_index", artifact._index.splice(p, len(old) - q, body[p : len(body) - q], body))
        return new, make_handle(new, count_tokens=count_tokens), splices, ()
    if name != "edit":
        raise GapError(INVALID_ENVELOPE, f"a {name!r} envelope cannot be applied (handles are outputs, GAP §7.2)")
    if artifact is None:
        raise GapError(INVALID_ENVELOPE, "an edit envelope needs an existing artifact", artifact_id=envelope.id)
    if envelope.id != artifact.id:
        raise GapError(
            VERSION_CONFLICT,
            f"envelope is for artifact {envelope.id!r}, not {artifact.id!r}",
            artifact_id=artifact.id,
        )
    if envelope.version != artifact.version + 1:
        raise GapError(
            VERSION_CONFLICT,
            f"envelope version {envelope.version} does not follow stored version {artifact.version} "
            f"(expected {artifact.version + 1})",
            artifact_id=artifact.id,
        )
    body = artifact.body
    idx = artifact._index
    if idx is None:
        idx = artifact.index()
    ops = envelope.content
    n_ops = len(ops)
    fast = (_one_id_op(body, idx, ops[0]) if n_ops == 1 else _id_batch(body, idx, ops)) if n_ops else None
    if fast is not None:
        body, new_idx, splices = fast
        warnings: list[str] = []
        problems = new_idx.problems
        if problems is not idx.problems and n_ops == 1 and len(problems) > len(idx.problems):  # it duplicated an id
            _malformed(0, ops[0], idx, new_idx, artifact.id, strict_markers, warnings)
        # the new artifact and its handle (make_handle, inlined on this hot path)
        ident = artifact.id
        version = envelope.version
        fmt = artifact.format
        state = artifact.state
        new = _new_artifact(ident, version, fmt, body, state, new_idx)
        if count_tokens is estimate_tokens:
            tokens = -(-len(body) // 4)
        else:
            tokens = count_tokens(body) if count_tokens is not None else None
        infos = new_idx._infos
        if infos is None:
            infos = new_idx.infos
        item = _new_handle_content(ident, version, tokens, state, None, infos)
        meta = {"format": fmt} if state is None else {"format": fmt, "state": state}
        return new, _new_envelope(PROTOCOL, ident, version, "handle", meta, (item,)), splices, warnings
    log = _SpliceLog() if len(ops) > 1 else None
    warnings = []
    fmt = artifact.format
    s = e = 0
    text = ""
    for i, op in enumerate(ops):
        if op.target.type == "id":
            s, e, text, body, idx = _apply_id_op(i, op, body, idx, artifact.id, strict_markers, warnings)
        else:
            from .pointer import apply_pointer_op  # JSON/YAML pointer edits (GAP §4.2)

            s, e, text = apply_pointer_op(i, op, body, fmt, artifact.id)
            body = body[:s] + text + body[e:]
            new_idx = idx.splice(s, e, text, body)
            if new_idx.problems and len(new_idx.problems) > len(idx.problems):  # as for id edits
                _malformed(i, op, idx, new_idx, artifact.id, strict_markers, warnings)
            idx = new_idx
        if log is not None:
            log.add(s, e, len(text))
    if log is not None:
        splices = log.raw(body)
    elif ops and not (s == e and not text):
        splices = ((s, e, text),)
    else:
        splices = ()
    new = _new_artifact(artifact.id, envelope.version, fmt, body, artifact.state, idx)
    return new, _handle(new, body, idx, count_tokens), splices, warnings


def apply(artifact: Artifact | None, envelope: Envelope) -> tuple[Artifact, Envelope]:
    """Apply an envelope: ``f(artifact, envelope) -> (artifact, handle)`` (GAP §7 "Apply engine").

    See :func:`apply_with_splices` for the semantics and the errors raised.
    """
    new, handle, _, _ = _apply(artifact, envelope, estimate_tokens, False)
    return new, handle
