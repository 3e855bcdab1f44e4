"""gap_ls — a language server for GAP artifacts and envelopes."""
