"""``gap-preview FILE… [--port N] [--open]``: watch files and stream them to the browser.

An external writer (a script, an agent, a model writing token by token) writes the file; the
page follows every write. ``POST /done`` (with the token) closes the viewers' tabs.
"""

from __future__ import annotations

import argparse
import hashlib
import mimetypes
import os
import sys
import threading
import webbrowser
from pathlib import Path

from .server import PreviewServer

_FORMATS = {
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "application/xhtml+xml",
    ".svg": "image/svg+xml",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".toml": "application/toml",
    ".py": "text/x-python",
    ".js": "text/javascript",
    ".ts": "text/x-typescript",
    ".css": "text/css",
    ".txt": "text/plain",
}


def format_for(path: Path) -> str:
    """The MIME type the preview renders ``path`` as (by extension; unknown → text/plain)."""
    ext = path.suffix.lower()
    if ext in _FORMATS:
        return _FORMATS[ext]
    guess, _ = mimetypes.guess_type(path.name)
    return guess or "text/plain"


def key_for(path: Path) -> str:
    """A stable, opaque document key for a file: its name plus a hash of its resolved path."""
    h = hashlib.sha256(str(path).encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return f"{path.name}-{h}"


def _read(path: Path) -> str | None:
    try:
        return path.read_text("utf-8", errors="replace")
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return None


class Watcher:
    """Publishes the files' contents on start and after every change (watchfiles)."""

    def __init__(self, srv: PreviewServer, files: list[Path], *, force_polling: bool | None = None):
        self.srv = srv
        self.files = files
        self.versions = {p: 0 for p in files}
        self.last: dict[Path, str | None] = {}
        self.stop_event = threading.Event()
        self.force_polling = force_polling

    def publish(self, path: Path) -> None:
        text = _read(path)
        if text is None or text == self.last.get(path):
            return
        self.last[path] = text
        self.versions[path] += 1
        self.srv.publish(key_for(path), uri=path.as_uri(), version=self.versions[path], text=text, format=format_for(path))

    def run(self) -> None:
        """Block until :attr:`stop_event` is set (or Ctrl-C)."""
        from watchfiles import watch

        for p in self.files:
            self.publish(p)
        wanted = {str(p) for p in self.files}
        dirs = sorted({str(p.parent) for p in self.files})
        for changes in watch(
            *dirs,
            watch_filter=lambda _c, path: path in wanted,
            debounce=30,
            step=10,
            stop_event=self.stop_event,
            force_polling=self.force_polling,
            recursive=False,
            raise_interrupt=False,
            poll_delay_ms=50,
            rust_timeout=500,
            yield_on_timeout=True,
        ):
            if not changes:
                # the watcher is up (and idle for 0.5 s): catch any write that happened before
                # it started, or that the OS did not report (cheap: read and compare)
                for p in self.files:
                    self.publish(p)
                continue
            for _change, path in changes:
                self.publish(Path(path))

    def start_thread(self) -> threading.Thread:
        t = threading.Thread(target=self.run, name="gap-preview-watch", daemon=True)
        t.start()
        return t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="gap-preview", description="Live browser preview of files (GAP-SSE).")
    ap.add_argument("files", nargs="+", type=Path, metavar="FILE")
    ap.add_argument("--port", type=int, default=int(os.environ.get("GAP_PREVIEW_PORT", "0") or 0))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host (token still required)")
    ap.add_argument("--open", action="store_true", help="open the page in the default browser")
    ap.add_argument("--poll", action="store_true", help="poll instead of OS file events")
    args = ap.parse_args(argv)
    files = [p.resolve() for p in args.files]
    for p in files:
        if p.is_dir():
            ap.error(f"{p} is a directory")
    roots = sorted({p.parent for p in files})
    try:
        srv = PreviewServer(host=args.host, port=args.port, roots=roots, allow_remote=args.allow_remote).start()
    except (ValueError, RuntimeError) as e:
        print(f"gap-preview: {e}", file=sys.stderr)
        return 2
    url = srv.url_for(key_for(files[0]) if len(files) == 1 else None)
    print(url, flush=True)
    for p in files:
        print(f"  {p}  → {srv.url_for(key_for(p))}", file=sys.stderr, flush=True)
    if args.open:
        webbrowser.open(url)
    watcher = Watcher(srv, files, force_polling=True if args.poll else None)
    try:
        watcher.run()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
