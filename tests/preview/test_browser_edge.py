"""The preview page in headless Chromium: edge cases found by adversarial testing (documents
without a URI, a page opened before its document exists, slow artifacts, …)."""

from __future__ import annotations

import time

import pytest

from gap_preview import PreviewServer

from .conftest import wait_until
from .test_browser import frame, open_doc, pub, rendered

pytestmark = pytest.mark.browser


def test_document_without_uri_renders(page, bsrv):
    """publish(uri="") (an API user with no file behind the document): the page shows it and
    titles it by its key (the title code used to throw and drop every update)."""
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    pub(bsrv, 1, "<p id=p>no uri</p>", key="scratch", uri="")
    page.goto(bsrv.url_for("scratch"))
    rendered(page, 1)
    assert frame(page).locator("#p").inner_text() == "no uri"
    assert page.locator("#gap-title").inner_text() == "scratch"
    pub(bsrv, 2, "<p id=p>still no uri</p>", key="scratch", uri="")
    rendered(page, 2)
    assert frame(page).locator("#p").inner_text() == "still no uri"
    assert errors == []


@pytest.mark.parametrize("transport", [None, "ws"])
def test_page_opened_before_its_document_exists(page, bsrv, transport):
    """The URL is opened before the first publish (an editor that opens the preview at once,
    `gap-preview out.html` before the model has written the file): the stream is refused
    (404) and EventSource gives up for good on an HTTP error; the page must keep trying and
    show the document once it exists."""
    page.goto(bsrv.url_for("later", transport=transport))
    wait_until(lambda: page.evaluate("document.getElementById('gap-status').dataset.state") == "reconnecting")
    pub(bsrv, 1, "<p id=p>here now</p>", key="later", uri="file:///w/later.html")
    rendered(page, 1, timeout=10)
    assert frame(page).locator("#p").inner_text() == "here now"
    wait_until(lambda: page.evaluate("document.getElementById('gap-status').dataset.state") == "live")
    pub(bsrv, 2, "<p id=p>and follows</p>", key="later", uri="file:///w/later.html")
    rendered(page, 2)
    assert frame(page).locator("#p").inner_text() == "and follows"


def test_standalone_file_created_after_start(page, tmp_path):
    """`gap-preview FILE` for a file that does not exist yet: the page shows it once a writer
    creates it, and follows the writes after that."""
    from gap_preview.cli import Watcher, key_for

    f = tmp_path / "out file é.html"
    srv = PreviewServer(roots=[tmp_path], retry_ms=200).start()
    w = Watcher(srv, [f])
    t = w.start_thread()
    try:
        page.goto(srv.url_for(key_for(f)))
        wait_until(lambda: page.evaluate("document.getElementById('gap-status').dataset.state") == "reconnecting")
        # its relative URLs resolve under its directory, as when the page is opened later
        (tmp_path / "dot.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="7" height="5"/>')
        f.write_text('<p id=p>written</p><img id=i src="dot.svg">')
        rendered(page, 1, timeout=10)
        fr = wait_until(lambda: page.evaluate("1") and next((x for x in page.frames if x.url.endswith("/.gap-frame.html")), None))
        wait_until(lambda: fr.locator("#p").inner_text() == "written")
        wait_until(lambda: fr.evaluate("document.getElementById('i').naturalWidth") == 7)
        f.write_text("<p id=p>rewritten</p>")
        wait_until(lambda: fr.locator("#p").inner_text() == "rewritten")
    finally:
        w.stop_event.set()
        t.join(5)
        srv.stop()


def test_slow_artifact_script_is_not_replaced_in_a_loop(page, bsrv):
    """An artifact whose script runs longer than the frame watchdog (5 s: a heavy chart, a
    big computation; or a huge document on a slow machine) is busy, not dead: it must not be
    replaced by a fresh frame, which would run the same script again, be replaced again, and
    never show anything."""
    doc = ('<p id=p>start</p><script>var t0 = Date.now(); while (Date.now() - t0 < 6500) {}'
           ' document.getElementById("p").textContent = "computed";</script>')
    pub(bsrv, 1, doc)
    page.goto(bsrv.url_for("dash"))
    rendered(page, 1, timeout=40)
    assert frame(page).locator("#p").inner_text() == "computed"
    assert page.evaluate("window.__gap.frames") == 1
    pub(bsrv, 2, doc.replace("start", "again"))  # the script is unchanged: it does not run again
    rendered(page, 2)
    assert page.evaluate("window.__gap.frames") == 1 and not page.evaluate("window.__gap.replaced")


def test_frame_whose_listener_was_wiped_is_replaced(page, bsrv):
    """An artifact that calls document.open() (and never closes it, so no load event tells
    the page) wipes the frame's message listener: the next update gets no answer, not even
    to the watchdog's ping, so the frame is replaced by a fresh one that shows the update."""
    doc = ('<gap:target id="t"><p id=p>one</p></gap:target><div style="height:1500px"></div>'
           '<button id=b onclick="document.open()">wipe</button><div style="height:1500px"></div>')
    pub(bsrv, 1, doc)
    fr = open_doc(page, bsrv)
    fr.evaluate("window.scrollTo(0, 1000)")
    wait_until(lambda: page.evaluate("(window.__gap.state.scroll || [])[1]") == 1000)  # the page knows
    y = 1000
    fr.locator("#b").click()

    def wiped():
        try:
            return fr.evaluate("document.body === null")
        except Exception:  # a new execution context
            return False

    wait_until(wiped)
    pub(bsrv, 2, doc.replace(">one<", ">two<"))
    rendered(page, 2, timeout=40)
    assert page.evaluate("window.__gap.frames") == 2 and page.evaluate("window.__gap.replaced") == 1
    assert frame(page).locator("#p").inner_text() == "two"
    assert frame(page).evaluate("window.scrollY") == y  # the fresh frame is where the reader was


def frame_where(page, expr: str):
    """A frame of the page (not the page itself) in which JS ``expr`` is true, or None: the
    fresh frame that replaced another."""
    page.evaluate("0")  # lets Playwright see the frame swap (page.frames alone does not)
    for f in page.frames[1:]:
        try:
            if not f.is_detached() and f.evaluate(expr):
                return f
        except Exception:  # the old frame going away, the new one not rendered yet
            pass
    return None


SCRIPTED = """<!DOCTYPE html><html><head><title>T1</title></head><body>
<gap:target id="t"><p id=p>one</p></gap:target>
<div id=loading>Loading…</div>
<div id=chart></div>
<p id=computed>pending</p>
<script>
document.getElementById("chart").innerHTML = '<svg id=drawn width=10 height=10></svg>';
document.body.classList.add("js");
var c = document.createElement("canvas"); c.id = "cv"; document.body.appendChild(c);
document.getElementById("loading").remove();
document.getElementById("computed").textContent = "42";
window.runs = (window.runs || 0) + 1;
</script>
<footer id=f>f1</footer></body></html>"""

SCRIPT_STATE = """[!!document.getElementById('drawn'), document.body.className, !!document.getElementById('cv'),
  !!document.getElementById('loading'), document.getElementById('computed').textContent, window.runs]"""


def test_what_artifact_scripts_did_survives_updates(page, bsrv):
    """A chart an artifact script drew into a <div>, a class it put on <body>, a <canvas> it
    appended, a "Loading…" it removed and a text it computed: the view carries none of it and
    the unchanged script does not run again, so every update — an edit, a change outside every
    target, a change in <head>, a paragraph inserted before them — must leave it in place
    (a whole-document morph used to wipe it for good)."""
    pub(bsrv, 1, SCRIPTED)
    fr = open_doc(page, bsrv)
    kept = [True, "js", True, False, "42", 1]
    assert fr.evaluate(SCRIPT_STATE) == kept
    text = SCRIPTED
    changes = (
        lambda t: t.replace(">one<", ">two<"),  # inside a target: an edit
        lambda t: t.replace(">f1<", ">f2<"),  # outside every target
        lambda t: t.replace("<title>T1</title>", "<title>T2</title>"),  # <head>
        lambda t: t.replace("<div id=loading>", "<p id=new>inserted</p><div id=loading>"),  # shifts the rest
    )
    for v, change in enumerate(changes, start=2):
        text = change(text)
        pub(bsrv, v, text)
        rendered(page, v)
        assert fr.evaluate(SCRIPT_STATE) == kept, v
    assert fr.locator("#p").inner_text() == "two" and fr.locator("#f").inner_text() == "f2"
    # the same frame all along: the script was never taken for changed or removed (morphdom takes
    # it out and puts it back when an element is inserted before it: not a change)
    assert page.evaluate("[window.__gap.frames, window.__gap.reloadAsks || 0]") == [1, 0]
    assert fr.evaluate("document.title") == "T2" and fr.locator("#new").inner_text() == "inserted"
    # what the artifact itself changes still applies, and wins where both touched the same thing
    text = text.replace("<div id=chart>", '<div id=chart title="Sales">').replace("<body>", '<body class="dark">')
    pub(bsrv, 6, text)
    rendered(page, 6)
    assert fr.evaluate("document.getElementById('chart').title") == "Sales"
    assert fr.evaluate("document.body.className") == "dark"
    assert fr.evaluate("!!document.getElementById('drawn') && !!document.getElementById('cv')")


def test_edited_script_runs_again_in_a_fresh_frame_scroll_kept(page, bsrv):
    """Editing an artifact's script (the data of a chart, say) must show its new result: an
    unchanged script does not run again, and a morph only changes the script element's text,
    which never runs. The page gets a fresh frame, as a live-reload tool would, scrolled where
    it was; the scripts run once in it."""
    doc = ('<div style="height:3000px">tall</div><p id=out></p>'
           '<script>window.runs = (window.runs || 0) + 1; document.getElementById("out").textContent = "data:" + [1, 2, 3].join(",");</script>')
    pub(bsrv, 1, doc)
    fr = open_doc(page, bsrv)
    assert fr.locator("#out").inner_text() == "data:1,2,3"
    fr.evaluate("window.scrollTo(0, 1200)")
    wait_until(lambda: fr.evaluate("window.scrollY") == 1200)
    pub(bsrv, 2, doc.replace("[1, 2, 3]", "[4, 5, 6]"))
    rendered(page, 2)
    wait_until(lambda: page.evaluate("window.__gap.reloads === 1 && window.__gap.frames === 2"), timeout=10)
    fr = wait_until(lambda: frame_where(page, "document.getElementById('out').textContent === 'data:4,5,6'"), timeout=10)
    assert fr.evaluate("window.runs") == 1
    wait_until(lambda: fr.evaluate("window.scrollY") == 1200)
    # a change that leaves the script alone does not reload
    pub(bsrv, 3, doc.replace("[1, 2, 3]", "[4, 5, 6]").replace(">tall<", ">still tall<"))
    rendered(page, 3)
    assert fr.evaluate("window.runs") == 1 and page.evaluate("window.__gap.frames") == 2


@pytest.mark.parametrize("how", ["script removed", "became markdown"])
def test_removed_script_takes_what_it_made_with_it(page, bsrv, how):
    """What a script made is kept across updates — until the script itself is gone (deleted
    from the artifact, or the document switched format): then a fresh frame shows the
    artifact without it, instead of a canvas that nothing draws any more."""
    doc = ('<gap:target id="t"><p id=p>one</p></gap:target>'
           '<script>var c = document.createElement("canvas"); c.id = "cv"; document.body.appendChild(c);</script>')
    pub(bsrv, 1, doc)
    fr = open_doc(page, bsrv)
    assert fr.evaluate("!!document.getElementById('cv')")
    if how == "script removed":
        pub(bsrv, 2, doc.split("<script>")[0])
    else:
        pub(bsrv, 2, "# now markdown\n", fmt="text/markdown")
    rendered(page, 2)
    rendered_n = len(page.evaluate("window.__gap.rendered"))
    wait_until(lambda: page.evaluate("window.__gap.reloads") == 1, timeout=10)
    fr = wait_until(lambda: frame_where(page, "!!document.body && !document.getElementById('cv') && document.body.innerText.length > 0"),
                    timeout=10)
    assert fr.evaluate("document.body.innerText").strip() in ("one", "now markdown")
    # one fresh frame, not a reload loop (the bootstrap's own scripts are not the artifact's)
    wait_until(lambda: len(page.evaluate("window.__gap.rendered")) > rendered_n)
    time.sleep(1.0)  # a loop would reload 250 ms after each render
    assert page.evaluate("[window.__gap.reloads, window.__gap.frames]") == [1, 2]


def test_clicked_link_opens_in_a_new_tab_and_the_preview_stays(page, bsrv):
    """Clicking a link in the preview (a Markdown document's reference, say) used to navigate
    the frame away; the page put the preview back — at the top, the reader's place lost — and
    the link went nowhere. It opens in a new tab now; in-page anchors still scroll in place."""
    page.context.route("https://example.invalid/**", lambda route: route.fulfill(status=200, body="linked page"))
    md = "# Doc\n\n" + "para\n\n" * 150 + "[external](https://example.invalid/x) [anchor](#doc)\n\n" + "more\n\n" * 150
    pub(bsrv, 1, md, fmt="text/markdown", uri="file:///w/n.md")
    fr = open_doc(page, bsrv)
    fr.evaluate("document.querySelector('a[href^=https]').scrollIntoView({block: 'center'})")
    y = fr.evaluate("window.scrollY")
    assert y > 1000
    with page.context.expect_page() as opened:
        fr.get_by_text("external").click()
    assert opened.value.url == "https://example.invalid/x"
    assert page.evaluate("window.__gap.frames") == 1 and fr.evaluate("window.scrollY") == y
    fr.get_by_text("anchor").click()
    wait_until(lambda: fr.evaluate("window.scrollY") < 100)  # at the heading (GitHub-style id)
    assert page.evaluate("window.__gap.frames") == 1 and len(page.context.pages) == 2
    # a script cannot open tabs without a click
    pub(bsrv, 2, "<p>x</p><script>parent.postMessage({type: 'open', url: 'https://example.invalid/y'}, '*')</script>")
    rendered(page, 2)
    time.sleep(0.5)
    assert len(page.context.pages) == 2


def test_page_and_frame_log_no_warnings(page, bsrv):
    """The page's own console stays clean (a CSP source Chromium does not accept logged a
    warning three times per load; real problems drown in such noise)."""
    logged = []
    page.on("console", lambda m: logged.append((m.type, m.text)))
    page.on("pageerror", lambda e: logged.append(("pageerror", str(e))))
    pub(bsrv, 1, '<gap:target id="t"><p id=p>x</p></gap:target>')
    open_doc(page, bsrv)
    pub(bsrv, 2, '<gap:target id="t"><p id=p>y</p></gap:target>')
    rendered(page, 2)
    assert [m for m in logged if m[0] in ("warning", "error", "pageerror")] == []


def test_page_of_a_restarted_server_says_its_session_ended(page, tmp_path):
    """The server restarted on the same port (a fixed --port / GAP_PREVIEW_PORT) has a new
    token: the old page's stream is refused for good. It used to show "reconnecting" forever;
    it now says the session ended and stops retrying."""
    s1 = PreviewServer(roots=[tmp_path], retry_ms=200).start()
    port = s1.port
    pub(s1, 1, "<p id=p>one</p>")
    try:
        page.goto(s1.url_for("dash"))
        rendered(page, 1)
    finally:
        s1.stop()
    s2 = PreviewServer(roots=[tmp_path], port=port, retry_ms=200).start()
    try:
        pub(s2, 1, "<p id=p>two</p>")
        wait_until(lambda: page.evaluate("document.getElementById('gap-status').dataset.state") == "expired", timeout=15)
        assert "session has ended" in page.evaluate("document.getElementById('gap-note').textContent")
    finally:
        s2.stop()
