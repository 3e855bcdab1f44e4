"""Helix: the languages.toml in docs/editors/helix.md is valid TOML with the keys Helix reads.

When ``hx`` is installed, also runs ``hx --health html`` with that file as the user config and
checks that Helix lists gap-ls and finds its binary. Otherwise only the parse check runs (the
binary is not packaged for Debian 12, so this is not a skip-worthy gap).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib

from .helpers import CLIENTS, REPO, server_command

HELIX_MD = REPO / "docs" / "editors" / "helix.md"
SETTINGS = {
    key.removeprefix("gap.")
    for key in json.loads((CLIENTS / "vscode" / "package.json").read_text())["contributes"]["configuration"]["properties"]
    if not key.startswith("gap.server.")
}


def toml_blocks() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", HELIX_MD.read_text(encoding="utf-8"), re.S)


def flatten(d: dict, prefix: str = "") -> set[str]:
    out = set()
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out |= flatten(v, key + ".")
        else:
            out.add(key)
    return out


def test_languages_toml_in_docs_is_valid():
    blocks = toml_blocks()
    assert blocks, "docs/editors/helix.md has no ```toml block"
    cfg = tomllib.loads(blocks[0])
    server = cfg["language-server"]["gap-ls"]
    assert server["command"] == "gap-ls"
    assert isinstance(server.get("args", []), list)
    # `config` is sent as initializationOptions and answers workspace/configuration by section
    unknown = flatten(server["config"]["gap"]) - SETTINGS
    assert not unknown, f"settings gap-ls does not read: {unknown}"
    languages = cfg["language"]
    assert {lang["name"] for lang in languages} >= {"html", "markdown"}
    for lang in languages:
        assert "gap-ls" in lang["language-servers"], lang
        assert set(lang) <= {"name", "language-servers", "file-types", "roots", "scope"}, lang


def test_hx_health_lists_gap_ls(tmp_path, editor_env):
    hx = shutil.which("hx") or shutil.which("helix")
    if not hx:
        import pytest

        pytest.skip("Helix (hx) is not installed; its languages.toml is validated by parsing instead")
    conf = tmp_path / "hx-config" / "helix"
    conf.mkdir(parents=True)
    cmd = server_command()
    text = toml_blocks()[0].replace('command = "gap-ls"\nargs = []', f"command = {json.dumps(cmd[0])}\nargs = {json.dumps(cmd[1:])}")
    (conf / "languages.toml").write_text(text, encoding="utf-8")
    env = dict(editor_env, XDG_CONFIG_HOME=str(tmp_path / "hx-config"))
    out = subprocess.run([hx, "--health", "html"], env=env, capture_output=True, text=True, timeout=60)
    assert "gap-ls" in out.stdout, out.stdout + out.stderr
    line = next(ln for ln in out.stdout.splitlines() if "gap-ls" in ln)
    assert "✘" not in line and "not found" not in line, line
