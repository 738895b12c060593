"""The one way from a result to the page: glue, claim tables, the scoreboard, provenance text.

Experiments return numbers and verdicts only; every word the pages build from a result is formatted here. A chapter
makes ONE glue call per result, :func:`glue_result`, which glues under ``<experiment>.`` (or a ``prefix``):

- every number of ``result.metrics``, by its dotted path, unformatted
  (``{glue:text}`xor-transformer-small.acc.untied.final:.3f```), except those under ``metrics["timing"]`` (speeds
  and wall times, which change from run to run while the glued values are compared by CI);
- the text values of the experiment's prose function (``{glue:text}`xor-transformer-small.tied_vs_untied```), words
  and rounded numbers that the prose needs and that depend on the result. Prose functions live in this package, one
  module per paper and chapter (``book/<paper>/<chapter>.py``), registered with :func:`prose`; since presentation is
  not part of the code version, rewording a sentence never throws away a cached result;
- each claim's verdict (``verdict.B-E1``) and precondition (``precondition.B-E1``);
- with ``provenance=True`` (for committed results, whose provenance is fixed), where and how the result was computed
  (``provenance.wall_time``, ``provenance.code``, ...). A quick result's wall time and commit change with every run,
  and glued values are part of the committed outputs that CI compares, so they are not glued by default.
"""

from __future__ import annotations

import html
import importlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ..claims import FAILS, HOLDS, IDENTITY, PAPERS, UNTESTABLE, Claim, label_sort_key
from ..config import book_scale
from ..experiments import all_experiments, run_or_load
from ..results import Result

ProseFn = Callable[[Result], dict[str, str]]
_PROSE: dict[str, ProseFn] = {}
MODULES = ("press_wolf.gradients", "press_wolf.language_models", "press_wolf.practice", "press_wolf.word2vec",
           "press_wolf.translation", "bertolotti.theorems", "bertolotti.diagnose", "bertolotti.xor", "bertolotti.mlm",
           "yamagiwa.norm_variance", "cho.token_probability")
"""Prose modules, by paper and chapter, mirroring :mod:`tiedemb.experiments`; imported on first use."""

VERDICT_ORDER = (HOLDS, FAILS, UNTESTABLE, IDENTITY)
_VERDICT_COLOR = {HOLDS: "#1a7f37", FAILS: "#cf222e", UNTESTABLE: "#6e7781", IDENTITY: "#0969da"}


def badge(verdict: str) -> str:
    """A verdict as a coloured badge (HTML)."""
    color = _VERDICT_COLOR[verdict]
    return (f'<span class="verdict-badge" style="background:{color};color:#fff;border-radius:0.8em;'
            f'padding:0.1em 0.6em;white-space:nowrap;font-size:0.85em;font-weight:600">{html.escape(verdict)}</span>')


def prose(*names: str) -> Callable[[ProseFn], ProseFn]:
    """Register ``fn(result) -> {key: text}`` as the prose function of the experiments ``names``."""

    def wrap(fn: ProseFn) -> ProseFn:
        for name in names:
            if name in _PROSE:
                raise ValueError(f"prose for {name!r} registered twice")
            _PROSE[name] = fn
        return fn

    return wrap


def _load_prose() -> None:
    for module in MODULES:
        importlib.import_module(f"{__name__}.{module}")


def prose_text(result: Result) -> dict[str, str]:
    """The prose values of ``result`` (empty when its experiment has no prose function)."""
    _load_prose()
    fn = _PROSE.get(result.name)
    return {} if fn is None else {k: str(v) for k, v in fn(result).items()}


SPEED_FILE = Path(__file__).resolve().parents[3] / "benchmarks" / "quick-speed.json"
"""The committed speed table of ``benchmarks/bench_quick.py`` (one thread per experiment, with the matmul rate of the
same run)."""

LARGE_SPEED_FILE = SPEED_FILE.with_name("pw-large-speed.json")
"""The committed speed table of ``benchmarks/bench_pw_large.py`` (Press & Wolf's large model, one thread)."""

MLM_PAPER_SPEED_FILE = SPEED_FILE.with_name("mlm-paper-speed.json")
"""The committed speed table of ``benchmarks/bench_mlm_paper.py`` (the authors' twin MLM, one thread)."""


def speed_table(path: Path, script: str) -> dict[str, Any]:
    """A committed benchmark table (JSON) written by ``benchmarks/<script>``, or a :class:`FileNotFoundError` that
    names the command producing it."""
    try:
        return json.loads(path.read_text(encoding="utf8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"no speed table at {path}; produce it with: python benchmarks/{script}") from None


def measured_speed(name: str, path: Path = SPEED_FILE) -> dict[str, str]:
    """What the committed benchmark measured for experiment ``name``, as words for a chapter's prose function: the
    date and machine, the one-core wall time, and, for a training loop that counts its FLOPs, tokens per second and
    the model FLOPs utilisation (model FLOPs per second over the one-thread matmul rate measured in the same run).

    Speeds change from run to run, so a page states the benchmark's numbers with their date, never its own run's.
    """
    try:
        data = json.loads(path.read_text(encoding="utf8"))
        row = data["experiments"][name]
    except FileNotFoundError:
        raise FileNotFoundError(f"no speed table at {path}; produce it with: python benchmarks/bench_quick.py"
                                ) from None
    except KeyError:
        raise KeyError(f"{path} has no row for {name!r}; rerun: python benchmarks/bench_quick.py --only {name}"
                       ) from None
    words = {"speed_date": row["date"], "speed_machine": data["machine"],
             "speed_matmul": f"{row['matmul_gflops']:.0f} GFLOP/s", "speed_wall": f"{row['wall_s']:.0f} s"}
    if row.get("tokens_per_s"):
        words["speed_tokens"] = f"{row['tokens_per_s']:,.0f}"
    if row.get("mfu"):
        words["speed_mfu"] = f"{row['mfu']:.0%}"
        words["speed_model_flops"] = f"{row['model_flops_per_s'] / 1e9:.1f} GFLOP/s"
    return words


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    else:
        yield path, value


def glue_values(result: Result, *, provenance: bool = False) -> dict[str, Any]:
    """Everything :func:`glue_result` glues, by name (without the prefix): metrics, prose, verdicts, and with
    ``provenance`` the provenance text."""
    values: dict[str, Any] = {path: v for path, v in _leaves(result.metrics)
                              if not isinstance(v, list) and not path.startswith("timing.")}
    for key, text in prose_text(result).items():
        if key in values:
            raise KeyError(f"prose key {key!r} of {result.name} shadows a metric of the same name")
        values[key] = text
    for c in result.claims:
        values[f"verdict.{c.label}"] = c.verdict
        values[f"precondition.{c.label}"] = c.precondition or "none"
    if provenance:
        for key, text in provenance_text(result).items():
            values[f"provenance.{key}"] = text
    return values


def glue_result(result: Result, *, prefix: str | None = None, provenance: bool = False) -> None:
    """Glue a result into the page without displaying anything: the one glue call of a chapter per result.

    ``prefix`` replaces the experiment name, for a page that shows two results of one experiment (quick and paper
    scale); ``provenance`` adds the provenance text (for committed results).
    """
    from myst_nb import glue

    for name, value in glue_values(result, provenance=provenance).items():
        glue(f"{prefix or result.name}.{name}", value, display=False)


def metric(result: Result, path: str):
    """A metric by dotted path, e.g. ``metric(r, "per_arch.lstm.gradcheck")``."""
    value = result.metrics
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"{result.name} has no metric {path!r} (stuck at {part!r})")
        value = value[part]
    return value


# ---------------------------------------------------------------------------------------------------------- tables

TABLE_CSS = """<style>
table.claims-table{border-collapse:collapse;width:100%;font-size:0.88em;margin:0.5em 0 1em}
table.claims-table th,table.claims-table td{padding:0.3em 0.5em;vertical-align:top;border-bottom:1px solid #d0d7de}
table.claims-table th{text-align:left;background:#f6f8fa}
table.claims-table td.label{white-space:nowrap;font-weight:600}
table.claims-table td.verdict{white-space:nowrap}
table.claims-table .claim-exp{font-size:0.85em;color:#57606a}
table.claims-table details summary{cursor:pointer;color:#0969da}
table.data-table{border-collapse:collapse;font-size:0.88em;margin:0.5em 0 1em}
table.data-table th,table.data-table td{padding:0.25em 0.5em;border-bottom:1px solid #d0d7de;white-space:nowrap}
table.data-table th{background:#f6f8fa;text-align:right}
table.data-table td.num{text-align:right;font-variant-numeric:tabular-nums}
table.data-table th.text,table.data-table td.text{text-align:left;white-space:normal;min-width:4.5em}
table.data-table td.wide{min-width:9em}
</style>"""
"""The style of every HTML table the book's objects render (claims tables, data tables)."""


_NUMBER = re.compile(r"^[-−+]?[\d,]*\.?\d+\s*(%|[KM]|×)?$|^[–-]$")


class DataTable:
    """A table of text cells that renders as HTML in a notebook (numbers right-aligned and unbroken, words left-aligned
    and wrapped, in the book's table style) and as aligned text elsewhere (stable under nbval).

    ``kinds`` gives each column's HTML class ("num", "text", or "text wide" for the column that should take the room);
    by default a column is "num" when every cell reads as a number.
    """

    def __init__(self, header: list[str], rows: list[list[str]], caption: str = "", *,
                 kinds: list[str] | None = None) -> None:
        if kinds is not None and len(kinds) != len(header):
            raise ValueError(f"{len(kinds)} column kinds for {len(header)} columns")
        if any(len(r) != len(header) for r in rows):
            raise ValueError(f"every row must have {len(header)} cells, one per column of {header}")
        self.header, self.rows, self.caption, self.kinds = header, rows, caption, kinds

    def __repr__(self) -> str:
        cells = [self.header, *self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.header))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
        return "\n".join(([self.caption] if self.caption else []) + lines)

    def _kinds(self) -> list[str]:
        if self.kinds is not None:
            return self.kinds
        return ["num" if self.rows and all(_NUMBER.match(r[i].strip()) for r in self.rows) else "text"
                for i in range(len(self.header))]

    def _repr_html_(self) -> str:
        kinds = self._kinds()
        head = "".join(f'<th class="{k}">{html.escape(h)}</th>' for h, k in zip(self.header, kinds, strict=True))
        body = "".join("<tr>" + "".join(f'<td class="{k}">{html.escape(c)}</td>' for c, k in zip(r, kinds, strict=True))
                       + "</tr>" for r in self.rows)
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f'{TABLE_CSS}<table class="data-table">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


class ClaimTable:
    """A table of claims (label, claim, paper, ours, verdict) that renders as HTML in a notebook and as plain text
    elsewhere. The long "ours" text and the precondition sit in a dropdown when ``compact``."""

    def __init__(self, rows: Iterable[tuple[str, Claim]], title: str = "", *, compact: bool = False,
                 links: dict[str, str] | None = None) -> None:
        self.rows = sorted(rows, key=lambda r: label_sort_key(r[1].label))
        self.title = title
        self.compact = compact
        self.links = links or {}

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(VERDICT_ORDER, 0)
        for _, c in self.rows:
            counts[c.verdict] += 1
        return counts

    def __repr__(self) -> str:
        lines = [self.title] if self.title else []
        for exp, c in self.rows:
            lines.append(f"{c.label:7} {c.verdict:27} {exp:22} ours: {c.ours}")
        return "\n".join(lines)

    def _ours(self, c: Claim) -> str:
        text = html.escape(c.ours)
        if c.precondition:
            text += f"<br><i>precondition:</i> {html.escape(c.precondition)}"
        if self.compact:
            return f"<details><summary>our measurement</summary>{text}</details>"
        return text

    def _label(self, exp: str, c: Claim) -> str:
        link = self.links.get(exp)
        return f'<a href="{html.escape(link)}">{c.label}</a>' if link else c.label

    def _statement(self, exp: str, c: Claim) -> str:
        """The claim; in a chapter's table, the experiment that scored it below it (no column of its own: five
        columns fit the book's text width)."""
        text = html.escape(c.statement)
        return text if self.compact else f'{text}<br><span class="claim-exp">scored by <code>{exp}</code></span>'

    def _repr_html_(self) -> str:
        head = "<tr><th>claim</th><th>statement</th><th>paper</th><th>ours</th><th>verdict</th></tr>"
        body = "".join(
            f'<tr><td class="label">{self._label(exp, c)}</td><td>{self._statement(exp, c)}</td>'
            f"<td>{html.escape(c.paper)}</td><td>{self._ours(c)}</td><td class=\"verdict\">{badge(c.verdict)}</td>"
            "</tr>"
            for exp, c in self.rows
        )
        title = f"<p><b>{html.escape(self.title)}</b></p>" if self.title else ""
        return f'{TABLE_CSS}{title}<table class="claims-table">{head}{body}</table>'


def claims_table(*results: Result) -> ClaimTable:
    """The claims of one or more results, as a table: paper says / we measured / verdict."""
    return ClaimTable((r.name, c) for r in results for c in r.claims)


def summary_line(counts: dict[str, int]) -> str:
    """``"5 hold, 2 do not hold, 1 not testable at this scale, 3 identities"`` (zero counts left out)."""
    words = {HOLDS: ("holds", "hold"), FAILS: ("does not hold", "do not hold"),
             UNTESTABLE: ("not testable at this scale",) * 2, IDENTITY: ("identity", "identities")}
    parts = [f"{n} {words[v][n != 1]}" for v, n in counts.items() if n]
    return ", ".join(parts) if parts else "no claims"


class Scoreboard:
    """Every claim of every experiment, one compact table per paper with a summary line; HTML in a notebook."""

    def __init__(self, tables: list[ClaimTable], scale: str) -> None:
        self.tables = tables
        self.scale = scale

    def counts(self) -> dict[str, int]:
        """How many claims hold, do not hold, are not testable, or are identities."""
        counts = dict.fromkeys(VERDICT_ORDER, 0)
        for t in self.tables:
            for v, n in t.counts().items():
                counts[v] += n
        return counts

    def _summary(self) -> str:
        counts = self.counts()
        return f"{sum(counts.values())} claims at {self.scale} scale: {summary_line(counts)}"

    def __repr__(self) -> str:
        return "\n\n".join([self._summary(), *map(repr, self.tables)])

    def _repr_html_(self) -> str:
        parts = [f"<p><b>{html.escape(self._summary())}</b></p>"]
        for t in self.tables:
            parts.append(f"<h4>{html.escape(t.title)}</h4><p>{html.escape(summary_line(t.counts()))}</p>")
            parts.append(ClaimTable(t.rows, compact=True, links=t.links)._repr_html_())
        return "".join(parts)


def _page_link(chapter: str) -> str:
    """The built page of a chapter, relative to the scoreboard page (``book/scoreboard``)."""
    return chapter.removeprefix("book/") + ".html"


def scoreboard(scale: str | None = None) -> Scoreboard:
    """Every claim of every experiment, one table per paper, at the book's scale (results from the cache). An
    experiment that departs from the paper's configuration (:attr:`~tiedemb.experiments.Experiment.departure`) to score
    claims scored elsewhere on the paper's configuration is left out: one verdict per claim."""
    scale = book_scale() if scale is None else scale
    rows: dict[str, list[tuple[str, Claim]]] = {p: [] for p in PAPERS.values()}
    links: dict[str, str] = {}
    for experiment in all_experiments():
        if experiment.departure:
            continue
        result = run_or_load(experiment.config_cls.for_scale(scale))
        links[result.name] = _page_link(experiment.chapter)
        for c in result.claims:
            rows[c.paper_name].append((result.name, c))
    tables = [ClaimTable(r, title=f"{paper} ({len(r)} claims)", links=links) for paper, r in rows.items() if r]
    return Scoreboard(tables, scale)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    return f"{seconds / 60:.0f} minutes" if seconds >= 120 else f"{seconds:.0f} seconds"


def provenance_text(result: Result) -> dict[str, str]:
    """Where and how a result was computed, as text for a page: wall time, the time its training steps took (summed
    over its models and over every process that trained them, when the result records it), device, commit, versions,
    and whether the code that computed it is the current code (its verdicts are judged again by the current code either
    way)."""
    p = result.provenance
    wall = p.get("wall_time_s")
    wall_text = _duration(wall)
    if wall is not None and p.get("resumed_trainings"):  # a run resumed from checkpoints: say what the time covers
        wall_text += (" (the finishing process only)" if "earlier_processes_s" not in p
                      else " (every process of the resumed run)")
    stored = str(p.get("code_version", "unknown"))
    if result.code_is_current:
        code = "the current code"
    else:
        code = (f"an older code version ({stored}): its stored metrics are shown, and its verdicts are judged again "
                f"by the current code")
    changed = ", ".join(result.changed_verdicts) if result.changed_verdicts else "none"
    train = (result.metrics.get("timing") or {}).get("train_seconds")
    return {"wall_time": wall_text, "train_time": _duration(train), "device": str(p.get("device", "unknown")),
            "commit": str(p.get("git_commit") or "no commit")[:10], "torch": str(p.get("torch_version", "unknown")),
            "package": str(p.get("package_version", "unknown")), "code": code, "changed_verdicts": changed}
