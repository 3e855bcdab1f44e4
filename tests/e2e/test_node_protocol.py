"""VS Code's protocol stack (npm vscode-languageserver-protocol) against the real gap-ls.

Runs ``node --test clients/vscode/test/protocol.test.mjs``: initialize, documentSymbol (UTF-16
columns), gap.applyEnvelope through one versioned workspace/applyEdit with minimal edits, a
rejected envelope, the "Apply GAP edit" code action, gap.previewUrl. Needs node and the
extension's node_modules (``clients/vscode/scripts/build.sh`` or ``npm ci`` there).
"""

from __future__ import annotations

import json
import re
import subprocess

from .helpers import CLIENTS, missing, require_tool, server_command

VSCODE = CLIENTS / "vscode"


def test_node_protocol_client(editor_env):
    node = require_tool("node", hint="install Node.js 20 (apt-get install nodejs / nodesource)")
    if not (VSCODE / "node_modules" / "vscode-languageserver-protocol").is_dir():
        missing("clients/vscode/node_modules is missing: run clients/vscode/scripts/build.sh (or npm ci in clients/vscode)")
    env = dict(editor_env, GAP_LS_COMMAND_JSON=json.dumps(server_command()))
    proc = subprocess.run(
        [node, "--test", "--test-reporter=tap", "test/protocol.test.mjs"],
        cwd=VSCODE, env=env, capture_output=True, text=True, timeout=180,
    )
    out = proc.stdout + proc.stderr
    failed = re.findall(r"^\s*not ok \d+ - (.*)$", out, re.M)
    assert proc.returncode == 0, f"node --test failed ({len(failed)} failing: {failed}):\n{out[-6000:]}"
    assert re.search(r"^# pass [1-9]", out, re.M), out[-2000:]
