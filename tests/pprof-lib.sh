# Helpers for the end-to-end tests of pprof files and `oomprof top` (source it after
# tests/lib.sh): run the oracle, `go tool pprof`, and compare its -top table with ours.

# The newest installed Go toolchain's go binary (its pprof is the oracle).
oracle_go() {
	local v
	v=$(go_versions | tail -n1)
	[ -n "$v" ] && [ -x "/usr/lib/go-$v/bin/go" ] && echo "/usr/lib/go-$v/bin/go"
}

# The rows of a -top table, whitespace collapsed: "flat flat% sum% cum cum% name".
top_rows() {
	sed -n '/ flat%  *sum%/,$p' | tail -n +2 | sed 's/^ *//; s/  */ /g; s/ *$//'
}

# Strips pprof's "B" from the two value columns (go tool pprof -unit=B).
strip_bytes() {
	awk '{ sub(/B$/, "", $1); sub(/B$/, "", $4); print }'
}

# oracle_top_exact FILE [SAMPLE_INDEX]: go tool pprof -top rows with exact integers.
oracle_top_exact() {
	"$GO" tool pprof -top -nodefraction=0 -edgefraction=0 -unit=B ${2:+-sample_index="$2"} "$1" 2>/dev/null |
		top_rows | strip_bytes
}

# oracle_top FILE [SAMPLE_INDEX]: go tool pprof -top as printed (scaled units).
oracle_top() {
	"$GO" tool pprof -top -nodefraction=0 -edgefraction=0 ${2:+-sample_index="$2"} "$1" 2>/dev/null | top_rows
}

# compare_top NAME FILE INDEX...: for each sample index ("" = the default), oomprof
# top must print the oracle's rows: exact values with --exact, and the same text
# (units, percentages, inline markers) without.
compare_top() {
	local name=$1 file=$2 idx want got
	shift 2
	for idx in "$@"; do
		local tag=$name/${idx:-default}
		want=$(oracle_top_exact "$file" "$idx")
		got=$("$OOMPROF" top --exact ${idx:+--sample-index "$idx"} "$file" | top_rows)
		if [ -z "$want" ]; then
			fail "$tag/exact" "the oracle printed no rows"
		elif [ "$got" = "$want" ]; then
			pass "$tag/exact"
		else
			fail "$tag/exact" "$(diff <(echo "$want") <(echo "$got") | head -n 6 | tr '\n' '|')"
		fi
		want=$(oracle_top "$file" "$idx")
		got=$("$OOMPROF" top ${idx:+--sample-index "$idx"} "$file" | top_rows)
		if [ "$got" = "$want" ]; then
			pass "$tag/text"
		else
			fail "$tag/text" "$(diff <(echo "$want") <(echo "$got") | head -n 6 | tr '\n' '|')"
		fi
	done
}

# heap_profiles BIN OUT1 OUT2: two profiles from one heaporacle run, before and after
# a round of garbage (so that alloc_* and inuse_* differ). The caller's cleanup kills
# $oracle_pid if it is still set.
heap_profiles() {
	local bin=$1 reply
	coproc ORACLE { exec "$bin"; }
	oracle_pid=$ORACLE_PID
	read -r -t 60 reply <&"${ORACLE[0]}" # "ready ..."
	for cmd in "profile $2" churn "profile $3"; do
		echo "$cmd" >&"${ORACLE[1]}"
		read -r -t 60 reply <&"${ORACLE[0]}" || reply=timeout
		[ "$reply" = ok ] || { echo "heaporacle: $cmd: $reply" >&2; break; }
	done
	echo quit >&"${ORACLE[1]}"
	wait "$oracle_pid" 2>/dev/null
	oracle_pid=
	[ "$reply" = ok ]
}
