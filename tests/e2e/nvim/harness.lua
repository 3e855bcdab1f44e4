-- Helpers for the Neovim end-to-end tests (tests/e2e/test_neovim.py). Works on Neovim 0.7+.
-- A scenario file does:   local H = dofile(harness); H.run(function() ... end)
-- and records what it saw in H.R; H.run writes H.R as JSON to $GAP_TEST_OUT and quits.
local H = { R = { messages = {}, steps = {} } }

local function out_path() return assert(os.getenv("GAP_TEST_OUT"), "GAP_TEST_OUT not set") end

function H.step(name) table.insert(H.R.steps, name) end

function H.server_cmd()
  local raw = assert(os.getenv("GAP_LS_TEST_COMMAND_JSON"), "GAP_LS_TEST_COMMAND_JSON not set")
  return vim.fn.json_decode(raw)
end

-- Record window/showMessage so a test can tell what the server said to the user.
vim.lsp.handlers["window/showMessage"] = function(_, result)
  table.insert(H.R.messages, { type = result.type, message = result.message })
end

function H.start(root)
  H.step("start_client")
  local id = vim.lsp.start_client({
    name = "gap-ls",
    cmd = H.server_cmd(),
    root_dir = root,
    flags = { debounce_text_changes = 0 },
    on_exit = function(code, signal) H.R.server_exit = { code = code, signal = signal } end,
  })
  assert(id, "vim.lsp.start_client returned nil")
  H.client_id = id
  return id
end

function H.client() return vim.lsp.get_client_by_id(H.client_id) end

function H.wait_initialized(ms)
  local ok = vim.wait(ms or 15000, function()
    local c = H.client()
    return c ~= nil and c.initialized == true
  end, 20)
  assert(ok, "the server did not finish initialize within the time limit")
  H.R.capabilities = H.client().server_capabilities or H.client().resolved_capabilities
end

-- Open a file in the current window, attach the client, return the buffer number.
function H.open(path)
  vim.cmd("edit " .. vim.fn.fnameescape(path))
  local buf = vim.api.nvim_get_current_buf()
  vim.lsp.buf_attach_client(buf, H.client_id)
  return buf
end

function H.uri(buf) return vim.uri_from_bufnr(buf) end

-- Synchronous request to gap-ls; returns result (errors raise with the server's message).
function H.request(buf, method, params, ms)
  local res, err = vim.lsp.buf_request_sync(buf, method, params, ms or 10000)
  assert(res, method .. ": no response (" .. tostring(err) .. ")")
  local r = res[H.client_id]
  assert(r, method .. ": no response from gap-ls")
  if r.err or r.error then
    local e = r.err or r.error
    error(method .. " failed: " .. (type(e) == "table" and tostring(e.message) or tostring(e)))
  end
  if r.result == vim.NIL then return nil end
  return r.result
end

-- Like H.request but returns (nil, message) instead of raising on an LSP error.
function H.try_request(buf, method, params, ms)
  local res = vim.lsp.buf_request_sync(buf, method, params, ms or 10000)
  local r = res and res[H.client_id]
  if not r then return nil, "no response" end
  local e = r.err or r.error
  if e then return nil, (type(e) == "table" and tostring(e.message) or tostring(e)) end
  if r.result == vim.NIL then return nil end
  return r.result
end

function H.text(buf)
  return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n") .. "\n"
end

function H.whole_range(buf)
  local n = vim.api.nvim_buf_line_count(buf)
  local last = vim.api.nvim_buf_get_lines(buf, n - 1, n, false)[1] or ""
  local _, u16 = vim.str_utfindex(last)
  return { start = { line = 0, character = 0 }, ["end"] = { line = n - 1, character = u16 } }
end

-- LSP position (UTF-16) of the first occurrence of `needle` in the buffer (+ `shift` bytes).
function H.find(buf, needle, shift)
  for i, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    local s = line:find(needle, 1, true)
    if s then
      local _, u16 = vim.str_utfindex(line, s - 1 + (shift or 0))
      return { line = i - 1, character = u16 }
    end
  end
  error("not found in buffer: " .. needle)
end

-- Names of a documentSymbol answer as a nested table {name=…, children={…}} (or flat).
function H.symbol_tree(symbols)
  local out = {}
  for _, s in ipairs(symbols or {}) do
    local node = { name = s.name, kind = s.kind }
    if s.children and #s.children > 0 then node.children = H.symbol_tree(s.children) end
    if s.location then node.flat = true end
    table.insert(out, node)
  end
  return out
end

-- Run a code action the way Neovim's own code-action UI does (0.7 semantics):
-- resolve when needed, apply `edit`, then run `command` through workspace/executeCommand.
function H.run_action(buf, action)
  local client = H.client()
  if type(action.command) == "string" then -- a bare Command
    return H.request(buf, "workspace/executeCommand", { command = action.command, arguments = action.arguments })
  end
  if not action.edit and not action.command and action.data ~= nil then
    action = H.request(buf, "codeAction/resolve", action)
  end
  if action.edit then
    vim.lsp.util.apply_workspace_edit(action.edit, client.offset_encoding or "utf-16")
  end
  if action.command then
    local c = action.command
    return H.request(buf, "workspace/executeCommand", { command = c.command, arguments = c.arguments })
  end
end

function H.code_actions(buf, range, only)
  local ctx = { diagnostics = {} }
  if only then ctx.only = only end
  return H.request(buf, "textDocument/codeAction",
    { textDocument = { uri = H.uri(buf) }, range = range, context = ctx }) or {}
end

function H.find_action(actions, title_prefix)
  local titles = {}
  for _, a in ipairs(actions) do
    table.insert(titles, a.title)
    if a.title:sub(1, #title_prefix) == title_prefix then return a end
  end
  error("no code action starting with '" .. title_prefix .. "' among: " .. table.concat(titles, " | "))
end

function H.wait_for(pred, ms) return vim.wait(ms or 5000, pred, 20) end

local function write_results()
  local f = assert(io.open(out_path(), "w"))
  f:write(vim.fn.json_encode(H.R))
  f:close()
end

function H.run(fn)
  local ok, err = xpcall(fn, debug.traceback)
  if not ok then H.R.error = tostring(err) end
  local wok, werr = pcall(write_results)
  if not wok then io.stderr:write("could not write results: " .. tostring(werr) .. "\n") end
  if H.client_id then
    pcall(vim.lsp.stop_client, H.client_id)
    vim.wait(2000, function() return H.R.server_exit ~= nil end, 20)
  end
  vim.cmd(ok and "qall!" or "cquit 2")
end

return H
