from __future__ import annotations

import sys
from typing import Union

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from ..conftest import ROOT
from ..lsp.editor import Editor


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "gap_ls"]))
async def client(lsp_client: LanguageClient):
    editor = Editor(lsp_client)
    lsp_client.editor = editor
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("neovim"),
            root_uri=ROOT.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=ROOT.as_uri(), name="repo")],
        )
    )
    yield lsp_client
    await lsp_client.shutdown_session()
