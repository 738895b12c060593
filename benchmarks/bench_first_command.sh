#!/usr/bin/env bash
# The README's two commands as a new user runs them: a fresh clone of this checkout's HEAD, `bash dev.sh book`
# (install, every quick experiment, the book), then `bash dev.sh test` right after. Appends one row to
# benchmarks/first-command.md (date, machine, commit, both wall times). Takes as long as the two commands.
#
#   bash benchmarks/bench_first_command.sh [WORKDIR]    # default WORKDIR: a new temporary folder
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${1:-$(mktemp -d)}
commit=$(git -C "$ROOT" rev-parse --short HEAD)
git clone -q "$ROOT" "$WORK/clone"
cd "$WORK/clone"
unset TIEDEMB_CACHE_DIR VENV
start=$(date +%s); bash dev.sh book > "$WORK/book.log" 2>&1; book=$(( $(date +%s) - start ))
start=$(date +%s); bash dev.sh test > "$WORK/test.log" 2>&1; test=$(( $(date +%s) - start ))
machine="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
table="$ROOT/benchmarks/first-command.md"
if [ ! -f "$table" ]; then
  printf '# The README'"'"'s two commands from a fresh clone\n\n%s\n\n%s\n%s\n' \
    "Measured by \`bash benchmarks/bench_first_command.sh\` (logs in its work folder)." \
    "| date | commit | machine | \`dev.sh book\` (install included) | \`dev.sh test\` right after |" \
    "|---|---|---|---:|---:|" > "$table"
fi
fmt() { printf '%d min %02d s' $(( $1 / 60 )) $(( $1 % 60 )); }
echo "| $(date -u +%F) | $commit | $machine | $(fmt "$book") | $(fmt "$test") |" >> "$table"
echo "dev.sh book: $(fmt "$book"); dev.sh test: $(fmt "$test"); logs in $WORK; row added to $table"
