"""JSON Pointer targeting for JSON and YAML artifacts (GAP §4.2, RFC 6901), format-preserving."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gap_engine import Artifact, GapError, apply_with_splices
from gap_engine.model import PROTOCOL, EditOperation, Envelope, Target
from gap_engine.pointer import apply_pointer_op, escape_token, format_kind, list_paths, parse_pointer, pointer_span

JSON_DOC = """{
  "database": {
    "host": "localhost",
    "port": 5432
  },
  "features": {"dark_mode": false, "beta": true},
  "list": [
    1,
    2,
    3
  ],
  "inline": [1, 2],
  "empty": [],
  "a/b~c": "esc",
  "naïve": "ü",
  "deprecated_field": "x"
}
"""

YAML_DOC = """# Service config
version: "3.9"  # compose version
services:
  web:
    image: nginx:1.27   # pinned
    ports:
      - "80:80"
      - "443:443"
    environment:
      DEBUG: "false"
  db:
    image: postgres
    # the volumes
    volumes:
    - data:/var/lib
empty:
flow: {a: 1, b: [x, y]}
list_of_maps:
  - name: a
    v: 1
  - name: b
    v: 2
"""


def edit(body, fmt, op, ptr, content=None):
    s, e, text = apply_pointer_op(0, EditOperation(op, Target("pointer", ptr), content), body, fmt, "art")
    return body[:s] + text + body[e:]


def only_changed(old: str, new: str, expected_old: str, expected_new: str):
    """The diff between old and new is exactly expected_old → expected_new (one place)."""
    i = old.index(expected_old)
    assert new == old[:i] + expected_new + old[i + len(expected_old) :]


# -- RFC 6901 ---------------------------------------------------------------------------------


def test_parse_pointer_escapes():
    assert parse_pointer("") == []
    assert parse_pointer("/") == [""]
    assert parse_pointer("/a~1b/~0c/0") == ["a/b", "~c", "0"]
    assert parse_pointer("/~01") == ["~1"]
    assert escape_token("a/b~c") == "a~1b~0c"
    for bad in ("a", "/~2", "/~"):
        with pytest.raises(ValueError):
            parse_pointer(bad)


def test_format_kind():
    assert format_kind("application/json") == "json"
    assert format_kind("application/vnd.api+json; charset=utf-8") == "json"
    for f in ("application/yaml", "text/yaml", "text/x-yaml", "application/x-yaml"):
        assert format_kind(f) == "yaml"
    assert format_kind("text/html") is None


# -- JSON -------------------------------------------------------------------------------------

J = "application/json"


def test_json_replace_scalar_touches_only_the_value():
    only_changed(JSON_DOC, edit(JSON_DOC, J, "replace", "/database/host", '"prod-db"'), '"localhost"', '"prod-db"')


def test_json_replace_object_is_reindented():
    new = edit(JSON_DOC, J, "replace", "/database", '{\n  "host": "h",\n  "port": 1\n}')
    assert '  "database": {\n    "host": "h",\n    "port": 1\n  },\n' in new
    assert json.loads(new)["database"] == {"host": "h", "port": 1}


def test_json_escaped_and_unicode_keys():
    only_changed(JSON_DOC, edit(JSON_DOC, J, "replace", "/a~1b~0c", '"ok"'), '"esc"', '"ok"')
    only_changed(JSON_DOC, edit(JSON_DOC, J, "replace", "/naïve", '"ö"'), '"ü"', '"ö"')


@pytest.mark.parametrize(
    "ptr, gone",
    [
        ("/deprecated_field", ',\n  "deprecated_field": "x"'),
        ("/database", '"database": {\n    "host": "localhost",\n    "port": 5432\n  },\n  '),
        ("/features/dark_mode", '"dark_mode": false, '),
        ("/list/1", "2,\n    "),
        ("/list/2", ",\n    3"),
        ("/inline/0", "1, "),
    ],
)
def test_json_delete_removes_member_and_one_comma(ptr, gone):
    only_changed(JSON_DOC, edit(JSON_DOC, J, "delete", ptr), gone, "")


def test_json_delete_only_member_empties_container():
    assert edit('{"only": 1}', J, "delete", "/only") == "{}"
    assert edit('{"a": [\n  1\n]}', J, "delete", "/a/0") == '{"a": []}'


@pytest.mark.parametrize(
    "op, ptr, old, new",
    [
        ("insert_before", "/list/0", "    1,", "    0,\n    1,"),
        ("insert_after", "/list/2", "    3\n", "    3,\n    4\n"),
        ("insert_after", "/list/-", "    3\n", "    3,\n    4\n"),
        ("insert_after", "/inline/-", "[1, 2]", "[1, 2, 4]"),
        ("insert_before", "/inline/1", "[1, 2]", "[1, 4, 2]"),
        ("insert_before", "/empty/-", "[]", "[4]"),
    ],
)
def test_json_inserts_match_the_array_style(op, ptr, old, new):
    content = "0" if ptr == "/list/0" else "4"
    only_changed(JSON_DOC, edit(JSON_DOC, J, op, ptr, content), old, new)


def test_json_insert_into_single_element_multiline_array():
    body = '{\n  "a": [\n    1\n  ]\n}'
    assert edit(body, J, "insert_after", "/a/0", "2") == '{\n  "a": [\n    1,\n    2\n  ]\n}'


def test_json_replace_root():
    assert edit("[1, 2]", J, "replace", "", '{"a": 1}') == '{"a": 1}'


@pytest.mark.parametrize(
    "op, ptr, content, code",
    [
        ("replace", "/nope", "1", "target_not_found"),
        ("replace", "/list/9", "1", "target_not_found"),
        ("replace", "/list/01", "1", "target_not_found"),
        ("replace", "/list/-", "1", "target_not_found"),
        ("delete", "/list/-", None, "target_not_found"),
        ("replace", "/database/host/x", "1", "target_not_found"),
        ("replace", "/database/host", "not json", "invalid_content"),
        ("replace", "/database/host", None, "invalid_content"),
        ("insert_after", "/database/host", "1", "invalid_content"),
        ("insert_after", "/database", "1", "invalid_content"),
        ("replace", "/~2", "1", "invalid_content"),
        ("replace", "x", "1", "invalid_content"),
    ],
)
def test_json_errors_name_the_operation(op, ptr, content, code):
    with pytest.raises(GapError) as ei:
        edit(JSON_DOC, J, op, ptr, content)
    assert ei.value.code == code
    assert "operation 0" in ei.value.message and repr(ptr) in ei.value.message
    assert ei.value.op_index == 0


def test_invalid_document_and_wrong_format():
    with pytest.raises(GapError) as ei:
        edit("{not json", J, "replace", "/a", "1")
    assert ei.value.code == "target_not_found" and "not a valid JSON" in ei.value.message
    with pytest.raises(GapError) as ei:
        edit("<p>x</p>", "text/html", "replace", "/a", "1")
    assert ei.value.code == "invalid_content"


def test_list_paths_and_span():
    paths = list_paths(JSON_DOC, J)
    assert paths[:4] == ["/database", "/database/host", "/database/port", "/features"]
    assert "/a~1b~0c" in paths and "/list/2" in paths and "/empty" in paths
    assert "/list" not in list_paths(JSON_DOC, J, leaves_only=True)
    s, e = pointer_span(JSON_DOC, J, "/database/port")
    assert JSON_DOC[s:e] == "5432"
    assert pointer_span(JSON_DOC, J, "/nope") is None


# -- YAML -------------------------------------------------------------------------------------

Y = "application/yaml"


def test_yaml_replace_scalar_keeps_comments():
    only_changed(YAML_DOC, edit(YAML_DOC, Y, "replace", "/services/web/image", '"nginx:1.28"'), "nginx:1.27", '"nginx:1.28"')
    only_changed(YAML_DOC, edit(YAML_DOC, "text/x-yaml", "replace", "/version", '"3.8"'), '"3.9"', '"3.8"')


def test_yaml_replace_with_block_content_is_indented():
    new = edit(YAML_DOC, Y, "replace", "/services/web/ports", '- "1:1"\n- "2:2"')
    only_changed(YAML_DOC, new, '- "80:80"\n      - "443:443"', '- "1:1"\n      - "2:2"')
    new = edit(YAML_DOC, Y, "replace", "/empty", "a: 1\nb: 2")
    only_changed(YAML_DOC, new, "empty:\n", "empty:\n  a: 1\n  b: 2\n")
    new = edit(YAML_DOC, Y, "replace", "/services/web/ports", '["8080:80"]')
    only_changed(YAML_DOC, new, 'ports:\n      - "80:80"\n      - "443:443"', 'ports: ["8080:80"]')


def test_yaml_pretty_json_content_becomes_block_style():
    new = edit(YAML_DOC, Y, "replace", "/services/web/environment", '{\n  "DEBUG": "true",\n  "X": [1, 2]\n}')
    assert yaml.safe_load(new)["services"]["web"]["environment"] == {"DEBUG": "true", "X": [1, 2]}
    assert "    environment:\n      DEBUG: 'true'\n      X:\n        - 1\n        - 2\n  db:" in new


@pytest.mark.parametrize(
    "ptr, old, new",
    [
        ("/services/web/image", "    image: nginx:1.27   # pinned\n", ""),
        ("/version", 'version: "3.9"  # compose version\n', ""),
        ("/services/db/volumes/0", "volumes:\n    - data:/var/lib", "volumes: []"),
        ("/list_of_maps/0/name", "  - name: a\n    v: 1", "  - v: 1"),
        ("/list_of_maps/1", "\n  - name: b\n    v: 2", ""),
        ("/flow/a", "{a: 1, b: [x, y]}", "{b: [x, y]}"),
        ("/flow/b/1", "[x, y]", "[x]"),
    ],
)
def test_yaml_delete(ptr, old, new):
    only_changed(YAML_DOC, edit(YAML_DOC, Y, "delete", ptr), old, new)


@pytest.mark.parametrize(
    "op, ptr, content, old, new",
    [
        ("insert_after", "/services/web/ports/1", '"8443:443"', '      - "443:443"\n', '      - "443:443"\n      - "8443:443"\n'),
        ("insert_before", "/services/web/ports/0", '"8443:443"', '      - "80:80"\n', '      - "8443:443"\n      - "80:80"\n'),
        ("insert_after", "/services/db/volumes/-", "logs:/var/log", "    - data:/var/lib\n", "    - data:/var/lib\n    - logs:/var/log\n"),
        ("insert_after", "/list_of_maps/-", "name: c\nv: 3", "    v: 2\n", "    v: 2\n  - name: c\n    v: 3\n"),
        ("insert_after", "/flow/b/-", "z", "[x, y]", "[x, y, z]"),
    ],
)
def test_yaml_inserts(op, ptr, content, old, new):
    only_changed(YAML_DOC, edit(YAML_DOC, Y, op, ptr, content), old, new)


def test_yaml_insert_after_item_with_trailing_comment():
    body = "xs:\n  - a  # first\n  - b\n"
    assert edit(body, Y, "insert_after", "/xs/0", "q") == "xs:\n  - a  # first\n  - q\n  - b\n"


def test_yaml_block_scalar_content():
    new = edit(YAML_DOC, Y, "replace", "/services/web/environment/DEBUG", "|\n  multi\n  line")
    assert yaml.safe_load(new)["services"]["web"]["environment"]["DEBUG"] == "multi\nline\n"


def test_yaml_errors():
    with pytest.raises(GapError) as ei:
        edit(YAML_DOC, Y, "replace", "/services/web/image", "a: [")
    assert ei.value.code == "invalid_content"
    with pytest.raises(GapError) as ei:
        edit(YAML_DOC, Y, "replace", "/services/nope", "1")
    assert ei.value.code == "target_not_found" and "'web', 'db'" in ei.value.message
    with pytest.raises(GapError) as ei:
        edit("a: 1\n---\nb: 2\n", Y, "replace", "/a", "2")
    assert ei.value.code == "target_not_found" and "multi-document" in ei.value.message


def test_yaml_anchor_shared_edit_is_refused_not_corrupted():
    body = "base: &b\n  x: 1\nother: *b\n"
    with pytest.raises(GapError) as ei:
        edit(body, Y, "replace", "/base", "2")
    assert ei.value.code == "invalid_content"
    with pytest.raises(GapError) as ei:
        edit(body, Y, "replace", "/other/x", "2")
    assert ei.value.code == "target_not_found" and "alias" in ei.value.message


def test_yaml_list_paths():
    assert list_paths(YAML_DOC, Y)[:3] == ["/version", "/services", "/services/web"]
    s, e = pointer_span(YAML_DOC, Y, "/services/db/volumes")
    assert YAML_DOC[s:e] == "- data:/var/lib"


# -- through apply() ----------------------------------------------------------------------------


def test_apply_pointer_envelope_all_or_nothing():
    art = Artifact("cfg", 1, J, JSON_DOC)
    ops = (
        EditOperation("replace", Target("pointer", "/database/port"), "6543"),
        EditOperation("delete", Target("pointer", "/deprecated_field")),
        EditOperation("insert_after", Target("pointer", "/list/-"), "4"),
    )
    r = apply_with_splices(art, Envelope(PROTOCOL, "cfg", 2, "edit", {"format": J}, ops))
    data = json.loads(r.artifact.body)
    assert data["database"]["port"] == 6543 and "deprecated_field" not in data and data["list"] == [1, 2, 3, 4]
    body = JSON_DOC
    for sp in reversed(r.splices):
        body = body[: sp.start] + sp.text + body[sp.end :]
    assert body == r.artifact.body
    bad = ops + (EditOperation("replace", Target("pointer", "/missing"), "1"),)
    with pytest.raises(GapError) as ei:
        apply_with_splices(art, Envelope(PROTOCOL, "cfg", 2, "edit", {"format": J}, bad))
    assert ei.value.op_index == 3
    assert art.body == JSON_DOC


# -- property: pointer edits change nothing outside the addressed value --------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text("abcé /~\"\\", max_size=6)
)
values = st.recursive(
    scalars,
    lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(st.text("abk/~é", min_size=1, max_size=4), kids, max_size=4)),
    max_leaves=12,
)


def _pointers(v, prefix=""):
    if isinstance(v, dict):
        for k, x in v.items():
            p = prefix + "/" + escape_token(k)
            yield p, x, "obj"
            yield from _pointers(x, p)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            p = f"{prefix}/{i}"
            yield p, x, "arr"
            yield from _pointers(x, p)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=st.dictionaries(st.text("abk", min_size=1, max_size=3), values, min_size=1, max_size=4), indent=st.sampled_from([None, 2, 4]),
       data=st.data(), new=values, pretty=st.booleans())
def test_property_json_pointer_edits_are_local(doc, indent, data, new, pretty):
    body = json.dumps(doc, indent=indent, ensure_ascii=False)
    ptrs = list(_pointers(doc))
    ptr, old_value, where = data.draw(st.sampled_from(ptrs))
    ops = ["replace", "delete"] + (["insert_before", "insert_after"] if where == "arr" else [])
    op = data.draw(st.sampled_from(ops))
    content = None if op == "delete" else json.dumps(new, ensure_ascii=False, indent=2 if pretty else None)
    s, e, text = apply_pointer_op(0, EditOperation(op, Target("pointer", ptr), content), body, J, "x")
    out = body[:s] + text + body[e:]
    json.loads(out)  # still valid (and verified equal to the RFC 6902 edit inside)
    if op == "replace":
        vs, ve = pointer_span(body, J, ptr)
        assert vs <= s and e <= ve  # only the addressed value's text changed
    else:
        # the change stays within the parent container
        parent = ptr.rsplit("/", 1)[0]
        ps, pe = pointer_span(body, J, parent)
        assert ps <= s and e <= pe


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=st.dictionaries(st.text("abk", min_size=1, max_size=3), values, min_size=1, max_size=4), data=st.data(), new=values,
       flow=st.booleans(), style=st.sampled_from(["json", "json-pretty", "yaml-block"]), indent=st.sampled_from([2, 4]),
       seq_indent=st.booleans())
def test_property_yaml_pointer_edits_are_local(doc, data, new, flow, style, indent, seq_indent):
    from gap_engine.pointer import _dumper

    body = yaml.dump(doc, Dumper=_dumper(seq_indent), sort_keys=False, allow_unicode=True, default_flow_style=flow, indent=indent)
    ptrs = list(_pointers(doc))
    ptr, old_value, where = data.draw(st.sampled_from(ptrs))
    ops = ["replace", "delete"] + (["insert_before", "insert_after"] if where == "arr" else [])
    op = data.draw(st.sampled_from(ops))
    if op == "delete":
        content = None
    elif style == "json":
        content = json.dumps(new, ensure_ascii=False)
    elif style == "json-pretty":
        content = json.dumps(new, ensure_ascii=False, indent=2)
    else:
        content = yaml.safe_dump(new, allow_unicode=True, default_flow_style=False)
    s, e, text = apply_pointer_op(0, EditOperation(op, Target("pointer", ptr), content), body, Y, "x")
    out = body[:s] + text + body[e:]
    yaml.safe_load(out)  # (and verified equal to the RFC 6902 edit inside apply_pointer_op)
    parent = ptr.rsplit("/", 1)[0]
    ps, pe = pointer_span(body, Y, parent) if parent else (0, len(body))
    # the one splice stays within the lines of the parent container (a delete may take the
    # line break before the last member of the document with it)
    line_start = body.rfind("\n", 0, ps) + 1
    line_end = body.find("\n", pe)
    line_end = len(body) if line_end < 0 else line_end + 1
    assert max(0, line_start - 1) <= s and e <= line_end, (ptr, op, body, out)
    if op == "replace":
        vs, ve = pointer_span(body, Y, ptr)
        vline = body.rfind("\n", 0, vs) + 1
        if not body[vline:vs].strip(" -"):  # the value starts its line: the key is above
            vline = body.rfind("\n", 0, max(vline - 1, 0)) + 1
        assert vline <= s and e <= ve  # from the key's line at most, to the value's end


def test_yaml_application_tags_are_read_not_refused():
    body = "Resources:\n  Bucket:\n    Properties:\n      Name: !Ref BucketName  # cfn\n      Arn: !GetAtt [B, Arn]\n"
    new = edit(body, Y, "replace", "/Resources/Bucket/Properties/Arn", '"arn:x"')
    assert new == body.replace("!GetAtt [B, Arn]", '"arn:x"')
    new = edit(body, Y, "delete", "/Resources/Bucket/Properties/Name")
    assert new == "Resources:\n  Bucket:\n    Properties:\n      Arn: !GetAtt [B, Arn]\n"
    assert "/Resources/Bucket/Properties/Name" in list_paths(body, Y)


def test_yaml_nested_sequences_and_compact_items():
    body = "m:\n- - a\n  - b\n- - c\n"
    assert edit(body, Y, "insert_before", "/m/0/1", "z") == "m:\n- - a\n  - z\n  - b\n- - c\n"
    assert edit(body, Y, "delete", "/m/0/0") == "m:\n- - b\n- - c\n"
    body = "m:\n  - x: 1\n    y: 2\n"
    assert edit(body, Y, "insert_before", "/m/0", "x: 0\ny: 0") == "m:\n  - x: 0\n    y: 0\n  - x: 1\n    y: 2\n"
    assert edit("k: v\n", Y, "replace", "/k", "emb: colon") == "k:\n  emb: colon\n"
    assert edit("a: {}\n", Y, "replace", "/a", "k: v") == "a:\n  k: v\n"
    assert edit("", Y, "replace", "", "a: 1") == "a: 1"


# -- RFC 8259: NaN and Infinity are not JSON ------------------------------------------------------


@pytest.mark.parametrize("content", ["NaN", "Infinity", "-Infinity", "[1, NaN]", '{"x": Infinity}'])
def test_json_content_with_nan_or_infinity_is_refused(content):
    # Python's json module reads these; writing them would leave a body no JSON parser reads
    with pytest.raises(GapError) as ei:
        edit('{"a": 1, "l": [1]}', J, "replace", "/a", content)
    assert ei.value.code == "invalid_content" and "operation 0" in ei.value.message
    with pytest.raises(GapError):
        edit('{"a": 1, "l": [1]}', J, "insert_after", "/l/0", content)


def test_json_artifact_with_nan_is_not_a_json_document():
    with pytest.raises(GapError) as ei:
        edit('{"a": NaN, "b": 1}', J, "replace", "/b", "2")
    assert ei.value.code == "target_not_found" and "not a valid JSON document" in ei.value.message
    with pytest.raises(GapError):
        list_paths('{"a": NaN}', J)


@pytest.mark.parametrize(
    "content, value",
    [
        (json.dumps("😀 ok"), "😀 ok"),  # json.dumps writes "\ud83d\ude00 ok"
        (json.dumps({"a": ["x😀", 1]}), {"a": ["x😀", 1]}),
        (json.dumps({"a": "😀"}, indent=2), {"a": "😀"}),
        (json.dumps("\\ud83d"), "\\ud83d"),  # an escaped backslash: no surrogate escape at all
    ],
)
def test_yaml_accepts_json_content_with_surrogate_pair_escapes(content, value):
    # GAP §4.2: pointer content is a JSON value; JSON is YAML, even when PyYAML reads no
    # surrogate-pair escapes
    for op, ptr, expected in (
        ("replace", "/x", {"x": value, "y": [1, 2]}),
        ("insert_after", "/y/0", {"x": 1, "y": [1, value, 2]}),
    ):
        new = edit("x: 1\ny: [1, 2]\n", Y, op, ptr, content)
        assert yaml.safe_load(new) == expected


def test_yaml_single_quoted_backslash_u_stays_literal():
    new = edit("x: 1\n", Y, "replace", "/x", "'\\ud83d\\ude00'")
    assert yaml.safe_load(new) == {"x": "\\ud83d\\ude00"}


# -- line breaks and byte order marks -----------------------------------------------------------


def _crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


@pytest.mark.parametrize(
    "fmt, doc, op, ptr, content",
    [
        (J, JSON_DOC, "insert_after", "/list/2", "4"),
        (J, JSON_DOC, "insert_before", "/list/0", "0"),
        (J, JSON_DOC, "replace", "/database", '{\n  "host": "db",\n  "port": 1\n}'),
        (J, JSON_DOC, "delete", "/database/host", None),
        (J, '{"a": [\n  ]}\n', "insert_after", "/a/-", "1"),
        (Y, YAML_DOC, "insert_after", "/services/web/ports/1", '"8080:80"'),
        (Y, YAML_DOC, "insert_before", "/services/web/ports/0", '"8080:80"'),
        (Y, YAML_DOC, "replace", "/empty", "a: 1\nb:\n  - 2\n"),
        (Y, YAML_DOC, "replace", "/version", "|\n  line one\n  line two\n"),
        (Y, YAML_DOC, "delete", "/services/db", None),
        (Y, YAML_DOC, "delete", "/list_of_maps/1", None),
    ],
)
def test_crlf_documents_keep_crlf_line_breaks(fmt, doc, op, ptr, content):
    # an edit of a CRLF file writes CRLF line breaks only (content written with LF or CRLF),
    # and means on the CRLF file what it means on the LF one
    lf = edit(doc, fmt, op, ptr, content)
    for c in (content, None if content is None else _crlf(content)):
        new = edit(_crlf(doc), fmt, op, ptr, c)
        assert "\n" not in new.replace("\r\n", "")
        assert new == _crlf(lf)


def test_lf_document_gets_no_carriage_returns_from_crlf_content():
    new = edit(JSON_DOC, J, "replace", "/database", '{\r\n  "host": "db"\r\n}')
    assert "\r" not in new and json.loads(new)["database"] == {"host": "db"}


@pytest.mark.parametrize("fmt, doc", [(J, JSON_DOC), (Y, YAML_DOC), (J, _crlf(JSON_DOC))])
def test_byte_order_mark_is_kept_and_ignored(fmt, doc):
    # RFC 8259 §8.1: a parser may ignore a leading BOM; the edit keeps it where it was
    ptr, content = ("/database/port", "1") if fmt == J else ("/services/web/image", "caddy")
    plain = edit(doc, fmt, "replace", ptr, content)
    assert edit("\ufeff" + doc, fmt, "replace", ptr, content) == "\ufeff" + plain
    s, e = pointer_span("\ufeff" + doc, fmt, ptr)
    assert ("\ufeff" + doc)[s:e] == doc[s - 1 : e - 1] and doc[s - 1 : e - 1] in ("5432", "nginx:1.27")
    assert list_paths("\ufeff" + doc, fmt) == list_paths(doc, fmt)


@pytest.mark.parametrize("ptr, old", [("/version", '"3.9"'), ("/services/web/image", "nginx:1.27")])
def test_yaml_block_scalar_replaces_a_value_with_a_trailing_comment(ptr, old):
    # the comment after the old value cannot stay after the block scalar's last line (it would
    # become its text): it moves to the scalar's header line, and nothing else changes
    new = edit(YAML_DOC, Y, "replace", ptr, "|\n  line one\n  line two\n")
    expected = yaml.safe_load(YAML_DOC)
    parent, key = (expected, "version") if ptr == "/version" else (expected["services"]["web"], "image")
    parent[key] = "line one\nline two\n"
    assert yaml.safe_load(new) == expected
    comment = "# compose version" if ptr == "/version" else "# pinned"
    assert new.count(comment) == 1
    header = next(line for line in new.splitlines() if comment in line)
    assert header.split("#")[0].rstrip().endswith(": |")


@pytest.mark.parametrize("fmt, doc, ptr", [(J, '{"a": 1, "a": 2, "b": 3}', "/a"), (Y, "a: 1\na: 2\nb: 3\n", "/a"), (Y, "x: {a: 1, a: 2}\n", "/x/a")])
def test_delete_of_a_duplicated_key_is_refused_with_a_clear_message(fmt, doc, ptr):
    with pytest.raises(GapError) as ei:
        edit(doc, fmt, "delete", ptr)
    assert ei.value.code == "invalid_content" and "more than once" in ei.value.message
    assert "anchor" not in ei.value.message


COMPOSE = """x-common: &common
  restart: always
  env: [A, B]
services:
  web:
    <<: *common
    image: nginx
  worker:
    env: *common
"""


def test_yaml_inventory_lists_only_addressable_paths():
    # GAP §5.1: the maintain context picks from the inventory; every path in it must be one an
    # edit can address (an alias or merge key is listed itself, not what it stands for)
    paths = list_paths(COMPOSE, Y)
    assert "/services/web/<<" in paths and "/services/worker/env" in paths
    assert "/services/web/restart" not in paths and "/services/worker/env/restart" not in paths
    for p in paths:
        assert pointer_span(COMPOSE, Y, p) is not None, p
    for p in list_paths(COMPOSE, Y, leaves_only=True):
        # (anchored values are shared and a merge key takes a mapping: refusing those is right)
        if not p.startswith("/x-common") and not p.endswith("/<<"):
            edit(COMPOSE, Y, "replace", p, "1")  # each leaf is replaceable (no error)


def test_yaml_document_with_directives_is_addressable():
    doc = "%YAML 1.2\n---\na: 1\nb: [x]\n"
    assert edit(doc, Y, "replace", "/a", "2") == doc.replace("a: 1", "a: 2")
    assert list_paths(doc, Y) == ["/a", "/b", "/b/0"]
    s, e = pointer_span(doc, Y, "/b/0")
    assert doc[s:e] == "x"


COMMENTED = "r: 1\ns:  # the list\n- a\n- b\nt:  # a map\n  k: v\nu: 2\n"


@pytest.mark.parametrize(
    "ptr, content, value",
    [
        ("/s", '"a b"', "a b"),
        ("/s", "x: 1\ny: [2]\n", {"x": 1, "y": [2]}),
        ("/s", "- q\n- r\n", ["q", "r"]),
        ("/s", "|\n  text\n", "text\n"),
        ("/t", "5", 5),
        ("/t", "- 1\n- 2\n", [1, 2]),
        ("/t", "{z: 1}", {"z": 1}),
    ],
)
def test_yaml_replace_a_value_after_a_comment_on_its_key_line(ptr, content, value):
    # `key:  # comment` then the value on the next lines: the comment stays, and the new value
    # is written where it means what the envelope says (was: a parse error or a sibling key)
    new = edit(COMMENTED, Y, "replace", ptr, content)
    expected = yaml.safe_load(COMMENTED)
    expected[ptr[1:]] = value
    assert yaml.safe_load(new) == expected
    assert "# the list" in new and "# a map" in new


@pytest.mark.parametrize("op, content", [("replace", "3"), ("delete", None), ("replace", "- 2\n- 3\n")])
def test_yaml_edit_dropping_a_used_anchor_says_so(op, content):
    doc = "a: 1\nb: &y [2]\nc: *y\n"
    with pytest.raises(GapError) as ei:
        edit(doc, Y, op, "/b", content)
    assert ei.value.code == "invalid_content" and "anchor" in ei.value.message
    assert "would not parse" not in ei.value.message


def test_yaml_beyond_the_tree_parser_line_limit_is_refused_clearly():
    # tree-sitter-yaml reads at most 32,768 lines (tree-sitter-grammars/tree-sitter-yaml#49):
    # past that its tree is one ERROR, and an edit placed by it would land anywhere; the
    # document is valid YAML, so say what actually failed (and never list partial paths)
    doc = "".join(f"k{i}: {i}\n" for i in range(33_000))
    with pytest.raises(GapError) as ei:
        edit(doc, Y, "replace", "/k1", "2")
    assert ei.value.code == "target_not_found" and "32,768" in ei.value.message
    assert "not a valid YAML document" not in ei.value.message
    with pytest.raises(GapError):
        list_paths(doc, Y)
    small = "".join(f"k{i}: {i}\n" for i in range(30_000))
    assert edit(small, Y, "replace", "/k1", "2") == small.replace("k1: 1\n", "k1: 2\n", 1)


@pytest.mark.parametrize(
    "doc, op, ptr, content, want",
    [
        ("a: 1\nb: |\n  block\n", "replace", "/b", "2", "a: 1\nb: 2\n"),
        ("a: 1\nb: |+\n  block\n\n\n", "replace", "/b", "2", "a: 1\nb: 2\n\n\n"),
        ("a: 1\nb: >\n  block\n  \n", "replace", "/b", "2", "a: 1\nb: 2\n  \n"),
        ("a: 1\nb:\n  - |\n    block\n", "replace", "/b/0", "z", "a: 1\nb:\n  - z\n"),
        ("a: 1\nb:\n  - |\n    block\n", "insert_after", "/b/-", "z", "a: 1\nb:\n  - |\n    block\n  - z\n"),
        ("a: 1\nb:\n  - |\n    block\n", "delete", "/b/0", None, "a: 1\nb: []\n"),
        ("a: 1\nb: |\n  block\n", "delete", "/b", None, "a: 1\n"),
    ],
)
def test_yaml_block_scalar_at_the_end_keeps_the_final_line_break(doc, op, ptr, content, want):
    # tree-sitter-yaml ends a block scalar that closes the document after its line breaks:
    # they are the document's, not the value's, and an edit of the value keeps them
    new = edit(doc, Y, op, ptr, content)
    assert new == want
    assert yaml.safe_load(new) == yaml.safe_load(want)


@pytest.mark.parametrize(
    "doc, ptr, content, want",
    [
        ("name:    foo\nversion: 1\n", "/name", "bar", "name:    bar\nversion: 1\n"),
        ("name:    foo\nversion: 1\n", "/name", "[1, 2]", "name:    [1, 2]\nversion: 1\n"),
        ("name:\tfoo\nversion: 1\n", "/name", "bar", "name:\tbar\nversion: 1\n"),
        ("- a:    1\n  bb:   2\n", "/0/bb", '"x"', '- a:    1\n  bb:   "x"\n'),
        ("name:    foo\nversion: 1\n", "/name", "a: 1\nb: 2", "name:\n  a: 1\n  b: 2\nversion: 1\n"),
    ],
)
def test_yaml_replace_keeps_the_spacing_between_key_and_value(doc, ptr, content, want):
    # aligned values (`name:    foo`) stay aligned: only the value's own text is replaced
    assert edit(doc, Y, "replace", ptr, content) == want


@pytest.mark.parametrize("nl", ["\n", "\r\n"])
def test_span_of_a_block_scalar_that_ends_the_document_is_its_text(nl):
    body = f"a: 1{nl}b: |{nl}  x{nl}{nl}"
    s, e = pointer_span(body, Y, "/b")
    assert body[s:e] == f"|{nl}  x"


@pytest.mark.parametrize(
    "fmt, doc, op, ptr, content",
    [
        (J, JSON_DOC, "insert_after", "/list/2", "4"),
        (J, JSON_DOC, "replace", "/database", '{\n  "host": "db",\n  "port": 1\n}'),
        (J, JSON_DOC, "delete", "/database/host", None),
        (Y, YAML_DOC, "insert_after", "/services/web/ports/1", '"8080:80"'),
        (Y, YAML_DOC, "replace", "/empty", "a: 1\nb:\n  - 2\n"),
        (Y, YAML_DOC, "delete", "/services/db", None),
        (Y, YAML_DOC, "delete", "/version", None),
    ],
)
def test_cr_documents_keep_cr_line_breaks(fmt, doc, op, ptr, content):
    # a lone CR is a line break to YAML (and whitespace to JSON): an edit of a CR-only file
    # means what it means on the LF one and writes CR line breaks
    cr = doc.replace("\n", "\r")
    lf = edit(doc, fmt, op, ptr, content)
    for c in (content, None if content is None else content.replace("\n", "\r")):
        assert edit(cr, fmt, op, ptr, c) == lf.replace("\n", "\r")


def test_pointer_edit_that_leaves_malformed_markers_warns_or_is_refused_when_strict():
    # apply_with_splices: content that leaves markers unbalanced is applied with a warning and
    # refused with strict_markers, whatever addressed it (an id or a pointer)
    art = Artifact("cfg", 1, J, '{"a": "x", "b": "<gap:target id=\\"t\\">1</gap:target>"}')
    env = Envelope(PROTOCOL, "cfg", 2, "edit", {"format": J},
                   (EditOperation("replace", Target("pointer", "/a"), '"<gap:target id=\\"u\\">"'),))
    res = apply_with_splices(art, env)
    assert res.warnings and "malformed markers" in res.warnings[0] and "operation 0" in res.warnings[0]
    with pytest.raises(GapError) as ei:
        apply_with_splices(art, env, strict_markers=True)
    assert ei.value.code == "invalid_content" and "malformed markers" in ei.value.message


_DEEP_YAML_PROBE = r'''
import json, sys
from gap_engine import Artifact, GapError, apply, parse_envelope
from gap_engine.pointer import list_paths, pointer_span

def edit(art_id, pointer, content):
    return parse_envelope(json.dumps({"protocol": "gap/0.1", "id": art_id, "version": 2, "name": "edit",
        "meta": {"format": "application/yaml"},
        "content": [{"op": "replace", "target": {"type": "pointer", "value": pointer}, "content": content}]}))

deep = "- " * 300 + "x\n"  # one line, 300 nested block sequences
nested_keys = "a:\n" + "".join(" " * i + "k:\n" for i in range(1, 300)) + " " * 300 + "v\n"
small = Artifact("s", 1, "application/yaml", "a: 1\nb: 2\n")
out = {}
for name, body in (("dashes", deep), ("keys", nested_keys)):
    try:
        list_paths(body, "application/yaml")
        out[name + ".list_paths"] = "listed"
    except GapError as err:
        out[name + ".list_paths"] = err.code + ": " + err.message
    out[name + ".pointer_span"] = pointer_span(body, "application/yaml", "/a")
    for what, (art, env) in {
        "artifact": (Artifact("d", 1, "application/yaml", body), edit("d", "/a", "1")),
        "content": (small, edit("s", "/a", body)),
    }.items():
        try:
            apply(art, env)
            out[name + "." + what] = "applied"
        except GapError as err:
            out[name + "." + what] = err.code + ": " + err.message
print(json.dumps(out))
'''


def test_yaml_nested_deeper_than_tree_sitter_survives_is_refused_not_a_crash():
    """tree-sitter-yaml crashes the process on block nesting about 255 levels deep
    (tree-sitter-grammars/tree-sitter-yaml#48): such an artifact or content is refused with a
    GapError saying why, and never reaches the parser. Run in a child process, so that a
    regression fails this test instead of killing the test run."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    engine = str(Path(__file__).resolve().parents[2] / "engine")
    env = {**os.environ, "PYTHONPATH": engine + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", _DEEP_YAML_PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, f"the probe died with {proc.returncode}: {proc.stderr[-800:]}"
    out = json.loads(proc.stdout)
    for name in ("dashes", "keys"):
        assert out[name + ".list_paths"].startswith("invalid_content: list_paths: the artifact does not parse (nested up to")
        assert out[name + ".pointer_span"] is None
        assert out[name + ".artifact"].startswith("target_not_found: operation 0 (replace on pointer '/a'): the pointer cannot be resolved, the artifact is nested up to")
        assert out[name + ".content"].startswith("invalid_content: operation 0 (replace on pointer '/a'): the content is nested up to")
        assert "tree-sitter-yaml#48" in out[name + ".artifact"]
