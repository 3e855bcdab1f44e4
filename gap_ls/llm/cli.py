"""``gap-ls edit FILE -m "instruction"`` — the terminal path for scripts and agents.

Streams the model's answer (progress on stderr), validates it, repairs or falls back as the
editor path does, then writes the file in place (atomically) and prints the accounting on
stdout. On any failure the file is left byte for byte as it was and the exit status says why.

    gap-ls edit page.html -m "Set the revenue to $15,720"
    gap-ls edit page.html -m "…" --target revenue-value --syntax json --json
    gap-ls edit new.html --new -m "A status page with a title and a status line"

Exit status: 0 applied (or, with ``--dry-run``, validated), 1 the edit failed (document
unchanged), 2 usage or configuration error, 130 interrupted.

The model comes from ``--base-url``/``--model`` or the environment (``GAP_LLM_BASE_URL``,
``GAP_LLM_MODEL``); ``--timeout`` (per read, ``GAP_LLM_TIMEOUT``) and ``--deadline`` (the whole
edit, ``GAP_LLM_DEADLINE``, default 300 s, 0: none) bound how long it may take; the key only
from the environment (``GAP_LLM_API_KEY`` or ``OPENAI_API_KEY``), so it never shows in a
process list or shell history.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from gap_engine import Artifact
from gap_engine.cli import write_atomic
from gap_engine.replay import format_for_path

from .client import CancelToken
from .config import SYNTAXES, LLMConfig
from .pipeline import EditFailed, EditPipeline, Progress


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not v >= 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds ≥ 0 (0: no deadline), got {text!r}")
    return v


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gap-ls edit", description="Edit a file from an instruction through an OpenAI-compatible model (GAP).")
    p.add_argument("file", help="the artifact to edit (written in place)")
    p.add_argument("-m", "--message", required=True, help="the instruction")
    p.add_argument("--target", help="the target id the edit is about (also scopes the fallback)")
    p.add_argument("--syntax", choices=SYNTAXES, help="what the prompt asks for (default: gap.llm.editSyntax / blocks)")
    p.add_argument("--format", help="the artifact's MIME type (default: from the file extension)")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint (default: GAP_LLM_BASE_URL)")
    p.add_argument("--model", help="model name (default: GAP_LLM_MODEL)")
    p.add_argument("--max-repairs", type=int, help="repair prompts after a rejected answer (default 2)")
    p.add_argument("--timeout", type=float, help="seconds without progress before giving up (default 60)")
    p.add_argument("--deadline", type=_seconds, help="seconds the whole edit may take, repairs and fallback included (default: GAP_LLM_DEADLINE / 300; 0: none)")
    p.add_argument("--tokenizer", help="tokenizer.json path or cached hub name for the accounting (default: GAP_TOKENIZER)")
    p.add_argument("--no-fallback", action="store_true", help="fail instead of regenerating when repairs fail")
    p.add_argument("--dry-run", action="store_true", help="validate and report, do not write the file")
    p.add_argument("--new", action="store_true", help="create FILE from the instruction (init context, synthesize)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    return p


class _Progress:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet or not sys.stderr
        self.last = 0.0
        self.shown = False

    def __call__(self, p: Progress) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if now - self.last < 0.1 and p.tokens:
            return
        self.last = now
        sys.stderr.write(f"\rgap-ls edit: {p.phase} (attempt {p.attempt}) · {p.tokens} tokens · {p.elapsed:.1f} s   ")
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown and not self.quiet:
            sys.stderr.write("\n")
            sys.stderr.flush()


async def _run(args, cfg: LLMConfig) -> int:
    path = Path(args.file)
    fmt = args.format or format_for_path(path)
    pipe = EditPipeline(cfg)
    progress = _Progress(args.quiet)
    cancel = CancelToken()
    try:
        if args.new:
            out = await pipe.synthesize(args.message, fmt, artifact_id=path.name, cancel=cancel, on_progress=progress)
            progress.done()
            for w in out.warnings:
                print(f"gap-ls edit: warning: {w}", file=sys.stderr)
            if not args.dry_run:
                write_atomic(path, out.artifact.body)
            result = {"applied": not args.dry_run, "file": str(path), "targets": [t.id for t in out.artifact.targets], "warnings": list(out.warnings), "accounting": out.accounting.to_dict()}
            summary = f"{'created' if not args.dry_run else 'would create'} {path} ({len(out.artifact.targets)} targets): {out.accounting.output_tokens} output tokens [{out.accounting.counter}]"
        else:
            try:
                body = path.read_text("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                print(f"gap-ls edit: cannot read {path}: {exc}", file=sys.stderr)
                return 2
            art = Artifact(path.name, 1, fmt, body)
            out = await pipe.edit(art, args.message, target_id=args.target, syntax=args.syntax, cancel=cancel, on_progress=progress, fallback=not args.no_fallback)
            progress.done()
            # the file must not have changed under us while the model was thinking
            if path.read_text("utf-8") != body:
                print(f"gap-ls edit: {path} changed during the edit; nothing written", file=sys.stderr)
                return 1
            if not args.dry_run:
                write_atomic(path, out.artifact.body)
            result = {"applied": not args.dry_run, "file": str(path), **out.to_dict()}
            result["applied"] = not args.dry_run
            verb = "edited" if not args.dry_run else "validated (not written)"
            ops = len(out.envelope.content)
            summary = f"{verb} {path}: {ops} operation{'s' if ops != 1 else ''}{' (fallback: full regeneration)' if out.fallback else ''}; {out.accounting.summary()}"
    except EditFailed as err:
        progress.done()
        if args.json:
            print(json.dumps({"file": str(path), **err.to_dict()}, ensure_ascii=False))
        print(f"gap-ls edit: {err.code}: {cfg.redact(err.message)} — {path} unchanged", file=sys.stderr)
        return 1
    finally:
        await pipe.aclose()
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(summary)
    return 0


def main(argv: list[str]) -> int:
    """Entry point for ``gap-ls edit …`` (``argv`` excludes ``edit``); returns the exit status."""
    from .config import install_log_redaction

    install_log_redaction()
    p = _parser()
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else 2
    if not args.new and not Path(args.file).is_file():
        print(f"gap-ls edit: {args.file}: no such file (use --new to create one)", file=sys.stderr)
        return 2
    problems: list[str] = []
    cfg = LLMConfig.resolve(
        None,
        problems=problems,
        base_url=args.base_url.rstrip("/") if args.base_url else None,
        model=args.model,
        max_repairs=args.max_repairs,
        timeout=args.timeout,
        deadline=args.deadline,
        tokenizer=args.tokenizer,
    )
    for line in problems:  # invalid GAP_LLM_* values: said, then the default is used
        print(f"gap-ls edit: warning: {line}", file=sys.stderr)
    try:
        return asyncio.run(_run(args, cfg))
    except KeyboardInterrupt:
        print(f"\ngap-ls edit: interrupted — {args.file} unchanged", file=sys.stderr)
        return 130
