"""MLM twins: twins, masking, the model, configs, determinism, and the quick run's claims."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tiedemb.config import ConfigError
from tiedemb.data.corpus import load_corpus
from tiedemb.data.mlm import IGNORE, apply_twins, blocks, make_twins, mask_tokens, random_word_pairs
from tiedemb.experiments import run_or_load
from tiedemb.experiments.bertolotti.mlm import MLMTwinsConfig, diagnose_pairs, diagnosis_counts, run_mlm_twins
from tiedemb.models.mlm import MaskedLanguageModel
from tiedemb.models.tying import count_parameters, is_tied
from tiedemb.seeding import numpy_rng


def _stream(n=200_000, vocab=50, seed=0):
    p = 1.0 / np.arange(1, vocab + 1)
    return numpy_rng(seed).choice(vocab, size=n, p=p / p.sum())


@pytest.mark.parametrize("swap", [0.5, 0.1])
def test_twins_swap_rate(swap):
    ids = _stream()
    twins = make_twins([f"w{i}" for i in range(10)], np.arange(3, 13), 50, swap)
    out = apply_twins(ids, twins, numpy_rng(42))
    twinned = np.isin(ids, twins.word_ids)
    rate = np.isin(out, twins.twin_ids).sum() / twinned.sum()
    assert abs(rate - swap) < 0.01
    np.testing.assert_array_equal(out[~twinned], ids[~twinned])  # other words untouched
    back = out.copy()
    for w, t in twins.pairs:
        back[out == t] = w
    np.testing.assert_array_equal(back, ids)  # a twin always replaces its own word
    np.testing.assert_array_equal(out, apply_twins(ids, twins, numpy_rng(42)))  # same seed, same twins


def test_twins_of_the_most_frequent_words(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(" ".join(f"x{'pqrstuv'[i % 7]} b c c d d d" for i in range(300)), encoding="utf8")
    corpus = load_corpus(path, vocab_size=8, cache=tmp_path)
    top = corpus.most_frequent(3)
    assert top == ["d", "c", "b"]
    twins = make_twins(top, corpus.encode(top), corpus.vocab_size, 0.5)
    np.testing.assert_array_equal(twins.twin_ids, [8, 9, 10])
    with pytest.raises(ValueError, match="strictly between"):
        make_twins(top, corpus.encode(top), corpus.vocab_size, 1.0)


def test_random_pairs_distinct_and_seeded():
    ids = np.arange(100, 200)
    pairs = random_word_pairs(ids, 100, numpy_rng(0, 7))
    assert pairs.shape == (100, 2) and (pairs[:, 0] != pairs[:, 1]).all()
    assert len({tuple(sorted(p)) for p in pairs.tolist()}) == 100
    np.testing.assert_array_equal(pairs, random_word_pairs(ids, 100, numpy_rng(0, 7)))


def test_masking_proportions():
    tokens = torch.randint(3, 1000, (400, 250), generator=torch.Generator().manual_seed(0))
    tokens[:, -10:] = 0  # padding is never selected
    inputs, labels = mask_tokens(tokens, mask_id=2, vocab_size=1000, n_special=3, pad_id=0,
                                 generator=torch.Generator().manual_seed(1))
    selected = labels != IGNORE
    assert not selected[:, -10:].any()
    assert abs(selected.float().mean().item() / (240 / 250) - 0.15) < 0.005
    torch.testing.assert_close(labels[selected], tokens[selected])
    n = selected.sum().item()
    masked = (inputs == 2) & selected
    kept = (inputs == tokens) & selected
    assert abs(masked.sum().item() / n - 0.8) < 0.01
    assert abs(kept.sum().item() / n - 0.1 - 0.1 / 997) < 0.01  # 10% kept (+ random draws that hit the same id)
    assert abs((selected & ~masked & ~kept).sum().item() / n - 0.1) < 0.01
    assert ((inputs == tokens) | selected).all()  # unselected positions are never changed
    assert int(inputs[selected & ~masked].min()) >= 3  # random replacements are never special tokens


def test_blocks():
    b = blocks(np.arange(10), 3)
    assert b.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    with pytest.raises(ValueError, match="too few"):
        blocks(np.arange(2), 3)


def test_model_tied_shares_storage_and_counts_once():
    torch.manual_seed(0)
    tied = MaskedLanguageModel(120, 16, 2, 2, 32, tied=True)
    untied = MaskedLanguageModel(120, 16, 2, 2, 32, tied=False)
    assert is_tied(tied) and not is_tied(untied)
    assert tied.emb_out.weight.data_ptr() == tied.emb_in.weight.data_ptr()
    assert tied.emb_out.bias is None  # B-S1: no output bias
    for m in (tied, untied):
        assert count_parameters(m) == m.analytic_parameter_count() == sum(p.numel() for p in m.parameters())
    assert count_parameters(untied) - count_parameters(tied) == 120 * 16
    x = torch.randint(3, 120, (4, 9))
    pos = torch.zeros(4, 9, dtype=torch.bool)
    pos[:, 2] = True
    assert tied(x).shape == (4, 9, 120) and tied(x, pos).shape == (4, 120)
    torch.testing.assert_close(tied(x, pos), tied(x)[:, 2])


def test_model_has_no_positional_encoding():
    torch.manual_seed(0)
    model = MaskedLanguageModel(50, 8, 1, 2, 16).eval()
    x = torch.randint(3, 50, (2, 7))
    perm = torch.randperm(7)
    torch.testing.assert_close(model(x)[:, perm], model(x[:, perm]))  # permutation-equivariant


@pytest.mark.parametrize(("field", "value", "match"), [
    ("swap", 1.5, "swap must lie strictly between 0 and 1"),
    ("swap_ndh", 0, "swap_ndh must lie strictly between 0 and 1"),
    ("n_heads", 3, "divisible by n_heads"),
    ("vocab_size", 50, "vocab_size"),
    ("steps", 0, "steps must be a positive integer"),
    ("weight_decay", -1.0, "weight_decay must be >= 0"),
    ("n_random_pairs", 10_000, "n_random_pairs"),
    ("source", "", "source must be"),
    ("diagnose_window", 0, "diagnose_window must be a positive integer"),
    ("diagnose_permutations", 0, "diagnose_permutations must be a positive integer"),
])
def test_bad_configs(field, value, match):
    with pytest.raises(ConfigError, match=match):
        MLMTwinsConfig.quick().replace(**{field: value})


def test_paper_config_is_the_authors_model():
    cfg = MLMTwinsConfig.paper()
    assert (cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.d_ff, cfg.batch_size) == (128, 3, 4, 512, 128)
    assert (cfg.lr, cfg.weight_decay, cfg.eps, cfg.t_max, cfg.init_std) == (1e-4, 0.01, 1e-12, 10_000, 0.3)


@pytest.mark.parametrize(("swap", "case"), [(0.5, "both"), (0.1, "sem_only")])
def test_diagnostic_finds_planted_twins(swap, case):
    """Twins swapped 0.5 are ≡ and ∼ (DH holds); swapped 0.1 they are ≡ but not ∼; distinct words are neither."""
    rng = numpy_rng(0)
    stream = np.zeros(60_000, dtype=np.int64)  # a Markov chain: mostly k -> k + 1, so words differ in context
    jumps, targets = rng.random(len(stream)) < 0.3, rng.integers(0, 30, len(stream))
    for i in range(1, len(stream)):
        stream[i] = targets[i] if jumps[i] else (stream[i - 1] + 1) % 30
    twins = make_twins(["w0", "w1", "w2"], np.array([0, 1, 2]), 30, swap)
    ids = apply_twins(stream, twins, numpy_rng(1))
    seqs = [[str(t) for t in row] for row in blocks(ids, 20).tolist()]
    kw = {"window": 1, "permutations": 19, "min_count": 20}
    twin = diagnosis_counts(diagnose_pairs(seqs, twins.pairs, rng=numpy_rng(2), **kw))
    assert twin[case] >= 2, twin
    other = diagnosis_counts(diagnose_pairs(seqs, np.array([[0, 1], [1, 2], [0, 3]]), rng=numpy_rng(3), **kw))
    assert other["neither"] == 3, other


def test_tiny_run_is_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("TIEDEMB_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "t.txt"
    rng = numpy_rng(5)
    path.write_text("\n\n".join(" ".join(f"w{int(k)}" for k in rng.zipf(1.3, 300) % 200) for _ in range(30)),
                    encoding="utf8")
    cfg = MLMTwinsConfig.quick().replace(source=str(path), vocab_size=60, n_twins=10, n_random_pairs=10, seq_len=16,
                                         d_model=8, n_layers=1, d_ff=16, steps=6, batch_size=4, checkpoints=2,
                                         valid_sequences=4)
    a, b = run_mlm_twins(cfg), run_mlm_twins(cfg)
    assert sorted(a.arrays) == sorted(b.arrays)
    for k in a.arrays:
        np.testing.assert_array_equal(a.arrays[k], b.arrays[k], err_msg=k)
    assert a.arrays["dh_untied_twin_in"].shape == (1, 3, 10)
    assert a.metrics["tokens_per_s"] > 0
    assert [c.label for c in a.claims] == ["B-E8", "B-E9"]
    assert a.arrays["ndh_diag_twin_d_cond"].shape == (1, 10)


# --------------------------------------------------------------------------------------------------------------------
# Claims: the quick configuration (computed once per CI run, then loaded from the results cache)


@pytest.fixture(scope="module")
def quick():
    return run_or_load(MLMTwinsConfig.quick())


def test_quick_run_learns(quick):
    for v in ("dh", "ndh"):
        for m in ("untied", "tied"):
            acc = quick.arrays[f"{v}_{m}_valid_acc"][0]
            assert acc[-1] > acc[0] + 0.1, (v, m)
    assert abs(quick.metrics["swap_rate"]["dh"] - 0.5) < 0.01
    assert abs(quick.metrics["swap_rate"]["ndh"] - 0.1) < 0.01


def test_b_e8_twins_collapse(quick):
    """B-E8 at quick scale: twins end only slightly closer than random pairs (ratio ≈ 0.8, criterion ≤ 0.5)."""
    claim = quick.claim("B-E8")
    assert claim.verdict == "does not hold", claim.ours
    ratio = quick.metrics["ratio_to_random"]["dh"]
    assert all(ratio[e] < 1.0 for e in ("in", "out", "tied")), ratio  # but twins are closer than random pairs


def test_b_e9_ndh_twins_stay_apart(quick):
    """B-E9 (the book's addition) at quick scale: ✗DH output/tied twins only ≈1.1× the ✓DH distance (criterion 2×)."""
    claim = quick.claim("B-E9")
    assert claim.verdict == "does not hold", claim.ours
    apart = quick.metrics["ndh_over_dh"]
    assert apart["out"] > 1.0 and apart["tied"] > 1.0, apart  # the direction the theory predicts


def test_diagnostic_before_training(quick):
    """The diagnostic on the training text sees the planted structure: ✓DH twins ≡ and ∼, ✗DH twins ≡ but not ∼,
    random pairs of common words neither (a 5% test per equivalence, so a few false alarms are expected)."""
    d = quick.metrics["diagnosis"]
    n = quick.config["n_twins"]
    assert d["dh"]["twin"]["both"] >= 0.8 * n, d["dh"]["twin"]
    assert d["ndh"]["twin"]["sem_only"] >= 0.8 * n, d["ndh"]["twin"]
    assert d["dh"]["rand"]["neither"] >= 0.8 * quick.config["n_random_pairs"], d["dh"]["rand"]
