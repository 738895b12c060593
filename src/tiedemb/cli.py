"""Command line: ``python -m tiedemb list`` and ``python -m tiedemb run NAME [--scale] [--seeds] [--out]``.

Bad input (unknown experiment, bad scale, bad seeds) exits with code 2 and a message that lists what is allowed,
and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from .config import SCALES, ConfigError, parse_seeds


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit 2 with the usage line, as argparse does, but no traceback ever
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m tiedemb", description="Run the experiments of Tied Embeddings, Executed.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="list every experiment with the paper figure/table it reproduces")
    run = sub.add_parser("run", help="run one experiment and write result.json and its figures")
    run.add_argument("name", help="experiment name (see `list`)")
    run.add_argument("--scale", default="quick", help=f"one of {', '.join(SCALES)} (default quick)")
    run.add_argument("--seeds", default=None, help="seeds, e.g. '0,1,2' or '42-46' (default: the config's)")
    run.add_argument("--out", default="out", type=Path, help="output folder; writes OUT/NAME/ (default ./out)")
    run.add_argument("--no-cache", action="store_true", help="compute even if a cached result exists")
    return p


def cmd_list() -> int:
    from .experiments import all_experiments

    experiments = all_experiments()
    width = max(len(e.name) for e in experiments)
    for e in experiments:
        print(f"{e.name:<{width}}  {e.reproduces}   [{e.chapter}]")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .experiments import UnknownExperiment, get

    try:
        experiment = get(args.name)
        if args.scale not in SCALES:
            raise ConfigError(f"unknown scale {args.scale!r}; allowed: {', '.join(SCALES)}")
        cfg = experiment.config_cls.for_scale(args.scale)
        if args.seeds is not None:
            cfg = cfg.replace(seeds=parse_seeds(args.seeds))
    except (UnknownExperiment, ConfigError) as err:
        print(f"python -m tiedemb run: error: {err}", file=sys.stderr)
        return 2

    import matplotlib

    matplotlib.use("Agg")
    from .cache import cache_path, compute, run_or_load
    from .plotting import save_figures
    from .results import replace_dir

    result = compute(cfg) if args.no_cache else run_or_load(cfg, compute_missing=True)
    if args.no_cache:
        result.save(cache_path(cfg))
    final = args.out / cfg.name
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cfg.name}.tmp-", dir=args.out))
    try:
        result.save(tmp / "r")
        figures = save_figures(result, tmp / "r")
        replace_dir(tmp / "r", final)
    finally:
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    summary = {c.label: c.verdict for c in result.claims}
    print(f"wrote {final / 'result.json'} and {len(figures)} figure files")
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "list":
        return cmd_list()
    return cmd_run(args)


if __name__ == "__main__":
    sys.exit(main())
