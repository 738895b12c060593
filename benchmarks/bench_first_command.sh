#!/usr/bin/env bash
# The README's two commands as a new user runs them: a fresh clone of this checkout's HEAD, `bash dev.sh book`
# (install, every quick experiment, the book), then `bash dev.sh test` right after. Appends one row to
# benchmarks/first-command.md (date, machine, commit, both wall times). Takes as long as the two commands.
#
#   bash benchmarks/bench_first_command.sh [WORKDIR]    # default WORKDIR: a new temporary folder
#   WITH_CI=1 bash benchmarks/bench_first_command.sh     # then also a cold CI=true .ci/run in another fresh clone
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
row="| $(date -u +%F) | $commit | $machine | $(fmt "$book") | $(fmt "$test") |"
# the new row goes right after the table's last row (the notes below the table stay below it)
last=$(grep -n '^|' "$table" | tail -1 | cut -d: -f1)
awk -v n="$last" -v row="$row" '{ print } NR == n { print row }' "$table" > "$table.tmp" && mv "$table.tmp" "$table"
echo "dev.sh book: $(fmt "$book"); dev.sh test: $(fmt "$test"); logs in $WORK; row added to $table"
if [ "${WITH_CI:-0}" = 1 ]; then  # a cold CI run as well: another fresh clone, nothing installed or cached
  git clone -q "$ROOT" "$WORK/ci-clone"
  start=$(date +%s); (cd "$WORK/ci-clone" && CI=true bash .ci/run > "$WORK/ci.log" 2>&1); ci=$(( $(date +%s) - start ))
  phases=$(grep '^==> \[' "$WORK/ci.log" | sed -E 's/^==> \[([0-9]+ min [0-9]+ s)\] ([^(:]*).*/\1: \2/; s/ +$//' | paste -sd ';' -)
  printf '\nA cold `CI=true bash .ci/run` from a clean clone of %s on %s (%s): %s. Phases (time since the start): %s\n' \
    "$commit" "$(date -u +%F)" "$machine" "$(fmt "$ci")" "$phases" >> "$table"
  echo "cold .ci/run: $(fmt "$ci"); log in $WORK/ci.log"
fi
