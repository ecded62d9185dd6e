#!/usr/bin/env bash
# make bench: runs every tests/bench/*.sh (other than this one). Each prints its
# figures — as ratios against a peer measured in the same run wherever there is one.
# Benchmarks never fail a build on a figure; they fail only when they cannot run.
set -uo pipefail
cd "$(dirname "$0")/../.."
export BUILD=${BUILD:-build} TESTDATA=${TESTDATA:-build/testdata}
status=0
for script in tests/bench/*.sh; do
	[ "$(basename "$script")" = run.sh ] && continue
	[ -n "${1:-}" ] && [[ "$script" != *"$1"* ]] && continue
	echo "== $(basename "$script" .sh)"
	bash "$script" || { echo "bench: $script failed"; status=1; }
done
exit $status
