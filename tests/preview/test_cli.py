"""``gap-preview FILE…``: watch files, stream every write (seed 000's use case)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
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
