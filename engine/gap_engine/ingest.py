"""Lenient ingestion: what a model actually wrote → a valid envelope plus the repairs made.

Models wrap envelopes in Markdown fences and prose, write ``"protocol": "gap"``, invent the
artifact id, restart ``version`` at 1, send a bare list of operations or a single operation,
leave trailing commas, write ``null`` meta fields, or give a pointer edit's ``content`` as a
JSON value instead of a string. GAP §5.1 ("Pre-apply validation") asks implementations to
validate and repair before applying; :func:`ingest` does the mechanical repairs and lists
them, and raises :class:`GapError` for anything it cannot repair.
"""

from __future__ import annotations

import json
import re
from typing import Any

import attrs

from .errors import INVALID_ENVELOPE, GapError
from .markers import scan
from .model import NAMES, OPS, PROTOCOL, Artifact, Envelope, envelope_from_data

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)(?:\n[ \t]*```|\Z)", re.S)
_OP_ALIASES = {
    "insert-before": "insert_before",
    "insertbefore": "insert_before",
    "insert_before": "insert_before",
    "prepend": "insert_before",
    "insert-after": "insert_after",
    "insertafter": "insert_after",
    "insert_after": "insert_after",
    "append": "insert_after",
    "replace": "replace",
    "update": "replace",
    "set": "replace",
    "delete": "delete",
    "remove": "delete",
}
_POINTER_FORMATS = ("application/json", "application/yaml", "text/yaml", "text/x-yaml", "application/x-yaml")


@attrs.frozen
class Ingested:
    """The result of :func:`ingest`: a schema-valid ``envelope`` and the ``repairs`` made,
    each a short human-readable sentence (empty when the input was already valid)."""

    envelope: Envelope
    repairs: tuple[str, ...]


# a JSON string (or one left open at the end of the text), or a comma before "}" / "]"
_STRING_OR_TRAILING_COMMA = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?\Z)|,(?=[ \t\r\n]*[}\]])', re.S)


def _strip_trailing_commas(text: str) -> str:
    """Remove commas directly before ``}`` or ``]``, outside JSON strings."""
    if "," not in text:
        return text
    return _STRING_OR_TRAILING_COMMA.sub(lambda m: "" if m.group()[0] == "," else m.group(), text)


def _json(text: str, strict: bool = True) -> Any:
    """``json.loads``; ``ValueError`` also for values nested too deeply for the decoder."""
    try:
        return json.loads(text, strict=strict)
    except RecursionError:
        raise ValueError("arrays or objects nested too deeply") from None


def _raw_decode(dec: json.JSONDecoder, text: str, start: int):
    try:
        return dec.raw_decode(text, start)
    except RecursionError:
        raise ValueError("arrays or objects nested too deeply") from None


_COMMAS = "removed trailing commas"
_RAW = "kept raw line breaks or tabs inside strings"


def _loads(text: str, repairs: list[str]) -> Any:
    """``json.loads`` with the mechanical repairs: trailing commas removed, raw control
    characters (a line break, a tab) inside strings kept; the repairs made are listed."""
    try:
        return _json(text)
    except ValueError as first:
        fixed = _strip_trailing_commas(text)
        attempts = [(text, False, (_RAW,))]
        if fixed != text:
            attempts = [(fixed, True, (_COMMAS,)), *attempts, (fixed, False, (_COMMAS, _RAW))]
        for candidate, strict, made in attempts:
            try:
                value = _json(candidate, strict)
            except ValueError:
                continue
            repairs.extend(made)
            return value
        raise first


_ENVELOPE_KEYS = frozenset({"op", "content", "operations", "body", "envelope", "gap", "protocol", "name"})


def _looks_like_envelope(value: Any) -> bool:
    """Is a JSON value found in prose an envelope, an operation or a list of them (and not,
    say, a target object inside an operation that did not decode)?"""
    if isinstance(value, list):
        return bool(value) and all(isinstance(v, dict) for v in value)
    return isinstance(value, dict) and not _ENVELOPE_KEYS.isdisjoint(value)


def _is_ops(value: Any) -> bool:
    """An operation object or a non-empty list of them."""
    if isinstance(value, list):
        return bool(value) and all(isinstance(v, dict) and "op" in v for v in value)
    return isinstance(value, dict) and "op" in value and "content" not in value or (
        isinstance(value, dict) and "op" in value and "target" in value and not isinstance(value.get("content", []), list)
    )


def _join(values: list, where: str, repairs: list[str]) -> Any:
    """Several JSON values found in one answer: their operations joined in order when they are
    all operations (a model that wrote one block per operation), else the first, saying so."""
    if len(values) == 1:
        return values[0]
    if all(_is_ops(v) for v in values):
        ops = []
        for v in values:
            ops.extend(v if isinstance(v, list) else [v])
        repairs.append(f"joined the operations of {len(values)} {where}")
        return ops
    repairs.append(f"took the first of {len(values)} {where}; ignored the others")
    return values[0]


def _fences(text: str):
    """``_FENCE.finditer(text)``, trying only the "```" that a line break follows: a fence
    opens with a line, and trying one after the last line break would search to the end of
    the text for a line break (quadratic in the number of such backticks)."""
    last = text.rfind("\n")
    pos = 0
    while last > 0:
        s = text.find("```", pos, last)
        if s < 0:
            return
        m = _FENCE.match(text, s)
        if m is None:  # (not reached: a line break follows)
            pos = s + 1
            continue
        yield m
        pos = m.end()


def _extract_json(text: str, repairs: list[str]) -> Any:
    stripped = text.strip()
    if not stripped:
        raise GapError(INVALID_ENVELOPE, "no envelope: the text is empty")
    if stripped[0] in "{[":
        try:
            return _loads(stripped, repairs)
        except ValueError:
            pass
    errors = []
    found = []
    langs = []
    for m in _fences(text):
        lang, inner = m.group(1).lower(), m.group(2).strip()
        if lang not in ("", "json", "jsonc", "json5", "gap"):
            continue
        if not inner or inner[0] not in "{[":
            continue
        local: list[str] = []
        try:
            value = _loads(inner, local)
        except ValueError as exc:
            errors.append(str(exc))
            continue
        found.append(value)
        langs.append(lang)
        for r in local:
            if r not in repairs:
                repairs.append(r)
    if found:
        repairs.append(f"took the JSON from a ```{langs[0]} fence")
        return _join(found, "```json fences", repairs)
    # prose around JSON: decode from each brace or bracket that starts an envelope-like value
    pos = 0
    deep = -2
    made: list[str] = []
    for m in re.finditer(r"[{\[]", text):
        start = m.start()
        if start < pos:
            continue  # inside a value already taken
        if start == deep + 1:
            deep = start  # still inside the run of brackets that was nested too deeply
            continue
        got = _decode_at(text, start)
        if got is _DEEP:
            deep = start
            continue
        if got is None or not _looks_like_envelope(got[0]):
            continue
        value, pos, local = got
        found.append(value)
        made.extend(r for r in local if r not in made)
    if found:
        repairs.extend(made)
        repairs.append("ignored text around the JSON")
        return _join(found, "JSON values in the text", repairs)
    detail = f" ({errors[0]})" if errors else ""
    raise GapError(INVALID_ENVELOPE, f"no JSON envelope found in the text{detail}")


_STRICT = json.JSONDecoder()
_LAX = json.JSONDecoder(strict=False)


_DEEP = "deep"  # _decode_at: the value is nested too deeply to decode


def _decode_at(text: str, start: int):
    """The JSON value that starts at ``text[start]`` → ``(value, its end in text, repairs)``,
    None, or ``_DEEP``; with the repairs of :func:`_loads` when the error says they may help
    (a repair is tried only where the decoder stopped at a raw control character or a
    trailing comma, so that scanning prose stays linear in practice)."""
    made: tuple = ()
    # strict first; the lax decoder only when the strict one stopped at a raw control character
    for dec, repairs in ((_STRICT, ()), (_LAX, (_RAW,))):
        made = repairs
        try:
            value, end = _raw_decode_from(dec, text, start)
            return value, end, made
        except RecursionError:
            return _DEEP
        except json.JSONDecodeError as exc:
            err = exc
        if "control character" not in err.msg:
            break
    if text[err.pos : err.pos + 1] not in ("]", "}"):
        return None  # not stopped by a trailing comma
    j = err.pos - 1  # (no slice of the text before: this runs for every bracket in the prose)
    while j > start and text[j] in " \t\r\n":
        j -= 1
    if text[j] != ",":
        return None
    # the commas are stripped from growing windows of the text after `start`: stripping the
    # whole rest of the text for every bracket is quadratic (windows as in
    # _raw_decode_from, but starting small: this runs for every repairable value in prose)
    size = 256
    while True:
        whole = len(text) - start <= size
        piece = text[start:] if whole else text[start : start + size]
        candidate = _strip_trailing_commas(piece)
        cut = False
        for dec, more in ((_STRICT, ()), (_LAX, (_RAW,))) if not made else ((_LAX, made),):
            try:
                value, n = _raw_decode(dec, candidate, 0)
            except json.JSONDecodeError as exc:
                cut = cut or exc.pos >= len(candidate) - 16 or exc.msg.startswith("Unterminated")
                continue
            except ValueError:
                continue
            return value, start + _raw_length(piece, candidate, n), (_COMMAS, *more)
        if whole or not cut:
            return None
        size *= 4


_WINDOW = 16384


def _raw_decode_from(dec: json.JSONDecoder, text: str, start: int):
    """``dec.raw_decode(text, start)``, tried on growing windows of the text after ``start``: a
    ``JSONDecodeError`` computes its line from the start of the document it is given, so
    failing at every bracket of long prose would be quadratic. A larger window is tried when
    this one may have cut the value (an error near its end, an unterminated string)."""
    size = _WINDOW
    while len(text) - start > size:
        window = text[start : start + size]
        try:
            value, n = dec.raw_decode(window)
            return value, start + n
        except json.JSONDecodeError as exc:
            if exc.pos < size - 16 and not exc.msg.startswith("Unterminated"):
                exc.doc, exc.pos = text, start + exc.pos  # (the message keeps the window's line)
                raise
        size *= 4
    return dec.raw_decode(text, start)


def _raw_length(text: str, stripped: str, n: int) -> int:
    """How many characters of ``text`` became the first ``n`` of ``stripped``
    (``_strip_trailing_commas(text)``)."""
    kept = 0
    i = 0
    # walk both strings: the stripped one only lacks some commas of the original
    j = 0
    while kept < n and i < len(text):
        if j < len(stripped) and text[i] == stripped[j]:
            j += 1
            kept += 1
        i += 1
    return i


def _normalize_target(t: Any, i: int, repairs: list[str]) -> Any:
    if isinstance(t, str):
        if t.startswith("/") or t == "":
            repairs.append(f"content[{i}].target: read the string {t!r} as a JSON Pointer target")
            return {"type": "pointer", "value": t}
        repairs.append(f"content[{i}].target: read the string {t!r} as an id target")
        return {"type": "id", "value": t}
    if isinstance(t, dict):
        if "type" not in t:
            if "id" in t and isinstance(t["id"], str):
                repairs.append(f"content[{i}].target: read {{'id': …}} as an id target")
                return {"type": "id", "value": t["id"]}
            if "pointer" in t and isinstance(t["pointer"], str):
                repairs.append(f"content[{i}].target: read {{'pointer': …}} as a pointer target")
                return {"type": "pointer", "value": t["pointer"]}
            if "path" in t and isinstance(t["path"], str):
                repairs.append(f"content[{i}].target: read {{'path': …}} as a pointer target")
                return {"type": "pointer", "value": t["path"]}
        ttype = t.get("type")
        if isinstance(ttype, str) and ttype != ttype.strip().lower() and ttype.strip().lower() in ("id", "pointer"):
            repairs.append(f"content[{i}].target.type: read {ttype!r} as {ttype.strip().lower()!r}")
            t = {**t, "type": ttype.strip().lower()}
        extra = set(t) - {"type", "value"}
        if extra and "type" in t and "value" in t:
            repairs.append(f"content[{i}].target: dropped unknown fields {sorted(extra)}")
            return {"type": t["type"], "value": t["value"]}
    return t


def _normalize_op(op: Any, i: int, fmt: str, repairs: list[str]) -> Any:
    if not isinstance(op, dict):
        return op
    op = dict(op)
    kind = op.get("op")
    if isinstance(kind, str):
        canon = _OP_ALIASES.get(kind.strip().lower().replace(" ", "_"))
        if canon and canon != kind:
            repairs.append(f"content[{i}].op: read {kind!r} as {canon!r}")
            op["op"] = canon
    if "target" not in op:
        for key in ("id", "target_id", "targetId"):
            if isinstance(op.get(key), str):
                repairs.append(f"content[{i}]: read {key!r} as an id target")
                op["target"] = {"type": "id", "value": op.pop(key)}
                break
        else:
            for key in ("pointer", "path"):
                if isinstance(op.get(key), str):
                    repairs.append(f"content[{i}]: read {key!r} as a pointer target")
                    op["target"] = {"type": "pointer", "value": op.pop(key)}
                    break
    if "target" in op:
        op["target"] = _normalize_target(op["target"], i, repairs)
    if "content" not in op:
        for key in ("value", "text", "body", "new_content"):
            if key in op and key != "target":
                repairs.append(f"content[{i}]: read {key!r} as the operation's content")
                op["content"] = op.pop(key)
                break
    if "content" in op and op["content"] is None and op.get("op") == "delete":
        del op["content"]
        repairs.append(f"content[{i}]: dropped a null content on delete")
    content = op.get("content")
    target = op.get("target")
    is_pointer = isinstance(target, dict) and target.get("type") == "pointer"
    if content is not None and not isinstance(content, str):
        if is_pointer or fmt in _POINTER_FORMATS:
            op["content"] = json.dumps(content, ensure_ascii=False)
            repairs.append(f"content[{i}].content: serialized a JSON value for a pointer edit")
        elif isinstance(content, (int, float, bool)):
            op["content"] = json.dumps(content)
            repairs.append(f"content[{i}].content: turned a {type(content).__name__} into text")
    return op


def _digits(v: str) -> int:
    """The number a string of decimal digits stands for (``" 3 "``, ``"３"``), else -1
    (``"²"`` is a digit to :meth:`str.isdigit` but no decimal number to :class:`int`)."""
    try:
        return int(v) if v.strip().isdecimal() else -1
    except ValueError:
        return -1


#: The repair :func:`ingest` lists when ``repair_markers=True`` unwraps a replacement.
OWN_MARKER_REPAIR = "removed the target's own marker that the content repeated"


def unwrap_own_marker(content: str, target_id: str) -> str | None:
    """The replacement ``content`` of target ``target_id`` without the target's own marker,
    when the content is exactly one region marked with that id (optional whitespace around
    it): ``<gap:target id="X" …>inner</gap:target>`` → ``inner``, the whitespace around kept.
    None when that is not unambiguously the case: another id, text or markers outside the
    region, or malformed markers in the content (unbalanced, a repeated id…).

    A common model mistake: since markers never move (GAP §4.2), applying such content as
    written nests a second marker with the same id inside the target (a ``duplicate_id``).
    """
    if "gap:target" not in content:
        return None
    stripped = content.strip()
    if not stripped.startswith("<gap:target") or not stripped.endswith("</gap:target>"):
        return None
    idx = scan(content)
    if idx.problems or not len(idx):
        return None
    first = next(idx.spans())
    lead = len(content) - len(content.lstrip())
    tail = len(content.rstrip())
    if first.id != target_id or first.start != lead or first.end != tail:
        return None
    return content[:lead] + content[first.content_start : first.content_end] + content[tail:]


def ingest(
    text: str | bytes | dict | list,
    *,
    artifact: Artifact | None = None,
    format: str | None = None,
    repair_markers: bool = False,
) -> Ingested:
    """Accept an envelope as a model wrote it and return a valid one plus the repairs made.

    ``text`` may be raw model output (prose, Markdown fences, trailing commas), or already
    decoded JSON. Accepted shapes: an envelope; an envelope whose ``protocol``, ``id``,
    ``version``, ``name`` or ``meta`` is missing or wrong; a bare list of operations; a single
    operation object; ``{"body": …}`` (a synthesize); several fenced blocks or JSON values in
    prose that all hold operations (joined in order; otherwise the first is taken and the repair
    says so); raw line breaks or tabs inside JSON strings. With ``artifact``, the envelope is
    addressed to it: ``id`` becomes ``artifact.id``, an edit's ``version`` becomes
    ``artifact.version + 1``, and a missing format is the artifact's. Repairs of the id and
    version are listed too.

    ``repair_markers=True`` (opt-in; off by default, so recorded runs replay as recorded)
    also repairs a ``replace`` on id ``X`` whose content re-emits the target's own marker —
    exactly ``<gap:target id="X" …>…</gap:target>`` with optional whitespace around it —
    by keeping only what that marker wraps (see :func:`unwrap_own_marker`); the repair is
    listed as ``content[i]: removed the target's own marker that the content repeated``.
    Content that is not unambiguously such a wrapper is left as written.

    Raises:
        GapError: ``invalid_envelope`` when no envelope can be recovered (no JSON, an unknown
            op, a target that is neither id nor pointer…), naming the place.
    """
    repairs: list[str] = []
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if isinstance(text, str) and text[:1] == "\ufeff":
        text = text[1:]  # a byte order mark is no text around the JSON (RFC 8259 §8.1)
    data = _extract_json(text, repairs) if isinstance(text, str) else text
    fmt = format or (artifact.format if artifact is not None else None)

    if isinstance(data, list):
        repairs.append("wrapped a bare list of operations in an edit envelope")
        data = {"content": data, "name": "edit"}
    elif isinstance(data, dict) and "op" in data and "content" not in data or (
        isinstance(data, dict) and "op" in data and "target" in data and not isinstance(data.get("content", []), list)
    ):
        repairs.append("wrapped a single operation in an edit envelope")
        data = {"content": [data], "name": "edit"}
    elif isinstance(data, dict) and "body" in data and "content" not in data:
        repairs.append("wrapped a bare body in a synthesize envelope")
        data = {"content": [{"body": data["body"]}], "name": "synthesize", **{k: v for k, v in data.items() if k in ("id", "version", "meta")}}
    if not isinstance(data, dict):
        raise GapError(INVALID_ENVELOPE, f"an envelope is a JSON object, not {type(data).__name__}")
    data = dict(data)
    for wrapper in ("envelope", "gap"):
        inner = data.get(wrapper)
        if len(data) == 1 and isinstance(inner, dict):
            repairs.append(f"unwrapped the envelope from {wrapper!r}")
            data = dict(inner)

    if data.get("protocol") != PROTOCOL:
        if "protocol" in data:
            repairs.append(f"protocol {data['protocol']!r} → {PROTOCOL!r}")
        else:
            repairs.append(f"added protocol {PROTOCOL!r}")
        data["protocol"] = PROTOCOL

    content = data.get("content")
    if isinstance(content, dict):
        repairs.append("wrapped a single content object in a list")
        content = [content]
    if isinstance(content, str) and data.get("name") == "synthesize":
        repairs.append("wrapped a string content in a synthesize body")
        content = [{"body": content}]
    if content is None and "operations" in data and isinstance(data["operations"], list):
        repairs.append("read 'operations' as content")
        content = data.pop("operations")
    if content is None and "body" in data:
        repairs.append("read a top-level body as synthesize content")
        content = [{"body": data.pop("body")}]
        data.setdefault("name", "synthesize")
    if not isinstance(content, list):
        raise GapError(INVALID_ENVELOPE, "content: expected a list of content objects")
    data["content"] = content

    name = data.get("name")
    if name not in NAMES:
        inferred = None
        if content and all(isinstance(c, dict) and "op" in c for c in content):
            inferred = "edit"
        elif len(content) == 1 and isinstance(content[0], dict) and "body" in content[0]:
            inferred = "synthesize"
        if inferred is None:
            raise GapError(INVALID_ENVELOPE, f"name: {name!r} is not one of synthesize, edit, handle")
        repairs.append(f"name {name!r} → {inferred!r}" if name is not None else f"inferred name {inferred!r}")
        data["name"] = name = inferred

    meta = data.get("meta")
    if not isinstance(meta, dict):
        if meta is not None:
            repairs.append("replaced a non-object meta")
        meta = {}
    else:
        nulls = [k for k, v in meta.items() if v is None]
        if nulls:
            repairs.append(f"meta: dropped null fields {sorted(nulls)}")
        meta = {k: v for k, v in meta.items() if v is not None}
    want_fmt = fmt or meta.get("format") or "text/html"
    if meta.get("format") != want_fmt:
        if "format" in meta:
            repairs.append(f"meta.format {meta['format']!r} → {want_fmt!r}")
        else:
            repairs.append(f"meta.format set to {want_fmt!r}")
        meta["format"] = want_fmt
    data["meta"] = meta

    if name == "edit":
        data["content"] = [_normalize_op(op, i, want_fmt, repairs) for i, op in enumerate(content)]
        for i, op in enumerate(data["content"]):
            if isinstance(op, dict) and isinstance(op.get("op"), str) and op["op"] not in OPS:
                raise GapError(INVALID_ENVELOPE, f"content[{i}].op: {op['op']!r} is not one of {', '.join(OPS)}", op_index=i)
            if repair_markers and isinstance(op, dict) and op.get("op") == "replace":
                target = op.get("target")
                content_i = op.get("content")
                if (
                    isinstance(target, dict)
                    and target.get("type") == "id"
                    and isinstance(target.get("value"), str)
                    and isinstance(content_i, str)
                ):
                    inner = unwrap_own_marker(content_i, target["value"])
                    if inner is not None:
                        op["content"] = inner
                        repairs.append(f"content[{i}]: {OWN_MARKER_REPAIR}")

    if artifact is not None:
        if data.get("id") != artifact.id:
            repairs.append(f"id {data['id']!r} → {artifact.id!r}" if data.get("id") is not None else f"id set to {artifact.id!r}")
            data["id"] = artifact.id
        want_v = artifact.version + 1
        if data.get("version") != want_v:
            v = data.get("version")
            repairs.append(f"version {v!r} → {want_v}" if v is not None else f"version set to {want_v}")
            data["version"] = want_v
    else:
        if not isinstance(data.get("id"), str) or not data.get("id"):
            repairs.append("id missing: set to 'artifact'")
            data["id"] = "artifact"
        v = data.get("version")
        if type(v) is float and v.is_integer() and v >= 1:
            repairs.append(f"version {v!r} → {int(v)}")
            data["version"] = int(v)
        elif type(v) is str and _digits(v) >= 1:
            repairs.append(f"version {v!r} → {_digits(v)}")
            data["version"] = _digits(v)
        elif not isinstance(v, int) or isinstance(v, bool) or v < 1:
            repairs.append(f"version {v!r} → 1" if v is not None else "version set to 1")
            data["version"] = 1
    return Ingested(envelope_from_data(data), tuple(repairs))
