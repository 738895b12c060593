"""The streaming norm/variance statistics against the straightforward per-token Python loop.

Run (not collected by pytest):

    OMP_NUM_THREADS=1 TIEDEMB_THREADS=1 python benchmarks/bench_norm_variance.py            # MiniLM's shape
    python benchmarks/bench_norm_variance.py --tokens 5000 --layers 13 --d 768             # BERT-base's shape

Both sides read the same hidden states (float32, ``layers`` × ``tokens`` × ``d``, token types drawn from a Zipf law
over ``vocab`` ids, as in text) and return every type's n_t, μ_t, Q, M and V at every layer:

- streaming: :class:`tiedemb.theory.yamagiwa.StreamingStats`, fed batches of ``batch`` occurrences, each added
  one ``index_add_`` per layer and chunk of ``StreamingStats.CHUNK`` occurrences, float64 sums, its table sized
  to the number of types (known once the text is tokenised, before the forward pass; ``--no-presize`` lets it grow
  instead);
- loop: :func:`tiedemb.theory.yamagiwa.loop_token_stats`, the authors' sequential update (Yamagiwa & Shimodaira,
  Sec. 2), one occurrence and one layer at a time in Python.

Reported: the CPU time of each (``time.process_time``, best of ``--repeats`` in one process, each side as often; on a
shared machine wall time measures the other jobs too) with its wall time, the ratio, the largest difference between
their statistics, and the memory each keeps (the accumulator's tensors; the loop's per-(layer, type) arrays and Python
objects), beside the hidden states' own size. Repeats in one process flatter the loop: its many small arrays come back
from the allocator's free lists, while the streaming side's large tables are returned to the system and faulted in again
each time. With ``--fresh K`` each side instead runs once per fresh process, K times alternately (as the chapter
computes the statistics once per model), and the medians are compared.
"""

from __future__ import annotations

# ruff: noqa: I001
import argparse
import statistics
import subprocess
import sys
import time

import tiedemb  # noqa: F401  (pins the CPU kernels before numpy)
import numpy as np
import torch

from tiedemb.theory.yamagiwa import StreamingStats, loop_token_stats


def zipf_ids(n: int, vocab: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, vocab + 1)
    return torch.as_tensor(rng.choice(vocab, size=n, p=p / p.sum()), dtype=torch.long)


def loop_memory(ids: torch.Tensor, layers: int, d: int) -> int:
    """Bytes the sequential update keeps: per (layer, type) a float64 mean of d, a float and an int, in a dict."""
    types = len(torch.unique(ids))
    per = 8 * d + 112 + sys.getsizeof(0.0) + sys.getsizeof(0) + 72  # array data + header, float, int, list
    return layers * types * (per + 100)  # + the dict entry and its tuple key


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=20_000)
    ap.add_argument("--layers", type=int, default=7)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--vocab", type=int, default=30_522)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=StreamingStats.CHUNK,
                    help="occurrences per index_add_ inside a batch (the package's default: %(default)s)")
    ap.add_argument("--no-presize", dest="presize", action="store_false",
                    help="start the accumulator small and let it grow (default: sized to the number of types)")
    ap.add_argument("--fresh", type=int, default=0, metavar="K",
                    help="run each side once per fresh process, K times alternately, and compare the medians")
    ap.add_argument("--side", choices=("stream", "loop"), help=argparse.SUPPRESS)  # one fresh run (--fresh)
    args = ap.parse_args()
    if args.fresh:
        fresh(args)
        return
    torch.set_num_threads(1)
    StreamingStats.CHUNK = args.chunk
    ids = zipf_ids(args.tokens, args.vocab, 0)
    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(args.layers, args.tokens, args.d, generator=g)  # float32, like a model's output

    n_types = len(torch.unique(ids))  # known before the forward pass, as in the chapter (text is tokenised first)

    def streaming():
        acc = StreamingStats(args.layers, args.d, capacity=n_types if args.presize else 1024)
        for i in range(0, args.tokens, args.batch):
            acc.update(ids[i : i + args.batch], hidden[:, i : i + args.batch])
        return acc, acc.result()

    if args.side:  # one run of one side in this (fresh) process: print its CPU seconds
        cpu = time.process_time()
        streaming() if args.side == "stream" else loop_token_stats(ids, hidden)
        print(time.process_time() - cpu)
        return

    t_stream, t_loop = [], []  # (cpu seconds, wall seconds)
    for _ in range(args.repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        acc, s = streaming()
        t_stream.append((time.process_time() - cpu, time.perf_counter() - wall))
    for _ in range(args.repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        ref = loop_token_stats(ids, hidden)
        t_loop.append((time.process_time() - cpu, time.perf_counter() - wall))
    assert (s.types == ref.types).all() and (s.n == ref.n).all()
    diff = max(float(np.abs(getattr(s, k) - getattr(ref, k)).max()) for k in ("Q", "M", "V"))
    mem_stream = acc.nbytes()
    mem_loop = loop_memory(ids, args.layers, args.d)
    best_s, best_l = min(t_stream), min(t_loop)
    print(f"tokens {args.tokens:,}, layers {args.layers}, d {args.d}, types {acc.n_types:,} "
          f"(Zipf over {args.vocab:,} ids), hidden states {hidden.numel() * 4 / 2**20:.1f} MiB float32")
    print(f"streaming (index_add_, batch {args.batch}, chunk {StreamingStats.CHUNK}): {best_s[0]:.3f} s CPU "
          f"({best_s[1]:.3f} s wall), accumulator "
          f"{mem_stream / 2**20:.1f} MiB")
    print(f"per-token loop (sequential update):        {best_l[0]:.3f} s CPU ({best_l[1]:.3f} s wall), state about "
          f"{mem_loop / 2**20:.1f} MiB")
    print(f"ratio {best_l[0] / best_s[0]:.1f}x (CPU time); largest |difference| of Q, M, V: {diff:.2e} (values about "
          f"{float(s.Q.mean()):.0f})")


def fresh(args: argparse.Namespace) -> None:
    """Each side once per fresh process, ``args.fresh`` times, alternately; the medians of their CPU times."""
    times: dict[str, list[float]] = {"stream": [], "loop": []}
    base = [sys.executable, __file__, "--tokens", str(args.tokens), "--layers", str(args.layers), "--d", str(args.d),
            "--vocab", str(args.vocab), "--batch", str(args.batch), "--chunk", str(args.chunk)]
    base += [] if args.presize else ["--no-presize"]
    for _ in range(args.fresh):
        for side in times:
            out = subprocess.run([*base, "--side", side], check=True, capture_output=True, text=True).stdout
            times[side].append(float(out.split()[-1]))
    s, lo = statistics.median(times["stream"]), statistics.median(times["loop"])
    print(f"tokens {args.tokens:,}, layers {args.layers}, d {args.d}; {args.fresh} fresh processes per side")
    print(f"streaming: median {s:.3f} s CPU ({', '.join(f'{t:.3f}' for t in times['stream'])})")
    print(f"loop:      median {lo:.3f} s CPU ({', '.join(f'{t:.3f}' for t in times['loop'])})")
    print(f"ratio {lo / s:.1f}x (medians of CPU time)")


if __name__ == "__main__":
    main()
