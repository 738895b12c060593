"""How long grading one submission of each chapter takes: the reference notebook graded by ``tiedemb grade`` (one
nbgrader process, one kernel), the whole chapter and with ``--only-exercises``, at quick scale from a warm results
cache (nothing is trained; run ``python -m tiedemb run --all`` first).

Run (not collected by pytest):

    TIEDEMB_THREADS=1 python benchmarks/bench_classroom.py                      # every chapter, writes classroom.md
    TIEDEMB_THREADS=1 python benchmarks/bench_classroom.py xor should_i_tie     # some chapters, prints only

Reported per chapter: wall seconds and CPU seconds (user + system of the grading process and its kernel; on a shared
machine the wall time also measures the other jobs), and the autograded points the reference scored (its full marks).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tiedemb import classroom

HERE = Path(__file__).resolve().parent


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def grade_once(chapter: classroom.Chapter, only_exercises: bool, timeout: float) -> tuple[float, float, str]:
    with tempfile.TemporaryDirectory(prefix="tiedemb-bench-") as tmp:
        sub = Path(tmp) / f"{chapter.name}.ipynb"
        shutil.copyfile(chapter.path, sub)
        cpu, wall = children_cpu(), time.perf_counter()
        [result] = classroom.grade([sub], Path(tmp) / "grades", timeout=timeout, only_exercises=only_exercises,
                                   chapter=chapter.name)
        wall, cpu = time.perf_counter() - wall, children_cpu() - cpu
    auto = [r for r in result.rows if r.kind == classroom.GRADED]
    got, full = sum(r.points or 0 for r in auto), sum(r.max_points or 0 for r in auto)
    return wall, cpu, f"{got:g}/{full:g}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("chapters", nargs="*", help="chapter names (default: every chapter, and write classroom.md)")
    ap.add_argument("--timeout", type=float, default=1800.0)
    args = ap.parse_args()
    every = classroom.chapters()
    chosen = [classroom.find_chapter(c) for c in args.chapters] if args.chapters else every
    rows = []
    for ch in chosen:
        full = grade_once(ch, False, args.timeout)
        quick = grade_once(ch, True, args.timeout)
        rows.append((ch, full, quick))
        print(f"{ch.name:<18} whole chapter {full[0]:6.1f} s wall {full[1]:6.1f} s CPU ({full[2]}); "
              f"--only-exercises {quick[0]:5.1f} s wall {quick[1]:5.1f} s CPU ({quick[2]})", flush=True)
        if not args.chapters:
            write(rows, len(chosen))


def write(rows: list, n_chapters: int) -> None:
    """``classroom.md`` with the chapters measured so far (rewritten after each, so a long run leaves its rows)."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        "# Grading one submission per chapter",
        "",
        f"Measured by `benchmarks/bench_classroom.py` on {datetime.date.today().isoformat()}, commit {commit}, "
        f"{platform.machine()} with {os.cpu_count()} cores (Python {platform.python_version()}, load average "
        f"{load} at the end: the wall times include other jobs; the CPU times are the grader's and its kernel's "
        "own). Each chapter's reference notebook is graded by `python -m tiedemb grade` at quick scale from a "
        "warm results cache (nothing trained): the whole chapter, and with `--only-exercises`. The points are the "
        "autograded points the reference scored (full marks).",
        "",
        "| chapter | whole chapter, wall (s) | whole chapter, CPU (s) | `--only-exercises`, wall (s) | "
        "`--only-exercises`, CPU (s) | points |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for ch, full, quick in rows:
        lines.append(f"| {ch.name} | {full[0]:.0f} | {full[1]:.0f} | {quick[0]:.0f} | {quick[1]:.0f} | {full[2]} |")
    if len(rows) < n_chapters:
        lines += ["", f"Measured {len(rows)} of {n_chapters} chapters so far."]
    lines += ["", "```", f"TIEDEMB_THREADS=1 {Path(sys.executable).name} benchmarks/bench_classroom.py", "```", ""]
    (HERE / "classroom.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {HERE / 'classroom.md'}", flush=True)


if __name__ == "__main__":
    main()
