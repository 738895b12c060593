"""A test per claim: the quick-scale verdict (computed once per cache, shared with the book)."""

import pytest

from tiedemb.claims import FAILS, HOLDS
from tiedemb.experiments import run_or_load
from tiedemb.experiments.bertolotti.xor import CONFIGS, OtherBodiesConfig


@pytest.fixture(scope="module")
def small():
    return run_or_load(CONFIGS["xor-transformer-small"].quick())


def test_b_e1_untied_input_pairs_collapse(small):
    assert small.claim("B-E1").verdict == HOLDS


def test_b_e2_untied_output_split(small):
    assert small.claim("B-E2").verdict == HOLDS


def test_b_e3_tied_split_but_not_faster(small):
    # At quick scale the tied (2,3) pair ends together and (0,1) apart, but it does not collapse faster than in the
    # untied output embedding (seeds whose tied model stays at the marginal level keep it apart longer).
    assert small.claim("B-E3").verdict == FAILS
    assert small.metrics["pattern"]["tied_dh_collapses"] and small.metrics["pattern"]["tied_ndh_apart"]


def test_b_e4_untied_accuracy_at_least_tied(small):
    assert small.claim("B-E4").verdict == HOLDS


def test_b_e5_ndh_tying_hurts():
    # At quick scale each seed ends on one of a few accuracy plateaus and the sign of the tied-untied gap rests on one
    # or two seeds (it flipped between two machines before the CPU code paths were pinned), so the test checks that
    # the verdict is the one the numbers give, and the part of the NDH picture that is robust: the ✗DH pair is
    # further apart in the output embedding than in the input embedding.
    result = run_or_load(CONFIGS["xor-transformer-ndh"].quick())
    acc = result.metrics["acc"]
    assert result.claim("B-E5").verdict == (HOLDS if acc["tied"]["final"] < acc["untied"]["final"] else FAILS)
    assert result.metrics["text"]["tied_vs_untied"] == ("below" if result.claim("B-E5").verdict == HOLDS
                                                        else "not below")
    assert result.metrics["pattern"]["output_ndh_apart"]
    bayes = result.metrics["bayes_accuracy"]
    # per-seed accuracies are stored rounded to 4 decimals; the exact expectation can reach Bayes but not exceed it
    assert all(x <= bayes + 1e-4 for v in ("untied", "tied") for x in acc[v]["per_seed"])


def test_b_e6_ydh_tying_harmless():
    assert run_or_load(CONFIGS["xor-transformer-ydh"].quick()).claim("B-E6").verdict == HOLDS


def test_b_e7_other_bodies():
    result = run_or_load(OtherBodiesConfig.quick())
    # The small LSTM and Mixer show the pattern; the medium ones have not converged at the quick scale.
    pattern = result.metrics["embedding_pattern"]
    assert pattern["xor-lstm-small"] and pattern["xor-mlp-small"]
    assert result.claim("B-E7").verdict == FAILS


def test_figures_of_every_configuration_are_written(small, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from tiedemb.plotting import save_figures

    paths = save_figures(small, tmp_path)
    assert sorted(p.name for p in paths) == ["xor_panels.pdf", "xor_panels.png"]
    fig = __import__("tiedemb.plotting.bertolotti.xor", fromlist=["plot_xor_panels"]).plot_xor_panels(small)
    assert len(fig.axes) == 4
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert any("control" in t for t in labels)  # every distance panel carries the control pair
