#!/usr/bin/env bash
# Developer entry point. The README's two commands:
#   bash dev.sh book    install into .venv (if needed) and build the whole book to _build/html
#   bash dev.sh test    install into .venv (if needed) and run every test (unit, claims, nbval, book build, browser)
# Others:
#   bash dev.sh notebooks   re-execute every chapter notebook in place (refresh the committed outputs)
#   bash dev.sh install     only install
# Environment: PYTHON (interpreter used to create the venv, default python3), VENV (default ./.venv),
#   BOOK_SCALE (quick | paper), TIEDEMB_CACHE_DIR (results cache, default ./.cache/results).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"
VENV=${VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}
export TIEDEMB_CACHE_DIR=${TIEDEMB_CACHE_DIR:-$ROOT/.cache/results}
export PYTHONHASHSEED=0
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '\n==> [%d min %02d s] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }  # time since the start

install() {
  if ! "$PYTHON" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 13)))' 2>/dev/null; then
    echo "error: $PYTHON is not Python 3.11 or 3.12; set PYTHON=/path/to/python3.11" >&2
    exit 2
  fi
  local want stamp
  want=$(cat pyproject.toml | sha256sum | cut -c1-16)
  stamp="$VENV/.tiedemb-install"
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing the project and its book/test extras into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    # torch is named explicitly with its exact pin (a looser requirement could pull a multi-GB CUDA build).
    "$VENV/bin/python" -m pip install -q "torch==2.13.0" -e ".[book,test]"
    echo "$want" > "$stamp"
  else
    say "$VENV is up to date"
  fi
}

compute_results() {
  # Every experiment the chapters need, loaded or computed once into the cache by one worker per core; the tests,
  # nbval and the book build then read the cache. At paper scale nothing is computed implicitly (hours of training):
  # the chapters load committed results and name the command for a missing one.
  if [ "${BOOK_SCALE:-quick}" = "quick" ]; then
    say "computing the quick-scale experiments (or loading them from $TIEDEMB_CACHE_DIR), one worker per core"
    "$VENV/bin/python" -m tiedemb run --all --scale quick
  fi
}

build_book() {
  say "building the book (fresh build folder, warnings are errors)"
  rm -rf _build/html _build/.doctrees _build/jupyter_execute
  "$VENV/bin/jupyter-book" build -W -n --keep-going .
  say "book built: file://$ROOT/_build/html/index.html"
}

ensure_chromium() {
  command -v chromium >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium for the rendered-page checks"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: chromium is not installed and cannot be installed here; the rendered-page checks will be skipped" >&2
  fi
}

case "${1:-}" in
  install)
    install ;;
  book)
    install
    compute_results
    build_book ;;
  test)
    install
    ensure_chromium
    say "lint"
    "$VENV/bin/ruff" check src tests benchmarks
    compute_results
    say "unit tests, claims, environment sync, CLI, notebook guard"
    "$VENV/bin/python" -m pytest -q -m "not browser" tests
    say "notebooks under nbval (re-executed, compared with their committed outputs)"
    "$VENV/bin/python" -m pytest -q --nbval --nbval-current-env --nbval-sanitize-with nbval_sanitize.cfg book
    build_book
    say "rendered pages in headless Chromium"
    "$VENV/bin/python" -m pytest -q -m browser tests
    say "every test passed" ;;
  notebooks)
    install
    shopt -s globstar
    for nb in book/**/*.ipynb; do
      say "executing $nb"
      "$VENV/bin/jupyter-execute" --inplace --timeout=1800 "$nb"
    done ;;
  *)
    echo "usage: bash dev.sh {book|test|notebooks|install}" >&2
    exit 2 ;;
esac
