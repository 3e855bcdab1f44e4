"""Invalid ``GAP_*`` environment values behind settings: the real server (pytest-lsp) tells
the user once, naming the variable, and goes on with the default."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.lsp.editor import start_session

from .conftest import ROOT

LOG_DIR = Path(tempfile.mkdtemp(prefix="gap-env-warn-"))
SECRET = "sk-env-warning-test-0123456789"


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[sys.executable, str(Path(__file__).with_name("lsp_server.py"))],
        server_env={"PYTHONPATH": str(ROOT), "GAP_LLM_DEADLINE": "soon", "GAP_PREVIEW_PORT": "99999",
                    "GAP_LLM_API_KEY": SECRET, "GAP_LLM_BASE_URL": "", "OPENAI_API_KEY": ""},
    ),
)
async def client(lsp_client: LanguageClient):
    lsp_client.set_configuration({"confirmEdits": False}, section="gap")
    await start_session(lsp_client, LOG_DIR)
    yield lsp_client
    await lsp_client.shutdown_session()


async def test_invalid_environment_values_are_shown_once(client: LanguageClient):
    def warnings():
        return [m.message for m in client.messages if m.type == types.MessageType.Warning]

    for _ in range(200):
        if len(warnings()) >= 2:
            break
        await asyncio.sleep(0.02)
    got = warnings()
    assert any("GAP_LLM_DEADLINE='soon'" in w and "using 300.0" in w for w in got), got
    assert any("GAP_PREVIEW_PORT='99999'" in w for w in got), got
    # a settings change re-reads the client's section, not the environment: no repeat
    client.set_configuration({"confirmEdits": True}, section="gap")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await asyncio.sleep(0.5)
    assert len(warnings()) == len(got) == 2, warnings()
    assert all(SECRET not in m.message for m in client.messages)


async def test_an_invalid_setting_is_told_once_until_it_changes(client: LanguageClient):
    """A bad ``gap.*`` value is shown when it arrives; a later settings change that leaves it
    as it was does not repeat it (VS Code sends didChangeConfiguration for any setting); a
    fixed then broken value is told again."""
    def told(fragment: str) -> int:
        return sum(1 for m in client.messages if m.type == types.MessageType.Warning and fragment in m.message)

    async def change(section: dict, fragment: str, n: int) -> None:
        client.set_configuration(section, section="gap")
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        # one more round trip, to be sure the server has read the section
        await client.workspace_execute_command_async(types.ExecuteCommandParams(command="gap.llmStats", arguments=[]))
        for _ in range(100):
            if told(fragment) >= n:
                break
            await asyncio.sleep(0.02)

    bad = "gap.diagnostics.debounceMs"
    await change({"confirmEdits": False, "diagnostics": {"debounceMs": -5}}, bad, 1)
    assert told(bad) == 1
    await change({"confirmEdits": True, "diagnostics": {"debounceMs": -5}}, bad, 2)
    await change({"confirmEdits": False, "diagnostics": {"debounceMs": -5}}, bad, 2)
    assert told(bad) == 1  # the same bad value: not repeated
    await change({"confirmEdits": False, "diagnostics": {"debounceMs": 100}}, bad, 2)
    await change({"confirmEdits": False, "diagnostics": {"debounceMs": -5}}, bad, 2)
    assert told(bad) == 2  # fixed, then broken again: told again
