"""Prose values and tables of the chapter "Should I tie? A diagnostic" (``eqv-diagnose``; see :mod:`tiedemb.book`)."""

from __future__ import annotations

from ...results import Result
from .. import DataTable, prose


@prose("eqv-diagnose")
def diagnose_prose(result: Result) -> dict[str, str]:
    return {"bits": str(result.config["xor_bits"]), "samples": f"{result.config['xor_samples']:,}",
            "words": f"{result.metrics['wiki_words']:,}"}


COLUMNS = (("pair", "pair", "text"), ("count_a", "n_a", "num"), ("count_b", "n_b", "num"),
           ("D_sem", "D≡ (null)", "num"), ("D_cond", "D∼ (null)", "num"), ("dh", "DH", "text"),
           ("expected", "expected", "text"), ("advice", "should I tie?", "text wide"))
"""The diagnostic table's columns (row key, heading, kind): each divergence with its permutation null in brackets, so
that the words have room; n_a, n_b are occurrences in a corpus, or probabilities as outputs for an exact language."""


def _cell(key: str, value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if key.startswith("D_") or value < 1 else f"{value:.0f}"
    return str(value)


def _row(row: dict) -> list[str]:
    cells = []
    for key, _, _ in COLUMNS:
        text = _cell(key, row[key])
        if key in ("D_sem", "D_cond") and row.get(f"{key}_null") is not None:
            text += f" ({_cell(key, row[f'{key}_null'])})"
        cells.append(text)
    return cells


def diagnostic_table(result: Result, source: str = "") -> DataTable:
    """The rows of an ``eqv-diagnose`` result whose source starts with ``source`` (e.g. "XOR", "Wikipedia")."""
    if result.name != "eqv-diagnose":
        raise ValueError(f"diagnostic_table shows an eqv-diagnose result, got {result.name!r}")
    rows = [_row(r) for r in result.metrics["rows"] if r["source"].startswith(source)]
    return DataTable([h for _, h, _ in COLUMNS], rows, kinds=[k for _, _, k in COLUMNS])
