#!/usr/bin/env bash
# The cost of watching a cgroup: CPU time of `oomprof run --memory-limit 256M` over a
# 60 s command (a Go 1.23 program growing to 200 MiB, snapshotted at 50 %), beside the
# command's own CPU time in the same run; and the fixed start-up (BPF load) cost over
# a command that does nothing.
source "$(dirname "$0")/../lib.sh"

cimem=$(testdata_bin 1.23 default cimem)
[ -x "$cimem" ] || { echo "oomprof-run bench: $cimem not built"; exit 1; }
t=$E2E_TMP
# cpu FILE: user+sys seconds of a /usr/bin/time -f '%U %S' file
cpu() { awk '{ printf "%.2f", $1 + $2 }' "$1"; }

/usr/bin/time -f '%U %S %e' -o "$t/total" "$OOMPROF" run --memory-limit 256M --snapshot-at 50 \
	-d "$t/out" -- /usr/bin/time -f '%U %S' -o "$t/cmd" \
	"$cimem" -mode settle -mb 200 -step 300ms -for 0s >/dev/null 2>"$t/report" || {
	echo "oomprof-run bench: oomprof run failed: $(tail -n 3 "$t/report")"
	exit 1
}
/usr/bin/time -f '%U %S %e' -o "$t/idle" "$OOMPROF" run -d "$t/out2" -- true 2>/dev/null
awk -v total="$(cpu "$t/total")" -v cmd="$(cpu "$t/cmd")" -v wall="$(awk '{print $3}' "$t/total")" \
	-v idle="$(cpu "$t/idle")" -v n="$(ls "$t/out" | wc -l)" 'BEGIN {
	own = total - cmd
	printf "oomprof run over a %.0f s command (%d profiles written):\n", wall, n
	printf "  oomprof run CPU  %.2f s (%.2f s of it start-up: BPF load, /proc scan)\n", own, idle
	printf "  command CPU      %.2f s\n", cmd
	printf "  watching costs   %.2f s of CPU per minute after start-up\n", (own - idle) * 60 / wall
}'
