#!/usr/bin/env bash
# The daemon's costs, measured in one run (figures, never pass/fail):
#  1. an allocation-heavy Go program with and without the daemon watching (ratio);
#  2. kill-to-file latency at 10,000 and 50,000 buckets;
#  3. the daemon's CPU time during a 50,000-bucket capture, and idle for 60 s;
#  4. the daemon's RSS watching 500 Go processes (and how many binaries it parsed).
source "$(dirname "$0")/../lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "watch bench: needs root"; exit 1; }
v=$(go_versions | tail -n 1)
trap 'watch_stop; for p in "${held[@]}"; do kill "$p" 2>/dev/null; done; prog_stop_all; rm -rf "$E2E_TMP"' EXIT

# 1. allocation throughput, alternating runs without and with the daemon
alloc_ns() { "$(testdata_bin "$v" default allocbench)" -n 20000000 | awk '{ print $2 }'; }
without=() with=()
for round in 1 2 3; do
	without+=("$(alloc_ns)")
	watch_start
	with+=("$(alloc_ns)")
	watch_stop
done
awk -v a="${without[*]}" -v b="${with[*]}" 'BEGIN {
	n = split(a, x, " "); split(b, y, " ")
	for (i = 1; i <= n; i++) { sa += x[i]; sb += y[i] }
	printf "allocation-heavy program (go%s, 20M allocations, 3 runs each):\n", "'"$v"'"
	printf "  without daemon %.2f ns/alloc, with daemon %.2f ns/alloc\n", sa / n, sb / n
	printf "  throughput ratio with/without: %.3f (goal >= 0.99)\n", sa / sb
}'

# 2. kill-to-file latency, from the daemon's own log lines
watch_start
for buckets in 10000 50000; do
	"$MEMCG_RUN" --limit 256M --timeout 120 --report "$E2E_TMP/report" -- \
		"$(testdata_bin "$v" pie-stripped manybuckets)" -mode oom -buckets "$buckets" >/dev/null 2>&1
	pid=$(sed -n 's/^pid=//p' "$E2E_TMP/report")
	wait_for "$LOG" "profile written: .*-$pid-" 20
	killed=$(log_ms "OOM kill: pid $pid ")
	written=$(log_ms "profile written: .*-$pid-")
	status=$(grep -E "profile written: .*-$pid-" "$LOG" | grep -o 'capture [a-z ]*' | head -n 1)
	if [ -n "$killed" ] && [ -n "$written" ]; then
		echo "kill-to-file latency, $buckets buckets of 128 frames: $((written - killed)) ms ($status)"
	else
		echo "kill-to-file latency, $buckets buckets: no profile ($(grep -- "$pid" "$LOG" | tail -n 1))"
	fi
done
watch_stop

# 3. the daemon's CPU time (/proc/PID/schedstat: ns on a CPU), capturing and idle
# (go1.23: a release every part of oomprof knows today)
cpu_ns() { awk '{ print $1 }' /proc/"$WATCH_PID"/schedstat; }
vc=$(go_versions | grep -x 1.23 || go_versions | tail -n 1)
watch_start
c0=$(cpu_ns) t0=$(date +%s%3N)
"$MEMCG_RUN" --limit 256M --timeout 120 --report "$E2E_TMP/report" -- \
	"$(testdata_bin "$vc" pie-stripped manybuckets)" -mode oom -buckets 50000 >/dev/null 2>&1
pid=$(sed -n 's/^pid=//p' "$E2E_TMP/report")
if wait_for "$LOG" "profile written: .*-$pid-" 20; then
	c1=$(cpu_ns) t1=$(date +%s%3N)
	killed=$(log_ms "OOM kill: pid $pid ")
	written=$(log_ms "profile written: .*-$pid-")
	echo "daemon CPU during a 50,000-bucket capture (go$vc): $(((c1 - c0) / 1000000)) ms on a" \
		"CPU over the victim's $((t1 - t0)) ms life (kill to file: $((written - killed)) ms;" \
		"$(grep "profile written: .*-$pid-" "$LOG" | grep -o 'capture [a-z]*' | head -n 1))"
else
	echo "daemon CPU during a 50,000-bucket capture: no profile ($(grep -- "$pid" "$LOG" | tail -n 1))"
fi
c0=$(cpu_ns)
sleep 60
c1=$(cpu_ns)
echo "daemon CPU idle for 60 s: $(((c1 - c0) / 1000000)) ms ($(awk -v n=$((c1 - c0)) 'BEGIN { printf "%.3f", n / 600000000 }') % of one CPU)"
watch_stop

# 4. RSS watching 500 Go processes of one binary
held=()
mkfifo "$E2E_TMP/hold"
exec {hold}<>"$E2E_TMP/hold" # the leakers wait on stdin until this closes
for i in $(seq 500); do
	"$(testdata_bin "$v" stripped leaker)" -mode hold -mb 1 <"$E2E_TMP/hold" >/dev/null 2>&1 {hold}>&- &
	held+=($!)
done
sleep 5
watch_start
sleep 2
rss=$(awk '/^VmRSS/ { print $2 }' /proc/"$WATCH_PID"/status)
line=$(grep -o 'watching [0-9]* Go processes ([0-9]* binaries parsed)' "$LOG" | head -n 1)
echo "daemon RSS watching 500 Go processes: $((rss / 1024)) MiB; start-up scan: $line"
watch_stop
exec {hold}>&-
wait "${held[@]}" 2>/dev/null
held=()
