#!/usr/bin/env bash
# oomprof run: real memory cgroups, real OOM kills, with the cimem test program (Go 1.23).
#   two-programs  a script starts an idle Go program and a leaking one under 256M: the
#                 leaker's kill-time profile names its leaking function, the idle one
#                 holds too little to be snapshotted, the script's status is kept
#   settle        a program settling just under its limit: snapshots at 80 % and 95 %
#   fail-above    a peak above the mark fails the run and keeps the peak snapshot; a
#                 peak below it passes
#   sigint        SIGINT to oomprof run mid-way: the command is stopped
#   sigkill       oomprof run SIGKILLed mid-way leaves its cgroup; once it is empty, the
#                 next run removes it
#   progress      a progress line when stderr is a terminal, none otherwise
#   go-test       `go test` of a leaking test: the test binary's kill-time profile, none
#                 of the go command, compile or link
#   every case    the run's memory cgroup is gone afterwards
source "$(dirname "$0")/../lib.sh"

why=$(e2e_blocker)
if [ -n "$why" ]; then
	skip run "$why"
	exit 0
fi
V=1.23
CIMEM=$(testdata_bin $V default cimem)
if [ ! -x "$CIMEM" ]; then
	fail run "$CIMEM not built (make testdata)"
	exit 0
fi
GO=/usr/lib/go-$V/bin/go
tmp=$E2E_TMP

# run_oomprof NAME ARGS...: oomprof run in the background (its pid in RUN_PID), its
# report in $tmp/NAME.err, its status in RUN_RC once run_wait returns.
run_oomprof() {
	local name=$1
	shift
	"$OOMPROF" run "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	RUN_PID=$!
}
run_wait() {
	wait "$RUN_PID"
	RUN_RC=$?
}

# cgroup_removed NAME: no memory cgroup of that oomprof run is left, and its report says
# it removed the one it names.
cgroup_removed() {
	local left
	left=$(ls -d /sys/fs/cgroup/memory/oomprof-run-"$RUN_PID"-* /sys/fs/cgroup/oomprof-run-"$RUN_PID"-* \
		/sys/fs/cgroup/unified/oomprof-run-"$RUN_PID"-* 2>/dev/null)
	if [ -z "$left" ] && grep -q "memory cgroup /sys/fs/cgroup/.*/*oomprof-run-$RUN_PID-[0-9]* (removed)" \
		"$tmp/$1.err"; then
		pass "$1/cgroup-removed"
	else
		fail "$1/cgroup-removed" "left: ${left:-none}; report: $(grep 'memory cgroup' "$tmp/$1.err")"
	fi
}

# top_function FILE: the first function of go tool pprof -top (inuse_space).
top_function() {
	"$GO" tool pprof -top -nodefraction=0 "$1" 2>/dev/null | top_rows_first
}
top_rows_first() {
	sed -n '/ flat%  *sum%/,$p' | sed -n 2p | awk '{print $6}'
}

# comment FILE TEXT: the profile's comments hold TEXT.
has_comment() {
	"$GO" tool pprof -comments "$1" 2>/dev/null | grep -q -- "$2"
}

# ---- two Go programs under 256M, one leaking
cat >"$tmp/two.sh" <<EOF
#!/bin/sh
"$CIMEM" -mode idle -for 60s >"$tmp/idle.out" 2>&1 &
"$CIMEM" -mode leak -chunk 65536 >"$tmp/leak.out" 2>&1
st=\$?
kill \$! 2>/dev/null
wait
exit \$st
EOF
chmod +x "$tmp/two.sh"
out=$tmp/two
run_oomprof two-programs --memory-limit 256M -d "$out" -- "$tmp/two.sh"
run_wait
leak_pid=$(sed -n 's/^pid \([0-9]*\) mode leak/\1/p' "$tmp/leak.out")
idle_pid=$(sed -n 's/^pid \([0-9]*\) mode idle/\1/p' "$tmp/idle.out")
if [ "$RUN_RC" -eq 137 ] && grep -q 'COMMAND exited with status 137; 1 OOM kill' "$tmp/two-programs.err"; then
	pass two-programs/status-kept
else
	fail two-programs/status-kept "rc=$RUN_RC: $(head -n 3 "$tmp/two-programs.err" | tr '\n' ' ')"
fi
kill_file=$(ls "$out"/cimem-"$leak_pid"-*Z.pb.gz 2>/dev/null | head -n 1)
if [ -n "$leak_pid" ] && [ -n "$kill_file" ] && [ "$(top_function "$kill_file")" = main.leakForever ] &&
	has_comment "$kill_file" 'trigger: oom-kill'; then
	pass two-programs/kill-profile-names-leak
else
	fail two-programs/kill-profile-names-leak "pid ${leak_pid:-?}: file '${kill_file:-none}', top $(top_function "$kill_file")"
fi
if grep -q "oom-kill .*cimem-$leak_pid-" "$tmp/two-programs.err" && grep -q 'top inuse_space: main.leakForever' "$tmp/two-programs.err"; then
	pass two-programs/report
else
	fail two-programs/report "$(tr '\n' '|' <"$tmp/two-programs.err")"
fi
if [ -n "$idle_pid" ] && ! ls "$out"/cimem-"$idle_pid"-* >/dev/null 2>&1; then
	pass two-programs/idle-not-profiled
else
	fail two-programs/idle-not-profiled "pid ${idle_pid:-?}: $(ls "$out")"
fi
cgroup_removed two-programs

# ---- settles just under its limit: 80 % and 95 % snapshots, no kill
out=$tmp/settle
run_oomprof settle --memory-limit 256M -d "$out" -- "$CIMEM" -mode settle -mb 246 -for 3s
run_wait
for pct in 80 95; do
	f=$(ls "$out"/cimem-*.prekill-${pct}pct.pb.gz 2>/dev/null | head -n 1)
	if [ -n "$f" ] && [ "$(top_function "$f")" = main.settleAt ] && has_comment "$f" 'trigger: threshold' &&
		has_comment "$f" "crossed $pct% of its limit"; then
		pass settle/snapshot-at-$pct
	else
		fail settle/snapshot-at-$pct "file '${f:-none}' in: $(ls "$out" | tr '\n' ' '); $(tail -n 4 "$tmp/settle.err" | tr '\n' ' ')"
	fi
done
if [ "$RUN_RC" -eq 0 ] && grep -q 'exited with status 0; 0 OOM kills' "$tmp/settle.err" &&
	[ "$(ls "$out" | grep -vc prekill)" -eq 0 ]; then
	pass settle/no-kill
else
	fail settle/no-kill "rc=$RUN_RC $(head -n 2 "$tmp/settle.err" | tr '\n' ' ')"
fi
cgroup_removed settle

# ---- --fail-above: a peak above the mark fails the run and keeps the peak snapshot
out=$tmp/above
run_oomprof fail-above --fail-above 64M -d "$out" -- "$CIMEM" -mode settle -mb 100 -for 1s
run_wait
f=$(ls "$out"/cimem-*.peak.pb.gz 2>/dev/null)
if [ "$RUN_RC" -eq 122 ] && grep -q 'passed --fail-above 64.0 MiB: failing' "$tmp/fail-above.err"; then
	pass fail-above/passed-fails
else
	fail fail-above/passed-fails "rc=$RUN_RC $(tr '\n' ' ' <"$tmp/fail-above.err")"
fi
if [ "$(echo "$f" | grep -c .)" -eq 1 ] && [ "$(top_function "$f")" = main.settleAt ] &&
	has_comment "$f" 'trigger: peak'; then
	pass fail-above/one-peak-snapshot-kept
else
	fail fail-above/one-peak-snapshot-kept "peak files: '$f' in $(ls "$out" | tr '\n' ' ')"
fi
cgroup_removed fail-above
out=$tmp/below
run_oomprof fail-above-under --fail-above 64M -d "$out" -- "$CIMEM" -mode settle -mb 16 -for 1s
run_wait
if [ "$RUN_RC" -eq 0 ] && grep -q 'stayed under --fail-above 64.0 MiB' "$tmp/fail-above-under.err" &&
	! ls "$out"/*.peak.pb.gz >/dev/null 2>&1; then
	pass fail-above/under-passes
else
	fail fail-above/under-passes "rc=$RUN_RC $(tr '\n' ' ' <"$tmp/fail-above-under.err")"
fi
cgroup_removed fail-above-under

# ---- SIGINT mid-way: the command gets it, everything is cleaned up
out=$tmp/sigint
run_oomprof sigint --memory-limit 128M -d "$out" -- sh -c "exec '$CIMEM' -mode settle -mb 8 -for 120s >'$tmp/sigint.cmd' 2>&1"
wait_for "$tmp/sigint.cmd" '^settled' 60
kill -INT "$RUN_PID"
run_wait
if [ "$RUN_RC" -eq 130 ] && grep -q 'killed by signal 2' "$tmp/sigint.err"; then
	pass sigint/command-stopped
else
	fail sigint/command-stopped "rc=$RUN_RC $(tr '\n' ' ' <"$tmp/sigint.err")"
fi
cgroup_removed sigint

# ---- SIGKILL mid-way: nothing can clean up then; the next run removes the empty leftover
out=$tmp/sigkill
run_oomprof sigkill --memory-limit 128M -d "$out" -- sh -c "echo \$\$ >'$tmp/sigkill.pid'; exec sleep 300"
wait_for "$tmp/sigkill.pid" '^[0-9]+$' 30
killed_run=$RUN_PID
kill -KILL "$killed_run"
run_wait
left=$(ls -d /sys/fs/cgroup/memory/oomprof-run-"$killed_run"-* /sys/fs/cgroup/oomprof-run-"$killed_run"-* 2>/dev/null)
kill "$(cat "$tmp/sigkill.pid")" 2>/dev/null # the command we started, left running
for _ in $(seq 100); do [ -z "$(cat "$left/cgroup.procs" 2>/dev/null)" ] && break; sleep 0.1; done
run_oomprof sigkill-next -d "$out" -- true
run_wait
if [ -n "$left" ] && [ ! -e "$left" ] && [ "$RUN_RC" -eq 0 ]; then
	pass sigkill/leftover-removed-by-next-run
else
	fail sigkill/leftover-removed-by-next-run "leftover '${left:-none}' exists=$([ -e "$left" ] && echo yes || echo no) rc=$RUN_RC"
	[ -n "$left" ] && rmdir "$left" 2>/dev/null
fi

# ---- go test: the test binary's profile is wanted, the go command's are not
out=$tmp/go-test
run_oomprof go-test --memory-limit 384M -d "$out" -- env -C "$ROOT/testdata" GOTOOLCHAIN=local \
	GOPROXY=off GOFLAGS=-mod=mod GOCACHE="$TESTDATA/.gocache" CIMEM_LEAK=1 \
	"$GO" test -count=1 -run TestLeak ./cimem
run_wait
f=$(ls "$out"/cimem.test-*Z.pb.gz 2>/dev/null | head -n 1)
others=$(ls "$out" 2>/dev/null | grep -v '^cimem\.test-')
if [ "$RUN_RC" -eq 1 ] && grep -q 'exited with status 1; 1 OOM kill' "$tmp/go-test.err" &&
	[ -n "$f" ] && [ "$(top_function "$f")" = oomprof.test/testdata/cimem.leakForever ]; then
	pass go-test/test-binary-kill-profile
else
	fail go-test/test-binary-kill-profile "rc=$RUN_RC file '${f:-none}' top $(top_function "$f"); $(head -n 3 "$tmp/go-test.err" | tr '\n' ' ')"
fi
if [ -z "$others" ] && [ -n "$(ls "$out" 2>/dev/null)" ]; then
	pass go-test/no-go-command-profiles
else
	fail go-test/no-go-command-profiles "files: $(ls "$out" 2>/dev/null | tr '\n' ' ')"
fi
cgroup_removed go-test

# ---- a progress line on a terminal only
if command -v script >/dev/null; then
	script -qec "'$OOMPROF' run -d '$tmp/tty' -- sleep 1.5" "$tmp/tty.log" >/dev/null 2>&1
	if grep -q $'\roomprof run: usage .*, limit none, peak .*, 0 profiles' "$tmp/tty.log" &&
		! grep -q $'\r' "$tmp/two-programs.err" "$tmp/settle.err"; then
		pass progress-on-terminal-only
	else
		fail progress-on-terminal-only "$(cat -v "$tmp/tty.log" | head -n 4 | tr '\n' ' ')"
	fi
else
	skip progress-on-terminal-only "no script(1)"
fi

# ---- without root: a clear message and the documented status
if command -v setpriv >/dev/null; then
	msg=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$OOMPROF" run -- true 2>&1)
	rc=$?
	if [ $rc -eq 125 ] && grep -q 'needs root' <<<"$msg"; then
		pass not-root
	else
		fail not-root "rc=$rc: $msg"
	fi
else
	skip not-root "no setpriv"
fi
