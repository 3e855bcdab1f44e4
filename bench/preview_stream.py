"""Seed 000's streaming demo, through gap-preview: an artifact written chunk by chunk, watched.

    .venv/bin/python bench/preview_stream.py [--tokenizer tokenizer.json] [--via publish|file]
                                             [--delay-ms D] [--kb N] [--browser] [--open]

A writer streams a generated HTML dashboard in pieces — fixed 30-character chunks (the seed's
``massive.py``) and tokenizer-sized chunks (a ``tokenizers`` tokenizer.json given with
``--tokenizer`` / ``GAP_TOKENIZER``; without one, none can be downloaded here, so a byte-level
BPE is trained in-run on the artifact and labelled so) — either straight into
``PreviewServer.publish`` (``--via publish``, what the language server does) or into a file
that ``gap-preview``'s watcher follows (``--via file``, the seed's flow). A GAP-SSE viewer
applies every envelope with gap_engine; with ``--browser`` a headless Chromium page shows it
too (renders are coalesced to at most one per animation frame). ``--open`` prints the URL and
waits so a person can watch it grow.

Prints the seed's throughput table plus what reached the viewers; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from httpx_sse import connect_sse  # noqa: E402

from gap_engine import apply, parse_envelope  # noqa: E402
from gap_preview import PreviewServer  # noqa: E402
from gap_preview.cli import Watcher, key_for  # noqa: E402
from preview import ARGS, CHROMIUM, dashboard, wait_rendered  # noqa: E402


def fixed_chunks(text: str, n: int = 30) -> list[str]:
    return [text[i : i + n] for i in range(0, len(text), n)]


def tokenizer_chunks(text: str, path: str | None) -> tuple[str, list[str]]:
    """(label, pieces) — pieces cut at the tokenizer's offsets, so they join back to ``text``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders

    if path:
        tok = Tokenizer.from_file(path)
        label = f"tokenizer {Path(path).name}"
    else:
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tr = trainers.BpeTrainer(vocab_size=4000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        tok.train_from_iterator([text], trainer=tr)
        label = "byte-level BPE trained in-run (4k)"
    enc = tok.encode(text, add_special_tokens=False)
    cuts = sorted({s for s, _e in enc.offsets if 0 < s < len(text)})
    pieces = []
    prev = 0
    for c in cuts:
        pieces.append(text[prev:c])
        prev = c
    pieces.append(text[prev:])
    return label, [p for p in pieces if p]


class Viewer(threading.Thread):
    """A GAP-SSE client that applies every envelope and remembers when it saw ``goal``."""

    def __init__(self, srv: PreviewServer, key: str):
        super().__init__(daemon=True)
        self.srv, self.key = srv, key
        self.art = None
        self.envelopes = 0
        self.synth = 0
        self.goal: str | None = None
        self.reached = threading.Event()
        self.reached_at = 0.0
        self.ready = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.srv.base_url, timeout=None) as c:
            with connect_sse(c, "GET", "/events", params={"doc": self.key, "token": self.srv.token}) as es:
                self.ready.set()
                for ev in es.iter_sse():
                    if ev.event == "gap:envelope":
                        env = parse_envelope(ev.data)
                        self.envelopes += 1
                        self.synth += env.name == "synthesize"
                        self.art, _ = apply(self.art, env)
                        if self.goal is not None and self.art.body == self.goal and not self.reached.is_set():
                            self.reached_at = time.perf_counter()
                            self.reached.set()
                    elif ev.event == "gap:complete":
                        return


def stream_once(label, chunks, tok_ms, args, browser) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="gap-stream-"))
    f = tmp / "massive.html"
    f.write_text("")
    srv = PreviewServer(roots=[tmp]).start()
    key = key_for(f) if args.via == "file" else "stream"
    watcher = None
    try:
        if args.via == "file":
            watcher = Watcher(srv, [f])
            watcher.publish(f)  # the empty file, so the viewer can connect first
            watcher.start_thread()
        else:
            srv.publish(key, uri=f.as_uri(), version=1, text="", format="text/html")
        while key not in srv.hub.docs:
            time.sleep(0.005)
        viewer = Viewer(srv, key)
        viewer.start()
        viewer.ready.wait(5)
        page = None
        if browser is not None:
            page = browser.new_page()
            page.goto(srv.url_for(key))
        if args.open:
            print(f"  watch: {srv.url_for(key)}", flush=True)
            time.sleep(3)
        seq0 = srv.hub.docs[key].seq
        text = ""
        t0 = time.perf_counter()
        with open(f, "a", encoding="utf-8") if args.via == "file" else open(os.devnull, "w") as out:
            for i, ch in enumerate(chunks):
                text += ch
                if args.via == "file":
                    out.write(ch)
                    out.flush()
                else:
                    srv.publish(key, uri=f.as_uri(), version=i + 2, text=text, format="text/html")
                if args.delay_ms:
                    time.sleep(args.delay_ms / 1000)
        t_written = time.perf_counter()
        # the final view the viewer must reach
        from gap_preview.render import render_view

        goal = render_view(text, "text/html").body
        viewer.goal = goal
        if viewer.art is not None and viewer.art.body == goal:
            viewer.reached_at = time.perf_counter()
            viewer.reached.set()
        ok = viewer.reached.wait(30)
        t_final = viewer.reached_at if ok else float("nan")
        renders = None
        if page is not None:
            ver = srv.hub.docs[key].version
            try:
                wait_rendered(page, ver, timeout=30)
                renders = len(page.evaluate("window.__gap.rendered"))
            except TimeoutError:
                renders = -1
            page.close()
        events = srv.hub.docs[key].seq - seq0
        return {
            "label": label,
            "chunks": len(chunks),
            "avg": len(text) / max(1, len(chunks)),
            "tok_ms": tok_ms,
            "write_s": t_written - t0,
            "events": events,
            "viewer_env": viewer.envelopes,
            "final_ms": (t_final - t_written) * 1000,
            "ok": ok,
            "renders": renders,
        }
    finally:
        if watcher is not None:
            watcher.stop_event.set()
        srv.stop()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokenizer", default=os.environ.get("GAP_TOKENIZER"), help="a tokenizer.json (offline)")
    ap.add_argument("--via", choices=("publish", "file"), default="publish")
    ap.add_argument("--delay-ms", type=float, default=0.0, help="pause after each chunk (a model's pace)")
    ap.add_argument("--kb", type=int, default=60, help="artifact size")
    ap.add_argument("--browser", action="store_true", help="also show it in headless Chromium")
    ap.add_argument("--open", action="store_true", help="print the URL and pause before streaming")
    a = ap.parse_args(argv)
    text, _ = dashboard(a.kb)
    runs = []
    t = time.perf_counter()
    fixed = fixed_chunks(text)
    runs.append(("Fixed 30-char chunks", fixed, (time.perf_counter() - t) * 1000))
    t = time.perf_counter()
    try:
        label, pieces = tokenizer_chunks(text, a.tokenizer)
        runs.append((label, pieces, (time.perf_counter() - t) * 1000))
    except Exception as e:  # tokenizers missing or unusable: say so, keep the fixed run
        print(f"(tokenizer run skipped: {e})")
    browser = pw = None
    if a.browser and os.access(CHROMIUM, os.X_OK):
        from playwright.sync_api import sync_playwright

        home = tempfile.mkdtemp(prefix="gap-bench-home-")
        pw = sync_playwright().start()
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS, env=dict(os.environ, HOME=home))
    print(f"streaming a {len(text) // 1024} KB HTML dashboard via {a.via}" + (f", {a.delay_ms:g} ms/chunk" if a.delay_ms else ", as fast as possible"))
    print(f"{'Chunker':36} {'Chunks':>7} {'Avg ch':>7} {'Tok ms':>7} {'Chunks/s':>9} {'Events':>7} {'Viewer env':>10}"
          f" {'→final ms':>9} {'final ok':>8}" + (f" {'renders':>8}" if browser else ""))
    try:
        for label, chunks, tok_ms in runs:
            r = stream_once(label, chunks, tok_ms, a, browser)
            print(f"{r['label'][:36]:36} {r['chunks']:>7,} {r['avg']:>7.1f} {r['tok_ms']:>7.1f} {r['chunks'] / r['write_s']:>9,.0f}"
                  f" {r['events']:>7,} {r['viewer_env']:>10,} {r['final_ms']:>9.1f} {str(r['ok']):>8}"
                  + (f" {r['renders']:>8}" if browser else ""))
    finally:
        if browser is not None:
            browser.close()
            pw.stop()
    print("Events: envelopes the hub emitted (bursts coalesce); →final: last chunk written → viewer on the final view.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
