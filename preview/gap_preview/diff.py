"""Which targets changed between two versions of a body (GAP §4.2 edit envelopes from diffs).

:func:`changed_targets` compares two bodies target by target and answers the smallest set of
``replace`` operations that turns the old body into the new one, or ``None`` when the change
touches text outside every target (or the target structure itself) and only a ``synthesize``
can express it.
"""

from __future__ import annotations

import re

from gap_engine import Index, scan


def _children(idx: Index) -> dict[str | None, list]:
    out: dict[str | None, list] = {}
    for sp in idx.spans():
        out.setdefault(sp.parent, []).append(sp)
    return out


def changed_targets(
    old: str, new: str, old_idx: Index | None = None, new_idx: Index | None = None
) -> list[tuple[str, str]] | None:
    """``[(target_id, new_content), …]`` such that replacing each target's content in ``old``
    (in the order given) yields exactly ``new``; ``[]`` when the bodies are equal; ``None``
    when the change is outside all targets, changes a marker, or adds/removes/reorders targets
    at a level where no enclosing target changed as a whole.

    The ids returned never nest (a changed target is replaced whole, its children with it).
    Cost: linear in the body length (slice comparisons), times the nesting depth at worst.
    """
    if old == new:
        return []
    oi = old_idx if old_idx is not None else scan(old)
    ni = new_idx if new_idx is not None else scan(new)
    if oi.problems or ni.problems:
        return None
    ot = _children(oi)
    nt = _children(ni)
    out: list[tuple[str, str]] = []

    def visit(pid: str | None, oa: int, ob: int, na: int, nb: int) -> bool:
        oc = ot.get(pid, ())
        nc = nt.get(pid, ())
        if len(oc) != len(nc):
            return False
        for a, b in zip(oc, nc):
            if a.info.id != b.info.id:
                return False
        # the skeleton at this level: text between children, and the children's markers
        op, np_ = oa, na
        for a, b in zip(oc, nc):
            if old[op : a.content_start] != new[np_ : b.content_start]:
                return False
            op, np_ = a.content_end, b.content_end
        if old[op:ob] != new[np_:nb]:
            return False
        for a, b in zip(oc, nc):
            if old[a.content_start : a.content_end] == new[b.content_start : b.content_end]:
                continue
            if not visit(a.info.id, a.content_start, a.content_end, b.content_start, b.content_end):
                out.append((b.info.id, new[b.content_start : b.content_end]))
        return True

    if not visit(None, 0, len(old), 0, len(new)):
        return None
    return out


# -- the fast path for typing: one small change, markers untouched -----------------------------

# Anything whose creation or removal changes which markers exist or how HTML tokenizes around
# them: a marker, a comment delimiter, a raw-text element tag.
_SENSITIVE = re.compile(
    r"gap:target|<!--|-->|</?(?:script|style|textarea|title|xmp|iframe|noembed|noframes|noscript|plaintext)\b",
    re.IGNORECASE,
)
_CHUNK = 4096


def common_affixes(a: str, b: str) -> tuple[int, int, int]:
    """``(p, ea, eb)``: ``a[:p] == b[:p]``, ``a[ea:] == b[eb:]``, with ``p`` as large as possible
    and then the common suffix as large as possible without overlapping ``p``. Linear, in C-speed
    chunk comparisons."""
    la, lb = len(a), len(b)
    n = min(la, lb)
    p = 0
    k = _CHUNK
    while p < n:
        q = min(n, p + k)
        if a[p:q] == b[p:q]:
            p = q
            continue
        lo, hi = p, q  # a[:lo] == b[:lo]; mismatch before hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if a[lo:mid] == b[lo:mid]:
                lo = mid
            else:
                hi = mid
        p = lo if a[lo] != b[lo] else hi
        break
    m = n - p  # the suffix may not overlap the prefix
    s = 0
    while s < m:
        t = min(m, s + k)
        if a[la - t : la - s] == b[lb - t : lb - s]:
            s = t
            continue
        lo, hi = s, t
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if a[la - mid : la - lo] == b[lb - mid : lb - lo]:
                lo = mid
            else:
                hi = mid
        s = lo if a[la - lo - 1] != b[lb - lo - 1] else hi
        break
    return p, la - s, lb - s


def _overlaps(s: int, t: int, p: int, e: int) -> bool:
    """``[s, t)`` overlaps the change ``[p, e)``; a pure insertion (``p == e``) overlaps a
    range it falls strictly inside."""
    if e > p:
        return s < e and t > p
    return s < p < t


def _marker_span(text: str, tok: int) -> tuple[int, int]:
    """The marker around the ``gap:target`` token at ``tok``: from its ``<`` (or ``</``) to
    the first ``>`` after the token (the marker grammar's ``[^>]*>``)."""
    s = tok - 2 if text.startswith("</", tok - 2) else tok - 1
    end = text.find(">", tok)
    return s, (len(text) if end < 0 else end + 1)


def _touches(text: str, p: int, e: int) -> bool:
    """Whether the change ``[p, e)`` of ``text`` overlaps a marker (whole, attributes and
    brackets included), a comment delimiter or a raw-text element tag."""
    for m in _SENSITIVE.finditer(text, max(0, p - 12), min(len(text), e + 12)):
        if _overlaps(m.start(), m.end(), p, e):
            return True
        if m.group(0) == "gap:target" and _overlaps(*_marker_span(text, m.start()), p, e):
            return True
    # a marker that starts further back and whose attributes reach into the change
    tok = text.rfind("gap:target", 0, max(0, p - 12) + 10)
    if tok >= 0 and _overlaps(*_marker_span(text, tok), p, e):
        return True
    return False


def fast_update(old: str, new: str, old_idx: Index) -> tuple[Index, list[tuple[str, str]] | None] | None:
    """The incremental path for a body whose view is the body itself (HTML whose markers are
    all kept). When ``old`` → ``new`` is one contiguous change that touches no marker, comment
    delimiter or raw-text tag, answer ``(new_index, ops)`` with ``ops`` the single ``replace``
    of the innermost target containing the change (``None``: outside every target, synthesize;
    ``[]``: no change). Otherwise ``None`` (use the full render and :func:`changed_targets`).

    Cost: the affix comparison (C speed) plus O(log n) index work; no rescan of the body.
    """
    if old == new:
        return old_idx, []
    p, e0, e1 = common_affixes(old, new)
    if _touches(old, p, e0) or _touches(new, p, e1):
        return None
    sp = old_idx.innermost_at(p)
    while sp is not None and not (sp.content_start <= p and e0 <= sp.content_end):
        sp = old_idx.get(sp.parent) if sp.parent is not None else None
    idx = old_idx.splice(p, e0, new[p:e1], new)
    if sp is None:
        return idx, None
    return idx, [(sp.info.id, new[sp.content_start : sp.content_end + (e1 - e0)])]
