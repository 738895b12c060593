"""The XOR language: strings, splits, parity, masks, and the exact Bayes accuracies."""

import pytest
import torch

from tiedemb.data.xor import IGNORE, XorLanguage


def test_strings_and_splits_as_the_authors():
    lang = XorLanguage.setting("main")
    assert lang.strings.shape == (127, 7)  # 0 .. 2**7 - 2: the all-ones string is missing
    assert not (lang.strings == 1).all(axis=1).any()
    assert len({tuple(s) for s in lang.strings}) == 127
    assert {k: len(v) for k, v in lang.splits.items()} == {"train": 114, "valid": 12, "test": 1}
    assert lang.vocab_size == 7 and (lang.even, lang.odd, lang.mask) == (4, 5, 6)


def test_shuffle_is_fixed_by_the_dataset_seed():
    assert (XorLanguage.setting("main").strings == XorLanguage.setting("ydh").strings).all()
    assert not (XorLanguage(shuffle_seed=14).strings == XorLanguage(shuffle_seed=15).strings).all()


@pytest.mark.parametrize(("setting", "bayes"), [("main", 0.7015), ("ndh", 0.9504), ("ydh", 0.7519)])
def test_bayes_accuracy_from_the_distribution(setting, bayes):
    assert XorLanguage.setting(setting).bayes_accuracy() == pytest.approx(bayes, abs=5e-5)


def test_sample_parity_symbols_and_masks():
    lang = XorLanguage.setting("main")
    gen = torch.Generator().manual_seed(0)
    bits = lang.bits("train")
    for _ in range(20):
        inputs, targets, pos = lang.sample("train", gen)
        assert inputs.shape == targets.shape == (114, 8)
        assert (pos < lang.n_bits).all()  # the parity symbol is never masked
        assert (inputs[:, -1] == lang.even + bits.sum(1) % 2).all()
        rows = torch.arange(114)
        assert (inputs[rows, pos] == lang.mask).all() and (inputs == lang.mask).sum() == 114
        target = targets[rows, pos]
        assert ((target >= lang.n_zero).long() == bits[rows, pos]).all()  # the symbol stands for the hidden bit
        keep = targets.clone()
        keep[rows, pos] = IGNORE
        assert (keep == IGNORE).all()
        unmasked = inputs.clone()[:, :-1]
        unmasked[rows, pos] = 0
        assert ((unmasked >= lang.n_zero).long()[bits == 0].sum() == 0)


def test_symbol_frequencies():
    lang = XorLanguage.setting("main")
    gen = torch.Generator().manual_seed(1)
    seq = torch.cat([lang.symbols(lang.bits("train"), gen) for _ in range(200)])
    zero = seq[:, :-1][seq[:, :-1] < 2]
    assert (zero == 1).float().mean() == pytest.approx(0.9, abs=0.01)
    ndh = XorLanguage.setting("ndh").symbols(lang.bits("train"), gen)
    assert not (ndh == 1).any()  # weight 0: symbol 1 never occurs


def test_bad_language_raises():
    with pytest.raises(ValueError, match="n_bits"):
        XorLanguage(n_bits=1)
    with pytest.raises(ValueError, match="zero_dst"):
        XorLanguage(zero_dst=(-1.0, 2.0))
    with pytest.raises(ValueError, match="allowed: main, ndh, ydh"):
        XorLanguage.setting("nope")


@pytest.mark.parametrize("setting", ["main", "ndh", "ydh"])
def test_marginal_and_bayes_accuracy_match_the_sampler(setting):
    """The two levels of the learned-task criterion, against the frequencies of the symbols the sampler draws: the
    marginal level is the frequency of the most frequent masked symbol; the Bayes level that of the most frequent
    symbol of the masked bit's value, which a model that reads the other bits and the parity can know."""
    lang = XorLanguage.setting(setting)
    gen = torch.Generator().manual_seed(2)
    masked = []
    for _ in range(400):
        _, targets, pos = lang.sample("train", gen)
        masked.append(targets[torch.arange(len(pos)), pos])
    masked = torch.cat(masked)
    counts = torch.bincount(masked, minlength=lang.vocab_size).double()
    assert float(counts.max() / counts.sum()) == pytest.approx(lang.marginal_accuracy(), abs=0.01)
    best_zero, best_one = counts[:lang.n_zero].max(), counts[lang.n_zero:lang.even].max()
    assert float((best_zero + best_one) / counts.sum()) == pytest.approx(lang.bayes_accuracy(), abs=0.01)


def test_sample_many_draws_each_stream_as_sample_does():
    lang = XorLanguage.setting("main", 5)
    gens = [torch.Generator().manual_seed(s) for s in (3, 4, 5)]
    alone = [torch.Generator().manual_seed(s) for s in (3, 4, 5)]
    for _ in range(2):  # two steps: each stream continues where it stopped
        many = lang.sample_many("train", gens)
        for g, ref in enumerate(alone):
            one = lang.sample("train", ref)
            for a, b in zip((m[g] for m in many), one, strict=True):
                assert torch.equal(a, b)
