#!/usr/bin/env bash
# The kernel-matrix tier: boots Debian's own kernels (5.10 from bullseye, 6.1 from
# bookworm, 6.12 from bookworm-backports) under qemu TCG, runs tests/kernel/guest.sh in
# each (the host's tree shared read-only, cgroup v2 with its memory controller) and
# checks what it produced here on the host, with the Go toolchain's pprof as oracle.
# One line per kernel × scenario: "PASS: kernel/6.1/memcg" ...
# Kernel packages and initramfs images are cached under $BUILD/kernels.
#   tests/kernel/run.sh [FILTER]     e.g. kernel/6.1/, or kernel/5.10/thrash
source "$(dirname "$0")/../lib.sh"
filter=${1:-}
source "$ROOT/tests/kernel/guest-lib.sh"
SCENARIOS="start memcg oomgroup manybuckets container nongo noprof global thrash clean-exit"

# wanted KERNEL [SCENARIO]: the filter selects it (a kernel: any of its scenarios).
wanted() {
	local s
	for s in ${2:-$SCENARIOS}; do
		[[ "kernel/$1/$s" == *"$filter"* ]] && return 0
	done
	return 1
}

res() { echo "$1: kernel/$2/$3${4:+: $4}"; }

skip_all() {
	local k s
	for k in "${KERNELS[@]}"; do
		for s in $SCENARIOS; do res SKIP "${k%% *}" "$s" "$1"; done
	done
}

why=$(blocker)
if [ -n "$why" ]; then
	skip_all "$why"
	exit 0
fi

why=$(blocker)
if [ -n "$why" ]; then
	skip_all "$why"
	exit 0
fi

# complete_profile PID: prints why the PID's profile is not a complete one.
complete_profile() {
	local f status
	f=$(profile_of "$1")
	[ -n "$f" ] || { echo "no profile for pid $1: $(glog "pid $1[ ,)]" | tail -n 2 | cut -c 25- | tr '\n' ' ')"; return; }
	status=$(comment "$f" "capture status")
	[[ "$status" == complete* ]] || echo "capture status: $status"
}

killed() { [ "$(val "$1" status)" = 137 ]; }

check_memcg() {
	local pid peak f g i d total why t0 t1
	killed memcg || { echo "not OOM-killed (status $(val memcg status), oom_kill $(val memcg oom_kill))"; return; }
	pid=$(val memcg pid)
	why=$(complete_profile "$pid")
	[ -z "$why" ] || { echo "$why"; return; }
	f=$(profile_of "$pid")
	t0=$(gms "OOM kill: pid $pid ")
	t1=$(gms "profile written: .*-$pid-")
	if [ -z "$t0" ] || [ -z "$t1" ] || [ $((t1 - t0)) -gt 2000 ]; then
		echo "profile not written within 2 s of the kill ($t0 → $t1)"
		return
	fi
	g=$(share "$f" $GO main.retainGeneric)
	i=$(share "$f" $GO main.retainInlined)
	d=$(share "$f" $GO main.retainDeep)
	within "$g" 50 5 && within "$i" 30 5 && within "$d" 20 5 ||
		{ echo "shares generic/inlined/deep = $g/$i/$d %, want 50/30/20 ±5"; return; }
	# memory.peak exists from 5.19; before, a cgroup killed at memory.max was at its limit.
	peak=$(val memcg peak)
	[[ "$peak" =~ ^[0-9]+$ ]] || peak=$(val memcg limit)
	total=$(pprof_samples $GO "$f" | awk '{ s += $4 } END { print s + 0 }')
	[ "$total" -ge $((peak / 2)) ] && [ "$total" -le $((peak * 11 / 10)) ] ||
		echo "inuse_space $total is not within 50-110 % of the cgroup usage $peak"
}

check_oomgroup() {
	local pid n=0 whys=""
	for pid in $(val oomgroup pid) $(sed -n 's/^pid=//p' "$OUTK/oomgroup.env" | tail -n +2); do
		why=$(complete_profile "$pid")
		if [ -z "$why" ]; then n=$((n + 1)); else whys+="pid $pid: $why; "; fi
	done
	[ "$n" -eq 3 ] || echo "$n of 3 complete profiles: $whys"
}

check_manybuckets() {
	local pid f status nb
	killed manybuckets || { echo "not OOM-killed (status $(val manybuckets status))"; return; }
	pid=$(val manybuckets pid)
	why=$(complete_profile "$pid")
	[ -z "$why" ] || { echo "$why"; return; }
	f=$(profile_of "$pid")
	status=$(comment "$f" "capture status")
	nb=$(echo "$status" | grep -o '[0-9]* buckets' | cut -d' ' -f1)
	[ "${nb:-0}" -ge 50000 ] || echo "capture status '$status': not every bucket"
}

check_container() {
	local cgroup cid f
	# unshare exits 1 when its child is killed: the cgroup's count says it was
	[ "$(val container oom_kill)" -ge 1 ] 2>/dev/null ||
		{ echo "not OOM-killed (status $(val container status), oom_kill $(val container oom_kill))"; return; }
	cgroup=$(val container cgroup)
	cid=$(val container container_id)
	for f in "$OUTK"/profiles/leaker-*.pb.gz; do
		"$GOBIN" tool pprof -comments "$f" 2>/dev/null | grep -qF "$cgroup" || continue
		"$GOBIN" tool pprof -comments "$f" 2>/dev/null | grep -qF "$cid" ||
			{ echo "profile $f names the cgroup but not the container id $cid"; return; }
		[[ "$(comment "$f" "capture status")" == complete* ]] ||
			echo "capture status: $(comment "$f" "capture status")"
		return
	done
	echo "no profile names the cgroup $cgroup: $(glog 'OOM kill' | tail -n 1 | cut -c 25-)"
}

check_nongo() {
	local pid=$(val nongo pid)
	killed nongo || { echo "not OOM-killed (status $(val nongo status))"; return; }
	glog "OOM kill: pid $pid .*not a Go program" >/dev/null || echo "no log line: $(glog "pid $pid" | tail -n 1)"
}

check_noprof() {
	local pid=$(val noprof pid)
	killed noprof || { echo "not OOM-killed (status $(val noprof status))"; return; }
	glog "pid $pid .*memory profiling is disabled.*runtime/pprof.*--enable-memprofile" >/dev/null ||
		echo "no log line: $(glog "pid $pid" | tail -n 1)"
}

check_global() {
	killed "$1" || { echo "not OOM-killed (status $(val "$1" status))"; return; }
	glog "OOM kill: pid $(val "$1" pid) " >/dev/null || { echo "the daemon saw no kill"; return; }
	complete_profile "$(val "$1" pid)"
}

check_kernel() {
	local k=$1 s why
	for s in $SCENARIOS; do
		wanted "$k" "$s" || continue
		case $s in
		start)
			if [ "$(val daemon daemon)" = started ]; then
				res PASS "$k" start "$(glog 'oomprof watch: ' | head -n 1 | cut -d' ' -f3-)"
			else
				res FAIL "$k" start "the daemon did not start: $(tail -n 3 "$OUTK/watch.log" 2>/dev/null | tr '\n' ' ')$(grep -m1 GUEST-ERROR "$OUTK/console.log")"
			fi
			continue
			;;
		clean-exit)
			[ "$(val daemon daemon_exit)" = 0 ] && res PASS "$k" "$s" ||
				res FAIL "$k" "$s" "daemon exit status '$(val daemon daemon_exit)'"
			continue
			;;
		esac
		if [ ! -e "$OUTK/$s.env" ]; then
			res FAIL "$k" "$s" "did not run in the guest ($(tail -n 1 "$OUTK/console.log"))"
			continue
		fi
		case $s in
		memcg) why=$(check_memcg) ;;
		oomgroup) why=$(check_oomgroup) ;;
		manybuckets) why=$(check_manybuckets) ;;
		container) why=$(check_container) ;;
		nongo) why=$(check_nongo) ;;
		noprof) why=$(check_noprof) ;;
		global) why=$(check_global global) ;;
		thrash)
			why=$(check_global thrash)
			[ -z "$why" ] && { res PASS "$k" "thrash ($(val thrash seconds) s, $(val thrash pgmajfault) major faults in the guest$([ "$(val thrash forced)" = 1 ] && echo ', OOM killer invoked by sysrq after 90 s'))"; continue; }
			;;
		esac
		if [ -z "$why" ]; then res PASS "$k" "$s"; else res FAIL "$k" "$s" "$why"; fi
	done
}

for entry in "${KERNELS[@]}"; do
	read -r k suite regex <<<"$entry"
	wanted "$k" || continue
	OUTK=$RUNDIR/$k
	if ! tree=$(fetch_kernel "$k" "$suite" "$regex" 2>"$E2E_TMP/fetch.err"); then
		for s in $SCENARIOS; do res SKIP "$k" "$s" "$(tail -n 1 "$E2E_TMP/fetch.err")"; done
		continue
	fi
	t0=$(date +%s)
	boot "$k" "$tree" "$OUTK"
	echo "guest $k: $(($(date +%s) - t0)) s, $(grep -m1 -o 'GUEST-UP: .*' "$OUTK/console.log")"
	check_kernel "$k"
done
