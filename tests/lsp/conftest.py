from __future__ import annotations

import sys

import pytest

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from ..conftest import ROOT
from .editor import start_session


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "gap_ls"], server_env={"GAP_LLM_API_KEY": ""}),
)
async def client(lsp_client: LanguageClient):
    await start_session(lsp_client, ROOT)
    yield lsp_client
    await lsp_client.shutdown_session()


DASHBOARD_ENVELOPE = """{
  "protocol": "gap/0.1",
  "id": "dashboard",
  "version": 2,
  "name": "edit",
  "meta": {"format": "text/html"},
  "content": [
    {"op": "replace", "target": {"type": "id", "value": "revenue-value"}, "content": "$15,720"},
    {"op": "replace", "target": {"type": "id", "value": "orders-count"}, "content": "384"}
  ]
}
"""


@pytest.fixture
def workspace(tmp_path):
    """A workspace folder: dashboard.html, an envelope file naming it (revenue.gap.json), a
    JSONL file of envelopes, and an unrelated file."""
    from ..conftest import EXAMPLES

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "dashboard.html").write_text((EXAMPLES / "dashboard" / "dashboard.html").read_text("utf-8"), "utf-8")
    (ws / "revenue.gap.json").write_text(DASHBOARD_ENVELOPE, "utf-8")
    (ws / "more.gap.jsonl").write_text(
        '{"protocol":"gap/0.1","id":"dashboard","version":3,"name":"edit","meta":{"format":"text/html"},"content":[{"op":"delete","target":{"type":"id","value":"revenue-value"}}]}\n'
        '{"protocol":"gap/0.1","id":"dashboard","version":4,"name":"edit","meta":{"format":"text/html"},"content":[{"op":"replace","target":{"type":"id","value":"store-name"},"content":"X"}]}\n',
        "utf-8",
    )
    (ws / "notes.txt").write_text("revenue-value is mentioned here but this is no envelope\n", "utf-8")
    return ws


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "gap_ls"], server_env={"GAP_LLM_API_KEY": ""}),
)
async def ws_client(lsp_client: LanguageClient, workspace):
    """Like ``client`` but rooted in the temporary :func:`workspace`; ``ws_client.ws`` is its path."""
    lsp_client.ws = workspace
    await start_session(lsp_client, workspace)
    yield lsp_client
    await lsp_client.shutdown_session()


def plain_capabilities() -> types.ClientCapabilities:
    """Neovim 0.7's capabilities minus hierarchical symbols, code action resolve, progress and
    change annotations: what a minimal client has."""
    caps = client_capabilities("neovim@v0.7.0")
    caps.text_document.document_symbol.hierarchical_document_symbol_support = False
    caps.text_document.code_action.resolve_support = None
    caps.window.work_done_progress = False
    caps.workspace.workspace_edit.change_annotation_support = None
    return caps


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "gap_ls"], server_env={"GAP_LLM_API_KEY": ""}),
)
async def plain_client(lsp_client: LanguageClient, workspace):
    """A client with :func:`plain_capabilities`, rooted in :func:`workspace`."""
    lsp_client.ws = workspace
    await start_session(lsp_client, workspace, plain_capabilities())
    yield lsp_client
    await lsp_client.shutdown_session()
