"""LLM settings: where the model is, which model, the key, and the pipeline's bounds.

Sources, first hit wins per field: the client's settings (``workspace/configuration`` section
``gap``: ``gap.llm.baseUrl``, ``gap.llm.model``, ``gap.llm.apiKey``, ``gap.llm.maxRepairs``,
``gap.llm.editSyntax``, ``gap.llm.timeout``, ``gap.llm.deadline``, ``gap.tokenizer``), then
the environment (``GAP_LLM_BASE_URL``, ``GAP_LLM_MODEL``, ``GAP_LLM_API_KEY`` falling back to
``OPENAI_API_KEY``, ``GAP_LLM_MAX_REPAIRS``, ``GAP_LLM_EDIT_SYNTAX``, ``GAP_LLM_TIMEOUT``,
``GAP_LLM_DEADLINE``, ``GAP_TOKENIZER``), then defaults.

The API key is held in a :class:`Secret`: its ``repr``/``str`` never show it, and
:func:`redact` scrubs it (and provider-style masked echoes of it) from any text before that
text reaches a log, an exception or the user.
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping

import attrs

from ..settings import EDIT_SYNTAXES, RANGES

__all__ = ["LLMConfig", "Secret", "redact", "install_log_redaction", "env_problems", "DEFAULT_BASE_URL"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"
SYNTAXES = EDIT_SYNTAXES


_KNOWN: set[str] = set()  # every secret value seen, for the log redaction


class Secret:
    """A string that does not print itself. ``reveal()`` gives the value (only to the HTTP
    client); ``repr``, ``str`` and f-strings give ``'***'``."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value or None
        if self._value and len(self._value) >= 6:
            _KNOWN.add(self._value)

    def reveal(self) -> str | None:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret(None)"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self):  # never pickled with the value
        return (Secret, (None,))


# Provider echoes such as "Incorrect API key provided: sk-abc***********wxyz" and bearer tokens.
_KEYLIKE = re.compile(r"\b(sk-[A-Za-z0-9_*\-]{3,}|Bearer\s+\S+)")
# apiKey / api_key / GAP_LLM_API_KEY / OPENAI_API_KEY = value, in JSON, dict reprs, env dumps
_KEYFIELD = re.compile(r"""((?:apiKey|api_key|API_KEY|llm_api_key)['"]?\s*[:=]\s*['"]?)([^'",\s}]+)""")


def redact(text: str, *secrets: Secret | str | None) -> str:
    """``text`` with every secret value, any substring of ≥ 8 of its leading or trailing
    characters, and key-like tokens (``sk-…``, ``Bearer …``) replaced by ``***``."""
    if not text:
        return text
    for s in secrets:
        v = s.reveal() if isinstance(s, Secret) else s
        if not v:
            continue
        text = text.replace(v, "***")
        if len(v) >= 12:
            for part in (v[:8], v[-8:]):
                text = text.replace(part, "***")
    text = _KEYFIELD.sub(lambda m: m.group(1) + "***", text)
    return _KEYLIKE.sub("***", text)


def _redact_known(text: str) -> str:
    for v in list(_KNOWN):
        if v in text:
            text = text.replace(v, "***")
    return redact(text)


_installed = False


def install_log_redaction() -> None:
    """Make every log record of this process key-free: a log-record factory formats each
    emitted record once and scrubs it with :func:`redact` (key fields such as ``apiKey``,
    ``sk-…`` tokens, bearer headers, every :class:`Secret` value seen). This covers pygls'
    DEBUG traces of JSON-RPC traffic (which include ``workspace/configuration`` answers) and
    the ``openai``/``httpx`` loggers. Idempotent."""
    global _installed
    if _installed:
        return
    import logging

    old = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = old(*args, **kwargs)
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - leave broken records to the handler
            return record
        clean = _redact_known(msg)
        if clean != msg or record.args:
            record.msg, record.args = clean, ()
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def _get(settings: Mapping[str, Any] | None, dotted: str) -> Any:
    """``settings['llm']['baseUrl']`` or ``settings['llm.baseUrl']`` for ``'llm.baseUrl'``."""
    if not settings:
        return None
    if dotted in settings:
        return settings[dotted]
    cur: Any = settings
    for part in dotted.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _count(lo: int, hi: int):
    def check(v: Any) -> int:
        if isinstance(v, bool):
            raise ValueError(f"expected a whole number from {lo} to {hi}")
        try:
            n = int(str(v).strip()) if isinstance(v, str) else int(v)
        except (TypeError, ValueError):
            raise ValueError(f"expected a whole number from {lo} to {hi}") from None
        if (not isinstance(v, str) and n != v) or not lo <= n <= hi:
            raise ValueError(f"expected a whole number from {lo} to {hi}")
        return n

    return check


def _seconds(lo: float, hi: float, zero_ok: bool):
    what = f"expected seconds from {lo:g} to {hi:g}" if zero_ok else f"expected seconds above 0, at most {hi:g}"

    def check(v: Any) -> float:
        if isinstance(v, bool):
            raise ValueError(what)
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise ValueError(what) from None
        if not (lo <= x <= hi) or (not zero_ok and x <= 0):  # NaN fails both comparisons
            raise ValueError(what)
        return x

    return check


def _syntax(v: Any) -> str:
    if str(v) not in SYNTAXES:
        raise ValueError("expected " + " or ".join(repr(x) for x in SYNTAXES))
    return str(v)


#: client setting (under ``gap.``) → (environment variable, LLMConfig field, checker); the
#: ranges are the editor settings' (``gap_ls.settings.RANGES``), except that the environment
#: may set a timeout below 1 s
_CHECKED = {
    "llm.maxRepairs": ("GAP_LLM_MAX_REPAIRS", "max_repairs", _count(*RANGES["llm_max_repairs"])),
    "llm.editSyntax": ("GAP_LLM_EDIT_SYNTAX", "syntax", _syntax),
    "llm.timeout": ("GAP_LLM_TIMEOUT", "timeout", _seconds(0, RANGES["llm_timeout"][1], False)),
    "llm.deadline": ("GAP_LLM_DEADLINE", "deadline", _seconds(*RANGES["llm_deadline"], True)),
    "llm.maxRetryWait": ("GAP_LLM_MAX_RETRY_WAIT", "max_retry_wait", _seconds(0, 3600, True)),
}


def env_problems(env: Mapping[str, str] | None = None) -> list[str]:
    """One line per invalid ``GAP_LLM_*`` environment variable (``GAP_LLM_MAX_REPAIRS``,
    ``GAP_LLM_EDIT_SYNTAX``, ``GAP_LLM_TIMEOUT``, ``GAP_LLM_DEADLINE``,
    ``GAP_LLM_MAX_RETRY_WAIT``): its name, value, what was expected and the default used
    instead, e.g. ``"GAP_LLM_DEADLINE='abc': expected seconds from 0 to 86400; using 300.0"``.
    Values are never secrets here (the key is not checked)."""
    out: list[str] = []
    LLMConfig.resolve({}, env=os.environ if env is None else env, problems=out)
    return out


@attrs.frozen(repr=False)
class LLMConfig:
    """Resolved LLM settings.

    Attributes:
        base_url: the OpenAI-compatible endpoint (``…/v1``).
        model: model name sent with each request.
        api_key: a :class:`Secret` (may be empty for local servers that need none).
        max_repairs: repair prompts after a rejected envelope (GAP §7.3), default 2.
        syntax: what the maintain prompt asks for: ``"blocks"`` (plain-text edit blocks) or
            ``"json"`` (JSON envelopes); the pipeline accepts both either way.
        timeout: seconds without progress before a request fails (connect/read), default 60.
        deadline: seconds one instruction may take in all — every model call of it, repair
            rounds, the fallback and 429 retries included — default 300; 0 means no deadline.
        max_retry_wait: the longest ``Retry-After`` (s) honoured on HTTP 429 before giving up.
        tokenizer: a ``tokenizer.json`` path or a locally cached hub name, or None (estimate).
        temperature: sampling temperature (None: the server's default).
        max_tokens: output cap per request (None: the server's default).
    """

    base_url: str = DEFAULT_BASE_URL
    model: str = DEFAULT_MODEL
    api_key: Secret = attrs.field(factory=lambda: Secret(None))
    max_repairs: int = 2
    syntax: str = "blocks"
    timeout: float = 60.0
    deadline: float = 300.0
    max_retry_wait: float = 10.0
    tokenizer: str | None = None
    temperature: float | None = 0.0
    max_tokens: int | None = None

    def __repr__(self) -> str:
        return (
            f"LLMConfig(base_url={self.base_url!r}, model={self.model!r}, api_key={self.api_key!r}, "
            f"max_repairs={self.max_repairs}, syntax={self.syntax!r}, timeout={self.timeout}, "
            f"deadline={self.deadline}, tokenizer={self.tokenizer!r})"
        )

    __str__ = __repr__

    def redact(self, text: str) -> str:
        """``text`` without this config's key (see :func:`redact`)."""
        return redact(text, self.api_key)

    @classmethod
    def resolve(
        cls,
        settings: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        problems: list[str] | None = None,
        **overrides: Any,
    ) -> "LLMConfig":
        """Settings (the client's ``gap`` section) over environment over defaults; keyword
        ``overrides`` (e.g. from CLI flags; None values ignored) win over both.

        Invalid values (a non-integer ``maxRepairs``, an unknown ``editSyntax``, a negative
        ``deadline``…) fall back to the default rather than failing; when ``problems`` is a
        list, one line per such value is appended to it, naming the setting or environment
        variable, the value and the default used (see :func:`env_problems`).
        """
        env = os.environ if env is None else env

        def pick(setting: str, *env_names: str) -> Any:
            v = _get(settings, setting)
            if v not in (None, ""):
                return v
            for n in env_names:
                if env.get(n):
                    return env[n]
            return None

        kw: dict[str, Any] = {}
        if (v := pick("llm.baseUrl", "GAP_LLM_BASE_URL", "OPENAI_BASE_URL")) is not None:
            kw["base_url"] = str(v).rstrip("/")
        if (v := pick("llm.model", "GAP_LLM_MODEL")) is not None:
            kw["model"] = str(v)
        key = pick("llm.apiKey", "GAP_LLM_API_KEY", "OPENAI_API_KEY")
        kw["api_key"] = key if isinstance(key, Secret) else Secret(str(key) if key is not None else None)
        for setting, (env_name, field, check) in _CHECKED.items():
            v = _get(settings, setting)
            if v in (None, ""):
                v = env.get(env_name) or None
            if v is None or overrides.get(field) is not None:
                continue
            try:
                kw[field] = check(v)
            except ValueError as exc:
                if problems is not None:
                    source = env_name if _get(settings, setting) in (None, "") else f"gap.{setting}"
                    problems.append(f"{source}={v!r}: {exc}; using {attrs.fields_dict(cls)[field].default!r}")
        if (v := pick("tokenizer", "GAP_TOKENIZER")) is not None:
            kw["tokenizer"] = str(v)
        for k, v in overrides.items():
            if v is None:
                continue
            if k == "api_key" and not isinstance(v, Secret):
                v = Secret(v)
            kw[k] = v
        return cls(**kw)
