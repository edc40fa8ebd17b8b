#!/usr/bin/env bash
# Runs `CI=true bash .ci/run` on fresh clones of this repository's HEAD, two at a time, so each run
# has the other core busy (issue 19: the suite must pass every time on a loaded 2-core machine).
# Prints one line per run (exit code, wall time) and, after each pair, how many processes of the
# runs are still alive (must be 0). Needs ../shared beside the clones, as CI has it.
#   usage: scripts/soak.sh [pairs=5] [work dir=/tmp/mailwarden-soak]
set -u
PAIRS=${1:-5}
WORK=${2:-/tmp/mailwarden-soak}
REPO=$(cd "$(dirname "$0")/.." && pwd)
COMMIT=$(git -C "$REPO" rev-parse --short HEAD)
mkdir -p "$WORK"
# Each clone finds ../shared (the corpus) as CI does: $WORK/shared points at the one beside the repo.
if [ ! -e "$WORK/shared" ] && [ -d "$REPO/../shared" ]; then ln -s "$(cd "$REPO/../shared" && pwd)" "$WORK/shared"; fi
echo "commit $COMMIT, $PAIRS pairs, logs in $WORK"
failed=0
for pair in $(seq 1 "$PAIRS"); do
  pids=()
  for side in a b; do
    dir="$WORK/run-$pair$side"
    rm -rf "$dir"
    git clone -q "$REPO" "$dir" && git -C "$dir" checkout -q "$COMMIT"
    (
      start=$(date +%s)
      (cd "$dir" && CI=true bash .ci/run >"$dir.log" 2>&1 </dev/null)
      rc=$?
      echo "run $pair$side: exit $rc, $(($(date +%s) - start)) s"
      exit $rc
    ) &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
  left=$(ps -eo args | grep -F "$WORK/run-$pair" | grep -vc grep)
  echo "pair $pair: processes left behind: $left"
done
echo "$((PAIRS * 2)) runs, $failed failed"
[ "$failed" -eq 0 ]
