"""Settings: ``workspace/configuration`` section ``gap``, with environment fallbacks.

Read at ``initialized`` and on ``workspace/didChangeConfiguration`` (LSP 3.17
§workspace_configuration). Values are structured with cattrs; a value of the wrong type
falls back to its default and the user is told which one.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import attrs
import cattrs
from lsprotocol import types

log = logging.getLogger("gap_ls.settings")


#: attribute → client setting name under ``gap.``
SETTING_NAMES = {
    "strict_markers": "strictMarkers",
    "debounce_ms": "diagnostics.debounceMs",
    "preview_port": "preview.port",
    "llm_base_url": "llm.baseUrl",
    "llm_model": "llm.model",
    "llm_api_key": "llm.apiKey",
    "llm_max_repairs": "llm.maxRepairs",
    "tokenizer": "tokenizer",
    "confirm_edits": "confirmEdits",
    "llm_edit_syntax": "llm.editSyntax",
    "llm_timeout": "llm.timeout",
    "llm_deadline": "llm.deadline",
}
#: what ``gap.llm.editSyntax`` may be: plain-text edit blocks or JSON envelopes
EDIT_SYNTAXES = ("blocks", "json")
#: allowed ranges of the integer settings (inclusive)
RANGES = {"debounce_ms": (0, 10_000), "preview_port": (0, 65_535), "llm_max_repairs": (0, 10), "llm_timeout": (1, 3600), "llm_deadline": (0, 86_400)}


@attrs.define
class Settings:
    """The ``gap.*`` settings.

    Attributes:
        strict_markers: refuse envelopes whose result would leave malformed markers
            (``gap.strictMarkers``, default true).
        debounce_ms: delay before diagnostics are published after a change, in ms
            (``gap.diagnostics.debounceMs``, default 150).
        preview_port: TCP port of the preview server, 0 = a free one (``gap.preview.port``,
            env ``GAP_PREVIEW_PORT``).
        llm_base_url / llm_model / llm_api_key / llm_max_repairs: the model endpoint
            (``gap.llm.*``, env ``GAP_LLM_BASE_URL``, ``GAP_LLM_MODEL``, ``GAP_LLM_API_KEY``
            then ``OPENAI_API_KEY``). The key is never logged (``repr`` hides it).
        tokenizer: a ``tokenizer.json`` path or cached hub name (``gap.tokenizer``, env
            ``GAP_TOKENIZER``).
        confirm_edits: applied envelopes carry a change annotation with
            ``needsConfirmation`` when the client supports it (``gap.confirmEdits``, default
            true; VS Code then shows an accept/reject preview).
        llm_edit_syntax: what edit prompts ask the model for, ``"blocks"`` (plain-text edit
            blocks) or ``"json"`` (``gap.llm.editSyntax``, env ``GAP_LLM_EDIT_SYNTAX``).
        llm_timeout: seconds without progress before a model call is abandoned
            (``gap.llm.timeout``, env ``GAP_LLM_TIMEOUT``).
        llm_deadline: seconds one instruction may take in all (model calls, repair rounds,
            retries), 0 = none (``gap.llm.deadline``, env ``GAP_LLM_DEADLINE``).

    An empty string in a client setting counts as unset (so that it does not hide the
    environment variable behind it).
    """

    strict_markers: bool = True
    debounce_ms: int = 150
    preview_port: int = 0
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = attrs.field(default=None, repr=lambda v: "***" if v else "None")
    llm_max_repairs: int = 2
    tokenizer: str | None = None
    confirm_edits: bool = True
    llm_edit_syntax: str | None = None
    llm_timeout: float | None = None
    llm_deadline: float | None = None

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Settings":
        env = os.environ if env is None else env
        s = cls()
        port = env.get("GAP_PREVIEW_PORT", "").strip()
        if port.isdigit() and int(port) <= 65_535:
            s.preview_port = int(port)
        s.llm_base_url = env.get("GAP_LLM_BASE_URL") or None
        s.llm_model = env.get("GAP_LLM_MODEL") or None
        s.llm_api_key = env.get("GAP_LLM_API_KEY") or env.get("OPENAI_API_KEY") or None
        s.tokenizer = env.get("GAP_TOKENIZER") or None
        return s

    @staticmethod
    def env_problems(env: dict | None = None) -> list[str]:
        """One line per invalid environment value behind a setting (``GAP_PREVIEW_PORT`` and
        the ``GAP_LLM_*`` numbers and choices, see :func:`gap_ls.llm.config.env_problems`):
        the variable, its value, what was expected and the default used instead."""
        from .llm.config import env_problems

        env = os.environ if env is None else env
        out = []
        port = env.get("GAP_PREVIEW_PORT", "")
        if port and not (port.strip().isdigit() and int(port) <= 65_535):
            out.append(f"GAP_PREVIEW_PORT={port!r}: expected a port from 0 to 65535; using 0 (a free port)")
        return out + env_problems(env)

    def merged(self, section: Any) -> tuple["Settings", list[str]]:
        """These settings overridden by a client ``gap`` section; returns (settings, problems)."""
        if not isinstance(section, dict):
            return self, ([] if section is None else [f"gap: expected an object, got {type(section).__name__}"])
        flat = {
            "strict_markers": section.get("strictMarkers"),
            "debounce_ms": (section.get("diagnostics") or {}).get("debounceMs") if isinstance(section.get("diagnostics"), dict) else None,
            "preview_port": (section.get("preview") or {}).get("port") if isinstance(section.get("preview"), dict) else None,
            "tokenizer": section.get("tokenizer"),
            "confirm_edits": section.get("confirmEdits"),
        }
        llm = section.get("llm") if isinstance(section.get("llm"), dict) else {}
        flat.update(
            llm_base_url=llm.get("baseUrl"),
            llm_model=llm.get("model"),
            llm_api_key=llm.get("apiKey"),
            llm_max_repairs=llm.get("maxRepairs"),
            llm_edit_syntax=llm.get("editSyntax"),
            llm_timeout=llm.get("timeout"),
            llm_deadline=llm.get("deadline"),
        )
        out = attrs.evolve(self)
        problems = []
        conv = cattrs.Converter()
        for f in attrs.fields(Settings):
            val = flat.get(f.name)
            if val is None or (isinstance(val, str) and not val.strip()):
                continue
            key = SETTING_NAMES.get(f.name, f.name)
            shown = "***" if "key" in f.name else repr(val)
            current = "***" if "key" in f.name and getattr(self, f.name) else repr(getattr(self, f.name))
            kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
            if kind == "bool" and not isinstance(val, bool):
                problems.append(f"gap.{key}: expected true or false, got {shown}; using {current}")
                continue
            if kind.startswith("str") and not isinstance(val, str):
                problems.append(f"gap.{key}: expected a string, got {shown}; using {current}")
                continue
            if f.name == "llm_edit_syntax" and val not in EDIT_SYNTAXES:
                problems.append(f"gap.{key}: expected {' or '.join(json.dumps(x) for x in EDIT_SYNTAXES)}, got {shown}; using {current}")
                continue
            if kind.startswith("float"):
                if isinstance(val, bool) or not isinstance(val, (int, float)):
                    problems.append(f"gap.{key}: expected a number, got {shown}; using {current}")
                    continue
                val = float(val)
                lo, hi = RANGES.get(f.name, (None, None))
                if (lo is not None and val < lo) or (hi is not None and val > hi):
                    problems.append(f"gap.{key}: {val:g} is outside {lo}–{hi}; using {current}")
                    continue
            if kind == "int":
                if isinstance(val, bool) or not isinstance(val, (int, float, str)):
                    problems.append(f"gap.{key}: expected a number, got {shown}; using {current}")
                    continue
                try:
                    val = conv.structure(val, int)
                except Exception:
                    problems.append(f"gap.{key}: expected a number, got {shown}; using {current}")
                    continue
                lo, hi = RANGES.get(f.name, (None, None))
                if (lo is not None and val < lo) or (hi is not None and val > hi):
                    problems.append(f"gap.{key}: {val} is outside {lo}–{hi}; using {current}")
                    continue
            setattr(out, f.name, val)
        return out, problems


def apply_section(ls, section: Any) -> None:
    """Use a ``gap`` section (from ``workspace/configuration`` or pushed in
    ``workspace/didChangeConfiguration``); tell the user about invalid values — each once:
    a later change of settings that leaves a bad value as it was does not repeat its warning
    (one that is fixed and then broken again is told again)."""
    ls.settings, problems = Settings.from_env().merged(section)
    told = getattr(ls, "_settings_told", frozenset())
    for p in problems:
        if p not in told:
            ls.show(f"gap-ls: {p}", types.MessageType.Warning)
    ls._settings_told = frozenset(problems)


async def refresh(ls, pushed: Any = None) -> None:
    """Ask the client for the ``gap`` section (when it supports it) and apply it; a client
    without ``workspace/configuration`` may push ``{"gap": {…}}`` in
    ``workspace/didChangeConfiguration`` instead (Neovim 0.7 does)."""
    caps = ls.client_capabilities
    if not (caps.workspace and caps.workspace.configuration):
        if isinstance(pushed, dict) and isinstance(pushed.get("gap"), dict):
            apply_section(ls, pushed["gap"])
        return
    try:
        res = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="gap")])
        )
    except Exception as exc:
        log.warning("workspace/configuration failed: %s", exc)
        return
    apply_section(ls, res[0] if res else None)


def register(ls) -> None:
    @ls.feature(types.INITIALIZED)
    async def _initialized(ls, params: types.InitializedParams) -> None:
        for p in Settings.env_problems():  # the environment does not change: said once
            ls.show(f"gap-ls: {p}", types.MessageType.Warning)
        await refresh(ls)

    @ls.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def _changed(ls, params: types.DidChangeConfigurationParams) -> None:
        await refresh(ls, params.settings)
