"""Training speed of the authors' twin masked language model (``MLMTwinsConfig.paper()``) on one CPU thread.

Run (not collected by pytest):

    python benchmarks/bench_mlm_paper.py                 # writes benchmarks/mlm-paper-speed.{md,json}
    python benchmarks/bench_mlm_paper.py --repeats 1 --steps 1 --out /tmp/mlm-paper.md   # a short look

The model and batch are the paper-scale configuration of ``mlm-twins`` (the authors' model, optimiser and schedule:
3 post-LN layers, d 128, 4 heads, feed-forward 512, batch 128 × 128 tokens, AdamW; vocabulary 30,000 words of the
Wikipedia sample plus the 100 twins), untied and tied, each trained by the package's one loop
(:func:`tiedemb.train.loop.fit`, through the experiment's own task: BERT masking, the softmax only at the masked
positions) on the sample's training sequences. The timings are the loop's own (``FitStats.train_seconds``: training
steps only, no evaluation). Timed blocks alternate between the two models (ABBA) and the best block of each is kept,
so that other jobs on a shared machine slow the numbers down as little as possible; the matmul rate is measured before
and after every block of the same run (:func:`bench_quick.matmul_gflops`).

From the step times it states what the paper-scale run costs on one core: the preset's steps for the four models of
one seed (✓DH and ✗DH, untied and tied), and the authors' three epochs of BookCorpus (about 1.2 million steps).
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
from tiedemb.data.corpus import SPECIALS, load_corpus
from tiedemb.data.mlm import blocks, mask_tokens
from tiedemb.experiments.bertolotti.mlm import MLMTwinsConfig, mlm_optim
from tiedemb.models.mlm import MaskedLanguageModel
from tiedemb.results import git_commit
from tiedemb.seeding import seed_everything
from tiedemb.train.loop import fit
from tiedemb.train.mlm import MaskingSpec, MLMTask

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quick import cpu_name, matmul_gflops  # noqa: E402  (the one matmul-rate measurement)

AUTHORS_STEPS = 1_200_000
"""The authors' run: three epochs of BookCorpus at batch 128, about 1.2 million steps (their code's settings)."""
MODELS_PER_SEED = 4
"""✓DH and ✗DH, untied and tied: the models one seed of the experiment trains."""

HERE = Path(__file__).resolve().parent


def build(cfg: MLMTwinsConfig, kind: str) -> tuple[MaskedLanguageModel, MLMTask]:
    """The paper-scale model of ``kind`` (untied or tied) and the experiment's task on the sample's sequences."""
    corpus = load_corpus(cfg.source, vocab_size=cfg.vocab_size, seed=cfg.split_seed)
    V = corpus.vocab_size + cfg.n_twins
    masking = MaskingSpec(mask_id=corpus.mask_id, vocab_size=V, n_special=len(SPECIALS),
                          mlm_probability=cfg.mlm_probability, pad_id=corpus.pad_id)
    train = blocks(corpus.train, cfg.seq_len)
    valid = blocks(corpus.valid, cfg.seq_len)[: cfg.valid_sequences]
    valid_masked = mask_tokens(valid, mask_id=masking.mask_id, vocab_size=V, n_special=masking.n_special,
                               generator=torch.Generator().manual_seed(0), mlm_probability=cfg.mlm_probability,
                               pad_id=corpus.pad_id)
    seed_everything(cfg.seeds[0])
    model = MaskedLanguageModel(V, cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.d_ff, tied=kind == "tied",
                                init_std=cfg.init_std, pad_id=corpus.pad_id)
    task = MLMTask(train, valid_masked, masking, batch_size=cfg.batch_size, evaluate_at=[],
                   generator=torch.Generator().manual_seed(cfg.seeds[0]))
    return model, task


def time_block(model: MaskedLanguageModel, task: MLMTask, cfg: MLMTwinsConfig, steps: int) -> float:
    """Seconds per training step over ``steps`` steps of the one loop (training steps only)."""
    stats = fit(model, task, steps=steps, optim=mlm_optim(cfg))
    return stats.train_seconds / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3, help="timed blocks per model (default 3)")
    p.add_argument("--steps", type=int, default=3, help="training steps per timed block (default 3)")
    p.add_argument("--out", type=Path, default=HERE / "mlm-paper-speed.md",
                   help="the Markdown table; the JSON file is written beside it with the suffix .json")
    args = p.parse_args()
    if args.repeats < 1 or args.steps < 1:
        p.error("--repeats and --steps must be positive")
    torch.set_num_threads(1)
    cfg = MLMTwinsConfig.paper()
    load = os.getloadavg()[0]
    kinds = ("untied", "tied")
    built = {k: build(cfg, k) for k in kinds}
    for k in kinds:  # warm-up: the first step allocates
        time_block(*built[k], cfg, 1)
    rates, step_s = [matmul_gflops()], {k: [] for k in kinds}
    for r in range(args.repeats):
        for k in (kinds if r % 2 == 0 else kinds[::-1]):
            step_s[k].append(time_block(*built[k], cfg, args.steps))
            rates.append(matmul_gflops())
            print(f"{k}: {step_s[k][-1]:.2f} s/step; matmul {rates[-1]:.1f} GFLOP/s", flush=True)

    gflops = max(rates)
    tokens_per_step = cfg.batch_size * cfg.seq_len
    rows = {}
    for k in kinds:
        model, task = built[k]
        flops = task.flops_per_step(model)
        best = min(step_s[k])
        rows[k] = {"step_s": best, "step_s_all": step_s[k], "tokens_per_s": tokens_per_step / best,
                   "model_flops_per_step": flops, "model_gflops": flops / best / 1e9,
                   "mfu": flops / best / (gflops * 1e9)}
    seconds_per_step = sum(rows[k]["step_s"] for k in kinds) / len(kinds)  # the models of one seed alternate kinds
    hours = {"preset": cfg.steps * MODELS_PER_SEED * seconds_per_step / 3600,
             "authors": AUTHORS_STEPS * MODELS_PER_SEED * seconds_per_step / 3600}
    machine = f"{cpu_name()}, {os.cpu_count()} cores"
    data = {"date": datetime.date.today().isoformat(), "commit": git_commit(), "machine": machine,
            "torch": torch.__version__, "threads": 1, "cpu_kernels": cpu_kernel_settings(), "load_before": load,
            "repeats": args.repeats, "steps_per_block": args.steps, "matmul_gflops": gflops,
            "matmul_gflops_all": rates,
            "shape": {"vocab_size": built["untied"][0].emb_in.num_embeddings, "d_model": cfg.d_model,
                      "n_layers": cfg.n_layers, "n_heads": cfg.n_heads, "d_ff": cfg.d_ff,
                      "batch_size": cfg.batch_size, "seq_len": cfg.seq_len},
            "variants": rows, "preset_steps": cfg.steps, "authors_steps": AUTHORS_STEPS,
            "models_per_seed": MODELS_PER_SEED, "estimated_hours": hours}
    json_path = args.out.with_suffix(".json")
    json_path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf8")

    shape = data["shape"]
    lines = [
        "# The authors' twin masked language model: training speed on one CPU thread", "",
        f"Measured on {data['date']} at commit `{data['commit']}` with `python benchmarks/bench_mlm_paper.py`. "
        f"Machine: {machine}; torch {torch.__version__}, one thread, CPU code paths "
        f"{', '.join(f'{k}={v}' for k, v in data['cpu_kernels'].items()) or 'native'}; load average {load:.1f} "
        "before the run (the machine is shared: other jobs may have been running).", "",
        f"Shape: `MLMTwinsConfig.paper()`, the authors' model and optimiser: {cfg.n_layers} post-LN layers, d "
        f"{cfg.d_model}, {cfg.n_heads} heads, feed-forward {cfg.d_ff}, vocabulary {shape['vocab_size']:,} (the "
        f"sample's words and the twins), batch {cfg.batch_size} × {cfg.seq_len} tokens = {tokens_per_step:,} tokens "
        "per step, 15 % of them masked and predicted. A step is the package's training loop (`fit`) on the "
        f"experiment's task: masking, forward, backward, AdamW. Best of {args.repeats} blocks of {args.steps} steps "
        "per model, the two models alternating (ABBA); the matmul rate is the best of the one-thread float32 1024² "
        "products measured before and after every block.", "",
        "| model | s / step | tokens/s | model GFLOP / step | model GFLOP/s | matmul GFLOP/s | model FLOPs util. |",
        "|---|---:|---:|---:|---:|---:|---:|"]
    for k, r in rows.items():
        lines.append(f"| {k} | {r['step_s']:.2f} | {r['tokens_per_s']:,.0f} | {r['model_flops_per_step'] / 1e9:.0f} | "
                     f"{r['model_gflops']:.1f} | {gflops:.1f} | {r['mfu']:.0%} |")
    lines += ["", f"Cost on one core, training steps only, for the {MODELS_PER_SEED} models of one seed (✓DH and ✗DH, "
              f"untied and tied): the preset's {cfg.steps:,} steps (`python -m tiedemb run mlm-twins --scale paper`) "
              f"{hours['preset']:,.0f} hours; the authors' three epochs of BookCorpus (about {AUTHORS_STEPS:,} steps) "
              f"{hours['authors']:,.0f} hours ({hours['authors'] / 24 / 365:.1f} years)."]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf8")
    print(f"wrote {args.out} and {json_path}")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"{time.perf_counter() - start:.0f} s")
