#!/usr/bin/env bash
# Keeps every CPU busy until stopped, to run the test command on a loaded machine the way a
# busy CI runner is:
#   scripts/cpu-hog.sh & hog=$!; CI=true scripts/test.sh; kill "$hog"
# HOG_PROCESSES (default: the number of CPUs) busy loops run at normal priority.
set -euo pipefail
n="${HOG_PROCESSES:-$(nproc)}"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; exit 0' INT TERM EXIT
for _ in $(seq "$n"); do
  ( while :; do :; done ) &
  pids+=("$!")
done
echo "cpu-hog: $n busy loops (pids ${pids[*]}); stop with kill $$" >&2
wait
