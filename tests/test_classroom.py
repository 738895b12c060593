"""Classroom assignments with nbgrader: every chapter's student version, and grading that gives the reference solutions
full marks, the untouched student version zero, and a planted wrong answer the checker's message; a batch survives a
submission that raises, one that runs past the time limit and a corrupt file.

To stay within the test budget, the chapter submissions are graded with ``only_exercises`` (the chapter's first code
cell and its exercises section: every graded exercise needs only the imports), so no training cell runs; the graded
run of a whole chapter is what nbval already executes.
"""

import csv
import io
import re

import nbformat
import pytest

pytest.importorskip("nbgrader")

from tiedemb import classroom  # noqa: E402
from tiedemb.cli import main  # noqa: E402

CHAPTERS = classroom.chapters()
NAMES = [c.name for c in CHAPTERS]


def _meta(cell):
    return cell.metadata.get("nbgrader", {})


def test_every_chapter_has_a_graded_and_a_written_exercise():
    assert len(CHAPTERS) == 8, NAMES
    for c in CHAPTERS:
        kinds = {e.kind for e in c.exercises}
        assert kinds == {classroom.GRADED, classroom.WRITTEN}, c.name


def test_graded_tests_call_a_checker_and_are_hidden_from_book_and_students():
    for c in CHAPTERS:
        nb = nbformat.read(str(c.path), as_version=4)
        for cell in nb.cells:
            meta = _meta(cell)
            if meta.get("grade") and not meta.get("solution"):
                assert "remove-cell" in cell.metadata.get("tags", []), (c.name, meta["grade_id"])
                hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1]
                assert re.search(r"check_\w+\(\w+\)\.require\(\)", hidden), (c.name, cell.source)


def _answer_names(nb):
    """{exercise label: the name the exercise asks for}, read from the reference answers (``NAME = solution_...``)."""
    names = {}
    for cell in nb.cells:
        meta = _meta(cell)
        if meta.get("solution") and not meta.get("grade"):
            names[meta["grade_id"].removesuffix("-answer")] = re.search(r"^(\w+) = ", cell.source, re.M).group(1)
    return names


def _planted(chapter, label, name):
    """The reference notebook with the answer of exercise ``label`` replaced by a function that returns 0."""
    nb = nbformat.read(str(chapter.path), as_version=4)
    for cell in nb.cells:
        if _meta(cell).get("grade_id") == f"{label}-answer":
            cell.source = f"def {name}(*args, **kwargs):\n    return 0.0"
    return nb


@pytest.fixture(scope="module")
def graded_book(tmp_path_factory):
    """Every chapter's reference, untouched student version and planted wrong answer, graded in ONE batch (one
    nbgrader process, a kernel per submission) with ``only_exercises``: {chapter: (released notebook, planted label,
    {student: Submission})}."""
    root = tmp_path_factory.mktemp("classroom")
    subs = root / "subs"
    subs.mkdir()
    planted = {}
    released = {}
    for chapter in CHAPTERS:
        student = classroom.write_assignment(chapter, root / "release")
        released[chapter.name] = nbformat.read(str(student), as_version=4)
        names = _answer_names(nbformat.read(str(chapter.path), as_version=4))
        planted[chapter.name] = label = sorted(names)[0]
        (subs / f"{chapter.name}_reference.ipynb").write_bytes(chapter.path.read_bytes())
        (subs / f"{chapter.name}_untouched.ipynb").write_bytes(student.read_bytes())
        nbformat.write(_planted(chapter, label, names[label]), str(subs / f"{chapter.name}_planted.ipynb"))
    results = classroom.grade([subs], root / "grades", timeout=300, only_exercises=True)
    by_student = {s.student: s for s in results}
    return root / "grades", {c.name: (released[c.name], planted[c.name],
                                      {v: by_student[f"{c.name}_{v}"] for v in ("reference", "untouched", "planted")})
                             for c in CHAPTERS}


@pytest.mark.parametrize("chapter", CHAPTERS, ids=NAMES)
def test_chapter_full_zero_and_partial(chapter, graded_book):
    out, book = graded_book
    released, planted_label, results = book[chapter.name]
    text = "\n".join(c.source for c in released.cells)
    assert "{solution-start}" not in text and "BEGIN HIDDEN TESTS" not in text and "solution_" not in text
    assert not any(c.get("outputs") for c in released.cells if c.cell_type == "code")

    graded = [e for e in chapter.exercises if e.kind == classroom.GRADED]
    full = sum(e.points for e in graded)
    assert len(graded) >= 2, "a chapter needs two graded exercises for a wrong answer to score partially"

    def auto(variant):
        assert all(r.chapter == chapter.name for r in results[variant].rows), results[variant].rows
        return {r.exercise: r for r in results[variant].rows if r.kind == classroom.GRADED}

    ref = auto("reference")
    assert sum(r.points for r in ref.values()) == full, [(r.exercise, r.feedback) for r in ref.values()]
    assert all(r.status == "to grade by hand" for r in results["reference"].rows if r.kind == classroom.WRITTEN)

    zero = results["untouched"].rows
    assert sum(r.points or 0 for r in zero) == 0 and {r.status for r in zero} == {"failed", "not answered"}

    planted = auto("planted")
    wrong = planted[planted_label]
    assert wrong.points == 0 and wrong.feedback.startswith("NOT YET: "), wrong
    assert all(r.points == r.max_points for label, r in planted.items() if label != planted_label)
    assert 0 < sum(r.points for r in planted.values()) < full

    rows = [r for r in csv.DictReader(io.StringIO((out / "scores.csv").read_text(encoding="utf-8")))
            if r["chapter"] == chapter.name]
    assert {r["student"] for r in rows} == {f"{chapter.name}_{v}" for v in ("reference", "untouched", "planted")}
    assert len(rows) == 3 * len(chapter.exercises)
    assert "NOT YET" in (out / "feedback" / f"{chapter.name}_planted.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------------------------------
# A batch that must survive bad submissions, on a tiny synthetic chapter


def _tiny_book(root):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}

    def meta(gid, **kw):
        return {"nbgrader": {"grade": False, "solution": False, "locked": False, "schema_version": 3,
                             "grade_id": gid, **kw}}

    nb.cells = [
        nbformat.v4.new_code_cell("from tiedemb.exercises import CheckReport"),
        nbformat.v4.new_markdown_cell("```{exercise} Double\n:label: tiny-double\nWrite `double(x)`.\n```",
                                      metadata=meta("tiny-double-text", locked=True)),
        nbformat.v4.new_code_cell("### BEGIN SOLUTION\ndef double(x):\n    return 2 * x\n### END SOLUTION",
                                  metadata=meta("tiny-double-answer", solution=True)),
        nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\nCheckReport(double(21) == 42, f'double(21) gave "
                                  "{double(21)}').require()\n### END HIDDEN TESTS",
                                  metadata=meta("tiny-double", grade=True, locked=True, points=1)),
        nbformat.v4.new_markdown_cell("Why?", metadata=meta("tiny-why-text", locked=True)),
        nbformat.v4.new_markdown_cell("Because.", metadata=meta("tiny-why", grade=True, solution=True, points=1)),
    ]
    (root / "book").mkdir(parents=True)
    nbformat.write(nb, str(root / "book" / "tiny.ipynb"))
    return root / "book", nb


def _answer(nb, source):
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if _meta(cell).get("grade_id") == "tiny-double-answer":
            cell.source = source
    return nb


def test_batch_survives_raising_looping_and_corrupt_submissions(tmp_path):
    book, nb = _tiny_book(tmp_path)
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(_answer(nb, "def double(x):\n    return 2 * x"), str(subs / "good.ipynb"))
    nbformat.write(_answer(nb, "def double(x):\n    return x + 1"), str(subs / "wrong.ipynb"))
    nbformat.write(_answer(nb, "raise RuntimeError('my bad')"), str(subs / "raises.ipynb"))
    nbformat.write(_answer(nb, "import time\nwhile True:\n    time.sleep(0.1)"), str(subs / "loops.ipynb"))
    (subs / "corrupt.ipynb").write_text('{"cells": [', encoding="utf-8")
    out = tmp_path / "grades"
    results = {s.student: s for s in classroom.grade([subs], out, timeout=8, book=book)}
    assert set(results) == {"good", "wrong", "raises", "loops", "corrupt"}
    by = {name: {r.exercise: r for r in s.rows} for name, s in results.items()}
    assert by["good"]["tiny-double"].points == 1
    assert by["wrong"]["tiny-double"].points == 0 and "double(21) gave 22" in by["wrong"]["tiny-double"].feedback
    assert by["raises"]["tiny-double"].points == 0 and "NameError" in by["raises"]["tiny-double"].feedback
    loops = by["loops"]["tiny-double"]
    assert loops.points == 0 and "time limit" in loops.feedback
    assert results["corrupt"].rows[0].status == "not a notebook"
    rows = list(csv.DictReader(io.StringIO((out / "scores.csv").read_text(encoding="utf-8"))))
    assert {r["student"] for r in rows} == set(results)


def test_cli_bad_input_exits_2_and_lists(tmp_path, capsys):
    assert main(["assignment", "no-such-chapter", "--out", str(tmp_path)]) == 2
    assert "chapters with exercises" in capsys.readouterr().err
    assert main(["assignment", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in NAMES) and "written" in listed and "graded" in listed
    assert main(["grade", str(tmp_path / "missing.ipynb")]) == 2
    assert main(["grade", str(tmp_path), "--timeout", "-1"]) == 2
    assert not (tmp_path / "scores.csv").exists()
