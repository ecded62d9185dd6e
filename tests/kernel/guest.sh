#!/usr/bin/env bash
# The guest half of the kernel-matrix tier: runs inside a qemu guest (tests/kernel/init
# chroots into the host's tree, shared read-only), as root, with cgroup v2 and its
# memory controller. It only produces artefacts; tests/kernel/run.sh checks them on the
# host. $1: the results folder (shared writable); its env file names the binaries.
#
# Per scenario NAME: $1/NAME.env (key=value: pid, status, limit, peak, oom_kill, ...);
# the daemon's log is $1/watch.log, its profiles $1/profiles/.
set -u
out=$1
exec 2>>"$out/guest.trace" # the commands, as they run: what a timed-out guest was doing
set -x
# shellcheck source=/dev/null
source "$out/env" # OOMPROF MEMCG_RUN TESTDATA_GO (the go1.23 default builds) GUEST_ONLY
W=/tmp/w
mkdir -p "$W/profiles" /tmp/bin
CG=/sys/fs/cgroup
echo -1000 >/proc/self/oom_score_adj # the harness must outlive every OOM kill
echo +memory >"$CG/cgroup.subtree_control"
uname -r >"$out/kernel"

save() { cp -r "$W/." "$out/" 2>/dev/null; sync; }

# Victims run from tmpfs, except in the thrash scenario: their text must not be
# evictable, or a global OOM livelocks for minutes.
for p in leaker leaker-noprof manybuckets; do cp "$TESTDATA_GO/$p" /tmp/bin/; done

# run_in CGROUP-DIR ENVFILE CMD...: CMD in the cgroup with an ordinary oom_score_adj;
# waits for it and writes pid and exit status to ENVFILE.
run_in() {
	local cg=$1 env=$2 pid rc
	shift 2
	# (an asynchronous command's stdin is /dev/null unless redirected: RUN_STDIN)
	bash -c 'echo $$ >"$1/cgroup.procs" && echo 0 >/proc/self/oom_score_adj && shift && exec "$@"' \
		run_in "$cg" "$@" <"${RUN_STDIN:-/dev/null}" >/dev/null 2>&1 &
	pid=$!
	wait "$pid"
	rc=$?
	{ echo "pid=$pid"; echo "status=$rc"; } >>"$env"
}

# cg_facts CGROUP-DIR ENVFILE: limit, peak usage and OOM kills of a cgroup.
cg_facts() {
	{
		echo "limit=$(cat "$1/memory.max")"
		echo "peak=$(cat "$1/memory.peak" 2>/dev/null || echo none)"
		echo "oom_kill=$(sed -n 's/^oom_kill //p' "$1/memory.events")"
	} >>"$2"
}

# new_cg PATH LIMIT: a cgroup (parents get the memory controller), memory.max LIMIT.
new_cg() {
	local path=$CG part dir
	for part in $(echo "$1" | tr / ' '); do
		echo +memory >"$path/cgroup.subtree_control" 2>/dev/null
		path=$path/$part
		mkdir -p "$path"
	done
	echo "$2" >"$path/memory.max"
	echo 0 >"$path/memory.swap.max" 2>/dev/null
	echo "$path"
}

# wait_log REGEX SECONDS
wait_log() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		grep -qE "$1" "$W/watch.log" && return 0
		sleep 0.1
	done
	return 1
}

scenario() {
	echo "GUEST-SCENARIO: $1 $(date +%s)"
	: >"$W/$1.env"
}

echo "GUEST-DAEMON: $(date +%s.%N)"
# TCG runs the daemon's reader ~8x slower than a real CPU while the victim's threads
# write as fast as the emulated kernel lets them: the 50,000-bucket capture must fit in
# the ring (the default 8 MiB holds it on real hardware, where the reader keeps up).
"$OOMPROF" watch -d "$W/profiles" -v --ring-buffer-size 33554432 >"$W/watch.log" 2>&1 &
watch_pid=$!
if ! wait_log 'watching [0-9]+ Go processes' 120; then
	echo "daemon=not-started" >"$W/daemon.env"
	save
	exit 1
fi
echo "daemon=started" >"$W/daemon.env"
echo "GUEST-DAEMON-UP: $(date +%s.%N)"

# ---- the known-shares leaker killed by memory.max ----
run_memcg() {
	scenario memcg
	cg=$(new_cg oomprof-memcg 128M)
	run_in "$cg" "$W/memcg.env" /tmp/bin/leaker -mode oom -rate 1
	cg_facts "$cg" "$W/memcg.env"
	rmdir "$cg"
	save
}

# ---- memory.oom.group=1: three Go processes, one OOM ----
run_oomgroup() {
	scenario oomgroup
	cg=$(new_cg oomprof-group 96M)
	echo 1 >"$cg/memory.oom.group"
	mkfifo "$W/hold.in"
	exec 7<>"$W/hold.in" # the holders read commands from it; never EOF while it is open
	holders=()
	for k in 1 2; do
		RUN_STDIN=$W/hold.in run_in "$cg" "$W/oomgroup-hold$k.env" /tmp/bin/leaker -mode hold -mb 8 -rate 1 &
		holders+=($!)
	done
	for ((i = 0; i < 300; i++)); do
		[ "$(wc -l <"$cg/cgroup.procs")" -ge 2 ] && break
		sleep 0.1
	done
	for p in $(cat "$cg/cgroup.procs"); do wait_log "watching pid $p " 30; done
	run_in "$cg" "$W/oomgroup.env" /tmp/bin/leaker -mode oom -rate 1
	wait "${holders[@]}"
	exec 7>&-
	cat "$W"/oomgroup-hold*.env >>"$W/oomgroup.env"
	cg_facts "$cg" "$W/oomgroup.env"
	rmdir "$cg"
	save
}

# ---- 50,000 buckets ----
run_manybuckets() {
	scenario manybuckets
	cg=$(new_cg oomprof-many 160M)
	run_in "$cg" "$W/manybuckets.env" /tmp/bin/manybuckets -mode oom -buckets 50000
	cg_facts "$cg" "$W/manybuckets.env"
	rmdir "$cg"
	save
}

# ---- a container: own PID and mount namespace, a kubepods systemd-driver cgroup ----
run_container() {
	scenario container
	uid=0f0e0d0c-1111-2222-3333-444455556666
	cid=$(printf 'c0ffee%.0s' {1..11} | cut -c1-64)
	cpath=kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid//-/_}.slice/cri-containerd-$cid.scope
	cg=$(new_cg "$cpath" 64M)
	echo "cgroup=/$cpath" >>"$W/container.env"
	echo "container_id=$cid" >>"$W/container.env"
	run_in "$cg" "$W/container.env" unshare --pid --mount --fork --mount-proc /tmp/bin/leaker -mode oom -rate 1
	cg_facts "$cg" "$W/container.env"
	rmdir "$cg" "$CG/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid//-/_}.slice" \
		"$CG/kubepods.slice/kubepods-burstable.slice" "$CG/kubepods.slice"
	save
}

# ---- a non-Go victim ----
run_nongo() {
	scenario nongo
	cg=$(new_cg oomprof-nongo 32M)
	big=$(printf 'x%.0s' {1..100})
	run_in "$cg" "$W/nongo.env" bash -c "s=$big; while :; do s=\$s\$s; done"
	cg_facts "$cg" "$W/nongo.env"
	rmdir "$cg"
	save
}

# ---- a profiling-disabled victim ----
run_noprof() {
	scenario noprof
	cg=$(new_cg oomprof-noprof 48M)
	run_in "$cg" "$W/noprof.env" /tmp/bin/leaker-noprof -mode oom
	cg_facts "$cg" "$W/noprof.env"
	rmdir "$cg"
	save
}

# ---- a global OOM, the victim on tmpfs: no cgroup limit ----
run_global() {
	scenario global
	cg=$(new_cg oomprof-global max)
	run_in "$cg" "$W/global.env" /tmp/bin/leaker -mode oom -rate 1
	cg_facts "$cg" "$W/global.env"
	rmdir "$cg"
	save
}

# ---- a global OOM after thrashing: victim and input on the (evictable) 9p tree ----
run_thrash() {
	scenario thrash
	# The victim grows slowly while a reader streams the Go toolchain through the page
	# cache; when anonymous memory has taken nearly everything, file pages (the victim's
	# text, the daemon's, the input) are evicted and re-read until the OOM killer acts.
	cg=$(new_cg oomprof-thrash max)
	(while :; do cat /usr/lib/go-1.23/pkg/tool/linux_amd64/* >/dev/null 2>&1; done) &
	reader=$!
	t0=$(date +%s)
	# Bounded: when the kernel has not chosen a victim after 90 s of thrashing, the OOM
	# killer is invoked by hand (sysrq f: the same out_of_memory(), global), and the
	# PASS line says so.
	(sleep 90 && echo "forced=1" >>"$W/thrash.env" && echo f >/proc/sysrq-trigger) &
	watchdog=$!
	run_in "$cg" "$W/thrash.env" "$TESTDATA_GO/leaker" -mode oom -rate 1 -pause 2ms
	kill "$watchdog" 2>/dev/null
	kill "$reader"
	wait "$reader" 2>/dev/null
	echo "seconds=$(($(date +%s) - t0))" >>"$W/thrash.env"
	sed -n -E 's/^(pgmajfault|workingset_refault_file|workingset_refault) /\1=/p' /proc/vmstat >>"$W/thrash.env"
	cg_facts "$cg" "$W/thrash.env"
	rmdir "$cg"
	save
}

# ---- the benchmark (tests/bench/kernels.sh, GUEST_ONLY=bench): 10,000 buckets ----
run_bench() {
	scenario bench
	cg=$(new_cg oomprof-bench 128M)
	run_in "$cg" "$W/bench.env" /tmp/bin/manybuckets -mode oom -buckets 10000
	cg_facts "$cg" "$W/bench.env"
	rmdir "$cg"
}

for s in ${GUEST_ONLY:-memcg oomgroup manybuckets container nongo noprof global thrash}; do
	"run_$s"
	save
done

sleep 2
kill -TERM "$watch_pid"
wait "$watch_pid"
echo "daemon_exit=$?" >>"$W/daemon.env"
save
