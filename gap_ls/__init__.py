"""gap_ls — a language server for GAP artifacts and envelopes (LSP 3.17, pygls 2).

Targets are document symbols, envelopes become minimal undoable workspace edits, and every
change is streamed to a live browser preview. Start it as ``gap-ls`` (stdio).
"""

__version__ = "0.1.0"
