#!/usr/bin/env bash
# Runs CI (`bash .ci/run`) on N fresh clones of this repo's main, one after the other, while a CPU-heavy process
# (visid's exact-search benchmark, in a loop) loads the machine: the proof that the suite does not flake under load.
# Each clone sits beside the project (../ci-load-<i>/), so its ../shared is the same as the project's.
# Prints each run's exit code and wall time, and a summary; logs stay in $LOG_DIR.
# Usage: bash scripts/ci-under-load.sh [runs=5]    (needs `npm run build` done in this checkout, for the load)
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
repo=$(pwd)
parent=$(dirname "$repo")
LOG_DIR=${LOG_DIR:-$(mktemp -d /tmp/visid-ci-load-XXXX)}
mkdir -p "$LOG_DIR"
[ -f dist/bench/search.js ] || { echo "run npm run build first (the load is dist/bench/search.js)" >&2; exit 2; }
# The load: exact top-10 over 100k x 512 vectors, again and again (faiss is not installed for it: --no-install).
( while :; do node dist/bench/search.js --runs 1 --no-install >/dev/null 2>&1; done ) &
load=$!
trap 'kill $load 2>/dev/null; pkill -P $load 2>/dev/null' EXIT
# Every run tests the commit main is at now, even if main moves on meanwhile.
rev=$(git rev-parse main)
echo "testing main at $rev" | tee -a "$LOG_DIR/summary.txt"
failed=0
for i in $(seq 1 "$runs"); do
  clone="$parent/ci-load-$i"
  rm -rf "$clone"
  git clone -q --branch main "$repo" "$clone" && git -C "$clone" checkout -q --detach "$rev"
  start=$(date +%s)
  (cd "$clone" && CI=true bash .ci/run </dev/null >"$LOG_DIR/run-$i.log" 2>&1)
  rc=$?
  wall=$(( $(date +%s) - start ))
  summary=$(grep -E '^ℹ (tests|pass|fail) ' "$LOG_DIR/run-$i.log" | tr '\n' ' ')
  printf 'run %d: exit %d, %d min %02d s  %s\n' "$i" "$rc" $((wall / 60)) $((wall % 60)) "$summary" | tee -a "$LOG_DIR/summary.txt"
  [ "$rc" = 0 ] || failed=$((failed + 1))
  rm -rf "$clone"
done
echo "$((runs - failed)) of $runs runs green; logs in $LOG_DIR" | tee -a "$LOG_DIR/summary.txt"
[ "$failed" = 0 ]
