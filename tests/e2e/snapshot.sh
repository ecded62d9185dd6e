#!/usr/bin/env bash
# oomprof snapshot against its oracles: the program's own runtime/pprof heap profile
# (identical samples), go tool pprof (accepts every file, same inline frames), a leaker
# whose retained shares are known, and the 50,000-bucket program. Then the errors.
source "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip all "needs root to read other processes' memory"
	exit 0
fi

# Oracle: heaporacle writes its own heap profile after runtime.GC() and then stays
# quiescent; a published-cycles snapshot at that moment must hold the same multiset of
# (stack of function names, object size, four values).
oracle() {
	local v=$1 mode=$2 rate=$3 name="oracle-go$1-$2-rate$3" dir=$E2E_TMP/$1-$2-$3
	mkdir -p "$dir"
	if ! prog_start oracle "$(testdata_bin "$v" "$mode" heaporacle)" -rate "$rate"; then
		fail "$name" "heaporacle did not start"
		return
	fi
	prog_send oracle "profile $dir/theirs.pb.gz" || { fail "$name" "no oracle profile"; return; }
	if ! "$OOMPROF" snapshot -q "${PROG_PID[oracle]}" -o "$dir/ours.pb.gz" --cycles published \
		2>"$dir/err"; then
		fail "$name" "snapshot failed: $(cat "$dir/err")"
		prog_stop oracle
		return
	fi
	prog_stop oracle
	pprof_samples "$v" "$dir/theirs.pb.gz" >"$dir/theirs.txt"
	pprof_samples "$v" "$dir/ours.pb.gz" >"$dir/ours.txt"
	local n
	n=$(wc -l <"$dir/theirs.txt")
	if [ "$n" -lt 20 ] || ! grep -q 'main.newRecord' "$dir/theirs.txt"; then
		fail "$name" "the oracle profile has only $n samples"
	elif ! diff -q "$dir/theirs.txt" "$dir/ours.txt" >/dev/null; then
		fail "$name" "samples differ: $(diff "$dir/theirs.txt" "$dir/ours.txt" | head -n 4 | tr '\n' ' ')"
	else
		pass "$name"
	fi
	# go tool pprof reads every view of our file, with (inline) where the oracle has it.
	local g=/usr/lib/go-$v/bin/go
	if "$g" tool pprof -top "$dir/ours.pb.gz" >/dev/null 2>&1 &&
		"$g" tool pprof -traces "$dir/ours.pb.gz" >"$dir/ours.traces" 2>/dev/null &&
		"$g" tool pprof -traces "$dir/theirs.pb.gz" >"$dir/theirs.traces" 2>/dev/null &&
		diff <(grep -o '[^ ]* (inline)' "$dir/theirs.traces" | sort -u) \
			<(grep -o '[^ ]* (inline)' "$dir/ours.traces" | sort -u) >/dev/null &&
		grep -q '(inline)' "$dir/ours.traces"; then
		pass "$name-pprof-views-and-inline"
	else
		fail "$name-pprof-views-and-inline" "go tool pprof -top/-traces disagree: $(diff \
			<(grep -o '[^ ]* (inline)' "$dir/theirs.traces" 2>/dev/null | sort -u) \
			<(grep -o '[^ ]* (inline)' "$dir/ours.traces" 2>/dev/null | sort -u) | head -n 6 | tr '\n' ' ')"
	fi
}

for v in $(go_versions); do
	for mode in $BUILD_MODES; do
		oracle "$v" "$mode" 1
		oracle "$v" "$mode" 524288
	done
done

# The leaker retains 50/30/20 % in retainGeneric, retainInlined (inlined), retainDeep.
# At the default rate about one sample per 512 KiB is taken: 512 MiB gives ~1,000
# samples, so a share's sampling noise is under 2 points, well inside ±10.
shares() {
	local v=$1 mode=$2 rate=$3 tol=$4 name="shares-go$1-$2-rate$3" f=$E2E_TMP/shares.pb.gz
	prog_start leaker "$(testdata_bin "$v" "$mode" leaker)" -mode hold -mb "$([ "$rate" = 1 ] && echo 96 || echo 512)" -rate "$rate" ||
		{ fail "$name" "leaker did not start"; return; }
	"$OOMPROF" snapshot -q "${PROG_PID[leaker]}" -o "$f" --cycles latest 2>"$E2E_TMP/err" ||
		{ fail "$name" "$(cat "$E2E_TMP/err")"; prog_stop leaker; return; }
	prog_stop leaker
	local g i d
	g=$(share "$f" "$v" main.retainGeneric)
	i=$(share "$f" "$v" main.retainInlined)
	d=$(share "$f" "$v" main.retainDeep)
	if within "$g" 50 "$tol" && within "$i" 30 "$tol" && within "$d" 20 "$tol"; then
		pass "$name"
	else
		fail "$name" "shares generic/inlined/deep = $g/$i/$d %, want 50/30/20 ±$tol"
	fi
}

for v in $(go_versions); do
	shares "$v" default 1 3
	shares "$v" pie-stripped 1 3
	shares "$v" stripped 524288 10
done

# 60,000 buckets with 128-frame stacks come through complete (32 frames before 1.23).
for v in $(go_versions); do
	name="manybuckets-go$v"
	f=$E2E_TMP/many.pb.gz
	prog_start many "$(testdata_bin "$v" pie-stripped manybuckets)" || { fail "$name" "did not start"; continue; }
	"$OOMPROF" snapshot -q "${PROG_PID[many]}" -o "$f" 2>"$E2E_TMP/err" ||
		{ fail "$name" "$(cat "$E2E_TMP/err")"; prog_stop many; continue; }
	prog_stop many
	read -r nsites depth < <(/usr/lib/go-$v/bin/go tool pprof -raw "$f" 2>/dev/null |
		awk '/^Samples:/ {s = 1; next} /^Locations/ {s = 0}
			s && /: / { split($0, h, ": "); n = split(h[2], ids, " ");
				if (n > max) max = n; stacks[h[2]] = 1 }
			END { c = 0; for (k in stacks) c++; print c, max }')
	want=31
	[ "${v#1.}" -ge 23 ] && want=120
	if [ "${nsites:-0}" -ge 60000 ] && [ "${depth:-0}" -ge "$want" ]; then
		pass "$name"
	else
		fail "$name" "distinct stacks $nsites (want >= 60000), deepest $depth locations (want >= $want)"
	fi
done

# oomprof top agrees with go tool pprof -top on a snapshot.
v=$(go_versions | tail -n 1)
prog_start oracle "$(testdata_bin "$v" default heaporacle)" -rate 1 && {
	"$OOMPROF" snapshot -q "${PROG_PID[oracle]}" -o "$E2E_TMP/top.pb.gz"
	prog_stop oracle
	rows='NF >= 6 && $1 ~ /^[0-9]+B?$/ && $2 ~ /%$/ { sub("B$", "", $1); sub("B$", "", $4); print $1, $4, $6, $7 }'
	ours=$("$OOMPROF" top --exact "$E2E_TMP/top.pb.gz" 2>&1 | awk "$rows")
	theirs=$(/usr/lib/go-$v/bin/go tool pprof -top -unit=B -nodefraction=0 -edgefraction=0 "$E2E_TMP/top.pb.gz" 2>/dev/null | awk "$rows")
	if [ -n "$ours" ] && [ "$ours" = "$theirs" ]; then
		pass top-agrees-with-pprof
	else
		fail top-agrees-with-pprof "ours: $(echo "$ours" | head -n 3 | tr '\n' ';') theirs: $(echo "$theirs" | head -n 3 | tr '\n' ';')"
	fi
}

# ---- errors: a clear message, a non-zero exit, and no file left behind ----
# expect_error NAME PATTERN CMD...
expect_error() {
	local name=$1 pattern=$2 out rc
	shift 2
	rm -rf "$E2E_TMP/out" && mkdir -p "$E2E_TMP/out"
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && echo "$out" | grep -qiE "$pattern" && [ -z "$(ls -A "$E2E_TMP/out")" ]; then
		pass "$name"
	else
		fail "$name" "rc=$rc files=$(ls "$E2E_TMP/out" | tr '\n' ' ') out=$out"
	fi
}

sleep 60 &
sleeper=$!
expect_error not-go "is not a Go program" "$OOMPROF" snapshot "$sleeper" -d "$E2E_TMP/out"
kill "$sleeper"
wait "$sleeper" 2>/dev/null
expect_error no-such-process "no such process" "$OOMPROF" snapshot 999999999 -d "$E2E_TMP/out"
expect_error bad-pid "not a process id" "$OOMPROF" snapshot 12abc -d "$E2E_TMP/out"
expect_error bad-cycles "latest or published" "$OOMPROF" snapshot 1 --cycles newest -d "$E2E_TMP/out"

prog_start noprof "$(testdata_bin "$v" stripped leaker-noprof)" -mode hold -mb 8
expect_error profiling-disabled "disabled.*runtime/pprof" "$OOMPROF" snapshot "${PROG_PID[noprof]}" -d "$E2E_TMP/out"
prog_stop noprof

prog_start perm "$(testdata_bin "$v" default leaker)" -mode hold -mb 8
if command -v setpriv >/dev/null; then
	expect_error no-permission "permission denied" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$OOMPROF" snapshot "${PROG_PID[perm]}" -d "$E2E_TMP/out"
else
	skip no-permission "setpriv is not installed"
fi

# A corrupt bucket list, made by writing into the process's memory as root: a cycle in
# allnext, then an absurd nstk. Without --partial nothing is written; with it the file
# says what happened.
pid=${PROG_PID[perm]}
mbuckets=$("$OOMPROF" inspect --json "$(testdata_bin "$v" default leaker)" |
	grep -o '"runtime.mbuckets":{"address":"0x[0-9a-f]*' | grep -o '0x[0-9a-f]*$')
read_u64() { dd if=/proc/$pid/mem bs=8 count=1 skip=$(($1 / 8)) status=none | od -An -tu8 | tr -d ' '; }
write_u64() { printf "$(printf '%016x' "$2" | sed -E 's/(..)(..)(..)(..)(..)(..)(..)(..)/\\x\8\\x\7\\x\6\\x\5\\x\4\\x\3\\x\2\\x\1/')" |
	dd of=/proc/$pid/mem bs=8 seek=$(($1 / 8)) conv=notrunc status=none; }
head=$(read_u64 $((mbuckets)))
if [ -n "$head" ] && [ "$head" -ne 0 ]; then
	next=$(read_u64 $((head + 8)))
	write_u64 $((head + 8)) "$head"
	expect_error corrupt-cycle "corrupt.*cycle" "$OOMPROF" snapshot "$pid" -d "$E2E_TMP/out"
	rm -rf "$E2E_TMP/out" && mkdir -p "$E2E_TMP/out"
	if "$OOMPROF" snapshot -q --partial "$pid" -o "$E2E_TMP/out/p.pb.gz" &&
		/usr/lib/go-$v/bin/go tool pprof -comments "$E2E_TMP/out/p.pb.gz" 2>/dev/null | grep -q 'capture status: corrupt'; then
		pass corrupt-partial-marked
	else
		fail corrupt-partial-marked "no partial file marked corrupt"
	fi
	write_u64 $((head + 8)) "$next"
	nstk=$(read_u64 $((head + 40)))
	write_u64 $((head + 40)) $((1 << 60))
	expect_error corrupt-nstk "corrupt.*stack depth" "$OOMPROF" snapshot "$pid" -d "$E2E_TMP/out"
	write_u64 $((head + 40)) "$nstk"
	check restored-list-reads "$OOMPROF" snapshot -q "$pid" -o "$E2E_TMP/restored.pb.gz"
else
	fail corrupt-cycle "could not read runtime.mbuckets at $mbuckets"
fi
prog_stop perm
