"""Chapter "Equivalences, the distributional hypothesis, and why tying assumes it" (bertolotti2024, theory).

Three experiments:

- ``eqv-theorems``: the cross-entropy minimiser (B-L1), the output theorem and its converse (B-T1, B-T2), the input
  side (B-T3, B-T4), each optimised to convergence in float64, with the counterexamples when an assumption fails.
- ``eqv-tying``: the conflict under tying (B-T5) on three two-step toy languages, and the gradient view (B-L2, B-L3)
  on random models and along training runs.
- ``eqv-diagnose``: the "should I tie?" diagnostic on the exact XOR languages, on samples from them, on a synthetic
  language with planted violations and on the Wikipedia sample shipped with gensim.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...claims import judge
from ...config import ExperimentConfig, positive
from ...data.languages import plant_false_twins, plant_twins, sample_language, twin_language, xor_language
from ...metrics.equivalence import exact_report
from ...results import Result
from ...seeding import numpy_rng, seed_everything
from ...theory.bertolotti import (
    ce_minimiser,
    encode,
    equal_inputs_equal_outputs,
    equal_rows_equal_outputs,
    input_theorem,
    output_theorem,
    path_contractions,
    population_loss,
    random_contractions,
    train_context_model,
)
from .. import register

CHAPTER = "book/theory/equivalences"
DIAG_CHAPTER = "book/theory/should_i_tie"
XOR_CONFIGS = {"main": ((0.1, 0.9), (0.5, 0.5)), "ndh": ((1.0, 0.0), (0.1, 0.9)), "ydh": ((1.0, 0.0), (0.5, 0.5))}
XOR_PAIRS = (("0", "1"), ("2", "3"), ("0", "2"))


def small(x: float, bound: float = 1e-5) -> str:
    """A number that should be (near) zero, printed so that round-off differences between machines do not show:
    "0" for an exact zero, "< bound" below the bound, else one decimal in scientific notation."""
    if x == 0:
        return "0"
    return f"< {bound:.0e}" if abs(x) < bound else f"{x:.1e}"


# --------------------------------------------------------------------------------------------------------------------
# eqv-theorems


@dataclass(frozen=True)
class TheoremsConfig(ExperimentConfig):
    """Small float64 instances of the theorems' settings, optimised to convergence with L-BFGS."""

    name = "eqv-theorems"

    n_contexts: int = 16  # contexts x of the toy languages
    d_model: int = 4  # d: embedding size
    vocab_size: int = 6  # |Σ|
    deficient_rank: int = 2  # rank of the representations / maps in the counterexamples (< d_model)
    tol: float = 1e-5  # "equal" at the optimum: L-BFGS stops near 1e-8; the counterexamples are > 0.1

    def _validate(self) -> None:
        for f in ("n_contexts", "d_model", "vocab_size", "deficient_rank"):
            positive(f, getattr(self, f), integer=True)
        positive("tol", self.tol)
        if not 1 < self.deficient_rank < self.d_model <= self.n_contexts:
            from ...config import ConfigError

            raise ConfigError(f"need 1 < deficient_rank ({self.deficient_rank}) < d_model ({self.d_model}) <= "
                              f"n_contexts ({self.n_contexts})")

    @classmethod
    def quick(cls) -> TheoremsConfig:
        return cls(scale="quick", seeds=(0,))

    @classmethod
    def paper(cls) -> TheoremsConfig:
        # The paper gives no sizes for its theory. Larger instances converge too slowly for L-BFGS to certify equality
        # to 1e-5 (measured: d_model 16, vocab 32 stops at 4e-4), so the paper scale runs more seeds, not larger sizes.
        return cls(scale="paper", seeds=tuple(range(10)))


@register("eqv-theorems", reproduces="Bertolotti & Cazzola (2024) theory: B-L1, B-T1 to B-T4",
          chapter=CHAPTER, config_cls=TheoremsConfig)
def run_theorems(cfg: TheoremsConfig) -> Result:
    n, d, v, r = cfg.n_contexts, cfg.d_model, cfg.vocab_size, cfg.deficient_rank
    rows: dict[str, list] = {k: [] for k in ("l1", "t1", "t1_ratio", "t1_deficient", "t2", "t3", "t4", "t4_body",
                                             "t4_out")}
    lang = xor_language(4, (0.1, 0.9), (0.5, 0.5))
    for seed in cfg.seeds:
        gen = seed_everything(seed)
        p = numpy_rng(seed, 1).dirichlet(np.ones(v), size=n)
        rows["l1"].append(float(np.abs(ce_minimiser(p, gen) - p).max()))
        rows["t1"].append(output_theorem(n, d, v, d, 1.0, gen))
        rows["t1_ratio"].append(output_theorem(n, d, v, d, 1 / 9, gen))
        rows["t1_deficient"].append(output_theorem(n, d, v, r, 1.0, gen))
        rows["t2"].append(equal_rows_equal_outputs(n, d, v, gen))
        rows["t3"].append(equal_inputs_equal_outputs(lang, "0", "2", gen))
        rows["t4"].append(input_theorem(n, d, v, d, d, gen))
        rows["t4_body"].append(input_theorem(n, d, v, r, d, gen))
        rows["t4_out"].append(input_theorem(n, d, v, d, r, gen))

    def worst(key: str, attr: str, fn=max) -> float:
        return float(fn(getattr(x, attr) for x in rows[key]))

    m = {
        "l1_max_err": max(rows["l1"]),
        "t1_dist_init": worst("t1", "dist_init", min), "t1_dist_opt": worst("t1", "dist_opt"),
        "t1_excess_loss": worst("t1", "excess_loss"),
        "t1_ratio_dist_opt": worst("t1_ratio", "dist_opt", min), "t1_ratio_log_err": worst("t1_ratio", "log_ratio_err"),
        "t1_def_dist_opt": worst("t1_deficient", "dist_opt", min),
        "t1_def_dist_span": worst("t1_deficient", "dist_in_span"),
        "t1_def_excess_loss": worst("t1_deficient", "excess_loss"),
        "t2_max_pred_diff": max(rows["t2"]), "t3_max_pred_diff": max(rows["t3"]),
        "t4_dist_init": worst("t4", "dist_init", min), "t4_dist_opt": worst("t4", "dist_opt"),
        "t4_excess_loss": worst("t4", "excess_loss"),
        "t4_body_dist_opt": worst("t4_body", "dist_opt", min), "t4_body_excess": worst("t4_body", "excess_loss"),
        "t4_body_pred_diff": worst("t4_body", "max_pred_diff"),
        "t4_out_dist_opt": worst("t4_out", "dist_opt", min), "t4_out_excess": worst("t4_out", "excess_loss"),
        "d_model": d, "deficient_rank": r, "n_contexts": n, "vocab_size": v,
    }
    tol = cfg.tol
    counter = 0.1  # a counterexample needs a clearly nonzero distance at the optimum
    l1 = m["l1_max_err"] < tol
    t1 = (m["t1_dist_opt"] < tol and m["t1_excess_loss"] < tol and m["t1_def_dist_span"] < tol
          and m["t1_def_dist_opt"] > counter)
    t2 = m["t2_max_pred_diff"] == 0.0 and m["t1_ratio_dist_opt"] > counter and m["t1_ratio_log_err"] < 1e-3
    t3 = m["t3_max_pred_diff"] == 0.0
    t4 = (m["t4_dist_opt"] < tol and m["t4_excess_loss"] < tol and m["t4_body_dist_opt"] > counter
          and m["t4_out_dist_opt"] > counter and max(m["t4_body_excess"], m["t4_out_excess"]) < tol)
    claims = [
        judge("B-L1", "The population minimiser of the cross-entropy is the true conditional distribution.",
              "q* = p (Lagrange multipliers)", f"free logits from a random start: max |q - p| {small(m['l1_max_err'])}",
              l1),
        judge("B-T1", "At the optimum, conditionally equivalent symbols have equal output embeddings when the "
              "representations span R^d (and need not when they do not).",
              "∼ ⇒ E_out(a) = E_out(b) (hypotheses reconstructed)",
              f"rank {d}: ‖e_a - e_b‖ {m['t1_dist_init']:.2f} → {small(m['t1_dist_opt'])}; rank {r} < {d}: "
              f"‖e_a - e_b‖ = {m['t1_def_dist_opt']:.2f} at the optimum, its part in span{{h}} "
              f"{small(m['t1_def_dist_span'])}", t1),
        judge("B-T2", "Equal output embeddings give equal output probabilities; so symbols that are not "
              "conditionally equivalent have different output embeddings at the optimum.",
              "converse of B-T1 (reconstructed)",
              f"equal rows: max |f(a|x) - f(b|x)| = {small(m['t2_max_pred_diff'])}; ratio 1/9: ‖e_a - e_b‖ = "
              f"{m['t1_ratio_dist_opt']:.2f} with (e_a - e_b)·h = log(1/9) to "
              f"{small(m['t1_ratio_log_err'], 1e-3)}", t2),
        judge("B-T3", "Equal input embeddings imply identical predictions in every context.",
              "always holds (reconstructed)", f"max |f(·|ρ[a]) - f(·|ρ[b])| = {small(m['t3_max_pred_diff'])}", t3),
        judge("B-T4", "Under the theorem's assumptions (optimal model, injective body, injective softmax∘E_out), "
              "semantically equivalent symbols get equal input embeddings; without them they need not.",
              "≡ ⇒ E_in(a) = E_in(b) under restrictive assumptions; a counterexample breaks one of them",
              f"full rank: ‖e_a - e_b‖ {m['t4_dist_init']:.2f} → {small(m['t4_dist_opt'])}; rank-{r} body: "
              f"{m['t4_body_dist_opt']:.2f}, rank-{r} E_out: {m['t4_out_dist_opt']:.2f}, both at the optimal loss",
              t4),
    ]
    arrays = {"l1_err": np.array(rows["l1"]),
              "t1_dist": np.array([[x.dist_init, x.dist_opt] for x in rows["t1"]]),
              "t1_def_dist": np.array([[x.dist_init, x.dist_opt, x.dist_in_span] for x in rows["t1_deficient"]]),
              "t4_dist": np.array([[x.dist_init, x.dist_opt] for x in rows["t4"]]),
              "t4_body_dist": np.array([[x.dist_init, x.dist_opt] for x in rows["t4_body"]]),
              "t4_out_dist": np.array([[x.dist_init, x.dist_opt] for x in rows["t4_out"]])}
    return Result(cfg.name, cfg.to_dict(), m, claims, arrays)


# --------------------------------------------------------------------------------------------------------------------
# eqv-tying


@dataclass(frozen=True)
class TyingConfig(ExperimentConfig):
    """Tied vs untied context models trained to convergence on the exact population loss of three toy languages."""

    name = "eqv-tying"

    d_model: int = 3  # d = rank of the conflict language's centred log-probabilities: spanning is forced
    hidden: int = 16  # body width
    restarts: int = 4  # independent starts per model; the best is kept
    steps: int = 600  # full-batch AdamW steps on the population loss
    lr: float = 0.05
    weight_decay: float = 0.01  # bounds the weights: without it the tied infimum is approached, never reached
    trials: int = 200  # random models for the contraction inequality (B-L2)

    def _validate(self) -> None:
        for f in ("d_model", "hidden", "restarts", "steps", "trials"):
            positive(f, getattr(self, f), integer=True)
        positive("lr", self.lr)
        positive("weight_decay", self.weight_decay)

    @classmethod
    def quick(cls) -> TyingConfig:
        return cls(scale="quick", seeds=(0,))

    @classmethod
    def paper(cls) -> TyingConfig:
        return cls(scale="paper", seeds=(0, 1, 2), restarts=16, steps=3000, trials=2000)


@register("eqv-tying", reproduces="Bertolotti & Cazzola (2024) theory: B-T5 (tying conflict), B-L2, B-L3 (gradients)",
          chapter=CHAPTER, config_cls=TyingConfig)
def run_tying(cfg: TyingConfig) -> Result:
    kinds = ("agree", "freq", "conflict")
    excess = {k: {"untied": [], "tied": []} for k in kinds}
    traces: dict[str, list] = {}
    contractions, neg_share, grad_err = [], [], 0.0
    for seed in cfg.seeds:
        gen = seed_everything(seed)
        c_eq, err1 = random_contractions(cfg.trials, 8, cfg.d_model + 1, 6, 1.0, gen)
        c_ne, err2 = random_contractions(cfg.trials, 8, cfg.d_model + 1, 6, 1 / 9, gen)
        contractions.append(c_eq.min())
        neg_share.append(float((c_ne < 0).mean()))
        grad_err = max(grad_err, err1, err2)
        for kind in kinds:
            lang = twin_language(kind)
            tokens, w, p = encode(lang)
            pair = [(lang.alphabet.index("A"), lang.alphabet.index("B"))]
            for tied in (False, True):
                log: dict[str, list] = {}

                def record(step, model, tokens=tokens, w=w, p=p, log=log, pair=pair):
                    for key, value in path_contractions(model, tokens, w, p, pair).items():
                        log.setdefault(key, []).append(value[:, 0])

                model = train_context_model(lang, tied=tied, restarts=cfg.restarts, d_model=cfg.d_model,
                                            hidden=cfg.hidden, steps=cfg.steps, lr=cfg.lr, gen=gen,
                                            weight_decay=cfg.weight_decay, record=record)
                loss = population_loss(model, lang) - lang.bayes_loss()
                excess[kind]["tied" if tied else "untied"].append(float(loss.min()))
                name = f"{kind}_{'tied' if tied else 'untied'}"
                for key, value in log.items():
                    traces.setdefault(f"{name}_{key}", []).append(np.stack(value, 1))  # (R, steps)
    arrays = {k: np.concatenate(v, 0) for k, v in traces.items()}
    best = {k: {t: float(min(v)) for t, v in d.items()} for k, d in excess.items()}
    # B-L2 along training: the output-path contraction of the untied ∼ pair (agree) never negative
    c_train = float(arrays["agree_untied_contract_out"].min())
    c_train_freq = float((arrays["freq_untied_contract_out"] < 0).mean())
    final = {k: float(v[:, -1].mean()) for k, v in arrays.items() if "_dist_" in k}
    # B-L3: in the tied model, both paths contract the ✓DH pair on average; the ✗DH pair stays apart
    agree_in = float(arrays["agree_tied_contract_in"].mean())
    agree_out = float(arrays["agree_tied_contract_out"].mean())
    m = {"excess": best, "random_min_contraction_eq": float(min(contractions)),
         "random_negative_share_ratio9": float(np.mean(neg_share)), "grad_closed_form_err": grad_err,
         "train_min_contraction_agree": c_train, "train_negative_share_freq": c_train_freq,
         "final_dist": final, "agree_tied_mean_contract_in": agree_in, "agree_tied_mean_contract_out": agree_out,
         "bayes": {k: twin_language(k).bayes_loss() for k in kinds}}
    # "At the Bayes loss" = within 1e-5 nats (the optimiser's tolerance): the untied models and the tied model on the
    # DH language are; the tied model on the conflict language is not, and is 100x further from it than the untied.
    at_bayes = 1e-5
    t5 = (best["conflict"]["untied"] < at_bayes < best["conflict"]["tied"]
          and best["conflict"]["tied"] > 100 * best["conflict"]["untied"] and best["agree"]["tied"] < at_bayes
          and best["agree"]["untied"] < at_bayes)
    l2 = m["random_min_contraction_eq"] >= 0 and c_train >= -1e-12 and m["random_negative_share_ratio9"] > 0
    # ✗DH "kept apart": the tied rows stay as far apart as the untied output rows of the same pair (within half)
    l3 = (agree_in > 0 and agree_out > 0 and final["agree_tied_dist_out"] < final["agree_untied_dist_out"]
          and final["freq_tied_dist_out"] >= 0.5 * final["freq_untied_dist_out"])
    claims = [
        judge("B-T5", "When ∼ holds but ≡ does not, the best tied model is worse than the best untied model; when "
              "≡ and ∼ agree, tying costs nothing.",
              "a tied model cannot be optimal when the DH fails (reconstructed)",
              f"excess loss over Bayes (nats), untied / tied: ∼ not ≡ {small(best['conflict']['untied'])} / "
              f"{small(best['conflict']['tied'])}; DH holds {small(best['agree']['untied'])} / "
              f"{small(best['agree']['tied'])}; "
              f"≡ not ∼ {small(best['freq']['untied'])} / {small(best['freq']['tied'])}", t5),
        judge("B-L2", "The output-path gradient never increases the distance between the output embeddings of "
              "conditionally equivalent symbols; for a pair that is not ∼ it can.",
              "project derivation: (e_a - e_b)·(g_a - g_b) ≥ 0 when p(a|x) = p(b|x)",
              f"min over {cfg.trials * len(cfg.seeds)} random models {m['random_min_contraction_eq']:.1e}, along "
              f"training {small(c_train)}; pair with ratio 1/9: negative in {m['random_negative_share_ratio9']:.0%} "
              f"of random models", l2),
        judge("B-L3", "In a tied model both gradient paths pull a ✓DH pair together, so it merges faster than in "
              "the untied output embedding; a ✗DH pair is kept apart.",
              "project derivation; blog: tied A, B converge more quickly",
              f"✓DH pair: mean contraction by the input path {agree_in:.1e}, output path {agree_out:.1e}; final "
              f"distance tied {final['agree_tied_dist_out']:.3f} vs untied output "
              f"{final['agree_untied_dist_out']:.3f}; ✗DH (≡ not ∼) tied {final['freq_tied_dist_out']:.3f} vs untied "
              f"output {final['freq_untied_dist_out']:.3f}", l3),
    ]
    return Result(cfg.name, cfg.to_dict(), m, claims, arrays)


# --------------------------------------------------------------------------------------------------------------------
# eqv-diagnose


@dataclass(frozen=True)
class DiagnoseConfig(ExperimentConfig):
    """The "should I tie?" diagnostic on languages where the answer is known, and on real text."""

    name = "eqv-diagnose"

    xor_bits: int = 4  # bits of the XOR language (paper: 7; the table has n 2^(n-1) (2^n - 1) contexts)
    xor_samples: int = 20_000  # sequences sampled from the XOR language for the estimates
    synthetic_tokens: int = 60_000  # tokens of the synthetic Markov language
    wiki_articles: int = 40  # articles of the gensim Wikipedia sample (it has about 106)
    permutations: int = 19  # permutation-null draws: 19 gives a 5% test
    min_count: int = 20  # fewer occurrences of a symbol: "too few samples"

    def _validate(self) -> None:
        for f in ("xor_bits", "xor_samples", "synthetic_tokens", "wiki_articles", "permutations", "min_count"):
            positive(f, getattr(self, f), integer=True)

    @classmethod
    def quick(cls) -> DiagnoseConfig:
        return cls(scale="quick", seeds=(0,))

    @classmethod
    def paper(cls) -> DiagnoseConfig:
        return cls(scale="paper", seeds=(0,), xor_bits=7, xor_samples=200_000, synthetic_tokens=500_000,
                   wiki_articles=106, permutations=99)


WIKI_PAIRS = (("he", "she"), ("one", "two"), ("is", "was"), ("the", "a"), ("city", "town"), ("first", "second"))


def synthetic_corpus(n_tokens: int, rng: np.random.Generator) -> tuple[list[list[str]], dict[str, str]]:
    """The synthetic Markov language (concepts with Zipfian synonyms), split into 20-token sentences, with three
    planted pairs: a 50/50 twin (DH holds), a 10/90 twin (≡ but not ∼) and a false twin (∼ but not ≡, causal)."""
    from ...data.synthetic import CorpusSpec, generate

    spec = CorpusSpec(n_groups=4, concepts_per_group=5, words_per_concept=3)
    corpus = generate(spec, n_tokens, 2, rng)
    words = [f"w{t}" for t in corpus.train]
    seqs = [words[i:i + 20] for i in range(0, len(words), 20)]
    counts = np.bincount(corpus.train, minlength=spec.vocab_size)
    top = [f"w{i}" for i in np.argsort(-counts, kind="stable")[:3]]
    seqs = plant_twins(seqs, top[0], "twin50", 0.5, rng)
    seqs = plant_twins(seqs, top[1], "twin10", 0.1, rng)
    seqs = plant_false_twins(seqs, top[2], "false_twin", "marker", rng)
    # natural synonyms (same concept, Zipfian frequencies): the most frequent concept with no planted word
    planted = {int(w[1:]) // spec.words_per_concept for w in top}
    concept_counts = counts.reshape(-1, spec.words_per_concept).sum(1)
    free = [c for c in np.argsort(-concept_counts, kind="stable") if int(c) not in planted][0]
    base = int(free) * spec.words_per_concept
    pairs = {"twin50": top[0], "twin10": top[1], "false_twin": top[2], f"w{base}": f"w{base + 1}"}
    return seqs, pairs


@register("eqv-diagnose", reproduces="Bertolotti & Cazzola (2024): a 'should I tie?' diagnostic (this book)",
          chapter=DIAG_CHAPTER, config_cls=DiagnoseConfig)
def run_diagnose(cfg: DiagnoseConfig) -> Result:
    from ...data.corpus import sentences, wikipedia_articles
    from ...metrics.equivalence import estimate_pair

    seed = cfg.seeds[0]
    seed_everything(seed)
    rows = []

    def add(source: str, report, expected: str = "") -> None:
        rows.append({"source": source, **report.row(), "expected": expected})

    exact = {}
    for key, (zd, od) in XOR_CONFIGS.items():
        lang = xor_language(cfg.xor_bits, zd, od)
        for a, b in XOR_PAIRS:
            if key != "main" and "1" in (a, b):
                continue  # symbol 1 never occurs in the NDH and YDH languages
            rep = exact_report(lang, a, b)
            exact[(key, a, b)] = rep
            add(f"XOR {key} (exact)", rep)
    main = xor_language(cfg.xor_bits, *XOR_CONFIGS["main"])
    sample = sample_language(main, cfg.xor_samples, numpy_rng(seed, 1))
    match = []
    for a, b in XOR_PAIRS:
        est = estimate_pair(sample, a, b, permutations=cfg.permutations, min_count=cfg.min_count,
                            rng=numpy_rng(seed, 2))
        ex = exact[("main", a, b)]
        match.append(est.semantic_equivalent == ex.semantic_equivalent
                     and est.conditional_equivalent == ex.conditional_equivalent)
        add("XOR main (samples)", est, ex.dh)
    synth, planted = synthetic_corpus(cfg.synthetic_tokens, numpy_rng(seed, 3))
    expected = {"twin50": "holds (≡ and ∼)", "twin10": "fails: ≡ but not ∼", "false_twin": "fails: ∼ but not ≡"}
    synth_ok = []
    for a, b in planted.items():
        est = estimate_pair(synth, a, b, window=1, causal=True, permutations=cfg.permutations,
                            min_count=cfg.min_count, rng=numpy_rng(seed, 4))
        exp = expected.get(a, "fails: ≡ but not ∼")
        synth_ok.append(est.dh == exp)
        add("synthetic (causal, window 1)", est, exp)
    docs = wikipedia_articles()[: cfg.wiki_articles]
    wiki = [s for d in docs for s in sentences(d.text)]
    n_words = sum(len(s) for s in wiki)
    for a, b in WIKI_PAIRS:
        est = estimate_pair(wiki, a, b, window=1, permutations=cfg.permutations, min_count=cfg.min_count,
                            rng=numpy_rng(seed, 5))
        add("Wikipedia (window 1)", est)
    wiki_dh_fails = sum(r["dh"].startswith("fails") for r in rows if r["source"].startswith("Wikipedia"))
    m = {"rows": rows, "xor_estimates_match_exact": bool(all(match)), "xor_matches": int(sum(match)),
         "synthetic_planted_found": int(sum(synth_ok)), "synthetic_planted": len(synth_ok),
         "wiki_words": n_words, "wiki_sentences": len(wiki), "wiki_articles": len(docs),
         "wiki_pairs": len(WIKI_PAIRS), "wiki_dh_fails": wiki_dh_fails}
    arrays = {key: np.array([np.nan if r[col] is None else r[col] for r in rows])
              for key, col in (("d_sem", "D_sem"), ("d_cond", "D_cond"))}
    return Result(cfg.name, cfg.to_dict(), m, [], arrays)


# --------------------------------------------------------------------------------------------------------------------
# Numbers for the chapter's prose


def prose_numbers(result: Result) -> dict[str, str]:
    """The numbers the chapter quotes, formatted (rounded) for ``glue``: stable across runs and machines."""
    m = result.metrics

    def e(x: float) -> str:
        return small(x)

    if result.name == "eqv-theorems":
        return {"l1_err": e(m["l1_max_err"]), "t1_init": f"{m['t1_dist_init']:.2f}", "t1_opt": e(m["t1_dist_opt"]),
                "t1_def_opt": f"{m['t1_def_dist_opt']:.2f}", "t1_def_span": e(m["t1_def_dist_span"]),
                "t1_ratio_opt": f"{m['t1_ratio_dist_opt']:.2f}", "t2_diff": e(m["t2_max_pred_diff"]),
                "t3_diff": e(m["t3_max_pred_diff"]), "t4_init": f"{m['t4_dist_init']:.2f}",
                "t4_opt": e(m["t4_dist_opt"]), "t4_body": f"{m['t4_body_dist_opt']:.2f}",
                "t4_out": f"{m['t4_out_dist_opt']:.2f}", "t4_body_excess": e(abs(m["t4_body_excess"])),
                "rank": str(m["deficient_rank"]), "d": str(m["d_model"])}
    if result.name == "eqv-tying":
        ex = m["excess"]
        return {"conflict_tied": e(ex["conflict"]["tied"]), "conflict_untied": e(ex["conflict"]["untied"]),
                "agree_tied": e(ex["agree"]["tied"]), "agree_untied": e(ex["agree"]["untied"]),
                "freq_tied": e(ex["freq"]["tied"]), "freq_untied": e(ex["freq"]["untied"]),
                "bayes_conflict": f"{m['bayes']['conflict']:.4f}",
                "min_contraction": e(m["random_min_contraction_eq"]),
                "neg_share": f"{m['random_negative_share_ratio9']:.0%}",
                "agree_tied_final": f"{m['final_dist']['agree_tied_dist_out']:.2f}",
                "agree_untied_final": f"{m['final_dist']['agree_untied_dist_out']:.2f}",
                "freq_tied_final": f"{m['final_dist']['freq_tied_dist_out']:.2f}",
                "trials": str(result.config["trials"] * len(result.config["seeds"]))}
    if result.name == "eqv-diagnose":
        return {"xor_matches": str(m["xor_matches"]), "planted_found": str(m["synthetic_planted_found"]),
                "planted": str(m["synthetic_planted"]), "wiki_words": f"{m['wiki_words']:,}",
                "wiki_articles": str(m["wiki_articles"]), "wiki_pairs": str(m["wiki_pairs"]),
                "wiki_fails": str(m["wiki_dh_fails"]), "xor_bits": str(result.config["xor_bits"]),
                "xor_samples": f"{result.config['xor_samples']:,}"}
    raise KeyError(f"no prose numbers for {result.name}")


def glue_prose(result: Result) -> None:
    """Glue :func:`prose_numbers` into the page (``{glue:text}`<experiment>.<key>```) without displaying them."""
    from myst_nb import glue

    for key, value in prose_numbers(result).items():
        glue(f"{result.name}.{key}", value, display=False)
