"""The ``gap`` command line (engine/gap_engine/cli.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gap_engine.cli import main

HTML = '<ul><gap:target id="list" label="Items">a, b</gap:target><gap:target id="n">1</gap:target></ul>\n'


def env(ops, version=2, id_="page", fmt="text/html"):
    return json.dumps({"protocol": "gap/0.1", "id": id_, "version": version, "name": "edit", "meta": {"format": fmt}, "content": ops})


@pytest.fixture
def files(tmp_path: Path):
    f = tmp_path / "page.html"
    f.write_text(HTML)
    e = tmp_path / "edit.json"
    e.write_text(env([{"op": "insert_after", "target": {"type": "id", "value": "list"}, "content": ", c"}]))
    return f, e


def run(argv, capsysbinary):
    code = main(argv)
    out, err = capsysbinary.readouterr()
    return code, out.decode(), err.decode()


def test_apply_prints_new_body(files, capsysbinary):
    f, e = files
    code, out, err = run(["apply", str(f), str(e)], capsysbinary)
    assert code == 0 and err == ""
    assert out == HTML.replace("a, b<", "a, b, c<")
    assert f.read_text() == HTML


def test_apply_in_place_and_json(files, capsysbinary):
    f, e = files
    code, out, _ = run(["apply", str(f), str(e), "--in-place"], capsysbinary)
    assert code == 0 and out == ""
    assert f.read_text() == HTML.replace("a, b<", "a, b, c<")
    f.write_text(HTML)
    code, out, _ = run(["apply", str(f), str(e), "--json"], capsysbinary)
    data = json.loads(out)
    assert data["splices"] == [{"start": HTML.index("</gap:target>"), "end": HTML.index("</gap:target>"), "text": ", c"}]
    assert data["handle"]["name"] == "handle" and [t["id"] for t in data["handle"]["content"][0]["targets"]] == ["list", "n"]


def test_apply_rejection_writes_nothing(files, capsysbinary):
    f, e = files
    e.write_text(env([{"op": "replace", "target": {"type": "id", "value": "nope"}, "content": "x"}]))
    code, out, err = run(["apply", str(f), str(e), "--in-place"], capsysbinary)
    assert code == 1 and out == ""
    data = json.loads(err)
    assert data["code"] == "target_not_found" and "nope" in data["message"]
    assert f.read_text() == HTML


def test_apply_lenient_repairs_model_output(files, capsysbinary):
    f, e = files
    e.write_text('Here you go:\n```json\n{"protocol": "gap", "content": [{"op": "replace", "target": {"type": "id", "value": "n"}, "content": "2"},]}\n```')
    code, out, err = run(["apply", str(f), str(e)], capsysbinary)
    assert code == 1  # strict by default
    code, out, err = run(["apply", str(f), str(e), "--lenient"], capsysbinary)
    assert code == 0 and ">2</gap:target>" in out and "repaired" in err


def test_apply_pointer_on_json_file(tmp_path, capsysbinary):
    f = tmp_path / "cfg.json"
    f.write_text('{\n  "db": {"host": "a"},\n  "x": 1\n}\n')
    e = tmp_path / "e.json"
    e.write_text(env([{"op": "replace", "target": {"type": "pointer", "value": "/db/host"}, "content": '"b"'}], fmt="application/json"))
    code, out, _ = run(["apply", str(f), str(e)], capsysbinary)
    assert code == 0 and out == '{\n  "db": {"host": "b"},\n  "x": 1\n}\n'


def test_targets_tree_and_json(files, capsysbinary):
    f, _ = files
    code, out, _ = run(["targets", str(f)], capsysbinary)
    assert code == 0 and out.splitlines() == ["list label='Items'  (line 1)", "n  (line 1)"]
    code, out, _ = run(["targets", str(f), "--json"], capsysbinary)
    data = json.loads(out)
    assert [t["id"] for t in data["targets"]] == ["list", "n"] and data["problems"] == []
    f.write_text('<gap:target id="a"><gap:target id="b">x</gap:target>')
    code, out, _ = run(["targets", str(f)], capsysbinary)
    assert "! unclosed" in out


def test_strip_and_paths(files, tmp_path, capsysbinary):
    f, _ = files
    code, out, _ = run(["strip", str(f)], capsysbinary)
    assert out == "<ul>a, b1</ul>\n"
    y = tmp_path / "c.yaml"
    y.write_text("a:\n  b: [1, 2]\n")
    code, out, _ = run(["paths", str(y)], capsysbinary)
    assert out.split() == ["/a", "/a/b", "/a/b/0", "/a/b/1"]


def test_validate(files, tmp_path, capsysbinary):
    _, e = files
    code, out, _ = run(["validate", str(e)], capsysbinary)
    assert code == 0 and out.startswith("ok: edit envelope for 'page' version 2 (1 operation")
    bad = tmp_path / "bad.json"
    bad.write_text(env([{"op": "explode", "target": {"type": "id", "value": "x"}}]))
    code, out, err = run(["validate", str(bad)], capsysbinary)
    assert code == 1 and json.loads(err)["code"] == "invalid_envelope" and "content[0].op" in json.loads(err)["message"]


def test_usage_errors(tmp_path, capsysbinary):
    code, _, err = run(["apply", str(tmp_path / "missing.html"), str(tmp_path / "e.json")], capsysbinary)
    assert code == 2 and "cannot read" in err
    with pytest.raises(SystemExit):
        main(["frobnicate"])


def test_replay_command(evals_dir, capsysbinary):
    code, out, _ = run(["replay", str(evals_dir)], capsysbinary)
    assert code == 0, out
    assert "agree" in out.splitlines()[-1]


def test_console_script_runs(files):
    f, e = files
    exe = Path(sys.executable).with_name("gap")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "gap_engine"]
    p = subprocess.run(cmd + ["apply", str(f), str(e)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "a, b, c" in p.stdout


def test_envelope_with_byte_order_mark_is_read(files, capsysbinary):
    # editors on Windows save JSON with a BOM; RFC 8259 §8.1 lets a parser ignore it
    f, e = files
    e.write_bytes(b"\xef\xbb\xbf" + e.read_bytes())
    code, out, err = run(["validate", str(e)], capsysbinary)
    assert code == 0, err
    code, out, err = run(["apply", str(f), str(e)], capsysbinary)
    assert code == 0 and err == "" and out == HTML.replace("a, b<", "a, b, c<")
    code, out, err = run(["apply", str(f), str(e), "--lenient"], capsysbinary)
    assert code == 0 and "around the JSON" not in err and out == HTML.replace("a, b<", "a, b, c<")


def test_in_place_through_a_symlink_rewrites_the_target_and_keeps_the_link(files, capsysbinary):
    f, e = files
    link = f.with_name("link.html")
    link.symlink_to(f.name)
    code, out, err = run(["apply", str(link), str(e), "--in-place"], capsysbinary)
    assert code == 0, err
    assert link.is_symlink() and f.read_text() == HTML.replace("a, b<", "a, b, c<")


def test_format_comes_from_the_envelope_when_the_extension_says_nothing(tmp_path, capsysbinary):
    doc = '{\n  "db": {"host": "a"}\n}\n'
    f = tmp_path / "settings"  # no extension
    f.write_text(doc)
    e = tmp_path / "e.json"
    ops = [{"op": "replace", "target": {"type": "pointer", "value": "/db/host"}, "content": '"b"'}]
    e.write_text(env(ops, fmt="application/json"))
    code, out, err = run(["apply", str(f), str(e)], capsysbinary)
    assert code == 0, err
    assert out == doc.replace('"a"', '"b"')
    code, out, err = run(["apply", str(f), str(e), "--lenient"], capsysbinary)
    assert code == 0 and out == doc.replace('"a"', '"b"'), err
    # --format still wins, and the envelope's format does not override a known extension
    code, out, err = run(["apply", str(f), str(e), "--format", "text/plain"], capsysbinary)
    assert code == 1 and json.loads(err)["code"] == "invalid_content"
    g = tmp_path / "page.html"
    g.write_text(doc)
    code, out, err = run(["apply", str(g), str(e)], capsysbinary)
    assert code == 1 and "not 'text/html'" in json.loads(err)["message"]


def test_in_place_write_failure_is_an_io_error_not_a_traceback(files, capsysbinary, monkeypatch):
    # e.g. an immutable or read-only directory: exit 2 with a message, the file untouched
    import tempfile

    def refuse(*a, **k):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    f, e = files
    code, out, err = run(["apply", str(f), str(e), "--in-place"], capsysbinary)
    assert code == 2 and "cannot write" in err and "Operation not permitted" in err and out == ""
    assert f.read_text() == HTML


def test_apply_verifies_meta_checksum(files, capsysbinary):
    # GAP §3.1.1 / §10: meta.checksum is the sha256 of the resolved content; a mismatch means
    # the envelope was meant for another body: refuse it and write nothing
    import hashlib

    f, e = files
    ops = [{"op": "insert_after", "target": {"type": "id", "value": "list"}, "content": ", c"}]
    expected = HTML.replace("a, b<", "a, b, c<")
    good = "sha256:" + hashlib.sha256(expected.encode()).hexdigest()
    data = json.loads(env(ops))
    data["meta"]["checksum"] = good
    e.write_text(json.dumps(data))
    code, out, err = run(["apply", str(f), str(e), "--in-place"], capsysbinary)
    assert code == 0 and f.read_text() == expected, err
    f.write_text(HTML)
    data["meta"]["checksum"] = "sha256:" + hashlib.sha256(b"something else").hexdigest()
    e.write_text(json.dumps(data))
    code, out, err = run(["apply", str(f), str(e), "--in-place"], capsysbinary)
    assert code == 1 and json.loads(err)["code"] == "invalid_content" and "checksum" in json.loads(err)["message"]
    assert f.read_text() == HTML


def test_synthesize_creates_a_missing_file(tmp_path, capsysbinary):
    # GAP §4.1: synthesize is creation; the file it names need not exist yet
    body = '<p><gap:target id="a">hi</gap:target></p>\n'
    e = tmp_path / "s.json"
    e.write_text(json.dumps({"protocol": "gap/0.1", "id": "p", "version": 1, "name": "synthesize", "meta": {"format": "text/html"}, "content": [{"body": body}]}))
    f = tmp_path / "new.html"
    code, out, err = run(["apply", str(f), str(e)], capsysbinary)
    assert code == 0 and out == body and not f.exists(), err
    code, out, err = run(["apply", str(f), str(e), "--in-place"], capsysbinary)
    assert code == 0 and f.read_text() == body, err
    assert f.stat().st_mode & 0o777 != 0o600  # a normal file, not mkstemp's private mode
    # an edit still needs the file
    g = tmp_path / "other.html"
    e.write_text(env([{"op": "delete", "target": {"type": "id", "value": "a"}}]))
    code, out, err = run(["apply", str(g), str(e)], capsysbinary)
    assert code == 2 and "cannot read" in err


def test_strict_markers_refuses_content_that_breaks_markers(files, capsysbinary):
    f, e = files
    e.write_text(env([{"op": "replace", "target": {"type": "id", "value": "n"}, "content": '<gap:target id="x">unclosed'}]))
    code, out, err = run(["apply", str(f), str(e), "--in-place"], capsysbinary)
    assert code == 0 and "warning" in err and "unclosed" in f.read_text()  # the default: applied, with a warning
    f.write_text(HTML)
    code, out, err = run(["apply", str(f), str(e), "--in-place", "--strict-markers"], capsysbinary)
    assert code == 1 and out == "" and f.read_text() == HTML
    data = json.loads(err)
    assert data["code"] == "invalid_content" and "operation 0" in data["message"]


@pytest.mark.parametrize("extra", [[], ["--in-place"], ["--json"]])
def test_apply_content_that_is_not_unicode_is_refused_not_a_traceback(files, capsysbinary, extra):
    # a lone surrogate escape ("\ud800") is valid JSON but cannot be written as UTF-8
    f, e = files
    e.write_text(env([{"op": "replace", "target": {"type": "id", "value": "n"}, "content": "\ud800"}]))
    code, out, err = run(["apply", str(f), str(e), *extra], capsysbinary)
    assert code == 1 and out == ""
    assert json.loads(err)["code"] == "invalid_content" and "surrogate" in json.loads(err)["message"]
    assert f.read_text() == HTML


@pytest.mark.parametrize("bad", ["turn", "metrics"])
def test_replay_of_unreadable_recordings_is_an_io_error_not_a_traceback(tmp_path, capsysbinary, bad):
    gap = tmp_path / "exp" / "outputs" / "gap"
    gap.mkdir(parents=True)
    (gap / "turn-0.html").write_text(HTML)
    (gap / "turn-1.html").write_text(HTML)
    (gap / "turn-1.json").write_bytes(b"\xff\xfe not UTF-8" if bad == "turn" else env([]).encode())
    (tmp_path / "exp" / "metrics.json").write_text('["not", "an", "object"]' if bad == "metrics" else "{}")
    code, out, err = run(["replay", str(tmp_path)], capsysbinary)
    if bad == "turn":
        assert code == 2 and "turn-1.json" in err and "UTF-8" in err
    else:  # a metrics.json that says nothing usable: the format comes from the extension
        assert code == 0 and "1/1 agree" in out
