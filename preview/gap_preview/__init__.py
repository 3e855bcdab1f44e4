"""gap_preview — live browser preview of GAP artifacts (GAP-SSE and WebSocket)."""
