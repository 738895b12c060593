"""Claims of the papers, each scored by the experiment that tests it.

A claim carries a label (``B-T1``, ``PW-E5``, ``C-E1``, ``Y-E1``, ...: the paper's initial, then D definition,
L lemma, T theorem, E experiment, P parameter count, with a number), the statement, what the paper says (a value or an
expectation), what we measured, and a verdict computed from the measurement. The book never types a verdict by hand:
experiments build claims with :func:`judge` (a replication) or :func:`identity` (a check that holds by construction).

The verdicts:

- ``holds`` / ``does not hold``: the measurement agrees with the paper's claim or not, by the rule stated in the
  experiment;
- ``not testable at this scale``: a stated, measured precondition of the test is not met (:class:`Precondition`,
  e.g. the task was not learned), so the claim's rule is not applied;
- ``identity``: the check holds by construction (an algebraic identity verified to round-off, a fact of the code);
  it is shown, not counted as a replication. An identity that fails to verify is reported as ``does not hold``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

HOLDS = "holds"
FAILS = "does not hold"
UNTESTABLE = "not testable at this scale"
IDENTITY = "identity"
VERDICTS = (HOLDS, FAILS, UNTESTABLE, IDENTITY)

PAPERS = {
    "B": "Bertolotti & Cazzola (ICML 2024)",
    "PW": "Press & Wolf (EACL 2017)",
    "C": "Cho et al. (COLING 2025)",
    "Y": "Yamagiwa & Shimodaira (COLING 2025)",
}
"""Label prefix → paper, in the order the book presents them."""

_LABEL = re.compile(r"^(B|PW|C|Y)-[A-Z]+\d+[a-z]?$")


@dataclass(frozen=True)
class Claim:
    """One claim of a paper with our measurement and verdict."""

    label: str  # the claim's label, e.g. "PW-T1"
    statement: str  # what the paper claims, in one sentence
    paper: str  # the paper's value or expectation
    ours: str  # what we measured, with numbers
    verdict: str  # one of VERDICTS
    precondition: str = ""  # the measured precondition of the test and whether it was met ("" if none)

    def __post_init__(self) -> None:
        if not _LABEL.match(self.label):
            raise ValueError(
                f"claim label {self.label!r} is not of the form PREFIX-KIND<n> with PREFIX in {sorted(PAPERS)}"
            )
        if self.verdict not in VERDICTS:
            raise ValueError(f"claim {self.label}: verdict {self.verdict!r} is not one of {VERDICTS}")
        for field in ("statement", "paper", "ours"):
            if not str(getattr(self, field)).strip():
                raise ValueError(f"claim {self.label}: {field} is empty")

    @property
    def paper_name(self) -> str:
        """The paper the claim belongs to, from its label prefix."""
        return PAPERS[self.label.split("-", 1)[0]]

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Claim:
        missing = {"label", "statement", "paper", "ours", "verdict"} - set(data)
        if missing:
            raise ValueError(f"claim record lacks {sorted(missing)}")
        return cls(**{k: data[k] for k in ("label", "statement", "paper", "ours", "verdict", "precondition")
                      if k in data})


@dataclass(frozen=True)
class Precondition:
    """A measured precondition of a test: what must be true for the claim's rule to be applied.

    ``text`` states the condition with its threshold ("the task is learned: untied accuracy above 0.577, half-way
    between the marginal and the Bayes accuracy"), ``measured`` the value found ("untied accuracy 0.558"), ``met``
    whether it holds, and ``remedy`` what would make the claim testable (usually the paper-scale command).
    """

    text: str
    measured: str
    met: bool
    remedy: str = ""

    def describe(self) -> str:
        state = "met" if self.met else "not met"
        tail = f"; to test it: {self.remedy}" if self.remedy and not self.met else ""
        return f"{self.text} — {state} ({self.measured}){tail}"


def judge(label: str, statement: str, paper: str, ours: str, holds: bool,
          precondition: Precondition | None = None) -> Claim:
    """A replicated claim: ``holds`` decides the verdict, unless ``precondition`` is given and not met, in which case
    the verdict is ``not testable at this scale`` whatever ``holds`` says."""
    if holds is None:
        raise TypeError(f"claim {label}: holds must be True or False; a claim is untestable only through a measured "
                        f"Precondition")
    holds = bool(holds)
    if precondition is not None and not precondition.met:
        verdict = UNTESTABLE
    else:
        verdict = HOLDS if holds else FAILS
    return Claim(label=label, statement=statement, paper=paper, ours=ours, verdict=verdict,
                 precondition=precondition.describe() if precondition is not None else "")


def identity(label: str, statement: str, paper: str, ours: str, verified: bool) -> Claim:
    """A check that holds by construction (an algebraic identity, a fact of the code): shown, not scored as a
    replication. ``verified`` is whether it checked out numerically; if not, the verdict is ``does not hold``."""
    return Claim(label=label, statement=statement, paper=paper, ours=ours, verdict=IDENTITY if verified else FAILS)


def label_sort_key(label: str) -> tuple[int, str, int, str]:
    """Order labels by paper, then kind (D, L, S, T, E, P, ...), then number: B-T2 before B-T10."""
    prefix, rest = label.split("-", 1)
    m = re.match(r"([A-Z]+)(\d+)([a-z]?)", rest)
    kind, num, suffix = (m.group(1), int(m.group(2)), m.group(3)) if m else (rest, 0, "")
    return (list(PAPERS).index(prefix) if prefix in PAPERS else 99, kind, num, suffix)
