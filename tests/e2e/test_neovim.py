"""Neovim headless (Debian's `neovim`, 0.7+) driving the real gap-ls over stdio.

Each test writes a small Lua scenario that uses tests/e2e/nvim/harness.lua: the built-in LSP
client (`vim.lsp.start_client`) starts the server, opens an artifact, and requests symbols, code
actions and commands; Neovim's own `workspace/applyEdit` handler applies the server's edits to
the buffer, and the scenario records the buffer text as JSON for the assertions here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import CLIENTS, E2E, missing, require_tool

pytestmark = pytest.mark.editor

HARNESS = E2E / "nvim" / "harness.lua"
ORIGINAL = (E2E / "fixtures" / "dashboard.html").read_text(encoding="utf-8")
EDITED = ORIGINAL.replace("$12,400", "$15,720").replace(">310<", ">384<")
EXPECTED_TREE = [
    {"name": "header"},
    {"name": "stats", "children": [{"name": "revenue-value"}, {"name": "orders-count"}]},
    {"name": "footer"},
]


def names(tree: list[dict]) -> list[dict]:
    """Strip a recorded symbol tree down to names and nesting."""
    out = []
    for node in tree:
        n = {"name": node["name"]}
        if node.get("children"):
            n["children"] = names(node["children"])
        out.append(n)
    return out


def run_nvim(tmp_path: Path, env: dict, scenario: str, *, timeout: float = 60) -> dict:
    """Run ``scenario`` (Lua; ``H`` is the harness) in headless Neovim; return what it recorded."""
    nvim = require_tool("nvim", hint="apt-get install neovim (Neovim 0.7+)")
    script = tmp_path / "scenario.lua"
    out = tmp_path / "nvim-result.json"
    script.write_text(
        f"local H = dofile({json.dumps(str(HARNESS))})\n"
        f"vim.opt.runtimepath:append({json.dumps(str(CLIENTS / 'nvim'))})\n"
        f"H.run(function()\n{scenario}\nend)\n",
        encoding="utf-8",
    )
    env = dict(env, GAP_TEST_OUT=str(out))
    started = time.monotonic()
    proc = subprocess.run(
        [nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n",
         "-c", f"luafile {script}", "-c", "cquit 3"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout,
    )
    elapsed = time.monotonic() - started
    if not out.exists():
        log = Path(env["XDG_CACHE_HOME"]) / "nvim" / "lsp.log"
        pytest.fail(
            f"nvim wrote no result (exit {proc.returncode}, {elapsed:.1f}s)\n"
            f"stdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}\n"
            f"lsp.log: {log.read_text()[-3000:] if log.exists() else '(none)'}"
        )
    result = json.loads(out.read_text(encoding="utf-8"))
    if result.get("error"):
        log = Path(env["XDG_STATE_HOME"]) / "nvim" / "lsp.log"
        if not log.exists():
            log = Path(env["XDG_CACHE_HOME"]) / "nvim" / "lsp.log"
        gate = result["error"].split("GAP_MISSING:", 1)
        if len(gate) == 2:
            missing(gate[1].split("\n", 1)[0].strip())
        pytest.fail(
            f"Neovim scenario failed after steps {result.get('steps')}:\n{result['error']}\n"
            f"server messages: {result.get('messages')}\n"
            f"lsp.log (tail): {log.read_text()[-3000:] if log.exists() else '(none)'}"
        )
    result["elapsed"] = elapsed
    return result


OPEN_DASHBOARD = """
local ws = os.getenv("GAP_WS")
H.start(ws)
local buf = H.open(ws .. "/dashboard.html")
H.wait_initialized()
"""


def test_symbols_and_apply_envelope_command(tmp_path, editor_env, workspace):
    """documentSymbol nests the targets; gap.applyEnvelope edits the buffer via workspace/applyEdit; undo restores it."""
    env = dict(editor_env, GAP_WS=str(workspace))
    r = run_nvim(tmp_path, env, OPEN_DASHBOARD + """
H.step("documentSymbol")
local syms = H.request(buf, "textDocument/documentSymbol", { textDocument = { uri = H.uri(buf) } })
H.R.symbols = H.symbol_tree(syms)
H.R.stats_range = syms[2] and syms[2].range
H.step("gap.applyEnvelope")
local env = table.concat(vim.fn.readfile(ws .. "/revenue.gap.json"), "\\n")
H.R.before_version = vim.lsp.util.buf_versions[buf]
H.R.apply = H.request(buf, "workspace/executeCommand",
  { command = "gap.applyEnvelope", arguments = { H.uri(buf), env } }, 15000)
H.R.after = H.text(buf)
H.R.after_version = vim.lsp.util.buf_versions[buf]
H.R.modified = vim.bo[buf].modified
H.step("undo")
vim.api.nvim_buf_call(buf, function() vim.cmd("silent undo") end)
H.R.after_undo = H.text(buf)
""")
    assert names(r["symbols"]) == EXPECTED_TREE
    assert not any(node.get("flat") for node in r["symbols"]), "expected hierarchical DocumentSymbols"
    # the "stats" target spans from its opening marker (line 5) to its closing marker (line 8)
    assert r["stats_range"]["start"] == {"line": 5, "character": 0}
    assert r["stats_range"]["end"]["line"] == 8
    assert r["apply"]["applied"] is True
    assert set(r["apply"]["targets"]) >= {"header", "stats", "revenue-value", "orders-count", "footer"}
    assert isinstance(r["apply"]["version"], int)
    assert r["after"] == EDITED
    assert r["modified"] is True
    assert r["after_undo"] == ORIGINAL, "one undo should restore the text before the applied edit"


def test_apply_code_action_from_envelope_file(tmp_path, editor_env, workspace):
    """'Apply GAP edit' offered on a selected envelope in revenue.gap.json edits dashboard.html."""
    env = dict(editor_env, GAP_WS=str(workspace))
    r = run_nvim(tmp_path, env, OPEN_DASHBOARD + """
local ebuf = H.open(ws .. "/revenue.gap.json")
H.step("codeAction")
local actions = H.code_actions(ebuf, H.whole_range(ebuf))
H.R.titles = vim.tbl_map(function(a) return a.title end, actions)
local action = H.find_action(actions, "Apply GAP edit")
H.R.kind = action.kind
H.step("run action")
H.run_action(ebuf, action)
H.wait_for(function() return H.text(buf):find("$15,720", 1, true) ~= nil end, 5000)
H.R.artifact = H.text(buf)
H.R.envelope_unchanged = H.text(ebuf) == table.concat(vim.fn.readfile(ws .. "/revenue.gap.json"), "\\n") .. "\\n"
""")
    assert r["kind"] in ("quickfix", "refactor.rewrite.gap.apply"), r["kind"]
    assert r["artifact"] == EDITED
    assert r["envelope_unchanged"]


def test_rejected_envelope_changes_nothing(tmp_path, editor_env, workspace):
    """An envelope naming a missing target answers an error, tells the user, and leaves the buffer as it was."""
    env = dict(editor_env, GAP_WS=str(workspace))
    r = run_nvim(tmp_path, env, OPEN_DASHBOARD + """
local bad = vim.fn.json_encode({ protocol = "gap/0.1", id = "dashboard", version = 2, name = "edit",
  meta = { format = "text/html" },
  content = { { op = "replace", target = { type = "id", value = "revenue-value" }, content = "$1" },
              { op = "replace", target = { type = "id", value = "no-such-target" }, content = "x" } } })
H.step("gap.applyEnvelope (bad)")
local res, err = H.try_request(buf, "workspace/executeCommand",
  { command = "gap.applyEnvelope", arguments = { H.uri(buf), bad } }, 15000)
H.R.result = res
H.R.err = err
H.wait_for(function() return #H.R.messages > 0 end, 2000)
H.R.after = H.text(buf)
""")
    assert r["after"] == ORIGINAL, "a rejected envelope must not change the buffer"
    said = (r.get("err") or "") + " ".join(m["message"] for m in r["messages"])
    if r.get("result") and not r.get("err"):
        assert r["result"].get("applied") is False, r["result"]
        said += json.dumps(r["result"])
    assert "no-such-target" in said, f"the error should name the missing target: {said!r}"


def test_wrap_selection_in_target(tmp_path, editor_env, workspace):
    """'Wrap selection in a GAP target' on the <title> element adds a new, unique target around it."""
    env = dict(editor_env, GAP_WS=str(workspace))
    r = run_nvim(tmp_path, env, OPEN_DASHBOARD + """
local s = H.find(buf, "<title>")
local e = H.find(buf, "</title>", #"</title>")
local actions = H.code_actions(buf, { start = s, ["end"] = e }, { "refactor.rewrite.gap.wrap" })
if #actions == 0 then error("GAP_MISSING: gap-ls offers no refactor.rewrite.gap.wrap action yet") end
local action = H.find_action(actions, "Wrap")
H.R.kind = action.kind
H.run_action(buf, action)
H.wait_for(function() return H.text(buf) ~= table.concat(vim.fn.readfile(ws .. "/dashboard.html"), "\\n") .. "\\n" end, 5000)
H.R.after = H.text(buf)
local syms = H.request(buf, "textDocument/documentSymbol", { textDocument = { uri = H.uri(buf) } })
H.R.symbols = H.symbol_tree(syms)
""")
    assert r["kind"].startswith("refactor.rewrite.gap.wrap")
    m = re.search(r'<gap:target id="([^"]+)"[^>]*><title>Sales dashboard</title></gap:target>', r["after"])
    assert m, r["after"]
    new_id = m.group(1)
    assert new_id not in {"header", "stats", "revenue-value", "orders-count", "footer"}
    assert r["after"].replace(m.group(0), "<title>Sales dashboard</title>") == ORIGINAL
    assert new_id in [n["name"] for n in r["symbols"]]


def test_rename_target(tmp_path, editor_env, workspace):
    """textDocument/rename on a marker's id renames the target (and the envelope file that references it)."""
    env = dict(editor_env, GAP_WS=str(workspace))
    r = run_nvim(tmp_path, env, OPEN_DASHBOARD + """
if not (H.R.capabilities and H.R.capabilities.renameProvider) then
  error("GAP_MISSING: gap-ls does not advertise renameProvider yet")
end
local pos = H.find(buf, 'id="revenue-value"', 5)
local edit = H.request(buf, "textDocument/rename",
  { textDocument = { uri = H.uri(buf) }, position = pos, newName = "net-revenue" })
H.R.edit_uris = {}
for uri, _ in pairs(edit.changes or {}) do table.insert(H.R.edit_uris, uri) end
for _, dc in ipairs(edit.documentChanges or {}) do
  if dc.textDocument then table.insert(H.R.edit_uris, dc.textDocument.uri) end
end
vim.lsp.util.apply_workspace_edit(edit, H.client().offset_encoding or "utf-16")
H.R.after = H.text(buf)
""")
    assert r["after"] == ORIGINAL.replace('id="revenue-value"', 'id="net-revenue"')
    assert any(u.endswith("revenue.gap.json") for u in r["edit_uris"]), (
        "rename should also update envelope files that reference the target", r["edit_uris"])


def test_plugin_commands(tmp_path, editor_env, workspace):
    """clients/nvim: require("gap").setup{} starts gap-ls on FileType; :GapApply, :GapPreview, :GapStrip work."""
    from gap_engine import strip

    env = dict(editor_env, GAP_WS=str(workspace))
    r = run_nvim(tmp_path, env, """
vim.cmd("filetype on")
local ws = os.getenv("GAP_WS")
local gap = require("gap")
gap.setup({ cmd = H.server_cmd(), browser = function(url) H.R.opened = url end })
H.step("open")
vim.cmd("edit " .. vim.fn.fnameescape(ws .. "/dashboard.html"))
local buf = vim.api.nvim_get_current_buf()
assert(H.wait_for(function() local c = gap.client(buf); return c ~= nil and c.initialized end, 15000),
  "the plugin did not start gap-ls on FileType html")
H.client_id = gap.client(buf).id
H.step(":GapApply a")
vim.fn.setreg("a", table.concat(vim.fn.readfile(ws .. "/revenue.gap.json"), "\\n"))
vim.cmd("GapApply a")
H.wait_for(function() return H.text(buf):find("$15,720", 1, true) ~= nil end, 10000)
H.R.after_apply = H.text(buf)
H.step(":GapPreview")
vim.cmd("GapPreview")
H.wait_for(function() return H.R.opened ~= nil end, 10000)
H.step(":GapStrip")
vim.cmd("GapStrip")
H.wait_for(function() return H.text(buf):find("<gap:target", 1, true) == nil end, 10000)
H.R.after_strip = H.text(buf)
""")
    assert r["after_apply"] == EDITED
    assert r.get("opened", "").startswith("http://127.0.0.1:"), r.get("opened")
    assert r["after_strip"] == strip(EDITED)


def doc_block(marker: str) -> str:
    """The ```lua block of docs/editors/neovim.md whose first line contains ``marker``."""
    from .helpers import REPO

    text = (REPO / "docs" / "editors" / "neovim.md").read_text(encoding="utf-8")
    for block in re.findall(r"```lua\n(.*?)```", text, re.S):
        if marker in block.splitlines()[0]:
            return block
    raise AssertionError(f"no lua block starting with {marker!r} in docs/editors/neovim.md")


def fake_opener(tmp_path: Path, env: dict) -> tuple[dict, Path]:
    """An `xdg-open` on PATH that records the URL it was asked to open."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    opened = tmp_path / "opened.txt"
    script = bindir / "xdg-open"
    script.write_text(f'#!/bin/sh\nprintf "%s" "$1" > "{opened}"\n')
    script.chmod(0o755)
    return dict(env, PATH=f"{bindir}:{env['PATH']}"), opened


def docs_07_init(tmp_path: Path, snippet: str) -> str:
    """Write the documented Neovim 0.7 set-up (``snippet``, its ``cmd`` the harness's server) as
    init.lua; the Lua that loads it and edits dashboard.html (``ws``, ``buf``)."""
    (tmp_path / "init.lua").write_text(snippet.replace('cmd = { "gap-ls" }', "cmd = H_SERVER_CMD"), encoding="utf-8")
    return f"""
H_SERVER_CMD = H.server_cmd()
dofile({json.dumps(str(tmp_path / "init.lua"))})
local ws = os.getenv("GAP_WS")
vim.cmd("edit " .. vim.fn.fnameescape(ws .. "/dashboard.html"))
local buf = vim.api.nvim_get_current_buf()
"""


# :GapApply of revenue.gap.json on `buf`; its text after the edit in H.R.after
GAP_APPLY_REVENUE = """
vim.fn.setreg("a", table.concat(vim.fn.readfile(ws .. "/revenue.gap.json"), "\\n"))
vim.cmd("GapApply a")
H.wait_for(function() return H.text(buf):find("$15,720", 1, true) ~= nil end, 10000)
H.R.after = H.text(buf)
"""

# another language server (tests/e2e/nvim/other_server.py) on the same HTML buffers, as a
# user's HTML server would be: the command in $OTHER_LS, ATTACH_OTHER_LS attaches it
OTHER_LS = json.dumps([sys.executable, str(E2E / "nvim" / "other_server.py")])
ATTACH_OTHER_LS = """
local other
vim.api.nvim_create_autocmd("FileType", { pattern = "html", callback = function(args)
  other = other or vim.lsp.start_client({ name = "other-ls", cmd = vim.fn.json_decode(os.getenv("OTHER_LS")),
    root_dir = vim.fn.getcwd() })
  vim.lsp.buf_attach_client(args.buf, other)
end })
"""


def test_docs_neovim_07_snippet(tmp_path, editor_env, workspace):
    """The copy-paste Neovim 0.7 set-up in docs/editors/neovim.md attaches, lists symbols, applies, previews."""
    snippet = doc_block("(Neovim 0.7+)")
    assert 'cmd = { "gap-ls" }' in snippet
    env, opened = fake_opener(tmp_path, dict(editor_env, GAP_WS=str(workspace)))
    r = run_nvim(tmp_path, env, f"""
vim.cmd("filetype on")
{docs_07_init(tmp_path, snippet)}
assert(H.wait_for(function()
  for id, c in pairs(vim.lsp.buf_get_clients(buf)) do
    if c.name == "gap-ls" and c.initialized then H.client_id = c.id return true end
  end
end, 15000), "the documented config did not attach gap-ls")
local syms = H.request(buf, "textDocument/documentSymbol", {{ textDocument = {{ uri = H.uri(buf) }} }})
H.R.symbols = H.symbol_tree(syms)
{GAP_APPLY_REVENUE}
vim.cmd("GapPreview")
H.wait_for(function() return vim.fn.filereadable({json.dumps(str(opened))}) == 1 end, 10000)
""")
    assert names(r["symbols"]) == EXPECTED_TREE
    assert r["after"] == EDITED
    assert opened.read_text().startswith("http://127.0.0.1:")


def test_plugin_gap_edit_with_fake_model(tmp_path, editor_env, workspace):
    """:GapEdit {instruction} sends the instruction to the configured (fake, OpenAI-compatible) model and applies its envelope."""
    from tests.fakes.fake_openai import FakeOpenAI

    reply = ('```json\n{"protocol": "gap/0.1", "id": "dashboard", "version": 2, "name": "edit", '
             '"meta": {"format": "text/html"}, "content": [{"op": "replace", '
             '"target": {"type": "id", "value": "footer"}, "content": "<footer>Updated hourly</footer>"}]}\n```\n')
    with FakeOpenAI(use_evals=False) as fake:
        fake.script(reply)
        env = dict(editor_env, GAP_WS=str(workspace), GAP_FAKE_URL=fake.base_url)
        r = run_nvim(tmp_path, env, """
vim.lsp.set_log_level("debug")
vim.cmd("filetype on")
local ws = os.getenv("GAP_WS")
local gap = require("gap")
gap.setup({ cmd = H.server_cmd(), settings = { gap = { llm = {
  baseUrl = os.getenv("GAP_FAKE_URL"), model = "fake-model", apiKey = "sk-test-not-a-real-key" } } } })
vim.cmd("edit " .. vim.fn.fnameescape(ws .. "/dashboard.html"))
local buf = vim.api.nvim_get_current_buf()
assert(H.wait_for(function() local c = gap.client(buf); return c ~= nil and c.initialized end, 15000))
H.client_id = gap.client(buf).id
local caps = gap.client(buf).server_capabilities or {}
local cmds = (caps.executeCommandProvider or {}).commands or {}
if not vim.tbl_contains(cmds, "gap.editWithInstruction") then
  error("GAP_MISSING: gap-ls does not offer gap.editWithInstruction yet")
end
vim.cmd("GapEdit Say the dashboard is updated hourly")
H.wait_for(function() return H.text(buf):find("Updated hourly", 1, true) ~= nil end, 20000)
H.R.after = H.text(buf)
""")
        assert fake.requests, f"the model endpoint was not called; server said: {r['messages']}"
    assert r["after"] == ORIGINAL.replace("Updated daily", "Updated hourly")


def test_plugin_missing_server_says_so_once(tmp_path, editor_env, workspace):
    """With gap-ls not installed, the plugin says once which command it could not run (not twice
    per opened buffer), and :GapPreview / :GapApply repeat that reason instead of a vague 'not attached'."""
    env = dict(editor_env, GAP_WS=str(workspace))
    r = run_nvim(tmp_path, env, """
vim.cmd("filetype on")
local ws = os.getenv("GAP_WS")
H.R.notes = {}
vim.notify = function(msg, level) table.insert(H.R.notes, { msg = tostring(msg), level = level }) end
require("gap").setup({ cmd = { ws .. "/no-such-gap-ls" } })
vim.cmd("edit " .. vim.fn.fnameescape(ws .. "/dashboard.html"))
vim.cmd("edit " .. vim.fn.fnameescape(ws .. "/revenue.gap.json"))
H.R.opened = #H.R.notes
vim.cmd("GapPreview")
vim.fn.setreg("a", "{}")
vim.cmd("GapApply a")
""")
    notes = r["notes"]
    at_open = notes[: r["opened"]]
    assert len(at_open) == 1, at_open
    assert "no-such-gap-ls" in at_open[0]["msg"] and at_open[0]["level"] == 4, at_open  # ERROR
    later = notes[r["opened"]:]
    assert len(later) == 2, later
    assert all("no-such-gap-ls" in n["msg"] for n in later), later


def test_plugin_several_buffers(tmp_path, editor_env, workspace):
    """Two artifacts and an envelope file open: one gap-ls serves them all; :GapApply edits only
    the current buffer; :GapPreview gives each document its own page."""
    (workspace / "other.html").write_text(ORIGINAL, encoding="utf-8")
    env = dict(editor_env, GAP_WS=str(workspace))
    r = run_nvim(tmp_path, env, """
vim.cmd("filetype on")
local ws = os.getenv("GAP_WS")
local gap = require("gap")
H.R.opened = {}
gap.setup({ cmd = H.server_cmd(), browser = function(url) table.insert(H.R.opened, url) end })
vim.cmd("edit " .. vim.fn.fnameescape(ws .. "/dashboard.html"))
local a = vim.api.nvim_get_current_buf()
vim.cmd("edit " .. vim.fn.fnameescape(ws .. "/revenue.gap.json"))
vim.cmd("edit " .. vim.fn.fnameescape(ws .. "/other.html"))
local b = vim.api.nvim_get_current_buf()
assert(H.wait_for(function() local c = gap.client(b); return c ~= nil and c.initialized end, 15000))
H.client_id = gap.client(b).id
local ids = {}
for _, buf in ipairs({ a, b }) do
  for _, c in pairs(vim.lsp.buf_get_clients(buf)) do if c.name == "gap-ls" then ids[c.id] = true end end
end
H.R.clients = vim.tbl_count(ids)
vim.fn.setreg("a", table.concat(vim.fn.readfile(ws .. "/revenue.gap.json"), "\\n"))
vim.cmd("GapApply a")
H.wait_for(function() return H.text(b):find("$15,720", 1, true) ~= nil end, 10000)
H.R.b = H.text(b)
H.R.a = H.text(a)
vim.cmd("GapPreview")
H.wait_for(function() return #H.R.opened == 1 end, 10000)
vim.cmd("buffer " .. a)
vim.cmd("GapPreview")
H.wait_for(function() return #H.R.opened == 2 end, 10000)
""")
    assert r["clients"] == 1
    assert r["b"] == EDITED
    assert r["a"] == ORIGINAL
    assert len(r["opened"]) == 2 and r["opened"][0] != r["opened"][1], r["opened"]


def test_docs_neovim_07_snippet_beside_another_server(tmp_path, editor_env, workspace):
    """The documented 0.7 set-up in a Neovim that also runs another server for HTML (the usual
    case): :GapApply and :GapPreview talk to gap-ls only — no error from the other server is
    shown as a gap-ls error."""
    load_docs_init = docs_07_init(tmp_path, doc_block("(Neovim 0.7+)"))
    env, opened = fake_opener(tmp_path, dict(editor_env, GAP_WS=str(workspace), OTHER_LS=OTHER_LS))
    r = run_nvim(tmp_path, env, f"""
vim.cmd("filetype on")
H.R.notes = {{}}
vim.notify = function(msg, level) table.insert(H.R.notes, {{ msg = tostring(msg), level = level }}) end
-- the user's HTML server
{ATTACH_OTHER_LS}
{load_docs_init}
assert(H.wait_for(function()
  local n = 0
  for _, c in pairs(vim.lsp.buf_get_clients(buf)) do
    if c.initialized then n = n + 1 end
    if c.name == "gap-ls" then H.client_id = c.id end
  end
  return n == 2
end, 15000), "gap-ls and the other server did not both attach")
{GAP_APPLY_REVENUE}
vim.cmd("GapPreview")
H.wait_for(function() return vim.fn.filereadable({json.dumps(str(opened))}) == 1 end, 10000)
vim.cmd("GapStrip")
H.wait_for(function() return H.text(buf):find("<gap:target", 1, true) == nil end, 10000)
H.R.stripped = H.text(buf)
vim.wait(1000, function() return false end, 50) -- any late answer from the other server
""")
    from gap_engine import strip

    assert r["after"] == EDITED
    assert r["stripped"] == strip(EDITED)
    assert opened.read_text().startswith("http://127.0.0.1:")
    assert not [n for n in r["notes"] if n["level"] == 4], r["notes"]


def test_plugin_target_at_cursor_ignores_other_servers(tmp_path, editor_env, workspace):
    """:GapEdit scopes to the GAP target under the cursor: the plugin takes it from gap-ls'
    symbols only, not from another server's outline of the same buffer (HTML elements)."""
    env = dict(editor_env, GAP_WS=str(workspace), OTHER_LS=OTHER_LS)
    r = run_nvim(tmp_path, env, """
vim.cmd("filetype on")
local ws = os.getenv("GAP_WS")
local gap = require("gap")
gap.setup({ cmd = H.server_cmd() })
""" + ATTACH_OTHER_LS + """
vim.cmd("edit " .. vim.fn.fnameescape(ws .. "/dashboard.html"))
local buf = vim.api.nvim_get_current_buf()
assert(H.wait_for(function()
  local n = 0
  for _, c in pairs(vim.lsp.buf_get_clients(buf)) do if c.initialized then n = n + 1 end end
  return n == 2
end, 15000), "gap-ls and the other server did not both attach")
H.client_id = gap.client(buf).id
local row = H.find(buf, "Updated daily").line
vim.api.nvim_win_set_cursor(0, { row + 1, 0 })
H.R.target = gap.target_at_cursor(buf)
vim.api.nvim_win_set_cursor(0, { 1, 0 })
H.R.outside = gap.target_at_cursor(buf) or vim.NIL
""")
    assert r["target"] == "footer"
    assert r["outside"] is None
