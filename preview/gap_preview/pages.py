"""The two pages: the trusted shell (outer page) and the sandboxed frame bootstrap.

The shell is served with a strict CSP (``default-src 'none'``, one nonce for its script and
style, ``connect-src 'self'``, ``frame-ancestors`` this server, loopback pages and editor
webviews — which the Guard lets frame ``/`` only with the token). The frame is a static bootstrap
(morphdom + frame.js, no secrets) loaded in ``<iframe sandbox="allow-scripts">``; its CSP lets
the artifact use inline scripts and styles and https resources, but not connect to this
server (``connect-src https:`` only).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

# (no "http://[::1]:*" in frame-ancestors: Chromium does not accept IPv6 literals in source
# expressions, ignores it and logs a warning on every page load; 'self' covers [::1] itself)
SHELL_CSP = (
    "default-src 'none'; script-src 'nonce-{n}'; style-src 'nonce-{n}'; connect-src 'self'; "
    "frame-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self' http://127.0.0.1:* http://localhost:* vscode-webview:"
)
FRAME_CSP = (
    "default-src 'none'; script-src 'self' https: blob: 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' https: 'unsafe-inline'; img-src 'self' https: data: blob:; "
    "font-src 'self' https: data:; media-src 'self' https: data: blob:; connect-src https:; "
    "frame-src https: data: blob:; worker-src blob:; form-action 'none'; base-uri 'self'; "
    "frame-ancestors 'self' http://127.0.0.1:* http://localhost:* vscode-webview:"
)


@lru_cache(maxsize=None)
def _static(name: str) -> str:
    return resources.files("gap_preview").joinpath("static", name).read_text("utf-8")


MORPHDOM = "vendor/morphdom-2.7.8.umd.min.js"


def _json_for_script(obj) -> str:
    # safe inside <script type="application/json">: no "</" or "<!--" can close it
    return json.dumps(obj).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def shell_page(nonce: str, config: dict) -> str:
    """The outer page: bar, document picker, the frame slot, config and shell.js."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>GAP preview</title>
<style nonce="{nonce}">{_static("shell.css")}</style>
</head><body>
<div id="gap-bar">
  <span id="gap-title">GAP preview</span>
  <select id="gap-picker" hidden aria-label="document"></select>
  <span id="gap-version"></span>
  <label title="clicking an element moves the editor to its target"><input type="checkbox" id="gap-reveal" checked> click → source</label>
  <label title="scroll to the target under the editor's cursor"><input type="checkbox" id="gap-follow" checked> follow</label>
  <span id="gap-note" hidden></span>
  <span id="gap-status" data-state="connecting">connecting</span>
</div>
<div id="gap-main"><div id="gap-frame"></div><div id="gap-empty" hidden></div></div>
<script type="application/json" id="gap-config">{_json_for_script(config)}</script>
<script nonce="{nonce}">{_static("shell.js")}</script>
</body></html>
"""


def unauthorized_page(nonce: str) -> str:
    """401 for ``/`` without the token: a reload of a tab that already had it retries with the
    copy kept in this tab's sessionStorage; anything else just says what is missing."""
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>GAP preview</title></head>
<body><p>This preview needs the URL printed by the editor or by <code>gap-preview</code> (it contains a session token).</p>
<script nonce="{nonce}">
(function () {{
  var t = null;
  try {{ t = sessionStorage.getItem("gap-token:" + location.port); }} catch (e) {{}}
  var q = new URLSearchParams(location.search);
  if (t && !q.has("token")) {{ q.set("token", t); location.replace(location.pathname + "?" + q.toString()); }}
}})();
</script></body></html>
"""


@lru_cache(maxsize=1)
def frame_page() -> str:
    """The frame bootstrap (static; no token, no document data)."""
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<script>{_static(MORPHDOM)}</script><script>{_static('frame.js')}</script>"
        "</head><body></body></html>"
    )
