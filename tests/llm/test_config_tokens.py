"""Settings resolution, the key's hygiene, token counting (a locally trained tokenizer)."""

from __future__ import annotations

import pickle

import pytest

from gap_ls.llm.config import LLMConfig, Secret, redact
from gap_ls.llm.tokens import ESTIMATE_LABEL, find_tokenizer_file, make_counter

KEY = "sk-proj-Zx81nQ4f0a9b8c7d6e5f4a3b2c1d0e9f"


def test_settings_win_over_env_and_env_falls_back_to_openai_key():
    env = {"GAP_LLM_BASE_URL": "http://env/v1", "GAP_LLM_MODEL": "env-model", "OPENAI_API_KEY": KEY, "GAP_LLM_MAX_REPAIRS": "5"}
    cfg = LLMConfig.resolve({"llm": {"baseUrl": "http://settings/v1/", "maxRepairs": 1}}, env=env)
    assert cfg.base_url == "http://settings/v1" and cfg.model == "env-model" and cfg.max_repairs == 1
    assert cfg.api_key.reveal() == KEY
    cfg = LLMConfig.resolve({}, env={**env, "GAP_LLM_API_KEY": "sk-other-key-123456789"})
    assert cfg.api_key.reveal() == "sk-other-key-123456789" and cfg.max_repairs == 5
    assert LLMConfig.resolve({}, env={}).max_repairs == 2
    assert LLMConfig.resolve({"llm.maxRepairs": "x", "llm.editSyntax": "json"}, env={}).max_repairs == 2
    assert LLMConfig.resolve({"llm.editSyntax": "json"}, env={}).syntax == "json"


def test_key_never_in_repr_str_format_pickle():
    cfg = LLMConfig.resolve({"llm": {"apiKey": KEY}}, env={})
    for text in (repr(cfg), str(cfg), f"{cfg}", f"{cfg.api_key}", str(cfg.api_key), repr(cfg.api_key), str(pickle.dumps(cfg.api_key))):
        assert KEY not in text and "Zx81" not in text
    assert pickle.loads(pickle.dumps(cfg.api_key)).reveal() is None


def test_redact_scrubs_key_and_provider_echoes():
    s = Secret(KEY)
    text = f"Incorrect API key provided: sk-pro***********0e9f; raw {KEY}; header Bearer {KEY}; prefix {KEY[:10]}"
    out = redact(text, s)
    assert KEY not in out and "sk-pro" not in out and KEY[:8] not in out and "Bearer sk" not in out


def test_estimate_when_nothing_configured_or_not_available_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    c = make_counter(None)
    assert c.label == ESTIMATE_LABEL and not c.exact and c("abcdefgh") == 2
    c = make_counter("some-org/not-cached-anywhere")
    assert not c.exact and c.problem and "not-cached-anywhere" in c.problem


def _train_tiny_bpe(path):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["[UNK]"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    corpus = ["<div class=\"card\"><gap:target id=\"revenue\">$12,340</gap:target></div>"] * 50 + ["def list_users(db): return db.all()"] * 50
    tok.train_from_iterator(corpus, trainer)
    tok.save(str(path))
    return tokenizers


def test_real_tokenizer_from_a_local_file(tmp_path):
    path = tmp_path / "tokenizer.json"
    _train_tiny_bpe(path)
    c = make_counter(str(path))
    assert c.exact and c.label == f"tokenizer {path}"
    text = '<div class="card"><gap:target id="revenue">$12,340</gap:target></div>'
    n = c(text)
    assert 0 < n < len(text)
    assert c("") == 0


def test_cached_hub_name_is_found_without_network(tmp_path, monkeypatch):
    snap = tmp_path / "hub" / "models--acme--tiny" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    _train_tiny_bpe(snap / "tokenizer.json")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert find_tokenizer_file("acme/tiny") == snap / "tokenizer.json"
    c = make_counter("acme/tiny")
    assert c.exact and c.label == "tokenizer acme/tiny"


async def test_pipeline_accounting_uses_the_configured_tokenizer(tmp_path, fake):
    from gap_engine import Artifact
    from gap_ls.llm import EditPipeline
    from tests.fakes import recordings as R

    path = tmp_path / "tokenizer.json"
    _train_tiny_bpe(path)
    cfg = LLMConfig.resolve({"tokenizer": str(path)}, env={}, base_url=fake.base_url, api_key="k")
    pipe = EditPipeline(cfg)
    out = await pipe.edit(Artifact("d", 1, "text/html", R.DASHBOARD), R.ORDERS_INSTRUCTION)
    await pipe.aclose()
    assert out.accounting.counter == f"tokenizer {path}"
    assert out.accounting.full_tokens == pipe.counter(out.artifact.body)


def test_deadline_from_settings_env_and_overrides():
    assert LLMConfig.resolve({}, env={}).deadline == 300.0
    assert LLMConfig.resolve({}, env={"GAP_LLM_DEADLINE": "45"}).deadline == 45.0
    assert LLMConfig.resolve({"llm": {"deadline": 12.5}}, env={"GAP_LLM_DEADLINE": "45"}).deadline == 12.5
    assert LLMConfig.resolve({"llm.deadline": 0}, env={"GAP_LLM_DEADLINE": "45"}).deadline == 0.0  # 0: none
    assert LLMConfig.resolve({}, env={"GAP_LLM_DEADLINE": "0"}).deadline == 0.0
    for bad in ("soon", "-3", "nan", "inf"):
        assert LLMConfig.resolve({}, env={"GAP_LLM_DEADLINE": bad}).deadline == 300.0, bad
    assert LLMConfig.resolve({}, env={"GAP_LLM_DEADLINE": "45"}, deadline=2.0).deadline == 2.0
    cfg = LLMConfig.resolve({"llm": {"apiKey": KEY, "deadline": 9}}, env={})
    assert "deadline=9.0" in repr(cfg) and KEY not in repr(cfg)


def test_invalid_environment_values_are_named_and_fall_back_to_defaults():
    from gap_ls.llm.config import env_problems
    from gap_ls.settings import Settings

    env = {"GAP_LLM_DEADLINE": "abc", "GAP_LLM_TIMEOUT": "0", "GAP_LLM_MAX_REPAIRS": "-1",
           "GAP_LLM_EDIT_SYNTAX": "xml", "GAP_LLM_MAX_RETRY_WAIT": "nan", "GAP_PREVIEW_PORT": "http"}
    got = Settings.env_problems(env)
    assert len(got) == 6, got
    by_var = {line.split("=", 1)[0]: line for line in got}
    assert "'abc'" in by_var["GAP_LLM_DEADLINE"] and "using 300.0" in by_var["GAP_LLM_DEADLINE"]
    assert "using 60.0" in by_var["GAP_LLM_TIMEOUT"] and "using 2" in by_var["GAP_LLM_MAX_REPAIRS"]
    assert "'blocks' or 'json'" in by_var["GAP_LLM_EDIT_SYNTAX"] and "using 0" in by_var["GAP_PREVIEW_PORT"]
    cfg = LLMConfig.resolve({}, env=env)  # what is said is what is used
    assert (cfg.deadline, cfg.timeout, cfg.max_repairs, cfg.syntax, cfg.max_retry_wait) == (300.0, 60.0, 2, "blocks", 10.0)
    assert Settings.from_env(env).preview_port == 0
    good = {"GAP_LLM_DEADLINE": "0.8", "GAP_LLM_TIMEOUT": "0.5", "GAP_LLM_MAX_REPAIRS": " 3 ", "GAP_LLM_EDIT_SYNTAX": "json", "GAP_PREVIEW_PORT": "8123"}
    assert Settings.env_problems(good) == []
    cfg = LLMConfig.resolve({}, env=good)
    assert (cfg.deadline, cfg.timeout, cfg.max_repairs, cfg.syntax) == (0.8, 0.5, 3, "json")
    assert Settings.from_env(good).preview_port == 8123
    # a client setting hides the environment variable; a CLI override hides both
    assert env_problems({"GAP_LLM_DEADLINE": "abc"}) and LLMConfig.resolve({"llm": {"deadline": 5}}, env={"GAP_LLM_DEADLINE": "abc"}, problems=(p := [])).deadline == 5 and p == []
    LLMConfig.resolve({}, env={"GAP_LLM_DEADLINE": "abc"}, problems=(p := []), deadline=2.0)
    assert p == []
    LLMConfig.resolve({"llm": {"maxRepairs": 2.5}}, env={}, problems=(p := []))
    assert p == ["gap.llm.maxRepairs=2.5: expected a whole number from 0 to 10; using 2"]
    # the key is never checked, so never echoed
    assert env_problems({"GAP_LLM_API_KEY": KEY, "OPENAI_API_KEY": "x"}) == []
