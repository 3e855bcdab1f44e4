"""A streamed chat-completions client over any OpenAI-compatible endpoint (``openai`` package).

One request = one :meth:`LLMClient.stream_chat` call: the deltas are handed to ``on_delta``
as they arrive, the call returns a :class:`Completion` with the text and its timings, and it
stops the upstream stream (closes the HTTP response) when it is cancelled — by the caller's
:class:`CancelToken` or by asyncio task cancellation.

Transport failures become one :class:`LLMError` with a ``kind`` and a sentence for the user;
its text is scrubbed of the API key (:func:`gap_ls.llm.config.redact`). HTTP 429 is retried
after ``Retry-After`` when that wait is at most ``config.max_retry_wait`` seconds.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from typing import Any, AsyncIterator, Callable, Sequence

import attrs

from .config import LLMConfig

log = logging.getLogger(__name__)

__all__ = ["CancelToken", "Completion", "Deadline", "LLMClient", "LLMError"]


class LLMError(Exception):
    """A model request that did not produce a completion.

    ``kind``: ``rate_limited``, ``timeout``, ``deadline``, ``connection``, ``auth``, ``http``,
    ``cancelled``, ``bad_response``. ``message`` is already free of the API key.
    ``retry_after`` (s) is set for ``rate_limited`` when the server sent ``Retry-After``.
    """

    def __init__(self, kind: str, message: str, *, retry_after: float | None = None, status: int | None = None):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.retry_after = retry_after
        self.status = status

    def __repr__(self) -> str:
        return f"LLMError({self.kind!r}, {self.message!r})"


class CancelToken:
    """Cooperative cancellation for a running request.

    ``cancel()`` sets it; ``poll`` (optional, e.g. ``lambda: progress_future.cancelled()``) is
    checked every ``interval`` seconds while a request runs, so an LSP work-done progress
    cancel stops the stream even while no token arrives.
    """

    def __init__(self, poll: Callable[[], bool] | None = None, interval: float = 0.05) -> None:
        self._event: asyncio.Event | None = None
        self._flag = False
        self.poll = poll
        self.interval = interval

    @property
    def cancelled(self) -> bool:
        if not self._flag and self.poll is not None:
            try:
                self._flag = bool(self.poll())
            except Exception:  # noqa: BLE001
                pass
        return self._flag

    def cancel(self) -> None:
        self._flag = True
        if self._event is not None:
            self._event.set()

    async def wait(self) -> None:
        """Return once cancelled (polling ``poll``)."""
        if self._event is None:
            self._event = asyncio.Event()
        while not self.cancelled:
            try:
                await asyncio.wait_for(self._event.wait(), self.interval)
            except asyncio.TimeoutError:
                pass

    def error(self) -> LLMError:
        """The error a request stopped by this token raises."""
        return LLMError("cancelled", "cancelled; the model stream was stopped")


class Deadline(CancelToken):
    """A :class:`CancelToken` that also fires ``seconds`` after it is made: the overall
    deadline of one instruction (``gap.llm.deadline``), shared by every model call of it.

    ``inner`` is the caller's token (an editor's cancel); when it fired, the error is
    ``cancelled`` as before, else — the time being up — ``deadline``. ``seconds`` of 0 or
    None means no deadline (only ``inner`` counts).
    """

    def __init__(self, seconds: float | None, inner: CancelToken | None = None, *, interval: float = 0.05) -> None:
        super().__init__(interval=min(interval, inner.interval) if inner is not None else interval)
        self.seconds = seconds if seconds and seconds > 0 else None
        self.inner = inner
        self.started = time.monotonic()
        self.ends = self.started + self.seconds if self.seconds is not None else None

    @property
    def expired(self) -> bool:
        return self.ends is not None and time.monotonic() >= self.ends

    @property
    def remaining(self) -> float | None:
        """Seconds left (None without a deadline; never below 0)."""
        return None if self.ends is None else max(0.0, self.ends - time.monotonic())

    @property
    def cancelled(self) -> bool:
        if not self._flag and ((self.inner is not None and self.inner.cancelled) or self.expired):
            self._flag = True
        return self._flag

    def cancel(self) -> None:
        if self.inner is not None:
            self.inner.cancel()
        super().cancel()

    async def wait(self) -> None:
        if self._event is None:
            self._event = asyncio.Event()
        while not self.cancelled:
            step = self.interval
            if self.ends is not None:
                step = min(step, max(0.0, self.ends - time.monotonic()))
            try:
                await asyncio.wait_for(self._event.wait(), step)
            except asyncio.TimeoutError:
                pass

    def error(self) -> LLMError:
        if (self.inner is not None and self.inner.cancelled) or not self.expired:
            return super().error()
        return LLMError("deadline", f"the request did not finish within the {self.seconds:g} s deadline (gap.llm.deadline); the model stream was stopped")

    def check(self) -> None:
        """Raise :meth:`error` when cancelled or the time is up (before starting a call)."""
        if self.cancelled:
            raise self.error()


@attrs.frozen
class Completion:
    """A finished streamed completion.

    ``text`` (all deltas joined), ``ttft`` (s from request to the first content delta; None
    when nothing came), ``elapsed`` (s from request to the last byte), ``chunks`` (content
    deltas received), ``output_tokens`` (the server's ``usage.completion_tokens`` when it sent
    usage, else None), ``finish_reason``.
    """

    text: str
    ttft: float | None
    elapsed: float
    chunks: int
    output_tokens: int | None = None
    finish_reason: str | None = None


def _retry_after(exc: Any) -> float | None:
    resp = getattr(exc, "response", None)
    headers = getattr(resp, "headers", None)
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    v = headers.get("retry-after")
    if not v:
        return None
    try:
        return float(v)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(v)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class LLMClient:
    """Streams chat completions from ``config.base_url`` with ``config.model``.

    The ``openai`` client is created lazily, with the SDK's own retries off (this class
    retries 429 itself, within ``config.max_retry_wait``) and ``config.timeout`` as its
    timeout. ``http_client`` (an ``httpx`` client the SDK accepts) is for tests.
    """

    def __init__(self, config: LLMConfig, *, http_client: Any = None) -> None:
        self.config = config
        self._http_client = http_client
        self._client = None

    def __repr__(self) -> str:
        return f"LLMClient({self.config!r})"

    @property
    def client(self):
        if self._client is None:
            from openai import AsyncOpenAI

            kw: dict[str, Any] = {
                "base_url": self.config.base_url,
                # local OpenAI-compatible servers need no key, but the SDK insists on one
                "api_key": self.config.api_key.reveal() or "unused",
                "max_retries": 0,
                "timeout": self.config.timeout,
            }
            if self._http_client is not None:
                kw["http_client"] = self._http_client
            self._client = AsyncOpenAI(**kw)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _error(self, exc: BaseException) -> LLMError:
        """Map an SDK/transport exception to one key-free :class:`LLMError`."""
        import openai

        red = self.config.redact
        where = red(self.config.base_url)
        if isinstance(exc, LLMError):
            return exc
        if isinstance(exc, openai.RateLimitError):
            ra = _retry_after(exc)
            after = f"; the server asks to retry after {ra:g} s" if ra is not None else ""
            return LLMError("rate_limited", f"the model server at {where} is rate limiting requests (HTTP 429){after}", retry_after=ra, status=429)
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return LLMError("auth", f"the model server at {where} refused the API key (HTTP {exc.status_code}); check gap.llm.apiKey / GAP_LLM_API_KEY", status=exc.status_code)
        if isinstance(exc, openai.APITimeoutError) or "Timeout" in type(exc).__name__:
            return LLMError("timeout", f"the model server at {where} did not answer within {self.config.timeout:g} s")
        if isinstance(exc, openai.APIStatusError):
            detail = ""
            try:
                body = exc.body
                if isinstance(body, dict):
                    detail = str(body.get("message") or body.get("error", {}).get("message") or "")
            except Exception:  # noqa: BLE001
                pass
            detail = red(detail)[:300]
            return LLMError("http", f"the model server at {where} answered HTTP {exc.status_code}" + (f": {detail}" if detail else ""), status=exc.status_code)
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc.__context__
            extra = f" ({red(type(cause).__name__)})" if cause is not None else ""
            return LLMError("connection", f"could not reach the model server at {where}{extra}")
        name = type(exc).__name__
        if any(k in name for k in ("Protocol", "Read", "Connect", "Network", "Stream", "Incomplete", "Closed")) or isinstance(exc, OSError):
            return LLMError("connection", f"the connection to the model server at {where} broke off mid-stream ({name})")
        return LLMError("bad_response", f"the model server at {where} sent something unexpected ({name}: {red(str(exc))[:200]})")

    async def _open(self, messages: Sequence[dict], *, model: str | None, max_tokens: int | None):
        cfg = self.config
        kw: dict[str, Any] = {"model": model or cfg.model, "messages": list(messages), "stream": True}
        if cfg.temperature is not None:
            kw["temperature"] = cfg.temperature
        mt = max_tokens or cfg.max_tokens
        if mt:
            kw["max_tokens"] = mt
        waited = 0.0
        for _ in range(3):
            try:
                try:
                    return await self.client.chat.completions.create(**kw, stream_options={"include_usage": True})
                except Exception as exc:  # some local servers reject stream_options
                    import openai

                    if isinstance(exc, openai.BadRequestError) and "stream_options" in str(exc):
                        return await self.client.chat.completions.create(**kw)
                    raise
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                err = self._error(exc)
                if err.kind == "rate_limited" and err.retry_after is not None and waited + err.retry_after <= cfg.max_retry_wait:
                    log.info("model server rate limited; retrying after %.3g s", err.retry_after)
                    waited += err.retry_after
                    await asyncio.sleep(err.retry_after)
                    continue
                raise err from None
        raise LLMError("rate_limited", f"the model server at {cfg.redact(cfg.base_url)} kept rate limiting requests (HTTP 429)", status=429)

    async def stream_chat(
        self,
        messages: Sequence[dict],
        *,
        on_delta: Callable[[str], Any] | None = None,
        cancel: CancelToken | None = None,
        model: str | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        """Send ``messages`` (OpenAI chat format) with ``stream=True`` and collect the answer.

        ``on_delta(text)`` is called for every content delta (it may be a coroutine function).
        Raises :class:`LLMError` (``cancelled`` when ``cancel`` fired; the HTTP stream is closed
        first) and lets ``asyncio.CancelledError`` through after closing the stream.
        """
        t0 = time.perf_counter()
        parts: list[str] = []
        state: dict[str, Any] = {"ttft": None, "chunks": 0, "usage": None, "finish": None, "open": False}

        async def consume() -> None:
            stream = await self._open(messages, model=model, max_tokens=max_tokens)
            state["open"] = True
            try:
                async for chunk in stream:
                    usage = getattr(chunk, "usage", None)
                    if usage is not None and getattr(usage, "completion_tokens", None) is not None:
                        state["usage"] = usage.completion_tokens
                    for choice in chunk.choices or ():
                        if choice.finish_reason:
                            state["finish"] = choice.finish_reason
                        delta = choice.delta.content if choice.delta is not None else None
                        if delta:
                            if state["ttft"] is None:
                                state["ttft"] = time.perf_counter() - t0
                            state["chunks"] += 1
                            parts.append(delta)
                            if on_delta is not None:
                                r = on_delta(delta)
                                if asyncio.iscoroutine(r):
                                    await r
            finally:
                # stops generation upstream: the server sees the client go away
                await asyncio.shield(stream.close())

        task = asyncio.ensure_future(consume())
        watcher = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
        try:
            if watcher is None:
                await task
            else:
                done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
                if task not in done:
                    task.cancel()
                    try:
                        await task
                    except (asyncio.CancelledError, Exception):  # noqa: BLE001
                        pass
                    raise cancel.error()
                task.result()
        except (LLMError, asyncio.CancelledError):
            raise
        except Exception as exc:  # noqa: BLE001
            err = self._error(exc)
            if state["open"] and err.kind == "connection":
                err = LLMError("connection", f"the connection to the model server at {self.config.redact(self.config.base_url)} broke off mid-stream after {state['chunks']} chunks")
            raise err from None
        finally:
            if watcher is not None:
                watcher.cancel()
            if not task.done():
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):  # noqa: BLE001
                    pass
        return Completion("".join(parts), state["ttft"], time.perf_counter() - t0, state["chunks"], state["usage"], state["finish"])

    async def stream_deltas(
        self, messages: Sequence[dict], *, model: str | None = None, max_tokens: int | None = None
    ) -> AsyncIterator[str]:
        """An async generator of content deltas; ``aclose()`` on it closes the HTTP stream
        (generation stops upstream). Raises :class:`LLMError`."""
        try:
            stream = await self._open(messages, model=model, max_tokens=max_tokens)
        except LLMError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc) from None
        try:
            async for chunk in stream:
                for choice in chunk.choices or ():
                    delta = choice.delta.content if choice.delta is not None else None
                    if delta:
                        yield delta
        except (asyncio.CancelledError, GeneratorExit):
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc) from None
        finally:
            await asyncio.shield(stream.close())
