#!/usr/bin/env bash
# oomprof as a service, end to end, with real OOM kills in memory cgroups:
#   unit     `make install` into a temporary root; systemd-analyze verify; the unit's
#            ExecStart run as written, with the unit's capability bounding set and
#            NoNewPrivileges, against its installed configuration file
#   metrics  Debian's Prometheus scrapes that daemon; counters read back through its
#            HTTP query API
#   upload   a strict Pyroscope/Parca receiver (tests/tools/profile-receiver) takes the
#            same profile in both formats; retries after the receiver comes back; the
#            queue survives a restart of the daemon
#   disk     --max-profiles and --min-free on a small tmpfs
source "$(dirname "$0")/../lib.sh"

why=$(e2e_blocker)
if [ -n "$why" ]; then
	skip all "$why"
	exit 0
fi

V=$(go_versions | tail -n 1)
GO=/usr/lib/go-$V/bin/go
LEAKER=$(testdata_bin "$V" default leaker)
if [ ! -x "$LEAKER" ]; then
	fail all "no $LEAKER (make tests builds it)"
	exit 0
fi
MODULE=$("$GO" version -m "$LEAKER" | awk '$1 == "mod" { print $2; exit }')
RECV=$TESTDATA/tools/profile-receiver
RECV_PID= PROM_PID= SMALL=

stop_pid() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null; return 0; }
cleanup() {
	watch_stop
	stop_pid "$RECV_PID"
	stop_pid "$PROM_PID"
	[ -n "$SMALL" ] && umount "$SMALL" 2>/dev/null
	prog_stop_all
	rm -rf "$E2E_TMP"
}
trap cleanup EXIT

# daemon_start LOG CMD...: runs a daemon (as watch_stop expects) until its scan is done.
daemon_start() {
	LOG=$1
	shift
	"$@" >"$LOG" 2>&1 &
	WATCH_PID=$!
	wait_for "$LOG" 'watching [0-9]+ Go processes' 120
}

# kill_leaker: one leaker OOM-killed in a fresh memory cgroup; prints its pid.
# kill_leaker [RUNNER...]: the same, the leaker started through RUNNER (e.g. setpriv).
kill_leaker() {
	"$MEMCG_RUN" --limit 128M --timeout 120 --report "$E2E_TMP/report" -- \
		"$@" "${VICTIM:-$LEAKER}" -mode oom -rate 1 >/dev/null 2>&1
	grep -qx outcome=oom-killed "$E2E_TMP/report" || return 1
	sed -n 's/^pid=//p' "$E2E_TMP/report"
}

# profile_in DIR PID: the profile written for PID, waiting up to 10 s.
profile_in() {
	local i f
	for ((i = 0; i < 200; i++)); do
		f=$(ls "$1"/*-"$2"-*.pb.gz 2>/dev/null | head -n 1)
		[ -n "$f" ] && { echo "$f"; return 0; }
		sleep 0.05
	done
	return 1
}

free_port() {
	local p
	for p in $(shuf -i 20000-60000 -n 50); do
		ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return 0; }
	done
	return 1
}

# recv_start PORT [ARGS...]: the receiver on 127.0.0.1:PORT (0: any), saving into
# $E2E_TMP/received; its port in RECV_PORT.
recv_start() {
	local port=$1
	shift
	mkdir -p "$E2E_TMP/received"
	rm -f "$E2E_TMP/recv.port"
	"$RECV" -addr "127.0.0.1:$port" -port-file "$E2E_TMP/recv.port" \
		-dir "$E2E_TMP/received" "$@" >>"$E2E_TMP/recv.log" 2>&1 &
	RECV_PID=$!
	wait_for "$E2E_TMP/recv.port" '^[0-9]+$' 20 || return 1
	RECV_PORT=$(cat "$E2E_TMP/recv.port")
}

# received FORMAT FILE [SECONDS]: the .labels file of the receiver's copy of FILE sent
# in FORMAT (same bytes), waiting for it.
received() {
	local want i f
	want=$(sha256sum <"$2" | cut -d' ' -f1)
	for ((i = 0; i < ${3:-10} * 10; i++)); do
		for f in "$E2E_TMP"/received/*.pb.gz; do
			[ -e "$f" ] || continue
			[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$want" ] &&
				grep -qx "format=$1" "${f%.pb.gz}.labels" &&
				{ echo "${f%.pb.gz}.labels"; return 0; }
		done
		sleep 0.1
	done
	return 1
}

label() { sed -n "s/^$2=//p" "$1"; }

# stop_daemon: SIGTERM; a daemon that does not exit 0 (a sanitizer report, a crash) is
# noted for the daemon-exits-clean check at the end.
unclean=""
stop_daemon() {
	local log=$LOG rc=0
	watch_stop || rc=$?
	[ $rc -eq 0 ] || unclean+=" $(basename "$log")($rc: $(tail -n 2 "$log" | tr '\n' ' '))"
}

# ---- the profile receiver, and proof that it refuses what the stores would refuse ----
if [ ! -x "$RECV" ]; then
	fail receiver "no $RECV (make tests builds it: tests/tools/build-go-tools.sh)"
	exit 0
fi
recv_start 0 -tenant team-a || { fail receiver "did not start"; exit 0; }
base=http://127.0.0.1:$RECV_PORT
bad_requests() {
	local now rc fails=""
	now=$(date +%s)
	try() { # try NAME CURL-ARGS...: the receiver must answer 400
		local name=$1 code
		shift
		code=$(curl -s -o /dev/null -w '%{http_code}' "$@")
		[ "$code" = 400 ] || fails+=" $name:$code"
	}
	printf 'x' >"$E2E_TMP/notgzip"
	try no-from -H 'X-Scope-OrgID: team-a' -H 'Content-Type: application/octet-stream' \
		--data-binary @"$E2E_TMP/notgzip" "$base/ingest?name=a%7Bhost%3Dh%7D&until=$now&format=pprof"
	try not-pprof -H 'X-Scope-OrgID: team-a' -H 'Content-Type: application/octet-stream' \
		--data-binary @"$E2E_TMP/notgzip" \
		"$base/ingest?name=a%7Bhost%3Dh%2Ctrigger%3Dt%2Ccapture_status%3Dc%7D&from=$now&until=$now&format=pprof"
	try parca-unknown-field -H 'Content-Type: application/json' \
		--data '{"series":[],"extra":1}' "$base/api/profiles/writeraw"
	try parca-bad-base64 -H 'Content-Type: application/json' \
		--data '{"series":[{"labels":{"labels":[{"name":"__name__","value":"memory"},{"name":"service_name","value":"a"},{"name":"host","value":"h"},{"name":"trigger","value":"t"},{"name":"capture_status","value":"c"}]},"samples":[{"raw_profile":"***"}]}]}' \
		"$base/api/profiles/writeraw"
	try wrong-path --data 'x' "$base/push"
	[ -z "$fails" ] || { echo "accepted or mis-answered:$fails"; return 1; }
}
check receiver-rejects-malformed bad_requests

# ---- 1. the systemd unit, installed and run as written ----
INST=$E2E_TMP/root
UNIT=$INST/etc/systemd/system/oomprof.service
CONF=$INST/etc/oomprof/oomprof.conf
STATE=$E2E_TMP/state
if ! make -C "$ROOT" --no-print-directory -s -o all install BUILD="$BUILD" PREFIX="$INST/usr" \
	SYSTEMD_UNIT_DIR="$INST/etc/systemd/system" SYSCONFDIR="$INST/etc" >"$E2E_TMP/install.log" 2>&1 ||
	[ ! -f "$UNIT" ] || [ ! -f "$CONF" ]; then
	fail install "$(tail -n 5 "$E2E_TMP/install.log" | tr '\n' ' ')"
	exit 0
fi
pass install
out=$(systemd-analyze verify "$UNIT" 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then
	pass unit-verify
else
	fail unit-verify "status $rc: $(echo "$out" | head -n 5 | tr '\n' ' ')"
fi

read -ra EXEC <<<"$(sed -n 's/^ExecStart=//p' "$UNIT")"
CAPS=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
bset=-all
for c in $CAPS; do
	c=${c#CAP_}
	bset+=",+${c,,}"
done
NNP=()
grep -qx 'NoNewPrivileges=yes' "$UNIT" && NNP=(--no-new-privs)
# The state directory systemd would create, and the services this test runs.
recv_addr=127.0.0.1:$RECV_PORT
sed -i "s#^dir = .*#dir = $STATE#" "$CONF"
cat >>"$CONF" <<CONF
metrics-addr = 127.0.0.1:0
upload = pyroscope+http://$recv_addr
upload = parca+http://$recv_addr
upload-tenant = team-a
CONF
mkdir -p "$STATE"
# strace counts the daemon's system calls, to hold them against SystemCallFilter
# (LeakSanitizer cannot run under ptrace: the other daemons of this test check leaks).
if ! daemon_start "$E2E_TMP/unit.log" env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	strace -f -qq -c -o "$E2E_TMP/syscalls" \
	setpriv --bounding-set "$bset" --inh-caps -all "${NNP[@]}" -- "${EXEC[@]}"; then
	fail unit-start "ExecStart ${EXEC[*]}: $(tail -n 5 "$E2E_TMP/unit.log" | tr '\n' ' ')"
	exit 0
fi
STRACE_PID=$WATCH_PID
WATCH_PID=$(pgrep -P "$STRACE_PID" | head -n 1)
eff=$(capsh --decode="$(awk '/^CapEff/ { print $2 }' /proc/$WATCH_PID/status)" | sed 's/.*=//')
want=$(echo "$CAPS" | tr 'A-Z ' 'a-z\n' | sort | paste -sd,)
have=$(echo "$eff" | tr ',' '\n' | sort | paste -sd,)
if [ "$have" = "$want" ]; then
	pass "unit-capabilities ($have)"
else
	fail unit-capabilities "the daemon runs with $have, the unit says $want"
fi
MPORT=$(sed -n 's/.*metrics on .*(port \([0-9]*\)).*/\1/p' "$E2E_TMP/unit.log" | head -n 1)

# Prometheus, as a user runs it: our config, our storage, loopback.
PPORT=$(free_port)
cat >"$E2E_TMP/prometheus.yml" <<PROM
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: oomprof
    static_configs:
      - targets: ["127.0.0.1:$MPORT"]
PROM
prometheus --config.file="$E2E_TMP/prometheus.yml" --storage.tsdb.path="$E2E_TMP/prom-data" \
	--web.listen-address="127.0.0.1:$PPORT" --log.level=warn >"$E2E_TMP/prometheus.log" 2>&1 &
PROM_PID=$!

# prom EXPR: the value of an instant query ("" when it has no result).
prom() {
	curl -s --max-time 5 --get --data-urlencode "query=$1" \
		"http://127.0.0.1:$PPORT/api/v1/query" |
		sed -n 's/.*"value":\[[^,]*,"\([^"]*\)"\].*/\1/p'
}
# prom_wait EXPR: until the query has a result whose value is not 0 (30 s at most).
prom_wait() {
	local i v
	for ((i = 0; i < 60; i++)); do
		v=$(prom "$1")
		[ -n "$v" ] && [ "$v" != 0 ] && { echo "$v"; return 0; }
		sleep 0.5
	done
	echo "${v:-no result}"
	return 1
}
if ! prom_wait 'up{job="oomprof"}' >/dev/null; then
	fail prometheus-scrapes "Prometheus never scraped :$MPORT: $(tail -n 3 "$E2E_TMP/prometheus.log" | tr '\n' ' ')"
	exit 0
fi
pass prometheus-scrapes

prog_start holder "$LEAKER" -mode hold -mb 8 || fail holder "hold-mode leaker did not start"
# The victim belongs to another user and its binary is readable by that user alone:
# CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH are what let the daemon read it.
chmod 0711 "$E2E_TMP"
mkdir -m 0711 "$E2E_TMP/other"
install -m 0700 -o nobody "$LEAKER" "$E2E_TMP/other/leaker"
if pid=$(VICTIM=$E2E_TMP/other/leaker kill_leaker setpriv --reuid=nobody --regid=nogroup \
	--clear-groups --) && f=$(profile_in "$STATE" "$pid"); then
	pass "unit-kill (pid $pid of user nobody, binary mode 0700: $(basename "$f"))"
else
	fail unit-kill "no profile in $STATE: $(grep -- "${pid:-none}" "$E2E_TMP/unit.log" | tail -n 2 | tr '\n' ' ')"
	exit 0
fi
grep -q 'cannot run at real-time priority' "$E2E_TMP/unit.log" &&
	fail unit-realtime "$(grep 'real-time' "$E2E_TMP/unit.log" | head -n 1)" ||
	pass unit-realtime

# ---- 2. metrics through Prometheus: at least our kill, at most what the log shows ----
# Other daemons' tests kill Go programs on this host too, and this daemon sees them: the
# upper bound is counted from the log after the query, so it can only be larger.
written() { grep -c 'profile written: .*capture complete' "$E2E_TMP/unit.log"; }
kills() { grep -c 'OOM kill: pid' "$E2E_TMP/unit.log"; }
# bounded NAME EXPR MIN MAX-COMMAND
bounded() {
	local v hi
	v=$(prom_wait "$2")
	hi=$($4)
	if [ -n "$v" ] && awk -v v="$v" -v lo="$3" -v hi="$hi" 'BEGIN { exit !(v >= lo && v <= hi) }'; then
		pass "$1 ($v)"
	else
		fail "$1" "$2 = $v, want $3..$hi"
	fi
}
one() { echo 1; }
two() { echo 2; }
five() { echo 5; }
many() { echo 100000; }
sleep 2 # two scrapes after the profile was written
bounded metrics-oom-kills 'oomprof_oom_kills_total' 1 kills
bounded metrics-go-victims 'oomprof_go_victims_total' 1 kills
bounded metrics-profiles-complete 'oomprof_profiles_written_total{status="complete"}' 1 written
bounded metrics-latency-count 'oomprof_kill_to_file_seconds_count' 1 written
bounded metrics-latency-inf 'sum(oomprof_kill_to_file_seconds_bucket{le="+Inf"}) - sum(oomprof_kill_to_file_seconds_count) + 1' 1 one
bounded metrics-bpf-victims 'oomprof_capture_events_total{counter="victims"}' 1 kills
bounded metrics-watched 'oomprof_watched_processes' 1 many
bounded metrics-binaries 'oomprof_binaries_parsed_total' 1 many
bounded metrics-ringbuf-series 'count(oomprof_ringbuf_drops_total)' 2 two
bounded metrics-lost-series 'count(oomprof_captures_lost_total)' 5 five
bounded metrics-build-info 'oomprof_build_info{version!=""}' 1 one

# ---- 3. upload: the same bytes in both formats, with the labels ----
check_labels() { # check_labels LABELS-FILE FORMAT
	local l=$1 bad=""
	[ "$(label "$l" service_name)" = "$MODULE" ] || bad+=" service_name=$(label "$l" service_name) (want $MODULE)"
	[ "$(label "$l" host)" = "$(hostname)" ] || bad+=" host=$(label "$l" host)"
	[ "$(label "$l" trigger)" = oom-kill ] || bad+=" trigger=$(label "$l" trigger)"
	[ "$(label "$l" capture_status)" = complete ] || bad+=" capture_status=$(label "$l" capture_status)"
	[ "$2" != parca ] || [ "$(label "$l" __name__)" = memory ] || bad+=" __name__=$(label "$l" __name__)"
	[ -z "$bad" ] || { echo "$bad"; return 1; }
}
for fmt in pyroscope parca; do
	if l=$(received "$fmt" "$f" 15); then
		check "upload-$fmt" check_labels "$l" "$fmt"
	else
		fail "upload-$fmt" "the receiver has no copy of $f: $(grep -E 'upload|rejected' "$E2E_TMP/unit.log" "$E2E_TMP/recv.log" | tail -n 3 | tr '\n' ' ')"
	fi
done
bounded metrics-uploads-ok 'oomprof_uploads_total{result="ok"}' 2 many
prog_stop holder
watch_stop
wait "$STRACE_PID" 2>/dev/null || unclean+=" unit($?: $(tail -n 2 "$LOG" | tr '\n' ' '))"

# Every system call it made (kill, scrapes, uploads) passes the unit's SystemCallFilter.
# expand GROUP: the calls of a systemd syscall group, nested groups included.
expand() {
	local w
	for w in $(systemd-analyze syscall-filter "$1" | sed -n 's/^    \([@a-z0-9_-]*\)$/\1/p'); do
		case $w in @*) expand "$w" ;; *) echo "$w" ;; esac
	done
}
allowed=" $(for g in $(sed -n 's/^SystemCallFilter=//p' "$UNIT"); do
	case $g in @*) expand "$g" ;; *) echo "$g" ;; esac
done | sort -u | tr '\n' ' ') "
used=$(awk '$NF ~ /^[a-z_0-9]+$/ && $NF != "total" && $1 ~ /^[0-9.]+$/ { print $NF }' "$E2E_TMP/syscalls" | sort -u)
outside=$(for c in $used; do [[ "$allowed" == *" $c "* ]] || echo "$c"; done | paste -sd' ')
if [ -z "$used" ]; then
	fail unit-syscall-filter "strace counted no system calls: $(head -n 3 "$E2E_TMP/syscalls" | tr '\n' ' ')"
elif [ -n "$outside" ]; then
	fail unit-syscall-filter "used but not allowed by SystemCallFilter: $outside"
else
	pass "unit-syscall-filter ($(echo "$used" | wc -l) distinct calls, all allowed)"
fi
stop_pid "$PROM_PID"
PROM_PID=
stop_pid "$RECV_PID"
RECV_PID=

# ---- 3b. a store that is down: retries, then the queue across a restart ----
RPORT=$(free_port)
Q=$E2E_TMP/q
daemon_start "$E2E_TMP/retry.log" "$OOMPROF" watch --no-config -d "$Q" \
	--upload "pyroscope+http://127.0.0.1:$RPORT" || { fail retry-start "did not start"; exit 0; }
if pid=$(kill_leaker) && f=$(profile_in "$Q" "$pid") &&
	wait_for "$E2E_TMP/retry.log" "upload of $f to .* failed \(attempt 1\)" 10; then
	pass "upload-store-down-file-kept ($(grep -c "upload of $f" "$E2E_TMP/retry.log") failure lines)"
else
	fail upload-store-down-file-kept "$(tail -n 3 "$E2E_TMP/retry.log" | tr '\n' ' ')"
fi
recv_start "$RPORT" || fail retry-receiver "did not start on $RPORT"
if [ -n "${f:-}" ] && received pyroscope "$f" 20 >/dev/null; then
	pass "upload-retry-after-store-returns ($(grep -c "upload of $f to .* failed" "$E2E_TMP/retry.log") failed attempts first)"
else
	fail upload-retry-after-store-returns "$(grep -E "upload" "$E2E_TMP/retry.log" | tail -n 3 | tr '\n' ' ')"
fi
stop_pid "$RECV_PID"
RECV_PID=
if pid=$(kill_leaker) && f2=$(profile_in "$Q" "$pid") &&
	wait_for "$E2E_TMP/retry.log" "upload of $f2 to .* failed" 10; then
	stop_daemon
	if grep -lqs "^profile=$f2\$" "$Q"/.upload-queue/*.job; then
		pass upload-queued-on-disk
	else
		fail upload-queued-on-disk "no job for $f2 in $Q/.upload-queue"
	fi
	recv_start "$RPORT" || fail restart-receiver "did not start on $RPORT"
	daemon_start "$E2E_TMP/restart.log" "$OOMPROF" watch --no-config -d "$Q" \
		--upload "pyroscope+http://127.0.0.1:$RPORT" || fail restart-start "did not start"
	if received pyroscope "$f2" 20 >/dev/null &&
		grep -q 'still to upload from the last run' "$E2E_TMP/restart.log"; then
		pass upload-queue-survives-restart
	else
		fail upload-queue-survives-restart "$(grep -E "upload" "$E2E_TMP/restart.log" | tail -n 3 | tr '\n' ' ')"
	fi
else
	fail upload-queued-on-disk "second kill: $(tail -n 3 "$E2E_TMP/retry.log" | tr '\n' ' ')"
fi
stop_daemon
stop_pid "$RECV_PID"
RECV_PID=

# ---- 4. bounded disk on a small tmpfs ----
SMALL=$E2E_TMP/small
mkdir -p "$SMALL"
if ! mount -t tmpfs -o size=16m oomprof-test "$SMALL"; then
	fail disk "cannot mount a tmpfs"
	SMALL=
	exit 0
fi
for d in 01 02 03; do head -c 10000 /dev/zero >"$SMALL/old-1-202001${d}T000000.000Z.pb.gz"; done
echo "not a profile" >"$SMALL/notes.txt"
daemon_start "$E2E_TMP/disk.log" "$OOMPROF" watch --no-config -d "$SMALL" --max-profiles 2 \
	--min-free 4M || { fail disk-start "did not start"; exit 0; }
# Other tests' victims may land here too: they only ever push the 2020 files out sooner.
profiles_here() { ls "$SMALL" | grep -c '\.pb\.gz$'; }
if [ ! -e "$SMALL/old-1-20200101T000000.000Z.pb.gz" ] && [ -e "$SMALL/notes.txt" ] &&
	[ "$(profiles_here)" -le 2 ] && grep -q 'deleted 1 old profiles' "$E2E_TMP/disk.log"; then
	pass disk-prune-at-start
else
	fail disk-prune-at-start "left: $(ls "$SMALL" | paste -sd' ')"
fi
if pid=$(kill_leaker) && f=$(profile_in "$SMALL" "$pid"); then
	if [ ! -e "$SMALL/old-1-20200102T000000.000Z.pb.gz" ] && [ -e "$SMALL/notes.txt" ] &&
		[ "$(profiles_here)" -le 2 ]; then
		pass disk-max-profiles
	else
		fail disk-max-profiles "left: $(ls "$SMALL" | paste -sd' ')"
	fi
else
	fail disk-max-profiles "no profile: $(tail -n 2 "$E2E_TMP/disk.log" | tr '\n' ' ')"
fi
avail=$(df -B1 --output=avail "$SMALL" | tail -n 1)
head -c $((avail - 2 * 1024 * 1024)) /dev/zero >"$SMALL/filler" 2>/dev/null
if pid=$(kill_leaker) &&
	wait_for "$E2E_TMP/disk.log" "pid $pid \(leaker\): not writing its profile: the file system of $SMALL has [0-9]+ bytes left, less than --min-free" 10 &&
	! ls "$SMALL"/*-"$pid"-*.pb.gz >/dev/null 2>&1; then
	pass "disk-min-free ($(grep -o "has [0-9]* bytes left" "$E2E_TMP/disk.log" | tail -n 1))"
else
	fail disk-min-free "$(tail -n 2 "$E2E_TMP/disk.log" | tr '\n' ' ')"
fi
stop_daemon
umount "$SMALL" && SMALL=
if [ -z "$unclean" ]; then
	pass daemon-exits-clean
else
	fail daemon-exits-clean "$unclean"
fi
