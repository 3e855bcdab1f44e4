"""The preview page in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)."""

from __future__ import annotations

import time

import pytest

from .conftest import DASHBOARD, wait_until

pytestmark = pytest.mark.browser

KEY = "dash"
URI = "file:///work/dash.html"


def pub(srv, version, text, key=KEY, fmt="text/html", uri=URI):
    srv.publish(key, uri=uri, version=version, text=text, format=fmt)


def rendered(page, version, timeout=5.0):
    """Wait until the frame reports ``version`` rendered; return that record."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        recs = page.evaluate("window.__gap ? window.__gap.rendered : []")
        for r in recs:
            if r["version"] == version:
                return r
        time.sleep(0.01)
    raise AssertionError(f"version {version} never rendered; got {recs}")


def frame(page):
    wait_until(lambda: len(page.frames) > 1 and page.frames[1].url.endswith("/frame"))
    return page.frames[1]


def open_doc(page, srv, key=KEY, version=1, **kw):
    page.goto(srv.url_for(key, **kw))
    rendered(page, version)
    return frame(page)


def test_render_update_without_reload_token_dropped(page, bsrv):
    pub(bsrv, 1, DASHBOARD)
    fr = open_doc(page, bsrv)
    assert bsrv.token not in page.url and "doc=dash" in page.url
    assert fr.locator("h1").inner_text() == "Revenue dashboard"
    page.evaluate("window.__outer = 'kept'")
    fr.evaluate("window.__inner = 'kept'")
    pub(bsrv, 2, DASHBOARD.replace("$12,340", "$15,720"))
    r = rendered(page, 2)
    assert r["mode"] == "local"  # an edit envelope morphed only the changed target
    assert "$15,720" in fr.locator("p.stat").first.inner_text()
    assert page.evaluate("window.__outer") == "kept" and fr.evaluate("window.__inner") == "kept"
    # markers are not in the DOM as elements, only as comments
    assert fr.evaluate("document.getElementsByTagName('gap:target').length") == 0
    # a change outside every target → synthesize → full morph, still no reload
    pub(bsrv, 3, DASHBOARD.replace("<title>Dash</title>", "<title>Dash 3</title>"))
    assert rendered(page, 3)["mode"] == "full"
    assert fr.evaluate("document.title") == "Dash 3" and fr.evaluate("window.__inner") == "kept"


def test_scroll_focus_details_and_inputs_survive(page, bsrv):
    pub(bsrv, 1, DASHBOARD)
    fr = open_doc(page, bsrv)
    fr.locator("#det summary").click()
    assert fr.evaluate("document.getElementById('det').open")
    fr.locator("#name").fill("typed by the user")
    fr.locator("#notes").fill("notes typed")
    fr.locator("#name").focus()
    fr.evaluate("window.scrollTo(0, 1200)")
    wait_until(lambda: fr.evaluate("window.scrollY") == 1200)
    text = DASHBOARD
    changes = (
        lambda t: t.replace("$12,340", "$1"),  # edit inside a target
        lambda t: t.replace('<footer id="foot">v1</footer>', '<footer id="foot">v9</footer>'),
        lambda t: "<!-- outside -->" + t,  # synthesize: the whole document is morphed
    )
    for v, change in enumerate(changes, start=2):
        text = change(text)
        pub(bsrv, v, text)
        rendered(page, v)
        assert fr.evaluate("window.scrollY") == 1200
        assert fr.evaluate("document.getElementById('det').open")
        assert fr.evaluate("document.getElementById('name').value") == "typed by the user"
        assert fr.evaluate("document.getElementById('notes').value") == "notes typed"
        assert fr.evaluate("document.activeElement && document.activeElement.id") == "name"
    assert fr.locator("#foot").inner_text() == "v9"


def test_artifact_changes_its_own_details_and_scripts_run(page, bsrv):
    doc = '<gap:target id="d"><details id="x"><summary>s</summary>b</details></gap:target><script>window.ran = (window.ran||0) + 1</script>'
    pub(bsrv, 1, doc)
    fr = open_doc(page, bsrv)
    assert fr.evaluate("window.ran") == 1
    pub(bsrv, 2, doc.replace('<details id="x">', '<details id="x" open>'))
    rendered(page, 2)
    assert fr.evaluate("document.getElementById('x').open")  # the artifact's own change applies
    assert fr.evaluate("window.ran") == 1  # unchanged scripts do not run again


def test_click_to_source(page, bsrv):
    calls = []
    bsrv.on_reveal = lambda *a: calls.append(a)
    pub(bsrv, 1, DASHBOARD)
    fr = open_doc(page, bsrv)
    fr.locator("#foot").click()
    wait_until(lambda: calls)
    key, uri, offset, target = calls[-1]
    assert (key, uri, target) == (KEY, URI, "footer")
    assert DASHBOARD[offset:].startswith('<footer id="foot">')
    fr.get_by_text("$12,340").click()
    wait_until(lambda: len(calls) == 2)
    assert calls[-1][3] == "revenue" and DASHBOARD[calls[-1][2]:].startswith("$12,340")
    fr.locator("#users").click()
    wait_until(lambda: len(calls) == 3)
    assert calls[-1][3] == "stats"


def test_cursor_outline_and_follow(page, bsrv):
    pub(bsrv, 1, DASHBOARD)
    fr = open_doc(page, bsrv)
    assert fr.evaluate("window.scrollY") == 0
    bsrv.set_cursor(KEY, DASHBOARD.index("<footer"))
    wait_until(lambda: fr.evaluate("(document.querySelector('[data-gap-overlay]')||{}).dataset?.target") == "footer")
    box = fr.evaluate(
        "(() => { const o = document.querySelector('[data-gap-overlay]').getBoundingClientRect();"
        " const f = document.getElementById('foot').getBoundingClientRect();"
        " return [o.left, o.top, o.width, o.height, f.left, f.top, f.width, f.height]; })()"
    )
    assert box[2] > 0 and box[3] > 0
    assert abs(box[0] - box[4]) < 2 and abs(box[1] - box[5]) < 2 and abs(box[3] - box[7]) < 2
    assert fr.evaluate("window.scrollY") > 1000  # followed the cursor down to the footer
    # the outline survives a re-render and moves with the cursor
    pub(bsrv, 2, DASHBOARD.replace("$12,340", "$2"))
    rendered(page, 2)
    assert fr.evaluate("document.querySelector('[data-gap-overlay]').dataset.target") == "footer"
    bsrv.set_cursor(KEY, DASHBOARD.index("$12,340"))
    wait_until(lambda: fr.evaluate("document.querySelector('[data-gap-overlay]').dataset.target") == "revenue")
    bsrv.set_cursor(KEY, None)
    wait_until(lambda: fr.evaluate("document.querySelector('[data-gap-overlay]').style.display") == "none")


@pytest.mark.parametrize("transport", [None, "ws"])
def test_reconnect_resumes_with_last_event_id(page, bsrv, transport):
    pub(bsrv, 1, DASHBOARD)
    fr = open_doc(page, bsrv, transport=transport)
    pub(bsrv, 2, DASHBOARD.replace("$12,340", "$2"))
    rendered(page, 2)
    last = page.evaluate("window.__gap.lastEventId")
    assert last == "1"
    # the server drops the connection (as a network failure would) and changes happen meanwhile
    bsrv.call(bsrv.hub.drop_viewers, KEY).result(5)
    pub(bsrv, 3, DASHBOARD.replace("$12,340", "$3"))
    r = rendered(page, 3)
    assert r["mode"] == "local"  # resumed with the edit, not a fresh synthesize
    assert "1" in list(bsrv.hub.resumes)
    assert page.evaluate("window.__gap.errors") == []
    assert "$3" in fr.locator("p.stat").first.inner_text()


def test_done_and_close_end_the_page(page, bsrv):
    import httpx

    pub(bsrv, 1, DASHBOARD)
    open_doc(page, bsrv)
    r = httpx.post(bsrv.base_url + "/done", headers={"X-Gap-Token": bsrv.token})
    assert r.status_code == 200
    wait_until(lambda: page.evaluate("document.getElementById('gap-status').dataset.state") == "done")


def test_document_picker(page, bsrv):
    pub(bsrv, 1, "<p id=a>first</p>", key="a", uri="file:///w/a.html")
    pub(bsrv, 1, "# second", key="b", uri="file:///w/b.md", fmt="text/markdown")
    wait_until(lambda: len(bsrv.hub.live_docs()) == 2)
    page.goto(bsrv.url_for())
    wait_until(lambda: page.evaluate("document.getElementById('gap-picker').options.length") == 2)
    page.select_option("#gap-picker", "b")
    rendered(page, 1)
    assert frame(page).locator("h1").inner_text() == "second"
    assert "doc=b" in page.url and bsrv.token not in page.url


def test_artifact_cannot_reach_token_server_or_parent(page, bsrv):
    probe = """<pre id="out"></pre><script>
(async () => {
  const r = {};
  const t = (k, f) => { try { r[k] = String(f()); } catch (e) { r[k] = 'blocked:' + e.name; } };
  t('parentDoc', () => parent.document.body.innerHTML);
  t('parentHref', () => parent.location.href);
  t('topHref', () => top.location.href);
  t('cookie', () => document.cookie);
  t('storage', () => localStorage.getItem('x'));
  t('session', () => sessionStorage.length);
  r.href = location.href; r.referrer = document.referrer; r.html = document.documentElement.outerHTML.length;
  for (const [k, u] of [['same', '/content'], ['abs', 'http://127.0.0.1:PORT/content?doc=dash'], ['events', '/events?doc=dash']]) {
    try { const resp = await fetch(u); r[k] = 'status:' + resp.status + ':' + (await resp.text()).slice(0, 40); }
    catch (e) { r[k] = 'blocked:' + e.name; }
  }
  try { const w = new WebSocket('ws://127.0.0.1:PORT/ws?doc=dash'); await new Promise((ok) => { w.onopen = () => ok(r.ws = 'open'); w.onerror = () => ok(r.ws = 'blocked'); setTimeout(ok, 1500); }); }
  catch (e) { r.ws = 'blocked:' + e.name; }
  document.getElementById('out').textContent = JSON.stringify(r);
})();
</script>""".replace("PORT", str(bsrv.port))
    pub(bsrv, 1, probe)
    fr = open_doc(page, bsrv)
    wait_until(lambda: fr.evaluate("document.getElementById('out').textContent"), timeout=8)
    import json

    r = json.loads(fr.evaluate("document.getElementById('out').textContent"))
    for k in ("parentDoc", "parentHref", "cookie", "storage", "session"):
        assert r[k].startswith("blocked"), (k, r[k])
    assert r["topHref"].startswith("blocked")
    assert bsrv.token not in json.dumps(r)
    assert r["referrer"] == ""
    for k in ("same", "abs", "events"):
        assert r[k].startswith("blocked"), (k, r[k])  # CSP connect-src https: only
    assert r["ws"].startswith("blocked")
    # and the page's own document never carried the token into the frame
    assert bsrv.token not in fr.evaluate("document.documentElement.outerHTML")


def test_markdown_and_code_views(page, bsrv):
    md = '# Notes\n\n<gap:target id="intro">\nSome *text*.\n</gap:target>\n\n<script>alert(1)</script>\n'
    pub(bsrv, 1, md, fmt="text/markdown", uri="file:///w/n.md")
    fr = open_doc(page, bsrv)
    assert fr.locator("em").inner_text() == "text"
    assert "<script>alert(1)</script>" in fr.locator("body").inner_text()  # shown as text
    pub(bsrv, 2, md.replace("*text*", "*more text*"), fmt="text/markdown", uri="file:///w/n.md")
    rendered(page, 2)
    assert fr.locator("em").inner_text() == "more text"


def test_websocket_transport_page(page, bsrv):
    pub(bsrv, 1, DASHBOARD)
    fr = open_doc(page, bsrv, transport="ws")
    assert page.evaluate("window.__gap.transport") == "ws"
    pub(bsrv, 2, DASHBOARD.replace("Revenue dashboard", "Over WebSocket"))
    rendered(page, 2)
    assert fr.locator("h1").inner_text() == "Over WebSocket"


def test_artifact_script_cannot_fake_a_click_to_source(page, bsrv):
    calls = []
    bsrv.on_reveal = lambda *a: calls.append(a)
    doc = ('<gap:target id="x"><p id="p">x</p></gap:target><script>'
           'setTimeout(() => parent.postMessage({type: "reveal", target: "x"}, "*"), 50);'
           'setTimeout(() => document.getElementById("p").click(), 80);</script>')
    pub(bsrv, 1, doc)
    page.goto(bsrv.url_for(KEY))  # no page.evaluate here: Playwright's evaluate counts as a gesture
    time.sleep(1.0)
    assert calls == []  # no user gesture: neither a forged message nor a scripted click counts
    fr = frame(page)
    assert fr.locator("#p").inner_text() == "x"  # it had rendered (and its scripts ran)
    fr.locator("#p").click()
    wait_until(lambda: calls)
    assert calls[-1][3] == "x"


def test_svg_and_reopened_document(page, bsrv, monkeypatch):
    from gap_preview import hub as hub_mod

    monkeypatch.setattr(hub_mod, "GC_AFTER", 0.05)
    svg = '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><gap:target id="c"><circle id="dot" r="5" cx="10" cy="10"/></gap:target></svg>'
    pub(bsrv, 1, svg, fmt="image/svg+xml", uri="file:///w/x.svg")
    fr = open_doc(page, bsrv)
    assert fr.evaluate("document.getElementById('dot').namespaceURI") == "http://www.w3.org/2000/svg"
    pub(bsrv, 2, svg.replace('r="5"', 'r="9"'), fmt="image/svg+xml", uri="file:///w/x.svg")
    assert rendered(page, 2)["mode"] == "local"
    assert fr.evaluate("document.getElementById('dot').getAttribute('r')") == "9"
    assert fr.evaluate("document.getElementById('dot').namespaceURI") == "http://www.w3.org/2000/svg"
    bsrv.close_document(KEY)
    wait_until(lambda: page.evaluate("document.getElementById('gap-status').dataset.state") == "closed")
    wait_until(lambda: KEY not in bsrv.hub.docs)
    pub(bsrv, 1, svg.replace('r="5"', 'r="3"'), fmt="image/svg+xml", uri="file:///w/x.svg")  # reopened
    wait_until(lambda: fr.evaluate("(document.getElementById('dot')||{getAttribute(){}}).getAttribute('r')") == "3", timeout=8)


def test_burst_coalesces_to_the_final_state_at_most_one_render_per_frame(page, bsrv):
    pub(bsrv, 1, "<p>start</p>")
    fr = open_doc(page, bsrv)
    # a model streaming a synthesize token by token: 400 growing versions, as fast as possible
    body = "".join(f'<gap:target id="s{i}"><p class="row">row {i} ' + "lorem " * 8 + "</p></gap:target>" for i in range(80))
    chunks = [body[i : i + 30] for i in range(0, len(body), 30)]
    # count the animation frames the page really gets during the burst (headless Chromium's
    # frame rate is not a fixed 60 Hz, so wall time is no measure of frames)
    page.evaluate("window.__frames = 0; (function tick() { window.__frames++; requestAnimationFrame(tick); })()")
    text = ""
    for v, ch in enumerate(chunks, start=2):
        text += ch
        pub(bsrv, v, text)
        time.sleep(0.0005)
    final = len(chunks) + 1
    rendered(page, final, timeout=10)
    frames = page.evaluate("window.__frames")
    assert fr.locator("p.row").count() == 80
    assert fr.locator("p.row").last.inner_text().startswith("row 79")
    recs = [r for r in page.evaluate("window.__gap.rendered") if r["version"] > 1]
    assert len(recs) < len(chunks)  # coalesced
    # never more than one hand-over per animation frame (+1: the first goes at once, in the
    # frame the counter started in)
    assert len(recs) <= frames + 1, (len(recs), frames)


def test_targets_in_code_and_markdown_views(page, bsrv):
    calls = []
    bsrv.on_reveal = lambda *a: calls.append(a)
    src = 'name = "demo"\n# <gap:target id="body">\ndef main():\n    return 42\n# </gap:target>\n'
    pub(bsrv, 1, src, fmt="text/x-python", uri="file:///w/m.py")
    fr = open_doc(page, bsrv)
    bsrv.set_cursor(KEY, src.index("return"))
    wait_until(lambda: fr.evaluate("(document.querySelector('[data-gap-overlay]')||{dataset:{}}).dataset.target") == "body")
    fr.get_by_text("42").click()
    wait_until(lambda: calls)
    assert calls[-1][3] == "body" and src[calls[-1][2]:].startswith("\ndef main")
    md = '# Doc\n\n<gap:target id="s1">\n## One\n\nfirst\n</gap:target>\n\n<gap:target id="s2">\n## Two\n\nsecond\n</gap:target>\n'
    pub(bsrv, 2, md, fmt="text/markdown", uri="file:///w/m.md")
    rendered(page, 2)
    fr.get_by_text("second").click()
    wait_until(lambda: len(calls) == 2)
    assert calls[-1][3] == "s2"
    pub(bsrv, 3, md.replace("second", "second, edited"), fmt="text/markdown", uri="file:///w/m.md")
    assert rendered(page, 3)["mode"] == "local"  # a Markdown block target is an edit too
