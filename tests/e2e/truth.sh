#!/usr/bin/env bash
# What every kill profile claims, checked against real OOM kills in memory cgroups:
#  - one death, one profile: a victim whose goroutines allocate in parallel on several
#    threads (the kernel may mark more than one of its threads) gives one file, complete,
#    and one "OOM kill" log line;
#  - coverage: the leaker's profile explains 50-110 % of its anon RSS;
#  - a program that sets MemProfileRate=0 at run time: capture status partial, coverage
#    under 10 %; with --enable-memprofile its profile names its leak and explains >= 50 %.
# Go 1.23 programs, and the leaker's coverage on every toolchain (the per-toolchain
# matrix of everything else is e2e/watch's).
source "$(dirname "$0")/../lib.sh"

why=$(e2e_blocker)
if [ -n "$why" ]; then
	skip all "$why"
	exit 0
fi
trap 'watch_stop; rm -rf "$E2E_TMP"' EXIT
v=$(go_versions | grep -x 1.23 || go_versions | tail -n 1)

# oom LIMIT PROGRAM ARGS...: one run in a fresh memory cgroup; the victim's pid in
# $pid, its profile in $f (waiting up to 5 s for it).
oom() {
	local limit=$1 i
	shift
	pid= f=
	"$MEMCG_RUN" --limit "$limit" --timeout 120 --report "$E2E_TMP/report" -- "$@" \
		>"$E2E_TMP/prog.out" 2>&1
	grep -qx outcome=oom-killed "$E2E_TMP/report" || return 1
	pid=$(sed -n 's/^pid=//p' "$E2E_TMP/report")
	for ((i = 0; i < 100; i++)); do
		f=$(ls "$OUT"/*-"$pid"-*.pb.gz 2>/dev/null | head -n 1)
		[ -n "$f" ] && return 0
		sleep 0.05
	done
	return 0
}

comment() { /usr/lib/go-$v/bin/go tool pprof -comments "$f" 2>/dev/null | sed -n "s/^$1: //p" | head -n 1; }
# The coverage figure in percent ("profile explains 93 % of anon-rss 306 MiB").
coverage() { /usr/lib/go-$v/bin/go tool pprof -comments "$f" 2>/dev/null | sed -n 's/^profile explains \([0-9.]*\) % of anon-rss.*/\1/p'; }
between() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x != "" && x >= lo && x <= hi) }'; }

watch_start -v || { fail start "the daemon did not start: $(tail -n 3 "$LOG" | tr '\n' ' ')"; exit 0; }

# ---- one death, one profile: 16 goroutines on 4 threads, three kills ----
bad=() marks=0
for k in 1 2 3; do
	if ! oom 128M "$(testdata_bin "$v" default parleak)" -goroutines 16 -procs 4; then
		bad+=("kill $k: not OOM-killed")
		continue
	fi
	files=$(ls "$OUT"/*-"$pid"-*.pb.gz 2>/dev/null | wc -l)
	lines=$(grep -c "info  OOM kill: pid $pid " "$LOG")
	status=$(comment "capture status")
	marks=$((marks + $(grep -c "OOM kill: pid $pid: thread .* marked too" "$LOG")))
	[ "$files" -eq 1 ] && [ "$lines" -eq 1 ] && [[ "$status" == complete* ]] ||
		bad+=("pid $pid: $files files, $lines OOM kill lines, status '$status'")
done
if [ "${#bad[@]}" -eq 0 ]; then
	pass "one-death-one-profile (3 parallel victims; further thread marks joined: $marks)"
else
	fail one-death-one-profile "${bad[*]}"
fi

# ---- the leaker (MemProfileRate=1 at start): coverage, and the rate noted, for every
# toolchain (the memRecord's shape differs between releases: Go 1.27 keeps counts only)
for lv in $(go_versions); do
	t=leaker-coverage/go$lv
	if oom 128M "$(testdata_bin "$lv" pie-stripped leaker)" -mode oom -rate 1 && [ -n "$f" ]; then
		c=$(coverage)
		note=$(comment "sampling rate")
		if between "$c" 50 110 && [[ "$note" == *"MemProfileRate 1 was set at run time"* ]] &&
			grep -q "profile written: .*-$pid-.*profile explains $c % of anon-rss" "$LOG"; then
			pass "$t ($c %)"
		else
			fail "$t" "coverage '$c' %, rate note '$note', log: $(grep "profile written: .*-$pid-" "$LOG" | cut -c1-300)"
		fi
	else
		fail "$t" "no profile: $(tr '\n' ' ' <"$E2E_TMP/report")"
	fi
done

# ---- a program that switches sampling off at run time ----
if oom 128M "$(testdata_bin "$v" default parleak)" -zero-rate -before 4 && [ -n "$f" ]; then
	c=$(coverage)
	status=$(comment "capture status")
	line=$(grep "profile written: .*-$pid-" "$LOG")
	if [[ "$status" == "partial "*"the program set MemProfileRate=0 at run time; only allocations before that are sampled"* ]] &&
		between "$c" 0 10 && [[ "$line" == *"capture partial: the program set MemProfileRate=0"* ]] &&
		[[ "$line" == *"not the program's memory"* ]]; then
		pass "rate-zeroed-partial (coverage $c %)"
	else
		fail rate-zeroed-partial "status '$status', coverage '$c' %, log: ${line:0:300}"
	fi
else
	fail rate-zeroed-partial "no profile: $(tr '\n' ' ' <"$E2E_TMP/report")"
fi
watch_stop

# ---- ... and with --enable-memprofile, which restores its sampling ----
watch_start --enable-memprofile
if oom 128M "$(testdata_bin "$v" default parleak)" -zero-rate -before 4 -pause 60ms && [ -n "$f" ]; then
	c=$(coverage)
	restored=$(comment "sampling restored")
	top=$(/usr/lib/go-$v/bin/go tool pprof -top "$f" 2>/dev/null | awk '/flat%/ { s = 1; next } s { print $6; exit }')
	if [ "$top" = main.leakChunk ] && between "$c" 50 110 &&
		[[ "$restored" == *"--enable-memprofile set it to 524288 at "* ]] &&
		grep -q "pid $pid (parleak): the program set MemProfileRate=0 at run time; restored sampling" "$LOG"; then
		pass "rate-zeroed-enable-memprofile (coverage $c %)"
	else
		fail rate-zeroed-enable-memprofile "top '$top', coverage '$c' %, restored '$restored': $(grep -- "$pid" "$LOG" | tail -n 2 | cut -c1-200 | tr '\n' ' ')"
	fi
else
	fail rate-zeroed-enable-memprofile "no profile: $(tr '\n' ' ' <"$E2E_TMP/report")"
fi
watch_stop || fail clean-exit "the daemon exited with an error"
