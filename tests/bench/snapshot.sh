#!/usr/bin/env bash
# oomprof snapshot of a process with 60,000 buckets and 128-frame stacks (Go 1.23):
# wall time, peak RSS and profile size, beside the program writing its own
# runtime/pprof heap profile (the peer) in the same run. Goal: < 1 s, < 64 MiB.
source "$(dirname "$0")/../lib.sh"

v=$(go_versions | tail -n 1)
prog_start many "$(testdata_bin "$v" pie-stripped manybuckets)" -buckets 60000 || {
	echo "snapshot bench: manybuckets did not start"
	exit 1
}
pid=${PROG_PID[many]}
best_wall=999 best_rss=0
for run in 1 2 3; do
	/usr/bin/time -f '%e %M' -o "$E2E_TMP/time" "$OOMPROF" snapshot -q "$pid" \
		-o "$E2E_TMP/ours.pb.gz" --cycles latest || exit 1
	read -r wall rss <"$E2E_TMP/time"
	if awk -v a="$wall" -v b="$best_wall" 'BEGIN { exit !(a < b) }'; then
		best_wall=$wall best_rss=$rss
	fi
done
prog_send many "profile $E2E_TMP/theirs.pb.gz"
peer_ns=$(grep -o 'elapsed_ns=[0-9]*' "$E2E_TMP/many.out" | tail -n 1 | cut -d= -f2)
prog_stop many
ours_size=$(stat -c %s "$E2E_TMP/ours.pb.gz")
theirs_size=$(stat -c %s "$E2E_TMP/theirs.pb.gz")
samples=$(/usr/lib/go-$v/bin/go tool pprof -raw "$E2E_TMP/ours.pb.gz" 2>/dev/null | grep -c 'bytes:\[')
awk -v w="$best_wall" -v r="$best_rss" -v p="$peer_ns" -v os="$ours_size" -v ts="$theirs_size" -v n="$samples" 'BEGIN {
	printf "snapshot: %d samples (go1.23, 128-frame stacks)\n", n
	printf "  wall time        %.2f s   (best of 3; goal < 1 s)\n", w
	printf "  peak RSS         %.1f MiB (goal < 64 MiB)\n", r / 1024
	printf "  profile size     %.1f MiB\n", os / 1048576
	printf "  peer: the program writing its own runtime/pprof profile: %.2f s, %.1f MiB\n", p / 1e9, ts / 1048576
	printf "  ratio oomprof/runtime-pprof wall time: %.2f\n", w * 1e9 / p
}'
