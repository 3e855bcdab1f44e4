"""LSP commands and code actions for edits from an instruction (pygls 2.x).

Commands (``workspace/executeCommand``):

- ``gap.editWithInstruction [uri, instruction, targetId?]`` — maintain context → validated
  envelope → ONE ``workspace/applyEdit`` (through :func:`gap_ls.edits.apply_envelope`).
  Returns ``{"applied": true, "version", "targets", "fallback", "attempts", "accounting"}``;
  a failure answers ``RequestFailed`` with ``data = {"code", "message", "attempts"}`` and
  leaves the document unchanged.
- ``gap.synthesize [uri?, instruction, format]`` — init context; the artifact streams into the
  buffer (batched ``workspace/applyEdit`` appends) and so into the live preview. Without a
  ``uri`` a new file is created in the workspace and shown. On failure the buffer is restored.
- ``gap.addTargetsWithModel [uri]`` — "Add targets with the model": the model marks up an
  unmarked file; accepted only if nothing but markers changed. (``gap.addTargets`` is the
  structural, model-free variant in :mod:`gap_ls.addtargets`.)
- ``gap.llmStats []`` — the session's running totals.

An argument of the wrong JSON type (a URI, format or target id that is not a string) is
refused before any model call or edit: ``RequestFailed`` with ``data.code = "invalid_params"``.

Each runs under work-done progress (LSP 3.17 §workDoneProgress: tokens received, elapsed;
cancellable — cancelling it, or ``$/cancelRequest`` for the command, stops the model stream) and under the overall deadline
``gap.llm.deadline`` (default 300 s: when it runs out the command fails with code
``deadline``, the stream is stopped and the document is left as it was), logs one accounting line
(``window/logMessage``), and puts it on the preview's status bar when the preview offers one.

Code actions: "Edit with instruction…" (``refactor.rewrite.gap.instruction``; the client
prompts for the instruction, see docs/llm.md — the action's command carries
``[uri, null, targetId]``) and "Add targets with the model"
(``refactor.rewrite.gap.addTargetsWithModel``, on a file without targets). They are added to the
server's code action hub (:func:`gap_ls.actions.add_provider`), or registered on their own
when the server has no hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from pathlib import Path
from typing import Any

from lsprotocol import types

from .client import CancelToken
from .config import LLMConfig
from .pipeline import EditFailed, EditPipeline, Progress, SessionStats, smallest_enclosing_target

log = logging.getLogger("gap_ls.llm")

KIND_INSTRUCTION = "refactor.rewrite.gap.instruction"
KIND_ADD_TARGETS = "refactor.rewrite.gap.addTargetsWithModel"
TITLE_INSTRUCTION = "Edit with instruction…"
TITLE_ADD_TARGETS = "Add targets with the model"
CMD_EDIT = "gap.editWithInstruction"
CMD_SYNTH = "gap.synthesize"
CMD_ADD_TARGETS = "gap.addTargetsWithModel"
CMD_STATS = "gap.llmStats"

_EXT = {
    "text/html": ".html",
    "application/json": ".json",
    "application/yaml": ".yaml",
    "text/x-yaml": ".yaml",
    "text/markdown": ".md",
    "text/css": ".css",
    "text/javascript": ".js",
    "text/x-python": ".py",
    "text/x-rust": ".rs",
    "application/toml": ".toml",
    "image/svg+xml": ".svg",
    "text/plain": ".txt",
}


class LLMState:
    """Per-server state: the session totals and a pipeline rebuilt when the config changes."""

    def __init__(self) -> None:
        self.session = SessionStats()
        self._pipeline: EditPipeline | None = None
        self._key: Any = None

    def config(self, ls) -> LLMConfig:
        s = getattr(ls, "settings", None)
        llm = {}
        section: dict[str, Any] = {"llm": llm}
        if s is not None:
            for attr, key in (("llm_base_url", "baseUrl"), ("llm_model", "model"), ("llm_api_key", "apiKey"), ("llm_max_repairs", "maxRepairs"), ("llm_edit_syntax", "editSyntax"), ("llm_timeout", "timeout"), ("llm_deadline", "deadline")):
                v = getattr(s, attr, None)
                if v is not None:
                    llm[key] = v
            if getattr(s, "tokenizer", None):
                section["tokenizer"] = s.tokenizer
        return LLMConfig.resolve(section)

    def pipeline(self, ls) -> EditPipeline:
        cfg = self.config(ls)
        key = (cfg.base_url, cfg.model, cfg.api_key, cfg.max_repairs, cfg.syntax, cfg.timeout, cfg.deadline, cfg.tokenizer)
        if self._pipeline is None or key != self._key:
            old = self._pipeline
            if old is not None:
                ls.spawn(old.aclose()) if hasattr(ls, "spawn") else None
            self._pipeline = EditPipeline(cfg, session=self.session)
            self._key = key
        return self._pipeline


def _state(ls) -> LLMState:
    st = getattr(ls, "gap_llm", None)
    if st is None:
        st = LLMState()
        ls.gap_llm = st
    return st


def _failed(message: str, data: dict):
    from gap_ls.edits import ApplyFailed

    return ApplyFailed(message, data)


def _check_type(command: str, name: str, value: Any, optional: bool = False) -> None:
    """Refuse an argument that is not a string (or null when ``optional``) before anything
    runs: ``RequestFailed`` with ``data.code = "invalid_params"``."""
    if isinstance(value, str) or (optional and value is None):
        return
    want = "a string or null" if optional else "a string"
    raise _failed(f"{command}: {name} must be {want}, got {type(value).__name__}", {"code": "invalid_params", "message": f"{name}: expected {want}"})


def _supports_progress(ls) -> bool:
    try:
        w = ls.client_capabilities.window
        return bool(w and w.work_done_progress)
    except Exception:  # noqa: BLE001
        return False


@contextlib.asynccontextmanager
async def work_progress(ls, title: str):
    """Work-done progress with cancel (LSP 3.17 §workDoneProgress). Yields
    ``(report(Progress), CancelToken)``; always sends ``end``."""
    token = f"gap-llm-{uuid.uuid4().hex[:12]}"
    enabled = _supports_progress(ls)
    if enabled:
        try:
            await ls.work_done_progress.create_async(token)
        except Exception as exc:  # noqa: BLE001
            log.info("window/workDoneProgress/create failed (%s); continuing without progress", exc)
            enabled = False

    # the workspace/executeCommand request running this command: $/cancelRequest cancels it
    command_request = getattr(getattr(ls, "protocol", None), "command_request", None)
    request = command_request() if command_request is not None else None

    def cancelled() -> bool:
        if request is not None and request.cancelled():  # $/cancelRequest
            return True
        fut = ls.work_done_progress.tokens.get(token) if enabled else None
        return bool(fut is not None and fut.cancelled())

    cancel = CancelToken(poll=cancelled)
    last = [0.0]

    def report(p: Progress) -> None:
        if not enabled:
            return
        now = time.monotonic()
        if now - last[0] < 0.1 and p.tokens:
            return
        last[0] = now
        ls.work_done_progress.report(token, types.WorkDoneProgressReport(message=f"{p.phase}: {p.tokens} tokens · {p.elapsed:.1f} s", cancellable=True))

    if enabled:
        ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, cancellable=True, message="waiting for the model…"))
    outcome = ["done"]
    try:
        yield report, cancel, outcome
    finally:
        if enabled:
            ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=outcome[0]))
            ls.work_done_progress.tokens.pop(token, None)


def _log(ls, message: str, kind=types.MessageType.Info) -> None:
    try:
        ls.window_log_message(types.LogMessageParams(type=kind, message=message))
    except Exception:  # noqa: BLE001
        pass
    log.info("%s", message)


def _status(ls, uri: str, text: str) -> None:
    """Put ``text`` on the preview's status bar when the preview supports one."""
    bridge = getattr(ls, "preview", None)
    server = getattr(bridge, "server", None)
    if server is None:
        return
    fn = getattr(server, "set_status", None) or getattr(server, "status", None)
    if not callable(fn):
        return
    try:
        from gap_ls.preview import doc_key

        fn(doc_key(uri), text)
    except Exception:  # noqa: BLE001
        log.debug("preview status update failed", exc_info=True)


class _PartialPreview:
    """Shows each edit-block operation in the live preview as soon as it is complete in the
    stream (the buffer itself changes only once, when the whole answer is valid). Operations
    that do not apply yet are skipped; :meth:`reset` republishes the document as it is."""

    def __init__(self, ls, doc, artifact) -> None:
        bridge = getattr(ls, "preview", None)
        self.server = getattr(bridge, "server", None) if getattr(bridge, "running", False) else None
        self.doc = doc
        self.artifact = artifact
        self.ops: list = []
        self.shown = False

    def __call__(self, op) -> None:
        if self.server is None:
            return
        if op is None:  # a repair answer starts
            if self.ops:
                self.ops = []
                self._publish(self.doc.text)
            return
        from gap_engine import Envelope, apply_with_splices
        from gap_engine.model import PROTOCOL

        self.ops.append(op)
        env = Envelope(PROTOCOL, self.artifact.id, self.artifact.version + 1, "edit", {"format": self.artifact.format}, tuple(self.ops))
        try:
            body = apply_with_splices(self.artifact, env).artifact.body
        except Exception:  # noqa: BLE001 - a hallucinated target: keep what was shown
            self.ops.pop()
            return
        self._publish(body)
        self.shown = True

    def _publish(self, text: str) -> None:
        try:
            from gap_ls.preview import doc_key

            self.server.publish(doc_key(self.doc.uri), uri=self.doc.uri, version=self.doc.version or 0, text=text, format=self.doc.format)
        except Exception:  # noqa: BLE001
            log.debug("partial preview publish failed", exc_info=True)

    def reset(self) -> None:
        if self.server is not None and self.shown:
            self._publish(self.doc.text)


def _notify_status(ls, payload: dict) -> None:
    """``gap/status`` notification (the VS Code client's status bar shows the session's
    savings from it)."""
    try:
        ls.protocol.notify("gap/status", payload)
    except Exception:  # noqa: BLE001
        log.debug("gap/status notification failed", exc_info=True)


def _document(ls, uri: str):
    from gap_ls.edits import resolve_document

    return resolve_document(ls, uri)


async def edit_with_instruction(ls, uri: str, instruction: str, target_id: str | None = None) -> dict:
    """``gap.editWithInstruction`` (see the module docstring)."""
    if not isinstance(uri, str) or not uri:
        raise _failed("gap.editWithInstruction: the first argument is the document URI", {"code": "invalid_params", "message": "missing uri"})
    if not isinstance(instruction, str) or not instruction.strip():
        raise _failed(
            "gap.editWithInstruction needs an instruction: this client did not prompt for one — pass it as the second argument",
            {"code": "invalid_params", "message": "missing instruction"},
        )
    doc = _document(ls, uri)
    artifact = doc.artifact()
    text0 = doc.text
    st = _state(ls)
    pipe = st.pipeline(ls)
    partial = _PartialPreview(ls, doc, artifact)
    async with work_progress(ls, "GAP: edit with instruction") as (report, cancel, outcome):
        try:
            out = await pipe.edit(artifact, instruction.strip(), target_id=target_id or None, cancel=cancel, on_progress=report, on_operation=partial if partial.server is not None else None)
        except EditFailed as err:
            partial.reset()
            outcome[0] = "cancelled" if err.code == "cancelled" else "failed"
            msg = f"GAP edit failed, document unchanged — {err.code}: {pipe.config.redact(err.message)}"
            if err.code != "cancelled":
                ls.show(msg, types.MessageType.Error)
            _log(ls, msg, types.MessageType.Warning)
            raise _failed(msg, {"code": err.code, "message": pipe.config.redact(err.message), "attempts": [a.to_dict() for a in err.attempts]}) from None
        outcome[0] = f"{out.accounting.output_tokens} tokens (saved {out.accounting.saved_pct:.0f} %)"
    from gap_ls.edits import apply_envelope

    if out.envelope.name == "synthesize" and doc.text != text0:
        msg = "GAP edit not applied: the document changed while the model was regenerating it"
        ls.show(msg, types.MessageType.Error)
        raise _failed(msg, {"code": "version_conflict", "message": msg})
    # ids are stable: the envelope is re-validated against the text as it is now
    try:
        res = await apply_envelope(ls, uri, out.envelope.to_dict(), lenient=True, label=f"GAP: {instruction.strip()[:60]}")
    except Exception:
        partial.reset()
        raise
    summary = out.accounting.summary()
    _log(ls, f"gap.editWithInstruction {uri}: {summary}")
    _status(ls, uri, summary)
    savings = {"tokens_saved": out.accounting.saved_tokens, "session_tokens_saved": out.accounting.session.get("saved_tokens", 0), "summary": summary}
    _notify_status(ls, savings)
    return {**res, **{k: v for k, v in out.to_dict().items() if k != "applied"}, **savings, "applied": True}


async def _wait_text(doc, want: str, timeout: float = 2.0) -> None:
    if doc.changed is None:
        return
    try:
        async with asyncio.timeout(timeout):
            while doc.text != want:
                doc.changed.clear()
                await doc.changed.wait()
    except TimeoutError:
        log.debug("no didChange for %s within %.1f s", doc.uri, timeout)


async def _set_range(ls, uri: str, start: int, end: int, text: str, label: str) -> bool:
    """Replace ``[start, end)`` of the open document by ``text`` with one applyEdit and wait
    for the client's didChange."""
    from gap_ls.edits import workspace_edit

    doc = ls.documents.get(uri)
    if doc is None:
        return False
    want = doc.text[:start] + text + doc.text[end:]
    edit = workspace_edit(ls, doc, [types.TextEdit(range=doc.range_at(start, end), new_text=text)])
    res = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=label))
    if not res.applied:
        return False
    await _wait_text(doc, want)
    return True


async def _new_file_uri(ls, fmt: str, instruction: str) -> str:
    root = None
    try:
        root = ls.workspace.root_path
    except Exception:  # noqa: BLE001
        root = None
    base = Path(root) if root else Path.cwd()
    slug = re.sub(r"[^a-z0-9]+", "-", instruction.lower())[:32].strip("-") or "artifact"
    ext = _EXT.get(fmt, ".txt")
    path = base / f"{slug}{ext}"
    n = 2
    while path.exists():
        path = base / f"{slug}-{n}{ext}"
        n += 1
    path.write_text("", "utf-8")
    return path.as_uri()


async def synthesize(ls, uri: str | None, instruction: str, fmt: str | None) -> dict:
    """``gap.synthesize`` (see the module docstring)."""
    if not isinstance(instruction, str) or not instruction.strip():
        raise _failed("gap.synthesize needs an instruction", {"code": "invalid_params", "message": "missing instruction"})
    st = _state(ls)
    pipe = st.pipeline(ls)
    created = False
    if not uri:
        fmt = fmt or "text/html"
        uri = await _new_file_uri(ls, fmt, instruction)
        created = True
        try:
            await ls.window_show_document_async(types.ShowDocumentParams(uri=uri, take_focus=True))
        except Exception as exc:  # noqa: BLE001
            log.info("window/showDocument failed: %s", exc)
        for _ in range(40):  # wait for the client to open it
            if uri in ls.documents:
                break
            await asyncio.sleep(0.05)
    doc = ls.documents.get(uri)
    fmt = fmt or (doc.format if doc is not None else "text/html")
    original = doc.text if doc is not None else None
    streamed = [""]
    pending: list[str] = []
    flush_lock = asyncio.Lock()
    last_flush = [0.0]

    async def flush(force: bool = False) -> None:
        if doc is None or not pending:
            return
        now = time.monotonic()
        if not force and now - last_flush[0] < 0.05:
            return
        async with flush_lock:
            if not pending:
                return
            chunk = "".join(pending)
            pending.clear()
            last_flush[0] = time.monotonic()
            end = len(doc.text)
            await _set_range(ls, uri, end, end, chunk, "GAP: synthesize")
            streamed[0] += chunk

    async def on_text(text: str) -> None:
        pending.append(text)
        await flush()

    async with work_progress(ls, "GAP: synthesize") as (report, cancel, outcome):
        if doc is not None and doc.text:
            await _set_range(ls, uri, 0, len(doc.text), "", "GAP: synthesize")
        try:
            out = await pipe.synthesize(instruction.strip(), fmt, artifact_id=Path(uri).name, cancel=cancel, on_progress=report, on_text=on_text)
            await flush(force=True)
        except EditFailed as err:
            outcome[0] = "cancelled" if err.code == "cancelled" else "failed"
            pending.clear()
            if doc is not None and original is not None:
                await _set_range(ls, uri, 0, len(doc.text), original, "GAP: synthesize (restore)")
            msg = f"GAP synthesize failed — {err.code}: {pipe.config.redact(err.message)}" + (" (buffer restored)" if doc is not None else "")
            if err.code != "cancelled":
                ls.show(msg, types.MessageType.Error)
            raise _failed(msg, {"code": err.code, "message": pipe.config.redact(err.message)}) from None
        outcome[0] = f"{out.accounting.output_tokens} tokens"
    body = out.artifact.body
    if doc is not None and doc.text != body:
        await _set_range(ls, uri, 0, len(doc.text), body, "GAP: synthesize")
    elif doc is None:
        from gap_ls.documents import uri_to_path

        p = uri_to_path(uri)
        if p is not None:
            p.write_text(body, "utf-8")
    for w in out.warnings:
        ls.show(f"GAP synthesize: {w}", types.MessageType.Warning)
    summary = f"synthesized {len(body)} chars, {len(out.artifact.targets)} targets, {out.accounting.output_tokens} output tokens [{out.accounting.counter}]"
    _log(ls, f"gap.synthesize {uri}: {summary}")
    _status(ls, uri, summary)
    return {
        "applied": True,
        "uri": uri,
        "created": created,
        "targets": [t.id for t in out.artifact.targets],
        "warnings": list(out.warnings),
        "accounting": out.accounting.to_dict(),
    }


async def add_targets(ls, uri: str) -> dict:
    """``gap.addTargetsWithModel`` (see the module docstring)."""
    doc = _document(ls, uri)
    artifact = doc.artifact()
    text0 = doc.text
    st = _state(ls)
    pipe = st.pipeline(ls)
    async with work_progress(ls, "GAP: add targets with the model") as (report, cancel, outcome):
        try:
            out = await pipe.add_targets(artifact, cancel=cancel, on_progress=report)
        except EditFailed as err:
            outcome[0] = "failed"
            msg = f"GAP add targets failed, document unchanged — {err.code}: {pipe.config.redact(err.message)}"
            if err.code != "cancelled":
                ls.show(msg, types.MessageType.Error)
            raise _failed(msg, {"code": err.code, "message": pipe.config.redact(err.message)}) from None
    if doc.text != text0:
        msg = "GAP add targets not applied: the document changed while the model was working"
        ls.show(msg, types.MessageType.Error)
        raise _failed(msg, {"code": "version_conflict", "message": msg})
    from gap_ls.edits import apply_envelope

    res = await apply_envelope(ls, uri, out.envelope.to_dict(), lenient=True, label="GAP: add targets")
    _log(ls, f"gap.addTargetsWithModel {uri}: {len(res.get('targets', []))} targets; {out.accounting.output_tokens} output tokens")
    return {**res, "attempts": [a.to_dict() for a in out.attempts], "accounting": out.accounting.to_dict()}


def _wanted(only, kind: str) -> bool:
    if not only:
        return True
    return any(kind == k or kind.startswith(k + ".") or k == "" for k in only)


def instruction_action(ls, doc, params, start: int, end: int) -> list[types.CodeAction]:
    """"Edit with instruction…", scoped to the innermost target around ``[start, end)``.

    The command's arguments are ``[uri, null, targetId]``: the client fills in the
    instruction (VS Code: an input box); a client without input runs the command itself with
    the instruction as the second argument."""
    if _is_envelope_file(doc.uri):
        return []
    tid = smallest_enclosing_target(doc.artifact(), start, end)
    title = TITLE_INSTRUCTION if tid is None else f"{TITLE_INSTRUCTION[:-1]} on “{tid}”…"
    return [types.CodeAction(title=title, kind=KIND_INSTRUCTION, command=types.Command(title=TITLE_INSTRUCTION, command=CMD_EDIT, arguments=[doc.uri, None, tid]))]


def add_targets_action(ls, doc, params, start: int, end: int) -> list[types.CodeAction]:
    """"Add targets with the model" on a text document that has no targets (not JSON)."""
    if doc.index.infos or "json" in doc.format or not doc.text.strip() or _is_envelope_file(doc.uri):
        return []
    return [types.CodeAction(title=TITLE_ADD_TARGETS, kind=KIND_ADD_TARGETS, command=types.Command(title=TITLE_ADD_TARGETS, command=CMD_ADD_TARGETS, arguments=[doc.uri]))]


def _is_envelope_file(uri: str) -> bool:
    try:
        from gap_ls.envelope_files import is_envelope_file
    except ImportError:
        return uri.endswith((".gap.json", ".gap.jsonl"))
    return is_envelope_file(uri)


def code_actions(ls, params: types.CodeActionParams) -> list[types.CodeAction]:
    """Both actions for a ``textDocument/codeAction`` request (honours ``context.only``)."""
    doc = ls.documents.get(params.text_document.uri)
    if doc is None:
        return []
    only = params.context.only if params.context else None
    s = doc.offset_at(params.range.start)
    e = doc.offset_at(params.range.end)
    s, e = min(s, e), max(s, e)
    out: list[types.CodeAction] = []
    if _wanted(only, KIND_INSTRUCTION):
        out += instruction_action(ls, doc, params, s, e)
    if _wanted(only, KIND_ADD_TARGETS):
        out += add_targets_action(ls, doc, params, s, e)
    return out


def _install_code_actions(ls) -> None:
    """Add the actions to the server's code action hub (``gap_ls.actions.add_provider``);
    without the hub, register a ``textDocument/codeAction`` handler of our own."""
    try:
        from gap_ls.actions import add_provider
    except ImportError:
        add_provider = None
    if add_provider is not None:
        import gap_ls.actions as hub

        present = {fn for _, fn in getattr(hub, "_PROVIDERS", ())}
        if instruction_action not in present:
            add_provider(KIND_INSTRUCTION, instruction_action)
        if add_targets_action not in present:
            add_provider(KIND_ADD_TARGETS, add_targets_action)
        return
    if types.TEXT_DOCUMENT_CODE_ACTION in ls.protocol.fm.features:
        log.warning("a textDocument/codeAction handler without the hub is registered; LLM code actions not offered")
        return

    @ls.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=[KIND_INSTRUCTION, KIND_ADD_TARGETS]))
    def _code_action(ls, params: types.CodeActionParams):
        return code_actions(ls, params) or None


def register(ls) -> None:
    """Register the commands and code actions of this module on ``ls`` (pygls 2.x), and make
    the process's logs key-free (:func:`gap_ls.llm.config.install_log_redaction`)."""
    from .config import install_log_redaction

    install_log_redaction()
    taken = set(ls.protocol.fm.commands)
    clash = taken & {CMD_EDIT, CMD_SYNTH, CMD_ADD_TARGETS, CMD_STATS}
    if clash:
        raise RuntimeError(f"gap_ls.llm.commands: commands already registered by another module: {sorted(clash)}")

    @ls.command(CMD_EDIT)
    async def _edit(ls, *args):
        """``gap.editWithInstruction [uri, instruction, targetId?]``."""
        if len(args) < 2 or len(args) > 3:
            raise _failed("gap.editWithInstruction takes [uri, instruction, targetId?]", {"code": "invalid_params", "message": f"got {len(args)} arguments"})
        if len(args) > 2:
            _check_type(CMD_EDIT, "targetId", args[2], optional=True)
        return await edit_with_instruction(ls, args[0], args[1], args[2] if len(args) > 2 else None)

    @ls.command(CMD_SYNTH)
    async def _synth(ls, *args):
        """``gap.synthesize [uri?, instruction, format]``."""
        if len(args) == 3:
            uri, instruction, fmt = args
        elif len(args) == 2:
            uri, (instruction, fmt) = None, args
        elif len(args) == 1:
            uri, instruction, fmt = None, args[0], None
        else:
            raise _failed("gap.synthesize takes [uri?, instruction, format]", {"code": "invalid_params", "message": f"got {len(args)} arguments"})
        _check_type(CMD_SYNTH, "uri", uri, optional=True)
        _check_type(CMD_SYNTH, "format", fmt, optional=True)
        return await synthesize(ls, uri, instruction, fmt)

    @ls.command(CMD_ADD_TARGETS)
    async def _add_targets(ls, *args):
        """``gap.addTargetsWithModel [uri]``."""
        if len(args) != 1:
            raise _failed("gap.addTargetsWithModel takes [uri]", {"code": "invalid_params", "message": f"got {len(args)} arguments"})
        _check_type(CMD_ADD_TARGETS, "uri", args[0])
        return await add_targets(ls, args[0])

    @ls.command(CMD_STATS)
    def _stats(ls, *args):
        """``gap.llmStats []`` → the session's running totals."""
        return _state(ls).session.to_dict()

    _install_code_actions(ls)
