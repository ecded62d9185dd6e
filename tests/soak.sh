#!/usr/bin/env bash
# make soak: 1,000 OOM kills of the leaker in a row with the daemon running. Prints
# the lost captures (goal 0) and the daemon's fds, BPF map entries and RSS before and
# after, and the daemon's own counters; exits 1 when a capture was lost or anything grew.
#   tests/soak.sh [KILLS]
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/e2e/soak.lib"

why=$(e2e_blocker)
[ -z "$why" ] || { echo "soak: $why"; exit 1; }
trap 'watch_stop; rm -rf "$E2E_TMP"' EXIT
v=$(go_versions | grep -x 1.23 || go_versions | tail -n 1)
watch_start -v || { echo "soak: the daemon did not start: $(tail -n 3 "$LOG")"; exit 1; }
start=$(date +%s)
soak_run "${1:-1000}" 64M "$(testdata_bin "$v" default leaker)" -mode oom -rate 1
rc=$?
echo "soak: go$v leaker in 64 MiB memory cgroups, $(($(date +%s) - start)) s;" \
	"further marks of a dying process joined its capture: $(grep -c 'marked too; same death' "$LOG")"
watch_stop || { echo "soak: the daemon exited with an error"; rc=1; }
echo "soak: $(grep -o 'capture counters: .*' "$LOG" | tail -n 1)"
exit $rc
