"""environment.yml and pyproject.toml must describe the same environment (pyproject is the single source)."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
ENV = yaml.safe_load((ROOT / "environment.yml").read_text())


def _pip_lines():
    for dep in ENV["dependencies"]:
        if isinstance(dep, dict) and "pip" in dep:
            return dep["pip"]
    raise AssertionError("environment.yml has no pip section")


def test_python_pin_satisfies_requires_python():
    pins = [d for d in ENV["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert pins == ["python=3.11"]
    assert PYPROJECT["project"]["requires-python"].startswith(">=3.11")


def test_pip_section_installs_the_project_with_every_extra():
    lines = _pip_lines()
    editable = [line for line in lines if line.startswith("-e .")]
    assert len(editable) == 1
    extras = set(re.search(r"\[(.*)\]", editable[0]).group(1).split(","))
    assert extras == set(PYPROJECT["project"]["optional-dependencies"])


def test_torch_pin_is_the_same_everywhere():
    deps = PYPROJECT["project"]["dependencies"]
    assert "torch==2.13.0" in deps
    assert "torch==2.13.0" in _pip_lines()
    assert 'torch==2.13.0' in (ROOT / "dev.sh").read_text()


def test_no_conda_package_outside_pyproject():
    conda = [d for d in ENV["dependencies"] if isinstance(d, str) and not d.startswith(("python", "pip"))]
    assert conda == [], f"conda packages {conda} must be declared in pyproject.toml instead"


def test_direct_dependencies_are_pinned():
    groups = [PYPROJECT["project"]["dependencies"], *PYPROJECT["project"]["optional-dependencies"].values()]
    loose = [d for g in groups for d in g if "==" not in d]
    assert loose == [], f"unpinned dependencies: {loose}"
