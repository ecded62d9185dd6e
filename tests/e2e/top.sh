#!/usr/bin/env bash
# `oomprof top` on real runtime/pprof heap profiles (written by the heaporacle test
# program of every installed Go version) prints what `go tool pprof -top` prints,
# for every sample index; and bad input gives a clear message and the right status.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../pprof-lib.sh"

if ! GO=$(oracle_go); then
	skip oracle "no Go toolchain at /usr/lib/go-1.*"
	exit 0
fi
work=$(mktemp -d)
oracle_pid=
cleanup() {
	[ -n "$oracle_pid" ] && kill "$oracle_pid" 2>/dev/null
	rm -rf "$work" "$E2E_TMP"
}
trap cleanup EXIT

for v in $(go_versions); do
	bin=$(testdata_bin "$v" default heaporacle)
	if [ ! -x "$bin" ]; then
		skip "go$v" "$bin not built (make testdata)"
		continue
	fi
	if ! heap_profiles "$bin" "$work/go$v-a.pb.gz" "$work/go$v-b.pb.gz" 2>"$work/err"; then
		fail "go$v/heaporacle" "$(tr '\n' ' ' <"$work/err")"
		continue
	fi
	compare_top "go$v/first" "$work/go$v-a.pb.gz" ""
	compare_top "go$v/churned" "$work/go$v-b.pb.gz" "" alloc_objects alloc_space \
		inuse_objects inuse_space
	# Numbers work as sample indexes too, as in pprof.
	check "go$v/index-number" diff <("$OOMPROF" top --exact -i 1 "$work/go$v-b.pb.gz") \
		<("$OOMPROF" top --exact -i alloc_space "$work/go$v-b.pb.gz")
done

# -n keeps the first rows of the full table.
f=$(ls "$work"/*-b.pb.gz 2>/dev/null | tail -n1)
if [ -n "$f" ]; then
	check limit-rows diff <("$OOMPROF" top -n 3 "$f" | top_rows) \
		<("$OOMPROF" top "$f" | top_rows | head -n 3)
	check limit-header grep -q '^Showing top 3 nodes out of' <<<"$("$OOMPROF" top -n 3 "$f")"
	check default-is-inuse grep -qx 'Type: inuse_space' <<<"$("$OOMPROF" top "$f")"
fi

# expect_error NAME STATUS PATTERN ARGS...: oomprof top fails with STATUS and says PATTERN.
expect_error() {
	local name=$1 want=$2 pattern=$3 out rc
	shift 3
	out=$("$OOMPROF" top "$@" 2>&1)
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		fail "$name" "exit status $rc, want $want: $out"
	elif ! grep -q -- "$pattern" <<<"$out"; then
		fail "$name" "message lacks '$pattern': $out"
	else
		pass "$name"
	fi
}

printf 'hello, not a profile\n' >"$work/text"
head -c 200 "$ROOT/tests/fuzz/corpus/pprof_reader/heaporacle-go1.23.pb.gz" >"$work/cut.pb.gz"
: >"$work/empty"
expect_error not-a-profile 1 'not a profile' "$work/text"
expect_error truncated-gzip 1 'truncated gzip' "$work/cut.pb.gz"
expect_error empty-file 1 'not a profile' "$work/empty"
expect_error missing-file 1 'No such file' "$work/nope.pb.gz"
expect_error unknown-index 1 "unknown sample index 'cpu'" -i cpu \
	"$ROOT/tests/fuzz/corpus/pprof_reader/basic.pb.gz"
expect_error no-file 2 'usage' 
expect_error bad-n 2 "bad -n" -n x "$work/text"
expect_error two-files 2 'usage' "$work/text" "$work/empty"
