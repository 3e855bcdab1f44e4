"""The status note: a one-line text from the editor side (e.g. what the last model edit cost)
shown in the page's bar, carried as a ``preview:status`` event."""

from __future__ import annotations

import json

import httpx

from .conftest import DASHBOARD, wait_until
from .test_browser import KEY, open_doc, pub


def test_status_note_reaches_the_stream_and_late_viewers(bsrv):  # noqa: F811
    pub(bsrv, 1, DASHBOARD)
    bsrv.set_status(KEY, "edit: 41 output tokens vs 2,310 for a full regeneration (98% saved)\nsecond line dropped")
    got = []
    with httpx.Client(base_url=bsrv.base_url, timeout=5) as c:
        with c.stream("GET", "/events", params={"doc": KEY, "token": bsrv.token}) as r:
            event = None
            for line in r.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event == "preview:status":
                    got.append(json.loads(line[5:]))
                    break
    assert got == [{"text": "edit: 41 output tokens vs 2,310 for a full regeneration (98% saved)", "artifact_id": KEY}]


def test_status_note_is_shown_as_text_in_the_bar(page, bsrv):  # noqa: F811
    pub(bsrv, 1, DASHBOARD)
    open_doc(page, bsrv)
    bsrv.set_status(KEY, "<b>not markup</b> 98% saved")
    wait_until(lambda: page.evaluate("document.getElementById('gap-note').textContent") == "<b>not markup</b> 98% saved")
    assert page.evaluate("document.getElementById('gap-note').hidden") is False
    assert page.evaluate("document.querySelectorAll('#gap-note b').length") == 0
    bsrv.set_status(KEY, None)
    wait_until(lambda: page.evaluate("document.getElementById('gap-note').hidden") is True)
