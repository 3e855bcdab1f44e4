"""Which targets changed between two versions of a body (GAP §4.2 edit envelopes from diffs).

:func:`changed_targets` compares two bodies target by target and answers the smallest set of
``replace`` operations that turns the old body into the new one, or ``None`` when the change
touches text outside every target (or the target structure itself) and only a ``synthesize``
can express it.
"""

from __future__ import annotations

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
