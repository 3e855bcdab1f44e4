"""Preview benchmark: publish() → iframe DOM updated, and fan-out.

    .venv/bin/python bench/preview.py [--updates N] [--duration S] [--viewers V] [--rate R] [--skip-browser]

1. Latency, in headless Chromium (Debian's /usr/bin/chromium): from ``PreviewServer.publish()``
   to the morph finished in the sandboxed iframe (timestamp taken inside the iframe, same wall
   clock), for ~100 KB and ~1 MB HTML dashboards with hundreds of targets. Each update edits
   one target's text (a keystroke); the stream carries an edit envelope and the iframe morphs
   only that target. A second series changes text outside every target (in the footer after
   the last target: a synthesize, which the page hands to the frame as the changed range and
   the frame morphs only that segment). Targets: p95 ≤ 20 ms (100 KB), ≤ 120 ms (1 MB).
2. Fan-out: V viewers (GAP-SSE clients in a separate process, each applying every envelope
   with gap_engine) while the server receives R updates/s for S seconds; every viewer must end
   on the server's final view; the server's RSS and event log size are sampled.

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time

from gap_preview import PreviewServer

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def dashboard(target_kb: int) -> tuple[str, int]:
    """An HTML dashboard of about ``target_kb`` KB: cards, each a target with a nested value."""
    head = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Bench</title><style>"
            ".card{border:1px solid #ccc;margin:4px;padding:4px;font:13px sans-serif}</style></head><body>"
            "<gap:target id='header'><h1>Dashboard</h1></gap:target><main>")
    cards = []
    size = len(head)
    i = 0
    while size < target_kb * 1024:
        card = (f"<gap:target id='card-{i}'><div class='card'><h3>Metric {i}</h3>"
                f"<p>Value: <gap:target id='v-{i}'><b>{i * 7 % 1000}</b></gap:target></p>"
                f"<ul><li>min {i % 13}</li><li>max {i % 97}</li><li>note: lorem ipsum dolor sit amet {i}</li></ul>"
                f"</div></gap:target>")
        cards.append(card)
        size += len(card)
        i += 1
    return head + "".join(cards) + "</main><footer>end</footer></body></html>", i


def pct(xs, p):
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1)))))
    return xs[k]


# -- 1. latency in the browser --------------------------------------------------------------------

FIND = "v => window.__gap ? (window.__gap.rendered.find(r => r.version === v) || null) : null"


def wait_rendered(page, version, timeout=30.0):
    """Poll (CDP evaluate; the page's CSP forbids string eval) until ``version`` rendered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = page.evaluate(FIND, version)
        if rec:
            return rec
        time.sleep(0.002)
    raise TimeoutError(f"version {version} not rendered")



def latency(updates: int) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        print(f"latency: skipped ({CHROMIUM} not installed)")
        return
    from playwright.sync_api import sync_playwright

    home = tempfile.mkdtemp(prefix="gap-bench-home-")
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=f"{home}/.config", XDG_CACHE_HOME=f"{home}/.cache")
    print("latency: publish() → iframe DOM updated (headless Chromium, edit = one target changed)")
    print(f"{'document':>10} {'targets':>8} {'kind':>10} {'n':>4} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}"
          f" {'morph med':>10} {'scroll kept':>11}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS, env=env)
        for kb, n in ((100, updates), (1024, max(10, updates // 2))):
            text, cards = dashboard(kb)
            srv = PreviewServer().start()
            try:
                page = browser.new_page(viewport={"width": 1200, "height": 800})
                srv.publish("b", uri="file:///bench.html", version=1, text=text, format="text/html")
                page.goto(srv.url_for("b"))
                wait_rendered(page, 1)
                fr = page.frames[1]
                fr.evaluate("window.scrollTo(0, document.body.scrollHeight / 2)")
                y0 = fr.evaluate("window.scrollY")
                version = 1
                cur = text  # each series goes on from the last state: every update is one keystroke
                for kind in ("edit", "synthesize"):
                    lat, morph, net, page_ms, post, modes = [], [], [], [], [], {}
                    for k in range(n):
                        version += 1
                        c = (k * 37) % cards
                        if kind == "edit":  # a keystroke inside one value
                            cur = cur.replace(f"<gap:target id='v-{c}'><b>", f"<gap:target id='v-{c}'><b>{k % 10}", 1)
                        else:  # a keystroke outside every target
                            cur = cur.replace("<footer>end", f"<footer>end{k % 10}", 1)
                        t0 = time.time() * 1000
                        srv.publish("b", uri="file:///bench.html", version=version, text=cur, format="text/html")
                        rec = wait_rendered(page, version)
                        lat.append(rec["t"] - t0)
                        morph.append(rec["ms"])
                        net.append(rec["recv"] - t0)  # publish → envelope parsed in the page
                        page_ms.append(rec["sent"] - rec["recv"])  # splice in the page
                        post.append(rec["got"] - rec["sent"])  # postMessage to the frame
                        modes[rec["mode"]] = modes.get(rec["mode"], 0) + 1
                    y1 = fr.evaluate("window.scrollY")
                    print(f"{len(text) // 1024:>8}KB {cards * 2 + 1:>8} {kind:>10} {n:>4} {statistics.median(lat):>10.1f}"
                          f" {pct(lat, 95):>8.1f} {max(lat):>8.1f} {statistics.median(morph):>10.1f} {str(y1 == y0):>11}"
                          f"   [median: server+SSE {statistics.median(net):.1f}, page {statistics.median(page_ms):.1f},"
                          f" postMessage {statistics.median(post):.1f}, morph {statistics.median(morph):.1f}; frame's path: "
                          + ", ".join(f"{m} {c}" for m, c in sorted(modes.items())) + "]")
                page.close()
            finally:
                srv.stop()
        browser.close()


# -- 2. fan-out -------------------------------------------------------------------------------------


def _viewer_proc(base_url: str, token: str, key: str, viewers: int, q, stop_evt) -> None:
    import httpx
    from httpx_sse import aconnect_sse

    from gap_engine import apply, parse_envelope

    async def one(i: int, stats: dict):
        art = None
        n = 0
        synth = 0
        async with httpx.AsyncClient(base_url=base_url, timeout=None) as c:
            async with aconnect_sse(c, "GET", "/events", params={"doc": key, "token": token}) as es:
                stats[i] = (0, 0, None, None)
                async for ev in es.aiter_sse():
                    if ev.event == "gap:envelope":
                        env = parse_envelope(ev.data)
                        if env.name == "synthesize":
                            synth += 1
                        art, _ = apply(art, env)
                        n += 1
                        stats[i] = (n, synth, art.version, art.body)
                    elif ev.event == "gap:complete":
                        return

    async def main():
        stats: dict = {}
        tasks = [asyncio.create_task(one(i, stats)) for i in range(viewers)]
        while len(stats) < viewers:
            await asyncio.sleep(0.05)
        q.put(("connected", viewers))
        await asyncio.gather(*tasks, return_exceptions=True)
        q.put(("done", {i: (s[0], s[1], s[2], s[3]) for i, s in stats.items()}))

    asyncio.run(main())


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def fanout(viewers: int, rate: int, duration: float) -> None:
    text, cards = dashboard(20)
    srv = PreviewServer().start()
    try:
        srv.publish("f", uri="file:///fan.html", version=1, text=text, format="text/html")
        while "f" not in srv.hub.docs or srv.hub.docs["f"].view is None:
            time.sleep(0.01)
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        stop_evt = ctx.Event()
        proc = ctx.Process(target=_viewer_proc, args=(srv.base_url, srv.token, "f", viewers, q, stop_evt))
        proc.start()
        msg = q.get(timeout=60)
        assert msg[0] == "connected"
        print(f"fan-out: {viewers} viewers (GAP-SSE clients applying envelopes with gap_engine), "
              f"{rate} updates/s for {duration:g} s, {len(text) // 1024} KB document")
        samples = []
        cur = text
        version = 1
        t_start = time.perf_counter()
        next_t = t_start
        sent = 0
        last_sample = t_start
        rss0 = rss_mb()
        while time.perf_counter() - t_start < duration:
            version += 1
            c = version % cards
            cur = cur.replace(f"<gap:target id='v-{c}'><b>", f"<gap:target id='v-{c}'><b>{version % 10}", 1)
            srv.publish("f", uri="file:///fan.html", version=version, text=cur, format="text/html")
            sent += 1
            next_t += 1 / rate
            now = time.perf_counter()
            if now - last_sample >= 1:
                d = srv.hub.docs["f"]
                samples.append((now - t_start, rss_mb(), len(d.log), d.log_bytes))
                last_sample = now
            if next_t > now:
                time.sleep(next_t - now)
        elapsed = time.perf_counter() - t_start
        # let the viewers drain, then close the document (each viewer stops at gap:complete)
        time.sleep(1.0)
        final_view = srv.hub.docs["f"].view
        final_seq = srv.hub.docs["f"].seq
        srv.close_document("f")
        msg = q.get(timeout=120)
        proc.join(30)
        results = msg[1]
        ok = sum(1 for (_n, _s, ver, body) in results.values() if body == final_view and ver == final_seq + 1)
        counts = [r[0] for r in results.values()]
        snaps = [r[1] for r in results.values()]
        print(f"  published {sent} updates in {elapsed:.1f} s ({sent / elapsed:.0f}/s); stream events (after coalescing): {final_seq + 1}")
        print(f"  viewers on the final state: {ok}/{viewers}; envelopes received per viewer: median {statistics.median(counts):.0f}"
              f" (min {min(counts)}, max {max(counts)}); synthesize catch-ups per viewer: max {max(snaps)}")
        print(f"  server process RSS: start {rss0:.0f} MB" + "".join(f", t={t:.0f}s {r:.0f} MB" for t, r, _, _ in samples[:: max(1, len(samples) // 6)])
              + f", end {rss_mb():.0f} MB")
        if samples:
            print(f"  event log: {samples[-1][2]} events, {samples[-1][3] / 1024:.0f} KB (bounded: {512} events / 16 MB)")
    finally:
        srv.stop()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--updates", type=int, default=40, help="updates per latency series (1 MB: half)")
    ap.add_argument("--viewers", type=int, default=50)
    ap.add_argument("--rate", type=int, default=100, help="updates per second in the fan-out run")
    ap.add_argument("--duration", type=float, default=5.0, help="fan-out seconds (the issue's figure: 30)")
    ap.add_argument("--skip-browser", action="store_true")
    ap.add_argument("--skip-fanout", action="store_true")
    a = ap.parse_args(argv)
    if not a.skip_browser:
        latency(a.updates)
    if not a.skip_fanout:
        fanout(a.viewers, a.rate, a.duration)
    return 0


if __name__ == "__main__":
    sys.exit(main())
