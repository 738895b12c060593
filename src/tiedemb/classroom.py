"""Classroom assignments from the chapters, with nbgrader: student versions and automatic grading.

Every chapter marks its exercises once, in the notebook, with nbgrader's own cell metadata: the statement is a
read-only cell, a graded exercise has an *autograded answer* cell (the reference solution, which the student version
replaces by nbgrader's stub) and an *autograder test* cell whose hidden test calls the package's checker
(``check_...(answer).require()``), and a written exercise has a *manually graded answer* cell (the dropdown solution
of the book). Cells that only explain a solution live inside the book's sphinx-exercise ``{solution-start}`` …
``{solution-end}`` dropdown and are left out of the student version. nbgrader does the rest: ``generate_assignment``
(solutions cleared, hidden tests removed, outputs cleared, checksums and the gradebook) and ``autograde`` (each
submission in its own kernel, protected cells restored from the gradebook, scores saved).

Imports of nbgrader are lazy: the package works without the ``classroom`` extra except for these commands.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .config import ConfigError

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
GRADED, WRITTEN = "graded", "written"
CSV_COLUMNS = ["student", "file", "chapter", "exercise", "kind", "points", "max_points", "status", "feedback"]


@dataclass(frozen=True)
class Exercise:
    """An exercise as nbgrader sees it: its grade id (the book's exercise label), kind, points and title."""

    label: str
    kind: str  # GRADED (an autograder test cell) or WRITTEN (a manually graded answer cell)
    points: float
    title: str


@dataclass(frozen=True)
class Chapter:
    name: str  # the notebook's stem, used as the nbgrader assignment and notebook name
    path: Path
    exercises: tuple[Exercise, ...]

    @property
    def points(self) -> float:
        return sum(e.points for e in self.exercises)


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _title(source: str, label: str) -> str:
    m = re.search(r"\{exercise\}[ \t]*([^\n]*)", source)
    return (m.group(1).strip() if m else "") or label


def read_chapter(path: Path) -> Chapter:
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    texts = {_nbgrader(c).get("grade_id"): c.source for c in nb.cells if _nbgrader(c).get("locked")}
    exercises = []
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if meta.get("grade"):
            label = meta["grade_id"]
            kind = WRITTEN if meta.get("solution") else GRADED
            exercises.append(Exercise(label, kind, float(meta["points"]), _title(texts.get(f"{label}-text", ""),
                                                                                 label)))
    return Chapter(path.stem, path, tuple(exercises))


def chapters(book: Path = BOOK) -> list[Chapter]:
    """Every notebook of the book with at least one nbgrader grade cell: a new chapter joins by marking exercises."""
    if not book.is_dir():
        raise ConfigError(f"the book's notebooks are not at {book}: run from a clone of the repository")
    paths = sorted(p for p in book.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    found = [read_chapter(p) for p in paths]
    return [c for c in found if c.exercises]


def find_chapter(name: str, book: Path = BOOK) -> Chapter:
    """A chapter by stem (``xor``), path under book/ (``bertolotti/xor``) or file (``book/bertolotti/xor.ipynb``)."""
    key = name.removesuffix(".ipynb").removeprefix("book/").strip("/")
    every = chapters(book)
    for c in every:
        if key in (c.name, str(c.path.relative_to(book).with_suffix(""))):
            return c
    raise ConfigError(f"unknown chapter {name!r}; chapters with exercises: {', '.join(c.name for c in every)}")


def listing(book: Path = BOOK) -> str:
    """The chapters and their exercises with points, as text."""
    lines = []
    for c in chapters(book):
        graded = sum(e.points for e in c.exercises if e.kind == GRADED)
        lines.append(f"{c.name}  ({c.path.relative_to(book.parent)}; {c.points:g} points, {graded:g} autograded)")
        for e in c.exercises:
            lines.append(f"    {e.label:<20} {e.kind:<8} {e.points:>3g}  {e.title}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------------------
# nbgrader: the course folder, the student version


def _solution_span_cells(cells) -> set[int]:
    """Indices of the cells that only explain a solution: inside a {solution-start}…{solution-end} dropdown (the
    cells holding the markers included) and not nbgrader cells (answers and tests are nbgrader's to handle)."""
    inside, out = False, set()
    for i, cell in enumerate(cells):
        src = cell.source if cell.cell_type == "markdown" else ""
        starts, ends = src.count("{solution-start}"), src.count("{solution-end}")
        if (inside or starts or ends) and not _nbgrader(cell):
            out.add(i)
        if starts or ends:
            inside = src.rfind("{solution-start}") > src.rfind("{solution-end}")
    return out


def _drop_solution_cells_preprocessor():
    from nbconvert.preprocessors import Preprocessor

    class DropSolutionCells(Preprocessor):
        """Leave the book's solution-only cells (explanations, demonstrations) out of the student version."""

        enabled = True

        def preprocess(self, nb, resources):
            drop = _solution_span_cells(nb.cells)
            nb.cells = [c for i, c in enumerate(nb.cells) if i not in drop]
            return nb, resources

    return DropSolutionCells


def _tools_on_path() -> None:
    """nbgrader's gradebook runs the ``alembic`` command by name: find it next to this interpreter also when the
    virtual environment is not activated."""
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def _api(course: Path):
    from nbgrader.apps import NbGraderAPI
    from nbgrader.converters import GenerateAssignment
    from traitlets.config import Config

    _tools_on_path()
    cfg = Config()
    cfg.CourseDirectory.root = str(course)
    cfg.CourseDirectory.course_id = "tiedemb"
    cfg.Exchange.root = str(course / "exchange")  # unused (no hand-in server), but nbgrader checks it exists
    cfg.GenerateAssignment.preprocessors = [_drop_solution_cells_preprocessor(),
                                            *GenerateAssignment.class_traits()["preprocessors"].default()]
    return NbGraderAPI(config=cfg)


def _generate(course: Path, chapter: Chapter) -> Path:
    """Run nbgrader's generate_assignment for a chapter in ``course``; the student notebook's path."""
    source = course / "source" / chapter.name
    source.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(chapter.path, source / f"{chapter.name}.ipynb")
    result = _api(course).generate_assignment(chapter.name, force=True, create=True)
    if not result["success"]:
        raise RuntimeError(f"nbgrader generate_assignment failed for {chapter.name}:\n{result['error']}")
    return course / "release" / chapter.name / f"{chapter.name}.ipynb"


def write_assignment(chapter: Chapter, out: Path) -> Path:
    """Write the student version of ``chapter`` to ``out/<chapter>.ipynb`` (solutions removed, tests hidden)."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tiedemb-course-") as tmp:
        released = _generate(Path(tmp), chapter)
        final = out / f"{chapter.name}.ipynb"
        partial = out / f".{chapter.name}.ipynb.tmp"
        shutil.copyfile(released, partial)
        os.replace(partial, final)
    return final


# --------------------------------------------------------------------------------------------------------------------
# Grading


@dataclass
class Row:
    student: str
    file: str
    chapter: str
    exercise: str
    kind: str
    points: float | None
    max_points: float | None
    status: str
    feedback: str = ""


@dataclass
class Submission:
    path: Path
    student: str
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return self.rows[0].status if len(self.rows) == 1 and not self.rows[0].exercise else "graded"


def submissions(paths: list[Path]) -> list[tuple[Path, str]]:
    """The files to grade (folders give their .ipynb files) with a student id each (the file's stem, made unique)."""
    files = []
    for p in paths:
        if p.is_dir():
            files += sorted(q for q in p.rglob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
        elif p.exists():
            files.append(p)
        else:
            raise ConfigError(f"no such file or folder: {p}")
    seen: dict[str, int] = {}
    out = []
    for f in files:
        base = re.sub(r"[^A-Za-z0-9_-]+", "-", f.stem).strip("-") or "student"
        seen[base] = seen.get(base, 0) + 1
        out.append((f, base if seen[base] == 1 else f"{base}-{seen[base]}"))
    return out


def _identify(nb, every: list[Chapter]) -> Chapter | None:
    ids = {_nbgrader(c).get("grade_id") for c in nb.cells} - {None}
    best = max(every, key=lambda c: len(ids & {e.label for e in c.exercises}), default=None)
    return best if best is not None and ids & {e.label for e in best.exercises} else None


def exercises_only(nb):
    """The submission cut to what its exercises need: the chapter's first code cell (imports and configurations) and
    every cell from the first nbgrader cell on (the exercises section, with any cell the student added there)."""
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), None)
    first_ex = next((i for i, c in enumerate(nb.cells) if _nbgrader(c)), len(nb.cells))
    nb.cells = [c for i, c in enumerate(nb.cells) if i == first_code or i >= first_ex]
    return nb


def _kill_tree(proc: subprocess.Popen) -> None:
    import psutil

    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    for p in [*children]:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    proc.kill()
    proc.wait()


def _time_limited_execute():
    """nbgrader's Execute preprocessor with a time limit per notebook: each cell waits at most for what is left of the
    notebook's ``notebook_timeout`` (at least a second, so that the hidden tests after a stopped cell still run and
    score the missing answers as failed)."""
    import math

    from nbgrader.preprocessors import Execute
    from traitlets import Float

    class TimeLimitedExecute(Execute):
        notebook_timeout = Float(600.0, help="Seconds a whole notebook may run.").tag(config=True)

        def preprocess(self, nb, resources=None, km=None):
            deadline = time.monotonic() + self.notebook_timeout
            self.timeout_func = lambda cell: max(1, math.ceil(min(self.notebook_timeout,
                                                                  deadline - time.monotonic())))
            return super().preprocess(nb, resources, km)

    return TimeLimitedExecute


def _autograde_worker() -> None:
    """Entry point of the grading process: ``COURSE TIMEOUT CHAPTER:STUDENT ...``. nbgrader's autograde of every
    listed submission, one after the other in this process, each in its own kernel; prints one JSON line per
    submission (``{"student", "success", "error"}``) as soon as it is graded."""
    import json

    from nbgrader.converters import Autograde

    course, timeout, jobs = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
    api = _api(course)
    execute = _time_limited_execute()
    defaults = Autograde.class_traits()["autograde_preprocessors"].default()
    api.config.Autograde.autograde_preprocessors = [execute if p.__name__ == "Execute" else p for p in defaults]
    api.config.TimeLimitedExecute.notebook_timeout = timeout
    api.config.TimeLimitedExecute.kernel_name = "python3"
    for job in jobs:
        chapter, student = job.split(":", 1)
        result = api.autograde(chapter, student, force=True, create=True)
        error = ""
        if not result["success"]:
            log = result.get("log", "") + "\n" + result.get("error", "")
            error = "\n".join(line for line in log.splitlines() if "ERROR" in line or "Error" in line)[-800:]
            error = error or log[-800:]
        print(json.dumps({"student": student, "success": bool(result["success"]), "error": error}), flush=True)


def _run_worker(course: Path, jobs: list[tuple[str, str]], timeout: float, on_done) -> set[str]:
    """Grade ``jobs`` ((chapter, student) pairs) in one worker process, calling ``on_done(student, success, error)``
    as each is graded; the worker is stopped (with its kernels) when it runs past a hard limit, the sum of the
    per-notebook limits and a start-up allowance per submission. The students graded."""
    import json
    import queue
    import threading

    cmd = [sys.executable, "-c", "from tiedemb.classroom import _autograde_worker; _autograde_worker()",
           str(course), f"{timeout:g}", *(f"{c}:{s}" for c, s in jobs)]
    done: set[str] = set()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
        lines: queue.Queue = queue.Queue()

        def read():
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        deadline = time.monotonic() + len(jobs) * (timeout + 30) + 60
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                _kill_tree(proc)
                break
            if line is None:
                proc.wait()
                break
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            done.add(msg["student"])
            on_done(msg["student"], msg["success"], msg["error"])
        reader.join(timeout=10)
        proc.stdout.close()
    return done


def _feedback(cell) -> str:
    """The grader's message for a test cell: the checker's report for a failed check, else the error."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            if out["ename"] == "AssertionError" and out.get("evalue"):
                return out["evalue"]
            if out["ename"] == "CellTimeoutError":
                return "the cell ran past the time limit and was stopped"
            hint = " (no answer: the name the exercise asks for is not defined)" if out["ename"] == "NameError" else ""
            return f"{out['ename']}: {out.get('evalue', '')}{hint}"
    return ""


def _collect(course: Path, chapter: Chapter, sub: Submission) -> None:
    import nbformat
    from nbgrader.api import Gradebook

    graded_nb = course / "autograded" / sub.student / chapter.name / f"{chapter.name}.ipynb"
    nb = nbformat.read(str(graded_nb), as_version=4)
    cells = {_nbgrader(c).get("grade_id"): c for c in nb.cells if _nbgrader(c).get("grade")}
    timed_out = any(o.get("ename") == "CellTimeoutError" for c in nb.cells for o in c.get("outputs", []))
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="tiedemb") as gb:
        sn = gb.find_submission_notebook(chapter.name, chapter.name, sub.student)
        grades = {g.name: g for g in sn.grades}
        for ex in chapter.exercises:
            g = grades.get(ex.label)
            cell = cells.get(ex.label)
            if g is None:
                sub.rows.append(Row(sub.student, str(sub.path), chapter.name, ex.label, ex.kind, 0.0, ex.points,
                                    "missing", "the exercise's cell is missing from the submission"))
            elif ex.kind == WRITTEN:
                status = "to grade by hand" if g.needs_manual_grade else "not answered"
                sub.rows.append(Row(sub.student, str(sub.path), chapter.name, ex.label, ex.kind,
                                    None if g.needs_manual_grade else float(g.score), ex.points, status,
                                    "" if g.needs_manual_grade else "the answer cell is unchanged"))
            else:
                message = _feedback(cell) if cell is not None else ""
                status = "passed" if g.score == ex.points else "failed"
                if not message and status == "passed":
                    message = "passed the checker"
                sub.rows.append(Row(sub.student, str(sub.path), chapter.name, ex.label, ex.kind, float(g.score),
                                    ex.points, status, message))
    if timed_out:
        for r in sub.rows:
            r.feedback = (r.feedback + "; " if r.feedback else "") + ("a cell of this notebook ran past the time "
                                                                      "limit")


def grade(paths: list[Path], out: Path, *, timeout: float = 600.0, only_exercises: bool = False,
          chapter: str | None = None, book: Path = BOOK, progress=None) -> list[Submission]:
    """Grade submissions with nbgrader into ``out``: ``scores.csv`` (a row per student and exercise),
    ``feedback/<student>.md`` and the nbgrader course folder ``course/`` (gradebook, autograded notebooks).

    The batch is graded by one nbgrader process, each submission in its own kernel and stopped after ``timeout``
    seconds; should that process hang past the sum of the limits, it is stopped and the submissions it had not
    graded are graded one process each. A file that is not a notebook, a notebook of no chapter, a submission whose
    kernel errors or runs past ``timeout`` gets its own row with the reason; the rest of the batch is graded.
    """
    import nbformat

    if timeout <= 0:
        raise ConfigError(f"--timeout must be a positive number of seconds, got {timeout:g}")
    every = chapters(book) if chapter is None else [find_chapter(chapter, book)]
    todo = submissions(paths)
    out.mkdir(parents=True, exist_ok=True)
    course = out / "course"
    generated: set[str] = set()
    results = []
    pending: dict[str, tuple[Submission, Chapter]] = {}
    for path, student in todo:
        sub = Submission(path, student)
        results.append(sub)
        try:
            nb = nbformat.read(str(path), as_version=4)
            nbformat.validate(nb)
        except Exception as err:  # noqa: BLE001 - any unreadable file is reported, never fatal
            reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
            sub.rows.append(Row(student, str(path), "", "", "", None, None, "not a notebook",
                                f"cannot be read as a Jupyter notebook: {reason}"))
            _report(progress, sub)
            continue
        ch = _identify(nb, every)
        if ch is None:
            sub.rows.append(Row(student, str(path), "", "", "", None, None, "no chapter",
                                "holds no exercise of any chapter (hand out `python -m tiedemb assignment CHAPTER`)"))
            _report(progress, sub)
            continue
        if ch.name not in generated:
            _generate(course, ch)
            generated.add(ch.name)
        target = course / "submitted" / student / ch.name
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        nbformat.write(exercises_only(nb) if only_exercises else nb, str(target / f"{ch.name}.ipynb"))
        pending[student] = (sub, ch)

    started = time.perf_counter()

    def finished(student: str, success: bool, error: str) -> None:
        nonlocal started
        sub, ch = pending[student]
        sub.seconds = time.perf_counter() - started
        started = time.perf_counter()
        if success:
            _collect(course, ch, sub)
        else:
            sub.rows += [Row(student, str(sub.path), ch.name, e.label, e.kind, 0.0 if e.kind == GRADED else None,
                             e.points, "error", f"nbgrader autograde failed: {error}") for e in ch.exercises]
        _report(progress, sub)

    jobs = [(ch.name, student) for student, (_, ch) in pending.items()]
    done = _run_worker(course, jobs, timeout, finished) if jobs else set()
    for chapter_name, student in jobs:
        if student in done:
            continue
        started = time.perf_counter()
        if not _run_worker(course, [(chapter_name, student)], timeout, finished):
            sub, ch = pending[student]
            sub.seconds = time.perf_counter() - started
            sub.rows += [Row(student, str(sub.path), ch.name, e.label, e.kind, 0.0 if e.kind == GRADED else None,
                             e.points, "timed out", f"still running after the time limit of {timeout:g} s per "
                             "notebook; stopped") for e in ch.exercises]
            _report(progress, sub)
    write_scores(results, out)
    return results


def _report(progress, sub: Submission) -> None:
    if progress is not None:
        progress(sub)


def write_scores(results: list[Submission], out: Path) -> Path:
    """``out/scores.csv`` and ``out/feedback/<student>.md`` (written to temporary names, then moved into place)."""
    fb = out / "feedback"
    fb.mkdir(parents=True, exist_ok=True)
    for sub in results:
        lines = [f"# {sub.student}: {sub.path.name}", ""]
        for r in sub.rows:
            score = "–" if r.points is None else f"{r.points:g}"
            of = "" if r.max_points is None else f" / {r.max_points:g}"
            head = f"- **{r.exercise}** ({r.kind}): {score}{of}, {r.status}" if r.exercise else f"- {r.status}"
            lines.append(head + (f"\n\n  ```\n  {r.feedback.replace(chr(10), chr(10) + '  ')}\n  ```" if r.feedback
                                 else ""))
        tmp = fb / f".{sub.student}.md.tmp"
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, fb / f"{sub.student}.md")
    path, tmp = out / "scores.csv", out / ".scores.csv.tmp"
    with tmp.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for sub in results:
            for r in sub.rows:
                w.writerow([r.student, r.file, r.chapter, r.exercise, r.kind,
                            "" if r.points is None else f"{r.points:g}",
                            "" if r.max_points is None else f"{r.max_points:g}", r.status, r.feedback])
    os.replace(tmp, path)
    return path


def summary_line(sub: Submission) -> str:
    """One line per submission: autograded points, written answers left to grade, or why it was not graded."""
    auto = [r for r in sub.rows if r.kind == GRADED]
    if sub.status != "graded":
        return f"{sub.student:<20} {sub.status}: {sub.rows[0].feedback}"
    got, total = sum(r.points or 0 for r in auto), sum(r.max_points or 0 for r in auto)
    by_hand = sum(1 for r in sub.rows if r.status == "to grade by hand")
    states = {r.status for r in sub.rows}
    note = "; timed out" if "timed out" in states else "; error" if "error" in states else ""
    return (f"{sub.student:<20} {sub.rows[0].chapter:<18} autograded {got:g}/{total:g}, {by_hand} written answer(s) "
            f"to grade by hand ({sub.seconds:.0f} s){note}")
