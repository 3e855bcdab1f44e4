"""Source artifact → *view*: the HTML the preview page shows, with target markers kept.

The view of a document is itself a GAP artifact of format ``text/html``. Its body is the
rendered document (the artifact's own HTML, or Markdown / highlighted code / escaped text
turned into HTML), and every target that can be located in the rendered HTML keeps a
marker pair ``<gap:target id="ID">…</gap:target>`` around its rendered content (HTML keeps
the artifact's own markers as written; generated views use exactly that canonical form).
Targets that cannot be located (markers inside ``<script>``/``<style>``/comments, an id with
unusual characters, a Markdown target that starts or ends in the middle of a paragraph…)
lose their markers and are simply part of their parent's content.

Because the view is a GAP artifact, the preview stream can send *edit envelopes* against it
(``replace`` of the changed targets), which any GAP consumer can apply, and the page can
splice them by marker. The page turns the markers into HTML comments (``<!--gap:t:ID-->`` …
``<!--/gap:t:ID-->``) before parsing, so they never become elements: markers are invisible
("stripped") in the rendered page while the page still knows which nodes belong to which
target (cursor outline, click-to-source).

Entry point: :func:`render_view`.
"""

from __future__ import annotations

import html as _html
import re
from bisect import bisect_right
from typing import NamedTuple

from gap_engine import iter_markers, scan

# ids we keep in the view: safe inside an attribute, a comment and a CSS/JS string.
SAFE_ID = re.compile(r"\A[A-Za-z0-9_.:\-]{1,200}\Z")
# Regions where the HTML tokenizer does not see markup (raw text, RCDATA, comments).
_RAW_REGION = re.compile(
    r"<!--.*?-->|<(script|style|textarea|title|xmp|iframe|noembed|noframes|noscript)\b[^>]*>.*?</\1\s*>",
    re.IGNORECASE | re.DOTALL,
)

HTML_FORMATS = {"text/html", "application/xhtml+xml", "image/svg+xml"}
MARKDOWN_FORMATS = {"text/markdown", "text/x-markdown"}
PLAIN_FORMATS = {"text/plain", ""}
_EXTRA_LEXERS = {
    # MIME types pygments does not register under these exact names
    "application/toml": "toml",
    "text/x-toml": "toml",
    "application/yaml": "yaml",
    "text/yaml": "yaml",
    "application/x-yaml": "yaml",
    "text/x-yaml": "yaml",
    "application/json": "json",
    "text/x-python": "python",
    "text/javascript": "javascript",
    "application/javascript": "javascript",
    "text/css": "css",
    "text/x-go": "go",
    "application/sql": "sql",
    "text/x-sql": "sql",
}


#: above this many characters code is shown without highlighting: pygments takes ≈ 2 s per MB
#: and its spans make the view 5–15 times the source (a 5 MB JSON file: 6 s and an 82 MB view,
#: on every change), which no browser tab takes well (VS Code's large-file optimisation does
#: the same)
HIGHLIGHT_MAX_CHARS = 256 * 1024


class View(NamedTuple):
    """A rendered view: ``body`` (HTML with canonical markers) and ``kind`` (how it was made:
    ``html``, ``markdown``, ``code``, ``text``)."""

    body: str
    kind: str


def normalise_format(fmt: str | None) -> str:
    """``"Text/HTML; charset=utf-8"`` → ``"text/html"``."""
    return (fmt or "").split(";", 1)[0].strip().lower()


def render_view(text: str, fmt: str | None) -> View:
    """Render ``text`` (an artifact body with GAP markers) of MIME type ``fmt`` into a view.

    HTML and SVG are passed through (markers canonicalised or removed, nothing else touched:
    the artifact is untrusted and is shown only inside a sandboxed iframe); Markdown goes
    through markdown-it-py with raw HTML disabled; JSON, YAML, TOML and source code are
    highlighted by pygments; plain text and unknown formats are escaped. Never raises on
    malformed markers.
    """
    f = normalise_format(fmt)
    if f in HTML_FORMATS:
        return View(html_view(text), "html")
    if f in MARKDOWN_FORMATS:
        try:
            return View(markdown_view(text), "markdown")
        except Exception:  # pragma: no cover - markdown-it never should; fall back to text
            return View(code_view(text, None), "text")
    lexer = _lexer_for(f)
    if lexer is not None and len(text) > HIGHLIGHT_MAX_CHARS:
        note = f"{len(text) / 1e6:.1f} MB: shown without syntax highlighting"
        return View(code_view(text, None, note=note), "text")
    return View(code_view(text, lexer), "code" if lexer is not None else "text")


# -- markers -------------------------------------------------------------------------------


class _Marker(NamedTuple):
    start: int
    end: int
    closing: bool
    id: str | None  # the target id when this marker belongs to a well-formed unique target


def _markers(text: str) -> list[_Marker]:
    """Every marker of ``text`` in order; ``id`` set only on the two markers of good targets."""
    if "gap:target" not in text:
        return []
    idx = scan(text)
    opens: dict[int, str] = {}
    closes: dict[int, str] = {}
    for sp in idx.spans():
        opens[sp.start] = sp.info.id
        closes[sp.content_end] = sp.info.id
    out = []
    for s, e, closing in iter_markers(text):
        ident = closes.get(s) if closing else opens.get(s)
        out.append(_Marker(s, e, closing, ident))
    return out


def _open(ident: str) -> str:
    return f'<gap:target id="{ident}">'


_CLOSE = "</gap:target>"


def html_view(text: str) -> str:
    """HTML/SVG: the markers of targets in markup context kept as written, every other marker
    (inside ``<script>``/``<style>``/comments…, malformed, duplicate, unusual id) removed.
    Returns ``text`` itself when every marker is kept (the common case)."""
    marks = _markers(text)
    if not marks:
        return text
    raw = [(m.start(), m.end()) for m in _RAW_REGION.finditer(text)]
    raw_starts = [r[0] for r in raw]

    def in_raw(pos: int) -> bool:
        i = bisect_right(raw_starts, pos) - 1
        return i >= 0 and raw[i][0] < pos < raw[i][1]

    keep: set[str] = set()
    bad: set[str] = set()
    for m in marks:
        if m.id is None:
            continue
        if not SAFE_ID.match(m.id) or in_raw(m.start):
            bad.add(m.id)
        else:
            keep.add(m.id)
    keep -= bad
    if len(keep) * 2 == len(marks):
        return text  # every marker kept as written: the view is the body itself
    parts = []
    pos = 0
    for m in marks:
        if m.id is not None and m.id in keep:
            continue  # kept verbatim
        parts.append(text[pos : m.start])
        pos = m.end
    parts.append(text[pos:])
    return "".join(parts)


def _strip_with_cuts(text: str) -> tuple[str, list[tuple[int, bool, str]]]:
    """``text`` without markers, and the (stripped offset, closing, id) of good targets' markers."""
    marks = _markers(text)
    if not marks:
        return text, []
    parts = []
    cuts = []
    pos = 0
    out_len = 0
    for m in marks:
        piece = text[pos : m.start]
        parts.append(piece)
        out_len += len(piece)
        if m.id is not None and SAFE_ID.match(m.id):
            cuts.append((out_len, m.closing, m.id))
        pos = m.end
    parts.append(text[pos:])
    return "".join(parts), cuts


# -- code and plain text -------------------------------------------------------------------

_PAGE_CSS = """
:root{color-scheme:light dark}
body{margin:0;padding:1rem 1.25rem;font:15px/1.55 system-ui,-apple-system,"Segoe UI",sans-serif}
p.gap-note{margin:0 0 .5rem;font-size:12px;opacity:.7}
pre.gap-code{margin:0;font:13px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;word-wrap:break-word;tab-size:4}
.gap-md{max-width:52rem}
.gap-md pre{padding:.75rem;overflow:auto;background:rgba(127,127,127,.12);border-radius:4px}
.gap-md code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
.gap-md table{border-collapse:collapse}.gap-md td,.gap-md th{border:1px solid rgba(127,127,127,.4);padding:.25rem .5rem}
.gap-md img{max-width:100%}
"""

_pyg_css: str | None = None


def _pygments_css() -> str:
    global _pyg_css
    if _pyg_css is None:
        from pygments.formatters import HtmlFormatter

        _pyg_css = HtmlFormatter(style="default").get_style_defs(".gap-code")
    return _pyg_css


def _page(inner: str, body_class: str, css: str = "") -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<style>{_PAGE_CSS}{css}</style></head>"
        f'<body class="{body_class}">{inner}</body></html>'
    )


def _lexer_for(fmt: str):
    if fmt in PLAIN_FORMATS:
        return None
    from pygments.lexers import get_lexer_by_name, get_lexer_for_mimetype
    from pygments.util import ClassNotFound

    opts = {"stripnl": False, "ensurenl": False, "stripall": False}
    try:
        if fmt in _EXTRA_LEXERS:
            return get_lexer_by_name(_EXTRA_LEXERS[fmt], **opts)
        return get_lexer_for_mimetype(fmt, **opts)
    except ClassNotFound:
        pass
    # text/x-NAME, application/x-NAME, text/NAME: try NAME as a pygments alias
    sub = fmt.split("/", 1)[-1]
    for name in (sub[2:] if sub.startswith("x-") else sub, sub.split("+")[-1]):
        try:
            return get_lexer_by_name(name, **opts)
        except ClassNotFound:
            continue
    return None


def _css_class(ttype) -> str:
    from pygments.token import STANDARD_TYPES

    while ttype is not None:
        cls = STANDARD_TYPES.get(ttype)
        if cls is not None:
            return cls
        ttype = ttype.parent
    return ""


def code_view(text: str, lexer, note: str | None = None) -> str:
    """Highlighted (``lexer``) or escaped (``None``) text in ``<pre>``, markers between spans;
    ``note``: a line shown above it."""
    stripped, cuts = _strip_with_cuts(text)
    esc = _html.escape
    out: list[str] = [f'<p class="gap-note">{esc(note)}</p>' if note else "", '<pre class="gap-code">']
    ci = 0
    ncuts = len(cuts)

    def emit_cuts_upto(pos: int) -> None:
        nonlocal ci
        while ci < ncuts and cuts[ci][0] <= pos:
            _, closing, ident = cuts[ci]
            out.append(_CLOSE if closing else _open(ident))
            ci += 1

    if lexer is None:
        pos = 0
        for off, closing, ident in cuts:
            out.append(esc(stripped[pos:off], quote=False))
            out.append(_CLOSE if closing else _open(ident))
            pos = off
        out.append(esc(stripped[pos:], quote=False))
        out.append("</pre>")
        return _page("".join(out), "gap-text")
    for index, ttype, value in lexer.get_tokens_unprocessed(stripped):
        cls = _css_class(ttype)
        end = index + len(value)
        pos = index
        while ci < ncuts and cuts[ci][0] < end:
            off = cuts[ci][0]
            if off > pos:
                piece = esc(stripped[pos:off], quote=False)
                out.append(f'<span class="{cls}">{piece}</span>' if cls else piece)
                pos = off
            emit_cuts_upto(pos)
        if end > pos:
            piece = esc(stripped[pos:end], quote=False)
            out.append(f'<span class="{cls}">{piece}</span>' if cls else piece)
    emit_cuts_upto(len(stripped) + 1)
    out.append("</pre>")
    return _page("".join(out), "gap-code-page", _pygments_css())


# -- Markdown ------------------------------------------------------------------------------

_md = None


def _markdown():
    global _md
    if _md is None:
        from markdown_it import MarkdownIt

        # html=False: raw HTML in the source is shown as text (sanitised); markdown-it's own
        # link validation refuses javascript:, vbscript:, file: and non-image data: URLs.
        _md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
        _md.enable(["table", "strikethrough"])
    return _md


_SLUG_DROP = re.compile(r"[^\w\- ]", re.UNICODE)


def _heading_ids(tokens) -> None:
    """GitHub-style ids on headings (``## Two words`` → ``id="two-words"``, repeats get ``-1``,
    ``-2``…), so that in-page links ``[see](#two-words)`` work as they do on GitHub and in
    VS Code's Markdown preview."""
    seen: dict[str, int] = {}
    for i, t in enumerate(tokens):
        if t.type != "heading_open" or i + 1 >= len(tokens):
            continue
        inline = tokens[i + 1]
        words = "".join(c.content for c in (inline.children or []) if c.type in ("text", "code_inline"))
        base = _SLUG_DROP.sub("", words.strip().lower()).replace(" ", "-") or "section"
        n = seen.get(base, 0)
        seen[base] = n + 1
        t.attrSet("id", base if n == 0 else f"{base}-{n}")


def markdown_view(text: str) -> str:
    """Markdown → HTML (raw HTML disabled). Markers are kept for targets that start and end
    between top-level blocks; the rest are removed (rendering equals that of the stripped text)."""
    stripped, cuts = _strip_with_cuts(text)
    md = _markdown()
    tokens = md.parse(stripped)
    _heading_ids(tokens)
    # line starts of the stripped text
    line_starts = [0]
    find = stripped.find
    i = find("\n")
    while i >= 0:
        line_starts.append(i + 1)
        i = find("\n", i + 1)
    nlines = len(line_starts)

    def line_span(a: int, b: int) -> tuple[int, int]:
        """offsets of lines [a, b) without trailing blank lines → (start, end)."""
        while b - 1 > a:
            ls = line_starts[b - 1]
            le = line_starts[b] - 1 if b < nlines else len(stripped)
            if stripped[ls:le].strip():
                break
            b -= 1
        s = line_starts[a] if a < nlines else len(stripped)
        e = line_starts[b] - 1 if b < nlines else len(stripped)
        return s, max(s, e)

    # top-level block groups: (token slice, source start, source end)
    groups: list[tuple[int, int, int, int]] = []
    j = 0
    n = len(tokens)
    while j < n:
        t = tokens[j]
        k = j + 1
        if t.nesting == 1:
            depth = 1
            while k < n and depth:
                depth += tokens[k].nesting
                k += 1
        if t.map:
            s, e = line_span(t.map[0], t.map[1])
        else:  # pragma: no cover - top-level blocks always carry a map
            s = e = groups[-1][3] if groups else 0
        groups.append((j, k, s, e))
        j = k
    starts = [g[2] for g in groups]
    # where each cut goes: before group g (g == len(groups): at the end); inline → drop target
    drop: set[str] = set()
    placed: list[tuple[int, bool, str]] = []
    for off, closing, ident in cuts:
        # g = the first group starting at or after off
        lo, hi = 0, len(starts)
        while lo < hi:
            mid = (lo + hi) // 2
            if starts[mid] < off:
                lo = mid + 1
            else:
                hi = mid
        g = lo
        if g > 0 and groups[g - 1][3] > off:  # inside the previous block
            drop.add(ident)
        placed.append((g, closing, ident))
    placed = [p for p in placed if p[2] not in drop]
    options = md.options
    env: dict = {}
    render = md.renderer.render
    out: list[str] = []
    pi = 0
    for gi, (a, b, _s, _e) in enumerate(groups):
        while pi < len(placed) and placed[pi][0] <= gi:
            out.append(_CLOSE if placed[pi][1] else _open(placed[pi][2]))
            pi += 1
        out.append(render(tokens[a:b], options, env))
    while pi < len(placed):
        out.append(_CLOSE if placed[pi][1] else _open(placed[pi][2]))
        pi += 1
    return _page("".join(out), "gap-md")
