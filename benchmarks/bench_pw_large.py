"""Training speed of Press & Wolf's large language model (Table 5) on one CPU thread, against the matmul rate.

Run (not collected by pytest):

    python benchmarks/bench_pw_large.py                 # writes benchmarks/pw-large-speed.{md,json}
    python benchmarks/bench_pw_large.py --repeats 2 --steps 1 --out /tmp/pw-large.md   # a short look

The model is the paper's large configuration (``LMConfig.paper(size="large")``: V 10,000, H 1,500, 2 layers, batch
20 × BPTT 35, dropout 0.65), untied and WT, each trained by the package's one loop (:func:`tiedemb.train.loop.fit`:
forward with the LSTM state carried, backward, global-norm clipping, plain SGD) on random token windows. The timings
are the loop's own (``FitStats.train_seconds``: training steps only, no evaluation).

Model FLOPs are counted exactly for the matrix products (2 per multiply-add): per token, each LSTM layer's four gates
read its input and its previous state (2 · 4H · 2H), and the logits read the top state (2 · H · V); a training step
costs 3 × the forward (the backward computes the gradients of both operands of every product: the embedding is
trained, so even the first layer's input gradient is needed). This equals 6 × the parameters in matrix products
(36.0M in the LSTM + 15.0M in the output embedding) × tokens. Element-wise work (gate nonlinearities, dropout, softmax,
the SGD update) is not counted.

The machine's dense matmul rate is :func:`bench_quick.matmul_gflops` (one thread, float32, 1024²), measured before
and after every timed block in the same run; timed blocks alternate between the two models (ABBA) and the best block
of each is kept, so that other jobs on a shared machine slow the numbers down as little as possible. ``--profile``
adds one profiled step per model: the share of the step spent in the LSTM layers, the output-embedding products and
the rest.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

import torch

import tiedemb  # noqa: F401  (pins the CPU code paths before torch computes)
from tiedemb.config import cpu_kernel_settings
from tiedemb.data.corpus import load_corpus
from tiedemb.experiments.press_wolf.language_models import LMConfig, build_models
from tiedemb.results import git_commit
from tiedemb.train.lm import StreamTask
from tiedemb.train.loop import fit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quick import cpu_name, matmul_gflops  # noqa: E402  (the one matmul-rate measurement)

PTB_TRAIN_TOKENS = 929_000
"""The Penn Treebank's training split (Mikolov et al.'s version, as in the paper)."""

HERE = Path(__file__).resolve().parent


def time_block(model: torch.nn.ModuleDict, task: StreamTask, cfg: LMConfig, steps: int) -> float:
    """Seconds per training step over ``steps`` steps of the one loop (training steps only)."""
    stats = fit(model, task, steps=steps, optim=cfg.optim(task.steps_per_epoch))
    return stats.train_seconds / steps


def profile_step(model: torch.nn.ModuleDict, task: StreamTask, cfg: LMConfig) -> dict[str, float]:
    """Share of one training step spent in the LSTM layers, in the output embedding's products, and elsewhere."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fit(model, task, steps=1, optim=cfg.optim(task.steps_per_epoch))
    shares = {"lstm": 0.0, "output_matmul": 0.0, "other": 0.0}
    for event in prof.key_averages():
        t = event.self_cpu_time_total
        if "rnn" in event.key or "lstm" in event.key.lower():
            shares["lstm"] += t
        elif event.key in ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul"):
            shares["output_matmul"] += t
        else:
            shares["other"] += t
    total = sum(shares.values())
    return {k: v / total for k, v in shares.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3, help="timed blocks per model (default 3)")
    p.add_argument("--steps", type=int, default=2, help="training steps per timed block (default 2)")
    p.add_argument("--profile", action="store_true", help="add the profiled breakdown of one step per model")
    p.add_argument("--out", type=Path, default=HERE / "pw-large-speed.md",
                   help="the Markdown table; the JSON file is written beside it with the suffix .json")
    args = p.parse_args()
    if args.repeats < 1 or args.steps < 1:
        p.error("--repeats and --steps must be positive")
    torch.set_num_threads(1)
    cfg = LMConfig.paper(size="large")
    load = os.getloadavg()[0]
    corpus = load_corpus(cfg.source, vocab_size=cfg.vocab_size, seed=cfg.split_seed)
    models = build_models(cfg, 0, cfg.vocab_size)
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, cfg.vocab_size, (cfg.batch_size * cfg.bptt * 40,), generator=gen).numpy()
    groups = {k: torch.nn.ModuleDict({k: m}) for k, m in models.items()}
    tasks = {k: StreamTask((k,), tokens, cfg.batch_size, cfg.bptt, epochs=1000, carry_state=True) for k in models}
    flops_per_step = {k: tasks[k].flops_per_step(groups[k]) for k in models}
    tokens_per_step = cfg.batch_size * cfg.bptt

    for k in models:  # warm-up: the first step allocates
        time_block(groups[k], tasks[k], cfg, 1)
    rates, step_s = [matmul_gflops()], {k: [] for k in models}
    for r in range(args.repeats):
        for k in (list(models) if r % 2 == 0 else list(models)[::-1]):
            step_s[k].append(time_block(groups[k], tasks[k], cfg, args.steps))
            rates.append(matmul_gflops())
            print(f"{k}: {step_s[k][-1]:.2f} s/step; matmul {rates[-1]:.1f} GFLOP/s", flush=True)
    profile = {k: profile_step(groups[k], tasks[k], cfg) for k in models} if args.profile else {}

    gflops = max(rates)
    rows = {}
    for k in models:
        best = min(step_s[k])
        rows[k] = {"step_s": best, "step_s_all": step_s[k], "tokens_per_s": tokens_per_step / best,
                   "model_flops_per_step": flops_per_step[k], "model_gflops": flops_per_step[k] / best / 1e9,
                   "mfu": flops_per_step[k] / best / (gflops * 1e9), **({"profile": profile[k]} if profile else {})}
    train_tokens = len(corpus.train)
    seconds_per_token = sum(1 / rows[k]["tokens_per_s"] for k in models)  # the two models of one run
    hours = {"wikipedia": cfg.epochs * train_tokens * seconds_per_token / 3600,
             "ptb": cfg.epochs * PTB_TRAIN_TOKENS * seconds_per_token / 3600}
    machine = f"{cpu_name()}, {os.cpu_count()} cores"
    data = {"date": datetime.date.today().isoformat(), "commit": git_commit(), "machine": machine,
            "torch": torch.__version__, "threads": 1, "cpu_kernels": cpu_kernel_settings(), "load_before": load,
            "repeats": args.repeats, "steps_per_block": args.steps, "matmul_gflops": gflops,
            "matmul_gflops_all": rates, "shape": {"vocab_size": cfg.vocab_size, "d_model": cfg.d_model,
                                                  "n_layers": cfg.n_layers, "batch_size": cfg.batch_size,
                                                  "bptt": cfg.bptt},
            "variants": rows, "epochs": cfg.epochs, "train_tokens": {"wikipedia": train_tokens,
                                                                      "ptb": PTB_TRAIN_TOKENS},
            "estimated_hours": hours}
    json_path = args.out.with_suffix(".json")
    json_path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf8")

    names = {"untied": "untied", "tied": "WT"}
    lines = [
        "# Press & Wolf's large language model: training speed on one CPU thread", "",
        f"Measured on {data['date']} at commit `{data['commit']}` with `python benchmarks/bench_pw_large.py"
        f"{' --profile' if profile else ''}`. Machine: {machine}; torch {torch.__version__}, one thread, CPU code "
        f"paths {', '.join(f'{k}={v}' for k, v in data['cpu_kernels'].items()) or 'native'}; load average "
        f"{load:.1f} before the run (the machine is shared: other jobs were running).", "",
        f"Shape: the paper's large configuration, V {cfg.vocab_size:,}, H {cfg.d_model:,}, {cfg.n_layers} layers, "
        f"batch {cfg.batch_size} × BPTT {cfg.bptt} = {tokens_per_step} tokens per step, dropout {cfg.dropout}. A step "
        "is the package's training loop (`fit`): forward with the LSTM state carried, backward, global-norm "
        f"clipping, plain SGD. Best of {args.repeats} blocks of {args.steps} steps per model, the two models "
        "alternating (ABBA); the matmul rate is the best of the one-thread float32 1024² products measured before "
        "and after every block of the same run.", "",
        "Model FLOPs: the matrix products counted exactly, 3 × the forward's (2 per multiply-add: each LSTM layer "
        "2 · 4H · 2H per token, the logits 2 · H · V), which equals 6 × the 51.0M parameters in matrix products × "
        "tokens; element-wise work is not counted.", "",
        "| model | s / step | tokens/s | model GFLOP / step | model GFLOP/s | matmul GFLOP/s | model FLOPs util. |",
        "|---|---:|---:|---:|---:|---:|---:|"]
    for k, r in rows.items():
        lines.append(f"| {names[k]} | {r['step_s']:.2f} | {r['tokens_per_s']:,.0f} | "
                     f"{r['model_flops_per_step'] / 1e9:.0f} | {r['model_gflops']:.1f} | {gflops:.1f} | "
                     f"{r['mfu']:.0%} |")
    if profile:
        lines += ["", "Where one step's time goes (torch profiler, self time):", "",
                  "| model | LSTM layers (oneDNN, forward + backward) | output-embedding products | rest |",
                  "|---|---:|---:|---:|"]
        for k, r in rows.items():
            s = r["profile"]
            lines.append(f"| {names[k]} | {s['lstm']:.0%} | {s['output_matmul']:.0%} | {s['other']:.0%} |")
    lines += ["", f"Cost of the full schedule ({cfg.epochs} epochs, both models, training steps only, one core): "
              f"{hours['wikipedia']:,.0f} hours on the Wikipedia sample's training split ({train_tokens:,} tokens "
              f"at V 10,000; `python -m tiedemb run pw-lm --scale paper --size large`), "
              f"{hours['ptb']:,.0f} hours on the Penn Treebank's {PTB_TRAIN_TOKENS:,} tokens."]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf8")
    print(f"wrote {args.out} and {json_path}")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"{time.perf_counter() - start:.0f} s")
