"""Command line: ``python -m tiedemb list``, ``python -m tiedemb run NAME [--scale] [--size] [--seeds] [--out]``,
``python -m tiedemb run --all [--jobs N] [--scale]`` (every experiment into the cache, one worker per core) and
``python -m tiedemb diagnose (FILE | --wikipedia) --pairs a/b,c/d [--window K] [--causal]`` ("should I tie?"),
``python -m tiedemb assignment (CHAPTER --out DIR | --list)`` (a chapter's student version, with nbgrader) and
``python -m tiedemb grade SUBMISSION.ipynb|FOLDER ... [--out DIR] [--timeout S]`` (autograded scores as CSV) and
``python -m tiedemb checkpoints [--save [DIR]]`` (the checkpoints of long runs in progress, and carrying them to another
checkout: :mod:`~.resume`).

Bad input (unknown experiment, bad scale, bad seeds, an output folder that cannot be written) exits with code 2 and a
message that lists what is allowed, before anything is computed, and writes nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from .config import SCALES, ConfigError, parse_positive_int, parse_seeds


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit 2 with the usage line, as argparse does, but no traceback ever
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m tiedemb", description="Run the experiments of Tied Embeddings, Executed.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="list every experiment with the paper figure/table it reproduces")
    run = sub.add_parser("run", help="run one experiment and write result.json and its figures, or --all")
    run.add_argument("name", nargs="?", help="experiment name (see `list`)")
    run.add_argument("--all", action="store_true", help="load or compute every experiment into the results cache")
    run.add_argument("--jobs", default=None, help="--all: worker processes (default: one per core)")
    run.add_argument("--scale", default="quick", help=f"one of {', '.join(SCALES)} (default quick)")
    run.add_argument("--size", default=None,
                     help="pw-lm at --scale paper: the paper's 'small' model (Table 6, the default) or its 'large' one "
                          "(Table 5: 2 × 1,500 units, dropout 0.65, 55 epochs)")
    run.add_argument("--seeds", default=None, help="seeds, e.g. '0,1,2' or '42-46' (default: the config's)")
    run.add_argument("--out", default=None, type=Path, help="output folder; writes OUT/NAME/ (default ./out)")
    run.add_argument("--no-cache", action="store_true", help="compute even if a cached result exists")
    run.add_argument("--model", default=None, type=Path,
                     help="nv-minilm: a Hugging Face encoder or decoder folder on disk instead of all-MiniLM-L6-v2; "
                          "tpe-encoding, tpe-steering, tpe-deletion: a causal LM folder instead of our models; "
                          "tpe-dynamics: a folder of a training run's checkpoints, sub-folders step<N> (Pythia's "
                          "convention), each a causal LM folder")
    run.add_argument("--ratios", default=None,
                     help="tpe-steering: target probability ratios, e.g. '0.05,0.5,2,20' (each > 0)")
    run.add_argument("--text", default=None, type=Path,
                     help="train on your own UTF-8 text file (experiments with a `source` field, e.g. pw-lm)")
    diag = sub.add_parser("diagnose", help="should I tie? estimate ≡ and ∼ of word pairs in a text file")
    diag.add_argument("file", nargs="?", type=Path, help="a UTF-8 text file (one sentence per line or prose)")
    diag.add_argument("--wikipedia", action="store_true", help="use the Wikipedia sample shipped with gensim")
    diag.add_argument("--pairs", required=True, help="word pairs, e.g. 'he/she,city/town'")
    diag.add_argument("--window", default="1", help="context: K words on each side (default 1), or 'all'")
    diag.add_argument("--causal", action="store_true", help="left context only (a causal language model)")
    diag.add_argument("--permutations", default="19", help="permutation-null draws (default 19: a 5%% test)")
    diag.add_argument("--seed", default="0", help="seed of the permutations (default 0)")
    assign = sub.add_parser("assignment", help="write a chapter's student version (nbgrader), or --list them")
    assign.add_argument("chapter", nargs="?", help="chapter, e.g. xor or bertolotti/xor (see --list), or 'all'")
    assign.add_argument("--out", default=None, type=Path, help="output folder (writes OUT/CHAPTER.ipynb)")
    assign.add_argument("--list", action="store_true", help="list the chapters and their exercises with points")
    grade = sub.add_parser("grade", help="autograde student notebooks (nbgrader) into a CSV of scores and feedback")
    grade.add_argument("submissions", nargs="+", type=Path, help="submitted notebooks, or folders of them")
    grade.add_argument("--out", default=Path("grades"), type=Path,
                       help="output folder: scores.csv, feedback/, course/ (default ./grades)")
    grade.add_argument("--timeout", default="600", help="time limit per notebook in seconds (default 600)")
    grade.add_argument("--chapter", default=None, help="grade every submission as this chapter (default: detected)")
    grade.add_argument("--only-exercises", action="store_true",
                       help="run only the chapter's first code cell and its exercises section (fast; for "
                            "submissions whose answers need nothing else)")
    ck = sub.add_parser("checkpoints", help="list the checkpoints of long runs in progress (cache and committed), or "
                        "--save them to be committed so that another checkout resumes them")
    ck.add_argument("--save", nargs="?", const=Path("results/checkpoints"), default=None, type=Path, metavar="DIR",
                    help="copy the cache's checkpoints into DIR/<experiment>/ (default results/checkpoints)")
    return p


def cmd_checkpoints(args: argparse.Namespace) -> int:
    from .config import cache_dir, results_dirs
    from .resume import FOLDER, PACKED, checkpoints_in, save_checkpoints

    try:
        if args.save is not None:
            writable_folder(args.save, "--save")
            saved = save_checkpoints(args.save)
            for c in saved:
                print(f"saved {args.save / c.experiment / (c.name + PACKED)} (step {c.step:,})")
            print(f"{len(saved)} checkpoint(s) saved into {args.save}; commit them to resume there (python -m tiedemb "
                  f"run NAME --scale paper restores them into the cache)")
            return 0
        places = [("cache", cache_dir() / FOLDER)] + [("committed", d / FOLDER) for d in results_dirs()]
        rows = [(where, c) for where, root in places for c in checkpoints_in(root)]
    except (ConfigError, ValueError, OSError) as err:
        print(f"python -m tiedemb checkpoints: error: {err}", file=sys.stderr)
        return 2
    for where, c in rows:
        print(f"{where:9}  {c.experiment:28}  {c.progress()}  {c.path}")
    if not rows:
        print("no checkpoints: no long run is in progress in the cache or committed")
    return 0


def _classroom():
    try:
        import nbgrader  # noqa: F401
    except ImportError:
        raise ConfigError("the classroom commands need nbgrader: pip install -e '.[classroom]' (included in the "
                          "test extra, so the README's first command installs it)") from None
    from . import classroom

    return classroom


def cmd_assignment(args: argparse.Namespace) -> int:
    try:
        classroom = _classroom()
        if args.list:
            if args.chapter is not None or args.out is not None:
                raise ConfigError("--list takes no CHAPTER or --out")
            print(classroom.listing())
            return 0
        if args.chapter is None or args.out is None:
            raise ConfigError("give a CHAPTER and --out DIR (or --list)")
        selected = classroom.chapters() if args.chapter == "all" else [classroom.find_chapter(args.chapter)]
        writable_folder(args.out)
    except ConfigError as err:
        print(f"python -m tiedemb assignment: error: {err}", file=sys.stderr)
        return 2
    for chapter in selected:
        path = classroom.write_assignment(chapter, args.out)
        print(f"wrote {path}: {len(chapter.exercises)} exercises, {chapter.points:g} points")
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    try:
        classroom = _classroom()
        try:
            timeout = float(args.timeout)
        except ValueError:
            raise ConfigError(f"--timeout must be a number of seconds, got {args.timeout!r}") from None
        if not timeout > 0:
            raise ConfigError(f"--timeout must be a positive number of seconds, got {args.timeout!r}")
        if args.chapter is not None:
            classroom.find_chapter(args.chapter)
        if not classroom.submissions(args.submissions):
            raise ConfigError("no notebooks (.ipynb) found in " + ", ".join(map(str, args.submissions)))
        writable_folder(args.out)
    except ConfigError as err:
        print(f"python -m tiedemb grade: error: {err}", file=sys.stderr)
        return 2
    results = classroom.grade(args.submissions, args.out, timeout=timeout, only_exercises=args.only_exercises,
                              chapter=args.chapter, progress=lambda s: print(classroom.summary_line(s), flush=True))
    print(f"wrote {args.out / 'scores.csv'} ({len(results)} submissions) and feedback in {args.out / 'feedback'}")
    return 0


def cmd_list() -> int:
    from .experiments import all_experiments

    experiments = all_experiments()
    width = max(len(e.name) for e in experiments)
    for e in experiments:
        print(f"{e.name:<{width}}  {e.reproduces}   [{e.chapter}]")
    return 0


def writable_folder(path: Path, option: str = "--out") -> None:
    """Create ``path`` if needed and check that files can be written in it; :class:`ConfigError` otherwise."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise ConfigError(f"{option} {str(path)!r} cannot be created or written: {err.strerror or err}") from None


def cmd_run_all(args: argparse.Namespace) -> int:
    from .experiments import all_experiments
    from .experiments.pool import FAILED, run_all

    try:
        if args.name is not None or args.seeds is not None or args.out_given or args.text is not None \
                or args.size is not None:
            raise ConfigError("--all runs every experiment at its own seeds into the cache; it takes no NAME, "
                              "--seeds or --out, nor --text or --size")
        if args.scale not in SCALES:
            raise ConfigError(f"unknown scale {args.scale!r}; allowed: {', '.join(SCALES)}")
        jobs = parse_positive_int("--jobs", args.jobs) if args.jobs is not None else (os.cpu_count() or 1)
    except ConfigError as err:
        print(f"python -m tiedemb run: error: {err}", file=sys.stderr)
        return 2
    experiments = all_experiments()
    configs = [e.config_cls.for_scale(args.scale) for e in experiments]
    after = {e.name: e.after for e in experiments}
    print(f"{len(configs)} experiments at {args.scale} scale on {jobs} worker process(es); a line as each one ends "
          f"(the longest take about two minutes)", flush=True)
    ended = 0
    start = time.perf_counter()

    def report(outcome) -> None:
        nonlocal ended
        ended += 1
        tail = f": {outcome.error}" if outcome.status == FAILED else ""
        elapsed = time.perf_counter() - start
        print(f"[{ended:>2}/{len(configs)}] {outcome.status:<8} {outcome.name} ({outcome.seconds:.0f} s; "
              f"{elapsed // 60:.0f} min {elapsed % 60:02.0f} s elapsed){tail}", flush=True)

    summary = run_all(configs, jobs=jobs, after=after, cost={e.name: e.cost for e in experiments}, report=report)
    print(summary.line())
    if summary.failed:
        print("failed: " + ", ".join(o.name for o in summary.failed), file=sys.stderr)
        return 1
    return 0


def with_text(cfg, path: Path):
    """``cfg`` reading a user's text file (checked now: missing, empty or non-UTF-8 is a :class:`CorpusError`)."""
    from .data.corpus import read_text_file

    if "source" not in cfg.to_dict():
        raise ConfigError(f"--text: {cfg.name} does not train on a text (experiments with a text source: "
                          f"{', '.join(text_experiments())})")
    read_text_file(path)
    return cfg.replace(source=str(Path(path).resolve()))


def with_size(cfg, size: str):
    """``cfg`` at the paper's model ``size`` (experiments whose config offers sizes, e.g. pw-lm)."""
    sizes = getattr(type(cfg), "sizes", None)
    if sizes is None:
        raise ConfigError(f"--size applies to experiments with the paper's model sizes (pw-lm), not to {cfg.name}")
    if size not in sizes:
        raise ConfigError(f"--size must be one of {', '.join(sizes)}; got {size!r}")
    if cfg.scale != "paper":
        if size == sizes[0]:
            return cfg
        raise ConfigError(f"--size {size} is the paper's {size} model, a paper-scale configuration: add --scale paper")
    return type(cfg).paper(size=size)


def with_ratios(cfg, text: str):
    """``cfg`` with the target ratios of ``--ratios`` (validated by the config: each must be > 0)."""
    if "ratios" not in {f.name for f in dataclasses.fields(cfg)}:
        raise ConfigError(f"--ratios applies to tpe-steering, not to {cfg.name}")
    try:
        ratios = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise ConfigError(f"--ratios must be numbers separated by commas, e.g. '0.05,0.5,2,20'; got {text!r}"
                          ) from None
    return cfg.replace(ratios=ratios)


def text_experiments() -> list[str]:
    """Names of the experiments whose config has a ``source`` (a text to train on)."""
    from .experiments import all_experiments

    return [e.name for e in all_experiments() if "source" in e.config_cls.__dataclass_fields__]


def cmd_run(args: argparse.Namespace) -> int:
    from .data.corpus import CorpusError
    from .experiments import UnknownExperiment, get

    if args.all:
        return cmd_run_all(args)
    try:
        if args.name is None:
            raise ConfigError("name an experiment (see `python -m tiedemb list`) or use --all")
        experiment = get(args.name)
        if args.scale not in SCALES:
            raise ConfigError(f"unknown scale {args.scale!r}; allowed: {', '.join(SCALES)}")
        cfg = experiment.config_cls.for_scale(args.scale)
        if args.size is not None:
            cfg = with_size(cfg, args.size)
        if args.seeds is not None:
            cfg = cfg.replace(seeds=parse_seeds(args.seeds))
        if args.model is not None:
            if "model_dir" not in {f.name for f in dataclasses.fields(cfg)}:
                raise ConfigError(f"--model applies to experiments that read a pretrained model (nv-minilm, "
                                  f"tpe-encoding, tpe-steering, tpe-deletion, tpe-dynamics), not to {cfg.name}")
            cfg = cfg.replace(model_dir=str(args.model.expanduser().resolve()))
        if args.ratios is not None:
            cfg = with_ratios(cfg, args.ratios)
        preflight = getattr(cfg, "preflight", None)
        if preflight is not None:
            preflight()  # e.g. a model folder without weights, or with a tokenizer that does not match
        if args.text is not None:
            cfg = with_text(cfg, args.text)
        writable_folder(args.out)
    except (UnknownExperiment, ConfigError, CorpusError) as err:
        print(f"python -m tiedemb run: error: {err}", file=sys.stderr)
        return 2

    import matplotlib

    matplotlib.use("Agg")
    from .cache import cache_path
    from .experiments import compute, run_or_load
    from .plotting import save_figures
    from .results import replace_dir
    from .resume import restore_checkpoints

    for c in restore_checkpoints() if cfg.scale == "paper" else ():  # a long run stopped in another checkout
        print(f"restored the committed checkpoint {c.path} (step {c.step:,}) into the cache", file=sys.stderr)
    try:
        result = compute(cfg) if args.no_cache else run_or_load(cfg, compute_missing=True)
    except (ConfigError, CorpusError) as err:  # e.g. a user's text too short for the experiment's batches
        print(f"python -m tiedemb run: error: {err}", file=sys.stderr)
        return 2
    if args.no_cache:
        result.save(cache_path(cfg))
    final = args.out / cfg.name
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


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """Parse ``"he/she,city/town"`` into pairs of two different lower-case words."""
    pairs = []
    for item in (p.strip() for p in text.split(",")):
        a, sep, b = item.partition("/")
        a, b = a.strip().lower(), b.strip().lower()
        if not sep or not a or not b or "/" in b:
            raise ConfigError(f"bad pair {item!r} in --pairs {text!r}; use e.g. 'he/she,city/town'")
        if a == b:
            raise ConfigError(f"bad pair {item!r}: the two words must differ")
        pairs.append((a, b))
    return pairs


def cmd_diagnose(args: argparse.Namespace) -> int:
    from .data.corpus import CorpusError, read_text_file, sentences, wikipedia_articles
    from .data.languages import LanguageError
    from .metrics.equivalence import estimate_pair
    from .seeding import numpy_rng

    try:
        if (args.file is None) == (not args.wikipedia):
            raise ConfigError("give exactly one of FILE or --wikipedia")
        pairs = parse_pairs(args.pairs)
        window = None if args.window == "all" else parse_positive_int("--window", args.window)
        permutations = parse_positive_int("--permutations", args.permutations)
        seed = int(args.seed) if args.seed.isdigit() else parse_positive_int("--seed", args.seed)
        if args.wikipedia:
            corpus = [s for d in wikipedia_articles() for s in sentences(d.text)]
        else:
            corpus = sentences(read_text_file(args.file))
        if not corpus:
            raise CorpusError(f"{args.file} holds no words")
        reports = [estimate_pair(corpus, a, b, window=window, causal=args.causal, permutations=permutations,
                                 rng=numpy_rng(seed, k)) for k, (a, b) in enumerate(pairs)]
    except (ConfigError, CorpusError, LanguageError) as err:
        print(f"python -m tiedemb diagnose: error: {err}", file=sys.stderr)
        return 2
    words = sum(len(s) for s in corpus)
    context = "whole sentence" if window is None else f"{window} word(s)"
    side = "on the left" if args.causal else "each side"
    print(f"{words} words in {len(corpus)} sentences; context: {context} {side}; {permutations} permutations")
    print(f"{'pair':<22} {'n_a':>7} {'n_b':>7} {'D≡ (null)':>14} {'D∼ (null)':>14}  DH / advice")
    for r in reports:
        sem = f"{r.semantic:.3f} ({r.semantic_null:.3f})"
        cond = f"{r.conditional:.3f} ({r.conditional_null:.3f})"
        print(f"{r.a + ' / ' + r.b:<22} {int(r.count_a):>7} {int(r.count_b):>7} {sem:>14} {cond:>14}  "
              f"{r.dh}; {r.tie_advice}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        args.out_given = args.out is not None
        args.out = Path("out") if args.out is None else args.out
    if args.command == "list":
        return cmd_list()
    if args.command == "diagnose":
        return cmd_diagnose(args)
    if args.command == "assignment":
        return cmd_assignment(args)
    if args.command == "grade":
        return cmd_grade(args)
    if args.command == "checkpoints":
        return cmd_checkpoints(args)
    return cmd_run(args)


if __name__ == "__main__":
    sys.exit(main())
