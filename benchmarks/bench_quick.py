"""Wall time of every quick-scale experiment on one core, and the machine's dense matmul rate in the same run.

Run (not collected by pytest):

    python benchmarks/bench_quick.py                      # every experiment; writes benchmarks/quick-speed.md
    python benchmarks/bench_quick.py --only mlm-twins,grad-update-rule --out /tmp/speed.md

Each experiment is computed from scratch in a fresh process with one torch thread (``TIEDEMB_THREADS=1``) and an
empty results cache of its own (experiments that read others' results find those computed earlier in the same
run, as ``run --all`` orders them). The table gives each experiment's wall time and whatever it reports under
``metrics["timing"]`` (e.g. training tokens per second), next to the one-thread float32 matmul rate measured at
the start of the run, so that a model's throughput can be read as a fraction of what the machine can do.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import tiedemb  # noqa: F401  (pins the CPU code paths before torch computes)
from tiedemb.experiments import all_experiments

_COMPUTE = """
import json, sys, time
from tiedemb.experiments import compute, get
from tiedemb.cache import cache_path
cfg = get(sys.argv[1]).config_cls.for_scale("quick")
start = time.perf_counter()
result = compute(cfg)
wall = time.perf_counter() - start
result.save(cache_path(cfg))
print(json.dumps({"wall_s": wall, "timing": result.metrics.get("timing", {})}))
"""


def matmul_gflops(n: int = 1024, repeats: int = 20) -> float:
    """One-thread float32 matmul rate, GFLOP/s (best of ``repeats``)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a, b = torch.randn(n, n), torch.randn(n, n)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return 2 * n**3 / best / 1e9


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", help="comma-separated experiment names (default: all)")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "quick-speed.md")
    args = p.parse_args()
    experiments = all_experiments()
    wanted = [n for n in args.only.split(",") if n] or [e.name for e in experiments]
    unknown = sorted(set(wanted) - {e.name for e in experiments})
    if unknown:
        p.error(f"unknown experiments {unknown}; known: {', '.join(e.name for e in experiments)}")
    order = [e.name for e in experiments if not e.after] + [e.name for e in experiments if e.after]
    gflops = matmul_gflops()
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "TIEDEMB_THREADS": "1", "TIEDEMB_CACHE_DIR": cache, "TIEDEMB_PROGRESS": "0"}
        for name in (n for n in order if n in wanted):
            out = subprocess.run([sys.executable, "-c", _COMPUTE, name], env=env, capture_output=True, text=True)
            if out.returncode:
                rows.append((name, None, {"error": out.stderr.strip().splitlines()[-1]}))
            else:
                data = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append((name, data["wall_s"], data["timing"]))
            print(f"{name}: {rows[-1][1] if rows[-1][1] is None else round(rows[-1][1], 1)} s", flush=True)
    total = sum(r[1] for r in rows if r[1] is not None)
    lines = [f"# Quick-scale experiments, one core each ({datetime.date.today().isoformat()})", "",
             f"Machine: {cpu_name()}, {os.cpu_count()} cores; torch {torch.__version__}, one thread; one-thread "
             f"float32 matmul (1024²) at {gflops:.1f} GFLOP/s in the same run.", "",
             "| experiment | wall time (s) | reported timing |", "|---|---:|---|"]
    for name, wall, timing in rows:
        shown = ", ".join(f"{k} {v:.4g}" if isinstance(v, int | float) else f"{k} {v}" for k, v in timing.items())
        lines.append(f"| `{name}` | {'failed' if wall is None else f'{wall:.0f}'} | {shown or '–'} |")
    lines += ["", f"Sum of one-core wall times: {total:.0f} s ({total / 60:.1f} min)."]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
