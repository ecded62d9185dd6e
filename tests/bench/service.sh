#!/usr/bin/env bash
# The service parts' cost (figures, never pass/fail): the daemon's RSS and CPU time over
# the same workload (3 OOM kills of a leaker in 20 s) without them, and with the metrics
# endpoint scraped every second and every profile uploaded to two stores (Pyroscope and
# Parca formats, tests/tools/profile-receiver on loopback). Rounds alternate.
source "$(dirname "$0")/../lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "service bench: needs root"; exit 1; }
v=$(go_versions | tail -n 1)
LEAKER=$(testdata_bin "$v" default leaker)
RECV=$TESTDATA/tools/profile-receiver
[ -x "$RECV" ] || { echo "service bench: no $RECV (make bench builds it)"; exit 1; }
RECV_PID=
trap 'watch_stop; [ -n "$RECV_PID" ] && kill "$RECV_PID"; prog_stop_all; rm -rf "$E2E_TMP"' EXIT

mkdir -p "$E2E_TMP/received"
"$RECV" -addr 127.0.0.1:0 -port-file "$E2E_TMP/port" -dir "$E2E_TMP/received" >/dev/null 2>&1 &
RECV_PID=$!
wait_for "$E2E_TMP/port" '^[0-9]+$' 20 || { echo "service bench: receiver did not start"; exit 1; }
rport=$(cat "$E2E_TMP/port")

cpu_ticks() { awk '{ print $14 + $15 }' /proc/"$1"/stat; }

# workload [METRICS-PORT]: 3 kills over about 20 s, scraping every second when a port
# is given. Prints "cpu_ms rss_kib hwm_kib" of the daemon across it.
workload() {
	local t0 i next=0 port=${1:-}
	t0=$(cpu_ticks "$WATCH_PID")
	for ((i = 0; i < 20; i++)); do
		if [ $i -eq $next ] && [ $next -lt 18 ]; then
			"$MEMCG_RUN" --limit 128M --timeout 60 --report "$E2E_TMP/report" -- \
				"$LEAKER" -mode oom -rate 1 >/dev/null 2>&1
			next=$((next + 6))
		fi
		[ -n "$port" ] && curl -s -o /dev/null "http://127.0.0.1:$port/metrics"
		sleep 1
	done
	echo "$((($(cpu_ticks "$WATCH_PID") - t0) * 1000 / $(getconf CLK_TCK)))" \
		"$(awk '/^VmRSS/ { print $2 }' /proc/"$WATCH_PID"/status)" \
		"$(awk '/^VmHWM/ { print $2 }' /proc/"$WATCH_PID"/status)"
}

plain=() full=()
for round in 1 2; do
	watch_start || { echo "service bench: daemon did not start"; exit 1; }
	plain+=("$(workload)")
	watch_stop
	watch_start --metrics-addr 127.0.0.1:0 --upload "pyroscope+http://127.0.0.1:$rport" \
		--upload "parca+http://127.0.0.1:$rport" || { echo "service bench: daemon did not start"; exit 1; }
	mport=$(sed -n 's/.*metrics on .*(port \([0-9]*\)).*/\1/p' "$LOG" | head -n 1)
	full+=("$(workload "$mport")")
	uploads=$(grep -c 'profile uploaded' "$LOG")
	watch_stop
done
printf '%s\n' "${plain[@]}" >"$E2E_TMP/plain"
printf '%s\n' "${full[@]}" >"$E2E_TMP/full"
awk -v up="$uploads" 'FNR == 1 { f++ } { c[f] += $1; r[f] += $2; h[f] += $3; n[f]++ } END {
	printf "daemon over 20 s with 3 OOM kills (2 rounds each; go%s leaker):\n", "'"$v"'"
	printf "  %-40s CPU %6.0f ms  RSS %6.1f MiB  peak RSS %6.1f MiB\n", "without metrics and upload:",
		c[1] / n[1], r[1] / n[1] / 1024, h[1] / n[1] / 1024
	printf "  %-40s CPU %6.0f ms  RSS %6.1f MiB  peak RSS %6.1f MiB\n",
		"with /metrics scraped at 1 Hz, 2 uploads:", c[2] / n[2], r[2] / n[2] / 1024, h[2] / n[2] / 1024
	printf "  ratio with/without: CPU %.2f, RSS %.2f, peak RSS %.2f (last round: %d uploads, of every victim on the host)\n",
		c[2] / (c[1] ? c[1] : 1), r[2] / r[1], h[2] / h[1], up
}' "$E2E_TMP/plain" "$E2E_TMP/full"
