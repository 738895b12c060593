"""Guards for the committed chapter notebooks (nbval itself re-executes them in CI; see dev.sh).

nbval does not compare cells whose stored execution count is None, so a stripped notebook would pass silently: these
tests make sure every notebook is committed fully executed, in order, without errors or stray stderr, and that
notebooks keep to the house rules (logic lives in the package).
"""

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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_house_rules(path):
    cells = _code_cells(path)
    tags = cells[0].get("metadata", {}).get("tags", [])
    assert {"hide-input", "remove-input"} & set(tags), f"{path.name}: first code cell must be tagged hide-input"
    for cell in cells:
        src = "".join(cell["source"])
        for pattern, what in FORBIDDEN:
            assert not re.search(pattern, src, re.M), f"{path.name}: {what} in a cell; logic lives in src/tiedemb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_tiedemb_is_imported_before_numpy_and_torch(path):
    # The CPU code paths are pinned when tiedemb is imported (tiedemb.config.pin_cpu_kernels); OpenBLAS reads its pin
    # when numpy loads, so a chapter's first import must be tiedemb (the README says the chapters keep to this).
    imports = [m.group(1) for c in _code_cells(path) for m in re.finditer(r"^\s*(?:from|import)\s+(\w+)",
                                                                        "".join(c["source"]), re.M)]
    assert imports and imports[0] == "tiedemb", f"{path.name}: first import is {imports[:1]}, not tiedemb"
