"""Benchmark of edits from an instruction (issue 6): what the model writes, what the pipeline costs.

Run:  .venv/bin/python bench/llm.py  [--evals DIR] [--tokenizer PATH_OR_CACHED_NAME …] [--repeat N]

Prints, measured in this one run (no asserts):

1. Output tokens per edit vs a full regeneration, over the recorded edit turns of
   ``../shared/gap-evals`` (real envelopes as models wrote them): per-edit ratio median and
   the aggregate saving, for the JSON envelope as written and for the same operations written
   as plain-text edit blocks (``gap_engine.editblocks``). Counted with every configured
   tokenizer and with the labelled estimate (characters / 4).
2. The pipeline's own overhead per edit, excluding the model: parse the answer (lenient) +
   validate by dry-run apply (strict markers) + apply again to the document as the server does
   (``gap_ls.edits.apply_envelope``: ingest + apply) + build the ``TextEdit`` s and the
   ``WorkspaceEdit`` + serialise it to JSON for the wire. Target ≤ 5 ms per edit.
3. The seed's tokenizer table (``../shared/seeds/000_*``): tokens, chars/token, tokenize ms,
   tokens/s on the largest recorded artifact, for the configured tokenizers vs fixed 30-char
   chunks. With no tokenizer configured (none can be downloaded here), a byte-level BPE is
   trained in-run on the recorded artifacts and labelled as such.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "engine"))
sys.path.insert(0, str(ROOT))

from gap_engine import Artifact, apply_with_splices, estimate_tokens, ingest  # noqa: E402
from gap_engine.editblocks import format_blocks  # noqa: E402
from gap_engine.replay import load_experiments  # noqa: E402

DEFAULT_EVALS = ROOT.parent / "shared" / "gap-evals"


def _pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def recorded_turns(evals: Path):
    """(experiment, turn, artifact before, envelope text, artifact after) for every recorded
    edit turn whose envelope the engine applies."""
    out = []
    for exp in load_experiments(evals):
        prev = exp.turn0
        for t in exp.turns:
            art = Artifact(exp.name, 1, exp.format, prev)
            try:
                env = ingest(t.envelope_text, artifact=art).envelope
                apply_with_splices(art, env)
            except Exception:  # noqa: BLE001 - the recorded misses
                prev = t.expected
                continue
            try:
                apply_with_splices(art, env, strict_markers=True)
                strict = True
            except Exception:  # noqa: BLE001 - leaves malformed markers: the pipeline would repair it
                strict = False
            out.append((exp.name, t.number, art, t.envelope_text, env, t.expected, strict))
            prev = t.expected
    return out


def counters(specs: list[str], evals_texts: list[str]):
    """[(label, count_fn)] for the configured tokenizers (or an in-run trained BPE) + estimate."""
    from gap_ls.llm.tokens import make_counter

    out = []
    for spec in specs:
        c = make_counter(spec)
        if c.exact:
            out.append((c.label, c.count))
        else:
            print(f"  (tokenizer {spec!r} not usable offline: {c.problem})")
    if not out:
        trained = train_local_bpe(evals_texts)
        if trained is not None:
            out.append(trained)
    from gap_ls.llm.tokens import ESTIMATE_LABEL

    out.append((ESTIMATE_LABEL, estimate_tokens))
    return out


def train_local_bpe(texts: list[str]):
    try:
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    except ImportError:
        return None
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=8000, special_tokens=["[UNK]"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    path = Path(tempfile.mkdtemp(prefix="gap-bench-")) / "tokenizer.json"
    tok.save(str(path))
    from gap_ls.llm.tokens import make_counter

    c = make_counter(str(path))
    return ("BPE 8k trained in-run on the recorded artifacts", c.count)


def section_tokens(turns, cnts) -> None:
    print("\n1. Output tokens per edit vs full regeneration (recorded real envelopes)")
    print(f"   {len(turns)} recorded edit turns that apply\n")
    print(f"   {'counter':48} {'answer':7} {'median edit/full':>16} {'p90':>7} {'aggregate saved':>16}")
    for label, fn in cnts:
        for kind in ("JSON", "blocks"):
            ratios, out_sum, full_sum = [], 0, 0
            for _, _, _, text, env, expected, _ in turns:
                answer = text if kind == "JSON" else format_blocks(env, header=False)
                o, f = fn(answer), fn(expected)
                ratios.append(o / f)
                out_sum += o
                full_sum += f
            print(
                f"   {label[:48]:48} {kind:7} {100 * statistics.median(ratios):15.1f}% {100 * _pct(ratios, 0.9):6.1f}% "
                f"{100 * (1 - out_sum / full_sum):15.1f}%  ({out_sum:,} vs {full_sum:,} tokens)"
            )


class _Caps:
    """Just enough of a pygls server for gap_ls.edits.workspace_edit (VS Code-like caps)."""

    def __init__(self):
        from lsprotocol import types

        self.client_capabilities = types.ClientCapabilities(
            workspace=types.WorkspaceClientCapabilities(
                workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=True, change_annotation_support=types.ChangeAnnotationsSupportOptions(groups_on_label=True))
            )
        )
        self.settings = SimpleNamespace(strict_markers=True, confirm_edits=True)


def section_overhead(turns, repeat: int) -> None:
    from lsprotocol import types
    from pygls.protocol import default_converter

    from gap_ls.documents import Document
    from gap_ls.edits import text_edits, workspace_edit
    from gap_ls.llm.pipeline import parse_answer

    conv = default_converter()
    ls = _Caps()
    print("\n2. Pipeline overhead per edit, model excluded (parse + dry-run validate + apply + WorkspaceEdit + JSON)")
    rows = []
    ok = [t for t in turns if t[6]]
    print(f"   {len(ok)} recorded turns that pass strict-marker validation; median of {repeat} runs each\n")
    for name, n, art, text, env0, _, _ in ok:
        blocks = format_blocks(env0, header=False)
        doc = Document("file:///bench/" + name, 1, "", art.body)
        doc.artifact().index()
        for kind, answer in (("JSON", text), ("blocks", blocks)):
            times = []
            for _ in range(repeat):
                a = Artifact(art.id, art.version, art.format, art.body, index_=doc.index)
                gc.disable()
                t0 = time.perf_counter()
                env, _rep = parse_answer(answer, a)  # lenient parse of the model's answer
                apply_with_splices(a, env, strict_markers=True)  # validate (dry run)
                env2 = ingest(env.to_dict(), artifact=a).envelope  # the server re-reads it …
                res = apply_with_splices(a, env2, strict_markers=True)  # … and applies it to the document
                edits = text_edits(doc, res.splices)
                we = workspace_edit(ls, doc, edits, annotation=types.ChangeAnnotation(label="GAP", needs_confirmation=True))
                json.dumps(conv.unstructure(types.ApplyWorkspaceEditParams(edit=we, label="GAP")))
                dt = time.perf_counter() - t0
                gc.enable()
                times.append(dt)
            rows.append((kind, statistics.median(times) * 1000, len(art.body), name, n))
    for kind in ("JSON", "blocks"):
        ms = [r[1] for r in rows if r[0] == kind]
        worst = max((r for r in rows if r[0] == kind), key=lambda r: r[1])
        print(
            f"   {kind:7} median {statistics.median(ms):.3f} ms, p95 {_pct(ms, 0.95):.3f} ms, max {max(ms):.3f} ms "
            f"({worst[3]} turn {worst[4]}, {worst[2]:,} chars); target ≤ 5 ms: {'met' if max(ms) <= 5 else 'NOT met'}"
        )


def section_tokenizers(evals: Path, cnts) -> None:
    print("\n3. Tokenizer table (seed 000's benchmark) on the largest recorded artifact")
    biggest = max((p for p in evals.glob("*/outputs/gap/turn-*.*") if p.suffix != ".json"), key=lambda p: p.stat().st_size)
    text = biggest.read_text("utf-8")
    print(f"   {biggest.relative_to(evals)}: {len(text):,} chars\n")
    print(f"   {'Tokenizer':48} {'Tokens':>9} {'Avg ch/tok':>11} {'Tok ms':>8} {'Tokens/sec':>12}")
    print("   " + "─" * 92)

    def row(label, fn):
        fn(text)  # warm
        best = float("inf")
        n = 0
        for _ in range(5):
            t0 = time.perf_counter()
            n = fn(text)
            best = min(best, time.perf_counter() - t0)
        rate = n / best if best > 0 else float("inf")
        print(f"   {label[:48]:48} {n:9,} {len(text) / max(n, 1):11.1f} {best * 1000:8.2f} {rate / 1000:11,.0f}k")

    for label, fn in cnts:
        if fn is not estimate_tokens:
            row(label, fn)
    row("Fixed 30-char chunks", lambda s: len([s[i : i + 30] for i in range(0, len(s), 30)]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--evals", type=Path, default=DEFAULT_EVALS)
    ap.add_argument("--tokenizer", action="append", default=[], help="tokenizer.json path or cached hub name (repeatable); default GAP_TOKENIZER")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    specs = args.tokenizer or ([os.environ["GAP_TOKENIZER"]] if os.environ.get("GAP_TOKENIZER") else [])
    if not args.evals.is_dir():
        print(f"recorded runs not found at {args.evals}: nothing to measure (they are not shipped with the project)")
        return 0
    turns = recorded_turns(args.evals)
    texts = [p.read_text("utf-8") for p in args.evals.glob("*/outputs/gap/turn-0.*")]
    cnts = counters(specs, texts)
    section_tokens(turns, cnts)
    section_overhead(turns, args.repeat)
    section_tokenizers(args.evals, cnts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
