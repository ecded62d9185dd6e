# Shared helpers for end-to-end test scripts (source it). Each check prints one line:
# "PASS: e2e/<script>/<name>", "FAIL: …: why" or "SKIP: …: why".
T=e2e/$(basename "${BASH_SOURCE[1]}" .sh)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
TESTDATA=${TESTDATA:-build/testdata}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
case "$TESTDATA" in /*) ;; *) TESTDATA=$ROOT/$TESTDATA ;; esac
OOMPROF=$BUILD/oomprof
MEMCG_RUN=$BUILD/tests/memcg-run

pass() { echo "PASS: $T/$1"; }
fail() { echo "FAIL: $T/$1: $2"; }
skip() { echo "SKIP: $T/$1: $2"; }

# check NAME COMMAND...: PASS if the command succeeds, FAIL with its output otherwise.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$name"
	else
		fail "$name" "$(echo "$out" | tail -n 5 | tr '\n' ' ')"
	fi
}

# Why end-to-end tests cannot run here, or nothing when they can.
e2e_blocker() {
	[ "$(id -u)" -eq 0 ] || { echo "needs root"; return; }
	[ -r /sys/kernel/btf/vmlinux ] || { echo "kernel has no BTF"; return; }
	memcg_root >/dev/null || { echo "no memory cgroup controller"; return; }
}

# The mount point of a cgroup hierarchy with the memory controller.
memcg_root() {
	if grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
		echo /sys/fs/cgroup
	elif grep -qw memory /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null; then
		echo /sys/fs/cgroup/unified
	elif [ -e /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
		echo /sys/fs/cgroup/memory
	else
		return 1
	fi
}

# The Go toolchains installed (e.g. "1.19 1.21 1.22 1.23").
go_versions() {
	ls -d /usr/lib/go-1.* 2>/dev/null | sed 's#.*/go-##' | sort -V
}

# testdata_bin GOVERSION MODE PROGRAM: path of a built testdata program.
testdata_bin() {
	echo "$TESTDATA/go$1/$2/$3"
}

BUILD_MODES="default stripped pie pie-stripped"

# kill_modes V: the build modes the real-OOM-kill checks cover for toolchain V, to keep
# the tier within its time: all four for the oldest and the newest toolchain, the
# stripped PIE build (the hardest: no symbols, a load bias) for those in between, which
# share their formats with one of them (gosym/releases.c) and get every mode in the
# cheaper checks. E2E_ALL_MODES=1 covers all four everywhere.
kill_modes() {
	if [ -n "${E2E_ALL_MODES:-}" ] || [ "$1" = "$(go_versions | head -n 1)" ] ||
		[ "$1" = "$(go_versions | tail -n 1)" ]; then
		echo "$BUILD_MODES"
	else
		echo pie-stripped
	fi
}

# Go test programs that serve commands on stdin (testdata/*/main.go), driven through a
# fifo. prog_start NAME CMD... starts one and waits for its "ready" line; its pid is in
# PROG_PID[NAME] and its output in "$E2E_TMP/NAME.out".
declare -A PROG_PID PROG_FD
E2E_TMP=$(mktemp -d)
trap 'prog_stop_all; rm -rf "$E2E_TMP"' EXIT

# wait_for FILE REGEX [SECONDS]: until a line of FILE matches.
wait_for() {
	local i
	for ((i = 0; i < ${3:-30} * 20; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

prog_start() {
	local name=$1 fd
	shift
	rm -f "$E2E_TMP/$name.in" "$E2E_TMP/$name.out"
	mkfifo "$E2E_TMP/$name.in"
	"$@" <"$E2E_TMP/$name.in" >"$E2E_TMP/$name.out" 2>&1 &
	PROG_PID[$name]=$!
	exec {fd}>"$E2E_TMP/$name.in"
	PROG_FD[$name]=$fd
	wait_for "$E2E_TMP/$name.out" '^ready' 60
}

# prog_send NAME COMMAND: sends a command and waits for its "ok" (or "error") answer.
prog_send() {
	local name=$1 before
	before=$(grep -cE '^(ok|error)' "$E2E_TMP/$name.out")
	echo "$2" >&"${PROG_FD[$name]}"
	local i
	for ((i = 0; i < 600; i++)); do
		[ "$(grep -cE '^(ok|error)' "$E2E_TMP/$name.out")" -gt "$before" ] && break
		sleep 0.05
	done
	tail -n 1 "$E2E_TMP/$name.out" | grep -q '^ok'
}

prog_stop() {
	local name=$1 pid=${PROG_PID[$1]:-}
	[ -n "$pid" ] || return 0
	echo quit >&"${PROG_FD[$name]}" 2>/dev/null
	exec {PROG_FD[$name]}>&-
	for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "PROG_PID[$name]"
}

prog_stop_all() {
	local name
	for name in "${!PROG_PID[@]}"; do prog_stop "$name"; done
}

# pprof_samples GOVERSION FILE: the profile's samples, one sorted line each.
pprof_samples() {
	/usr/lib/go-$1/bin/go tool pprof -raw "$2" 2>/dev/null | awk -f "$ROOT/tests/pprof-samples.awk" | sort
}

# share FILE GOVERSION FUNCTION: percent of inuse_space whose leaf function starts with
# FUNCTION.
share() {
	pprof_samples "$2" "$1" | awk -F ' [|] ' -v fn="$3" '{
			split($1, v, " "); split($3, f, " "); total += v[4]
			if (index(f[1], fn) == 1) mine += v[4] }
		END { if (total > 0) printf "%.1f", 100 * mine / total; else print "nan" }'
}

# within VALUE WANT TOLERANCE: |VALUE - WANT| <= TOLERANCE.
within() {
	awk -v v="$1" -v w="$2" -v t="$3" 'BEGIN { exit !(v != "nan" && v - w <= t && w - v <= t) }'
}

# The daemon, writing into $E2E_TMP/profiles and logging into $E2E_TMP/watch.log.
OUT=$E2E_TMP/profiles
LOG=$E2E_TMP/watch.log
WATCH_PID=

# watch_start [ARGS...]: runs the daemon and waits until its start-up scan is done.
watch_start() {
	rm -rf "$OUT"
	"$OOMPROF" watch --no-config -d "$OUT" "$@" >"$LOG" 2>&1 &
	WATCH_PID=$!
	wait_for "$LOG" 'watching [0-9]+ Go processes' 120
}

# watch_stop: SIGTERM, then its exit status.
watch_stop() {
	[ -n "$WATCH_PID" ] || return 0
	kill -TERM "$WATCH_PID" 2>/dev/null
	wait "$WATCH_PID" 2>/dev/null
	local rc=$?
	WATCH_PID=
	return $rc
}

# log_ms REGEX: the time (ms since the epoch) of the daemon's first log line matching.
log_ms() {
	local stamp
	stamp=$(grep -E "$1" "$LOG" | head -n 1 | cut -d' ' -f1)
	[ -n "$stamp" ] && date -d "$stamp" +%s%3N
}
