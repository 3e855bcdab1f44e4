"""Prompts for the maintain and init contexts (GAP §5.1 "Producer System Prompt
Requirements", §7.1 memory model, §7.3 recovery).

Every function returns a list of chat messages (``{"role", "content"}``); nothing here keeps
state between calls — each maintain call is a fresh context: system prompt + the current
artifact + the closed address inventory + the instruction (GAP §7.1). Repair prompts extend
that one call's messages with the rejected answer and the engine's error (GAP §7.3).
"""

from __future__ import annotations

import json
from typing import Iterable

from gap_engine import Artifact, GapError
from gap_engine.markers import TargetSpan

__all__ = [
    "address_mode",
    "add_targets_messages",
    "fallback_messages",
    "init_messages",
    "inventory",
    "list_pointer_paths",
    "maintain_messages",
    "repair_messages",
]

_JSON = ("application/json", "text/json")
_YAML = ("application/yaml", "text/yaml", "text/x-yaml", "application/x-yaml")
MAX_INVENTORY = 1500


def _kind(fmt: str) -> str | None:
    base = (fmt or "").split(";", 1)[0].strip().lower()
    if base in _JSON or base.endswith("+json"):
        return "json"
    if base in _YAML or base.endswith("+yaml"):
        return "yaml"
    return None


def address_mode(artifact: Artifact) -> str:
    """``"pointer"`` for JSON artifacts and for YAML artifacts without markers, else ``"id"``
    (GAP §4.2 target union, §5.1 targeting mode table)."""
    k = _kind(artifact.format)
    if k == "json":
        return "pointer"
    if k == "yaml" and not artifact.targets:
        return "pointer"
    return "id"


def list_pointer_paths(body: str, fmt: str) -> list[str]:
    """The JSON Pointers of a JSON/YAML body: ``gap_engine.pointer.list_paths`` when the engine
    has it, else a local walk. Empty when the body does not parse."""
    try:
        from gap_engine.pointer import list_paths  # type: ignore

        return list(list_paths(body, fmt))
    except ImportError:
        pass
    except GapError:
        return []
    try:
        if _kind(fmt) == "json":
            value = json.loads(body)
        else:
            import yaml

            value = yaml.safe_load(body)
    except Exception:  # noqa: BLE001
        return []
    out: list[str] = []

    def esc(t: str) -> str:
        return t.replace("~", "~0").replace("/", "~1")

    def walk(v, prefix):
        items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
        for k, x in items:
            p = f"{prefix}/{esc(str(k))}"
            out.append(p)
            walk(x, p)

    walk(value, "")
    return out


def _target_lines(artifact: Artifact) -> list[str]:
    lines = []
    idx = artifact.index()
    for info in artifact.targets:
        span: TargetSpan | None = idx.get(info.id)
        depth = span.depth if span is not None else 0
        extra = []
        if info.type:
            extra.append(f"type={info.type}")
        if info.label:
            extra.append(f"label={info.label!r}")
        if info.accepts:
            extra.append(f"accepts={info.accepts}")
        lines.append("  " * depth + "- " + info.id + (f" ({', '.join(extra)})" if extra else ""))
    return lines


def inventory(artifact: Artifact) -> tuple[str, list[str]]:
    """``(mode, lines)``: the closed list of valid addresses of ``artifact`` — target ids
    (nested by indentation, with ``type``/``label``/``accepts`` hints; GAP §7.2, §7.4) or JSON
    Pointers (GAP §5.1 ``list_paths()``), capped at 1,500 lines."""
    mode = address_mode(artifact)
    if mode == "pointer":
        paths = list_pointer_paths(artifact.body, artifact.format)
        lines = [f"- {p}" for p in paths[:MAX_INVENTORY]]
        if len(paths) > MAX_INVENTORY:
            lines.append(f"- … and {len(paths) - MAX_INVENTORY} more paths of the same shapes")
    else:
        lines = _target_lines(artifact)
        if len(lines) > MAX_INVENTORY:
            more = len(lines) - MAX_INVENTORY
            lines = lines[:MAX_INVENTORY] + [f"- … and {more} more targets (ids as marked in the artifact)"]
    return mode, lines


_MAINTAIN_COMMON = """You are a GAP maintain context (Generative Artifact Protocol). You receive an artifact, the closed list of its valid {what}, and an edit instruction. You answer with a small EDIT, never with the whole artifact.

Rules:
- Address only {what} from the list given. Never invent {what_short}; if nothing in the list fits exactly, pick the smallest listed {one} that contains the place to change.
- Ops: replace (new content of the target), insert_before (insert at the start, inside the target), insert_after (insert at the end, inside the target), delete (empty the target).
- {content_rule}
- Keep every <gap:target id="…"> marker that sits inside the content you replace, unless the instruction removes that part; new regions that may change later get new markers with role-based ids.
- Several changes = several operations in one answer. Do not re-emit unchanged text.
- Answer with the edit only: no explanation."""

_BLOCKS_FORMAT = """Answer format: plain-text edit blocks, one per operation. A block is a header line `<<< OP TARGET`, then the new content as raw text (no escaping, no quotes, no Markdown fences), then a line `>>>`. `delete` has a header line only. Example:

<<< replace revenue-value
$15,720
>>>
<<< insert_after orders-rows
<tr><td>#1002</td><td>Grace</td></tr>
>>>
<<< delete promo-banner

If the content itself contains a line `>>>`, open with `<<<<` and close with `>>>>`."""

_BLOCKS_FORMAT_POINTER = """Answer format: plain-text edit blocks, one per operation. A block is a header line `<<< OP /json/pointer`, then the new value as raw JSON text, then a line `>>>`. `delete` has a header line only. Example:

<<< replace /pagination/page
3
>>>
<<< insert_after /data/0
{"id": 99, "role": "admin"}
>>>
<<< delete /data/7"""

_JSON_FORMAT = """Answer format: one JSON edit envelope and nothing else:

{{"protocol": "gap/0.1", "id": "{id}", "version": {version}, "name": "edit", "meta": {{"format": "{format}"}}, "content": [
  {{"op": "replace", "target": {{"type": "{ttype}", "value": "{example}"}}, "content": {example_content}}}
]}}

The new text goes in each operation's "content" string (JSON-escaped)."""


def maintain_system_prompt(artifact: Artifact, syntax: str) -> str:
    """The maintain context's system prompt for ``artifact`` asking for ``syntax``
    (``"blocks"`` or ``"json"``) — GAP §5.1 maintain prompt requirements."""
    mode = address_mode(artifact)
    if mode == "pointer":
        common = _MAINTAIN_COMMON.format(
            what="JSON Pointer paths",
            what_short="paths",
            one="path",
            content_rule="For replace and inserts the content is a JSON value (for YAML: a YAML or JSON value). insert_before/insert_after address an existing array element.",
        )
        fmt = _BLOCKS_FORMAT_POINTER if syntax == "blocks" else _JSON_FORMAT.format(
            id=artifact.id, version=artifact.version + 1, format=artifact.format, ttype="pointer", example="/path/to/value", example_content='"\\"new value\\""'
        )
    else:
        common = _MAINTAIN_COMMON.format(
            what="target ids",
            what_short="ids",
            one="target",
            content_rule="The content replaces or extends the text BETWEEN the target's markers; the markers themselves stay.",
        )
        fmt = _BLOCKS_FORMAT if syntax == "blocks" else _JSON_FORMAT.format(
            id=artifact.id, version=artifact.version + 1, format=artifact.format, ttype="id", example="target-id", example_content='"new content"'
        )
    return common + "\n\n" + fmt


def _artifact_block(artifact: Artifact) -> str:
    return f"Artifact (id {artifact.id}, version {artifact.version}, format {artifact.format}):\n<artifact>\n{artifact.body}\n</artifact>"


def maintain_messages(artifact: Artifact, instruction: str, *, syntax: str = "blocks", target_id: str | None = None) -> list[dict]:
    """The maintain context for one edit (GAP §7.1): system prompt, then one user message
    with the artifact, the closed inventory, the optional selected target and the instruction."""
    mode, lines = inventory(artifact)
    head = "Valid target ids (closed list; nesting shown by indentation):" if mode == "id" else "Valid JSON Pointer paths (closed list):"
    parts = [_artifact_block(artifact), head + "\n" + ("\n".join(lines) if lines else "(none)")]
    if target_id:
        parts.append(f"The user selected target: {target_id} — edit inside it unless the instruction says otherwise.")
    parts.append(f"Instruction: {instruction}")
    return [
        {"role": "system", "content": maintain_system_prompt(artifact, syntax)},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def repair_messages(messages: list[dict], answer: str, error: str, artifact: Artifact, *, syntax: str, instruction: str) -> list[dict]:
    """``messages`` plus the rejected ``answer`` and a repair request carrying the engine's
    ``error`` and the valid addresses again (GAP §7.3 steps 1–3)."""
    mode, lines = inventory(artifact)
    what = "target ids" if mode == "id" else "JSON Pointer paths"
    shape = "edit blocks" if syntax == "blocks" else "one JSON edit envelope"
    listing = "\n".join(lines[:300]) + ("\n- …" if len(lines) > 300 else "")
    fix = (
        f"The apply engine rejected your answer, and nothing was changed:\n{error}\n\n"
        f"Valid {what} (use only these):\n{listing}\n\n"
        f"Answer again with corrected {shape} for the same instruction: {instruction}"
    )
    return list(messages) + [{"role": "assistant", "content": answer}, {"role": "user", "content": fix}]


_FALLBACK_REGION = """You rewrite ONE region of an artifact according to an instruction. Output only the new text of that region — raw, no Markdown fences, no explanation, no surrounding markers of the region itself. Keep every <gap:target id="…"> marker inside the region (with its id) unless the instruction removes that part."""

_FALLBACK_WHOLE = """You rewrite an artifact according to an instruction. Output the complete new artifact — raw, no Markdown fences, no explanation. Keep every <gap:target id="…"> marker (with its id) unless the instruction removes that part; for JSON output valid JSON."""


def fallback_messages(artifact: Artifact, instruction: str, target_id: str | None) -> list[dict]:
    """A full regeneration of target ``target_id``'s content, or of the whole artifact when
    None (GAP §5.1 "If repair fails, … fall back to full regeneration")."""
    if target_id is not None:
        span = artifact.index().get(target_id)
        region = artifact.body[span.content_start : span.content_end] if span is not None else ""
        user = (
            f"{_artifact_block(artifact)}\n\nRegion to rewrite: the content of target {target_id!r}, currently:\n"
            f"<region>\n{region}\n</region>\n\nInstruction: {instruction}"
        )
        return [{"role": "system", "content": _FALLBACK_REGION}, {"role": "user", "content": user}]
    return [
        {"role": "system", "content": _FALLBACK_WHOLE},
        {"role": "user", "content": f"{_artifact_block(artifact)}\n\nInstruction: {instruction}"},
    ]


_INIT_MARKERS = """You are a GAP init context (Generative Artifact Protocol): you create a new artifact of format {format}, instrumented with target markers so that later edits can replace one marked region instead of regenerating the document.

RULES (mandatory):
- Wrap EVERY independently-updatable value in its own marker `<gap:target id="ID">value</gap:target>`: every metric, price, count, date, label, status badge, setting, list, table body and row group that could change later.
- ALSO wrap every section (navigation, header, each card group, each table, each form, each function or class, each config block) in a coarse marker, with the fine-grained value markers nested inside it.
- Ids name the ROLE, not the current value: `total-revenue`, `orders-table-body`, `nav`, `page-size` — never `id="215430"`. Ids are unique.
- Optional attributes help later edits: `type="section"` or `type="value"`, and `accepts="tr*"` on a target that holds table rows (`li*` for list items).
- A single marker around the whole document is WRONG: if a later edit could only target the document root, the markers are too coarse. Aim for 5–15 section targets with value targets inside.

Example of the required granularity:

<gap:target id="stats" type="section">
  <div class="card">
    <h3>Revenue</h3>
    <span class="value"><gap:target id="total-revenue" type="value">$12,340</gap:target></span>
    <small><gap:target id="revenue-trend" type="value">+4.1%</gap:target></small>
  </div>
</gap:target>
<gap:target id="orders-table-body" accepts="tr*">
  <tr><td>#1001</td><td>Ada</td></tr>
</gap:target>

Output the artifact itself — raw {format}, no Markdown fences, no explanation."""

_INIT_JSON = """You are a GAP init context (Generative Artifact Protocol): you create a new {format} artifact. Do NOT emit <gap:target> markers: later edits address values by JSON Pointer. Use stable object keys, arrays of records with explicit "id" fields, and predictable nesting so every value that may change has a short stable path.

Output the document itself — raw, valid {format}, no Markdown fences, no explanation."""


def init_messages(instruction: str, fmt: str) -> list[dict]:
    """The init context for a ``synthesize`` (GAP §5.1 init prompt requirements: per-value
    markers with a nested example and "one root marker is wrong"; clean JSON for JSON)."""
    system = (_INIT_JSON if _kind(fmt) == "json" else _INIT_MARKERS).format(format=fmt)
    return [{"role": "system", "content": system}, {"role": "user", "content": instruction}]


_ADD_TARGETS = """You are a GAP init context (Generative Artifact Protocol). You receive an existing artifact without target markers and add them, so later edits can replace one marked region instead of regenerating the document.

RULES (mandatory):
- Insert `<gap:target id="ID">` … `</gap:target>` markers and change NOTHING else: every other character, space and line break of the artifact stays exactly as it is.
- Mark every section (coarse) and, nested inside, every independently-updatable value (fine): numbers, labels, statuses, settings, list and table bodies, functions.
- Ids name the role, not the value (`total-revenue`, `nav`, `page-size`); unique; optional `type="section"`/`type="value"` and `accepts="tr*"`-style hints.
- A single marker around the whole document is WRONG.

Output the complete artifact with the markers — raw, no Markdown fences, no explanation."""


def add_targets_messages(artifact: Artifact, instruction: str | None = None) -> list[dict]:
    """Ask the model to mark up an existing, unmarked artifact (the "Add targets with the
    model" action); the answer must equal the artifact once its markers are stripped."""
    user = f"{_artifact_block(artifact)}\n\nAdd GAP target markers" + (f". {instruction}" if instruction else ".")
    return [{"role": "system", "content": _ADD_TARGETS}, {"role": "user", "content": user}]


def strip_fences(text: str) -> str:
    """A model's raw answer without one surrounding Markdown fence (and prose before it)."""
    s = text.strip("\n")
    lines = s.split("\n")
    if len(lines) >= 2:
        first = next((i for i, l in enumerate(lines) if l.lstrip().startswith("```")), None)
        if first is not None and first <= 2:
            last = max((i for i, l in enumerate(lines) if l.strip() == "```" and i > first), default=None)
            if last is not None:
                return "\n".join(lines[first + 1 : last])
            if first == 0:
                return "\n".join(lines[1:])
    return text


def messages_text(messages: Iterable[dict]) -> str:
    """All message contents joined (for counting input tokens)."""
    return "\n".join(str(m.get("content") or "") for m in messages)
