"""``gap-ls demo`` — the main job: a real LSP session applying real envelopes, live in a browser.

It starts ``gap-ls`` as a subprocess over stdio (exactly as an editor does), opens an
artifact, asks the server for the live preview URL (``gap.previewUrl``), prints it, and
applies envelopes one by one through ``gap.applyEnvelope``; the client side applies each
``workspace/applyEdit`` the way an editor does and sends ``didChange`` back, so the preview
page changes at each step.

- default: the project's example dashboard (``examples/dashboard/``) and its five edits;
- ``--evals DIR``: the recorded model runs (``../shared/gap-evals``): each experiment's turn-0
  artifact, then every ``turn-N.json`` envelope as the model wrote it, reporting per turn
  applied / rejected-and-why and whether the result matches the recording.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.client import LanguageClient

from .documents import Document

EXAMPLE_DIR = Path(__file__).resolve().parent.parent / "examples" / "dashboard"
LANG = {".html": "html", ".py": "python", ".js": "javascript", ".css": "css", ".rs": "rust", ".java": "java",
        ".rb": "ruby", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".md": "markdown", ".json": "json",
        ".txt": "plaintext", ".sh": "shellscript", ".sql": "sql"}


class Editor:
    """The demo's editor side: a mirror of each open document, applyEdit, didChange."""

    def __init__(self, client: LanguageClient, root: Path):
        self.client = client
        self.root = root
        self.docs: dict[str, Document] = {}
        self.diagnostics: dict[str, list] = {}

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def _apply(params: types.ApplyWorkspaceEditParams):
            changes: dict[str, list] = {}
            for dc in params.edit.document_changes or []:
                changes.setdefault(dc.text_document.uri, []).extend(dc.edits)
            for uri, edits in (params.edit.changes or {}).items():
                changes.setdefault(uri, []).extend(edits)
            for uri, edits in changes.items():
                doc = self.docs[uri]
                spans = sorted(((doc.offset_at(e.range.start), doc.offset_at(e.range.end), e.new_text) for e in edits), reverse=True)
                text = doc.text
                for s, e, t in spans:
                    text = text[:s] + t + text[e:]
                self.set_text(uri, text)
            return types.ApplyWorkspaceEditResult(applied=True)

        @client.feature(types.WINDOW_SHOW_MESSAGE)
        def _show(params: types.ShowMessageParams):
            pass  # the demo prints the command's error itself

        @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def _diagnostics(params: types.PublishDiagnosticsParams):
            self.diagnostics[params.uri] = params.diagnostics

        @client.feature(types.WORKSPACE_CONFIGURATION)
        def _config(params):
            return [None for _ in params.items]

    def open(self, path: Path, text: str) -> str:
        uri = path.as_uri()
        lang = LANG.get(path.suffix, "plaintext")
        self.docs[uri] = Document(uri, 1, lang, text)
        path.write_text(text, "utf-8")
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=uri, language_id=lang, version=1, text=text))
        )
        return uri

    def set_text(self, uri: str, text: str) -> None:
        doc = self.docs[uri]
        doc.replace_all(text)
        doc.version += 1
        path = Path(uri[len("file://"):])
        path.write_text(text, "utf-8")
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=doc.version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    async def apply(self, uri: str, envelope_text: str) -> tuple[bool, dict | str]:
        try:
            res = await self.client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="gap.applyEnvelope", arguments=[uri, envelope_text])
            )
            return True, res
        except JsonRpcException as exc:
            return False, exc.message

    async def symbols(self, uri: str) -> list:
        return await self.client.text_document_document_symbol_async(
            types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri))
        ) or []


def _count(symbols) -> int:
    return sum(1 + _count(getattr(s, "children", None) or []) for s in symbols)


async def _start(root: Path) -> tuple[LanguageClient, Editor]:
    client = LanguageClient("gap-ls-demo", "0.1")
    editor = Editor(client, root)
    await client.start_io(sys.executable, "-m", "gap_ls")
    caps = types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(
            apply_edit=True, workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=True)
        ),
        text_document=types.TextDocumentClientCapabilities(
            document_symbol=types.DocumentSymbolClientCapabilities(hierarchical_document_symbol_support=True)
        ),
    )
    await client.initialize_async(
        types.InitializeParams(capabilities=caps, root_uri=root.as_uri(),
                               workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)])
    )
    client.initialized(types.InitializedParams())
    return client, editor


async def _preview_url(editor: Editor, uri: str) -> str | None:
    try:
        return await editor.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="gap.previewUrl", arguments=[uri])
        )
    except JsonRpcException as exc:
        print(f"  (no preview: {exc.message})")
        return None


async def _stop(client: LanguageClient) -> None:
    try:
        await asyncio.wait_for(client.shutdown_async(None), 5)
        client.exit(None)
    except Exception:
        pass
    await client.stop()


def _say(step: str, ok: bool, res) -> None:
    if ok:
        # addressing the envelope to the open document (id, version) is expected, not a repair
        fixes = [r for r in res.get("repairs") or [] if not r.startswith(("id ", "version "))]
        extra = f"; repaired: {', '.join(fixes)}" if fixes else ""
        print(f"  ✓ {step}: applied → version {res['version']}, {len(res['targets'])} targets{extra}")
    else:
        print(f"  ✗ {step}: rejected, document unchanged — {res}")


async def run_example(args, root: Path) -> int:
    client, editor = await _start(root)
    try:
        src = EXAMPLE_DIR / "dashboard.html"
        uri = editor.open(root / "dashboard.html", src.read_text("utf-8"))
        syms = await editor.symbols(uri)
        print(f"Opened {root / 'dashboard.html'}: {_count(syms)} targets ({', '.join(s.name for s in syms)})")
        url = await _preview_url(editor, uri)
        if url:
            print(f"\nLive preview: {url}\n")
            if args.open:
                import webbrowser

                webbrowser.open(url)
        await asyncio.sleep(args.delay)
        steps = sorted(p for p in EXAMPLE_DIR.iterdir() if p.name[:2].isdigit())
        failures = 0
        for p in steps:
            before = editor.docs[uri].text
            ok, res = await editor.apply(uri, p.read_text("utf-8"))
            _say(p.name, ok, res)
            if not ok and editor.docs[uri].text != before:
                print("    !! the document changed although the envelope was rejected")
                failures += 1
            expected_ok = "hallucinated" not in p.name
            failures += ok != expected_ok
            await asyncio.sleep(args.delay)
        syms = await editor.symbols(uri)
        print(f"\nDone: {len(steps)} envelopes, {_count(syms)} targets now. The edited file is {root / 'dashboard.html'}.")
        await _hold(args, url)
        return 1 if failures else 0
    finally:
        await _stop(client)


async def run_evals(args, root: Path) -> int:
    from gap_engine.replay import load_experiments

    exps = load_experiments(args.evals)
    if not exps:
        print(f"no recorded experiments under {args.evals}")
        return 2
    client, editor = await _start(root)
    totals = {"applied": 0, "rejected": 0, "matches": 0, "turns": 0}
    try:
        first_url = None
        for exp in exps:
            if not exp.turns:
                print(f"\n{exp.name} ({exp.format}): no recorded envelopes (JSON artifacts record the result only) — skipped")
                continue
            ext = next((p.suffix for p in (exp.path / "outputs" / "gap").glob("turn-0.*")), ".txt")
            d = root / exp.name
            d.mkdir(parents=True, exist_ok=True)
            uri = editor.open(d / f"artifact{ext}", exp.turn0)
            url = await _preview_url(editor, uri)
            first_url = first_url or url
            print(f"\n{exp.name} ({exp.format}, {len(exp.turn0):,} chars)" + (f" — preview: {url}" if url else ""))
            for t in exp.turns:
                totals["turns"] += 1
                before = editor.docs[uri].text
                t0 = time.perf_counter()
                ok, res = await editor.apply(uri, t.envelope_text)
                ms = (time.perf_counter() - t0) * 1000
                after = editor.docs[uri].text
                if ok:
                    totals["applied"] += 1
                    match = after == t.expected
                    totals["matches"] += match
                    own = [r for r in res.get("repairs") or [] if "own marker" in r]
                    if match:
                        verdict = "matches the recording"
                    elif own:
                        verdict = f"repaired ({'; '.join(own)}); the recording kept that duplicated marker"
                    else:
                        verdict = "DIFFERS from the recording"
                    print(f"  turn {t.number}: applied in {ms:.1f} ms — {verdict}")
                else:
                    totals["rejected"] += 1
                    unchanged = after == before
                    rec_unchanged = t.expected == before
                    totals["matches"] += rec_unchanged
                    note = (
                        "the recording left it unchanged too"
                        if rec_unchanged
                        else "the recorded reference engine applied it and left malformed markers (gap.strictMarkers refuses that)"
                    )
                    print(f"  turn {t.number}: rejected ({res}); document {'unchanged' if unchanged else 'CHANGED'}; {note}")
                if editor.docs[uri].text != t.expected:
                    editor.set_text(uri, t.expected)  # continue from the recorded state
                await asyncio.sleep(args.delay)
        print(
            f"\nReplayed {totals['turns']} recorded turns through the language server: "
            f"{totals['applied']} applied, {totals['rejected']} rejected; "
            f"{totals['matches']}/{totals['turns']} agree with the recorded outcome."
        )
        await _hold(args, first_url)
        return 0
    finally:
        await _stop(client)


async def _hold(args, url) -> None:
    if args.hold > 0:
        print(f"(keeping the preview up for {args.hold:g} s)")
        await asyncio.sleep(args.hold)
    elif args.hold < 0 and sys.stdin.isatty() and url:
        print("Press Enter to stop the preview.")
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gap-ls demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--evals", metavar="DIR", help="replay the recorded runs in DIR (e.g. ../shared/gap-evals)")
    p.add_argument("--delay", type=float, default=None, help="seconds between steps (default 1.5, 0.2 with --evals)")
    p.add_argument("--hold", type=float, default=-1, help="seconds to keep the preview up at the end (default: until Enter when interactive)")
    p.add_argument("--open", action="store_true", help="open the preview in the default browser")
    p.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = p.parse_args(argv)
    if args.delay is None:
        args.delay = 0.2 if args.evals else 1.5
    if os.environ.get("CI"):
        args.delay = min(args.delay, 0.05)
    root = Path(tempfile.mkdtemp(prefix="gap-ls-demo-"))
    try:
        return asyncio.run(run_evals(args, root) if args.evals else run_example(args, root))
    except KeyboardInterrupt:
        return 130
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
