"""Token counters: the documented estimate and offline ``tokenizers`` counters."""

from __future__ import annotations

import sys

import pytest

from gap_engine import estimate_tokens
from gap_engine import tokens as T


def test_estimate_is_chars_over_four():
    assert estimate_tokens("") == 0 and estimate_tokens("abcd") == 1 and estimate_tokens("abcde") == 2


@pytest.fixture(scope="module")
def tokenizer_file(tmp_path_factory):
    tk = pytest.importorskip("tokenizers")
    from tokenizers import models, pre_tokenizers

    vocab = {"[UNK]": 0, "hello": 1, "world": 2, "<": 3, ">": 4}
    tok = tk.Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    tok.save(str(path))
    return path


def test_tokenizer_counter_from_path_and_dir(tokenizer_file):
    c = T.TokenizerCounter(tokenizer_file)
    assert c("hello world hello") == 3 and c("") == 0 and c.label.startswith("tokenizer ")
    assert T.TokenizerCounter(tokenizer_file.parent)("hello") == 1


def test_tokenizer_from_local_hf_cache_only(tokenizer_file, tmp_path, monkeypatch):
    snap = tmp_path / "hub" / "models--acme--tiny" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "tokenizer.json").write_bytes(tokenizer_file.read_bytes())
    (tmp_path / "hub" / "models--acme--tiny" / "refs").mkdir()
    (tmp_path / "hub" / "models--acme--tiny" / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert T.find_cached_tokenizer("acme/tiny") == snap / "tokenizer.json"
    assert T.TokenizerCounter("acme/tiny")("hello world") == 2
    with pytest.raises(T.TokenizerUnavailable) as ei:
        T.TokenizerCounter("acme/absent")
    assert "local Hugging Face cache" in str(ei.value) and "downloaded" in str(ei.value)


def test_missing_file_and_counter_or_estimate(tokenizer_file, monkeypatch, tmp_path):
    with pytest.raises(T.TokenizerUnavailable):
        T.TokenizerCounter(tmp_path / "nope" / "tokenizer.json")
    monkeypatch.delenv("GAP_TOKENIZER", raising=False)
    c, label, problem = T.counter_or_estimate()
    assert c is estimate_tokens and label == T.ESTIMATE_LABEL and problem is None
    c, label, problem = T.counter_or_estimate(str(tmp_path / "missing.json"))
    assert c is estimate_tokens and "does not exist" in problem
    monkeypatch.setenv("GAP_TOKENIZER", str(tokenizer_file))
    c, label, problem = T.counter_or_estimate()
    assert problem is None and c("hello") == 1


def test_tokenizers_is_optional(monkeypatch, tokenizer_file):
    T._load.cache_clear()
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # import fails
    with pytest.raises(T.TokenizerUnavailable) as ei:
        T.TokenizerCounter(tokenizer_file)
    assert "gap-engine[tokenizers]" in str(ei.value)
    T._load.cache_clear()


def test_engine_import_does_not_import_tokenizers():
    import subprocess

    code = "import sys, gap_engine, gap_engine.tokens; print('tokenizers' in sys.modules, 'tree_sitter' in sys.modules, 'jsonschema' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout.split()
    assert out[:2] == ["False", "False"]


@pytest.mark.parametrize("spec", ["~no-such-user-gap-test/tokenizer.json", "x" * 5000, "org/" + "y" * 5000])
def test_a_setting_the_file_system_cannot_even_look_up_falls_back_to_the_estimate(spec):
    # a home directory that does not exist, a name too long for the file system: the same
    # fallback as a missing file (counter_or_estimate never raises), and TokenizerUnavailable
    counter, label, problem = T.counter_or_estimate(spec)
    assert counter is estimate_tokens and label == T.ESTIMATE_LABEL and problem
    with pytest.raises(T.TokenizerUnavailable):
        T.load_tokenizer(spec)
