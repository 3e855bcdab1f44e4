"""Envelopes and artifacts as attrs classes, one cattrs converter, strict parsing (GAP §3–4, §7.2).

Wire JSON ↔ objects:

- :func:`parse_envelope` reads envelope text strictly (JSON Schema from ``schemas/``, then
  structuring) or, with ``lenient=True``, through :func:`gap_engine.ingest.ingest`.
- :meth:`Envelope.to_dict` / :meth:`Envelope.to_json` give the wire form; ``None`` fields are
  omitted and ``meta`` keeps every field it was given (the spec makes it extensible, §3.1.1).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping

import attrs
import cattrs

from .errors import INVALID_ENVELOPE, GapError
from ._fast import fast_ctor as _fast_ctor
from .markers import Index, TargetInfo, scan

PROTOCOL = "gap/0.1"
OPS = ("replace", "insert_before", "insert_after", "delete")
NAMES = ("synthesize", "edit", "handle")
STATES = ("draft", "published", "archived")


@attrs.frozen(slots=True, weakref_slot=False)
class Target:
    """The target union of an edit operation (GAP §4.2): ``type`` is ``"id"`` or ``"pointer"``."""

    type: str
    value: str


@attrs.frozen(slots=True, weakref_slot=False)
class EditOperation:
    """One item of an ``edit`` envelope's ``content`` (GAP §4.2).

    ``content`` is required for ``replace``/``insert_before``/``insert_after``; for pointer
    targets it is a serialized JSON (or YAML) value.
    """

    op: str
    target: Target
    content: str | None = None


@attrs.frozen(slots=True, weakref_slot=False)
class SynthesizeContent:
    """The single item of a ``synthesize`` envelope's ``content`` (GAP §4.1)."""

    body: str


@attrs.frozen(slots=True, weakref_slot=False)
class HandleContent:
    """The item of a ``handle`` envelope's ``content`` (GAP §7.2)."""

    id: str
    version: int
    token_count: int | None = None
    state: str | None = None
    content: str | None = None
    targets: tuple[TargetInfo, ...] | None = None


@attrs.frozen(slots=True, weakref_slot=False)
class Envelope:
    """A GAP envelope (GAP §3.1): ``protocol``, ``id``, ``version``, ``name``, ``meta``, ``content``.

    ``content`` is a tuple of :class:`SynthesizeContent`, :class:`EditOperation` or
    :class:`HandleContent` according to ``name``. ``meta`` is a plain mapping and keeps
    unknown (vendor) fields.
    """

    protocol: str
    id: str
    version: int
    name: str
    meta: Mapping[str, Any]
    content: tuple

    @property
    def format(self) -> str:
        """``meta.format`` (defaults to ``text/html`` as §3.1.1 allows consumers to)."""
        return self.meta.get("format") or "text/html"

    def to_dict(self) -> dict:
        """The wire form as plain JSON-ready data."""
        return converter.unstructure(self)

    def to_json(self, **kw) -> str:
        """The wire form as JSON text (``json.dumps`` keyword arguments pass through)."""
        kw.setdefault("ensure_ascii", False)
        return json.dumps(self.to_dict(), **kw)


@attrs.frozen(slots=True, weakref_slot=False)
class Artifact:
    """A stored artifact (GAP ``schemas/artifact.json``): ``id``, ``version`` (≥ 1), ``format``
    (a MIME type), ``body``; ``state`` is the optional entity state (§8.1).

    :meth:`index` scans the body once and caches the result; :func:`gap_engine.apply` hands the
    new artifact an index derived incrementally from this one.
    """

    id: str
    version: int
    format: str
    body: str
    state: str | None = None
    _index: Index | None = attrs.field(default=None, eq=False, repr=False, alias="index_")

    def index(self) -> Index:
        """The targets of :attr:`body` (:class:`gap_engine.markers.Index`), computed once."""
        idx = self._index
        if idx is None:
            idx = scan(self.body)
            object.__setattr__(self, "_index", idx)
        return idx

    @property
    def targets(self) -> tuple[TargetInfo, ...]:
        """The current targets in document order (GAP §7.4)."""
        return self.index().infos


_new_artifact = _fast_ctor(Artifact)  # (id, version, format, body, state, index)
_new_envelope = _fast_ctor(Envelope)  # (protocol, id, version, name, meta, content)
_new_handle_content = _fast_ctor(HandleContent)  # (id, version, token_count, state, content, targets)


def _make_converter() -> cattrs.Converter:
    c = cattrs.Converter(omit_if_default=False)

    def _unstructure_omit_none(cls):
        fields = attrs.fields(cls)

        def fn(obj):
            out = {}
            for f in fields:
                v = getattr(obj, f.name)
                if v is None:
                    continue
                out[f.name] = c.unstructure(v)
            return out

        return fn

    for cls in (Target, EditOperation, SynthesizeContent, HandleContent):
        c.register_unstructure_hook(cls, _unstructure_omit_none(cls))
    c.register_unstructure_hook(TargetInfo, lambda t: t.to_dict())
    c.register_unstructure_hook(
        Envelope,
        lambda e: {
            "protocol": e.protocol,
            "id": e.id,
            "version": e.version,
            "name": e.name,
            "meta": dict(e.meta),
            "content": [c.unstructure(x) for x in e.content],
        },
    )
    c.register_structure_hook(TargetInfo, lambda d, _: TargetInfo(d["id"], d.get("label"), d.get("accepts"), d.get("type")))
    c.register_structure_hook(Target, lambda d, _: Target(d["type"], d["value"]))
    c.register_structure_hook(
        EditOperation, lambda d, _: EditOperation(d["op"], c.structure(d["target"], Target), d.get("content"))
    )

    item_type = {"synthesize": SynthesizeContent, "edit": EditOperation, "handle": HandleContent}

    def _envelope(d, _):
        cls = item_type[d["name"]]
        return Envelope(
            d["protocol"],
            d["id"],
            int(d["version"]),  # JSON Schema counts 2.0 as an integer: the version is 2
            d["name"],
            dict(d["meta"]),
            tuple(c.structure(x, cls) for x in d["content"]),
        )

    c.register_structure_hook(Envelope, _envelope)
    return c


#: The one converter between wire data and the classes above.
converter = _make_converter()


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    schema = json.loads(resources.files("gap_engine").joinpath("schemas/envelope.schema.json").read_text("utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def envelope_schema() -> dict:
    """The JSON Schema this engine validates envelopes against (a copy)."""
    return json.loads(json.dumps(_validator().schema))


def _where(path) -> str:
    parts = list(path)
    if len(parts) >= 2 and parts[0] == "content" and isinstance(parts[1], int):
        rest = "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in parts[2:])
        return f"content[{parts[1]}]{rest}"
    return ".".join(str(p) for p in parts) or "envelope"


_FORMAT_RE = re.compile(r"[a-z]+/[a-z0-9.+-]+\Z")
_CHECKSUM_RE = re.compile(r"sha256:[a-f0-9]{64}\Z")
_TARGET_KEYS = frozenset({"type", "value"})
_INFO_KEYS = frozenset({"id", "label", "accepts", "type"})
_TARGET_TYPES = frozenset({"id", "pointer"})
_OPS_SET = frozenset(OPS)
_STATES_SET = frozenset(STATES)


def _is_int(v, minimum: int) -> bool:
    return type(v) is int and v >= minimum


def _fast_valid(data: dict) -> bool:
    """A hand-written check of the common envelope shapes that accepts only what the JSON
    Schema accepts (a strict subset: anything unusual returns False and goes to jsonschema,
    which stays the authority and writes the error messages)."""
    try:
        if data["protocol"] != PROTOCOL:
            return False
        ident = data["id"]
        if type(ident) is not str or not ident or not _is_int(data["version"], 1):
            return False
        meta = data["meta"]
        if type(meta) is not dict:
            return False
        fmt = meta["format"]
        if type(fmt) is not str or not _FORMAT_RE.match(fmt):
            return False
        if len(meta) > 1:
            if "tokens_used" in meta and not _is_int(meta["tokens_used"], 0):
                return False
            if "checksum" in meta and not (type(meta["checksum"]) is str and _CHECKSUM_RE.match(meta["checksum"])):
                return False
            if "state" in meta and meta["state"] not in _STATES_SET:
                return False
        content = data["content"]
        if type(content) is not list:
            return False
        name = data["name"]
        if name == "edit":
            for op in content:
                if type(op) is not dict:
                    return False
                kind = op["op"]
                if kind not in _OPS_SET:
                    return False
                t = op["target"]
                if type(t) is not dict or t.keys() != _TARGET_KEYS:
                    return False
                tt, tv = t["type"], t["value"]
                if tt not in _TARGET_TYPES or type(tv) is not str or (tt == "id" and not tv):
                    return False
                if "content" in op:
                    if type(op["content"]) is not str:
                        return False
                elif kind != "delete":
                    return False
            return True
        if name == "synthesize":
            return len(content) == 1 and type(content[0]) is dict and type(content[0]["body"]) is str
        if name == "handle":
            for item in content:
                if type(item) is not dict or type(item["id"]) is not str or not _is_int(item["version"], 1):
                    return False
                if "token_count" in item and not _is_int(item["token_count"], 0):
                    return False
                if "state" in item and item["state"] not in _STATES_SET:
                    return False
                if "content" in item and type(item["content"]) is not str:
                    return False
                if "targets" in item:
                    ts = item["targets"]
                    if type(ts) is not list:
                        return False
                    for ti in ts:
                        if type(ti) is not dict or "id" not in ti or not ti.keys() <= _INFO_KEYS:
                            return False
                        if any(type(v) is not str for v in ti.values()):
                            return False
            return True
        return False
    except (KeyError, TypeError):
        return False


def validate_envelope_data(data: Any, *, fast: bool = True) -> None:
    """Check decoded JSON against the envelope schema (GAP §3.1, §4, §7.2).

    The common shapes are checked by hand (a few µs); anything the hand check does not
    recognise — and every envelope when ``fast=False`` — is validated with ``jsonschema``
    against ``schemas/envelope.schema.json``, which is the authority and writes the errors.

    Raises:
        GapError: ``invalid_envelope`` naming the first offending field by its JSON path
            (``content[2].target.type: …``) and, for an edit operation, its index in
            ``content`` (``op_index``).
    """
    if not isinstance(data, dict):
        raise GapError(INVALID_ENVELOPE, f"an envelope is a JSON object, not {type(data).__name__}")
    if fast and _fast_valid(data):
        return
    errors = sorted(_validator().iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if not errors:
        return
    err = errors[0]
    # prefer the deepest, most specific message among the errors at the first failing place
    leaf = err
    while leaf.context:
        leaf = min(leaf.context, key=lambda e: len(e.absolute_path))
    path = list(err.absolute_path) if len(leaf.absolute_path) < len(err.absolute_path) else list(leaf.absolute_path)
    op_index = path[1] if len(path) >= 2 and path[0] == "content" and isinstance(path[1], int) else None
    raise GapError(INVALID_ENVELOPE, f"{_where(path)}: {leaf.message}", op_index=op_index, artifact_id=data.get("id") if isinstance(data.get("id"), str) else None)


def envelope_from_data(data: Any) -> Envelope:
    """Validate decoded JSON and structure it into an :class:`Envelope`.

    Raises:
        GapError: ``invalid_envelope`` (see :func:`validate_envelope_data`).
    """
    if isinstance(data, dict) and _fast_valid(data):
        return _structure_fast(data)
    validate_envelope_data(data, fast=False)
    return converter.structure(data, Envelope)


_new_target = _fast_ctor(Target)
_new_op = _fast_ctor(EditOperation)
_new_synth = _fast_ctor(SynthesizeContent)


def _structure_fast(d: dict) -> Envelope:
    """Structure an envelope that passed :func:`_fast_valid` (same result as the converter)."""
    name = d["name"]
    items = d["content"]
    if name == "edit":
        content = tuple(
            [_new_op(o["op"], _new_target(o["target"]["type"], o["target"]["value"]), o.get("content")) for o in items]
        )
    elif name == "synthesize":
        content = (_new_synth(items[0]["body"]),)
    else:
        content = tuple(converter.structure(x, HandleContent) for x in items)
    return _new_envelope(d["protocol"], d["id"], d["version"], name, dict(d["meta"]), content)


def parse_envelope(text: str | bytes, *, lenient: bool = False) -> Envelope:
    """Parse envelope JSON text (GAP §3.1).

    Strict (default): the text must be one JSON object valid against the envelope schema
    (a leading byte order mark is ignored, as RFC 8259 §8.1 allows).
    Lenient: what a model actually wrote is accepted and repaired first (see
    :func:`gap_engine.ingest.ingest`, which also reports the repairs it made).

    Raises:
        GapError: ``invalid_envelope`` for malformed JSON or a structural violation, naming
            the place (``content[2].target.type: …``).
    """
    if lenient:
        from .ingest import ingest

        return ingest(text).envelope
    if type(text) is str and text[:1] == "\ufeff":
        text = text[1:]  # a byte order mark (RFC 8259 §8.1: a parser may ignore it)
    try:
        data = json.loads(text)
    except (ValueError, TypeError) as exc:
        raise GapError(INVALID_ENVELOPE, f"envelope is not valid JSON: {exc}") from None
    except RecursionError:
        raise GapError(INVALID_ENVELOPE, "envelope is not valid JSON: arrays or objects nested too deeply") from None
    return envelope_from_data(data)
