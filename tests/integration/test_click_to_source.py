"""Clicking an element in the preview (headless Chromium) moves the editor to the innermost
target containing it: the server sends window/showDocument with the target's content selected."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path


from ..conftest import EXAMPLES, require_or_skip
from ..lsp.editor import utf16_offset

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
URI = "file:///work/example/click.html"


async def test_click_in_preview_reveals_the_target_in_the_editor(client):
    require_or_skip(os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is not installed")
    from playwright.async_api import async_playwright

    text = (EXAMPLES / "dashboard" / "dashboard.html").read_text("utf-8")
    client.editor.open(URI, text)
    url = await client.editor.command("gap.previewUrl", URI)
    home = Path(tempfile.mkdtemp(prefix="gap-click-home-"))
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"))
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS, env=env)
        try:
            page = await browser.new_page()
            await page.goto(url)
            frame = page.frame_locator("iframe")
            await frame.get_by_text("Ben Okafor").click()
            for _ in range(200):
                if client.shown_documents:
                    break
                await asyncio.sleep(0.025)
        finally:
            await browser.close()
    assert client.shown_documents, "no window/showDocument after the click"
    shown = client.shown_documents[-1]
    assert shown.uri == URI and shown.selection is not None
    sel = text[utf16_offset(text, shown.selection.start) : utf16_offset(text, shown.selection.end)]
    # the innermost target around the clicked cell is the orders table body
    assert "Ben Okafor" in sel and sel.lstrip().startswith("<tr>") and "gap:target" not in sel
