"""Prose values of the bertolotti/xor chapter (see :mod:`tiedemb.book`): the words and rounded numbers its sentences
need, decided by the numbers so that every sentence stays true whatever a run gives."""

from __future__ import annotations

from ...config import ExperimentConfig
from ...experiments.bertolotti.xor import (
    CONFIGS,
    LARGE_RATIO,
    OTHER_BODIES,
    SMALL_RATIO,
    embedding_pattern,
    finals,
    learned_threshold,
    other_bodies_status,
    pairs_of,
    task_learned,
)
from ...experiments.bertolotti.xor_sweep import lr_curve, plateau_exits, point_words
from ...results import Result
from .. import DataTable, prose

MATRIX_WORDS = {"in": "input", "out": "output", "tied": "tied"}


def _names(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``; ``none`` when empty."""
    if not items:
        return "none"
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _mean(values: list[float]) -> str:
    return f"{sum(values) / len(values):.2f}" if values else "–"


@prose(*CONFIGS)
def xor_prose(result: Result) -> dict[str, str]:
    """Words and rounded numbers for one XOR configuration (quick or paper scale)."""
    cfg, m = result.config, result.metrics
    setting = cfg["setting"]
    f = finals(m)
    pattern = embedding_pattern(setting, f)
    threshold = learned_threshold(m)
    acc = m["acc"]
    untied_seeds, tied_seeds = acc["untied"]["per_seed"], acc["tied"]["per_seed"]
    t: dict[str, str] = {
        "seeds": str(len(cfg["seeds"])), "steps": f"{cfg['steps']:,}", "n_bits": str(cfg["n_bits"]),
        "d_model": str(cfg["d_model"]), "d_ff": str(cfg["d_ff"]), "lr": f"{cfg['lr']:g}",
        "t_max": f"{cfg['t_max']:,}", "weight_decay": f"{cfg['weight_decay']:g}",
        "learned_threshold": f"{threshold:.3f}",
        "task_learned": "learned" if task_learned(m) else "not learned",
        "n_stuck_untied": str(sum(x <= threshold for x in untied_seeds)),
        "n_stuck_tied": str(sum(x <= threshold for x in tied_seeds)),
        "tied_vs_untied": "below" if acc["tied"]["final"] < acc["untied"]["final"] else "at or above",
        "n_tied_above_untied": str(sum(b > a for a, b in zip(untied_seeds, tied_seeds, strict=True))),
        "out23_vs_in23": "further apart" if f["out23"] > f["in23"] else "no further apart",
        "min_distance": f"{min(f.values()):.2f}",
        "max_initial_distance": f"{max(d['initial'] for d in m['dist'].values()):.2f}",
        "in_pairs_vs_control": "both end below" if pattern["input_collapse"] else "do not both end below",
        "tied23_speed": "collapses faster" if m["dist"]["tied23"]["auc"] < m["dist"]["out23"]["auc"]
        else "does not collapse faster",
        "small_ratio": f"{SMALL_RATIO:g}", "large_ratio": f"{LARGE_RATIO:g}",
    }
    for matrix, key in (("out", "output"), ("tied", "tied")):
        if f"{key}_dh_collapses" in pattern:
            t[f"{matrix}23_vs_control"] = "is below" if pattern[f"{key}_dh_collapses"] else "is not below"
        if setting == "main":
            t[f"{matrix}01_vs_23"] = "is more than" if pattern[f"{key}_ndh_apart"] else "is not more than"
    # Which tracked pairs end below SMALL_RATIO × the control pair of their matrix ("collapse"), and where (2,3) does.
    collapsed = [f"({p[0]},{p[1]}) {MATRIX_WORDS[mx]}" for mx in MATRIX_WORDS for p in pairs_of(setting)
                 if p != "control" and f[f"{mx}{p}"] < SMALL_RATIO * f[f"{mx}control"]]
    t["collapsed_pairs"] = _names(collapsed)
    where = [MATRIX_WORDS[mx] for mx in MATRIX_WORDS if f[f"{mx}23"] < SMALL_RATIO * f[f"{mx}control"]]
    t["pair23_collapses_in"] = (f"in the {_names(where)} matri{'x' if len(where) == 1 else 'ces'}" if where
                                else "in none of the three matrices")
    t["out23_change"] = "shrinks" if f["out23"] < m["dist"]["out23"]["initial"] else "does not shrink"
    # The tied seeds that stay at or below the half-way mark, and their tied (2,3) distance against the others'.
    stuck = [i for i, x in enumerate(tied_seeds) if x <= threshold]
    tied23 = m["dist"]["tied23"]["per_seed"]
    t["stuck_tied_seeds"] = _names([str(cfg["seeds"][i]) for i in stuck])
    t["tied23_stuck"] = _mean([tied23[i] for i in stuck])
    t["tied23_learned"] = _mean([tied23[i] for i in range(len(tied23)) if i not in stuck])
    # When the untied runs leave the marginal plateau (pass half-way to the Bayes level), against the schedule.
    exit_step, exit_lr = plateau_exits(result)
    exits = [(int(s), float(lr), cfg["seeds"][i]) for i, (s, lr) in enumerate(zip(exit_step, exit_lr, strict=True))
             if s >= 0]
    t["n_plateau_exits"] = f"{len(exits)} of {len(exit_step)}"
    t["plateau_exits"] = _names([f"seed {seed} at step {s:,} (lr {lr:.1e}, {lr / cfg['lr']:.0%} of the peak)"
                                 for s, lr, seed in sorted(exits)])
    return t


@prose("xor-departure")
def departure_prose(result: Result) -> dict[str, str]:
    """The main configuration's words (:func:`xor_prose`) and how many runs of the departure reach the Bayes level."""
    m = result.metrics
    acc = result.arrays["acc_untied"]
    within = acc >= m["bayes_accuracy"] - m["margin"]  # (runs, evaluations)
    ever = int(within.any(axis=1).sum())  # at some evaluation, not only at the end
    # Evaluations at which a run falls out of the Bayes band, and how many of them come at a high learning rate.
    lr = lr_curve(result.config, result.arrays["eval_step"])
    falls = within[:, :-1] & ~within[:, 1:]
    high = lr[1:] >= 0.5 * lr.max()
    return xor_prose(result) | {
        "falls": str(int(falls.sum())), "falls_high_lr": str(int((falls & high).sum())),
        "high_lr_share": f"{high.mean():.0%}",
        "reach": f"{m['n_reach']} of {m['n_runs']}",
        "reach_ever": f"{ever} of {m['n_runs']}",
        "reliability": "learns reliably" if m["reliable"] else "does not learn reliably",
    }


@prose("xor-other-bodies")
def other_bodies_prose(result: Result) -> dict[str, str]:
    """Counts and names for B-E7's paragraph."""
    status = other_bodies_status(result.metrics)
    learned = [n for n, s in status.items() if s["learned"]]
    short = {n: n.removeprefix("xor-") for n in status}
    return {
        "n_configs": str(len(status)), "n_learned": str(len(learned)),
        "n_pattern": str(sum(status[n]["pattern"] for n in learned)),
        "not_learned": _names([short[n] for n in status if n not in learned]),
        "pattern_fails": _names([short[n] for n in learned if not status[n]["pattern"]]),
        "scored_configs": _names([short[n] for n in status]),
        "left_out": _names([n.removeprefix("xor-") for n in OTHER_BODIES if n not in status]),
    }


@prose("xor-lr-sweep")
def sweep_prose(result: Result) -> dict[str, str]:
    """Words for the optimiser sweep: how many runs reach the Bayes level at each point, and the first point that
    learns reliably."""
    m = result.metrics
    rows = m["points"]
    first = m["first_reliable"]
    authors = rows[0]
    escapes = [lr for lr in authors["escape_lr"] if lr is not None]
    most = most_reaching(rows)
    return {
        "per_point": "; ".join(f"{point_words(r)}: {r['n_reach']} of {r['n_runs']}" for r in rows),
        "departure": "none of the settings tried" if first is None else
        f"{point_words(rows[first])}, where {rows[first]['n_reach']} of {rows[first]['n_runs']} runs reach it",
        "first_n_reach": f"{authors['n_reach']} of {authors['n_runs']}",
        "first_exits": f"none of {authors['n_runs']}" if not escapes else
        f"{len(escapes)} of {authors['n_runs']}, at learning rates {', '.join(f'{lr:.1e}' for lr in sorted(escapes))}",
        "n_points": str(len(rows)),
        "trend": reach_trend(rows),
        "most_reach": point_words(rows[most]) + f", where {rows[most]['n_reach']} of {rows[most]['n_runs']} runs "
        "reach it",
        "departure_next": ("no setting tried learns reliably within these steps; the most runs reach the Bayes level "
                           f"at {point_words(rows[most])} ({rows[most]['n_reach']} of {rows[most]['n_runs']})"
                           if rows[most]["n_reach"] else "no setting tried lets a single run reach the Bayes level")
        if first is None else f"the first that does, {point_words(rows[first])}, is the smallest departure found",
    }


def most_reaching(rows: list[dict]) -> int:
    """The sweep point in which the most runs reach the Bayes level; of equals, the first, counted from the authors'
    configuration outward."""
    return max(range(len(rows)), key=lambda i: (rows[i]["n_reach"], -i))


def reach_trend(rows: list[dict]) -> str:
    """How the number of runs that reach the Bayes level changes with the peak learning rate, over the points that
    keep the first point's weight decay, T_max and width, in words."""
    def setting(r: dict) -> tuple:
        return r["weight_decay"], r["t_max"], r.get("d_model")

    same = sorted((r for r in rows if setting(r) == setting(rows[0])), key=lambda r: r["lr"])
    n = [r["n_reach"] for r in same]
    if len(n) < 2:
        return "cannot be told from a single point"
    rises = all(b >= a for a, b in zip(n, n[1:], strict=False))
    falls = all(b <= a for a, b in zip(n, n[1:], strict=False))
    if rises and falls:
        return f"does not change with the peak learning rate ({n[0]} of {same[0]['n_runs']} at every peak)"
    if rises:
        return f"grows with the peak learning rate (from {n[0]} to {n[-1]} of {same[0]['n_runs']})"
    if falls:
        return f"shrinks as the peak learning rate grows (from {n[0]} to {n[-1]} of {same[0]['n_runs']})"
    counts = ", ".join(f"lr {r['lr']:g}: {r['n_reach']}" for r in same)
    best = max(range(len(n)), key=lambda i: n[i])
    return (f"is not monotone in the peak learning rate: the most at lr {same[best]['lr']:g} ({n[best]} of "
            f"{same[best]['n_runs']}; {counts})")


# ---------------------------------------------------------------------------------------------------------------------
# The paper-scale runs: which are committed so far

PAPER_RUNS = (*CONFIGS, "xor-departure")
"""Every XOR configuration the chapter shows at paper scale: the paper's eight, the ablation and the departure."""


def committed_paper(name: str) -> Result | None:
    """The committed paper-scale result of XOR configuration ``name`` (its own paper preset), or None if it has not
    been run and committed yet. Never computes: paper-scale runs take CPU hours."""
    from ...cache import load_committed
    from ...experiments import get

    return load_committed(get(name).config_cls.paper())


def committed_body_results() -> list[Result]:
    """The committed paper-scale results of the other bodies (``xor-other-bodies``' configurations), in its order."""
    return [r for r in map(committed_paper, OTHER_BODIES) if r is not None]


def committed_bodies() -> tuple[str, ...]:
    """The other bodies whose paper-scale run is committed (:func:`committed_body_results`), in the same order."""
    return tuple(r.name for r in committed_body_results())


def departure_runs() -> list[tuple[str, ExperimentConfig]]:
    """The other settings run to the authors' length beside ``xor-departure`` (the chapter's departure sections), each
    with a label built from its configuration."""
    from ...experiments.bertolotti.xor_departure import XorDeparture

    first, wide = XorDeparture.optimiser_only(), XorDeparture.wide_one_decay()
    no_restarts = first.run_config().replace(t_max=first.steps)
    return [(f"xor-departure, d {first.d_model}, lr {first.lr:g}", first),
            (f"the same, one decay (xor-transformer-small, d {no_restarts.d_model}, lr {no_restarts.lr:g})",
             no_restarts),
            (f"xor-departure, d {wide.d_model}, lr {wide.lr:g}, one decay", wide)]


def paper_runs_table() -> DataTable:
    """Per XOR configuration (and per other departure run to the authors' length, :func:`departure_runs`): its
    committed paper-scale run (steps, seeds, wall time, final accuracies, whether the task was learned), or the command
    that produces it."""
    from ...cache import load_committed, produce_command
    from ...experiments import get
    from .. import provenance_text

    rows = []
    for name, cfg in [(n, get(n).config_cls.paper()) for n in PAPER_RUNS] + departure_runs():
        r = load_committed(cfg)
        if r is None:
            rows.append([name, f"{cfg.steps:,}", str(len(cfg.seeds)), "not run yet", "–", "–", produce_command(cfg)])
            continue
        m = r.metrics
        if hasattr(cfg, "run_config"):  # trained as a configuration of another experiment: that run's wall time
            r = load_committed(cfg.run_config()) or r
        rows.append([name, f"{r.config['steps']:,}", str(len(r.config["seeds"])), provenance_text(r)["wall_time"],
                     f"{m['acc']['untied']['final']:.3f}", f"{m['acc']['tied']['final']:.3f}",
                     "task " + ("learned" if task_learned(m) else "not learned")])
    return DataTable(["configuration", "steps", "seeds", "wall time", "untied acc.", "tied acc.", "outcome or command"],
                     rows, kinds=["text", "num", "num", "text", "num", "num", "text wide"])
