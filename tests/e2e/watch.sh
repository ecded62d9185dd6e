#!/usr/bin/env bash
# oomprof watch end to end: real OOM kills in memory cgroups while the daemon runs.
source "$(dirname "$0")/../lib.sh"

why=$(e2e_blocker)
if [ -n "$why" ]; then
	skip all "$why"
	exit 0
fi

trap 'watch_stop; prog_stop_all; rm -rf "$E2E_TMP"' EXIT

# oom PROGRAM-PATH LIMIT ARGS...: runs it in a fresh memory cgroup until the OOM kill.
oom() {
	local bin=$1 limit=$2
	shift 2
	"$MEMCG_RUN" --limit "$limit" --timeout 120 --report "$E2E_TMP/report" -- "$bin" "$@" \
		>/dev/null 2>&1
	grep -qx outcome=oom-killed "$E2E_TMP/report"
}

# profile_of PID: the profile file written for PID, waiting up to 5 s for it.
profile_of() {
	local i f
	for ((i = 0; i < 100; i++)); do
		f=$(ls "$OUT"/*-"$1"-*.pb.gz 2>/dev/null | head -n 1)
		[ -n "$f" ] && { echo "$f"; return 0; }
		sleep 0.05
	done
	return 1
}

comment() { /usr/lib/go-$2/bin/go tool pprof -comments "$1" 2>/dev/null | sed -n "s/^$3: //p" | head -n 1; }

inuse_total() { pprof_samples "$2" "$1" | awk '{ s += $4 } END { print s + 0 }'; }

if ! watch_start; then
	fail start "the daemon did not start: $(tail -n 5 "$LOG" | tr '\n' ' ')"
	exit 0
fi
pass start

# ---- the known-shares leaker, every toolchain and build mode ----
# kill_and_check V MODE: one kill; prints why it fails, nothing when it passes.
kill_and_check() {
	local v=$1 mode=$2 pid peak f status killed written g i d total
	oom "$(testdata_bin "$v" "$mode" leaker)" 256M -mode oom -rate 1 ||
		{ echo "not OOM-killed: $(tr '\n' ' ' <"$E2E_TMP/report")"; return; }
	pid=$(sed -n 's/^pid=//p' "$E2E_TMP/report")
	peak=$(sed -n 's/^peak=//p' "$E2E_TMP/report")
	f=$(profile_of "$pid") ||
		{ echo "no profile for pid $pid: $(grep -- "$pid" "$LOG" | tail -n 2 | tr '\n' ' ')"; return; }
	status=$(comment "$f" "$v" "capture status")
	killed=$(log_ms "OOM kill: pid $pid ")
	written=$(log_ms "profile written: .*-$pid-")
	g=$(share "$f" "$v" main.retainGeneric)
	i=$(share "$f" "$v" main.retainInlined)
	d=$(share "$f" "$v" main.retainDeep)
	total=$(inuse_total "$f" "$v")
	if [[ "$status" != complete* ]]; then
		echo "capture status: $status"
	elif [ -z "$killed" ] || [ -z "$written" ] || [ $((written - killed)) -gt 2000 ]; then
		echo "profile not written within 2 s of the kill ($killed → $written)"
	elif ! within "$g" 50 5 || ! within "$i" 30 5 || ! within "$d" 20 5; then
		echo "shares generic/inlined/deep = $g/$i/$d %, want 50/30/20 ±5"
	elif [ "$total" -lt $((peak / 2)) ] || [ "$total" -gt $((peak * 11 / 10)) ]; then
		echo "inuse_space $total is not within 50-110 % of the cgroup usage $peak"
	fi
}

for v in $(go_versions); do
	for mode in $(kill_modes "$v"); do
		why=$(kill_and_check "$v" "$mode")
		if [ -z "$why" ]; then
			pass "leaker-go$v-$mode"
		else
			fail "leaker-go$v-$mode" "$why"
		fi
	done
done

# ---- four Go processes in four memory cgroups, killed within the same second ----
v=$(go_versions | tail -n 1)
runners=()
for k in 1 2 3 4; do
	"$MEMCG_RUN" --limit 128M --timeout 60 --report "$E2E_TMP/report$k" -- \
		"$(testdata_bin "$v" default leaker)" -mode oom -rate 1 >/dev/null 2>&1 &
	runners+=($!)
done
wait "${runners[@]}"
complete=0
for k in 1 2 3 4; do
	pid=$(sed -n 's/^pid=//p' "$E2E_TMP/report$k")
	f=$(profile_of "$pid") && [[ "$(comment "$f" "$v" "capture status")" == complete* ]] &&
		complete=$((complete + 1))
done
if [ "$complete" -eq 4 ]; then
	pass four-at-once
else
	fail four-at-once "$complete of 4 complete profiles"
fi

# ---- 60,000 buckets with 128-frame stacks ----
if oom "$(testdata_bin "$v" pie-stripped manybuckets)" 256M -mode oom -buckets 60000; then
	pid=$(sed -n 's/^pid=//p' "$E2E_TMP/report")
	f=$(profile_of "$pid")
	status=$(comment "$f" "$v" "capture status")
	deepest=$(/usr/lib/go-$v/bin/go tool pprof -raw "$f" 2>/dev/null |
		awk '/^Samples:/ {s = 1; next} /^Locations/ {s = 0}
			s && /: / { split($0, h, ": "); n = split(h[2], ids, " "); if (n > max) max = n }
			END { print max + 0 }')
	nb=$(echo "$status" | grep -o '[0-9]* buckets' | cut -d' ' -f1)
	if [[ "$status" == complete* ]] && [ "${nb:-0}" -ge 60000 ] && [ "$deepest" -ge 120 ]; then
		pass manybuckets-complete
	else
		fail manybuckets-complete "status '$status', deepest stack $deepest locations"
	fi
else
	fail manybuckets-complete "not OOM-killed"
fi

# ---- a non-Go victim: a clear log line, no file, the daemon goes on ----
big=$(printf 'x%.0s' {1..100})
if oom bash 64M -c "s=$big; while :; do s=\$s\$s; done"; then
	pid=$(sed -n 's/^pid=//p' "$E2E_TMP/report")
	if wait_for "$LOG" "OOM kill: pid $pid .*not a Go program" 5 && ! ls "$OUT" | grep -q -- "-$pid-" &&
		kill -0 "$WATCH_PID"; then
		pass non-go-victim
	else
		fail non-go-victim "$(grep -- "$pid" "$LOG" | tail -n 2 | tr '\n' ' ')"
	fi
else
	fail non-go-victim "bash was not OOM-killed"
fi

# ---- a profiling-disabled victim: logged as such, with the fix ----
if oom "$(testdata_bin "$v" stripped leaker-noprof)" 128M -mode oom; then
	pid=$(sed -n 's/^pid=//p' "$E2E_TMP/report")
	if wait_for "$LOG" "pid $pid .*memory profiling is disabled.*runtime/pprof.*--enable-memprofile" 5; then
		pass profiling-disabled-logged
	else
		fail profiling-disabled-logged "$(grep -- "$pid" "$LOG" | tail -n 2 | tr '\n' ' ')"
	fi
else
	fail profiling-disabled-logged "not OOM-killed"
fi
watch_stop || fail clean-exit "the daemon exited with an error"

# ---- with --enable-memprofile the same victim yields a profile naming its leak ----
watch_start --enable-memprofile
if oom "$(testdata_bin "$v" pie-stripped leaker-noprof)" 128M -mode oom -pause 20ms; then
	pid=$(sed -n 's/^pid=//p' "$E2E_TMP/report")
	f=$(profile_of "$pid")
	if [ -n "$f" ] && /usr/lib/go-$v/bin/go tool pprof -top "$f" 2>/dev/null | grep -q main.retainGeneric; then
		pass enable-memprofile
	else
		fail enable-memprofile "no profile naming main.retainGeneric: $(grep -- "$pid" "$LOG" | tail -n 3 | tr '\n' ' ')"
	fi
else
	fail enable-memprofile "not OOM-killed"
fi
watch_stop

# ---- a victim that started before the daemon ----
# It waits, in its memory cgroup, until the daemon is up; then it is told to grow.
if prog_start early "$MEMCG_RUN" --limit 192M --timeout 60 --report "$E2E_TMP/report" -- \
	"$(testdata_bin "$v" stripped leaker)" -mode hold -mb 8 -rate 1; then
	runner=${PROG_PID[early]}
	watch_start
	echo oom >&"${PROG_FD[early]}"
	wait "$runner"
	unset "PROG_PID[early]"
	pid=$(sed -n 's/^pid=//p' "$E2E_TMP/report")
	if grep -qx outcome=oom-killed "$E2E_TMP/report" && f=$(profile_of "$pid") &&
		[ "$(share "$f" "$v" main.retainGeneric | cut -d. -f1)" -ge 40 ]; then
		pass started-before-daemon
	else
		fail started-before-daemon "pid $pid: $(tr '\n' ' ' <"$E2E_TMP/report") $(grep -- "$pid" "$LOG" | tail -n 2 | tr '\n' ' ')"
	fi
else
	fail started-before-daemon "the leaker did not start"
fi

# ---- 100 kills in a row: every capture complete (none lost, no retry); fds, map
# entries and RSS stable ----
source "$ROOT/tests/e2e/soak.lib"
# RSS may grow by 4 MiB at most. Under ASan its allocator keeps freed memory in
# quarantine, so RSS says nothing there; LeakSanitizer checks for leaks when the
# daemon exits instead (clean-exit-after-soak below).
case "$BUILD" in */san) SOAK_RSS_SLACK_KB=$((512 * 1024)) ;; esac
if out=$(soak_run 100 64M "$(testdata_bin "$v" default leaker)" -mode oom -rate 1); then
	pass "hundred-kills ($(echo "$out" | head -n 1))"
else
	fail hundred-kills "$(echo "$out" | tr '\n' ' ')"
fi
watch_stop || fail clean-exit-after-soak "the daemon exited with an error"
