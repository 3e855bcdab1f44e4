"""The preview's token_source over the fake server, and the ``gap-ls edit`` terminal path."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest

from gap_ls.llm.client import LLMError
from gap_ls.llm.stream import make_token_source
from tests.fakes import recordings as R
from tests.fakes.fake_openai import Reply

from .conftest import API_KEY, ROOT


async def test_token_source_streams_deltas(fake, config):
    fake.script(Reply("Hello, streaming world! " * 3))
    src = make_token_source(config)
    got = [d async for d in src("say hello", "tiny-model", 64)]
    assert "".join(got) == "Hello, streaming world! " * 3 and len(got) > 5
    body = fake.requests[-1]["body"]
    assert body["model"] == "tiny-model" and body["max_tokens"] == 64 and body["messages"][-1]["content"] == "say hello"


async def test_token_source_aclose_stops_generation_upstream(fake, config):
    fake.script(Reply("token " * 500, latency=0.01))
    gen = make_token_source(config)("long", None, None)
    n = 0
    async for _ in gen:
        n += 1
        if n == 5:
            break
    await gen.aclose()
    for _ in range(100):
        if fake.disconnects:
            break
        await asyncio.sleep(0.02)
    assert fake.disconnects == 1 and fake.completed == 0


async def test_token_source_errors_are_clear_and_key_free(fake, config):
    fake.script(Reply(fault="auth"))
    with pytest.raises(LLMError) as ei:
        async for _ in make_token_source(config)("x", None, None):
            pass
    assert ei.value.kind == "auth" and API_KEY not in str(ei.value) and "sk-" not in str(ei.value)


async def test_token_source_mid_stream_drop(fake, config):
    fake.script(Reply("a b c d e f g h i j k", fault="drop"))
    got = []
    with pytest.raises(LLMError) as ei:
        async for d in make_token_source(config)("x", None, None):
            got.append(d)
    assert ei.value.kind == "connection" and got


def _cli(fake, *args, env_extra=None, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAP_", "OPENAI_"))}
    env.update({"GAP_LLM_BASE_URL": fake.base_url, "GAP_LLM_MODEL": "fake-gap-model", "GAP_LLM_API_KEY": API_KEY, "PYTHONPATH": str(ROOT)})
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "gap_ls", "edit", *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=str(ROOT))


def test_cli_edits_in_place_and_prints_the_accounting(fake, tmp_path):
    f = tmp_path / "dashboard.html"
    f.write_text(R.DASHBOARD, "utf-8")
    r = _cli(fake, str(f), "-m", R.REVENUE_INSTRUCTION)
    assert r.returncode == 0, r.stderr
    assert "$15,720" in f.read_text("utf-8") and "+6.0%" in f.read_text("utf-8")
    assert "edited" in r.stdout and "output tokens vs" in r.stdout and "saved" in r.stdout
    assert "tokens" in r.stderr  # progress
    assert API_KEY not in r.stdout + r.stderr


def test_cli_json_output_and_dry_run(fake, tmp_path):
    f = tmp_path / "dashboard.html"
    f.write_text(R.DASHBOARD, "utf-8")
    r = _cli(fake, str(f), "-m", R.ORDERS_INSTRUCTION, "--dry-run", "--json", "-q")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["applied"] is False and data["accounting"]["attempts"] == 1
    assert f.read_text("utf-8") == R.DASHBOARD


def test_cli_failure_leaves_the_file_unchanged(fake, tmp_path):
    f = tmp_path / "dashboard.html"
    f.write_text(R.DASHBOARD, "utf-8")
    fake.script(*[Reply(fault="rate_limit", retry_after=300)] * 2)
    r = _cli(fake, str(f), "-m", R.ORDERS_INSTRUCTION)
    assert r.returncode == 1
    assert "rate_limited" in r.stderr and "unchanged" in r.stderr
    assert f.read_text("utf-8") == R.DASHBOARD
    assert API_KEY not in r.stdout + r.stderr


def test_cli_new_file_from_instruction(fake, tmp_path):
    f = tmp_path / "status.html"
    r = _cli(fake, str(f), "--new", "-m", R.SYNTH_INSTRUCTION)
    assert r.returncode == 0, r.stderr
    assert f.read_text("utf-8") == R.SYNTH_HTML and "4 targets" in r.stdout


def test_cli_usage_errors(fake, tmp_path):
    assert _cli(fake, str(tmp_path / "missing.html"), "-m", "x").returncode == 2
    assert _cli(fake, str(tmp_path / "x.html")).returncode == 2


def test_cli_deadline_stops_a_trickling_model_and_leaves_the_file(fake, tmp_path):
    f = tmp_path / "dashboard.html"
    f.write_text(R.DASHBOARD, "utf-8")
    fake.script(Reply("tok " * 50_000, chunk_size=4, latency=0.2))  # a token each 0.2 s, for hours
    t0 = time.monotonic()
    r = _cli(fake, str(f), "-m", R.ORDERS_INSTRUCTION, "--deadline", "1", "-q", timeout=30)
    assert r.returncode == 1, r.stderr
    assert time.monotonic() - t0 < 15  # process start-up included; without --deadline: hours
    assert "deadline" in r.stderr and "1 s" in r.stderr and "unchanged" in r.stderr
    assert f.read_text("utf-8") == R.DASHBOARD
    assert API_KEY not in r.stdout + r.stderr
    bad = _cli(fake, str(f), "-m", "x", "--deadline", "-1")
    assert bad.returncode == 2 and "deadline" in bad.stderr


def test_cli_deadline_from_the_environment(fake, tmp_path):
    f = tmp_path / "dashboard.html"
    f.write_text(R.DASHBOARD, "utf-8")
    fake.script(Reply("tok " * 50_000, chunk_size=4, latency=0.2))
    r = _cli(fake, str(f), "-m", R.ORDERS_INSTRUCTION, "-q", "--json", env_extra={"GAP_LLM_DEADLINE": "0.8"}, timeout=30)
    assert r.returncode == 1, r.stderr
    data = json.loads(r.stdout)
    assert data["code"] == "deadline" and "0.8 s" in data["message"] and data["applied"] is False
    assert f.read_text("utf-8") == R.DASHBOARD


def test_cli_names_an_invalid_environment_value_and_goes_on_with_the_default(fake, tmp_path):
    f = tmp_path / "dashboard.html"
    f.write_text(R.DASHBOARD, "utf-8")
    r = _cli(fake, str(f), "-m", R.REVENUE_INSTRUCTION, "-q", env_extra={"GAP_LLM_DEADLINE": "soon", "GAP_LLM_MAX_REPAIRS": "many"})
    assert r.returncode == 0, r.stderr
    assert "warning: GAP_LLM_DEADLINE='soon': expected seconds from 0 to 86400; using 300.0" in r.stderr
    assert "warning: GAP_LLM_MAX_REPAIRS='many'" in r.stderr
    assert "$15,720" in f.read_text("utf-8")
    assert API_KEY not in r.stdout + r.stderr
