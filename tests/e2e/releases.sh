#!/usr/bin/env bash
# A Go release newer than the newest oomprof knows, on a real program: the newest
# toolchain's leaker with "go1.28.0" written into its build info (the runtime never
# reads it, so the program runs as before). inspect names the release and still says
# yes; a snapshot and a kill-time profile are written, their comments and the daemon's
# log say "runtime layout not verified for go1.28.0", and the kill line names it.
# Also: every toolchain's build info version is a release of the table.
source "$(dirname "$0")/../lib.sh"

why=$(e2e_blocker)
if [ -n "$why" ]; then
	skip all "$why"
	exit 0
fi
trap 'watch_stop; prog_stop_all; rm -rf "$E2E_TMP"' EXIT

CHECK_TOOL=$BUILD/tests/gosym-check
v=$(go_versions | tail -n 1)
go=/usr/lib/go-$v/bin/go
orig=$(testdata_bin "$v" pie-stripped leaker)
have=$("$go" version "$orig" | sed 's/.*: //')
# The same length as the real version, so that only those bytes change.
next=go1.28.0
while [ ${#next} -lt ${#have} ]; do next+=0; done
next=${next:0:${#have}}
say="Go ${next#go} is newer than the releases this oomprof knows (1.19–1.27)"
bin=$E2E_TMP/leaker128
if ! "$CHECK_TOOL" retag "$orig" "$bin" "$next" || [ "$("$go" version "$bin" | sed 's/.*: //')" != "$next" ]; then
	fail retag "could not write $next into the build info of $orig"
	exit 0
fi

# ---- inspect ----
out=$("$OOMPROF" inspect "$bin" 2>&1)
verdict=$(sed -n 's/^verdict: *//p' <<<"$out")
if [[ "$verdict" == "yes, runtime layout not verified for $next: $say;"* ]] &&
	! grep -q 'not found' <<<"$out"; then
	pass "inspect-$next"
else
	fail "inspect-$next" "$(tr '\n' ' ' <<<"$out" | tail -c 400)"
fi
json=$("$OOMPROF" inspect --json "$bin")
if [[ $json == *'"can_profile":true'* && $json == *"$say"* ]]; then
	pass "inspect-json-$next"
else
	fail "inspect-json-$next" "${json: -300}"
fi

# ---- snapshot: the same samples as the program's own profile, and the note ----
dir=$E2E_TMP/snap
mkdir -p "$dir"
oracle=$E2E_TMP/heaporacle128
if "$CHECK_TOOL" retag "$(testdata_bin "$v" pie-stripped heaporacle)" "$oracle" "$next" &&
	prog_start oracle "$oracle" -rate 1 && prog_send oracle "profile $dir/theirs.pb.gz" &&
	"$OOMPROF" snapshot -q "${PROG_PID[oracle]}" -o "$dir/ours.pb.gz" --cycles published 2>"$dir/err"; then
	prog_stop oracle
	note=$("$go" tool pprof -comments "$dir/ours.pb.gz" 2>/dev/null | grep -c "runtime layout not verified for $next: $say")
	if [ "$note" -eq 1 ] && diff -q <(pprof_samples "$v" "$dir/theirs.pb.gz") \
		<(pprof_samples "$v" "$dir/ours.pb.gz") >/dev/null &&
		[ "$(pprof_samples "$v" "$dir/theirs.pb.gz" | wc -l)" -ge 20 ]; then
		pass "snapshot-$next"
	else
		fail "snapshot-$next" "note lines $note; samples: $(diff <(pprof_samples "$v" "$dir/theirs.pb.gz") \
			<(pprof_samples "$v" "$dir/ours.pb.gz") | head -n 4 | tr '\n' ' ')"
	fi
else
	fail "snapshot-$next" "$(cat "$dir/err" 2>/dev/null)"
	prog_stop oracle
fi

# ---- watch: a kill-time profile, with the release named in the log and the profile ----
if ! watch_start; then
	fail watch-start "the daemon did not start: $(tail -n 5 "$LOG" | tr '\n' ' ')"
	exit 0
fi
"$MEMCG_RUN" --limit 256M --timeout 120 --report "$E2E_TMP/report" -- "$bin" -mode oom -rate 1 \
	>/dev/null 2>&1
pid=$(sed -n 's/^pid=//p' "$E2E_TMP/report")
f=
for ((i = 0; i < 100; i++)); do
	f=$(ls "$OUT"/*-"$pid"-*.pb.gz 2>/dev/null | head -n 1)
	[ -n "$f" ] && break
	sleep 0.05
done
if ! grep -qx outcome=oom-killed "$E2E_TMP/report"; then
	fail "watch-$next" "not OOM-killed: $(tr '\n' ' ' <"$E2E_TMP/report")"
elif [ -z "$f" ]; then
	fail "watch-$next" "no profile: $(grep -- "$pid" "$LOG" | tail -n 3 | tr '\n' ' ')"
else
	errs=()
	grep -q "OOM kill: pid $pid (.*$next).*capturing its heap profile; $say" "$LOG" ||
		errs+=("kill line: $(grep "OOM kill: pid $pid " "$LOG" | head -n 1)")
	grep -q "profile written: .*-$pid-.*capture complete, runtime layout not verified for $next; profile explains " "$LOG" ||
		errs+=("written line: $(grep "profile written: .*-$pid-" "$LOG" | head -n 1)")
	"$go" tool pprof -comments "$f" 2>/dev/null | grep -q "runtime layout not verified for $next: $say" ||
		errs+=("no note in the profile's comments")
	g=$(share "$f" "$v" main.retainGeneric)
	i=$(share "$f" "$v" main.retainInlined)
	d=$(share "$f" "$v" main.retainDeep)
	within "$g" 50 5 && within "$i" 30 5 && within "$d" 20 5 ||
		errs+=("shares generic/inlined/deep = $g/$i/$d %, want 50/30/20 ±5")
	if [ ${#errs[@]} -eq 0 ]; then pass "watch-$next"; else fail "watch-$next" "${errs[*]}"; fi
fi

# ---- a newer release oomprof cannot profile: one line naming pid, program, version ----
# Renaming runtime.mProf_FlushLocked in the name table hides runtime.mbuckets from the
# decoder of this stripped binary (the runtime itself never looks a function up by name).
odd=$E2E_TMP/leaker128x
if "$CHECK_TOOL" rename "$bin" "$odd" runtime.mProf_FlushLocked runtime.mProf_FlushLockeX; then
	"$MEMCG_RUN" --limit 128M --timeout 120 --report "$E2E_TMP/report" -- "$odd" -mode oom -rate 1 \
		>/dev/null 2>&1
	pid=$(sed -n 's/^pid=//p' "$E2E_TMP/report")
	ere() { sed 's/[][\.*^$()+?{}|]/\\&/g' <<<"$1"; }
	line="OOM kill: pid $pid $(ere "(leaker128x, $next)"), anon-rss [0-9]+ kB: a Go program oomprof cannot profile: $(ere "$say"); .*mbuckets.*; no profile"
	if ! grep -qx outcome=oom-killed "$E2E_TMP/report"; then
		fail "watch-$next-unprofilable" "not OOM-killed: $(tr '\n' ' ' <"$E2E_TMP/report")"
	elif wait_for "$LOG" "$line" 5 && [ "$(grep -c -- "pid $pid " "$LOG")" -eq 1 ] &&
		! grep -q "pid $pid .*not a Go program" "$LOG" && ! ls "$OUT" | grep -q -- "-$pid-"; then
		pass "watch-$next-unprofilable"
	else
		fail "watch-$next-unprofilable" "$(grep -- "pid $pid " "$LOG" | tail -n 2 | tr '\n' ' ')"
	fi
else
	fail "watch-$next-unprofilable" "could not rename runtime.mProf_FlushLocked"
fi
watch_stop || fail watch-exit "the daemon exited with an error"

# ---- every installed toolchain is a release of the table (and not "newer") ----
for tv in $(go_versions); do
	out=$("$OOMPROF" inspect "$(testdata_bin "$tv" default leaker)" 2>&1)
	if grep -q '^verdict: *yes: oomprof can profile' <<<"$out"; then
		pass "known-go$tv"
	else
		fail "known-go$tv" "$(sed -n 's/^verdict: *//p' <<<"$out")"
	fi
done
