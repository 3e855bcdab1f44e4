-- gap.nvim: nothing happens until require("gap").setup{} is called (see :help gap).
if vim.g.loaded_gap then return end
vim.g.loaded_gap = 1
