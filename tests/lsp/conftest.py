from __future__ import annotations

import sys
from typing import Union

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from ..conftest import ROOT
from .editor import Editor


def fix_code_action_structuring(client) -> None:
    """lsprotocol 2025.0.0 structures a CodeAction carrying a ``command`` as a Command whose
    ``.command`` is a stringified dict (NOTES.md): pick Command only when ``command`` is a
    string."""
    conv = client.protocol._converter

    def hook(obj, _):
        if isinstance(obj, dict) and isinstance(obj.get("command"), str):
            return conv.structure(obj, types.Command)
        return conv.structure(obj, types.CodeAction)

    conv.register_structure_hook(Union[types.Command, types.CodeAction], hook)


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "gap_ls"], server_env={"GAP_LLM_API_KEY": ""}),
)
async def client(lsp_client: LanguageClient):
    fix_code_action_structuring(lsp_client)
    editor = Editor(lsp_client)
    lsp_client.editor = editor
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=ROOT.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=ROOT.as_uri(), name="repo")],
        )
    )
    yield lsp_client
    await lsp_client.shutdown_session()
