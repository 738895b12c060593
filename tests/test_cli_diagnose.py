"""``python -m tiedemb diagnose``: the "should I tie?" diagnostic on a text file; bad input exits 2."""

from __future__ import annotations

import pytest

from tiedemb.cli import main

TEXT = "The cat sat on the mat. The dog sat on the mat.\n" * 30 + "A cat ran home. A dog ran home.\n" * 30


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "toy.txt"
    path.write_text(TEXT, encoding="utf8")
    return path


def test_diagnose_text_file(text_file, capsys):
    assert main(["diagnose", str(text_file), "--pairs", "cat/dog,the/a"]) == 0
    out = capsys.readouterr().out
    assert "cat / dog" in out and "the / a" in out and "DH" in out


@pytest.mark.parametrize("args, message", [
    (["--pairs", "cat"], "bad pair 'cat'"),
    (["--pairs", "cat/cat"], "must differ"),
    (["--pairs", "cat/zebra"], "never occur"),
    (["--pairs", "cat/dog", "--window", "0"], "--window must be a positive integer"),
    (["--pairs", "cat/dog", "--permutations", "x"], "--permutations must be a positive integer"),
])
def test_diagnose_bad_input(text_file, capsys, args, message):
    assert main(["diagnose", str(text_file), *args]) == 2
    assert message in capsys.readouterr().err


def test_diagnose_missing_and_empty_files(tmp_path, capsys):
    assert main(["diagnose", str(tmp_path / "nope.txt"), "--pairs", "a/b"]) == 2
    assert "no such text file" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf8")
    assert main(["diagnose", str(empty), "--pairs", "a/b"]) == 2
    assert "empty" in capsys.readouterr().err


def test_diagnose_needs_one_source(capsys):
    assert main(["diagnose", "--pairs", "a/b"]) == 2
    assert "exactly one of FILE or --wikipedia" in capsys.readouterr().err
