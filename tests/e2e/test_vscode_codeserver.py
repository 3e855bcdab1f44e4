"""The VS Code extension in a real VS Code extension host: code-server + Playwright + Chromium.

One code-server session (module-scoped) with the packaged ``clients/vscode/gap-ls-*.vsix``
installed into a throw-away profile and ``gap.server.path`` pointing at this checkout's server,
opened in Debian's headless Chromium. Then, as a user would:

1. ``test_outline_shows_targets`` — open ``dashboard.html``; *Go to Symbol in Editor* and the
   Outline view list the targets;
2. ``test_apply_gap_edit_code_action`` — open ``revenue.gap.json``, select all, Ctrl+. →
   **Apply GAP edit** (confirming in Refactor Preview when the server asks), see the new values
   in the artifact's editor, save, and find exactly the expected text on disk;
3. ``test_preview_to_the_side`` — **GAP: Open Preview to the Side** opens a webview whose frame
   points at 127.0.0.1 with the session token, and the artifact is rendered inside it.

Needs: ``clients/vscode/scripts/build.sh`` (the .vsix), ``clients/vscode/scripts/setup-code-server.sh``
(code-server 4.100.3 under ~/.cache/gap-ls), ``/usr/bin/chromium`` and the playwright package.
Screenshots, the page's HTML and the extension host logs of a failing step are written to
``$GAP_E2E_ARTIFACTS`` (default: a temp dir named in the failure message).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .helpers import CLIENTS, FIXTURES, E2E, make_editor_env, missing, require_tool, server_command

pytestmark = [pytest.mark.editor, pytest.mark.browser]

VSCODE = CLIENTS / "vscode"
CS_VERSION = os.environ.get("GAP_CODE_SERVER_VERSION", "4.100.3")
CHROMIUM = os.environ.get("GAP_CHROMIUM", "/usr/bin/chromium")
ORIGINAL = (E2E / "fixtures" / "dashboard.html").read_text(encoding="utf-8")
EDITED = ORIGINAL.replace("$12,400", "$15,720").replace(">310<", ">384<")
TARGETS = ("header", "stats", "revenue-value", "orders-count", "footer")
MOD = "Control"
EDITOR = ".editor-group-container.active .monaco-editor .view-lines"


def code_server_bin() -> Path | None:
    if os.environ.get("GAP_CODE_SERVER_BIN"):
        return Path(os.environ["GAP_CODE_SERVER_BIN"])
    base = Path(os.environ.get("GAP_CODE_SERVER_DIR") or
                Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gap-ls" / f"code-server-{CS_VERSION}")
    bin_ = base / "node_modules" / ".bin" / "code-server"
    return bin_ if (base / ".gap-setup-done").exists() and bin_.exists() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return
        except Exception as e:  # noqa: BLE001 — any failure means "not up yet"
            last = e
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout}s ({last})")


class Session:
    """A running code-server + Chromium page, with the steps a user takes."""

    def __init__(self, page, workspace: Path, data: Path, artifacts: Path):
        self.page = page
        self.workspace = workspace
        self.data = data
        self.artifacts = artifacts
        self.timings: dict[str, float] = {}

    # -- failure reporting -------------------------------------------------------------
    def fail(self, step: str, exc: BaseException):
        shot = self.artifacts / f"code-server-{re.sub(r'[^a-z]+', '-', step.lower())[:40]}-{int(time.time())}.png"
        try:
            self.page.screenshot(path=str(shot), full_page=True)
            (self.artifacts / "code-server-page.html").write_text(self.page.content())
        except Exception:  # noqa: BLE001
            pass
        logs = "\n".join(
            f"--- {f.relative_to(self.data)}\n{f.read_text(errors='replace')[-2500:]}"
            for f in sorted((self.data / "logs").rglob("*.log")) if "GAP" in f.name or "exthost" in f.name
        ) if (self.data / "logs").exists() else ""
        (self.artifacts / "code-server-logs.txt").write_text(logs)
        pytest.fail(
            f"code-server step failed: {step}\n{type(exc).__name__}: {str(exc)[:1500]}\n"
            f"screenshot: {shot}\nlogs: {self.artifacts / 'code-server-logs.txt'}\n{logs[-3000:]}",
            pytrace=False,
        )

    # -- user actions ------------------------------------------------------------------
    def quick_open(self, name: str) -> None:
        page = self.page
        page.keyboard.press(f"{MOD}+P")
        box = page.locator(".quick-input-widget input")
        box.wait_for()
        box.fill(name)
        row = page.locator(".quick-input-list .monaco-list-row", has_text=name).first
        row.wait_for()
        row.click()
        page.locator(f'.tabs-container .tab[aria-label^="{name}"]').wait_for()
        page.locator(EDITOR).first.wait_for()

    def command(self, title: str) -> None:
        page = self.page
        page.keyboard.press("F1")
        box = page.locator(".quick-input-widget input")
        box.wait_for()
        box.fill(">" + title)
        row = page.locator(".quick-input-list .monaco-list-row", has_text=title).first
        row.wait_for()
        row.click()

    def editor_text(self) -> str:
        return self.page.locator(EDITOR).first.inner_text().replace("\u00a0", " ")

    def confirm_if_asked(self) -> bool:
        """Edits whose change annotation needs confirmation (gap.confirmEdits) open VS Code's
        Refactor Preview with the edits unticked: tick them and press Apply, as a user does."""
        panel = self.page.locator(".bulk-edit-panel")
        try:
            panel.locator("input.edit-checkbox").first.wait_for(timeout=5_000)
        except Exception:  # noqa: BLE001 — applied directly, no preview
            return False
        box = panel.locator("input.edit-checkbox").first
        if not box.is_checked():
            box.click(force=True)
        panel.locator(".monaco-button", has_text="Apply").first.click(force=True)
        return True

    def save_and_read(self, name: str, expected: str) -> str:
        """Save the active editor and return the file's text once it equals ``expected`` (or after 15 s)."""
        self.page.locator(EDITOR).first.click()
        self.page.keyboard.press(f"{MOD}+S")
        target = self.workspace / name
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and target.read_text(encoding="utf-8") != expected:
            time.sleep(0.2)
        return target.read_text(encoding="utf-8")

    def stale_actions(self) -> int:
        """How often the extension host refused a code action whose list it had already dropped
        ("Actual command not found"). VS Code drops a shown code-action list when any provider's
        diagnostics for the file change (here: the JSON language service starting on the first
        JSON file); choosing a row of the dropped list then does nothing. Not gap-ls's doing."""
        logs = self.data / "logs"
        if not logs.exists():
            return 0
        return sum(f.read_text(errors="replace").count("Actual command not found")
                   for f in logs.rglob("*.log") if "exthost" in f.name)

    def wait_server_up(self, timeout: float = 60) -> None:
        """Until the GAP status bar item shows neither the spinner nor the error icon."""
        status = self.page.locator(".statusbar-item", has_text="GAP").first
        status.wait_for(timeout=timeout * 1000)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and status.locator(".codicon-loading, .codicon-error").count():
            self.page.wait_for_timeout(250)

    def symbols_until(self, wanted, timeout: float) -> list[str]:
        """Go to Symbol in Editor (Ctrl+Shift+O), again until every name in ``wanted`` is listed
        or ``timeout`` s pass; the rows last seen."""
        page = self.page
        names: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            page.locator(EDITOR).first.click()
            page.keyboard.press(f"{MOD}+Shift+O")
            rows = page.locator(".quick-input-list .monaco-list-row")
            try:
                rows.first.wait_for(timeout=5_000)
                page.wait_for_timeout(300)
                names = [r.get_attribute("aria-label") or r.inner_text() for r in rows.all()]
            except Exception:  # noqa: BLE001 — server not ready yet: retry
                names = []
            page.keyboard.press("Escape")
            if all(any(t in n for n in names) for t in wanted):
                break
            page.wait_for_timeout(1000)
        return names

    def focus_tab(self, name: str) -> None:
        self.page.locator(f'.tabs-container .tab[aria-label^="{name}"]').first.click()
        self.page.locator(EDITOR).first.wait_for()


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright Python package is not installed (pip install playwright)")
    require_tool(CHROMIUM, hint="apt-get install chromium (Debian's; `playwright install` needs a download)")
    require_tool("node", hint="install Node.js 20")
    vsix = sorted(VSCODE.glob("gap-ls-*.vsix"))
    if not vsix:
        missing("no clients/vscode/gap-ls-*.vsix: run clients/vscode/scripts/build.sh")
    cs = code_server_bin()
    if cs is None:
        missing(f"code-server {CS_VERSION} is not set up: run clients/vscode/scripts/setup-code-server.sh")

    base = tmp_path_factory.mktemp("code-server")
    env = make_editor_env(base / "home")
    workspace = base / "ws"
    shutil.copytree(FIXTURES, workspace)
    artifacts = Path(os.environ.get("GAP_E2E_ARTIFACTS") or base / "artifacts")
    artifacts.mkdir(parents=True, exist_ok=True)
    data, exts = base / "cs-data", base / "cs-extensions"
    (data / "User").mkdir(parents=True)
    from tests.fakes.fake_openai import FakeOpenAI

    fake = FakeOpenAI(use_evals=False).start()
    # the server starts through a wrapper that fails as a missing gap-ls does (python -m of a
    # module that is not installed) while `broken` exists
    broken = base / "server-broken"
    wrapper = base / "gap-ls-wrapper.sh"
    wrapper.write_text("#!/bin/sh\n"
                       f"if [ -e {shlex.quote(str(broken))} ]; then exec {shlex.quote(sys.executable)} -m gap_ls_not_installed; fi\n"
                       f"exec {shlex.join(server_command())} \"$@\"\n")
    wrapper.chmod(0o755)
    (data / "User" / "settings.json").write_text(json.dumps({
        "gap.server.path": [str(wrapper)],
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": False,
        "workbench.welcomePage.walkthroughs.openOnInstall": False,
        "security.workspace.trust.enabled": False,
        "telemetry.telemetryLevel": "off",
        "extensions.autoCheckUpdates": False,
        "extensions.autoUpdate": False,
        "update.mode": "none",
        "editor.minimap.enabled": False,
        "files.autoSave": "off",
        "html.autoClosingTags": False,
        "editor.autoClosingBrackets": "never",
        "workbench.editor.enablePreview": False,
        "chat.disableAIFeatures": True,
        "outline.collapseItems": "alwaysExpand",
        "gap.llm.baseUrl": fake.base_url,
        "gap.llm.model": "fake-model",
        "gap.llm.apiKey": "sk-test-not-a-real-key",
    }), encoding="utf-8")

    timings: dict[str, float] = {}
    t0 = time.monotonic()
    inst = subprocess.run(
        [str(cs), "--user-data-dir", str(data), "--extensions-dir", str(exts), "--install-extension", str(vsix[-1])],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert inst.returncode == 0, f"installing {vsix[-1].name} failed:\n{inst.stdout}\n{inst.stderr}"
    assert any(p.name.startswith("gap-ls.gap-ls-") for p in exts.iterdir()), inst.stdout
    timings["install_vsix"] = time.monotonic() - t0

    port = free_port()
    log = open(base / "code-server.log", "w")
    proc = subprocess.Popen(
        [str(cs), "--auth", "none", "--disable-workspace-trust", "--disable-telemetry", "--disable-update-check",
         "--disable-getting-started-override", "--bind-addr", f"127.0.0.1:{port}",
         "--user-data-dir", str(data), "--extensions-dir", str(exts), str(workspace)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        t0 = time.monotonic()
        wait_http(f"http://127.0.0.1:{port}/healthz", 60)
        timings["code_server_up"] = time.monotonic() - t0
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync"],
            )
            try:
                page = browser.new_context(viewport={"width": 1400, "height": 900},
                                           permissions=["clipboard-read", "clipboard-write"]).new_page()
                page.set_default_timeout(30_000)
                s = Session(page, workspace, data, artifacts)
                s.timings = timings
                s.broken = broken
                s.fake = fake
                try:
                    t0 = time.monotonic()
                    page.goto(f"http://127.0.0.1:{port}/?folder={workspace}", wait_until="domcontentloaded")
                    page.locator(".monaco-workbench").wait_for(timeout=60_000)
                    page.locator(".explorer-folders-view, .explorer-viewlet").first.wait_for(timeout=60_000)
                    timings["workbench"] = time.monotonic() - t0
                    t0 = time.monotonic()
                    s.quick_open("dashboard.html")
                    s.wait_server_up(60)
                    timings["extension_active"] = time.monotonic() - t0
                except Exception as exc:  # noqa: BLE001
                    s.fail("load the workbench and open dashboard.html", exc)
                yield s
                print("code-server e2e timings (s):", {k: round(v, 2) for k, v in timings.items()})
            finally:
                browser.close()
    finally:
        fake.stop()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_outline_shows_targets(session):
    """Go to Symbol in Editor and the Outline view show the GAP targets of dashboard.html."""
    from playwright.sync_api import expect

    s, page = session, session.page
    step = "the GAP status bar item is not in an error state"
    try:
        s.focus_tab("dashboard.html")
        expect(page.locator(".statusbar-item", has_text="GAP").first.locator(".codicon-error")).to_have_count(0)
        step = "Go to Symbol in Editor lists every target"
        t0 = time.monotonic()
        names = s.symbols_until(TARGETS, 45)
        assert all(any(t in n for n in names) for t in TARGETS), f"Go to Symbol shows {names}"
        s.timings["symbols"] = time.monotonic() - t0

        step = "the Outline view shows the targets"
        s.command("Explorer: Focus on Outline View")
        outline = page.locator(".pane-body.outline-pane").first
        outline.wait_for(timeout=20_000)
        # with two symbol providers (GAP and VS Code's HTML) the outline groups them by extension
        seen: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            seen = [r.inner_text() for r in outline.locator(".monaco-list-row").all()]
            if all(any(t in row for row in seen) for t in TARGETS):
                break
            group = outline.locator(".monaco-list-row[aria-expanded='false']", has_text="GAP")
            if group.count():
                group.first.click(force=True)
                page.keyboard.press("ArrowRight")
            page.wait_for_timeout(500)
        assert all(any(t in row for row in seen) for t in TARGETS), f"Outline shows {seen}"
    except pytest.skip.Exception:
        raise
    except Exception as exc:  # noqa: BLE001
        s.fail(step, exc)


def test_restart_server(session):
    """GAP: Restart Server stops and starts gap-ls; the outline answers again afterwards."""
    from playwright.sync_api import expect

    s, page = session, session.page
    step = "run GAP: Restart Server"
    try:
        s.focus_tab("dashboard.html")
        s.command("GAP: Restart Server")
        step = "the output channel shows a second start, then the server is up"

        def starts() -> int:
            return "\n".join(f.read_text(errors="replace") for f in (s.data / "logs").rglob("*GAP Language Server.log")).count("starting ")

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and starts() < 2:
            page.wait_for_timeout(250)
        assert starts() >= 2, "the output channel should show a second start"
        # up once the item shows neither the spinner nor the error icon (until then a code action
        # or symbol request may still be answered by the old client or by VS Code's HTML support)
        s.wait_server_up(60)
        status = page.locator(".statusbar-item", has_text="GAP").first
        expect(status.locator(".codicon-loading, .codicon-error")).to_have_count(0, timeout=5_000)
        step = "Go to Symbol answers after the restart"
        names = s.symbols_until(("stats",), 30)
        assert any("stats" in n for n in names), names
    except pytest.skip.Exception:
        raise
    except Exception as exc:  # noqa: BLE001
        s.fail(step, exc)


def test_apply_gap_edit_code_action(session):
    """Select the envelope in revenue.gap.json, Ctrl+. → Apply GAP edit; dashboard.html changes; save; compare on disk."""
    from playwright.sync_api import expect

    s, page = session, session.page
    step = "select the envelope and choose Apply GAP edit (Ctrl+.)"
    try:
        t0 = time.monotonic()
        stale_retries = 0
        for _round in range(3):
            step = "select the envelope and choose Apply GAP edit (Ctrl+.)"
            s.quick_open("revenue.gap.json")
            stale_before = s.stale_actions()
            applied = False
            for _attempt in range(6):
                page.locator(EDITOR).first.click()
                page.keyboard.press(f"{MOD}+A")
                page.keyboard.press(f"{MOD}+.")
                item = page.locator(".action-widget").get_by_role("option", name=re.compile(r"^Apply GAP edit"))
                try:
                    item.first.wait_for(timeout=6_000)
                except Exception:  # noqa: BLE001 — no actions yet (server still reading the file): again
                    page.keyboard.press("Escape")
                    page.wait_for_timeout(1000)
                    continue
                # the widget re-renders while it settles, so choose by keyboard: the row is focused, Enter
                page.keyboard.press("Enter")
                applied = True
                break
            assert applied, "the 'Apply GAP edit' code action was not offered on the selected envelope"

            step = "confirm in Refactor Preview when the server asks for confirmation"
            print("Refactor Preview confirmation needed:", s.confirm_if_asked())
            deadline = time.monotonic() + 3  # the extension host's log is written within ~1 s
            while time.monotonic() < deadline and s.stale_actions() == stale_before:
                page.wait_for_timeout(250)
            if s.stale_actions() == stale_before:
                break
            # the chosen row belonged to a list VS Code had dropped: nothing ran, choose again
            stale_retries += 1
            page.keyboard.press("Escape")
        print("code action chosen again after VS Code dropped its list:", stale_retries)

        step = "see the edited artifact, save it, compare on disk"
        s.focus_tab("dashboard.html")
        expect(page.locator(EDITOR).first).to_contain_text("$15,720", timeout=20_000)
        text = s.editor_text()
        assert "$15,720" in text and "384" in text and "$12,400" not in text, text
        assert s.save_and_read("dashboard.html", EDITED) == EDITED
        s.timings["apply"] = time.monotonic() - t0
    except pytest.skip.Exception:
        raise
    except Exception as exc:  # noqa: BLE001
        s.fail(step, exc)


def test_preview_to_the_side(session):
    """GAP: Open Preview to the Side → a webview framing the token URL on 127.0.0.1, showing the artifact."""
    s, page = session, session.page
    step = "run GAP: Open Preview to the Side"
    try:
        t0 = time.monotonic()
        s.focus_tab("dashboard.html")
        s.command("GAP: Open Preview to the Side")
        page.locator("iframe.webview").first.wait_for(timeout=30_000)

        step = "the webview frames the preview URL (127.0.0.1 + token)"
        src = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not src:
            src = preview_src(page)
            page.wait_for_timeout(300)
        assert src and src.startswith("http://127.0.0.1:"), f"preview iframe src: {src!r}"
        assert "token=" in src, "the preview URL carries the session token"
        origin = re.match(r"http://127\.0\.0\.1:\d+", src).group(0)

        step = "the preview page loads inside the webview and shows the artifact"
        shown = ""
        frames: list[str] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            frames = [f.url for f in page.frames]
            for frame in page.frames:
                if not frame.url.startswith(origin):
                    continue
                try:
                    shown = frame.inner_text("body", timeout=1_000)
                except Exception:  # noqa: BLE001 — not loaded yet
                    continue
                if "Revenue" in shown:
                    break
            if "Revenue" in shown:
                break
            page.wait_for_timeout(500)
        assert "Revenue" in shown, (
            "the preview did not render inside the VS Code webview — if a frame is chrome-error://, "
            "the preview page refuses to be framed (CSP frame-ancestors / X-Frame-Options). Frames: "
            + ", ".join(u.split("?")[0] for u in frames)
        )
        s.timings["preview"] = time.monotonic() - t0
    except pytest.skip.Exception:
        raise
    except Exception as exc:  # noqa: BLE001
        s.fail(step, exc)


def preview_src(page) -> str | None:
    """The URL the GAP preview webview frames now (its iframe#gap-preview src), or None."""
    for frame in page.frames:
        try:
            el = frame.query_selector("iframe#gap-preview")
        except Exception:  # noqa: BLE001 — frame detached while looking
            continue
        if el:
            return el.get_attribute("src")
    return None


def open_preview(s: Session) -> str | None:
    """Run GAP: Open Preview to the Side on dashboard.html and wait (up to 30 s) until the
    webview frames a 127.0.0.1 URL; the URL it frames then (None: no preview frame)."""
    s.focus_tab("dashboard.html")
    s.command("GAP: Open Preview to the Side")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (preview_src(s.page) or "").startswith("http://127.0.0.1:"):
        s.page.wait_for_timeout(300)
    return preview_src(s.page)


def preview_text(page, origin: str) -> str:
    """The body text of the preview page served from ``origin`` inside the webview ('' if none)."""
    for frame in page.frames:
        if not frame.url.startswith(origin):
            continue
        try:
            text = frame.inner_text("body", timeout=1_000)
        except Exception:  # noqa: BLE001 — not loaded yet / detached
            continue
        if "Revenue" in text:
            return text
    return ""


def test_preview_follows_server_restart(session):
    """The preview panel is open when the server restarts (new port, new token): the panel moves
    to the new server's page instead of keeping the dead session, and running Open Preview to the
    Side again shows the live page."""
    s, page = session, session.page
    step = "open the preview and note its URL"
    try:
        old = open_preview(s)
        assert old and old.startswith("http://127.0.0.1:"), old

        step = "restart the server; open the preview again"
        s.focus_tab("dashboard.html")
        s.command("GAP: Restart Server")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and preview_src(page) == old:
            page.wait_for_timeout(300)
        s.wait_server_up(60)
        s.focus_tab("dashboard.html")
        page.locator(EDITOR).first.click()  # keyboard focus out of the webview, so F1 reaches the workbench
        s.command("GAP: Open Preview to the Side")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and preview_src(page) == old:
            page.wait_for_timeout(300)
        new = preview_src(page)
        assert new and new != old and new.startswith("http://127.0.0.1:"), (
            "after a server restart the preview panel still frames the old session's URL")

        step = "the new preview page shows the artifact"
        origin = re.match(r"http://127\.0\.0\.1:\d+", new).group(0)
        shown = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not shown:
            shown = preview_text(page, origin)
            page.wait_for_timeout(300)
        assert "Revenue" in shown
    except pytest.skip.Exception:
        raise
    except Exception as exc:  # noqa: BLE001
        s.fail(step, exc)


MODEL_REPLY = """Here is the edit:

```json
{"protocol": "gap/0.1", "id": "dashboard", "version": 3, "name": "edit", "meta": {"format": "text/html"},
 "content": [{"op": "replace", "target": {"type": "id", "value": "footer"}, "content": "<footer>Updated hourly</footer>"}]}
```
"""


def test_edit_with_instruction_scopes_to_gap_target(session):
    """The instruction prompt names the GAP target under the cursor (orders-count), taken from
    gap-ls' symbols — not an element of VS Code's own HTML outline of the same file."""
    s, page = session, session.page
    step = "cursor inside the orders-count target (Go to Line 8:60), run GAP: Edit with Instruction…"
    try:
        s.focus_tab("dashboard.html")
        s.wait_server_up(60)
        s.symbols_until(("orders-count",), 45)  # gap-ls has the document's targets
        page.locator(EDITOR).first.click()
        page.keyboard.press(f"{MOD}+G")
        box = page.locator(".quick-input-widget input")
        box.wait_for()
        box.fill(":8:60")
        page.keyboard.press("Enter")
        s.command("GAP: Edit with Instruction…")
        box.wait_for()
        step = "the prompt names the target"
        prompt = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "scoped to target" not in prompt:
            prompt = page.locator(".quick-input-widget").first.inner_text()
            page.wait_for_timeout(250)
        page.keyboard.press("Escape")
        assert 'scoped to target "orders-count"' in prompt, prompt
    except pytest.skip.Exception:
        raise
    except Exception as exc:  # noqa: BLE001
        s.fail(step, exc)


def test_edit_with_instruction(session):
    """GAP: Edit with Instruction… → input box → the (fake, OpenAI-compatible) model's envelope is applied;
    the status bar then shows the session's token savings."""
    from playwright.sync_api import expect

    s, page = session, session.page
    step = "run GAP: Edit with Instruction… and type the instruction"
    try:
        s.fake.script(MODEL_REPLY)
        s.focus_tab("dashboard.html")
        before = (s.workspace / "dashboard.html").read_text(encoding="utf-8")
        s.command("GAP: Edit with Instruction…")
        box = page.locator(".quick-input-widget input")
        box.wait_for()
        box.fill("Say the dashboard is updated hourly")
        page.keyboard.press("Enter")
        s.confirm_if_asked()
        step = "see the model's edit in the artifact"
        s.focus_tab("dashboard.html")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "Updated hourly" not in s.editor_text():
            log = "\n".join(f.read_text(errors="replace") for f in (s.data / "logs").rglob("*GAP Language Server.log"))
            if "'gap.editWithInstruction' is not defined" in log:
                break
            page.wait_for_timeout(500)
        if "Updated hourly" not in s.editor_text() and "'gap.editWithInstruction' is not defined" in log:
            missing("gap-ls does not offer gap.editWithInstruction yet")
        expect(page.locator(EDITOR).first).to_contain_text("Updated hourly", timeout=5_000)
        expected = before.replace("Updated daily", "Updated hourly")
        assert s.save_and_read("dashboard.html", expected) == expected
        assert s.fake.requests, "the model endpoint was not called"
        step = "the status bar shows the session's token savings"
        expect(page.locator(".statusbar-item", has_text="GAP").first).to_contain_text("tok saved", timeout=10_000)
    except pytest.skip.Exception:
        raise
    except Exception as exc:  # noqa: BLE001
        s.fail(step, exc)


CLIPBOARD_ENVELOPE = json.dumps({
    "protocol": "gap/0.1", "id": "dashboard", "version": 3, "name": "edit", "meta": {"format": "text/html"},
    "content": [{"op": "replace", "target": {"type": "id", "value": "header"}, "content": "<h1>Sales — Q4</h1>"}],
})


def test_apply_from_clipboard_and_strip_markers(session):
    """GAP: Apply Edit from Clipboard, then GAP: Strip Markers, on the (saved) edited dashboard.html."""
    from gap_engine import strip
    from playwright.sync_api import expect

    s, page = session, session.page
    after_clipboard = (s.workspace / "dashboard.html").read_text(encoding="utf-8").replace("Sales — Q3", "Sales — Q4")
    step = "put an envelope on the clipboard and run GAP: Apply Edit from Clipboard"
    try:
        s.focus_tab("dashboard.html")
        page.evaluate("text => navigator.clipboard.writeText(text)", CLIPBOARD_ENVELOPE)
        s.command("GAP: Apply Edit from Clipboard")
        s.confirm_if_asked()
        s.focus_tab("dashboard.html")
        expect(page.locator(EDITOR).first).to_contain_text("Sales — Q4", timeout=20_000)
        assert s.save_and_read("dashboard.html", after_clipboard) == after_clipboard

        step = "GAP: Strip Markers"
        s.command("GAP: Strip Markers")
        s.confirm_if_asked()
        s.focus_tab("dashboard.html")
        expect(page.locator(EDITOR).first).not_to_contain_text("gap:target", timeout=20_000)
        assert s.save_and_read("dashboard.html", strip(after_clipboard)) == strip(after_clipboard)
    except pytest.skip.Exception:
        raise
    except Exception as exc:  # noqa: BLE001
        s.fail(step, exc)



def test_failed_restart_with_preview_open(session):
    """GAP: Restart Server while the preview is open, and gap-ls cannot start (here: it exits at
    once, like `python3 -m gap_ls` without gap-ls installed): the status bar item shows the
    error, a message says how to install or configure gap-ls, and the preview panel adds no
    error of its own about a server known not to run. The next restart with a working server
    brings the server and the preview back."""
    from playwright.sync_api import expect

    s, page = session, session.page
    step = "open the preview; make the server fail; GAP: Restart Server"
    try:
        open_preview(s)
        s.broken.touch()
        s.focus_tab("dashboard.html")
        page.locator(EDITOR).first.click()  # keyboard focus out of the webview
        s.command("GAP: Restart Server")

        step = "the status bar item shows the error; a message says how to install or configure gap-ls; no preview error"
        status = page.locator(".statusbar-item", has_text="GAP").first
        expect(status.locator(".codicon-error")).to_have_count(1, timeout=60_000)
        page.wait_for_timeout(3000)  # anything said late
        s.command("Notifications: Show Notifications")
        items = page.locator(".notifications-center .notification-list-item-message")
        items.first.wait_for(timeout=10_000)
        said = [t.inner_text() for t in items.all()]
        assert any("pip install gap-ls" in t and "gap.server.path" in t for t in said), said
        assert not [t for t in said if "GAP preview" in t], said
        s.command("Notifications: Clear All Notifications")
    except pytest.skip.Exception:
        raise
    except Exception as exc:  # noqa: BLE001
        s.fail(step, exc)
    finally:
        s.broken.unlink(missing_ok=True)
    step = "GAP: Restart Server with a working server: it runs and the preview shows the artifact again"
    try:
        s.focus_tab("dashboard.html")
        page.locator(EDITOR).first.click()  # keyboard focus out of the webview
        s.command("GAP: Restart Server")
        expect(page.locator(".statusbar-item", has_text="GAP").first.locator(".codicon-error")).to_have_count(0, timeout=60_000)
        s.wait_server_up(60)
        deadline = time.monotonic() + 60
        shown = ""
        while time.monotonic() < deadline and not shown:
            src = preview_src(page) or ""
            m = re.match(r"http://127\.0\.0\.1:\d+", src)
            shown = preview_text(page, m.group(0)) if m else ""
            page.wait_for_timeout(300)
        assert "Revenue" in shown
    except Exception as exc:  # noqa: BLE001
        s.fail(step, exc)
