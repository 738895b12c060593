"""Guards for the committed chapter notebooks (nbval itself re-executes them in CI; see dev.sh).

nbval does not compare cells whose stored execution count is None, so a stripped notebook would pass silently: these
tests make sure every notebook is committed fully executed, in order, without errors or stray stderr, and that
notebooks keep to the house rules (logic lives in the package).
"""

import ast
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
IDS = [str(p.relative_to(ROOT)) for p in NOTEBOOKS]


def _toc_files():
    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                yield node["file"]
            if "root" in node:
                yield node["root"]
            for v in node.values():
                yield from walk(v)
        elif isinstance(node, list):
            for v in node:
                yield from walk(v)

    return set(walk(yaml.safe_load((ROOT / "_toc.yml").read_text())))


def _code_cells(path):
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no chapter notebooks under book/"


def test_toc_and_files_agree():
    toc = _toc_files()
    for f in toc:
        assert list(ROOT.glob(f + ".*")), f"_toc.yml lists {f}, which does not exist"
    for path in NOTEBOOKS:
        assert str(path.relative_to(ROOT).with_suffix("")) in toc, f"{path} is not in _toc.yml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_fully_executed_in_order(path):
    counts = [c["execution_count"] for c in _code_cells(path)]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: unexecuted or out-of-order cells {counts}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_errors_or_stderr_in_outputs(path):
    for cell in _code_cells(path):
        for out in cell["outputs"]:
            assert out["output_type"] != "error", f"{path.name}: error output in {cell['source'][:60]!r}"
            assert not (out["output_type"] == "stream" and out["name"] == "stderr"), (
                f"{path.name}: stderr output (a warning?) in {''.join(cell['source'])[:60]!r}: "
                f"{''.join(out['text'])[:200]}"
            )


FORBIDDEN = [(r"^\s*(def|class)\s", "a def or class"), (r"^\s*(for|while)\s", "a loop"), (r"^\s*!", "a shell escape"),
             (r"os\.environ|getenv", "an environment read"), (r"^\s*%pip|pip install", "an install")]


# Logic that belongs in the package, found in a cell's syntax tree (outside exercise solutions, which are a student's
# code by nature): what each node type means to a reader.
LOGIC = {ast.Lambda: "a lambda", ast.BinOp: "arithmetic", ast.UnaryOp: "arithmetic", ast.Subscript: "subscripting",
         ast.ListComp: "a comprehension", ast.SetComp: "a comprehension", ast.DictComp: "a comprehension",
         ast.GeneratorExp: "a comprehension", ast.Dict: "a dict literal", ast.List: "a list literal",
         ast.Set: "a set literal", ast.FunctionDef: "a def", ast.ClassDef: "a class", ast.For: "a loop",
         ast.While: "a loop", ast.If: "a branch", ast.IfExp: "a branch", ast.JoinedStr: "string formatting"}


def _solution_cells(path):
    """Ids of the code cells inside an exercise's solution (between {solution-start} and {solution-end})."""
    inside, ids = False, set()
    for cell in json.loads(path.read_text())["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            start, end = src.rfind("{solution-start}"), src.rfind("{solution-end}")
            if start != end:  # the later marker of the cell decides
                inside = start > end
        elif inside:
            ids.add(id(cell) if "id" not in cell else cell["id"])
    return ids


def logic_in(src: str) -> list[str]:
    """What a cell does that belongs in the package (empty when the cell only imports, assigns and calls)."""
    found = []
    for node in ast.walk(ast.parse(src)):
        what = LOGIC.get(type(node))
        if what is None:
            continue
        if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
            continue  # a negative number literal
        found.append(f"{what} (line {node.lineno})")
    return found


def test_logic_detector():
    assert logic_in("from tiedemb.book import glue_result\nr = run_or_load(Cfg.for_scale())\nplot(r, -1)") == []
    for src, what in [("f(lambda x: x)", "a lambda"), ("r.metrics['acc']", "subscripting"), ("a = 2 * b", "arithmetic"),
                      ("f([x for x in y])", "a comprehension"), ("Language({'a': 1})", "a dict literal"),
                      ("f([1, 2])", "a list literal"), ("f(f'{x:.2f}')", "string formatting")]:
        assert any(w.startswith(what) for w in logic_in(src)), src


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_house_rules(path):
    cells = _code_cells(path)
    tags = cells[0].get("metadata", {}).get("tags", [])
    assert {"hide-input", "remove-input"} & set(tags), f"{path.name}: first code cell must be tagged hide-input"
    solutions = _solution_cells(path)
    for cell in cells:
        src = "".join(cell["source"])
        for pattern, what in FORBIDDEN:
            assert not re.search(pattern, src, re.M), f"{path.name}: {what} in a cell; logic lives in src/tiedemb"
        if cell.get("id", id(cell)) in solutions:
            continue
        found = logic_in(src)
        assert not found, f"{path.name}: {', '.join(found)} in {src[:80]!r}; logic lives in src/tiedemb"


NOTES = "dos" + "sier"  # the word for notes outside the repository, spelled in two parts so that no file holds it
WORD = re.compile(rf"\b{NOTES}\b", re.I)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_the_book_stands_on_its_own(path):
    # The book cites papers and their sections; notes outside the repository are not a reader's to open.
    assert not WORD.search(path.read_text()), f"{path.name} cites notes outside the repository ({NOTES})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_tiedemb_is_imported_before_numpy_and_torch(path):
    # The CPU code paths are pinned when tiedemb is imported (tiedemb.config.pin_cpu_kernels); OpenBLAS reads its pin
    # when numpy loads, so a chapter's first import must be tiedemb (the README says the chapters keep to this).
    imports = [m.group(1) for c in _code_cells(path) for m in re.finditer(r"^\s*(?:from|import)\s+(\w+)",
                                                                        "".join(c["source"]), re.M)]
    assert imports and imports[0] == "tiedemb", f"{path.name}: first import is {imports[:1]}, not tiedemb"
