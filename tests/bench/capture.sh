#!/usr/bin/env bash
# Kill-time capture figures (printed, never asserted):
#   - ns per bucket walked in the victim's context (bpf_ktime_get_ns around the walk,
#     summed over invocations, from the END record; waits for ring space excluded)
#   - kill-to-profile-delivered latency (victim mark → profile handed to the callback)
#     for manybuckets at 10,000 and 50,000 buckets (128-frame stacks on go1.23+)
#   - kernel memory of the maps at default settings (fdinfo memlock)
# The consumer runs SCHED_FIFO (capture-probe --rt), as a daemon should.
# Usage: tests/bench/capture.sh [RUNS]   (root; BUILD, TESTDATA as for the tests)
set -uo pipefail
T=bench/capture
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../e2e/capture.lib"

runs=${1:-3}
PROBE=$BUILD/tests/capture-probe
if reason=$(e2e_blocker) && [ -n "$reason" ]; then
	echo "capture bench: skipped: $reason"
	exit 0
fi
for t in "$PROBE" "$MEMCG_RUN"; do
	[ -x "$t" ] || { echo "capture bench: $t not built (make tests)"; exit 1; }
done
v=$(go_versions | tail -n1)
bin=$(testdata_bin "$v" default manybuckets)
[ -x "$bin" ] || { echo "capture bench: $bin missing"; exit 1; }
read -r mb rate cycle < <(go_addrs "$v" default manybuckets)
tmp=$(mktemp -d /tmp/capture-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }

echo "go$v manybuckets -mode oom, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %-4s %-9s %-9s %-11s %-10s %-12s %-9s %s\n' buckets run status received \
	ns/bucket walk_ms wait_ms kill→prof_ms invocations
for n in 10000 50000; do
	for r in $(seq "$runs"); do
		d=$tmp/$n-$r
		mkdir -p "$d"
		"$PROBE" --exec /manybuckets --mbuckets "$mb" --rate "$rate" --cycle "$cycle" \
			--ready "$d/ready" --timeout 150 --rt >"$d/out" 2>&1 &
		p=$!
		while [ ! -e "$d/ready" ] && kill -0 $p 2>/dev/null; do sleep 0.1; done
		"$MEMCG_RUN" --limit 512M --timeout 140 -- "$bin" -mode oom -buckets "$n" >"$d/run" 2>&1
		wait $p
		prof=$(grep '^profile ' "$d/out" | head -n1)
		if [ -z "$prof" ]; then
			echo "$n $r: no profile: $(tail -n2 "$d/out" | tr '\n' ' ')"
			continue
		fi
		printf '%-9s %-4s %-9s %-9s %-11s %-10s %-12s %-9s %s\n' "$n" "$r" \
			"$(field "$prof" status)" "$(field "$prof" buckets)" \
			"$(field "$prof" ns_per_bucket)" \
			"$(($(field "$prof" walk_ns) / 1000000))" \
			"$(($(field "$prof" wait_ns) / 1000000))" \
			"$(($(field "$prof" latency_us) / 1000))" "$(field "$prof" invocations)"
		mem=$(field "$(grep '^attached ' "$d/out")" maps_kernel_bytes)
	done
done
echo "maps kernel memory at default settings: ${mem:-?} bytes ($(( ${mem:-0} / 1024 )) KiB)"
