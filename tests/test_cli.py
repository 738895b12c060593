import json
import subprocess
import sys

import pytest

from tiedemb.cli import main


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tiedemb", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def test_list_names_every_experiment_with_what_it_reproduces():
    out = _run("list")
    assert out.returncode == 0
    assert "grad-check" in out.stdout and "grad-update-rule" in out.stdout
    assert "Press & Wolf" in out.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["run", "no-such-thing"], "unknown experiment 'no-such-thing'; known experiments: "),
    (["run", "grad-check", "--scale", "huge"], "unknown scale 'huge'; allowed: quick, paper"),
    (["run", "grad-check", "--seeds", "1,x"], "bad seeds '1,x'"),
    (["run", "grad-check", "--seeds", "2,2"], "duplicates"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, args, message, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        sys.exit(main([*args, "--out", str(out)] if args and args[0] == "run" else args))
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_run_writes_result_and_figures(tmp_path, tmp_cache):
    out = _run("run", "grad-check", "--seeds", "3", "--out", str(tmp_path / "o"))
    assert out.returncode == 0, out.stderr
    folder = tmp_path / "o" / "grad-check"
    data = json.loads((folder / "result.json").read_text())
    assert data["config"]["seeds"] == [3] and data["seeds"] == [3]
    for key in ("metrics", "claims", "package_version", "git_commit", "wall_time_s", "device"):
        assert key in data
    assert {c["label"] for c in data["claims"]} == {"PW-T1", "PW-T2", "PW-T3", "PW-E5"}
    assert (folder / "gradient_errors.png").stat().st_size > 1000
    assert (folder / "gradient_errors.pdf").stat().st_size > 1000
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["grad-check"]  # no temporary folders left


@pytest.mark.parametrize(("args", "message"), [
    (["run"], "name an experiment"),
    (["run", "--all", "--jobs", "0"], "--jobs must be a positive integer, got '0'"),
    (["run", "--all", "grad-check"], "it takes no NAME, --seeds or --out"),
    (["run", "--all", "--scale", "huge"], "unknown scale 'huge'"),
])
def test_bad_run_all_input_exits_2(args, message, capsys):
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_unwritable_out_is_refused_before_computing(tmp_path, tmp_cache, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["run", "grad-check", "--out", str(blocker / "sub")]) == 2
    assert "cannot be created or written" in capsys.readouterr().err
    assert not any(tmp_cache.rglob("result.json")), "nothing was computed"
