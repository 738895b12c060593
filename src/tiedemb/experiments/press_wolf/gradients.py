"""Chapter "Input and output embeddings, and what tying does to their gradients".

Two experiments:

- ``grad-check``: the tied-gradient theorem and the gradient facts of press2017 Sec. 3 (Eqs. 1-4), measured with
  autograd in float64 on a real LSTM and a real Transformer language model, plus ``gradcheck``.
- ``grad-update-rule``: the update-rule picture measured on real training runs (plain SGD) of an untied and a tied
  LSTM language model on a synthetic PTB-shaped corpus: how often each row of E_in, E_out and the tied matrix is
  updated, how far it moves, and whether the tied matrix evolves like the untied output or input embedding.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from ...claims import judge
from ...config import ConfigError, ExperimentConfig, one_of, positive
from ...data.synthetic import CorpusSpec, generate
from ...metrics.embeddings import pair_cosines, random_pairs, spearman
from ...models import LSTMLanguageModel, TransformerLanguageModel, count_parameters
from ...results import Result
from ...seeding import numpy_rng, seed_everything
from ...theory.press_wolf import gradcheck_tied, gradient_facts, input_word_probability
from ...train.lm import batchify, lr_at_epoch, perplexity, sgd_step, windows
from ...train.progress import progress
from .. import register

CHAPTER = "book/gradients/tied_gradients"
ARCHITECTURES = ("lstm", "transformer")


def build_lm(arch: str, vocab_size: int, d_model: int, n_layers: int, *, tied: bool, n_heads: int = 2,
             d_ff: int = 64, max_len: int = 128) -> torch.nn.Module:
    """An LSTM or Transformer language model of the given shape."""
    one_of("arch", arch, ARCHITECTURES)
    if arch == "lstm":
        return LSTMLanguageModel(vocab_size, d_model, n_layers, tied=tied)
    return TransformerLanguageModel(vocab_size, d_model, n_layers, n_heads, d_ff, max_len=max_len, tied=tied)


# --------------------------------------------------------------------------------------------------------------------
# grad-check


@dataclass(frozen=True)
class GradCheckConfig(ExperimentConfig):
    """The gradient facts on random batches of tied LSTM and Transformer LMs, in float64."""

    name = "grad-check"

    vocab_size: int = 60  # V; paper: PTB's 10,000
    d_model: int = 16  # d = H; paper: 200 (small) or 1,500 (large)
    n_layers: int = 2  # paper: 2 LSTM layers
    n_heads: int = 2  # Transformer only
    d_ff: int = 32  # Transformer only
    batch_size: int = 4  # paper: 20
    seq_len: int = 12  # BPTT window; paper: 20 (small) or 35 (large)
    batches: int = 5  # random batches per model and seed
    zipf: float = 1.2  # tokens are drawn Zipfian so that many rows are absent from a batch, as in real text
    gradcheck_vocab: int = 12  # gradcheck runs on a small model (finite differences of every entry)
    gradcheck_d: int = 4

    def _validate(self) -> None:
        for f in ("vocab_size", "d_model", "n_layers", "n_heads", "d_ff", "batch_size", "seq_len", "batches",
                  "gradcheck_vocab", "gradcheck_d"):
            positive(f, getattr(self, f), integer=True)
        positive("zipf", self.zipf)
        if self.d_model % self.n_heads or self.gradcheck_d % self.n_heads:
            raise ConfigError(f"d_model ({self.d_model}) and gradcheck_d ({self.gradcheck_d}) must be divisible "
                              f"by n_heads ({self.n_heads})")

    @classmethod
    def quick(cls) -> GradCheckConfig:
        return cls(scale="quick", seeds=(0, 1, 2))

    @classmethod
    def paper(cls) -> GradCheckConfig:
        return cls(scale="paper", seeds=(0, 1, 2), vocab_size=10_000, d_model=200, n_heads=4, d_ff=800,
                   batch_size=20, seq_len=20, batches=3)


def zipf_tokens(vocab_size: int, shape: tuple[int, ...], exponent: float, rng: np.random.Generator) -> torch.Tensor:
    """Token ids drawn from a Zipf law over a random ranking of the vocabulary."""
    p = 1.0 / np.arange(1, vocab_size + 1) ** exponent
    ranking = rng.permutation(vocab_size)
    return torch.as_tensor(ranking[rng.choice(vocab_size, size=shape, p=p / p.sum())], dtype=torch.long)


@register("grad-check", reproduces="Press & Wolf (2017) Eqs. 1-4; the tied-gradient theorem", chapter=CHAPTER,
          config_cls=GradCheckConfig)
def run_grad_check(cfg: GradCheckConfig) -> Result:
    rows = []
    gradchecks = {}
    for arch in ARCHITECTURES:
        for seed in cfg.seeds:
            seed_everything(seed)
            rng = numpy_rng(seed, 1)
            model = build_lm(arch, cfg.vocab_size, cfg.d_model, cfg.n_layers, tied=True, n_heads=cfg.n_heads,
                             d_ff=cfg.d_ff, max_len=cfg.seq_len).double()
            for b in range(cfg.batches):
                stream = zipf_tokens(cfg.vocab_size, (cfg.batch_size, cfg.seq_len + 1), cfg.zipf, rng)
                facts = gradient_facts(model, stream[:, :-1], stream[:, 1:])
                rows.append({"arch": arch, "seed": seed, "batch": b, **facts.__dict__})
        seed_everything(cfg.seeds[0])
        small = build_lm(arch, cfg.gradcheck_vocab, cfg.gradcheck_d, 1, tied=True, n_heads=cfg.n_heads,
                         d_ff=2 * cfg.gradcheck_d, max_len=6).double()
        stream = zipf_tokens(cfg.gradcheck_vocab, (2, 6), cfg.zipf, numpy_rng(cfg.seeds[0], 2))
        gradchecks[arch] = gradcheck_tied(small, stream[:, :-1], stream[:, 1:])

    def worst(key: str, arch: str | None = None) -> float:
        return max(r[key] for r in rows if arch is None or r["arch"] == arch)

    def relative(key: str) -> float:
        return max(r[key] / r["grad_scale"] for r in rows)

    tol = 1e-12  # relative to the largest gradient entry; float64 round-off is about 1e-16
    per_arch = {
        arch: {
            "tied_identity_err": worst("tied_identity_err", arch),
            "output_closed_form_err": worst("output_closed_form_err", arch),
            "absent_rows_err": worst("absent_rows_err", arch),
            "present_rows_err": worst("present_rows_err", arch),
            "input_rows_are_input_tokens": all(r["input_rows_are_input_tokens"] for r in rows if r["arch"] == arch),
            "min_output_rows_updated": min(r["output_rows_updated"] for r in rows if r["arch"] == arch),
            "mean_input_rows_updated": float(np.mean([r["input_rows_updated"] for r in rows if r["arch"] == arch])),
            "gradcheck": gradchecks[arch],
        }
        for arch in ARCHITECTURES
    }
    n_checks = len(rows)
    t1 = all(r["input_rows_are_input_tokens"] for r in rows)
    t2 = relative("output_closed_form_err") < tol and min(r["output_rows_updated"] for r in rows) == 1.0
    t3 = relative("absent_rows_err") < tol
    e5 = t1 and t2 and t3 and relative("tied_identity_err") < tol and all(gradchecks.values())
    mean_in = float(np.mean([r["input_rows_updated"] for r in rows]))
    claims = [
        judge("PW-T1", "The input embedding's gradient is nonzero only in the rows of words present in the input "
              "(the whole BPTT window for a minibatch).",
              "Eq. 1: only the input word's row is updated",
              f"rows with gradient = rows of input tokens in {sum(r['input_rows_are_input_tokens'] for r in rows)}"
              f"/{n_checks} batches; {mean_in:.0%} of rows updated per batch", t1),
        judge("PW-T2", "Every row k of the output embedding gets the gradient (p(k) - 1[k = target]) h at every step.",
              "Eq. 2: every row updated at every step",
              f"closed form vs autograd: max error {worst('output_closed_form_err'):.1e}; "
              f"{min(r['output_rows_updated'] for r in rows):.0%} of rows updated", t2),
        judge("PW-T3",
              "In a tied model, a row whose word is not in the input gets exactly the output-embedding update.",
              "Eq. 3: tied update = Eq. 2 for k not in the input",
              f"max |dL/dS - dL/dV| on absent rows: {worst('absent_rows_err'):.1e}", t3),
        judge("PW-E5", "The tied gradient is the sum of the input-path and output-path gradients, and the facts of "
              "Eqs. 1-4 hold exactly under autograd.",
              "exact identities",
              f"max |dL/dS - dL/dU - dL/dV| = {worst('tied_identity_err'):.1e} over {n_checks} batches (LSTM and "
              f"Transformer, float64); gradcheck: " + ", ".join(f"{a} {'passed' if ok else 'FAILED'}"
                                                             for a, ok in gradchecks.items()), e5),
    ]
    metrics = {"per_arch": per_arch, "batches_checked": n_checks, "tolerance_relative": tol,
               "max_relative_identity_err": relative("tied_identity_err")}
    arrays = {
        key: np.array([[r[key] for r in rows if r["arch"] == a] for a in ARCHITECTURES])
        for key in ("tied_identity_err", "output_closed_form_err", "absent_rows_err", "present_rows_err",
                    "input_rows_updated")
    }
    return Result("grad-check", cfg.to_dict(), metrics, claims, arrays)


# --------------------------------------------------------------------------------------------------------------------
# grad-update-rule


@dataclass(frozen=True)
class UpdateRuleConfig(ExperimentConfig):
    """Untied and tied LSTM LMs trained with plain SGD; row-update bookkeeping along training."""

    name = "grad-update-rule"

    n_groups: int = 10  # synthetic language: groups ⊃ concepts ⊃ synonyms (V = product)
    concepts_per_group: int = 10
    words_per_concept: int = 5
    train_tokens: int = 100_000  # paper: PTB's 929k
    valid_tokens: int = 10_000  # paper: PTB's 73k
    d_model: int = 64  # H = embedding size; paper: 200 (small)
    n_layers: int = 2  # paper: 2
    batch_size: int = 20  # paper: 20
    bptt: int = 20  # paper: 20 (small)
    epochs: int = 4  # paper: 13 (small)
    lr: float = 20.0  # on the mean per-token loss; = the TF code's lr 1.0 on a loss summed over 20 steps
    lr_decay: float = 0.5  # paper: ×0.5 per epoch after epoch 4
    decay_start: int = 5  # first decayed epoch (1-based); paper: 5
    clip: float = 5.0  # global-norm clipping; paper: 5
    snapshots: int = 16  # similarity snapshots along training
    n_pairs: int = 4000  # random word pairs for comparing similarity structures

    def _validate(self) -> None:
        for f in ("n_groups", "concepts_per_group", "words_per_concept", "train_tokens", "valid_tokens", "d_model",
                  "n_layers", "batch_size", "bptt", "epochs", "decay_start", "snapshots", "n_pairs"):
            positive(f, getattr(self, f), integer=True)
        for f in ("lr", "lr_decay", "clip"):
            positive(f, getattr(self, f))
        if self.train_tokens < 4 * self.batch_size * self.bptt:
            raise ConfigError(f"train_tokens ({self.train_tokens}) must be at least 4 × batch_size × bptt")

    @property
    def vocab_size(self) -> int:
        return self.n_groups * self.concepts_per_group * self.words_per_concept

    @classmethod
    def quick(cls) -> UpdateRuleConfig:
        return cls(scale="quick", seeds=(0, 1, 2))

    @classmethod
    def paper(cls) -> UpdateRuleConfig:
        return cls(scale="paper", seeds=(0, 1, 2), n_groups=20, concepts_per_group=50, words_per_concept=10,
                   train_tokens=929_000, valid_tokens=73_000, d_model=200, epochs=13, snapshots=26)


def _train_pair(cfg: UpdateRuleConfig, seed: int, corpus, pairs: np.ndarray) -> dict:
    """Train an untied and a tied model from one seed, recording per-row updates and similarity snapshots."""
    V = cfg.vocab_size
    models = {}
    for tied in (False, True):
        seed_everything(seed)  # same seed: the tied matrix starts equal to the untied input embedding
        models["tied" if tied else "untied"] = LSTMLanguageModel(V, cfg.d_model, cfg.n_layers, tied=tied)
    untied, tied = models["untied"], models["tied"]
    start = {"in": untied.emb_in.weight.detach().clone(), "out": untied.emb_out.weight.detach().clone(),
             "tied": tied.emb_in.weight.detach().clone()}
    counts = {k: torch.zeros(V) for k in ("in", "out", "tied", "tied_input_role")}
    streams = batchify(corpus.train, cfg.batch_size)
    steps_per_epoch = len(range(0, streams.shape[1] - 1, cfg.bptt))
    total = steps_per_epoch * cfg.epochs
    snap_at = set(np.linspace(0, total, cfg.snapshots + 1).round().astype(int).tolist())
    snaps: dict[str, list] = {k: [] for k in ("step", "rho_tied_out", "rho_tied_in", "rho_in_out",
                                               "disp_tied_out", "disp_tied_in")}

    def snapshot(step: int) -> None:
        cos = {k: pair_cosines(w, pairs) for k, w in (("in", untied.emb_in.weight), ("out", untied.emb_out.weight),
                                                      ("tied", tied.emb_in.weight))}
        disp = {k: (w.detach() - start[k]).norm(dim=1).numpy()
                for k, w in (("in", untied.emb_in.weight), ("out", untied.emb_out.weight),
                             ("tied", tied.emb_in.weight))}
        snaps["step"].append(step)
        snaps["rho_tied_out"].append(spearman(cos["tied"], cos["out"]))
        snaps["rho_tied_in"].append(spearman(cos["tied"], cos["in"]))
        snaps["rho_in_out"].append(spearman(cos["in"], cos["out"]))
        moved = step > 0
        snaps["disp_tied_out"].append(spearman(disp["tied"], disp["out"]) if moved else 0.0)
        snaps["disp_tied_in"].append(spearman(disp["tied"], disp["in"]) if moved else 0.0)

    def count_untied(model) -> None:
        counts["in"] += (model.emb_in.weight.grad.abs().sum(1) > 0).float()
        counts["out"] += (model.emb_out.weight.grad.abs().sum(1) > 0).float()

    def count_tied(model) -> None:
        counts["tied"] += (model.emb_in.weight.grad.abs().sum(1) > 0).float()

    step = 0
    snapshot(0)
    losses = {"untied": [], "tied": []}
    for epoch in progress(range(1, cfg.epochs + 1), desc=f"seed {seed}"):
        lr = lr_at_epoch(cfg.lr, epoch, cfg.decay_start, cfg.lr_decay)
        for x, y in windows(streams, cfg.bptt):
            losses["untied"].append(sgd_step(untied, x, y, lr, cfg.clip, count_untied))
            losses["tied"].append(sgd_step(tied, x, y, lr, cfg.clip, count_tied))
            present = torch.zeros(V)
            present[x.reshape(-1).unique()] = 1.0  # PW-T1: exactly the rows with an input-path gradient
            counts["tied_input_role"] += present
            step += 1
            if step in snap_at:
                snapshot(step)
    # PW-T4's identity on the trained model, in float64 so that round-off does not hide an error.
    facts = gradient_facts(copy.deepcopy(tied).double(), *next(windows(batchify(corpus.valid, cfg.batch_size),
                                                                       cfg.bptt)))
    valid_streams = batchify(corpus.valid, cfg.batch_size)
    p_input = torch.cat([input_word_probability(tied, x).reshape(-1) for x, _ in windows(valid_streams, cfg.bptt)])
    return {
        "steps": step,
        "update_fraction": {k: (v / step).numpy() for k, v in counts.items()},
        "displacement": {k: (w.detach() - start[k]).norm(dim=1).numpy()
                         for k, w in (("in", untied.emb_in.weight), ("out", untied.emb_out.weight),
                                      ("tied", tied.emb_in.weight))},
        "snapshots": {k: np.asarray(v) for k, v in snaps.items()},
        "loss": {k: np.asarray(v) for k, v in losses.items()},
        "valid_ppl": {k: perplexity(m, corpus.valid, cfg.batch_size, cfg.bptt) for k, m in models.items()},
        "params": {k: count_parameters(m) for k, m in models.items()},
        "analytic_params": {k: m.analytic_parameter_count() for k, m in models.items()},
        "p_input_word": float(p_input.mean()),
        "present_rows_err": facts.present_rows_err,
        "grad_scale": facts.grad_scale,
    }


@register("grad-update-rule", reproduces="Press & Wolf (2017) Sec. 3, update-rule analysis (PW-T4, PW-T5)",
          chapter=CHAPTER, config_cls=UpdateRuleConfig)
def run_update_rule(cfg: UpdateRuleConfig) -> Result:
    spec = CorpusSpec(cfg.n_groups, cfg.concepts_per_group, cfg.words_per_concept)
    # The language and the text are fixed across model seeds (stream 0 of the first seed), as a dataset would be.
    corpus = generate(spec, cfg.train_tokens, cfg.valid_tokens, numpy_rng(cfg.seeds[0], 0))
    pairs = random_pairs(cfg.vocab_size, cfg.n_pairs, numpy_rng(cfg.seeds[0], 3))
    runs = [_train_pair(cfg, seed, corpus, pairs) for seed in cfg.seeds]

    freq = corpus.counts("train") / len(corpus.train)
    uf = {k: np.stack([r["update_fraction"][k] for r in runs]) for k in runs[0]["update_fraction"]}
    disp = {k: np.stack([r["displacement"][k] for r in runs]) for k in runs[0]["displacement"]}
    snaps = {k: np.stack([r["snapshots"][k] for r in runs]) for k in runs[0]["snapshots"]}
    final = {k: float(snaps[k][:, -1].mean()) for k in snaps if k != "step"}
    # The paper's accounting is per time step: at each position one row (the input word's) gets an input-role
    # update and every row an output-role update, so a row's input-role share is its word frequency.
    median_in_role = float(np.median(freq))
    median_batch_in_role = float(np.median(uf["tied_input_role"]))
    median_out_role = float(np.median(uf["tied"]))
    p_in = float(np.mean([r["p_input_word"] for r in runs]))
    repeat_rate = float(np.mean(corpus.valid[1:] == corpus.valid[:-1]))
    present_err = max(r["present_rows_err"] / r["grad_scale"] for r in runs)
    params = runs[0]["params"]
    saving = params["untied"] - params["tied"]
    ptb_small = {t: count_parameters(LSTMLanguageModel(10_000, 200, 2, tied=t)) for t in (False, True)}
    # Fraction of the snapshots after the first at which the tied matrix is closer to the untied output embedding.
    closer_out = float((snaps["rho_tied_out"][:, 1:] > snaps["rho_tied_in"][:, 1:]).mean())

    t4 = present_err < 1e-12 and p_in < 0.05
    t5 = median_out_role >= 10 * median_in_role and final["rho_tied_out"] > final["rho_tied_in"]
    claims = [
        judge("PW-T4", "For the input word's own row, the tied update is the input-embedding update plus the "
              "output term p(i_t) h, and that term is small because a word rarely follows itself.",
              "Eq. 4; the extra term is small (checked empirically in the paper)",
              f"identity error {present_err:.1e} (relative); mean p(input word as next word) = {p_in:.4f} "
              f"(corpus repeat rate {repeat_rate:.4f})", t4),
        judge("PW-T5", "The tied matrix is updated as an output embedding far more often than as an input embedding, "
              "so it evolves like the untied output embedding.",
              "tied ≈ untied output embedding",
              f"median row: output-role update at {median_out_role:.0%} of positions, input-role at "
              f"{median_in_role:.2%} (per minibatch of {cfg.batch_size}×{cfg.bptt} tokens: "
              f"{median_batch_in_role:.0%} of steps); final similarity-structure correlation ρ(tied, out) = "
              f"{final['rho_tied_out']:.2f} vs ρ(tied, in) = {final['rho_tied_in']:.2f}", t5),
    ]
    metrics = {
        "vocab_size": cfg.vocab_size,
        "steps": runs[0]["steps"],
        "final": final,
        "closer_to_output_fraction": closer_out,
        "median_update_fraction": {k: float(np.median(v)) for k, v in uf.items()},
        "median_input_role_per_position": median_in_role,
        "median_input_role_per_step": median_batch_in_role,
        "p_input_word": p_in,
        "repeat_rate": repeat_rate,
        "present_rows_err_relative": present_err,
        "valid_ppl": {k: float(np.mean([r["valid_ppl"][k] for r in runs])) for k in ("untied", "tied")},
        "params": params,
        "analytic_params": runs[0]["analytic_params"],
        "param_saving": saving,
        "param_saving_fraction": saving / params["untied"],
        "ptb_small_params": {"untied": ptb_small[False], "tied": ptb_small[True],
                             "saving": ptb_small[False] - ptb_small[True]},
    }
    arrays = {
        "frequency": freq,
        **{f"update_fraction_{k}": v for k, v in uf.items()},
        **{f"displacement_{k}": v for k, v in disp.items()},
        **{f"snap_{k}": v for k, v in snaps.items()},
        "loss_untied": np.stack([r["loss"]["untied"] for r in runs]),
        "loss_tied": np.stack([r["loss"]["tied"] for r in runs]),
    }
    return Result("grad-update-rule", cfg.to_dict(), metrics, claims, arrays)
