"""Work-done progress with cancellation (LSP 3.17 §workDoneProgress, §window_workDoneProgress_create,
§window_workDoneProgress_cancel).

``async with work_done(ls, "Adding targets", token=params_token) as p:`` then
``p.report("3/10 files", 30)`` and ``if p.cancelled: …``. Uses the client's token when a
request carried one, else creates one when the client supports ``window.workDoneProgress``,
else does nothing (``report`` is a no-op, ``cancelled`` stays False). ``end`` is always sent.
"""

from __future__ import annotations

import logging
import uuid

from lsprotocol import types

log = logging.getLogger("gap_ls.progress")


class Progress:
    def __init__(self, ls, token):
        self.ls = ls
        self.token = token
        self._cancelled = False

    @property
    def cancelled(self) -> bool:
        """True once the user cancelled (``window/workDoneProgress/cancel``)."""
        if self._cancelled or self.token is None:
            return self._cancelled
        fut = self.ls.work_done_progress.tokens.get(self.token)
        return bool(fut is not None and fut.cancelled())

    def report(self, message: str, percentage: int | None = None) -> None:
        if self.token is not None:
            self.ls.work_done_progress.report(self.token, types.WorkDoneProgressReport(message=message, percentage=percentage, cancellable=True))


class work_done:
    """Async context manager around begin/report/end (see module docstring)."""

    def __init__(self, ls, title: str, token=None):
        self.ls = ls
        self.title = title
        self.token = token
        self.p: Progress | None = None

    async def __aenter__(self) -> Progress:
        ls = self.ls
        token = self.token
        if token is None:
            caps = ls.client_capabilities.window
            if caps is not None and caps.work_done_progress:
                token = f"gap-{uuid.uuid4().hex[:12]}"
                try:
                    await ls.work_done_progress.create_async(token)
                except Exception as exc:  # the client refused: work without progress
                    log.info("workDoneProgress/create failed: %s", exc)
                    token = None
        if token is not None:
            ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=self.title, cancellable=True, percentage=0))
        self.p = Progress(ls, token)
        return self.p

    async def __aexit__(self, *exc) -> None:
        if self.p is not None and self.p.token is not None:
            msg = "cancelled" if self.p.cancelled else "done"
            self.ls.work_done_progress.end(self.p.token, types.WorkDoneProgressEnd(message=msg))
