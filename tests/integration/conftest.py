from __future__ import annotations

import sys
import pytest_lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from ..conftest import ROOT
from ..lsp.editor import start_session


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "gap_ls"]))
async def client(lsp_client: LanguageClient):
    await start_session(lsp_client, ROOT, "neovim")
    yield lsp_client
    await lsp_client.shutdown_session()
