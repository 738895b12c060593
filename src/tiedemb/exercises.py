"""Checkers for the book's exercises: a student's function in, a verdict that says what is right or wrong out."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F


@dataclass
class CheckReport:
    """The outcome of checking a student's function."""

    passed: bool
    message: str
    details: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        head = ("PASSED: " if self.passed else "NOT YET: ") + self.message
        return "\n".join([head, *("  - " + d for d in self.details)])

    def __bool__(self) -> bool:
        return self.passed

    def require(self) -> None:
        """Raise :class:`AssertionError` with the report when the check did not pass (the graded test cells of the
        chapters call this: the grader scores a cell that raises as failed and shows the message as feedback)."""
        if not self.passed:
            raise AssertionError(repr(self))


def _cases(n_cases: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    for i in range(n_cases):
        n, d, v = 3 + 2 * i, 2 + i, 5 + 3 * i
        hidden = torch.randn(n, d, generator=gen, dtype=torch.float64)
        emb_out = torch.randn(v, d, generator=gen, dtype=torch.float64)
        targets = torch.randint(0, v, (n,), generator=gen)
        yield hidden, emb_out, targets


def check_output_embedding_gradient(student: Callable, *, n_cases: int = 4, seed: int = 0,
                                    atol: float = 1e-9) -> CheckReport:
    """Check ``student(hidden, emb_out, targets) -> grad`` against autograd.

    The loss is the mean cross-entropy of ``logits = hidden @ emb_out.T`` over the n positions; the student returns
    its gradient with respect to ``emb_out`` (shape (vocab, d)). Inputs are float64 tensors: hidden (n, d),
    emb_out (vocab, d), targets (n,) int64.
    """
    details = []
    for k, (hidden, emb_out, targets) in enumerate(_cases(n_cases, seed)):
        w = emb_out.clone().requires_grad_(True)
        F.cross_entropy(hidden @ w.T, targets).backward()
        expected = w.grad
        try:
            got = student(hidden.clone(), emb_out.clone(), targets.clone())
        except Exception as err:  # noqa: BLE001 - report any failure of the student's code
            last = traceback.format_exception_only(type(err), err)[-1].strip()
            return CheckReport(False, f"your function raised an exception on case {k}: {last}")
        got = torch.as_tensor(got, dtype=torch.float64)
        if got.shape != expected.shape:
            return CheckReport(False, f"case {k}: your gradient has shape {tuple(got.shape)}, expected "
                               f"{tuple(expected.shape)} = (vocab_size, d_model), one row per output embedding row")
        diff = (got - expected).abs()
        if float(diff.max()) > atol:
            row, col = divmod(int(diff.argmax()), diff.shape[1])
            wrong_rows = sorted(set((diff > atol).nonzero()[:, 0].tolist()))
            hint = ""
            if torch.allclose(got, expected * hidden.shape[0], atol=1e-6):
                hint = " It is n times too large: the loss is a mean over the n positions."
            elif torch.allclose(got, -expected, atol=1e-6):
                hint = " It has the wrong sign: the gradient is (q - y) h, not (y - q) h."
            elif set(wrong_rows) <= set(targets.tolist()):
                hint = " Only target rows are wrong: check the -1 of the one-hot target."
            elif not (set(wrong_rows) & set(targets.tolist())):
                hint = " Rows that are never a target are wrong: every row gets q(k) h, through the softmax."
            details.append(f"largest error {float(diff.max()):.3g} at row {row}, column {col}")
            details.append(f"rows that differ: {wrong_rows[:10]}{' ...' if len(wrong_rows) > 10 else ''}")
            return CheckReport(False, f"case {k}: your gradient differs from autograd.{hint}", details)
    return CheckReport(True, f"your gradient matches autograd on {n_cases} random cases (float64, atol {atol}).")


def solution_output_embedding_gradient(hidden: torch.Tensor, emb_out: torch.Tensor,
                                       targets: torch.Tensor) -> torch.Tensor:
    """Reference solution: the mean over positions of (q - y) hᵀ, with q = softmax(h E_outᵀ)."""
    probs = torch.softmax(hidden @ emb_out.T, dim=-1)  # (n, vocab)
    onehot = F.one_hot(targets, emb_out.shape[0]).to(probs.dtype)  # (n, vocab)
    return (probs - onehot).T @ hidden / hidden.shape[0]  # (vocab, d)


def mistake_sum_instead_of_mean(hidden: torch.Tensor, emb_out: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """A common mistake, for the book to show the checker's feedback: the sum over positions instead of the mean."""
    return solution_output_embedding_gradient(hidden, emb_out, targets) * hidden.shape[0]


# --------------------------------------------------------------------------------------------------------------------
# Theory chapter (bertolotti2024): equivalences


def check_sim_not_equiv_language(student: Callable) -> CheckReport:
    """Check ``student() -> Language`` whose symbols ``"a"`` and ``"b"`` are conditionally equivalent (∼) but not
    semantically equivalent (≡), decided exactly by :mod:`tiedemb.metrics.equivalence`."""
    from .data.languages import Language, LanguageError
    from .metrics.equivalence import conditionally_equivalent, semantically_equivalent

    try:
        lang = student()
    except LanguageError as err:
        return CheckReport(False, f"your language is malformed: {err}")
    except Exception as err:  # noqa: BLE001 - report any failure of the student's code
        last = traceback.format_exception_only(type(err), err)[-1].strip()
        return CheckReport(False, f"your function raised an exception: {last}")
    if not isinstance(lang, Language):
        return CheckReport(False, f"return a tiedemb.data.languages.Language, not {type(lang).__name__}")
    missing = [s for s in ("a", "b") if s not in lang.alphabet]
    if missing:
        return CheckReport(False, f"the alphabet must contain 'a' and 'b'; missing {missing}")
    cond = conditionally_equivalent(lang, "a", "b", tol=1e-9)
    sem = semantically_equivalent(lang, "a", "b", tol=1e-9)
    details = [f"a ∼ b: {cond}", f"a ≡ b: {sem}"]
    if not cond:
        return CheckReport(False, "a and b are not conditionally equivalent: some context gives them different "
                           "probabilities as outputs.", details)
    if sem:
        return CheckReport(False, "a and b are also semantically equivalent: add a context where a (or b) is an "
                           "input and the prediction depends on which one it is (with the swapped input also in "
                           "the language).", details)
    return CheckReport(True, "a ∼ b but not a ≡ b: the distributional hypothesis fails on your language.", details)


def check_conditional_divergence(student: Callable, *, atol: float = 1e-9) -> CheckReport:
    """Check ``student(lang, a, b) -> float`` against D∼ of
    :func:`tiedemb.metrics.equivalence.conditional_divergence` on the XOR languages and the two-step toys."""
    from .data.languages import twin_language, xor_language
    from .metrics.equivalence import conditional_divergence

    cases = [(xor_language(3, (0.1, 0.9), (0.5, 0.5)), a, b) for a, b in (("0", "1"), ("2", "3"), ("0", "2"))]
    cases += [(twin_language(k), "A", "B") for k in ("agree", "freq", "conflict")]
    for lang, a, b in cases:
        expected = conditional_divergence(lang, a, b)
        try:
            got = float(student(lang, a, b))
        except Exception as err:  # noqa: BLE001 - report any failure of the student's code
            last = traceback.format_exception_only(type(err), err)[-1].strip()
            return CheckReport(False, f"your function raised an exception on {lang.name}, pair {a}/{b}: {last}")
        if not abs(got - expected) <= atol:
            hint = ""
            if expected > 0 and abs(got - 2 * expected) <= 1e-6:
                hint = " It is twice too large: divide by the total probability of a and b as outputs."
            return CheckReport(False, f"{lang.name}, pair {a}/{b}: you get {got:.6g}, expected {expected:.6g}.{hint}")
    return CheckReport(True, f"your D∼ matches on {len(cases)} pairs of the XOR languages and the two-step toys.")


# --------------------------------------------------------------------------------------------------------------------
# XOR chapter (bertolotti2024): the Bayes accuracy of the XOR language


def solution_bayes_accuracy(bits, zero_dst, one_dst) -> float:
    """A solution of the XOR chapter's Bayes-accuracy exercise: the fraction of ones decides which bit is masked, and
    the best guess is that bit's most probable symbol."""
    p_one = float(bits.mean())
    return (1 - p_one) * max(zero_dst) / sum(zero_dst) + p_one * max(one_dst) / sum(one_dst)


def check_bayes_accuracy(student: Callable, *, atol: float = 1e-9) -> CheckReport:
    """Check ``student(bits, zero_dst, one_dst) -> float``: the Bayes accuracy of the XOR language.

    ``bits`` is an (n_strings, n_bits) array of 0/1 (the training strings), ``zero_dst`` and ``one_dst`` the symbol
    weights of a 0-bit and a 1-bit (they need not sum to 1). The masked bit is uniform over the bit positions.
    Compared with :meth:`tiedemb.data.xor.XorLanguage.bayes_accuracy` on the three settings and two odd ones.
    """
    from .data.xor import XorLanguage

    cases = [XorLanguage.setting(s) for s in ("main", "ndh", "ydh")]
    cases += [XorLanguage(5, (2.0, 1.0, 1.0), (3.0, 1.0)), XorLanguage(4, (0.5, 0.5), (0.2, 0.8))]
    for lang in cases:
        bits = lang.splits["train"].copy()
        expected = lang.bayes_accuracy()
        try:
            got = float(student(bits, list(lang.zero_dst), list(lang.one_dst)))
        except Exception as err:  # noqa: BLE001 - report any failure of the student's code
            last = traceback.format_exception_only(type(err), err)[-1].strip()
            return CheckReport(False, f"your function raised an exception for zero_dst={list(lang.zero_dst)}, "
                               f"one_dst={list(lang.one_dst)}: {last}")
        if abs(got - expected) > atol:
            p_one = float(bits.mean())
            hint = ""
            if abs(got - (0.5 * max(lang.zero_dst) / sum(lang.zero_dst)
                          + 0.5 * max(lang.one_dst) / sum(lang.one_dst))) < 1e-6:
                hint = (" You assumed half the bits are ones; count them in the strings (the all-ones string is "
                        "missing).")
            elif abs(got - ((1 - p_one) * max(lang.zero_dst) + p_one * max(lang.one_dst))) < 1e-6:
                hint = " Normalise the weights: they need not sum to 1."
            return CheckReport(False, f"for zero_dst={list(lang.zero_dst)}, one_dst={list(lang.one_dst)} "
                               f"({lang.n_bits} bits) you return {got:.6f}, expected {expected:.6f}.{hint}")
    return CheckReport(True, f"your Bayes accuracy matches on {len(cases)} languages (atol {atol}).")


# --------------------------------------------------------------------------------------------------------------------
# Norm/variance chapter (yamagiwa2025): the sequential update of the mean and the mean squared norm


def solution_sequential_update(k: int, mu, q: float, x) -> tuple:
    """A solution of the norm/variance chapter's exercise: one occurrence ``x`` added to a token's running mean ``mu``
    and running mean squared norm ``q`` over ``k`` earlier occurrences (Yamagiwa & Shimodaira, Sec. 2)."""
    return k + 1, (k * mu + x) / (k + 1), (k * q + float(x @ x)) / (k + 1)


def check_sequential_update(student: Callable, *, rtol: float = 1e-10) -> CheckReport:
    """Check ``student(k, mu, q, x) -> (k, mu, q)``: after feeding every occurrence of a token in order (starting from
    ``k = 0``, ``mu = 0``, ``q = 0``), M = ‖mu‖² and V = q − M must equal the batch formulas M = ‖mean‖² and
    V = mean of ‖x − mean‖², on clusters far from and near the origin."""
    import numpy as np

    rng = np.random.default_rng(0)
    for offset, n, d in ((0.0, 7, 3), (10.0, 50, 5), (100.0, 20, 4), (1.0, 1, 2)):
        xs = offset + rng.standard_normal((n, d))
        k, mu, q = 0, np.zeros(d), 0.0
        try:
            for x in xs:
                k, mu, q = student(k, mu, q, x)
            M, V = float(mu @ mu), float(q - mu @ mu)
        except Exception as err:  # noqa: BLE001 - report any failure of the student's code
            last = traceback.format_exception_only(type(err), err)[-1].strip()
            return CheckReport(False, f"your update raised an exception on a cluster of {n} points: {last}")
        mean = xs.mean(axis=0)
        M_true, V_true = float(mean @ mean), float(((xs - mean) ** 2).sum(axis=1).mean())
        if k != n:
            return CheckReport(False, f"after {n} occurrences your count is {k}, expected {n}")
        if abs(M - M_true) > rtol * max(1.0, M_true):
            hint = ""
            if abs(float(np.sqrt(M)) - float(np.linalg.norm(xs.sum(axis=0)))) < 1e-6 * max(1.0, n * offset):
                hint = " Your mu is the sum of the occurrences; divide by the count."
            return CheckReport(False, f"cluster of {n} points around {offset:g}: M = ‖mu‖² is {M:.6g}, expected "
                               f"{M_true:.6g}.{hint}")
        if abs(V - V_true) > rtol * max(1.0, M_true + V_true):
            return CheckReport(False, f"cluster of {n} points around {offset:g}: V = q − ‖mu‖² is {V:.6g}, expected "
                               f"{V_true:.6g}. q must be the running mean of ‖x‖², not of ‖x‖.")
    return CheckReport(True, "your sequential update gives the batch M and V on 4 clusters (near and far from the "
                       "origin, one of a single point).")


# Language-model chapter (press2017): the size of an LSTM language model


def solution_lstm_lm_parameters(vocab_size: int, d_model: int, n_layers: int, tied: bool, projection: bool) -> int:
    """A solution of the parameter-count exercise: embeddings (one matrix if tied) and the untied output bias, a
    basic LSTM cell per layer (four gate blocks on [x; h], one bias each), and P with its bias for PR."""
    embeddings = vocab_size * d_model * (1 if tied else 2) + vocab_size
    lstm = n_layers * 4 * (2 * d_model * d_model + d_model)
    return embeddings + lstm + (d_model * d_model + d_model if projection else 0)


def check_lstm_lm_parameters(student: Callable) -> CheckReport:
    """Check ``student(vocab_size, d_model, n_layers, tied, projection) -> int``: the number of parameters of the
    paper's LSTM language model with TensorFlow's basic LSTM cell (one bias per gate block), the untied output bias,
    and for PR the square P with its bias. Compared with models instantiated by the package (PyTorch's second LSTM
    bias subtracted), among them the paper's PTB shapes."""
    from .experiments.press_wolf.language_models import VARIANTS, build_variant
    from .models import count_parameters

    shapes = [(10_000, 200, 2), (10_000, 1_500, 2), (50, 8, 1), (1_234, 30, 3)]
    for v, d, n in shapes:
        for variant in VARIANTS:
            with torch.device("meta"):
                model = build_variant(variant, v, d, n)
            expected = count_parameters(model) - model.redundant_bias_parameters()
            tied, projection = model.tied, model.proj is not None
            try:
                got = int(student(v, d, n, tied, projection))
            except Exception as err:  # noqa: BLE001 - report any failure of the student's code
                last = traceback.format_exception_only(type(err), err)[-1].strip()
                return CheckReport(False, f"your function raised an exception for V={v}, H={d}, layers={n}, "
                                   f"tied={tied}, projection={projection}: {last}")
            if got != expected:
                hint = ""
                if got - expected == v:
                    hint = " One V too many: the output bias is a vector of V, counted once."
                elif got - expected == -v:
                    hint = " The untied output bias (V numbers) is missing: tying shares the matrix, not the bias."
                elif got - expected == n * 4 * d:
                    hint = " One bias per gate block: PyTorch's two LSTM biases act as one."
                elif tied and got - expected == v * d:
                    hint = " A tied model holds the V×H matrix once."
                return CheckReport(False, f"V={v}, H={d}, layers={n}, tied={tied}, projection={projection}: you "
                                   f"return {got:,}, expected {expected:,}.{hint}")
    return CheckReport(True, f"your count matches {len(shapes) * len(VARIANTS)} models, the paper's PTB shapes "
                       f"among them (4,651,600 for the small untied model).")


# --------------------------------------------------------------------------------------------------------------------
# Token-probability chapter (cho2025): the steering edit of an output-embedding row


def solution_steering_edit(A, log_r: float, k: int):
    """A solution of the steering exercise: the edit δ of one output-embedding row that lowers the encoding's
    prediction −log α = A·e + B by log r, spread equally over the k dimensions of largest |A| (Cho et al., Sec. 5)."""
    import numpy as np

    A = np.asarray(A, dtype=np.float64)
    top = np.argsort(-np.abs(A), kind="stable")[:k]
    delta = np.zeros_like(A)
    delta[top] = -log_r / (k * A[top])
    return delta


def check_steering_edit(student: Callable, *, atol: float = 1e-9) -> CheckReport:
    """Check ``student(A, log_r, k) -> delta``: the edit must change the predicted −log α by exactly −log r
    (A·δ = −log r, so α is multiplied by r), touch only the k dimensions of largest |A|, and give each of them the
    same share of the change (A_i δ_i = −log r / k)."""
    import numpy as np

    rng = np.random.default_rng(3)
    for d, k, r in ((8, 2, 5.0), (16, 4, 0.05), (32, 1, 20.0), (12, 12, 0.5)):
        A = rng.standard_normal(d) * np.exp(rng.standard_normal(d))
        log_r = float(np.log(r))
        try:
            delta = np.asarray(student(A.copy(), log_r, k), dtype=np.float64)
        except Exception as err:  # noqa: BLE001 - report any failure of the student's code
            last = traceback.format_exception_only(type(err), err)[-1].strip()
            return CheckReport(False, f"your function raised an exception (d = {d}, k = {k}): {last}")
        if delta.shape != (d,):
            return CheckReport(False, f"d = {d}: your edit has shape {delta.shape}, expected ({d},), one value per "
                               f"dimension of the output embedding")
        change = float(A @ delta)
        if abs(change + log_r) > atol * max(1.0, abs(log_r)):
            hint = " (the sign is flipped: −log α must fall by log r for α to grow by r)" if abs(
                change - log_r) < atol * max(1.0, abs(log_r)) else ""
            return CheckReport(False, f"r = {r:g}, d = {d}, k = {k}: A·δ = {change:.6g}, expected −log r = "
                               f"{-log_r:.6g}{hint}")
        top = set(np.argsort(-np.abs(A), kind="stable")[:k].tolist())
        moved = set(np.flatnonzero(np.abs(delta) > atol).tolist())
        if not moved <= top:
            return CheckReport(False, f"d = {d}, k = {k}: your edit moves dimensions {sorted(moved - top)} outside the "
                               f"{k} of largest |A|")
        shares = A[sorted(top)] * delta[sorted(top)]
        if np.abs(shares - shares.mean()).max() > atol * max(1.0, abs(log_r)):
            return CheckReport(False, f"d = {d}, k = {k}: the top-k dimensions carry unequal shares A_i δ_i "
                               f"{np.round(shares, 4).tolist()}; Ω gives each 1/k")
    return CheckReport(True, "your edit multiplies the predicted α by r, on the top-k dimensions only, in equal "
                       "shares (4 cases, r from 1/20 to 20).")


def solution_decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """A solution of the weight-decay exercise: the package's own :func:`~tiedemb.models.tying.decay_groups`."""
    from .models.tying import decay_groups

    return decay_groups(model, weight_decay)


def check_decay_groups(student: Callable) -> CheckReport:
    """Check ``student(model, weight_decay) -> list of parameter groups`` on tied models (an LSTM language model, a
    three-way-tied translation model) and an untied one: torch's AdamW must accept the groups, every trainable
    parameter must be in exactly one group (a tied matrix once), matrices decayed by ``weight_decay``, vectors not."""
    from .models import LSTMLanguageModel
    from .models.seq2seq import Seq2Seq

    wd = 0.1
    models = {"tied LSTM language model": LSTMLanguageModel(50, 8, 2, tied=True),
              "untied LSTM language model": LSTMLanguageModel(50, 8, 2, tied=False),
              "three-way tied translation model": Seq2Seq(40, 8, tying="three-way")}
    for name, model in models.items():
        try:
            groups = list(student(model, wd))
            torch.optim.AdamW(groups, lr=1e-3, weight_decay=0.0)
        except Exception as err:  # noqa: BLE001 - report any failure of the student's code
            last = traceback.format_exception_only(type(err), err)[-1].strip()
            hint = (" A tied matrix has two names; build the groups from model.named_parameters(), which yields it "
                    "once." if "more than one parameter group" in last else "")
            return CheckReport(False, f"{name}: {last}.{hint}")
        seen: dict[int, float] = {}
        for g in groups:
            for p in g["params"]:
                if id(p) in seen:
                    return CheckReport(False, f"{name}: a parameter of shape {tuple(p.shape)} is listed twice")
                seen[id(p)] = g.get("weight_decay", 0.0)
        params = {id(p): p for p in model.parameters() if p.requires_grad}
        if set(seen) != set(params):
            return CheckReport(False, f"{name}: your groups hold {len(seen)} tensors, the model has {len(params)} "
                               f"distinct trainable parameters")
        for key, p in params.items():
            want = wd if p.dim() >= 2 else 0.0
            if seen[key] != want:
                kind = "matrix" if p.dim() >= 2 else "vector"
                return CheckReport(False, f"{name}: a {kind} of shape {tuple(p.shape)} gets weight decay "
                                   f"{seen[key]}, expected {want}")
    return CheckReport(True, f"your groups hold every parameter of {len(models)} models once, tied matrices "
                       f"included, with decay on matrices only.")


# --------------------------------------------------------------------------------------------------------------------
# "Should I tie?" chapter (bertolotti2024, the book's diagnostic): the permutation test


def solution_permutation_p_value(observed: float, null) -> float:
    """A solution of the diagnostic's exercise: the p-value of a permutation test, counting the observed statistic as
    one of the draws, ``(1 + #{null >= observed}) / (1 + n)``."""
    import numpy as np

    null = np.asarray(null, dtype=np.float64)
    return float((1 + np.count_nonzero(null >= observed)) / (1 + null.size))


def check_permutation_p_value(student: Callable, *, atol: float = 1e-12) -> CheckReport:
    """Check ``student(observed, null) -> p``: the permutation p-value ``(1 + #{null >= observed}) / (1 + n)`` on
    cases with and without ties, an observed value above every draw (p = 1/(n+1): 0.05 with the page's 19 draws) and
    below every draw (p = 1)."""
    import numpy as np

    rng = np.random.default_rng(7)
    draws = rng.random(19)
    cases = [(2.0, draws), (-1.0, draws), (float(np.sort(draws)[9]), draws), (0.5, np.array([0.5, 0.5, 0.2, 0.9])),
             (0.3, rng.random(99)), (0.25, np.array([0.1, 0.25, 0.25, 0.4, 0.7, 0.05]))]
    for observed, null in cases:
        try:
            got = float(student(observed, null.copy()))
        except Exception as err:  # noqa: BLE001 - report any failure of the student's code
            last = traceback.format_exception_only(type(err), err)[-1].strip()
            return CheckReport(False, f"your function raised an exception ({len(null)} draws): {last}")
        expected = solution_permutation_p_value(observed, null)
        if abs(got - expected) > atol:
            n, k, k_strict = len(null), int(np.sum(null >= observed)), int(np.sum(null > observed))
            hint = ""
            if abs(got - k / n) < atol:
                hint = (" Count the observed statistic as one of the draws, (1 + k) / (1 + n): a permutation test "
                        "can never give p = 0.")
            elif abs(got - (1 + k_strict) / (1 + n)) < atol:
                hint = " Draws equal to the observed value count against rejecting (use >=, not >)."
            elif abs(got - (1 - expected)) < atol or abs(got - (1 + n - k) / (1 + n)) < atol:
                hint = " Count the draws at or ABOVE the observed value: large divergences are the evidence."
            return CheckReport(False, f"observed {observed:g} against {n} draws ({k} of them >= it): you return "
                               f"{got:.6g}, expected {expected:.6g}.{hint}")
    return CheckReport(True, f"your p-value matches on {len(cases)} cases (ties, an observed value above every draw: "
                       f"p = 1/20 with 19 draws, the page's 5% test).")


# --------------------------------------------------------------------------------------------------------------------
# MLM twins chapter (bertolotti2024, MLM experiment): how far apart the population minimiser keeps a word and its twin


def solution_twin_row_distance(p_word: float, p_twin: float, h_norm: float) -> float:
    """A solution of the MLM-twins exercise: the smallest distance ‖e_w − e_t‖ between the output rows of a word and
    its twin when, in a context h of norm ``h_norm``, the model writes the word with probability ``p_word`` and the
    twin with ``p_twin`` (bias-free logits h·e, Cauchy–Schwarz: |log(p_w/p_t)| = |(e_w − e_t)·h| <= ‖e_w − e_t‖ ‖h‖)."""
    import math

    return abs(math.log(p_word / p_twin)) / h_norm


def check_twin_row_distance(student: Callable, *, rtol: float = 1e-9) -> CheckReport:
    """Check ``student(p_word, p_twin, h_norm) -> distance``: |log(p_word / p_twin)| / h_norm, on the chapter's ✗DH
    swap (0.9 / 0.1), the ✓DH swap (equal probabilities: 0), and the twin more probable than the word."""
    import math

    cases = [(0.9, 0.1, 8.0), (0.5, 0.5, 8.0), (0.1, 0.9, 11.3), (0.3, 0.05, 1.0), (0.45, 0.15, math.sqrt(128))]
    for p_w, p_t, h in cases:
        try:
            got = float(student(p_w, p_t, h))
        except Exception as err:  # noqa: BLE001 - report any failure of the student's code
            last = traceback.format_exception_only(type(err), err)[-1].strip()
            return CheckReport(False, f"your function raised an exception for p_word={p_w}, p_twin={p_t}, "
                               f"h_norm={h:.3g}: {last}")
        expected = solution_twin_row_distance(p_w, p_t, h)
        if abs(got - expected) > rtol * max(1.0, expected):
            hint = ""
            if abs(got + expected) <= rtol * max(1.0, expected):
                hint = " A distance is never negative: take the absolute value of the log-ratio."
            elif abs(got - math.log10(p_w / p_t) / h) < 1e-9 or abs(got - abs(math.log10(p_w / p_t)) / h) < 1e-9:
                hint = " Softmax logits are natural logarithms: use ln, not log10."
            elif abs(got - abs(p_w - p_t) / h) < 1e-9:
                hint = " The logits fix the log-ratio of the probabilities, not their difference."
            elif abs(got - expected * h) < 1e-9 or abs(got - expected * h * h) < 1e-9:
                hint = " Divide the log-ratio by the norm of h (Cauchy–Schwarz)."
            return CheckReport(False, f"p_word={p_w}, p_twin={p_t}, h_norm={h:.4g}: you return {got:.6g}, expected "
                               f"{expected:.6g}.{hint}")
    return CheckReport(True, f"your bound matches on {len(cases)} cases (the ✗DH swap 0.9/0.1, the ✓DH swap 0.5/0.5, "
                       f"the twin more probable than the word).")


# --------------------------------------------------------------------------------------------------------------------
# Second graded exercises: one small function per chapter, checked on a few cases against a direct computation


def _shown(value) -> str:
    if hasattr(value, "shape"):
        return f"an array of shape {tuple(value.shape)}"
    if isinstance(value, list) and value and hasattr(value[0], "shape"):
        return f"{len(value)} arrays of {[len(v) for v in value]} rows"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _check_cases(student: Callable, cases: list[tuple], expected: Callable, what: str, *, rtol: float,
                 hints: Callable | None = None) -> CheckReport:
    """Run ``student(*case)`` on every case and compare with ``expected(*case)`` (relative tolerance ``rtol``);
    ``hints(case, got, want)`` may name a common mistake."""
    for case in cases:
        shown = ", ".join(_shown(c) for c in case)
        try:
            got = float(student(*case))
        except Exception as err:  # noqa: BLE001 - report any failure of the student's code
            last = traceback.format_exception_only(type(err), err)[-1].strip()
            return CheckReport(False, f"your function raised an exception for ({shown}): {last}")
        want = float(expected(*case))
        if not abs(got - want) <= rtol * max(1.0, abs(want)):
            hint = (hints(case, got, want) if hints else "") or ""
            return CheckReport(False, f"for ({shown}) you return {got:.6g}, expected {want:.6g}.{hint}")
    return CheckReport(True, f"your {what} matches on {len(cases)} cases.")


def solution_lstm_parameter_count(vocab_size: int, d: int, tied: bool) -> int:
    """A solution of the gradients chapter's counting exercise: a two-layer LSTM language model with embedding and
    hidden size ``d``, PyTorch's LSTM (two bias vectors per layer) and an output bias; tying removes one V×d matrix."""
    lstm = 2 * (4 * d * (d + d) + 2 * 4 * d)
    return vocab_size * d * (1 if tied else 2) + vocab_size + lstm


def _lstm_lm_count(vocab_size: int, d: int, tied: bool) -> int:
    """The count of the actual PyTorch modules (the checker's ground truth)."""
    emb, out = torch.nn.Embedding(vocab_size, d), torch.nn.Linear(d, vocab_size)
    lstm = torch.nn.LSTM(d, d, num_layers=2)
    if tied:
        out.weight = emb.weight
    params = {id(p): p for m in (emb, lstm, out) for p in m.parameters()}
    return sum(p.numel() for p in params.values())


def check_lstm_parameter_count(student: Callable) -> CheckReport:
    """Check ``student(vocab_size, d, tied) -> int`` against the parameters of the PyTorch modules themselves
    (``Embedding``, a two-layer ``LSTM``, ``Linear`` with bias; tied: the Linear's weight is the Embedding's)."""

    def hints(case, got, want):
        v, d, tied = case
        if got == want - 8 * d or got == want - 16 * d:
            return " PyTorch's LSTM has two bias vectors per layer (b_ih and b_hh), 4d each."
        if got == want - v:
            return " The output layer has a bias of V entries."
        if tied and got == want + v * d:
            return " Tied, the output matrix IS the embedding: count it once."
        return ""

    cases = [(10, 4, False), (10, 4, True), (50, 8, False), (50, 8, True), (7, 3, True)]
    return _check_cases(student, cases, _lstm_lm_count, "parameter count", rtol=0.0, hints=hints)


def solution_marginal_accuracy(bits, zero_dst, one_dst) -> float:
    """A solution of the XOR chapter's marginal exercise: a model that ignores the context predicts the most
    frequent symbol; a symbol's frequency is its bit value's frequency times its weight within that bit."""
    p_one = float(bits.mean())
    return max([(1 - p_one) * w / sum(zero_dst) for w in zero_dst] + [p_one * w / sum(one_dst) for w in one_dst])


def check_marginal_accuracy(student: Callable) -> CheckReport:
    """Check ``student(bits, zero_dst, one_dst) -> float`` against :meth:`tiedemb.data.xor.XorLanguage.
    marginal_accuracy` on the three settings and two odd languages."""
    from .data.xor import XorLanguage

    langs = [XorLanguage.setting(s) for s in ("main", "ndh", "ydh")]
    langs += [XorLanguage(5, (2.0, 1.0, 1.0), (3.0, 1.0)), XorLanguage(4, (0.5, 0.5), (0.2, 0.8))]
    cases = [(lang.splits["train"].copy(), list(lang.zero_dst), list(lang.one_dst)) for lang in langs]

    def hints(case, got, want):
        bits, zero, one = case
        if abs(got - max(max(zero) / sum(zero), max(one) / sum(one))) < 1e-9:
            return " Weight each symbol by how often its bit value occurs in the strings."
        if abs(got - solution_bayes_accuracy(bits, zero, one)) < 1e-9:
            return " That is the Bayes accuracy (the bit known from the context); here the context is ignored."
        return ""

    return _check_cases(student, cases, solution_marginal_accuracy, "marginal accuracy", rtol=1e-9, hints=hints)


def solution_logit_gap(p_word: float, p_twin: float) -> float:
    """A solution of the MLM-twins logit-gap exercise: with bias-free logits h·e, the softmax fixes the difference of
    two logits to the natural log of the ratio of their probabilities, (e_w − e_t)·h = ln(p_word / p_twin)."""
    import math

    return math.log(p_word / p_twin)


def check_logit_gap(student: Callable) -> CheckReport:
    """Check ``student(p_word, p_twin) -> (e_w − e_t)·h`` against the logits of an actual softmax: the ✗DH swap
    (0.9/0.1, ln 9), equal probabilities, and a twin more probable than the word (a negative gap)."""
    import math

    def softmax_gap(p_w, p_t):  # logits of a three-way softmax with these two probabilities
        logits = torch.log(torch.tensor([p_w, p_t, 1.0 - p_w - p_t], dtype=torch.float64)) + 1.7
        return float(logits[0] - logits[1])

    def hints(case, got, want):
        if abs(got - math.log10(case[0] / case[1])) < 1e-9:
            return " Softmax logits are natural logarithms: use ln, not log10."
        if abs(got - (case[0] - case[1])) < 1e-9:
            return " The logits fix the log-ratio of the probabilities, not their difference."
        if abs(got + want) < 1e-9:
            return " The sign: the more probable symbol has the larger logit."
        return ""

    cases = [(0.9, 0.1), (0.45, 0.45), (0.1, 0.7), (0.3, 0.05)]
    return _check_cases(student, cases, softmax_gap, "logit gap", rtol=1e-9, hints=hints)


def solution_min_permutations(alpha: float) -> int:
    """A solution of the diagnostic's draws exercise: the smallest p-value of n draws is 1/(n + 1), so a test at level
    ``alpha`` can reject only with n >= 1/alpha − 1 draws (19 for the page's 5% test)."""
    import math

    return math.ceil(1 / alpha - 1 - 1e-9)


def check_min_permutations(student: Callable) -> CheckReport:
    """Check ``student(alpha) -> n``: the fewest permutation draws with which a test at level ``alpha`` can reject,
    found by counting (the smallest n whose smallest p-value 1/(n + 1) is at most alpha)."""

    def fewest(alpha):
        n = 0
        while 1 / (n + 1) > alpha * (1 + 1e-12):
            n += 1
        return n

    def hints(case, got, want):
        if got == want + 1:
            return " The observed value counts as one of the n + 1 values: 1/(n + 1) <= alpha."
        if got == want - 1:
            return " With n draws the smallest p-value is 1/(n + 1), not 1/n."
        return ""

    cases = [(0.05,), (0.01,), (0.1,), (0.2,), (0.03,), (0.5,)]
    return _check_cases(student, cases, fewest, "number of draws", rtol=0.0, hints=hints)


def solution_others_factor(p_w: float, delta: float) -> float:
    """A solution of the output-encoding exercise: adding ``delta`` to the logit of w multiplies the normaliser by
    1 − p_w + p_w e^delta, so every other token's probability is divided by it."""
    import math

    return 1.0 / (1.0 - p_w + p_w * math.exp(delta))


def check_others_factor(student: Callable) -> CheckReport:
    """Check ``student(p_w, delta) -> factor``: the factor by which the probability of every token v ≠ w is scaled
    when the logit of w moves by ``delta``, against a softmax before and after the edit."""

    def direct(p_w, delta):
        logits = torch.log(torch.tensor([p_w, 0.3 * (1 - p_w), 0.7 * (1 - p_w)], dtype=torch.float64))
        before = torch.softmax(logits, 0)
        after = torch.softmax(logits + torch.tensor([delta, 0.0, 0.0], dtype=torch.float64), 0)
        return float(after[1] / before[1])

    def hints(case, got, want):
        import math

        if abs(got - math.exp(-case[1])) < 1e-9:
            return " The others' logits do not move; only the normaliser changes, by 1 − p_w + p_w e^delta."
        if abs(got - 1.0 / want) < 1e-9:
            return " Upside down: a larger logit of w makes the others less probable when delta > 0."
        return ""

    cases = [(0.2, 1.0), (0.5, -2.0), (0.01, 3.0), (0.9, 0.5), (0.3, 0.0)]
    return _check_cases(student, cases, direct, "factor", rtol=1e-9, hints=hints)


def solution_between_variance(groups) -> float:
    """A solution of the norm/variance decomposition exercise: V_B = Σ_t (n_t/n) ‖μ_t − μ‖², the spread of the
    token means around the overall mean, each token weighted by its count."""
    import numpy as np

    n = sum(len(g) for g in groups)
    mu = np.concatenate(groups).mean(axis=0)
    return float(sum(len(g) / n * np.sum((np.mean(g, axis=0) - mu) ** 2) for g in groups))


def check_between_variance(student: Callable) -> CheckReport:
    """Check ``student(groups) -> V_B`` (``groups``: a list of (n_t, d) arrays, the occurrences of each token) by
    the decomposition V(X) = V_W(X) + V_B(X): V_B must equal the total variance minus the count-weighted within
    variances, on groups of unequal sizes near and far from the origin."""
    import numpy as np

    rng = np.random.default_rng(3)

    def variance(x):
        return float(np.mean(np.sum(x ** 2, axis=1)) - np.sum(x.mean(axis=0) ** 2))

    def by_decomposition(groups):
        n = sum(len(g) for g in groups)
        return variance(np.concatenate(groups)) - sum(len(g) / n * variance(g) for g in groups)

    cases = [([rng.normal(c, 1.0, size=(k, 4)) for c, k in [(0.0, 3), (5.0, 10), (-2.0, 1)]],),
             ([rng.normal(0.0, s, size=(k, 8)) for s, k in [(0.1, 50), (3.0, 5)]],),
             ([rng.normal(100.0, 1.0, size=(k, 2)) for k in (2, 3, 4, 20)],)]

    def hints(case, got, want):
        groups = case[0]
        means = np.stack([g.mean(axis=0) for g in groups])
        if abs(got - float(np.mean(np.sum((means - means.mean(axis=0)) ** 2, axis=1)))) < 1e-9 * max(1, want):
            return " Weight each token by its count n_t / n, not equally."
        return ""

    return _check_cases(student, cases, by_decomposition, "between-token variance", rtol=1e-9, hints=hints)
