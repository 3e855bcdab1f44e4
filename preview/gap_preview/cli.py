"""``gap-preview FILE… [--port N] [--open]``: watch files and stream them to the browser.

An external writer (a script, an agent, a model writing token by token) writes the file; the
page follows every write. ``POST /done`` (with the token) closes the viewers' tabs.
"""

from __future__ import annotations

import argparse
import codecs
import hashlib
import mimetypes
import os
import re
import sys
import threading
import time
import webbrowser
from pathlib import Path
from typing import NamedTuple

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
    # a file name that is not UTF-8 (bytes on Linux, surrogates in Python) cannot go into a
    # URL or JSON as it is: U+FFFD for its bad bytes (the hash keeps keys apart)
    name = path.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return f"{name}-{h}"


class Decoded(NamedTuple):
    """A file's bytes as text: ``text``, the ``format`` to show it as (None: by extension) and a
    ``note`` for the page's bar (None when there is nothing to say)."""

    text: str
    format: str | None
    note: str | None


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# <meta charset=…>, <meta http-equiv=… content="…; charset=…">, <?xml … encoding="…"?>
_DECLARED = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)|<\?xml\b[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)""", re.I)


def decode(data: bytes) -> Decoded:
    """The text of a file, as a browser or an editor would read it: a byte-order mark (UTF-8,
    UTF-16, UTF-32) wins; else UTF-8; else the encoding the document declares (HTML ``<meta
    charset>``, XML ``encoding=``) in its first 1024 bytes; else windows-1252 (what browsers
    assume for a legacy page), with a note. UTF-8 that ends inside a character (a file read
    while it is being written) is the text before that character. Bytes with NULs and no BOM are a binary file: a
    short notice is shown instead of garbage."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return Decoded(data.decode(enc, errors="replace").lstrip("\ufeff"), None, None)
    try:
        return Decoded(data.decode("utf-8"), None, None)
    except UnicodeDecodeError as e:
        bad = e.start
        if e.end == len(data) and e.reason == "unexpected end of data":
            # valid UTF-8 cut inside its last character: a writer is still writing the file
            # (buffered writes end at byte counts); show the text so far, the rest comes next
            return Decoded(data[:bad].decode("utf-8"), None, None)
    if b"\x00" in data[:8192]:
        return Decoded(f"Binary file ({len(data):,} bytes): not shown.\n", "text/plain", f"binary file, {len(data):,} bytes")
    m = _DECLARED.search(data[:1024])
    if m:
        name = (m.group(1) or m.group(2)).decode("ascii")
        try:
            enc = codecs.lookup(name).name
        except LookupError:
            enc = None
        if enc is not None and enc not in ("utf-8", "utf-16", "utf-32"):
            return Decoded(data.decode(enc, errors="replace"), None, None)
    return Decoded(
        data.decode("cp1252", errors="replace"),
        None,
        f"not valid UTF-8 (byte 0x{data[bad]:02X} at offset {bad}): shown as windows-1252",
    )


def _stat_key(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)


def _read(path: Path) -> Decoded | None:
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return None
    return decode(data)


class Watcher:
    """Publishes the files' contents on start and after every change (watchfiles)."""

    def __init__(self, srv: PreviewServer, files: list[Path], *, force_polling: bool | None = None):
        self.srv = srv
        self.files = files
        self.versions = {p: 0 for p in files}
        self.last: dict[Path, tuple[str, str]] = {}
        self.stats: dict[Path, tuple | None] = {}
        self.notes: dict[Path, str | None] = {}
        self.stop_event = threading.Event()
        self.force_polling = force_polling

    def _note(self, path: Path, note: str | None) -> None:
        if self.notes.get(path) != note:
            self.notes[path] = note
            self.srv.set_status(key_for(path), note)

    def publish(self, path: Path, *, check: bool = False) -> None:
        """Publish ``path`` if its content changed. ``check``: a periodic look, not an OS event —
        skip the read when size, mtime and inode are those of the last read (and the mtime is
        not so recent that a same-size write in the same tick could hide behind it)."""
        key = _stat_key(path)
        if check and key is not None and key == self.stats.get(path) and time.time_ns() - key[0] > 2_000_000_000:
            return
        got = _read(path)
        if got is None:
            self.stats.pop(path, None)
            if path in self.last:  # it was shown: say the page shows its last version
                self._note(path, "file deleted or unreadable: showing its last version")
            return
        self.stats[path] = key
        fmt = got.format or format_for(path)
        if (got.text, fmt) != self.last.get(path):
            self.last[path] = (got.text, fmt)
            self.versions[path] += 1
            self.srv.publish(key_for(path), uri=path.as_uri(), version=self.versions[path], text=got.text, format=fmt)
        self._note(path, got.note)

    def run(self) -> None:
        """Block until :attr:`stop_event` is set (or Ctrl-C). Falls back to polling when the
        OS watcher fails (watchfiles gives up on a directory holding a file name that is not
        UTF-8, or when the inotify watch limit is reached)."""
        for p in self.files:
            self.publish(p)
        try:
            self._watch()
        except Exception as e:  # noqa: BLE001 - any watcher failure: keep following by polling
            if self.stop_event.is_set():
                return
            print(f"gap-preview: file watching failed ({e}); polling instead", file=sys.stderr, flush=True)
            while not self.stop_event.wait(0.3):
                for p in self.files:
                    self.publish(p, check=True)

    def _watch(self) -> None:
        from watchfiles import watch

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
                    self.publish(p, check=True)
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
