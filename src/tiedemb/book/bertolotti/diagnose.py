"""Prose values and tables of the chapter "Should I tie? A diagnostic" (``eqv-diagnose``; see :mod:`tiedemb.book`)."""

from __future__ import annotations

import html

from ...results import Result
from .. import TABLE_CSS, prose


@prose("eqv-diagnose")
def diagnose_prose(result: Result) -> dict[str, str]:
    return {"bits": str(result.config["xor_bits"]), "samples": f"{result.config['xor_samples']:,}",
            "words": f"{result.metrics['wiki_words']:,}"}


class DiagnosticTable:
    """The diagnostic's rows as a table: HTML in a notebook, rounded plain text elsewhere (stable under nbval).

    n_a, n_b are occurrences in a corpus, or probabilities as outputs for an exact language.
    """

    COLUMNS = (("pair", "pair"), ("count_a", "n_a"), ("count_b", "n_b"), ("D_sem", "D≡"),
               ("D_sem_null", "D≡ null"), ("D_cond", "D∼"), ("D_cond_null", "D∼ null"), ("dh", "DH"),
               ("expected", "expected"), ("advice", "should I tie?"))

    def __init__(self, rows: list[dict], source: str = "") -> None:
        self.rows = [r for r in rows if r["source"].startswith(source)]

    @staticmethod
    def _cell(key: str, value) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return f"{value:.3f}" if key.startswith("D_") or value < 1 else f"{value:.0f}"
        return str(value)

    def __repr__(self) -> str:
        return "\n".join(" | ".join(self._cell(k, r[k]) for k, _ in self.COLUMNS) for r in self.rows)

    HTML_COLUMNS = (("pair", "pair", "text"), ("count_a", "n_a", "num"), ("count_b", "n_b", "num"),
                    ("D_sem", "D≡ (null)", "num"), ("D_cond", "D∼ (null)", "num"), ("dh", "DH", "text"),
                    ("expected", "expected", "text"), ("advice", "should I tie?", "text wide"))
    """The HTML table's columns: each divergence with its permutation null in brackets, so that the words have room;
    numbers right-aligned and never wrapped, words left-aligned and wrapped (the advice in the widest column)."""

    def _html_cell(self, key: str, row: dict) -> str:
        text = self._cell(key, row[key])
        if key in ("D_sem", "D_cond") and row.get(f"{key}_null") is not None:
            text += f" ({self._cell(key, row[f'{key}_null'])})"
        return html.escape(text)

    def _repr_html_(self) -> str:
        head = "".join(f'<th class="{kind}">{html.escape(t)}</th>' for _, t, kind in self.HTML_COLUMNS)
        body = "".join("<tr>" + "".join(f'<td class="{kind}">{self._html_cell(k, r)}</td>'
                                        for k, _, kind in self.HTML_COLUMNS) + "</tr>" for r in self.rows)
        return f'{TABLE_CSS}<table class="data-table diagnostic-table"><tr>{head}</tr>{body}</table>'


def diagnostic_table(result: Result, source: str = "") -> DiagnosticTable:
    """The rows of an ``eqv-diagnose`` result whose source starts with ``source`` (e.g. "XOR", "Wikipedia")."""
    if result.name != "eqv-diagnose":
        raise ValueError(f"diagnostic_table shows an eqv-diagnose result, got {result.name!r}")
    return DiagnosticTable(result.metrics["rows"], source)
