"""Targets across the workspace (LSP 3.17 §workspace_symbol; GAP §3.2).

Searches the targets of every open artifact and of every workspace file that holds markers
(read from disk, scanned once per modification time). A query matches a target id when its
characters appear in order, case-insensitively (``rv`` matches ``revenue-value``); an empty
query lists everything, up to :data:`MAX_RESULTS`. The scan reports work-done progress
(with the request's token, or one it creates) and stops when the user cancels it or the
client cancels the request (``$/cancelRequest``).
"""

from __future__ import annotations

import asyncio

from gap_engine import scan
from lsprotocol import types

from .documents import Document
from .envelope_files import is_envelope_file
from .progress import work_done
from .symbols import symbol_kind
from .workspace import MAX_BYTES, workspace_files

MAX_RESULTS = 2000
_BINARY = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".ico", ".pdf", ".zip", ".gz", ".tar", ".whl", ".so", ".pyc", ".woff", ".woff2", ".ttf", ".lock"}


def matches(query: str, name: str) -> bool:
    """Fuzzy subsequence match, case-insensitive."""
    if not query:
        return True
    it = iter(name.lower())
    return all(c in it for c in query.lower())


def _symbols_of(uri: str, text: str, index, query: str, encoding: str, doc: Document | None = None) -> list[types.SymbolInformation]:
    hits = [s for s in index.spans() if matches(query, s.id)]
    if not hits:
        return []
    d = doc or Document(uri, None, "", text, encoding)
    return [
        types.SymbolInformation(name=s.id, kind=symbol_kind(s), location=types.Location(uri=uri, range=d.range_at(s.start, s.end)),
                                container_name=s.parent or uri.rsplit("/", 1)[-1])
        for s in hits
    ]


async def workspace_symbols(ls, query: str, token=None) -> list[types.SymbolInformation]:
    out: list[types.SymbolInformation] = []
    seen = set()
    for doc in ls.documents:
        seen.add(doc.uri)
        if not is_envelope_file(doc.uri):
            out.extend(_symbols_of(doc.uri, doc.text, doc.index, query, doc.encoding, doc))
    cache: dict = ls.__dict__.setdefault("_ws_scans", {})
    files = [p for p in workspace_files(ls) if p.suffix.lower() not in _BINARY and not p.name.lower().endswith((".gap.json", ".gap.jsonl"))]
    async with work_done(ls, "Searching GAP targets", token=token) as p:
        for i, path in enumerate(files):
            if len(out) >= MAX_RESULTS or p.cancelled:
                break
            if i % 50 == 0:
                p.report(f"{i}/{len(files)} files", int(100 * i / max(len(files), 1)))
                await asyncio.sleep(0)  # lets cancellations in
            uri = path.as_uri()
            if uri in seen:
                continue
            try:
                st = path.stat()
                if st.st_size > MAX_BYTES:
                    continue
                key = (st.st_mtime_ns, st.st_size)
                hit = cache.get(uri)
                if hit is None or hit[0] != key:
                    raw = path.read_bytes()
                    if b"<gap:target" not in raw:
                        cache[uri] = (key, None, None)
                        continue
                    text = raw.decode("utf-8")
                    cache[uri] = hit = (key, text, scan(text))
            except (OSError, UnicodeDecodeError):
                continue
            if hit[1] is not None:
                out.extend(_symbols_of(uri, hit[1], hit[2], query, ls.documents.encoding))
    return out[:MAX_RESULTS]


def register(ls) -> None:
    @ls.feature(types.WORKSPACE_SYMBOL)
    async def _workspace_symbol(ls, params: types.WorkspaceSymbolParams):
        return await workspace_symbols(ls, params.query or "", params.work_done_token)
