"""The VS Code extension manifest matches the server: every setting gap-ls reads is contributed
(with a description), the server's command ids are not reused by the extension, and the
palette commands have titles. Pure file checks; no editor needed."""

from __future__ import annotations

import json

from gap_ls.settings import SETTING_NAMES

from .helpers import CLIENTS

PKG = json.loads((CLIENTS / "vscode" / "package.json").read_text(encoding="utf-8"))
PROPS = PKG["contributes"]["configuration"]["properties"]


def test_every_server_setting_is_contributed():
    missing = [f"gap.{name}" for name in SETTING_NAMES.values() if f"gap.{name}" not in PROPS]
    assert not missing, f"settings gap-ls reads but the extension does not contribute: {missing}"
    for key in ("gap.server.path", "gap.server.args", "gap.llm.editSyntax", "gap.llm.timeout"):
        assert key in PROPS


def test_settings_have_descriptions_and_unset_strings_are_null():
    for key, spec in PROPS.items():
        assert spec.get("markdownDescription") or spec.get("description"), key
        types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        if ("string" in types or "null" in types) and key != "gap.server.path":
            # "" would override the server's environment fallbacks (GAP_LLM_*); null means unset
            assert spec.get("default") is None, f"{key} should default to null, not {spec.get('default')!r}"


def test_commands_have_titles_and_do_not_shadow_server_commands():
    server_commands = {"gap.applyEnvelope", "gap.previewUrl", "gap.editWithInstruction", "gap.synthesize",
                       "gap.stripMarkers", "gap.addTargets", "gap.addTargetsWithModel", "gap.llmStats",
                       "gap.previewEnvelope"}
    for cmd in PKG["contributes"]["commands"]:
        assert cmd["title"] and cmd["category"] == "GAP", cmd
        # vscode-languageclient registers the server's executeCommand ids itself; a clash fails activation
        assert cmd["command"] not in server_commands, cmd["command"]


def test_activation_covers_envelope_files_and_html():
    events = set(PKG["activationEvents"])
    assert {"onLanguage:html", "onLanguage:markdown", "workspaceContains:**/*.gap.json"} <= events
