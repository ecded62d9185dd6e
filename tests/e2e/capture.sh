#!/usr/bin/env bash
# Kill-time capture: real OOM kills in memory cgroups, captured by the BPF programs
# (build/tests/capture-probe), checked against what the Go test programs allocate.
#   leaker       -mode=oom -rate 1 under 256 MiB: complete; in-use bytes 50–110 % of the
#                limit; 50/30/20 % in retainGeneric / fillInlined (retainInlined
#                inlined) / retainDeep, by the innermost frame of each bucket
#   manybuckets  -mode=oom: complete, >= 60,000 buckets, 128-frame stacks (1.23+) or 32
#   two victims at once, a non-Go victim, the classic-tracepoint fallback
# CAPTURE_MODES (default: all four build modes) and CAPTURE_VERSIONS (default: the oldest
# and the newest toolchain) set the matrix.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/capture.lib"

PROBE=$BUILD/tests/capture-probe
LIMIT_MB=256

if reason=$(e2e_blocker) && [ -n "$reason" ]; then
	skip all "$reason"
	exit 0
fi
for t in "$PROBE" "$MEMCG_RUN"; do
	[ -x "$t" ] || { fail setup "$t not built (make tests)"; exit 1; }
done
# The kernel side reads the same bucket list in every release: by default the oldest
# and the newest toolchain (e2e/watch kills every toolchain's programs through it).
versions=${CAPTURE_VERSIONS:-$(go_versions | sed -n '1p;$p' | sort -u)}
[ -n "$versions" ] || { fail setup "no Go toolchain"; exit 1; }
modes=${CAPTURE_MODES:-$BUILD_MODES}
newest=$(go_versions | tail -n1)

tmp=$(mktemp -d /tmp/capture-e2e.XXXXXX)
probes=()
cleanup() {
	local p
	for p in "${probes[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp" "$E2E_TMP"
}
trap cleanup EXIT

# start_probe DIR ARGS...: capture-probe in the background, waits until attached.
start_probe() {
	local dir=$1
	shift
	mkdir -p "$dir"
	"$PROBE" --ready "$dir/ready" --dump "$dir/dump" --timeout 150 "$@" >"$dir/out" 2>&1 &
	probe_pid=$!
	probes+=("$probe_pid")
	while [ ! -e "$dir/ready" ] && kill -0 "$probe_pid" 2>/dev/null; do sleep 0.1; done
	[ -e "$dir/ready" ]
}

# field LINE KEY: the value of KEY=... in a line of capture-probe output.
field() {
	sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"
}

# probe_for VERSION MODE PROGRAM: capture-probe arguments for that binary.
probe_for() {
	local addrs
	addrs=$(go_addrs "$1" "$2" "$3") || return 1
	set -- "$1" "$2" "$3" $addrs
	echo "--exec /$3 --mbuckets $4 --rate $5 --cycle $6 --binary $(testdata_bin "$1" "$2" "$3")"
	case $2 in pie*) echo --pie ;; esac
}

# check_leaker NAME DIR BIN: the capture in DIR of the leaker BIN.
check_leaker() {
	local name=$1 dir=$2 bin=$3 v=$4 prof bias status inuse lo hi shares g i d
	prof=$(grep '^profile ' "$dir/out" | head -n1)
	status=$(field "$prof" status)
	if [ "$status" != complete ]; then
		fail "$name" "status ${status:-none}: $(tail -n 4 "$dir/out" | tr '\n' ' ')"
		return
	fi
	inuse=$(field "$(grep '^cycles ' "$dir/out")" inuse_bytes)
	lo=$((LIMIT_MB * 1024 * 1024 / 2))
	hi=$((LIMIT_MB * 1024 * 1024 * 11 / 10))
	if [ "$inuse" -lt "$lo" ] || [ "$inuse" -gt "$hi" ]; then
		fail "$name" "in-use bytes $inuse outside [$lo, $hi]"
		return
	fi
	bias=$(field "$(grep '^registered ' "$dir/out")" bias)
	# The four innermost PCs of every bucket, minus the load bias and 1 (a return PC
	# points after the call), symbolized from the binary's own pclntab; a bucket counts
	# for its innermost frame outside the runtime (runtime/pprof hides those too: Go
	# 1.27 records runtime.mallocgc's callees above the allocating function).
	local b pc ab fb pcs k
	b=0
	while read -r _ _ _ _ _ ab fb _ pcs; do
		k=0
		for pc in $pcs; do
			[ $k -lt 4 ] || break
			printf '0x%x %d %d\n' $((pc - bias - 1)) $((ab - fb)) "$b"
			k=$((k + 1))
		done
		b=$((b + 1))
	done <"$dir/dump" >"$dir/pcs"
	# The newest toolchain's addr2line: go1.19's cannot read its own PIE binaries.
	shares=$(cut -d' ' -f1 "$dir/pcs" | "/usr/lib/go-$newest/bin/go" tool addr2line "$bin" |
		paste - - | cut -f1 | paste - <(cut -d' ' -f2,3 "$dir/pcs" | tr ' ' '\t') |
		awk -F '\t' -v total="$inuse" '
			$3 in done || $1 ~ /^runtime\./ { next }
			{ done[$3] = 1 }
			$1 ~ /^main\.retainGeneric/ { g += $2 }
			$1 == "main.fillInlined" || $1 == "main.retainInlined" { i += $2 }
			$1 == "main.retainDeep" { d += $2 }
			END { printf "%.1f %.1f %.1f", 100*g/total, 100*i/total, 100*d/total }')
	read -r g i d <<<"$shares"
	echo "$name: in-use $inuse bytes, generic/inlined/deep $g/$i/$d %"
	if awk -v g="$g" -v i="$i" -v d="$d" 'BEGIN {
		exit !((g-50)^2 <= 25 && (i-30)^2 <= 25 && (d-20)^2 <= 25) }'; then
		pass "$name"
	else
		fail "$name" "shares generic/inlined/deep = $g/$i/$d %, want 50/30/20 +-5"
	fi
}

# Leaker: every version and mode.
for v in $versions; do
	for mode in $modes; do
		name=leaker/go$v/$mode
		bin=$(testdata_bin "$v" "$mode" leaker)
		[ -x "$bin" ] || { fail "$name" "$bin missing (make tests)"; continue; }
		dir=$tmp/$name
		args=$(probe_for "$v" "$mode" leaker) || { fail "$name" "no runtime symbols"; continue; }
		# shellcheck disable=SC2086
		start_probe "$dir" $args || { fail "$name" "probe: $(cat "$dir/out")"; continue; }
		"$MEMCG_RUN" --limit ${LIMIT_MB}M --timeout 120 -- "$bin" -mode oom -rate 1 \
			>"$dir/run" 2>&1
		wait "$probe_pid"
		if ! grep -q 'outcome=oom-killed' "$dir/run"; then
			fail "$name" "not OOM-killed: $(tail -n1 "$dir/run")"
			continue
		fi
		check_leaker "$name" "$dir" "$bin" "$v"
	done
done

# manybuckets: default and pie-stripped builds.
for v in $versions; do
	for mode in default pie-stripped; do
		case " $modes " in *" $mode "*) ;; *) continue ;; esac
		name=manybuckets/go$v/$mode
		bin=$(testdata_bin "$v" "$mode" manybuckets)
		dir=$tmp/$name
		args="$(probe_for "$v" "$mode" manybuckets) --rt" || { fail "$name" "no runtime symbols"; continue; }
		# shellcheck disable=SC2086
		start_probe "$dir" $args || { fail "$name" "probe: $(cat "$dir/out")"; continue; }
		"$MEMCG_RUN" --limit 512M --timeout 140 -- "$bin" -mode oom >"$dir/run" 2>&1
		wait "$probe_pid"
		prof=$(grep '^profile ' "$dir/out" | head -n1)
		want_depth=32
		[ "$(printf '%s\n' "$v" 1.23 | sort -V | head -n1)" = 1.23 ] && want_depth=128
		status=$(field "$prof" status)
		n=$(field "$prof" buckets)
		depth=$(field "$prof" max_nstk)
		# From 1.23 the runtime records up to profstackdepth + 2 PCs (mProf_Malloc's
		# callers(3, profStack[:profstackdepth+2])): 128 to 130.
		if [ "$status" = complete ] && [ "${n:-0}" -ge 60000 ] && [ "${depth:-0}" -ge "$want_depth" ] &&
			[ "${depth:-0}" -le $((want_depth == 32 ? 32 : want_depth + 2)) ]; then
			pass "$name"
		else
			fail "$name" "status=$status buckets=$n depth=$depth (want complete, >= 60000, $want_depth): $prof"
		fi
	done
done

v=$(echo "$versions" | tr ' ' '\n' | tail -n1)
bin=$(testdata_bin "$v" default leaker)

# Two victims in two cgroups, killed at about the same time.
dir=$tmp/two
# shellcheck disable=SC2046
if start_probe "$dir" $(probe_for "$v" default leaker) --count 2; then
	"$MEMCG_RUN" --limit ${LIMIT_MB}M --timeout 120 -- "$bin" -mode oom -rate 1 >"$dir/run1" 2>&1 &
	r1=$!
	"$MEMCG_RUN" --limit ${LIMIT_MB}M --timeout 120 -- "$bin" -mode oom -rate 1 >"$dir/run2" 2>&1
	wait "$r1"
	wait "$probe_pid"
	ok=$(grep '^profile ' "$dir/out" | grep -c 'status=complete')
	pids=$(grep '^profile ' "$dir/out" | sed 's/.*tgid=\([0-9]*\).*/\1/' | sort -u | wc -l)
	if [ "$ok" = 2 ] && [ "$pids" = 2 ] && grep -q oom-killed "$dir/run1" &&
		grep -q oom-killed "$dir/run2"; then
		pass two-victims
	else
		fail two-victims "$ok complete captures of $pids processes: $(grep -E '^(profile|stats)' "$dir/out" | tr '\n' ' ')"
	fi
else
	fail two-victims "probe did not start"
fi

# A victim that is not a Go program: a victim event, nothing else, no crash.
dir=$tmp/nongo
if start_probe "$dir" --victims 1; then
	"$MEMCG_RUN" --limit 32M --timeout 60 -- \
		python3 -c 'b = []
while True: b.append(bytearray(1 << 20))' >"$dir/run" 2>&1
	wait "$probe_pid"
	rc=$?
	vline=$(grep '^victim ' "$dir/out" | head -n1)
	if [ $rc -eq 0 ] && [ "$(field "$vline" comm)" = python3 ] &&
		[ "$(field "$vline" registered)" = 0 ] && [ "$(field "$vline" anon_rss_kb)" -gt 1024 ] &&
		! grep -q '^profile ' "$dir/out"; then
		pass non-go-victim
	else
		fail non-go-victim "rc=$rc: $(cat "$dir/out" | tr '\n' ' ')"
	fi
else
	fail non-go-victim "probe did not start"
fi

# The classic-tracepoint fallback (no tp_btf): the victim's thread id re-keyed by tgid.
dir=$tmp/classic
# shellcheck disable=SC2046
if start_probe "$dir" $(probe_for "$v" default leaker) --classic; then
	"$MEMCG_RUN" --limit ${LIMIT_MB}M --timeout 120 -- "$bin" -mode oom -rate 1 >"$dir/run" 2>&1
	wait "$probe_pid"
	if grep -q '^attached variant=classic' "$dir/out"; then
		check_leaker classic "$dir" "$bin" "$v"
	else
		fail classic "$(head -n1 "$dir/out")"
	fi
else
	fail classic "probe did not start"
fi
