#!/usr/bin/env bash
# Encoding cost of a large profile: 50,000 samples with 128-frame stacks (a heap
# profile at Go's deepest default stack depth) built, gzipped and written
# atomically; then the same file read back and summarised by `oomprof top`.
# Prints wall time, peak RSS and output size. Override with PPROF_BENCH_N / _DEPTH.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
n=${PPROF_BENCH_N:-50000}
depth=${PPROF_BENCH_DEPTH:-128}
fixture=$BUILD/tests/pprof-fixture
[ -x "$fixture" ] || { echo "bench: $fixture missing (make tests)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# measure LABEL CMD...: runs CMD once, prints seconds and peak RSS.
measure() {
	local label=$1 t0 t1 rss
	shift
	t0=$(date +%s.%N)
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null || return 1
		rss=$(($(cat "$work/rss") / 1024))MiB
	else
		"$@" >/dev/null || return 1
		rss=n/a
	fi
	t1=$(date +%s.%N)
	printf '%-34s %7.2fs  peak RSS %s\n' "$label" "$(echo "$t1 - $t0" | bc)" "$rss"
}

measure "encode ${n}x${depth} (build+gzip+write)" "$fixture" big "$n" "$depth" "$work/big.pb.gz" ||
	exit 1
size=$(stat -c %s "$work/big.pb.gz")
printf '%-34s %s bytes (%s per sample)\n' "output size" "$size" "$((size / n))"
measure "read + top (oomprof top)" "$BUILD/oomprof" top -n 10 "$work/big.pb.gz" || exit 1
