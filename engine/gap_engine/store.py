"""An in-memory artifact store: version chains, history, rollback, checksums, entity state,
expiry (GAP §3.3, §5.3, §5.4, §8, §10). Every mutation returns a handle (§7.2, §7.5).

The store holds :class:`~gap_engine.model.Artifact` values (with their marker index, so
edits are applied incrementally) and, per artifact, a bounded history, the entity metadata
(§8.2) and the time of the last update. It does no I/O; the clock is injectable for tests.

Concurrency is optimistic (§3.3, §5.3): an ``edit`` must carry ``stored_version + 1``;
rollbacks and state transitions may carry the version they expect to create, checked the
same way. A lock makes each call atomic when the store is shared between threads.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import deque
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from typing import Any, Callable, Mapping

from .apply import TokenCounter, _apply, estimate_tokens, make_handle
from .errors import INVALID_CONTENT, INVALID_ENVELOPE, TARGET_NOT_FOUND, VERSION_CONFLICT, GapError
from .model import Artifact, Envelope, _new_artifact, parse_envelope, envelope_from_data

__all__ = ["ArtifactStore", "TRANSITIONS", "check_resolved", "checksum", "require_unicode", "verify_checksum"]

#: Legal entity-state transitions (GAP §8.1): action → (from, to).
TRANSITIONS: Mapping[str, tuple[str, str]] = {
    "publish": ("draft", "published"),
    "unpublish": ("published", "draft"),
    "archive": ("published", "archived"),
    "restore": ("archived", "published"),
}
_BY_STATES = {v: k for k, v in TRANSITIONS.items()}


def checksum(body: str) -> str:
    """``sha256:<hex>`` of the UTF-8 bytes of ``body`` (GAP §3.1.1 ``meta.checksum``, §10)."""
    return "sha256:" + hashlib.sha256(body.encode("utf-8")).hexdigest()


def verify_checksum(body: str, value: str) -> bool:
    """True when ``value`` (``sha256:<hex>``, hex in any case) is the checksum of ``body`` (§10)."""
    if not isinstance(value, str) or not value.startswith("sha256:"):
        return False
    return checksum(body)[7:] == value[7:].lower()


def require_unicode(body: str, artifact_id: str | None = None) -> None:
    """Refuse a body that is not Unicode text: a lone UTF-16 surrogate (``"\\ud800"`` is a
    valid JSON escape) has no UTF-8 form, so it can be neither checksummed (GAP §10) nor
    written to a UTF-8 file.

    Raises:
        GapError: ``invalid_content`` naming the first surrogate and its code-point offset.
    """
    if body.isascii():
        return
    try:
        body.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise GapError(
            INVALID_CONTENT,
            f"the resolved content holds a lone UTF-16 surrogate (U+{ord(body[exc.start]):04X} at offset "
            f"{exc.start}): it is not Unicode text and has no UTF-8 form",
            artifact_id=artifact_id,
        ) from None


@lru_cache(maxsize=1)
def _entity_validator():
    import jsonschema

    schema = json.loads(resources.files("gap_engine").joinpath("schemas/entity.schema.json").read_text("utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _parse_time(value: str) -> float:
    """ISO 8601 → POSIX seconds (naive times are UTC)."""
    v = value.strip()
    if v.endswith(("Z", "z")):
        v = v[:-1] + "+00:00"
    dt = datetime.fromisoformat(v)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


class _Entry:
    __slots__ = ("current", "history", "entity", "updated_at", "created_at", "expires")

    def __init__(self, art: Artifact, history: int, now: float):
        self.current = art
        self.history: deque[Artifact] = deque([art], maxlen=history)
        self.entity: dict = {}
        self.updated_at = now
        self.created_at = now
        self.expires: float | None = None


def check_resolved(body: str, envelope: Envelope) -> None:
    """Check the body an envelope resolved to before it is kept: Unicode text (see
    :func:`require_unicode`) whose checksum matches the envelope's ``meta.checksum`` when it
    has one (GAP §3.1.1, §10).

    Raises:
        GapError: ``invalid_content`` naming the problem.
    """
    require_unicode(body, envelope.id)
    cs = envelope.meta.get("checksum")
    if cs is not None and not verify_checksum(body, cs):
        raise GapError(
            INVALID_CONTENT,
            f"meta.checksum {cs!r} does not match the resolved content ({checksum(body)})",
            artifact_id=envelope.id,
        )


class ArtifactStore:
    """Artifacts by id, each with a version chain and the last ``history`` versions.

    Args:
        history: versions kept per artifact (GAP §5.4 default: 10), including the current one.
        clock: seconds since the epoch (``time.time`` by default; inject one for tests).
        count_tokens: the handle's token counter (default :func:`~gap_engine.estimate_tokens`,
            ``len / 4``; see :mod:`gap_engine.tokens` for real tokenizers).
        default_state: the entity state of a new artifact whose synthesize envelope carries
            no ``meta.state`` (``"draft"``; None for no state).
        include_checksum: put ``meta.checksum`` (sha256 of the body) in returned handles.

    Every mutating method returns the handle envelope of the artifact after the mutation.
    """

    def __init__(
        self,
        *,
        history: int = 10,
        clock: Callable[[], float] = time.time,
        count_tokens: TokenCounter | None = estimate_tokens,
        default_state: str | None = "draft",
        include_checksum: bool = True,
    ) -> None:
        if history < 1:
            raise ValueError("history must keep at least the current version")
        self.history_size = history
        self.clock = clock
        self.count_tokens = count_tokens
        self.default_state = default_state
        self.include_checksum = include_checksum
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.RLock()

    # -- reading -----------------------------------------------------------------------------
    def __contains__(self, artifact_id: object) -> bool:
        return artifact_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def ids(self) -> list[str]:
        """The ids of the stored artifacts, in insertion order."""
        return list(self._entries)

    def _entry(self, artifact_id: str) -> _Entry:
        e = self._entries.get(artifact_id)
        if e is None:
            raise GapError(TARGET_NOT_FOUND, f"no artifact {artifact_id!r} in the store", artifact_id=artifact_id)
        self._expire(artifact_id, e)
        return e

    def get(self, artifact_id: str) -> Artifact:
        """The current version of an artifact (expired ones read as archived, §8.6).

        Raises:
            GapError: ``target_not_found`` for an unknown id.
        """
        with self._lock:
            return self._entry(artifact_id).current

    def handle(self, artifact_id: str, *, include_content: bool = False) -> Envelope:
        """The current handle (GAP §7.2); ``include_content`` adds the body."""
        with self._lock:
            e = self._entry(artifact_id)
            return self._handle(e, include_content)

    def history(self, artifact_id: str) -> list[Artifact]:
        """The kept versions, oldest first (at most ``history``; the last is the current one)."""
        with self._lock:
            return list(self._entry(artifact_id).history)

    def version(self, artifact_id: str, version: int) -> Artifact:
        """A kept version of an artifact.

        Raises:
            GapError: ``target_not_found`` when that version is unknown or no longer kept.
        """
        with self._lock:
            for a in self._entry(artifact_id).history:
                if a.version == version:
                    return a
            raise GapError(
                TARGET_NOT_FOUND,
                f"version {version} of {artifact_id!r} is not in the kept history "
                f"(kept: {[a.version for a in self._entries[artifact_id].history]})",
                artifact_id=artifact_id,
            )

    def checksum(self, artifact_id: str) -> str:
        """``sha256:<hex>`` of the current body (GAP §10)."""
        return checksum(self.get(artifact_id).body)

    def verify(self, artifact_id: str, value: str) -> bool:
        """Does ``value`` match the current body's checksum? (GAP §10)"""
        return verify_checksum(self.get(artifact_id).body, value)

    def entity(self, artifact_id: str) -> dict:
        """A copy of the artifact's entity metadata (GAP §8.2)."""
        with self._lock:
            return json.loads(json.dumps(self._entry(artifact_id).entity))

    def expires_at(self, artifact_id: str) -> float | None:
        """When the artifact expires (POSIX seconds), or None (GAP §8.6)."""
        with self._lock:
            e = self._entries.get(artifact_id)
            if e is None:
                raise GapError(TARGET_NOT_FOUND, f"no artifact {artifact_id!r} in the store", artifact_id=artifact_id)
            return self._deadline(e)

    # -- writing -----------------------------------------------------------------------------
    def apply(
        self,
        envelope: Envelope | str | bytes | Mapping[str, Any],
        *,
        include_content: bool = False,
        strict_markers: bool = False,
    ) -> Envelope:
        """Apply a ``synthesize`` or ``edit`` envelope and return the new handle (GAP §7.5).

        - ``synthesize`` creates the artifact or replaces it (the chain restarts at the
          envelope's version, §3.3; the history is kept when the version moves forward and
          cleared otherwise). ``meta.state`` sets the state (default ``default_state``).
        - ``edit`` needs ``version == stored_version + 1`` (§5.3); an archived or expired
          artifact is read-only (§8.1, §8.6). A ``meta.state`` different from the current
          state requests a transition, which must be legal (§8.1).
        - ``meta.checksum``, when present, must match the resolved body (§10).
        - The resolved body must be Unicode text (no lone surrogate from a ``\\ud800`` escape).
        All or nothing: on any error the store is unchanged.

        Raises:
            GapError: ``invalid_envelope`` (schema, handle envelope, archived, illegal
                transition), ``version_conflict``, ``target_not_found``, ``invalid_content``
                (including a checksum mismatch and a body with a lone surrogate).
        """
        env = self._envelope(envelope)
        with self._lock:
            now = self.clock()
            e = self._entries.get(env.id)
            if e is not None:
                self._expire(env.id, e)
            cur = e.current if e is not None else None
            want_state = env.meta.get("state")
            if env.name == "synthesize":
                if cur is not None and cur.state == "archived":
                    raise GapError(INVALID_ENVELOPE, f"artifact {env.id!r} is archived (read-only until restored, GAP §8.1)", artifact_id=env.id)
                # with the current artifact, the new index is derived from its index
                new, _, _, _ = _apply(cur, env, None, strict_markers)
                state = want_state if want_state is not None else (cur.state if cur is not None else self.default_state)
                if cur is not None and want_state is not None and want_state != cur.state:
                    self._check_transition(env.id, cur.state, want_state)
                new = _new_artifact(new.id, new.version, new.format, new.body, state, new._index)
            elif env.name == "edit":
                if cur is None:
                    raise GapError(TARGET_NOT_FOUND, f"no artifact {env.id!r} in the store to edit", artifact_id=env.id)
                if cur.state == "archived":
                    raise GapError(INVALID_ENVELOPE, f"artifact {env.id!r} is archived (read-only until restored, GAP §8.1)", artifact_id=env.id)
                if env.format != cur.format and "format" in env.meta:
                    raise GapError(
                        INVALID_ENVELOPE,
                        f"meta.format {env.format!r} does not match the artifact's {cur.format!r}",
                        artifact_id=env.id,
                    )
                new, _, _, _ = _apply(cur, env, None, strict_markers)
                if want_state is not None and want_state != cur.state:
                    self._check_transition(env.id, cur.state, want_state)
                    new = _new_artifact(new.id, new.version, new.format, new.body, want_state, new._index)
            else:
                raise GapError(INVALID_ENVELOPE, f"a {env.name!r} envelope cannot be applied (handles are outputs, GAP §7.2)", artifact_id=env.id)
            check_resolved(new.body, env)
            self._commit(env.id, e, new, now)
            return self._handle(self._entries[env.id], include_content)

    def rollback(self, artifact_id: str, to_version: int, *, expected_version: int | None = None) -> Envelope:
        """Make a kept earlier version current again, as a NEW version (GAP §5.4).

        ``expected_version`` (optional) is the version the rollback will create; it must be
        ``stored_version + 1`` (optimistic concurrency, §5.3). The state is kept.

        Raises:
            GapError: ``target_not_found`` (unknown artifact or version no longer kept),
                ``version_conflict``, ``invalid_envelope`` (archived).
        """
        with self._lock:
            e = self._entry(artifact_id)
            cur = e.current
            self._check_expected(artifact_id, cur, expected_version)
            if cur.state == "archived":
                raise GapError(INVALID_ENVELOPE, f"artifact {artifact_id!r} is archived (read-only until restored, GAP §8.1)", artifact_id=artifact_id)
            old = self.version(artifact_id, to_version)
            new = _new_artifact(cur.id, cur.version + 1, old.format, old.body, cur.state, old._index)
            self._commit(artifact_id, e, new, self.clock())
            return self._handle(e, False)

    def transition(self, artifact_id: str, action: str, *, expected_version: int | None = None) -> Envelope:
        """Change the entity state by a legal transition (GAP §8.1): ``publish`` (draft →
        published), ``unpublish`` (published → draft), ``archive`` (published → archived),
        ``restore`` (archived → published). ``action`` may also be the target state's name.
        The transition creates a new version (same body); ``expected_version`` as in
        :meth:`rollback`. Restoring an expired artifact restarts its ttl and drops a past
        ``expires_at``.

        Raises:
            GapError: ``invalid_envelope`` for an illegal transition or unknown action,
                ``version_conflict``, ``target_not_found``.
        """
        with self._lock:
            e = self._entry(artifact_id)
            cur = e.current
            self._check_expected(artifact_id, cur, expected_version)
            if action in TRANSITIONS:
                frm, to = TRANSITIONS[action]
                if cur.state != frm:
                    raise GapError(
                        INVALID_ENVELOPE,
                        f"cannot {action} artifact {artifact_id!r}: it is {cur.state or 'stateless'}, "
                        f"{action} goes {frm} → {to} (GAP §8.1)",
                        artifact_id=artifact_id,
                    )
            elif action in ("draft", "published", "archived"):
                to = action
                self._check_transition(artifact_id, cur.state, to)
            else:
                raise GapError(INVALID_ENVELOPE, f"unknown state transition {action!r} (one of {', '.join(TRANSITIONS)})", artifact_id=artifact_id)
            now = self.clock()
            if to == "published" and cur.state == "archived":
                ent = e.entity
                if "expires_at" in ent and _parse_time(ent["expires_at"]) <= now:
                    del ent["expires_at"]
                    self._update_expiry(e)
            new = _new_artifact(cur.id, cur.version + 1, cur.format, cur.body, to, cur._index)
            self._commit(artifact_id, e, new, now)
            return self._handle(e, False)

    def set_entity(self, artifact_id: str, entity: Mapping[str, Any] | None = None, **fields: Any) -> dict:
        """Set entity metadata (GAP §8.2): owner, created_by, tags, permissions, collection,
        ttl (seconds after the last update), expires_at (ISO 8601, wins over ttl),
        relationships, lock. ``entity`` replaces the whole object; keyword fields update it
        (a None value removes the field). Unknown fields are kept. Returns a copy.

        Raises:
            GapError: ``invalid_content`` naming the offending field (schema
                ``schemas/entity.schema.json``, or a value JSON cannot hold: NaN, a set…),
                ``target_not_found``.
        """
        with self._lock:
            e = self._entry(artifact_id)
            ent = dict(entity) if entity is not None else dict(e.entity)
            for k, v in fields.items():
                if v is None:
                    ent.pop(k, None)
                else:
                    ent[k] = v
            for k, v in ent.items():  # (stored and handed out as JSON: no NaN, sets, objects…)
                try:
                    json.dumps(v, allow_nan=False)
                except (TypeError, ValueError) as exc:
                    raise GapError(INVALID_CONTENT, f"entity.{k}: not a JSON value ({exc})", artifact_id=artifact_id) from None
            errors = sorted(_entity_validator().iter_errors(ent), key=lambda x: list(map(str, x.absolute_path)))
            if errors:
                err = errors[0]
                where = ".".join(str(p) for p in err.absolute_path) or "entity"
                raise GapError(INVALID_CONTENT, f"entity.{where}: {err.message}" if where != "entity" else f"entity: {err.message}", artifact_id=artifact_id)
            if "expires_at" in ent:
                try:
                    _parse_time(ent["expires_at"])
                except ValueError as exc:
                    raise GapError(INVALID_CONTENT, f"entity.expires_at: {exc}", artifact_id=artifact_id) from None
            e.entity = json.loads(json.dumps(ent))
            self._update_expiry(e)
            self._expire(artifact_id, e)
            return json.loads(json.dumps(e.entity))

    def delete(self, artifact_id: str) -> None:
        """Forget an artifact and its history.

        Raises:
            GapError: ``target_not_found``.
        """
        with self._lock:
            if self._entries.pop(artifact_id, None) is None:
                raise GapError(TARGET_NOT_FOUND, f"no artifact {artifact_id!r} in the store", artifact_id=artifact_id)

    # -- internals ---------------------------------------------------------------------------
    def _envelope(self, envelope) -> Envelope:
        if isinstance(envelope, Envelope):
            return envelope
        if isinstance(envelope, (str, bytes)):
            return parse_envelope(envelope)
        if isinstance(envelope, Mapping):
            return envelope_from_data(dict(envelope))
        raise GapError(INVALID_ENVELOPE, f"an envelope is a JSON object, not {type(envelope).__name__}")

    def _check_expected(self, artifact_id: str, cur: Artifact, expected: int | None) -> None:
        if expected is not None and expected != cur.version + 1:
            raise GapError(
                VERSION_CONFLICT,
                f"expected to create version {expected}, but the stored version is {cur.version} "
                f"(the next one is {cur.version + 1})",
                artifact_id=artifact_id,
            )

    def _check_transition(self, artifact_id: str, frm: str | None, to: str) -> None:
        if frm is None:
            return  # a stateless artifact may take any state
        if (frm, to) not in _BY_STATES:
            raise GapError(
                INVALID_ENVELOPE,
                f"illegal state transition {frm} → {to} for {artifact_id!r} (legal: "
                + ", ".join(f"{a}: {f} → {t}" for a, (f, t) in TRANSITIONS.items())
                + "; GAP §8.1)",
                artifact_id=artifact_id,
            )

    def _commit(self, artifact_id: str, e: _Entry | None, new: Artifact, now: float) -> None:
        if e is None:
            e = _Entry(new, self.history_size, now)
            self._entries[artifact_id] = e
        else:
            if new.version <= e.current.version:
                e.history.clear()  # a synthesize restarted the chain
            e.history.append(new)
            e.current = new
            e.updated_at = now
        self._update_expiry(e)

    def _deadline(self, e: _Entry) -> float | None:
        ent = e.entity
        if "expires_at" in ent:
            return _parse_time(ent["expires_at"])
        if "ttl" in ent:
            return e.updated_at + ent["ttl"]
        return None

    def _update_expiry(self, e: _Entry) -> None:
        e.expires = self._deadline(e)

    def _expire(self, artifact_id: str, e: _Entry) -> None:
        """Expired artifacts transition to archived when read (GAP §8.6)."""
        if e.expires is None or e.current.state == "archived":
            return
        if self.clock() >= e.expires:
            cur = e.current
            e.current = _new_artifact(cur.id, cur.version, cur.format, cur.body, "archived", cur._index)
            if e.history and e.history[-1].version == cur.version:
                e.history[-1] = e.current

    def _handle(self, e: _Entry, include_content: bool) -> Envelope:
        art = e.current
        meta = {"checksum": checksum(art.body)} if self.include_checksum else None
        return make_handle(art, count_tokens=self.count_tokens, include_content=include_content, meta=meta)
