"""The error type of the apply engine (GAP §7.3)."""

from __future__ import annotations

#: The spec's apply-engine error codes (GAP §7.3).
VERSION_CONFLICT = "version_conflict"
TARGET_NOT_FOUND = "target_not_found"
INVALID_ENVELOPE = "invalid_envelope"
INVALID_CONTENT = "invalid_content"

CODES = frozenset({VERSION_CONFLICT, TARGET_NOT_FOUND, INVALID_ENVELOPE, INVALID_CONTENT})


class GapError(Exception):
    """An envelope or operation the engine refuses (GAP §7.3 "Apply engine error object").

    Attributes:
        code: one of ``version_conflict``, ``target_not_found``, ``invalid_envelope``,
            ``invalid_content``.
        message: a human-readable sentence naming what failed and why.
        artifact_id: the artifact concerned, when known.
        op_index: the 0-based index of the failing edit operation in ``content``, when the
            failure belongs to one operation.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        artifact_id: str | None = None,
        op_index: int | None = None,
    ) -> None:
        if code not in CODES:
            raise ValueError(f"unknown GAP error code {code!r}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.artifact_id = artifact_id
        self.op_index = op_index

    def to_dict(self) -> dict:
        """The wire form ``{"code", "message"[, "artifact_id"]}`` (GAP §7.3)."""
        out = {"code": self.code, "message": self.message}
        if self.artifact_id is not None:
            out["artifact_id"] = self.artifact_id
        return out

    def __repr__(self) -> str:
        return f"GapError({self.code!r}, {self.message!r})"
