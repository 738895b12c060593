"""Claims of the papers, each scored by the experiment that tests it.

A claim carries the paper's label from the dossiers (``B-T1``, ``PW-E5``, ``C-E1``, ``Y-E1``, ...), the statement, what
the paper says (a value or an expectation), what we measured, and a verdict computed from the measurement. The book
never types a verdict by hand: experiments build claims with :func:`judge`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

HOLDS = "holds"
FAILS = "does not hold"
UNTESTABLE = "not testable at this scale"
VERDICTS = (HOLDS, FAILS, UNTESTABLE)

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

    label: str  # the dossier's label, e.g. "PW-T1"
    statement: str  # what the paper claims, in one sentence
    paper: str  # the paper's value or expectation
    ours: str  # what we measured, with numbers
    verdict: str  # one of VERDICTS

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
        return cls(**{k: data[k] for k in ("label", "statement", "paper", "ours", "verdict")})


def judge(label: str, statement: str, paper: str, ours: str, holds: bool | None) -> Claim:
    """Build a claim whose verdict follows from ``holds``: True, False, or None (not testable at this scale)."""
    verdict = UNTESTABLE if holds is None else (HOLDS if holds else FAILS)
    return Claim(label=label, statement=statement, paper=paper, ours=ours, verdict=verdict)


def label_sort_key(label: str) -> tuple[int, str, int, str]:
    """Order labels by paper, then kind (D, L, S, T, E, P, ...), then number: B-T2 before B-T10."""
    prefix, rest = label.split("-", 1)
    m = re.match(r"([A-Z]+)(\d+)([a-z]?)", rest)
    kind, num, suffix = (m.group(1), int(m.group(2)), m.group(3)) if m else (rest, 0, "")
    return (list(PAPERS).index(prefix) if prefix in PAPERS else 99, kind, num, suffix)
