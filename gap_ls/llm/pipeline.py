"""The edit pipeline: instruction → streamed answer → envelope → validated → ONE result.

``edit`` (GAP §7.1 maintain context, §5.1 pre-apply validation, §7.3 recovery):

1. stream the maintain context's answer (system prompt + artifact + closed inventory +
   instruction);
2. parse it leniently — plain-text edit blocks (:mod:`gap_engine.editblocks`) or a JSON
   envelope as models write it (:func:`gap_engine.ingest`) — addressed to the artifact;
3. validate by a dry-run apply (:func:`gap_engine.apply_with_splices`, strict markers);
4. on rejection, a repair prompt with the engine's error, at most ``max_repairs`` times;
5. then fall back to a full regeneration of the smallest enclosing target (or the whole
   artifact) and record the miss;
6. return one :class:`EditOutcome` (the dry-run result, ready to send as one editor edit) or
   raise one :class:`EditFailed` — nothing is ever applied here, so a failure leaves the
   document exactly as it was.

All of it — every model call, repair round, the fallback and 429 retries — runs under one
overall deadline, ``config.deadline`` seconds (``gap.llm.deadline``; 0: none), on top of the
per-read ``config.timeout``: a server that trickles tokens forever, or a long chain of
repairs, ends in ``EditFailed("deadline", …)`` with the model stream closed.

Accounting (:class:`Accounting`): output tokens of the answer(s) vs the tokens of the whole
artifact (what a regeneration would cost), attempts, time to first / last token, and running
:class:`SessionStats`.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable

import attrs

from gap_engine import Artifact, Envelope, GapError, apply_with_splices, ingest, scan
from gap_engine.editblocks import BlockStream, looks_like_blocks, parse_blocks
from gap_engine.model import PROTOCOL, EditOperation, SynthesizeContent, Target

from ..documents import refuse_blocked_pointers
from . import prompts
from .client import CancelToken, Deadline, LLMClient, LLMError
from .config import LLMConfig
from .partial import JsonOpStream
from .tokens import TokenCounter, make_counter

log = logging.getLogger("gap_ls.llm")

__all__ = [
    "Accounting",
    "Attempt",
    "EditFailed",
    "EditOutcome",
    "EditPipeline",
    "FenceFilter",
    "Progress",
    "SessionStats",
    "SynthOutcome",
    "parse_answer",
    "smallest_enclosing_target",
]


@attrs.frozen
class Attempt:
    """One model call. ``kind``: ``edit``, ``repair``, ``fallback``, ``synthesize`` or
    ``add_targets``; ``output_tokens`` counted by the pipeline's counter; ``server_tokens`` as
    the server reported (or None); ``ttft``/``elapsed`` in seconds; ``error`` the reason the
    answer was rejected (None when accepted)."""

    kind: str
    output_tokens: int
    input_tokens: int
    server_tokens: int | None
    chars: int
    ttft: float | None
    elapsed: float
    error: str | None = None

    def to_dict(self) -> dict:
        return attrs.asdict(self)


@attrs.define
class SessionStats:
    """Running totals for a session (one language server, one CLI run)."""

    edits: int = 0
    misses: int = 0
    failed: int = 0
    rejected_answers: int = 0
    output_tokens: int = 0
    full_tokens: int = 0
    wasted_tokens: int = 0  # output tokens of edits that failed (the miss tax, not in the savings)

    def record_failure(self, attempts) -> None:
        self.failed += 1
        self.rejected_answers += sum(1 for a in attempts if a.error)
        self.wasted_tokens += sum(a.output_tokens for a in attempts)

    @property
    def saved_tokens(self) -> int:
        return self.full_tokens - self.output_tokens

    @property
    def saved_pct(self) -> float:
        return 100.0 * self.saved_tokens / self.full_tokens if self.full_tokens else 0.0

    def to_dict(self) -> dict:
        return {
            "edits": self.edits,
            "misses": self.misses,
            "failed": self.failed,
            "rejected_answers": self.rejected_answers,
            "wasted_tokens": self.wasted_tokens,
            "output_tokens": self.output_tokens,
            "full_tokens": self.full_tokens,
            "saved_tokens": self.saved_tokens,
            "saved_pct": round(self.saved_pct, 1),
        }


@attrs.frozen
class Accounting:
    """What one edit cost against a full regeneration (GAP §6, §7.1.1).

    ``envelope_tokens``: output tokens of the accepted answer; ``output_tokens``: of all
    attempts (rejected ones included: the miss tax); ``full_tokens``: tokens of the resulting
    artifact (what regenerating it would have produced); ``saved_tokens`` = full − output;
    ``input_tokens``: prompt tokens sent over all attempts (counted locally); ``attempts``;
    ``ttft``: s to the first token of the first attempt; ``ttlt``: s to the last token of the
    last attempt; ``counter``: what counted (``tokenizer <spec>`` or the labelled estimate).
    """

    envelope_tokens: int
    output_tokens: int
    full_tokens: int
    input_tokens: int
    attempts: int
    ttft: float | None
    ttlt: float
    counter: str
    fallback: bool = False
    session: dict = attrs.field(factory=dict)

    @property
    def saved_tokens(self) -> int:
        return self.full_tokens - self.output_tokens

    @property
    def saved_pct(self) -> float:
        return 100.0 * self.saved_tokens / self.full_tokens if self.full_tokens else 0.0

    def to_dict(self) -> dict:
        d = attrs.asdict(self)
        d["saved_tokens"] = self.saved_tokens
        d["saved_pct"] = round(self.saved_pct, 1)
        d["ttft"] = None if self.ttft is None else round(self.ttft, 4)
        d["ttlt"] = round(self.ttlt, 4)
        return d

    def summary(self) -> str:
        """One line for logs, the terminal and the preview's status bar."""
        ttft = f"{self.ttft * 1000:.0f} ms" if self.ttft is not None else "–"
        s = self.session
        sess = f"; session: {s.get('edits', 0)} edits, saved {s.get('saved_tokens', 0)} tokens ({s.get('saved_pct', 0.0):.1f} %)" if s else ""
        fb = ", fallback" if self.fallback else ""
        return (
            f"{self.output_tokens} output tokens vs {self.full_tokens} for a full regeneration "
            f"(saved {self.saved_pct:.1f} %), {self.attempts} attempt{'s' if self.attempts != 1 else ''}{fb}, "
            f"first token {ttft}, last token {self.ttlt * 1000:.0f} ms [{self.counter}]{sess}"
        )


@attrs.frozen
class Progress:
    """A progress report: ``phase`` (``edit``, ``repair N``, ``fallback``, ``synthesize``…),
    ``tokens`` (stream deltas received so far in this run, all attempts), ``elapsed`` (s)."""

    phase: str
    tokens: int
    elapsed: float
    attempt: int


@attrs.frozen
class EditOutcome:
    """A validated edit, not yet applied to any editor buffer.

    ``envelope`` is the envelope that passed the dry run (send it to the editor as one edit);
    ``result`` the dry-run :class:`gap_engine.ApplyResult` (new artifact, handle, splices);
    ``repairs`` what lenient parsing fixed; ``fallback`` whether the answer came from the
    full-regeneration fallback (a GAP miss); ``removed_targets`` ids the edit removed.
    """

    envelope: Envelope
    result: Any
    attempts: tuple[Attempt, ...]
    accounting: Accounting
    fallback: bool
    repairs: tuple[str, ...] = ()
    removed_targets: tuple[str, ...] = ()
    answer: str = ""

    @property
    def artifact(self) -> Artifact:
        return self.result.artifact

    def to_dict(self) -> dict:
        return {
            "applied": False,
            "fallback": self.fallback,
            "operations": len(self.envelope.content),
            "attempts": [a.to_dict() for a in self.attempts],
            "accounting": self.accounting.to_dict(),
            "repairs": list(self.repairs),
            "removed_targets": list(self.removed_targets),
        }


@attrs.frozen
class SynthOutcome:
    """A synthesized artifact: ``artifact``, the ``envelope`` (``synthesize``), ``warnings``
    (e.g. too few targets), ``accounting``."""

    artifact: Artifact
    envelope: Envelope
    accounting: Accounting
    warnings: tuple[str, ...] = ()


class EditFailed(Exception):
    """No edit: one clear reason. ``code`` is a GAP error code (``target_not_found``,
    ``invalid_envelope``, ``invalid_content``, ``version_conflict``) for answers the engine
    refused, or the transport's kind (``timeout``, ``deadline``, ``rate_limited``,
    ``connection``, ``auth``, ``http``, ``cancelled``, ``bad_response``). ``attempts`` lists the model calls made."""

    def __init__(self, code: str, message: str, attempts: tuple[Attempt, ...] = ()):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.attempts = attempts

    def to_dict(self) -> dict:
        return {"applied": False, "code": self.code, "message": self.message, "attempts": [a.to_dict() for a in self.attempts]}


def smallest_enclosing_target(artifact: Artifact, start: int, end: int) -> str | None:
    """The id of the innermost target whose content contains ``[start, end)`` (code-point
    offsets into the body), or None."""
    best = None
    idx = artifact.index()
    for info in artifact.targets:
        span = idx.get(info.id)
        if span is None:
            continue
        if span.content_start <= start and end <= span.content_end:
            if best is None or span.depth > best.depth:
                best = span
    return best.id if best is not None else None


def parse_answer(text: str, artifact: Artifact) -> tuple[Envelope, tuple[str, ...]]:
    """A maintain answer (edit blocks or JSON as a model wrote it) → an ``edit`` envelope
    addressed to ``artifact`` (id, ``version + 1``, format) and the repairs made.

    Raises:
        GapError: ``invalid_envelope`` when no envelope can be read or it is not an edit.
    """
    if looks_like_blocks(text):
        env = parse_blocks(text, id=artifact.id, version=artifact.version + 1, format=artifact.format)
        repairs: tuple[str, ...] = ()
    else:
        # deterministic repairs first (incl. content that re-emits its target's own marker):
        # cheaper than a repair prompt
        ing = ingest(text, artifact=artifact, repair_markers=True)
        env, repairs = ing.envelope, ing.repairs
    if env.name != "edit":
        raise GapError("invalid_envelope", "the answer is a full synthesize, not an edit: answer with edit operations on the listed targets (GAP §7.1)")
    if not env.content:
        raise GapError("invalid_envelope", "the edit has no operations")
    return env, repairs


def _validate_body(body: str, fmt: str, had_targets: bool) -> None:
    kind = prompts._kind(fmt)
    if not body.strip():
        raise GapError("invalid_content", "the regenerated artifact is empty")
    if kind == "json":
        try:
            json.loads(body)
        except ValueError as exc:
            raise GapError("invalid_content", f"the regenerated artifact is not valid JSON ({exc})") from None
        return
    idx = scan(body)
    if idx.problems:
        p = idx.problems[0]
        raise GapError("invalid_content", f"the regenerated artifact has malformed markers ({p.kind}: {p.message})")
    if had_targets and not idx.infos:
        raise GapError("invalid_content", "the regenerated artifact lost every <gap:target> marker")
    if kind == "yaml":
        try:
            import yaml

            from gap_engine import strip

            list(yaml.safe_load_all(strip(body)))
        except Exception as exc:  # noqa: BLE001
            raise GapError("invalid_content", f"the regenerated artifact is not valid YAML ({str(exc).splitlines()[0]})") from None


class FenceFilter:
    """Streams a raw artifact while dropping a Markdown fence around it: the first line when
    it opens a fence, and a final closing fence line. ``feed(delta)`` returns the text safe to
    emit now; ``finish()`` the rest."""

    def __init__(self) -> None:
        self._head: str | None = ""  # None once the first line is decided
        self._hold = ""

    def feed(self, delta: str) -> str:
        if self._head is not None:
            self._head += delta
            stripped = self._head.lstrip()
            if "\n" not in self._head and (stripped == "" or "```".startswith(stripped[:3])):
                return ""
            text, self._head = self._head, None
            first, nl, rest = text.partition("\n")
            if first.strip().startswith("```"):
                text = rest if nl else ""
            return self._emit(text)
        return self._emit(delta)

    def _emit(self, text: str) -> str:
        text = self._hold + text
        lines = text.split("\n")
        k = len(lines)
        # hold back trailing lines that are blank or may be (part of) a closing fence
        while k > 0 and lines[k - 1].strip() in ("", "`", "``", "```"):
            k -= 1
        if k == len(lines):
            self._hold = ""
            return text
        if k == 0:
            self._hold = text
            return ""
        self._hold = "\n" + "\n".join(lines[k:])
        return "\n".join(lines[:k])

    def finish(self) -> str:
        if self._head is not None:
            text, self._head = self._head, None
            if text.strip().startswith("```"):
                text = ""
            return text
        rest, self._hold = self._hold, ""
        if any(line.strip() == "```" for line in rest.split("\n")):
            return ""
        return rest


class EditPipeline:
    """Runs edits and syntheses against one model configuration.

    ``client`` defaults to an :class:`LLMClient` for ``config``; ``counter`` to
    :func:`make_counter(config.tokenizer) <gap_ls.llm.tokens.make_counter>`; ``session`` keeps
    the running totals (share one per language server).
    """

    def __init__(
        self,
        config: LLMConfig,
        *,
        client: LLMClient | None = None,
        counter: TokenCounter | None = None,
        session: SessionStats | None = None,
    ) -> None:
        self.config = config
        self.client = client or LLMClient(config)
        self.counter = counter or make_counter(config.tokenizer)
        self.session = session if session is not None else SessionStats()
        if self.counter.problem:
            log.warning("token counts are estimates: %s", self.counter.problem)

    def __repr__(self) -> str:
        return f"EditPipeline({self.config!r}, counter={self.counter.label!r})"

    async def aclose(self) -> None:
        await self.client.aclose()

    def _deadline(self, cancel: CancelToken | None) -> CancelToken | None:
        """The token for one instruction: the caller's ``cancel`` plus ``config.deadline``."""
        if not self.config.deadline or self.config.deadline <= 0:
            return cancel
        return Deadline(self.config.deadline, cancel)

    async def _call(
        self,
        kind: str,
        messages: list[dict],
        *,
        t0: float,
        received: list[int],
        attempt_no: int,
        cancel: CancelToken | None,
        on_progress: Callable[[Progress], Any] | None,
        on_delta: Callable[[str], Any] | None = None,
    ):
        def delta(d: str):
            received[0] += 1
            if on_progress is not None:
                on_progress(Progress(kind, received[0], time.perf_counter() - t0, attempt_no))
            if on_delta is not None:
                return on_delta(d)
            return None

        if isinstance(cancel, Deadline):
            cancel.check()  # no new call (a repair, the fallback) once the time is up
        if on_progress is not None:
            on_progress(Progress(kind, received[0], time.perf_counter() - t0, attempt_no))
        comp = await self.client.stream_chat(messages, on_delta=delta, cancel=cancel)
        attempt = Attempt(
            kind,
            self.counter(comp.text),
            self.counter(prompts.messages_text(messages)),
            comp.output_tokens,
            len(comp.text),
            comp.ttft,
            comp.elapsed,
        )
        return comp, attempt

    def _accounting(self, attempts: list[Attempt], accepted: Attempt, full_body: str, t0: float, first_ttft: float | None, *, fallback: bool, count: bool = True) -> Accounting:
        full = self.counter(full_body)
        out = sum(a.output_tokens for a in attempts)
        if count:
            self.session.edits += 1
            self.session.output_tokens += out
            self.session.full_tokens += full
            if fallback:
                self.session.misses += 1
            self.session.rejected_answers += sum(1 for a in attempts if a.error)
        return Accounting(
            envelope_tokens=accepted.output_tokens,
            output_tokens=out,
            full_tokens=full,
            input_tokens=sum(a.input_tokens for a in attempts),
            attempts=len(attempts),
            ttft=first_ttft,
            ttlt=time.perf_counter() - t0,
            counter=self.counter.label,
            fallback=fallback,
            session=self.session.to_dict(),
        )

    async def edit(
        self,
        artifact: Artifact,
        instruction: str,
        *,
        target_id: str | None = None,
        syntax: str | None = None,
        cancel: CancelToken | None = None,
        on_progress: Callable[[Progress], Any] | None = None,
        on_operation: Callable[[Any], Any] | None = None,
        fallback: bool = True,
    ) -> EditOutcome:
        """Edit ``artifact`` from ``instruction`` (see the module docstring for the steps).

        ``target_id`` is the user's selected target (it also scopes the fallback);
        ``on_operation(op)`` is called with each operation (edit block or JSON envelope item) as
        soon as it is complete in the stream (for a preview), and with None when a repair answer starts (forget the
        operations shown so far). Nothing is applied to any buffer here.

        Raises:
            EditFailed: one clear error (``deadline`` when ``config.deadline`` ran out); the
                artifact is untouched.
        """
        syntax = syntax or self.config.syntax
        cancel = self._deadline(cancel)
        if target_id is not None and artifact.index().get(target_id) is None and address_is_id(artifact):
            raise EditFailed("target_not_found", f"no target with id {target_id!r} in the document")
        t0 = time.perf_counter()
        received = [0]
        attempts: list[Attempt] = []
        first_ttft: float | None = None
        base = prompts.maintain_messages(artifact, instruction, syntax=syntax, target_id=target_id)
        messages = base
        last_error: GapError | None = None
        total = 1 + max(0, self.config.max_repairs)
        try:
            for n in range(total):
                kind = "edit" if n == 0 else "repair"
                streams = (BlockStream(), JsonOpStream(artifact.format)) if on_operation is not None else ()
                if on_operation is not None and n > 0:
                    on_operation(None)  # a new answer: forget the operations shown so far

                def on_delta(d: str, _ss=streams):
                    for st in _ss:
                        try:
                            for item in st.feed(d):
                                if isinstance(item, EditOperation):
                                    on_operation(item)
                        except GapError:
                            pass

                comp, att = await self._call(kind, messages, t0=t0, received=received, attempt_no=n + 1, cancel=cancel, on_progress=on_progress, on_delta=on_delta)
                if first_ttft is None:
                    first_ttft = comp.ttft
                try:
                    env, repairs = parse_answer(comp.text, artifact)
                    refuse_blocked_pointers(artifact.body, artifact.format, env)
                    res = apply_with_splices(artifact, env, strict_markers=True)
                except GapError as err:
                    last_error = err
                    attempts.append(attrs.evolve(att, error=f"{err.code}: {err.message}"))
                    log.info("model answer rejected (attempt %d/%d): %s", n + 1, total, self.config.redact(f"{err.code}: {err.message}"))
                    messages = prompts.repair_messages(base, comp.text, f"{err.code}: {err.message}", artifact, syntax=syntax, instruction=instruction)
                    continue
                attempts.append(att)
                removed = tuple(sorted({t.id for t in artifact.targets} - {t.id for t in res.artifact.targets}))
                acc = self._accounting(attempts, att, res.artifact.body, t0, first_ttft, fallback=False)
                log.info("edit accepted: %s", acc.summary())
                return EditOutcome(env, res, tuple(attempts), acc, False, repairs, removed, comp.text)
            if not fallback:
                self.session.record_failure(attempts)
                raise EditFailed(last_error.code, _explain(last_error, len(attempts)), tuple(attempts))
            return await self._fallback(artifact, instruction, target_id, attempts, last_error, t0, received, first_ttft, cancel, on_progress)
        except LLMError as err:
            self.session.record_failure(attempts)
            raise EditFailed(err.kind, self.config.redact(err.message), tuple(attempts)) from None

    async def _fallback(self, artifact, instruction, target_id, attempts, last_error, t0, received, first_ttft, cancel, on_progress) -> EditOutcome:
        scope = target_id if (target_id is not None and address_is_id(artifact) and artifact.index().get(target_id) is not None) else None
        messages = prompts.fallback_messages(artifact, instruction, scope)
        log.info("falling back to a full regeneration of %s", f"target {scope!r}" if scope else "the artifact")
        comp, att = await self._call("fallback", messages, t0=t0, received=received, attempt_no=len(attempts) + 1, cancel=cancel, on_progress=on_progress)
        if first_ttft is None:
            first_ttft = comp.ttft
        text = prompts.strip_fences(comp.text)
        try:
            if scope is not None:
                env = Envelope(PROTOCOL, artifact.id, artifact.version + 1, "edit", {"format": artifact.format}, (EditOperation("replace", Target("id", scope), text),))
            else:
                _validate_body(text, artifact.format, bool(artifact.targets))
                env = Envelope(PROTOCOL, artifact.id, artifact.version + 1, "synthesize", {"format": artifact.format}, (SynthesizeContent(text),))
            res = apply_with_splices(artifact, env, strict_markers=True)
        except GapError as err:
            attempts.append(attrs.evolve(att, error=f"{err.code}: {err.message}"))
            self.session.record_failure(attempts)
            first = last_error
            raise EditFailed(
                first.code if first is not None else err.code,
                _explain(first, len(attempts) - 1) + f"; the full-regeneration fallback failed too ({err.code}: {err.message})",
                tuple(attempts),
            ) from None
        attempts.append(att)
        removed = tuple(sorted({t.id for t in artifact.targets} - {t.id for t in res.artifact.targets}))
        acc = self._accounting(attempts, att, res.artifact.body, t0, first_ttft, fallback=True)
        log.info("edit by fallback (GAP miss recorded): %s", acc.summary())
        return EditOutcome(env, res, tuple(attempts), acc, True, (), removed, comp.text)

    async def synthesize(
        self,
        instruction: str,
        fmt: str,
        *,
        artifact_id: str = "artifact",
        version: int = 1,
        cancel: CancelToken | None = None,
        on_progress: Callable[[Progress], Any] | None = None,
        on_text: Callable[[str], Any] | None = None,
    ) -> SynthOutcome:
        """Create an artifact from ``instruction`` with the init context (GAP §5.1, §7.1):
        the answer streams to ``on_text`` (Markdown fences removed) as it arrives.

        Raises:
            EditFailed: transport errors, cancellation, the deadline, or an empty / malformed answer.
        """
        t0 = time.perf_counter()
        received = [0]
        ff = FenceFilter()
        cancel = self._deadline(cancel)

        def on_delta(d: str):
            out = ff.feed(d)
            if out and on_text is not None:
                return on_text(out)
            return None

        try:
            comp, att = await self._call("synthesize", prompts.init_messages(instruction, fmt), t0=t0, received=received, attempt_no=1, cancel=cancel, on_progress=on_progress, on_delta=on_delta)
        except LLMError as err:
            raise EditFailed(err.kind, self.config.redact(err.message)) from None
        rest = ff.finish()
        if rest and on_text is not None:
            r = on_text(rest)
            if hasattr(r, "__await__"):
                await r
        body = prompts.strip_fences(comp.text)
        warnings: list[str] = []
        try:
            _validate_body(body, fmt, False)
        except GapError as err:
            warnings.append(err.message)
        if prompts._kind(fmt) != "json":
            idx = scan(body)
            if not idx.infos:
                warnings.append("the model placed no <gap:target> markers: later edits can only regenerate the whole artifact")
            elif len(idx.infos) == 1:
                warnings.append("the model placed a single target: edits to it replace everything inside (GAP §3.2)")
        env = Envelope(PROTOCOL, artifact_id, version, "synthesize", {"format": fmt}, (SynthesizeContent(body),))
        art = Artifact(artifact_id, version, fmt, body)
        acc = self._accounting([att], att, body, t0, comp.ttft, fallback=False, count=False)
        return SynthOutcome(art, env, acc, tuple(warnings))

    async def add_targets(
        self,
        artifact: Artifact,
        *,
        cancel: CancelToken | None = None,
        on_progress: Callable[[Progress], Any] | None = None,
    ) -> EditOutcome:
        """Ask the model to place target markers in an existing artifact; accepted only when
        the answer, markers stripped, equals the artifact byte for byte (so nothing but
        markers changes). Repairs as for :meth:`edit`.

        Raises:
            EditFailed: the model changed other text (after the repairs), a transport error, or
                the deadline.
        """
        from gap_engine import strip

        cancel = self._deadline(cancel)
        t0 = time.perf_counter()
        received = [0]
        attempts: list[Attempt] = []
        base = prompts.add_targets_messages(artifact)
        messages = base
        first_ttft = None
        error = None
        try:
            for n in range(1 + max(0, self.config.max_repairs)):
                comp, att = await self._call("add_targets" if n == 0 else "repair", messages, t0=t0, received=received, attempt_no=n + 1, cancel=cancel, on_progress=on_progress)
                first_ttft = first_ttft if first_ttft is not None else comp.ttft
                body = prompts.strip_fences(comp.text)
                if artifact.body.endswith("\n") and not body.endswith("\n") and strip(body) + "\n" == artifact.body:
                    body += "\n"
                try:
                    idx = scan(body)
                    if idx.problems:
                        p = idx.problems[0]
                        raise GapError("invalid_content", f"malformed markers ({p.kind}: {p.message})")
                    if not idx.infos:
                        raise GapError("invalid_content", "the answer has no <gap:target> markers")
                    plain = strip(body)
                    if plain != artifact.body:
                        raise GapError("invalid_content", "the answer changed the artifact's text besides adding markers: " + _first_difference(artifact.body, plain))
                    env = Envelope(PROTOCOL, artifact.id, artifact.version + 1, "synthesize", {"format": artifact.format}, (SynthesizeContent(body),))
                    res = apply_with_splices(artifact, env, strict_markers=True)
                except GapError as err:
                    error = err
                    attempts.append(attrs.evolve(att, error=f"{err.code}: {err.message}"))
                    messages = list(base) + [
                        {"role": "assistant", "content": comp.text},
                        {"role": "user", "content": f"Rejected, nothing was changed: {err.message}. Output the artifact again with ONLY markers added."},
                    ]
                    continue
                attempts.append(att)
                acc = self._accounting(attempts, att, body, t0, first_ttft, fallback=False, count=False)
                return EditOutcome(env, res, tuple(attempts), acc, False, (), (), comp.text)
        except LLMError as err:
            raise EditFailed(err.kind, self.config.redact(err.message), tuple(attempts)) from None
        raise EditFailed(error.code, f"the model could not add markers without changing the text ({error.message})", tuple(attempts))


def address_is_id(artifact: Artifact) -> bool:
    return prompts.address_mode(artifact) == "id"


def _explain(err: GapError | None, answers: int) -> str:
    if err is None:
        return "the model gave no usable edit"
    return f"the model's edit was rejected {answers} time{'s' if answers != 1 else ''}; last error: {err.message}"


def _first_difference(a: str, b: str) -> str:
    n = min(len(a), len(b))
    i = next((k for k in range(n) if a[k] != b[k]), n)
    line = a.count("\n", 0, i) + 1
    return f"first difference at line {line} ({a[i:i + 30]!r} became {b[i:i + 30]!r})"
