#!/usr/bin/env bash
# Profiles written by the pprof builder (tests/tools/pprof-fixture) are read by the
# oracle, `go tool pprof`, which must show the values, functions, inline markers,
# labels and comments that were built; and `oomprof top` must print what
# `go tool pprof -top` prints for every sample index.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../pprof-lib.sh"

FIXTURE=$BUILD/tests/pprof-fixture
if ! GO=$(oracle_go); then
	skip oracle "no Go toolchain at /usr/lib/go-1.*"
	exit 0
fi
[ -x "$FIXTURE" ] || { fail build "$FIXTURE missing (make tests)"; exit 0; }
work=$E2E_TMP # removed on exit by lib.sh

"$FIXTURE" basic "$work/basic.pb.gz" || { fail fixture "pprof-fixture basic failed"; exit 0; }
"$FIXTURE" default "$work/default.pb.gz" || { fail fixture "pprof-fixture default failed"; exit 0; }

# The file is written with the mode the caller asked for, and nothing else is left.
check atomic-mode test "$(stat -c %a "$work/basic.pb.gz")" = 640
check atomic-no-temp test "$(ls -A "$work" | wc -l)" -eq 2

raw=$("$GO" tool pprof -raw "$work/basic.pb.gz" 2>&1)
check raw-accepted grep -q '^Samples:' <<<"$raw"
check raw-comments grep -qx 'Comment: oomprof fixture comment' <<<"$raw"
check raw-period grep -qx 'Period: 524288' <<<"$raw"
# Five samples, the duplicate of the first kept apart, values exactly as built.
expected_samples='10 10240 5 5120: 1 2
3 12288 3 12288: 3 5 2
1 1048576 1 1048576: 4 5 2
2 2048 0 0: 1 2
7 700 1 100: 2'
got_samples=$(sed -n '/^Samples:/,/^Locations/p' <<<"$raw" | grep -E '^ *[0-9]+ .*:' |
	sed 's/^ *//; s/  */ /g; s/ *$//')
if [ "$got_samples" = "$expected_samples" ]; then pass raw-samples; else
	fail raw-samples "$(echo "$got_samples" | tr '\n' '|')"; fi
check raw-numeric-label grep -q 'bytes:\[1048576\]' <<<"$raw"
check raw-string-label grep -q 'kind:\[large\]' <<<"$raw"
# Location 1: main.helper inlined into main.alloc; location 3 has three lines.
check raw-inline-lines bash -c 'grep -A1 "^ *1: 0x401000 M=1 main.helper " <<<"$1" |
	grep -q "^ *main.alloc /src/fixture.go:10"' _ "$raw"
check raw-three-lines bash -c 'grep -A2 "^ *3: 0x403000 M=1 bytes.growSlice " <<<"$1" |
	tail -n1 | grep -q "main.worker /src/fixture.go:30"' _ "$raw"
check raw-mappings grep -q '^1: 0x400000/0x800000/0x0 /usr/bin/fixture abc123 \[FN\]\[FL\]\[LN\]\[IN\]' <<<"$raw"
check raw-mapping-2 grep -q '^2: 0x7f0000000000/0x7f0000100000/0x1000 /lib/libfake.so' <<<"$raw"

# -top with exact byte values: flat, cum and inline markers as built.
expected_top='1048576 98.36% 98.36% 1048576 98.36% lib.fn
12288 1.15% 99.51% 12288 1.15% bytes.growSlice (inline)
5120 0.48% 100% 17408 1.63% main.helper (inline)
100 0.0094% 100% 1066084 100% main.main
0 0% 100% 5120 0.48% main.alloc
0 0% 100% 1060864 99.51% main.worker'
got_top=$(oracle_top_exact "$work/basic.pb.gz")
if [ "$got_top" = "$expected_top" ]; then pass top-oracle-values; else
	fail top-oracle-values "$(echo "$got_top" | tr '\n' '|')"; fi

traces=$("$GO" tool pprof -traces "$work/basic.pb.gz" 2>&1)
check traces-inline grep -q 'bytes.growSlice (inline)' <<<"$traces"
check traces-comment grep -qx 'oomprof fixture comment' <<<"$traces"
check traces-count test "$(grep -c '^-----------+' <<<"$traces")" -eq 6
check traces-label grep -q 'kind:  large' <<<"$traces"

# default_sample_type picks what viewers show first.
check default-type-oracle grep -qx 'Type: alloc_space' <<<"$("$GO" tool pprof -top "$work/default.pb.gz" 2>&1)"
check default-type-top grep -qx 'Type: alloc_space' <<<"$("$OOMPROF" top "$work/default.pb.gz" 2>&1)"

# oomprof top agrees with go tool pprof -top, on these and on random profiles with
# inlining, recursion, zero and negative values, for every sample index.
for seed in 1 2 3; do
	"$FIXTURE" random "$seed" "$work/random$seed.pb.gz" ||
		fail "fixture-random$seed" "pprof-fixture random failed"
done
for f in basic default random1 random2 random3; do
	compare_top "$f" "$work/$f.pb.gz" "" alloc_objects alloc_space inuse_objects inuse_space
done
