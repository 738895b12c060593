import pytest

from tiedemb.claims import FAILS, HOLDS, UNTESTABLE, Claim, judge, label_sort_key


def test_judge_maps_outcomes_to_verdicts():
    assert judge("B-T1", "s", "p", "o", True).verdict == HOLDS
    assert judge("B-T1", "s", "p", "o", False).verdict == FAILS
    assert judge("B-T1", "s", "p", "o", None).verdict == UNTESTABLE


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
