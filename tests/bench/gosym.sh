#!/usr/bin/env bash
# gosym benchmark: open and index the Go 1.23 compiler (~18 MB), symbolize 1,000,000
# random text PCs (full inline chains), and time `go tool addr2line` on the same PCs.
# Goals: open < 50 ms, >= 10x addr2line's PCs per second.
set -uo pipefail
BUILD=${BUILD:-build}
N=${GOSYM_BENCH_PCS:-1000000}
go=$(ls -d /usr/lib/go-1.23/bin/go 2>/dev/null || ls -d /usr/lib/go-1.*/bin/go | sort -V | tail -n1)
bin=$("$go" env GOTOOLDIR)/compile
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "binary: $bin ($(du -h "$bin" | cut -f1)), $("$go" version)"
"$BUILD/tests/gosym-bench" "$bin" "$N" 42 "$work/pcs" | tee "$work/ours" || exit 1
ours=$(sed -n 's/^pcs_per_sec //p' "$work/ours")
start=$(date +%s.%N)
"$go" tool addr2line "$bin" <"$work/pcs" >/dev/null || exit 1
end=$(date +%s.%N)
awk -v n="$N" -v s="$start" -v e="$end" -v ours="$ours" 'BEGIN {
	theirs = n / (e - s)
	printf "go tool addr2line: %d PCs in %.2f s = %.0f PCs/s\n", n, e - s, theirs
	printf "ratio: gosym is %.1fx addr2line\n", ours / theirs
}' 
