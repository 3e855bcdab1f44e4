"""Fixtures for the preview tests: a running PreviewServer, HTTP helpers, headless Chromium."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from gap_preview import PreviewServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

DASHBOARD = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Dash</title>
<style>body{font-family:sans-serif} .tall{height:3000px}</style></head>
<body>
<gap:target id="header"><h1 id="title">Revenue dashboard</h1></gap:target>
<gap:target id="stats"><section><p class="stat">Revenue: <gap:target id="revenue">$12,340</gap:target></p>
<p class="stat">Users: <span id="users">811</span></p></section></gap:target>
<gap:target id="form"><form><input id="name" value="start"><textarea id="notes">default</textarea></form></gap:target>
<gap:target id="more"><details id="det"><summary>More</summary><p>Hidden detail</p></details></gap:target>
<div class="tall">spacer</div>
<gap:target id="footer"><footer id="foot">v1</footer></gap:target>
</body></html>
"""


def wait_until(pred, timeout: float = 5.0, step: float = 0.005):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("condition not met in time")


def wait_version(srv: PreviewServer, key: str, version: int, timeout: float = 5.0) -> None:
    """Wait until the hub processed ``version`` of ``key``."""
    wait_until(lambda: (d := srv.hub.docs.get(key)) is not None and d.version == version and d.view is not None, timeout)


@pytest.fixture
def srv(tmp_path):
    s = PreviewServer(roots=[tmp_path], heartbeat=0.5).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def bsrv(tmp_path):
    """A server for the browser tests: heartbeats every 5 s and a 200 ms SSE ``retry:``."""
    s = PreviewServer(roots=[tmp_path], heartbeat=5, retry_ms=200).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def client(srv):
    with httpx.Client(base_url=srv.base_url, timeout=10) as c:
        yield c


@pytest.fixture
def auth(srv):
    return {"X-Gap-Token": srv.token}


def chromium_or_skip():
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        if os.environ.get("GAP_REQUIRE_ALL") == "1":
            pytest.fail(f"{CHROMIUM} is missing and GAP_REQUIRE_ALL=1 (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); browser tests skipped")


def run_async(fn, *args):
    """Run ``await fn(*args)`` on a fresh loop in a worker thread (works beside Playwright's
    sync API, which owns the main thread's loop while a browser is open)."""
    import asyncio
    import threading

    out = {}

    def target():
        try:
            out["value"] = asyncio.run(fn(*args))
        except BaseException as e:  # re-raised in the test thread
            out["error"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join(60)
    if "error" in out:
        raise out["error"]
    return out.get("value")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    home = tmp_path_factory.mktemp("chromium-home")
    env = dict(os.environ)
    for var, sub in (("HOME", ""), ("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache"), ("XDG_DATA_HOME", ".local/share")):
        d = Path(home, sub) if sub else Path(home)
        d.mkdir(parents=True, exist_ok=True)
        env[var] = str(d)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, env=env)
        try:
            yield b
        finally:
            b.close()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1000, "height": 700})
    pg = ctx.new_page()
    try:
        yield pg
    finally:
        ctx.close()
