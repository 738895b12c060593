"""Helpers for the book's notebooks: claim tables, the scoreboard, and glue of computed numbers."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

from ..cache import run_or_load
from ..claims import PAPERS, Claim, label_sort_key
from ..config import book_scale
from ..experiments import all_experiments
from ..results import Result

_VERDICT_STYLE = {
    "holds": '<span style="color:#1a7f37;font-weight:bold">holds</span>',
    "does not hold": '<span style="color:#cf222e;font-weight:bold">does not hold</span>',
    "not testable at this scale": '<span style="color:#6e7781;font-weight:bold">not testable at this scale</span>',
}


class ClaimTable:
    """A table of claims that renders as HTML in a notebook and as plain text elsewhere."""

    def __init__(self, rows: Iterable[tuple[str, Claim]], title: str = "") -> None:
        self.rows = sorted(rows, key=lambda r: label_sort_key(r[1].label))
        self.title = title

    def __repr__(self) -> str:
        lines = [self.title] if self.title else []
        for exp, c in self.rows:
            lines.append(f"{c.label:7} {c.verdict:27} {exp:18} ours: {c.ours}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "<tr><th>claim</th><th>statement</th><th>paper</th><th>ours</th><th>verdict</th><th>experiment</th></tr>"
        body = "".join(
            f"<tr><td><b>{c.label}</b></td><td>{html.escape(c.statement)}</td><td>{html.escape(c.paper)}</td>"
            f"<td>{html.escape(c.ours)}</td><td>{_VERDICT_STYLE[c.verdict]}</td><td><code>{exp}</code></td></tr>"
            for exp, c in self.rows
        )
        title = f"<p><b>{html.escape(self.title)}</b></p>" if self.title else ""
        return f'{title}<table class="claims-table">{head}{body}</table>'


def claims_table(*results: Result) -> ClaimTable:
    """The claims of one or more results, as a table: paper says / we measured / verdict."""
    return ClaimTable((r.name, c) for r in results for c in r.claims)


class Scoreboard:
    """Every claim of every experiment, one table per paper; renders as HTML in a notebook."""

    def __init__(self, tables: list[ClaimTable], scale: str) -> None:
        self.tables = tables
        self.scale = scale

    def counts(self) -> dict[str, int]:
        """How many claims hold, do not hold, or are not testable."""
        counts = dict.fromkeys(_VERDICT_STYLE, 0)
        for t in self.tables:
            for _, c in t.rows:
                counts[c.verdict] += 1
        return counts

    def _summary(self) -> str:
        counts = self.counts()
        total = sum(counts.values())
        return f"{total} claims at {self.scale} scale: " + ", ".join(f"{n} {v}" for v, n in counts.items())

    def __repr__(self) -> str:
        return "\n\n".join([self._summary(), *map(repr, self.tables)])

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self._summary())}</p>" + "".join(t._repr_html_() for t in self.tables)


def scoreboard(scale: str | None = None) -> Scoreboard:
    """Every claim of every experiment, one table per paper, at the book's scale (results from the cache)."""
    scale = book_scale() if scale is None else scale
    rows: dict[str, list[tuple[str, Claim]]] = {p: [] for p in PAPERS.values()}
    for experiment in all_experiments():
        result = run_or_load(experiment.config_cls.for_scale(scale))
        for c in result.claims:
            rows[c.paper_name].append((result.name, c))
    tables = [ClaimTable(r, title=f"{paper} ({len(r)} claims scored)") for paper, r in rows.items() if r]
    return Scoreboard(tables, scale)


def metric(result: Result, path: str):
    """A metric by dotted path, e.g. ``metric(r, "per_arch.lstm.gradcheck")``."""
    value = result.metrics
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"{result.name} has no metric {path!r} (stuck at {part!r})")
        value = value[part]
    return value


def glue_metrics(result: Result, items: Iterable[str] | Mapping[str, object], *, prefix: str | None = None) -> None:
    """Glue metrics of a result into the page without displaying them.

    ``items`` is either a list of dotted metric paths ``p``, each glued as ``<experiment>.<p>`` (prose shows it with
    ``{glue:text}`<experiment>.<p>:.3f```), or a mapping of names to values the experiment computed (typically its
    preformatted ``metrics["text"]``), each glued as ``<experiment>.<name>``. ``prefix`` replaces ``<experiment>``,
    for a page that shows two results of one experiment (quick and paper scale).
    """
    from myst_nb import glue

    if isinstance(items, str):
        raise TypeError("glue_metrics takes a list of metric paths or a mapping, not a single string")
    pairs = items.items() if isinstance(items, Mapping) else ((path, metric(result, path)) for path in items)
    for name, value in pairs:
        glue(f"{prefix or result.name}.{name}", value, display=False)


def claim_verdicts(result: Result) -> dict[str, str]:
    """Each claim's verdict by label (``{"B-E1": "holds", ...}``), for prose that names a verdict via glue."""
    return {c.label: c.verdict for c in result.claims}


def provenance_text(result: Result) -> dict[str, str]:
    """Where and how a result was computed, as text for a page: wall time, device, commit, versions."""
    p = result.provenance
    wall = p.get("wall_time_s")
    if wall is None:
        wall_text = "unknown"
    elif wall >= 120:
        wall_text = f"{wall / 60:.0f} minutes"
    else:
        wall_text = f"{wall:.0f} seconds"
    return {"wall_time": wall_text, "device": str(p.get("device", "unknown")),
            "commit": str(p.get("git_commit") or "no commit")[:10], "torch": str(p.get("torch_version", "unknown")),
            "package": str(p.get("package_version", "unknown"))}
