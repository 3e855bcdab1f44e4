"""The workspace on disk: its roots, its files, and the text of a URI open or not.

:func:`workspace_files` walks the workspace folders (LSP ``workspaceFolders`` / ``rootUri``)
once and caches the list for a few seconds; it skips VCS, virtual-env, dependency and build
directories and stops at :data:`MAX_FILES`. Used by rename, references, workspace symbols and
envelope resolution.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .documents import uri_to_path

SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".mypy_cache",
             ".pytest_cache", ".tox", "dist", "build", "target", ".cache", ".idea", ".vscode-test"}
MAX_FILES = 20_000
MAX_BYTES = 2_000_000  # files larger than this are not read by workspace-wide features
_TTL = 3.0


def roots(ls) -> list[Path]:
    """The workspace folders as local paths (deduplicated, existing)."""
    out: list[Path] = []
    try:
        ws = ls.workspace
    except RuntimeError:
        return out
    for folder in (ws.folders or {}).values():
        p = uri_to_path(folder.uri)
        if p is not None:
            out.append(p)
    if not out and ws.root_path:
        out.append(Path(ws.root_path))
    seen, res = set(), []
    for p in out:
        if p.is_dir() and p not in seen:
            seen.add(p)
            res.append(p)
    return res


def workspace_files(ls, *, fresh: bool = False) -> list[Path]:
    """Every regular file under the workspace roots (cached for a few seconds)."""
    cache = getattr(ls, "_ws_files", None)
    now = time.monotonic()
    if cache is not None and not fresh and now - cache[0] < _TTL:
        return cache[1]
    files: list[Path] = []
    for root in roots(ls):
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".") or d in (".github",))
            for f in sorted(filenames):
                files.append(Path(dirpath) / f)
                if len(files) >= MAX_FILES:
                    break
            if len(files) >= MAX_FILES:
                break
    ls._ws_files = (now, files)
    return files


def read_text(ls, uri: str) -> str | None:
    """The text of ``uri``: the open document's, else the file's (None when unreadable/too big)."""
    doc = ls.documents.get(uri)
    if doc is not None:
        return doc.text
    p = uri_to_path(uri)
    if p is None:
        return None
    try:
        if p.stat().st_size > MAX_BYTES:
            return None
        return p.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def envelope_file_uris(ls) -> list[str]:
    """URIs of every envelope container: open ``*.gap.json(l)``/Markdown documents and the
    ``*.gap.json(l)`` files of the workspace."""
    from .envelope_files import envelope_kind, is_envelope_file

    out = [d.uri for d in ls.documents if envelope_kind(d.uri, d.language_id)]
    seen = set(out)
    for p in workspace_files(ls):
        if p.name.lower().endswith((".gap.json", ".gap.jsonl")):
            u = p.as_uri()
            if u not in seen and is_envelope_file(u):
                seen.add(u)
                out.append(u)
    return out
