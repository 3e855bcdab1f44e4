"""The ``gap`` command: apply envelopes to files, list targets, strip markers, validate, replay.

::

    gap apply FILE ENVELOPE [--format MIME] [--lenient] [--in-place] [--strict-markers] [--json]
    gap targets FILE [--json]
    gap paths FILE [--format MIME] [--leaves]
    gap strip FILE
    gap validate ENVELOPE [--lenient]
    gap replay DIR [--json]

``FILE``/``ENVELOPE`` may be ``-`` for standard input. Exit status: 0 success, 1 the engine
refused (a JSON error ``{"code", "message"}`` on stderr, nothing written), 2 usage or I/O
errors. ``replay`` exits 1 when any turn disagrees with the recording. Offsets in ``--json``
output (splices, target spans) are code-point indexes into the text, not bytes or UTF-16 units.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from .apply import apply_with_splices
from .errors import GapError
from .ingest import ingest
from .markers import scan, strip
from .model import Artifact, parse_envelope
from .replay import format_for_path
from .store import check_resolved

__all__ = ["main"]


class _UsageError(Exception):
    pass


def _read(path: str) -> str:
    if path == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise _UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _UsageError(f"{path} is not UTF-8 text ({exc})") from None


def _write_stdout(text: str) -> None:
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.flush()


def _fail(err: GapError) -> int:
    sys.stderr.write(json.dumps(err.to_dict(), ensure_ascii=False) + "\n")
    return 1


def _line_of(body: str, offset: int) -> int:
    return body.count("\n", 0, offset) + 1


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8, newlines as given) next to ``path``, then rename it over ``path``,
    keeping the file's mode: a reader never sees a half-written file, and on any error the old
    file is left as it was. A symbolic link is followed: the file it points to is rewritten and
    the link stays a link. Raises ``OSError`` as the file system does."""
    path = Path(os.path.realpath(path))
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:  # a new file: what open() would give it
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".gap-tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8"))
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# -- commands ------------------------------------------------------------------------------------


def _is_synthesize(env_text: str, lenient: bool) -> bool:
    try:
        return parse_envelope(env_text, lenient=lenient).name == "synthesize"
    except GapError:
        return False  # reported once FILE is read


def cmd_apply(args) -> int:
    """``gap apply``: apply ENVELOPE to FILE; new body to stdout (or FILE with --in-place).
    A ``meta.checksum`` in the envelope must match the resolved body (GAP §3.1.1, §10), else
    the envelope is refused (``invalid_content``) and nothing is written; so is content that
    leaves a lone surrogate (a ``"\\ud800"`` escape), which has no UTF-8 form. A ``synthesize``
    envelope may name a FILE that does not exist yet (``--in-place`` creates it)."""
    if args.in_place and args.file == "-":
        raise _UsageError("--in-place needs a FILE, not standard input")
    if args.file == "-" and args.envelope == "-":
        raise _UsageError("FILE and ENVELOPE cannot both be standard input")
    env_text = _read(args.envelope)
    if args.file != "-" and not os.path.lexists(args.file) and _is_synthesize(env_text, args.lenient):
        body = ""  # a synthesize creates the artifact (GAP §4.1): FILE need not exist yet
    else:
        body = _read(args.file)
    # the artifact's format: --format, else the file's extension, else what the envelope says
    fmt = args.format or (format_for_path(args.file, "") if args.file != "-" else "")
    repairs: tuple[str, ...] = ()
    try:
        if args.lenient:
            if not fmt:
                declared = ingest(env_text)
                if not any(r.startswith("meta.format set to") for r in declared.repairs):
                    fmt = declared.envelope.format
            base = Artifact(Path(args.file).name if args.file != "-" else "stdin", 1, fmt or "text/plain", body)
            ing = ingest(env_text, artifact=base)
            env, repairs = ing.envelope, ing.repairs
            art = base
        else:
            env = parse_envelope(env_text)
            fmt = fmt or env.meta.get("format") or "text/plain"
            # a file has no stored version: address it as the version before the envelope's
            art = Artifact(env.id, env.version - 1 if env.name == "edit" else env.version, fmt, body)
        res = apply_with_splices(art, env, strict_markers=args.strict_markers)
        check_resolved(res.artifact.body, env)  # written as UTF-8; meta.checksum (GAP §10)
    except GapError as err:
        return _fail(err)
    for r in repairs:
        sys.stderr.write(f"gap: repaired: {r}\n")
    for w in res.warnings:
        sys.stderr.write(f"gap: warning: {w}\n")
    new = res.artifact.body
    if args.json:
        out = {
            "body": new,
            "splices": [{"start": s.start, "end": s.end, "text": s.text} for s in res.splices],
            "handle": res.handle.to_dict(),
            "repairs": list(repairs),
            "warnings": list(res.warnings),
        }
        if args.in_place:
            out.pop("body")
    if args.in_place:
        if new != body:
            try:
                write_atomic(Path(args.file), new)
            except OSError as exc:
                raise _UsageError(f"cannot write {args.file}: {exc.strerror or exc} (the file is unchanged)") from None
    else:
        if not args.json:
            _write_stdout(new)
    if args.json:
        _write_stdout(json.dumps(out, ensure_ascii=False) + "\n")
    return 0


def cmd_targets(args) -> int:
    """``gap targets``: the targets of FILE as an indented tree (or JSON with spans)."""
    body = _read(args.file)
    idx = scan(body)
    if args.json:
        out = {
            "targets": [
                {
                    **sp.info.to_dict(),
                    "parent": sp.parent,
                    "depth": sp.depth,
                    "start": sp.start,
                    "end": sp.end,
                    "content_start": sp.content_start,
                    "content_end": sp.content_end,
                    "line": _line_of(body, sp.start),
                }
                for sp in idx.spans()
            ],
            "problems": [
                {"kind": p.kind, "message": p.message, "start": p.start, "end": p.end, "id": p.id, "line": _line_of(body, p.start)}
                for p in idx.problems
            ],
        }
        _write_stdout(json.dumps(out, ensure_ascii=False, indent=2) + "\n")
        return 0
    lines = []
    for sp in idx.spans():
        extra = "".join(
            f" {k}={v!r}" for k, v in (("type", sp.info.type), ("label", sp.info.label), ("accepts", sp.info.accepts)) if v is not None
        )
        lines.append(f"{'  ' * sp.depth}{sp.id}{extra}  (line {_line_of(body, sp.start)})")
    for p in idx.problems:
        lines.append(f"! {p.kind}: {p.message} (line {_line_of(body, p.start)})")
    if not lines:
        lines.append("(no targets)")
    _write_stdout("\n".join(lines) + "\n")
    return 0


def cmd_paths(args) -> int:
    """``gap paths``: the JSON Pointers of a JSON/YAML FILE (GAP §5.1 inventory)."""
    from .pointer import list_paths

    body = _read(args.file)
    fmt = args.format or format_for_path(args.file, "application/json")
    try:
        paths = list_paths(body, fmt, leaves_only=args.leaves)
    except GapError as err:
        return _fail(err)
    _write_stdout("".join(p + "\n" for p in paths))
    return 0


def cmd_strip(args) -> int:
    """``gap strip``: FILE with every marker removed."""
    _write_stdout(strip(_read(args.file)))
    return 0


def cmd_validate(args) -> int:
    """``gap validate``: check ENVELOPE against the schema (exit 1 with the error)."""
    text = _read(args.envelope)
    try:
        if args.lenient:
            ing = ingest(text)
            env = ing.envelope
            for r in ing.repairs:
                sys.stderr.write(f"gap: repaired: {r}\n")
        else:
            env = parse_envelope(text)
    except GapError as err:
        return _fail(err)
    n = len(env.content)
    what = "operation" if env.name == "edit" else "item"
    _write_stdout(f"ok: {env.name} envelope for {env.id!r} version {env.version} ({n} {what}{'s' if n != 1 else ''}, {env.format})\n")
    return 0


def cmd_replay(args) -> int:
    """``gap replay``: replay recorded runs under DIR; exit 1 on any disagreement."""
    from .replay import load_experiments, replay_experiment

    root = Path(args.dir)
    if not root.is_dir():
        raise _UsageError(f"{root} is not a directory")
    try:
        exps = load_experiments(root)
    except (OSError, ValueError) as exc:
        raise _UsageError(f"cannot read the recordings: {exc}") from None
    if not exps:
        raise _UsageError(f"no recorded experiments under {root} (expected */outputs/gap/turn-0.*)")
    rows = []
    for exp in exps:
        for res, _art in replay_experiment(exp):
            rows.append(res)
    agree = sum(r.agrees for r in rows)
    applied = sum(r.status == "applied" for r in rows)
    rejected = sum(r.status == "rejected" for r in rows)
    mismatched = sum(r.status == "mismatch" for r in rows)
    if args.json:
        out = {
            "turns": [
                {
                    "experiment": r.experiment,
                    "turn": r.turn,
                    "status": r.status,
                    "agrees": r.agrees,
                    "error": r.error.to_dict() if r.error else None,
                    "repairs": list(r.repairs),
                    "microseconds": round(r.seconds * 1e6, 1),
                }
                for r in rows
            ],
            "total": len(rows),
            "agree": agree,
            "applied": applied,
            "rejected": rejected,
            "mismatch": mismatched,
        }
        _write_stdout(json.dumps(out, ensure_ascii=False, indent=2) + "\n")
    else:
        w = max([len(r.experiment) for r in rows] + [10])
        lines = [f"{'experiment':<{w}}  turn  {'status':<8}  agrees  {'µs':>8}  detail"]
        for r in rows:
            detail = f"{r.error.code}: {r.error.message}" if r.error else (f"{len(r.repairs)} repairs" if r.repairs else "")
            if len(detail) > 100:
                detail = detail[:97] + "..."
            lines.append(
                f"{r.experiment:<{w}}  {r.turn:>4}  {r.status:<8}  {'yes' if r.agrees else 'NO':<6}  {r.seconds * 1e6:>8.0f}  {detail}"
            )
        lines.append(
            f"total: {len(rows)} turns in {len(exps)} experiments — {agree}/{len(rows)} agree "
            f"({applied} applied, {rejected} rejected, {mismatched} mismatched)"
        )
        _write_stdout("\n".join(lines) + "\n")
    return 0 if agree == len(rows) else 1


def build_parser() -> argparse.ArgumentParser:
    """The ``gap`` argument parser (sub-commands apply, targets, paths, strip, validate, replay)."""
    p = argparse.ArgumentParser(prog="gap", description="Apply and inspect Generative Artifact Protocol (GAP 0.1) envelopes.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    a = sub.add_parser("apply", help="apply an envelope to a file; the new body goes to stdout")
    a.add_argument("file", metavar="FILE", help="the artifact file ('-' for stdin)")
    a.add_argument("envelope", metavar="ENVELOPE", help="the envelope JSON file ('-' for stdin)")
    a.add_argument(
        "--format", metavar="MIME", help="the artifact's MIME type (default: from the file extension, else the envelope's meta.format)"
    )
    a.add_argument("--lenient", action="store_true", help="accept raw model output and repair it (repairs go to stderr)")
    a.add_argument("--in-place", action="store_true", help="rewrite FILE instead of printing the new body")
    a.add_argument(
        "--strict-markers",
        action="store_true",
        help="refuse content that leaves malformed markers (unclosed, duplicate id…) instead of applying it with a warning",
    )
    a.add_argument(
        "--json", action="store_true", help="print {body, splices, handle, repairs, warnings} as JSON (splice offsets in code points)"
    )
    a.set_defaults(func=cmd_apply)

    t = sub.add_parser("targets", help="list the targets of a file as a tree")
    t.add_argument("file", metavar="FILE")
    t.add_argument("--json", action="store_true", help="spans (code-point offsets), nesting and marker problems as JSON")
    t.set_defaults(func=cmd_targets)

    pa = sub.add_parser("paths", help="list the JSON Pointers of a JSON/YAML file (the pointer inventory)")
    pa.add_argument("file", metavar="FILE")
    pa.add_argument("--format", metavar="MIME")
    pa.add_argument("--leaves", action="store_true", help="only scalars and empty collections")
    pa.set_defaults(func=cmd_paths)

    s = sub.add_parser("strip", help="print a file with every target marker removed")
    s.add_argument("file", metavar="FILE")
    s.set_defaults(func=cmd_strip)

    v = sub.add_parser("validate", help="check an envelope against the schema")
    v.add_argument("envelope", metavar="ENVELOPE")
    v.add_argument("--lenient", action="store_true", help="repair model output first and list the repairs")
    v.set_defaults(func=cmd_validate)

    r = sub.add_parser("replay", help="replay recorded runs (DIR/*/outputs/gap/turn-N.*) and compare")
    r.add_argument("dir", metavar="DIR")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_replay)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gap`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except _UsageError as exc:
        sys.stderr.write(f"gap: {exc}\n")
        return 2
    except BrokenPipeError:  # pragma: no cover - e.g. `gap strip big | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
