#!/usr/bin/env bash
# Snapshots before a kill in the daemon, on real cgroups:
#   before-oom  oomprof watch --before-oom 50: a Go program whose memory cgroup's usage
#               passes 50 % of its limit is snapshotted, marked in name and comments
#   psi         oomprof watch --psi: a Go program thrashing the page cache in a tight v1
#               memory cgroup, and in a v2 cgroup of its own (on hybrid hosts the v2
#               hierarchy has memory.pressure without the memory controller), raises
#               that cgroup's memory.pressure; the daemon snapshots it
source "$(dirname "$0")/../lib.sh"

why=$(e2e_blocker)
if [ -n "$why" ]; then
	skip prekill "$why"
	exit 0
fi
V=1.23
CIMEM=$(testdata_bin $V default cimem)
GO=/usr/lib/go-$V/bin/go
if [ ! -x "$CIMEM" ]; then
	fail prekill "$CIMEM not built (make testdata)"
	exit 0
fi
tmp=$E2E_TMP
V2CG=
cleanup_v2() {
	[ -n "$V2CG" ] && rmdir "$V2CG" 2>/dev/null
	V2CG=
}
trap 'watch_stop; cleanup_v2; prog_stop_all; rm -rf "$E2E_TMP"' EXIT

has_comment() {
	"$GO" tool pprof -comments "$1" 2>/dev/null | grep -q -- "$2"
}
top_function() {
	"$GO" tool pprof -top -nodefraction=0 "$1" 2>/dev/null | sed -n '/ flat%  *sum%/,$p' |
		sed -n 2p | awk '{print $6}'
}

# ---- --before-oom: usage crosses 50 % of a 128M limit
watch_start --before-oom 50 --cooldown 60
"$MEMCG_RUN" --limit 128M --timeout 60 -- "$CIMEM" -mode settle -mb 80 -for 4s \
	>"$tmp/settle.out" 2>&1
pid=$(sed -n 's/^pid \([0-9]*\) mode settle/\1/p' "$tmp/settle.out")
sleep 1
watch_stop
f=$(ls "$OUT"/cimem-"$pid"-*.prekill-50pct.pb.gz 2>/dev/null)
if [ -n "$pid" ] && [ "$(echo "$f" | grep -c .)" -eq 1 ] && has_comment "$f" 'trigger: before-oom' &&
	has_comment "$f" 'crossed 50% of its limit' && has_comment "$f" 'of limit 134217728' &&
	[ "$(top_function "$f")" = main.settleAt ]; then
	pass before-oom/snapshot
else
	fail before-oom/snapshot "pid ${pid:-?}: files '$f' in $(ls "$OUT" | tr '\n' ' '); log: $(grep -i "pre-kill\|$pid" "$LOG" | tail -n 3 | tr '\n' ' ')"
fi

# ---- --psi: page-cache thrash in a tight limit raises the v2 cgroup's memory pressure
root2=$(for r in /sys/fs/cgroup /sys/fs/cgroup/unified; do
	[ -e "$r/cgroup.controllers" ] && echo "$r" && break
done)
if [ -z "$root2" ] || [ ! -e "$root2/memory.pressure" ]; then
	skip psi "no cgroup v2 hierarchy with memory.pressure"
	exit 0
fi
V2CG=$root2/oomprof-e2e-psi-$$
mkdir "$V2CG"
big=$tmp/big
head -c $((256 << 20)) /dev/urandom >"$big"
# The file's pages must be charged to the thrasher's cgroup, not to ours: drop them.
python3 -c "import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)" "$big"
before=$(sed -n 's/^full avg10=\([0-9.]*\).*/\1/p' "$V2CG/memory.pressure")
watch_start --psi 1 --psi-duration 2 --cooldown 60
sh -c "echo \$\$ >'$V2CG/cgroup.procs' && exec '$MEMCG_RUN' --limit 40M --timeout 60 -- '$CIMEM' -mode thrash -mb 24 -file '$big' -for 20s" \
	>"$tmp/thrash.out" 2>&1 &
thrash=$!
pid=
for ((i = 0; i < 400; i++)); do
	pid=$(sed -n 's/^pid \([0-9]*\) mode thrash/\1/p' "$tmp/thrash.out")
	[ -n "$pid" ] && ls "$OUT"/cimem-"$pid"-*.prekill-psi.pb.gz >/dev/null 2>&1 && break
	sleep 0.05
done
peak=$(sed -n 's/^full avg10=\([0-9.]*\).*/\1/p' "$V2CG/memory.pressure")
kill "$thrash" 2>/dev/null
wait "$thrash" 2>/dev/null
watch_stop
f=$(ls "$OUT"/cimem-"$pid"-*.prekill-psi.pb.gz 2>/dev/null | head -n 1)
if [ -n "$pid" ] && [ -n "$f" ] && has_comment "$f" 'trigger: psi' &&
	has_comment "$f" 'memory pressure: full avg10=' && [ "$(top_function "$f")" = main.settleAt ]; then
	pass "psi/snapshot (full avg10 $before before, $peak during)"
else
	fail psi/snapshot "pid ${pid:-?}, full avg10 $before before, $peak during: files in $(ls "$OUT" | tr '\n' ' '); $(tail -n 3 "$LOG" | tr '\n' ' ')"
fi
cleanup_v2
