#!/usr/bin/env bash
# oomprof diff BEFORE AFTER prints the top 10 rows `go tool pprof -top -diff_base=BEFORE
# AFTER` prints: on two heap profiles of one heaporacle run (every sample index), and on
# a pre-kill snapshot and the kill-time profile of one leaking process (oomprof run).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../pprof-lib.sh"

if ! GO=$(oracle_go); then
	skip oracle "no Go toolchain at /usr/lib/go-1.*"
	exit 0
fi
V=1.23
oracle_pid=
trap '[ -n "$oracle_pid" ] && kill "$oracle_pid" 2>/dev/null; rm -rf "$E2E_TMP"' EXIT
tmp=$E2E_TMP

# compare_diff NAME BEFORE AFTER INDEX...: the first 10 rows, exact and as printed.
compare_diff() {
	local name=$1 before=$2 after=$3 idx want got
	shift 3
	for idx in "$@"; do
		local tag=$name/${idx:-default} unit=-unit=B exact=--exact
		for form in exact text; do
			[ $form = text ] && unit= exact=
			want=$("$GO" tool pprof -top -nodefraction=0 -edgefraction=0 $unit ${idx:+-sample_index="$idx"} \
				-diff_base="$before" "$after" 2>/dev/null | top_rows | head -n 10)
			[ $form = exact ] && want=$(strip_bytes <<<"$want")
			got=$("$OOMPROF" diff $exact ${idx:+--sample-index "$idx"} "$before" "$after" | top_rows | head -n 10)
			if [ -z "$want" ]; then
				fail "$tag/$form" "the oracle printed no rows"
			elif [ "$got" = "$want" ]; then
				pass "$tag/$form"
			else
				fail "$tag/$form" "$(diff <(echo "$want") <(echo "$got") | head -n 6 | tr '\n' '|')"
			fi
		done
	done
}

bin=$(testdata_bin $V default heaporacle)
if heap_profiles "$bin" "$tmp/a.pb.gz" "$tmp/b.pb.gz" 2>"$tmp/err"; then
	# (the churn leaves inuse_* as it was: nothing to compare there)
	compare_diff heaporacle "$tmp/a.pb.gz" "$tmp/b.pb.gz" alloc_objects alloc_space
	compare_diff heaporacle-reversed "$tmp/b.pb.gz" "$tmp/a.pb.gz" alloc_space
else
	fail heaporacle "$(tr '\n' ' ' <"$tmp/err")"
fi

why=$(e2e_blocker)
if [ -n "$why" ]; then
	skip before-and-at-kill "$why"
	exit 0
fi
"$OOMPROF" run --memory-limit 128M --snapshot-at 60 -d "$tmp/run" -- \
	"$(testdata_bin $V default cimem)" -mode leak -chunk 65536 -rate 4096 2>"$tmp/run.err"
before=$(ls "$tmp"/run/*.prekill-60pct.pb.gz 2>/dev/null | head -n 1)
after=$(ls "$tmp"/run/*Z.pb.gz 2>/dev/null | head -n 1)
if [ -n "$before" ] && [ -n "$after" ]; then
	compare_diff before-and-at-kill "$before" "$after" "" alloc_objects
else
	fail before-and-at-kill "no snapshot and kill profile: $(ls "$tmp/run" | tr '\n' ' ') $(tr '\n' ' ' <"$tmp/run.err")"
fi
