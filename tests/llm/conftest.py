"""Fixtures for the LLM tests: a fake OpenAI-compatible server and a pipeline wired to it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.fake_openai import FakeOpenAI  # noqa: E402
from tests.fakes.recordings import RECORDINGS  # noqa: E402

API_KEY = "sk-test-7f3a9c2e4b1d8f6a0e5c3b2a1d9e8f7c"


@pytest.fixture
def fake():
    with FakeOpenAI(recordings=RECORDINGS) as f:
        yield f


@pytest.fixture
def config(fake):
    from gap_ls.llm.config import LLMConfig

    return LLMConfig.resolve({}, env={}, base_url=fake.base_url, model="fake-gap-model", api_key=API_KEY, timeout=5.0)


@pytest.fixture
async def pipeline(config):
    from gap_ls.llm.pipeline import EditPipeline

    p = EditPipeline(config)
    yield p
    await p.aclose()
