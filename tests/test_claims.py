import pytest

from tiedemb.claims import FAILS, HOLDS, IDENTITY, UNTESTABLE, Claim, Precondition, identity, judge, label_sort_key


def test_judge_maps_outcomes_to_verdicts():
    assert judge("B-T1", "s", "p", "o", True).verdict == HOLDS
    assert judge("B-T1", "s", "p", "o", False).verdict == FAILS


def test_untestable_only_through_a_measured_precondition():
    with pytest.raises(TypeError, match="Precondition"):
        judge("B-T1", "s", "p", "o", None)
    unmet = Precondition("the task is learned: accuracy above 0.6", "accuracy 0.5", met=False, remedy="paper scale")
    met = Precondition("the task is learned: accuracy above 0.6", "accuracy 0.7", met=True, remedy="paper scale")
    for holds in (True, False):
        c = judge("B-E1", "s", "p", "o", holds, unmet)
        assert c.verdict == UNTESTABLE
        assert "not met (accuracy 0.5)" in c.precondition and "paper scale" in c.precondition
    c = judge("B-E1", "s", "p", "o", False, met)
    assert c.verdict == FAILS and "— met (accuracy 0.7)" in c.precondition


def test_identities_are_not_replications():
    assert identity("PW-E5", "s", "p", "o", True).verdict == IDENTITY
    assert identity("PW-E5", "s", "p", "o", False).verdict == FAILS  # a broken identity is a bug, shown as such


def test_claim_rejects_bad_records():
    with pytest.raises(ValueError, match="label"):
        judge("T1", "s", "p", "o", True)
    with pytest.raises(ValueError, match="verdict"):
        Claim("B-T1", "s", "p", "o", "maybe")
    with pytest.raises(ValueError, match="ours is empty"):
        judge("B-T1", "s", "p", " ", True)


def test_claim_round_trip_and_paper():
    c = judge("PW-E5", "s", "p", "o", True)
    assert Claim.from_dict(c.to_dict()) == c
    assert c.paper_name.startswith("Press & Wolf")
    with pytest.raises(ValueError, match="lacks"):
        Claim.from_dict({"label": "PW-E5"})


def test_label_order():
    labels = ["PW-T2", "B-T10", "B-T2", "B-E1", "PW-E5"]
    assert sorted(labels, key=label_sort_key) == ["B-E1", "B-T2", "B-T10", "PW-E5", "PW-T2"]
