"""``token_source`` for the preview server's streaming endpoints (``POST /generate``,
``GET /chat/stream``): an async generator of text deltas from the configured model.

The preview server (``gap_preview.PreviewServer(..., token_source=...)``) calls
``token_source(prompt, model, max_tokens)`` and iterates; when the browser disconnects it calls
``aclose()`` on the generator, which closes the HTTP stream to the model so generation stops
upstream. Errors are raised as :class:`gap_ls.llm.client.LLMError` with key-free messages
(the endpoints turn them into ``{"error": "…"}`` / ``event: error``). A stream that runs past
``gap.llm.deadline`` (default 300 s, 0: none) is closed and fails with kind ``deadline``, as
an instruction does.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Callable

from .client import Deadline, LLMClient
from .config import LLMConfig

__all__ = ["make_token_source", "token_source", "token_source_for"]

TokenSource = Callable[[str, "str | None", "int | None"], AsyncIterator[str]]


def make_token_source(config: LLMConfig | None = None, *, system: str | None = None) -> TokenSource:
    """A ``token_source(prompt, model=None, max_tokens=None)`` bound to ``config`` (default:
    :meth:`LLMConfig.resolve` from the environment at each call). ``model`` overrides the
    configured model when given; ``system`` is an optional system message.

    The source yields text deltas (str). Raises :class:`~gap_ls.llm.client.LLMError` (key-free
    message): the client's errors, or kind ``deadline`` when the whole stream takes longer
    than ``config.deadline`` seconds (the HTTP stream is closed first)."""

    async def source(prompt: str, model: str | None = None, max_tokens: int | None = None) -> AsyncIterator[str]:
        cfg = config or LLMConfig.resolve()
        client = LLMClient(cfg)
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
        gen = client.stream_deltas(messages, model=model or None, max_tokens=max_tokens or None)
        deadline = Deadline(cfg.deadline)
        try:
            while True:
                left = deadline.remaining
                try:
                    delta = await (gen.__anext__() if left is None else asyncio.wait_for(gen.__anext__(), left))
                except StopAsyncIteration:
                    break
                except asyncio.TimeoutError:
                    raise deadline.error() from None
                yield delta
        finally:
            await gen.aclose()
            await client.aclose()

    return source


async def token_source(prompt: str, model: str | None = None, max_tokens: int | None = None) -> AsyncIterator[str]:
    """The default token source: the model configured by the environment
    (``GAP_LLM_BASE_URL``, ``GAP_LLM_MODEL``, ``GAP_LLM_API_KEY``/``OPENAI_API_KEY``)."""
    gen = make_token_source()(prompt, model, max_tokens)
    try:
        async for delta in gen:
            yield delta
    finally:
        await gen.aclose()


def token_source_for(ls) -> TokenSource:
    """A token source that reads the model settings of the language server ``ls`` at each call
    (``gap.llm.*`` from the client, environment fallback) — what the preview bridge passes as
    ``PreviewServer(..., token_source=token_source_for(ls))``."""

    async def source(prompt: str, model: str | None = None, max_tokens: int | None = None) -> AsyncIterator[str]:
        from .commands import _state

        gen = make_token_source(_state(ls).config(ls))(prompt, model, max_tokens)
        try:
            async for delta in gen:
                yield delta
        finally:
            await gen.aclose()

    return source
