"""``gap-preview FILE…``: watch files, stream every write (seed 000's use case)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
from httpx_sse import connect_sse

from gap_preview import PreviewServer
from gap_preview.cli import Watcher, format_for, key_for

from .conftest import wait_until


def test_format_and_key(tmp_path):
    assert format_for(Path("a.md")) == "text/markdown"
    assert format_for(Path("a.yml")) == "application/yaml"
    assert format_for(Path("a.weird")) == "text/plain"
    k = key_for(tmp_path / "a.html")
    assert k.startswith("a.html-") and str(tmp_path) not in k and k == key_for(tmp_path / "a.html")


def test_watcher_streams_writes(tmp_path):
    f = tmp_path / "art.html"
    f.write_text('<gap:target id="x"><p>0</p></gap:target>')
    srv = PreviewServer(roots=[tmp_path]).start()
    w = Watcher(srv, [f])
    t = w.start_thread()
    key = key_for(f)
    try:
        wait_until(lambda: key in srv.hub.docs and srv.hub.docs[key].view is not None)
        got = []

        def reader():
            with httpx.Client(base_url=srv.base_url, timeout=10) as c:
                with connect_sse(c, "GET", "/events", params={"doc": key, "token": srv.token}) as es:
                    for ev in es.iter_sse():
                        if ev.event == "gap:envelope":
                            got.append(json.loads(ev.data))
                        if ev.event == "gap:complete":
                            return

        rt = threading.Thread(target=reader)
        rt.start()
        wait_until(lambda: got)
        # a chunked writer: the file grows in pieces, the viewer follows to the final state
        for i in range(1, 6):
            f.write_text(f'<gap:target id="x"><p>{i}</p></gap:target>')
            wait_until(lambda i=i: srv.hub.docs[key].text.endswith(f"<p>{i}</p></gap:target>"))
        r = httpx.post(srv.base_url + "/done", headers={"X-Gap-Token": srv.token})
        assert r.status_code == 200
        rt.join(5)
        assert got[0]["name"] == "synthesize"
        assert got[-1]["content"][0].get("content", got[-1]["content"][0].get("body")).endswith("<p>5</p>")
        assert all(e["name"] == "edit" for e in got[1:])
        assert got[0]["meta"]["uri"] == f.as_uri()
    finally:
        w.stop_event.set()
        t.join(5)
        srv.stop()


def test_console_script_prints_url(tmp_path):
    f = tmp_path / "n.md"
    f.write_text("# hello\n")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    p = subprocess.Popen([sys.executable, "-m", "gap_preview.cli", str(f), "--poll"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = p.stdout.readline().strip()
        u = urlparse(url)
        assert u.hostname == "127.0.0.1" and "token" in parse_qs(u.query)
        q = parse_qs(u.query)
        with httpx.Client(base_url=f"http://{u.netloc}", timeout=5) as c:
            wait_until(lambda: c.get("/content", params={"doc": q["doc"][0], "token": q["token"][0]}).status_code == 200)
            assert c.get("/content", params={"token": q["token"][0]}).text == "# hello\n"
            f.write_text("# changed\n")
            wait_until(lambda: c.get("/content", params={"token": q["token"][0]}).text == "# changed\n")
    finally:
        p.terminate()
        p.wait(10)


# -- encodings, binary files, deleted files, the periodic look ---------------------------------


def test_decode_boms_declared_charsets_legacy_and_binary():
    """A file is read as a browser/editor would: BOM first (UTF-16 from Windows Notepad,
    UTF-8 with BOM), then UTF-8, then the charset the document declares, then windows-1252
    with a note; a binary file gets a notice instead of garbage."""
    from gap_preview.cli import decode

    html = '<p id="x">café ünï 日本</p>'
    for enc in ("utf-16", "utf-16-be", "utf-8-sig", "utf-32"):
        data = html.encode(enc) if enc != "utf-16-be" else b"\xfe\xff" + html.encode("utf-16-be")
        d = decode(data)
        assert (d.text, d.format, d.note) == (html, None, None), enc
    assert decode(html.encode()).text == html
    sjis = '<meta charset="shift_jis"><p>日本語</p>'
    assert decode(sjis.encode("shift_jis")) == (sjis, None, None)
    legacy = '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"><p>café</p>'
    assert decode(legacy.encode("latin-1")).text == legacy
    d = decode("# Café “quoted”\n".encode("cp1252"))
    assert d.text == "# Café “quoted”\n" and d.format is None
    assert d.note == "not valid UTF-8 (byte 0xE9 at offset 5): shown as windows-1252"
    d = decode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    assert d.format == "text/plain" and "Binary file" in d.text and "\x00" not in d.text
    assert d.note.startswith("binary file")


def test_decode_utf8_cut_mid_character():
    """A UTF-8 file read while a writer is still writing it can end in the middle of a
    character (buffered writers flush at byte counts, not character boundaries): that is the
    text so far, not a legacy file — the whole page used to flash as windows-1252 mojibake
    ("â€”", "ðŸ“ˆ") with a "not valid UTF-8" note until the next write."""
    from gap_preview.cli import decode

    text = "<p>Sales — Q3 📈 café</p>\n"
    data = text.encode()
    for cut in range(len(data) + 1):
        d = decode(data[:cut])
        assert data.startswith(d.text.encode()), (cut, d)
        assert d.note is None and d.format is None, (cut, d)
        assert len(d.text.encode()) >= cut - 3, (cut, d)
    # a bad byte before the end is still a legacy file
    assert decode("café!".encode("cp1252")).note is not None


def test_watcher_follows_a_write_cut_mid_character(tmp_path):
    f = tmp_path / "stream.md"
    whole = "# Sales — Q3 📈\n".encode()
    f.write_bytes(whole[:-3])  # the emoji's first two bytes only
    srv, w, t = _watch(tmp_path, f)
    key = key_for(f)
    doc = lambda: srv.hub.docs.get(key)  # noqa: E731
    try:
        wait_until(lambda: doc() is not None and doc().text.startswith("# Sales"))
        assert doc().text == "# Sales — Q3 " and doc().status is None, (doc().text, doc().status)
        f.write_bytes(whole)
        wait_until(lambda: doc().text == whole.decode())
        assert doc().status is None
    finally:
        w.stop_event.set()
        t.join(5)
        srv.stop()


def _watch(tmp_path, f, **kw):
    srv = PreviewServer(roots=[tmp_path]).start()
    w = Watcher(srv, [f], **kw)
    return srv, w, w.start_thread()


def test_watcher_non_utf8_binary_and_deleted_files(tmp_path):
    f = tmp_path / "notes é.md"
    f.write_bytes("# Grüße\n".encode("utf-16"))
    srv, w, t = _watch(tmp_path, f)
    key = key_for(f)
    doc = lambda: srv.hub.docs.get(key)  # noqa: E731
    try:
        wait_until(lambda: doc() is not None and doc().text == "# Grüße\n")
        assert doc().format == "text/markdown" and doc().status is None
        f.write_bytes("# Grüße\n".encode("latin-1"))
        wait_until(lambda: doc().text == "# Grüße\n" and doc().status is not None)
        assert "not valid UTF-8" in doc().status
        f.write_bytes(b"\x00\x01\x02binary\xff" * 100)
        # the text and the note are published one after the other: wait for both
        wait_until(lambda: doc().format == "text/plain" and doc().text.startswith("Binary file")
                   and (doc().status or "").startswith("binary file"))
        f.write_text("# back\n")
        wait_until(lambda: doc().text == "# back\n" and doc().format == "text/markdown" and doc().status is None)
        f.unlink()  # the page keeps the last version and says why it no longer changes
        wait_until(lambda: doc().status is not None and "deleted" in doc().status)
        assert doc().text == "# back\n"
        f.write_text("# recreated\n")
        wait_until(lambda: doc().text == "# recreated\n" and doc().status is None)
    finally:
        w.stop_event.set()
        t.join(5)
        srv.stop()


def test_periodic_look_does_not_reread_unchanged_files(tmp_path, monkeypatch):
    """The idle re-check (every 0.5 s, for writes the OS did not report) compares size, mtime
    and inode before reading: with many or large files it used to read them all every time
    (20 files of 5 MB: 8 % of a CPU while nothing changed)."""
    from gap_preview import cli

    f = tmp_path / "big.html"
    f.write_text("<p>" + "x" * 100_000 + "</p>")
    old = time.time_ns() - 10_000_000_000
    os.utime(f, ns=(old, old))
    reads = []
    real = cli._read
    monkeypatch.setattr(cli, "_read", lambda p: reads.append(p) or real(p))
    srv, w, t = _watch(tmp_path, f, force_polling=True)
    try:
        wait_until(lambda: key_for(f) in srv.hub.docs and srv.hub.docs[key_for(f)].view is not None)
        n = len(reads)
        time.sleep(2.0)  # several idle looks
        assert len(reads) == n
        f.write_text("<p>" + "y" * 100_000 + "</p>")  # a real change is still seen
        wait_until(lambda: "yyy" in srv.hub.docs[key_for(f)].text)
    finally:
        w.stop_event.set()
        t.join(5)
        srv.stop()


def test_file_name_that_is_not_utf8(tmp_path):
    """A Linux file name that is not UTF-8 (Latin-1 bytes): the key, the URL and /documents used
    to fail on it (UnicodeEncodeError, HTTP 500) and watchfiles gave up on its directory, which
    stopped the watcher for every file there. Now: a clean key, and polling when watching fails."""
    f = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9 <x>.html"))
    g = tmp_path / "plain.html"
    f.write_text("<p>v1</p>")
    g.write_text("<p>g1</p>")
    srv = PreviewServer(roots=[tmp_path]).start()
    w = Watcher(srv, [f, g])
    t = w.start_thread()
    kf, kg = key_for(f), key_for(g)
    try:
        kf.encode("utf-8")
        assert kf.startswith("caf\ufffd <x>.html-") and kf != key_for(tmp_path / "caf\ufffd <x>.html")
        wait_until(lambda: kf in srv.hub.docs and srv.hub.docs[kf].text == "<p>v1</p>")
        url = srv.url_for(kf)
        with httpx.Client(base_url=srv.base_url, timeout=5) as c:
            docs = c.get("/documents", headers={"X-Gap-Token": srv.token})
            assert docs.status_code == 200 and {d["key"] for d in docs.json()} == {kf, kg}
            assert c.get(url[len(srv.base_url):]).status_code == 200
        f.write_text("<p>v2</p>")
        g.write_text("<p>g2</p>")
        wait_until(lambda: srv.hub.docs[kf].text == "<p>v2</p>" and srv.hub.docs[kg].text == "<p>g2</p>")
        assert t.is_alive()
    finally:
        w.stop_event.set()
        t.join(5)
        srv.stop()
