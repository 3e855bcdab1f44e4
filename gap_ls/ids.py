"""Target ids: role-based names (GAP §3.2 "descriptive, stable IDs that describe the role, not
the current value").

- :func:`is_role_based` — False for ids that are pure numbers or values (``42``, ``12.5%``,
  ``$12,340``, ``2024-05-01``, ``12px``).
- :func:`slug` — text → ``lower-kebab-case`` (at most a few words, starts with a letter).
- :func:`propose_id` — a role-based id for a piece of content (HTML element id / class /
  landmark, a code definition's name, a Markdown heading, else its first words).
- :func:`unique` — ``base``, ``base-2``, ``base-3``… not in a given set.
- :func:`attr_id_span` — where a marker's ``id`` attribute value is.
"""

from __future__ import annotations

import re
import unicodedata

from gap_engine import strip

_VALUE = re.compile(
    r"""\A(?:
        [-+]?[$€£¥]?\s*[-+]?\d[\d,._ ]*(?:%|px|em|rem|ms|s|kb|mb|gb|k|m)?   # numbers, money, units
      | \d{4}-\d{2}-\d{2}(?:[T ][\d:.]+Z?)?                           # dates
      | \d{1,2}:\d{2}(?::\d{2})?                                       # times
      | [0-9a-f]{8,}                                                   # hashes
      | true|false|null|yes|no
    )\Z""",
    re.X | re.I,
)
_GENERIC_TAGS = {"div", "span", "p", "section", "article", "li", "ul", "ol", "td", "tr", "a", "b", "i", "em", "strong", "small"}
_LANDMARKS = {"header", "footer", "nav", "main", "aside", "title", "form", "table", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "thead", "tbody", "dl", "pre", "code", "button", "label"}


def is_role_based(target_id: str) -> bool:
    """False when ``target_id`` is a pure number or value rather than a role name."""
    t = target_id.strip()
    if not t:
        return False
    if not any(c.isalpha() for c in t):
        return False
    return _VALUE.match(t) is None


def slug(text: str, words: int = 3, *, keep_numbers: bool = False) -> str:
    """``"Sales dashboard — Q4!"`` → ``"sales-dashboard-q4"`` (ASCII, at most ``words`` words,
    number-only words dropped unless ``keep_numbers`` — e.g. for code names like
    ``handler_2``); ``""`` when nothing usable is left."""
    t = unicodedata.normalize("NFKD", text)
    t = t.encode("ascii", "ignore").decode("ascii")
    t = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", t).lower()
    parts = [p for p in re.split(r"[^a-z0-9]+", t) if p]
    if not keep_numbers:
        parts = [p for p in parts if not p.isdigit()]
    out = "-".join(parts[:words])
    return out.lstrip("-0123456789")


_TAG = re.compile(r"\s*<([A-Za-z][\w:-]*)([^>]*)>")
_ATTR = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_DEF = re.compile(
    r"^\s*(?:export\s+)?(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?(?:default\s+)?"
    r"(?:def|class|function|fn|func|struct|enum|trait|interface|type|impl|const|let|var|mod)\s+\*?\s*([A-Za-z_$][\w$]*)",
    re.M,
)
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.M)
_TAGS = re.compile(r"<[^>]*>")


def propose_id(content: str, fmt: str | None = None) -> str:
    """A role-based id for ``content`` (not yet made unique)."""
    text = strip(content)
    m = _TAG.match(text)
    if m is not None:
        tag = m.group(1).lower()
        attrs = {a.group(1).lower(): (a.group(2) or a.group(3) or a.group(4) or "") for a in _ATTR.finditer(m.group(2))}
        for cand in (attrs.get("id"), (attrs.get("class") or "").split()[0] if attrs.get("class") else None, attrs.get("aria-label"), attrs.get("name")):
            if cand and slug(cand):
                return slug(cand)
        if tag in _LANDMARKS:
            return tag
        words = slug(_TAGS.sub(" ", text), 2)
        if words and tag not in _GENERIC_TAGS:
            return f"{words}-{tag}"
        if words:
            return words
        return tag if tag not in _GENERIC_TAGS else "section"
    h = _MD_HEADING.search(text)
    if h is not None and (fmt or "").endswith("markdown"):
        return slug(h.group(1)) or "section"
    d = _DEF.search(text)
    if d is not None:
        return slug(d.group(1), 4) or "definition"
    if h is not None:
        return slug(h.group(1)) or "section"
    stripped = text.strip()
    if stripped and not is_role_based(stripped.split()[0] if stripped.split() else stripped) and len(stripped.split()) <= 2:
        return "value"
    return slug(stripped) or "section"


def unique(base: str, taken) -> str:
    """``base`` or ``base-N`` (N = 2, 3, …), whichever is first not in ``taken``."""
    base = base or "target"
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


# one attribute (name = quoted value), read by name as the engine does: ``data-id="x"`` or a
# label mentioning ``id='y'`` is not the id
_ATTR = re.compile(r"""([A-Za-z_:][-\w:.]*)\s*=\s*(["'])(.*?)\2""", re.S)


def attr_id_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Code-point offsets ``(start, end)`` of the value of the ``id`` attribute of the marker
    ``text[start:end]`` (quotes excluded), or None when it has none."""
    for m in _ATTR.finditer(text, start, end):
        if m.group(1) == "id":
            return m.start(3), m.end(3)
    return None
