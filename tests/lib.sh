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
