"""Wall time of every quick-scale experiment on one core, and the machine's dense matmul rate in the same run.

Run (not collected by pytest):

    python benchmarks/bench_quick.py                      # every experiment; writes benchmarks/quick-speed.{md,json}
    python benchmarks/bench_quick.py --only mlm-twins,grad-update-rule --out /tmp/speed.md
    python benchmarks/bench_quick.py --cache .cache/results   # keep the results in the book's cache

Each experiment is computed from scratch in a fresh process with one torch thread (``TIEDEMB_THREADS=1``) into a
results cache (a temporary folder, or ``--cache``, whose entries for these experiments are replaced); experiments
that read others' results find those computed earlier in the same run, as ``run --all`` orders them. The table gives
each experiment's wall time and whatever it reports under ``metrics["timing"]`` (e.g. training tokens per second),
next to the one-thread float32 matmul rate measured at the start of the run. Where a training loop counts its model
FLOPs (``model_flops_per_s``: the MLM and the LSTM language models), the table gives the model FLOPs utilisation,
that rate as a fraction of the measured matmul rate. The JSON file holds the same numbers for the book
(:func:`tiedemb.book.measured_speed`).
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
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "quick-speed.md",
                   help="the Markdown table; the JSON file is written beside it with the suffix .json")
    p.add_argument("--cache", type=Path, default=None,
                   help="results cache to compute into (its entries are recomputed, not read); default: a temporary "
                        "folder, discarded")
    args = p.parse_args()
    experiments = all_experiments()
    wanted = [n for n in args.only.split(",") if n] or [e.name for e in experiments]
    unknown = sorted(set(wanted) - {e.name for e in experiments})
    if unknown:
        p.error(f"unknown experiments {unknown}; known: {', '.join(e.name for e in experiments)}")
    order = [e.name for e in experiments if not e.after] + [e.name for e in experiments if e.after]
    load = os.getloadavg()[0]
    gflops = matmul_gflops()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = str(args.cache.resolve()) if args.cache else tmp
        env = {**os.environ, "TIEDEMB_THREADS": "1", "TIEDEMB_CACHE_DIR": cache, "TIEDEMB_PROGRESS": "0"}
        for name in (n for n in order if n in wanted):
            out = subprocess.run([sys.executable, "-c", _COMPUTE, name], env=env, capture_output=True, text=True)
            if out.returncode:
                rows.append((name, None, {}))
                print(out.stderr.strip().splitlines()[-1], file=sys.stderr)
            else:
                data = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append((name, data["wall_s"], data["timing"]))
            print(f"{name}: {rows[-1][1] if rows[-1][1] is None else round(rows[-1][1], 1)} s", flush=True)
    date = datetime.date.today().isoformat()
    json_path = args.out.with_suffix(".json")
    # rows of experiments not measured now are kept from the previous run (each row carries its date and rate)
    table = json.loads(json_path.read_text(encoding="utf8"))["experiments"] if json_path.is_file() else {}
    for name, wall, timing in rows:
        timing = dict(timing)
        tokens = timing.pop("tokens_per_s", None)
        flops = timing.pop("model_flops_per_s", None)
        table[name] = {"date": date, "wall_s": wall, "tokens_per_s": tokens, "model_flops_per_s": flops,
                       "matmul_gflops": gflops, "mfu": flops / (gflops * 1e9) if flops else None,
                       "load_before": load, **timing}
    table = {name: table[name] for name in sorted(table)}
    machine = f"{cpu_name()}, {os.cpu_count()} cores"
    total = sum(r["wall_s"] for r in table.values() if r["wall_s"] is not None)
    lines = ["# Quick-scale experiments, one core each", "",
             f"Machine: {machine}; torch {torch.__version__}, one thread per experiment, each in a fresh process. "
             "Model FLOPs utilisation: the training loop's model FLOPs per second over the one-thread float32 matmul "
             "rate (1024²) measured at the start of the same run. Load: the machine's one-minute load average "
             "before the run (about 0 when nothing else ran).", "",
             "| experiment | date | wall time (s) | tokens/s | matmul (GFLOP/s) | model FLOPs utilisation | load |",
             "|---|---|---:|---:|---:|---:|---:|"]
    def cell(value, fmt: str, missing: str = "–") -> str:
        return missing if value is None else format(value, fmt)

    for name, r in table.items():
        lines.append(f"| `{name}` | {r['date']} | {cell(r['wall_s'], '.0f', 'failed')} | "
                     f"{cell(r['tokens_per_s'], ',.0f')} | {r['matmul_gflops']:.0f} | {cell(r['mfu'], '.0%')} | "
                     f"{r['load_before']:.1f} |")
    lines += ["", f"Sum of the one-core wall times above: {total:.0f} s ({total / 60:.1f} min)."]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf8")
    json_path.write_text(json.dumps({"machine": machine, "torch": torch.__version__, "experiments": table,
                                     "total_one_core_s": total}, indent=1) + "\n", encoding="utf8")
    print(f"wrote {args.out} and {json_path}")

if __name__ == "__main__":
    main()
