#!/usr/bin/env bash
# gosym against live testdata processes, every toolchain and build mode:
#  - frames: bucket stacks (runtime.MemProfile PCs, printed by the leaker's "frames"
#    command) expand to exactly the frames the program's own runtime.CallersFrames
#    printed, inlined frames included; also for leaker-cgo, linked externally, where
#    go tool addr2line is no oracle;
#  - globals: each global's address (+ PIE load bias from /proc/PID/maps) holds the
#    expected value in the process: MemProfileRate = -rate, disableMemoryProfiling 0/1
#    in leaker/leaker-noprof, mbuckets → a memory bucket, allglen/allgptr/mProfCycle sane;
#  - methods: in unstripped builds the symtab and code-decoding methods agree.
source "$(dirname "$0")/../lib.sh"
CHECK=$BUILD/tests/gosym-check
work=$E2E_TMP # removed on exit by lib.sh

if [ "$(id -u)" -ne 0 ]; then
	skip live "needs root to read /proc/PID/mem"
	exit 0
fi

# run_leaker NAME BIN RATE DISABLED [ARGS...]: start BIN in hold mode, run the checks, quit.
run_leaker() {
	local name=$1 bin=$2 rate=$3 disabled=$4 line pid out
	shift 4
	coproc LK { exec "$bin" -mode hold -mb 4 "$@" 2>&1; }
	pid=$LK_PID
	if ! read -r -t 60 line <&"${LK[0]}" || ! read -r -t 60 line <&"${LK[0]}" ||
		[[ $line != ready* ]]; then
		fail "$name/start" "leaker did not get ready: $line"
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return
	fi
	if [ "$disabled" = 0 ]; then
		echo "frames $work/frames" >&"${LK[1]}"
		if read -r -t 60 line <&"${LK[0]}" && [ "$line" = ok ]; then
			if out=$("$CHECK" frames "$bin" "$pid" "$work/frames" 2>&1); then
				pass "$name/frames ($(echo "$out" | tail -n1))"
			else
				fail "$name/frames" "$(echo "$out" | head -n 4 | tr '\n' ';')"
			fi
		else
			fail "$name/frames" "frames command answered: $line"
		fi
	fi
	if out=$("$CHECK" globals "$bin" "$pid" "$rate" "$disabled" 2>&1); then
		pass "$name/globals"
	else
		fail "$name/globals" "$(echo "$out" | grep -E 'mismatch|gosym' | head -n 4 | tr '\n' ';')"
	fi
	echo quit >&"${LK[1]}"
	wait "$pid" 2>/dev/null
}

for v in $(go_versions); do
	for mode in $BUILD_MODES; do
		bin=$(testdata_bin "$v" "$mode" leaker)
		nbin=$(testdata_bin "$v" "$mode" leaker-noprof)
		run_leaker "go$v/$mode/leaker" "$bin" 4096 0 -rate 4096
		run_leaker "go$v/$mode/leaker-noprof" "$nbin" 0 1
		# externally linked (cgo): the program's own CallersFrames is the oracle
		run_leaker "go$v/$mode/leaker-cgo" "$(testdata_bin "$v" "$mode" leaker-cgo)" 4096 0 -rate 4096
		case $mode in
		default | pie)
			for prog in leaker leaker-noprof manybuckets heaporacle cgoprog; do
				check "go$v/$mode/$prog/methods-agree" "$CHECK" bothmethods \
					"$(testdata_bin "$v" "$mode" "$prog")"
			done
			;;
		esac
	done
done
