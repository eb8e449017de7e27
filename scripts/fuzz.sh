#!/usr/bin/env bash
# Runs every fuzz target for FUZZTIME (default 20s) on top of its committed
# corpus.
#
#   FUZZTIME=10m             time per target
#   FUZZPARALLEL=1           fuzzing workers per target (default GOMAXPROCS)
#   FUZZLANE=1/2             run only every 2nd target, starting with the 1st,
#                            so that long runs can be split over processes
#   FUZZPKGS="./record ..."  packages to fuzz (default ./...)
#   FUZZFROM=10              skip the targets before the 10th (resume a run)
#
# Each finished target prints a "fuzz-result:" line with its execution count.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-20s}
lane=${FUZZLANE:-1/1}
lane_i=${lane%/*}
lane_n=${lane#*/}
par=()
if [[ -n "${FUZZPARALLEL:-}" ]]; then par=(-parallel="$FUZZPARALLEL"); fi
n=0
# shellcheck disable=SC2086
for pkg in $(go list ${FUZZPKGS:-./...}); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    n=$((n + 1))
    if (( (n - 1) % lane_n != lane_i - 1 || n < ${FUZZFROM:-1} )); then continue; fi
    echo "fuzz: $pkg $target ($FUZZTIME)"
    start=$(date +%s)
    out=$(go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "${par[@]}" "$pkg" 2>&1) || {
      echo "$out"
      if ! grep -q 'Failing input written' <<<"$out" && grep -q 'context deadline exceeded' <<<"$out"; then
        # The fuzzing engine's own shutdown timed out (a starved machine),
        # with no failing input: the run found nothing, but say so.
        echo "fuzz-result: $pkg $target ran ${FUZZTIME} without a failing input; the engine's shutdown timed out"
        continue
      fi
      echo "fuzz-result: $pkg $target FAILED"
      exit 1
    }
    # No "execs:" line when the time went to replaying the corpus (the
    # baseline coverage), as on a loaded machine with a large cached corpus.
    execs=$( { grep -o 'execs: [0-9]*' <<<"$out" || true; } | tail -1 | cut -d' ' -f2)
    echo "fuzz-result: $pkg $target ok in $(( $(date +%s) - start ))s, ${execs:-0 new} execs"
  done
done
