"""Emacs (batch) with eglot driving the real gap-ls over stdio: symbols and apply.

Needs Debian's ``emacs-nox`` and ``elpa-eglot`` (Emacs 28 + eglot 1.9; Emacs 29+ has eglot built in).
The scenario uses tests/e2e/emacs/harness.el and records what it saw as JSON.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from .helpers import E2E, missing, require_tool

pytestmark = pytest.mark.editor

HARNESS = E2E / "emacs" / "harness.el"
ORIGINAL = (E2E / "fixtures" / "dashboard.html").read_text(encoding="utf-8")
EDITED = ORIGINAL.replace("$12,400", "$15,720").replace(">310<", ">384<")


def run_emacs(tmp_path: Path, env: dict, scenario: str, timeout: float = 90) -> dict:
    emacs = require_tool("emacs", hint="apt-get install emacs-nox elpa-eglot")
    probe = subprocess.run([emacs, "--batch", "-q", "--eval", "(progn (package-initialize) (require 'eglot) (princ \"ok\"))"],
                           env=env, capture_output=True, text=True, timeout=60)
    if "ok" not in probe.stdout:
        missing(f"eglot is not available to Emacs (apt-get install elpa-eglot): {probe.stderr[-300:]}")
    script = tmp_path / "scenario.el"
    script.write_text(";;; -*- lexical-binding: t -*-\n(gap-scenario\n" + scenario + "\n)\n", encoding="utf-8")
    out = tmp_path / "emacs-result.json"
    started = time.monotonic()
    proc = subprocess.run(
        [emacs, "--batch", "-q", "--eval", "(package-initialize)", "-l", str(HARNESS), "-l", str(script)],
        cwd=tmp_path, env=dict(env, GAP_TEST_OUT=str(out)), capture_output=True, text=True, timeout=timeout,
    )
    elapsed = time.monotonic() - started
    if not out.exists():
        pytest.fail(f"emacs wrote no result (exit {proc.returncode}, {elapsed:.1f}s):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    result = json.loads(out.read_text(encoding="utf-8"))
    if result.get("error"):
        pytest.fail(f"Emacs scenario failed: {result['error']}\nserver messages: {result.get('messages')}\n{proc.stderr[-3000:]}")
    return result


def test_eglot_symbols_and_apply(tmp_path, editor_env, workspace):
    r = run_emacs(tmp_path, dict(editor_env, GAP_WS=str(workspace)), r"""
(let* ((buf (gap-open "dashboard.html"))
       (uri (with-current-buffer buf (eglot--path-to-uri buffer-file-name)))
       (envelope (with-temp-buffer (insert-file-contents (expand-file-name "revenue.gap.json" gap-ws)) (buffer-string))))
  (gap-put 'symbols (gap-symbol-tree
                     (gap-request buf :textDocument/documentSymbol `(:textDocument (:uri ,uri)))))
  (let ((res (gap-request buf :workspace/executeCommand
                          `(:command "gap.applyEnvelope" :arguments [,uri ,envelope]))))
    (gap-put 'applied (if (eq (plist-get res :applied) t) t :json-false)))
  (gap-put 'after (gap-text buf))
  (gap-put 'modified (if (buffer-modified-p buf) t :json-false)))
""")
    assert r["symbols"] == [
        {"name": "header"},
        {"name": "stats", "children": [{"name": "revenue-value"}, {"name": "orders-count"}]},
        {"name": "footer"},
    ]
    assert r["applied"] is True
    assert r["after"] == EDITED
    assert r["modified"] is True


def test_eglot_apply_code_action_from_envelope_file(tmp_path, editor_env, workspace):
    r = run_emacs(tmp_path, dict(editor_env, GAP_WS=str(workspace)), r"""
(let* ((buf (gap-open "dashboard.html"))
       (ebuf (gap-open "revenue.gap.json"))
       (euri (with-current-buffer ebuf (eglot--path-to-uri buffer-file-name)))
       (actions (gap-request ebuf :textDocument/codeAction
                             `(:textDocument (:uri ,euri) :range ,(gap-whole-range ebuf)
                               :context (:diagnostics []))))
       (action (seq-find (lambda (a) (string-prefix-p "Apply GAP edit" (plist-get a :title))) actions)))
  (gap-put 'titles (vconcat (mapcar (lambda (a) (plist-get a :title)) actions)))
  (unless action (error "no Apply GAP edit action among %S" (mapcar (lambda (a) (plist-get a :title)) actions)))
  (gap-run-action ebuf action)
  (with-timeout (5 nil)
    (while (not (string-match-p "\\$15,720" (gap-text buf))) (accept-process-output nil 0.05)))
  (gap-put 'after (gap-text buf)))
""")
    assert r["after"] == EDITED, r.get("titles")


def doc_snippet() -> str:
    """The ``;; init.el`` elisp block of docs/editors/emacs.md."""
    import re

    from .helpers import REPO

    md = (REPO / "docs" / "editors" / "emacs.md").read_text(encoding="utf-8")
    return next(b for b in re.findall(r"```elisp\n(.*?)```", md, re.S) if b.startswith(";; init.el"))


def write_docs_init(tmp_path: Path, snippet: str) -> None:
    """``snippet`` as tmp_path/init.el, its ``("gap-ls")`` the server command under test."""
    from .helpers import server_command

    cmd = "(" + " ".join(json.dumps(c) for c in server_command()) + ")"
    (tmp_path / "init.el").write_text(snippet.replace('("gap-ls")', cmd), encoding="utf-8")


def test_docs_emacs_snippet(tmp_path, editor_env, workspace):
    """The copy-paste eglot set-up in docs/editors/emacs.md: symbols via imenu's source, gap-apply-envelope, gap-preview."""
    from .helpers import server_command

    snippet = doc_snippet()
    assert '("gap-ls")' in snippet
    write_docs_init(tmp_path, snippet)
    r = run_emacs(tmp_path, dict(editor_env, GAP_WS=str(workspace)), f"""
(load {json.dumps(str(tmp_path / "init.el"))} nil t)
(let* ((buf (gap-open "dashboard.html"))
       (opened nil)
       (browse-url-browser-function (lambda (url &rest _) (setq opened url)))
       (envelope (with-temp-buffer (insert-file-contents (expand-file-name "revenue.gap.json" gap-ws)) (buffer-string))))
  (with-current-buffer buf
    (gap-put 'server (format "%S" (process-command (jsonrpc--process (eglot-current-server)))))
    (gap-apply-envelope envelope)
    (gap-put 'after (gap-text buf))
    (gap-preview)
    (gap-put 'opened opened)))
""")
    assert json.loads(json.dumps(r["after"])) == EDITED
    assert r["opened"].startswith("http://127.0.0.1:"), r
    assert server_command()[0] in r["server"]


def test_docs_emacs_envelope_file_and_imenu(tmp_path, editor_env, workspace):
    """Following docs/editors/emacs.md alone (no harness server entry): a `*.gap.json` buffer is
    managed by the same gap-ls, so "Apply GAP edit" on the selected envelope edits the artifact;
    imenu lists the targets; gap-strip-markers strips them."""
    write_docs_init(tmp_path, doc_snippet())
    r = run_emacs(tmp_path, dict(editor_env, GAP_WS=str(workspace)), f"""
;; only what the docs configure: drop the harness's own server entry
(setq eglot-server-programs (seq-remove (lambda (e) (equal (cdr e) gap-server-command)) eglot-server-programs))
(load {json.dumps(str(tmp_path / "init.el"))} nil t)
(let* ((buf (find-file-noselect (expand-file-name "dashboard.html" gap-ws)))
       (ebuf (find-file-noselect (expand-file-name "revenue.gap.json" gap-ws))))
  (with-current-buffer buf (eglot-ensure) (run-hooks 'post-command-hook)
    (gap-put 'imenu (format "%S" (funcall imenu-create-index-function))))
  (with-current-buffer ebuf
    (gap-put 'envelope-mode (symbol-name major-mode))
    (condition-case e (progn (eglot-ensure) (run-hooks 'post-command-hook)) (error (gap-put 'ensure-error (format "%S" e))))
    (gap-put 'same-server (if (and (eglot-current-server)
                                   (eq (eglot-current-server) (with-current-buffer buf (eglot-current-server))))
                              t :json-false))
    (let* ((actions (jsonrpc-request (eglot--current-server-or-lose) :textDocument/codeAction
                                     `(:textDocument ,(eglot--TextDocumentIdentifier)
                                       :range ,(gap-whole-range ebuf) :context (:diagnostics []))))
           (action (seq-find (lambda (a) (string-prefix-p "Apply GAP edit" (plist-get a :title))) actions)))
      (unless action (error "no Apply GAP edit action"))
      (gap-run-action ebuf action)))
  (with-timeout (10 nil)
    (while (not (string-match-p "\\\\$15,720" (gap-text buf))) (accept-process-output nil 0.05)))
  (gap-put 'after (gap-text buf))
  ;; an interactive Emacs sends didChange from an idle timer, which batch mode never runs
  (with-current-buffer buf (eglot--signal-textDocument/didChange))
  (with-current-buffer buf (gap-put (quote strip-result) (format "%S" (gap-strip-markers))))
  (with-timeout (10 nil)
    (while (string-match-p "<gap:target" (gap-text buf)) (accept-process-output nil 0.05)))
  (gap-put 'stripped (gap-text buf)))
""")
    from gap_engine import strip

    assert r.get("same-server") is True, (r.get("envelope-mode"), r.get("ensure-error"))
    for name in ("header", "stats", "revenue-value", "orders-count", "footer"):
        assert f'"{name}"' in r["imenu"], r["imenu"]
    assert r["after"] == EDITED
    assert r["stripped"] == strip(EDITED), r["strip-result"]
