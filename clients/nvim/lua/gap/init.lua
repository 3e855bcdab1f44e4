-- gap.nvim — Neovim client for gap-ls (the GAP language server). Neovim 0.7+.
--
--   require("gap").setup({
--     cmd = { "gap-ls" },                 -- how to start the server (stdio)
--     filetypes = { "html", "markdown", ... , "json" },
--     root_markers = { ".git", "pyproject.toml", "package.json" },
--     settings = { gap = { preview = { port = 0 }, llm = { model = "…" } } },
--     browser = nil,                      -- function(url) or a command like { "firefox" }; default: vim.ui.open / xdg-open / open
--     register = '"',                     -- default register for :GapApply
--     on_attach = nil,                    -- function(client, bufnr)
--   })
--
-- Commands: :GapApply [reg]   apply the edit envelope held in a register (default ")
--           :GapEdit {instruction}   ask the configured model for an edit (scoped to the target at the cursor)
--           :GapPreview       open the live preview of the buffer in the browser
--           :GapStrip         strip all GAP markers from the buffer
--           :GapAddTargets    add targets to an unmarked buffer
-- Everything else (outline symbols, "Apply GAP edit"/wrap/unwrap code actions, rename,
-- diagnostics) is standard LSP: use vim.lsp.buf.document_symbol(), vim.lsp.buf.code_action(), …
local M = {}

M.defaults = {
  cmd = { "gap-ls" },
  filetypes = {
    "html", "xhtml", "markdown", "python", "javascript", "typescript", "javascriptreact", "typescriptreact",
    "css", "scss", "yaml", "json", "jsonl", "xml", "svg", "vue", "svelte", "toml", "text", "go", "rust",
    "java", "c", "cpp", "sh", "sql", "tex",
  },
  root_markers = { ".git", "pyproject.toml", "package.json", ".hg" },
  settings = { gap = {} },
  browser = nil,
  register = '"',
  on_attach = nil,
  name = "gap-ls",
}

M.config = vim.deepcopy(M.defaults)
M.client_ids = {} -- root_dir -> client id (0.7 path)

local function notify(msg, level)
  vim.notify("[gap] " .. msg, level or vim.log.levels.INFO)
end

local function find_root(bufnr)
  local path = vim.api.nvim_buf_get_name(bufnr)
  local dir = path ~= "" and vim.fn.fnamemodify(path, ":p:h") or vim.loop.cwd()
  for _, marker in ipairs(M.config.root_markers) do
    local d = vim.fn.finddir(marker, dir .. ";")
    if d ~= "" then return vim.fn.fnamemodify(d, ":p:h:h") end
    local f = vim.fn.findfile(marker, dir .. ";")
    if f ~= "" then return vim.fn.fnamemodify(f, ":p:h") end
  end
  return dir
end

local function client_config(root)
  return {
    name = M.config.name,
    cmd = M.config.cmd,
    root_dir = root,
    settings = M.config.settings,
    flags = { debounce_text_changes = 50 },
    on_attach = M.config.on_attach,
    -- Neovim < 0.8 does not advertise workspace/configuration, so push the settings once
    -- (what `:help vim.lsp.start_client()` asks of 0.7 configs); harmless on later versions.
    on_init = function(client)
      if vim.fn.has("nvim-0.11") == 1 then
        client:notify("workspace/didChangeConfiguration", { settings = M.config.settings })
      else
        client.notify("workspace/didChangeConfiguration", { settings = M.config.settings })
      end
    end,
  }
end

--- Why gap-ls cannot be started (its command is not executable), or nil.
local function missing_server()
  local cmd = M.config.cmd
  if type(cmd) ~= "table" or type(cmd[1]) ~= "string" or vim.fn.executable(cmd[1]) == 1 then return nil end
  return ("cannot start gap-ls: `%s` is not an executable (pip install gap-ls, or set cmd in require(\"gap\").setup{})")
    :format(cmd[1])
end

--- Start gap-ls for `bufnr` (or attach the running one). Returns the client id, or nil when the
--- server's command is missing (said once, not for every buffer opened).
function M.attach(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local why = missing_server()
  if why then
    if M.reported ~= why then notify(why, vim.log.levels.ERROR) end
    M.reported = why
    return nil
  end
  local root = find_root(bufnr)
  if vim.lsp.start and vim.fn.has("nvim-0.10") == 1 then
    return vim.lsp.start(client_config(root), { bufnr = bufnr })
  end
  local id = M.client_ids[root]
  if not id or not vim.lsp.get_client_by_id(id) then
    id = vim.lsp.start_client(client_config(root))
    M.client_ids[root] = id
  end
  if id then vim.lsp.buf_attach_client(bufnr, id) end
  return id
end

--- The gap-ls client attached to `bufnr`, or nil.
function M.client(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local clients = vim.lsp.get_clients and vim.lsp.get_clients({ bufnr = bufnr, name = M.config.name })
    or vim.lsp.buf_get_clients(bufnr)
  for _, c in pairs(clients or {}) do
    if c.name == M.config.name then return c end
  end
  return nil
end

--- workspace/executeCommand on gap-ls; `callback(err, result)` (default: report errors).
function M.execute(command, arguments, callback, bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    local why = missing_server()
    if why then return notify(why, vim.log.levels.ERROR) end
    notify("gap-ls is not attached to this buffer (see :LspInfo / :checkhealth lsp)", vim.log.levels.WARN)
    return
  end
  local params = { command = command, arguments = arguments }
  local function handler(err, result)
    if err then
      notify(command .. ": " .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    end
    if callback then callback(err, result) end
  end
  if vim.fn.has("nvim-0.11") == 1 then
    client:request("workspace/executeCommand", params, handler, bufnr) -- method form (0.11+)
  else
    client.request("workspace/executeCommand", params, handler, bufnr)
  end
end

local function uri(bufnr) return vim.uri_from_bufnr(bufnr or vim.api.nvim_get_current_buf()) end

--- Apply the envelope in register `reg` (default config.register) to the current buffer.
function M.apply(reg, callback)
  reg = (reg and reg ~= "") and reg or M.config.register
  local text = vim.fn.getreg(reg)
  if type(text) ~= "string" or vim.trim(text) == "" then
    notify("register " .. reg .. " is empty: yank an edit envelope (JSON or a model reply) first", vim.log.levels.WARN)
    return
  end
  M.execute("gap.applyEnvelope", { uri(), text }, function(err, result)
    if not err and result and result.applied then
      notify(("edit applied (version %s)"):format(tostring(result.version)))
    end
    if callback then callback(err, result) end
  end)
end

--- The innermost target (document symbol) containing the cursor, or nil.
function M.target_at_cursor(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then return nil end
  local params = { textDocument = { uri = uri(bufnr) } }
  local res = vim.lsp.buf_request_sync(bufnr, "textDocument/documentSymbol", params, 2000) or {}
  -- gap-ls' symbols only: another server's outline (HTML elements, functions) names no target
  res = { res[client.id] }
  local row = vim.api.nvim_win_get_cursor(0)[1] - 1
  local best
  local function walk(symbols)
    for _, s in ipairs(symbols or {}) do
      local r = s.range or (s.location and s.location.range)
      if r and r.start.line <= row and row <= r["end"].line then
        best = s.name
        walk(s.children)
      end
    end
  end
  for _, r in pairs(res) do walk(r.result) end
  return best
end

--- Ask the configured model to edit the buffer following `instruction`.
function M.edit(instruction, callback)
  if not instruction or vim.trim(instruction) == "" then
    notify("usage: :GapEdit {instruction}", vim.log.levels.WARN)
    return
  end
  local args = { uri(), instruction }
  local target = M.target_at_cursor()
  if target then table.insert(args, target) end
  notify("asking the model" .. (target and (" (target " .. target .. ")") or "") .. "…")
  M.execute("gap.editWithInstruction", args, callback)
end

local function open_url(url)
  local b = M.config.browser
  if type(b) == "function" then return b(url) end
  if type(b) == "table" or type(b) == "string" then
    local cmd = type(b) == "table" and vim.list_extend(vim.deepcopy(b), { url }) or { b, url }
    return vim.fn.jobstart(cmd, { detach = true })
  end
  if vim.ui and vim.ui.open then return vim.ui.open(url) end
  local opener = vim.fn.has("mac") == 1 and "open" or (vim.fn.has("win32") == 1 and "explorer" or "xdg-open")
  return vim.fn.jobstart({ opener, url }, { detach = true })
end

--- Open the live preview of the current buffer in the browser.
function M.preview(callback)
  M.execute("gap.previewUrl", { uri() }, function(err, url)
    if not err and type(url) == "string" then
      open_url(url)
      notify("preview: " .. url:gsub("%?.*", "?…"))
    end
    if callback then callback(err, url) end
  end)
end

function M.strip(callback) M.execute("gap.stripMarkers", { uri() }, callback) end

function M.add_targets(callback) M.execute("gap.addTargets", { uri() }, callback) end

local function define_commands()
  local cmd = vim.api.nvim_create_user_command
  cmd("GapApply", function(o) M.apply(o.args) end,
    { nargs = "?", desc = "GAP: apply the edit envelope in a register (default \")" })
  cmd("GapEdit", function(o) M.edit(o.args) end, { nargs = "+", desc = "GAP: edit with an instruction" })
  cmd("GapPreview", function() M.preview() end, { desc = "GAP: open the live preview in the browser" })
  cmd("GapStrip", function() M.strip() end, { desc = "GAP: strip all target markers" })
  cmd("GapAddTargets", function() M.add_targets() end, { desc = "GAP: add targets to this file" })
end

function M.setup(opts)
  M.reported = nil
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  if opts and opts.filetypes then M.config.filetypes = opts.filetypes end
  define_commands()
  local group = vim.api.nvim_create_augroup("gap_ls", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = M.config.filetypes,
    callback = function(args) M.attach(args.buf) end,
  })
  -- *.gap.json / *.gap.jsonl envelope files, whatever filetype they got
  vim.api.nvim_create_autocmd({ "BufReadPost", "BufNewFile" }, {
    group = group,
    pattern = { "*.gap.json", "*.gap.jsonl" },
    callback = function(args) M.attach(args.buf) end,
  })
  -- buffers already open when setup() runs
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(b) and vim.tbl_contains(M.config.filetypes, vim.bo[b].filetype) then
      M.attach(b)
    end
  end
end

return M
