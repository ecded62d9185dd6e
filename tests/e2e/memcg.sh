#!/usr/bin/env bash
# The memory-cgroup runner: a real OOM kill of a Go test program in a memory cgroup,
# a normal exit, and the cgroup removed every time.
source "$(dirname "$0")/../lib.sh"

why=$(e2e_blocker)
if [ -n "$why" ]; then
	skip oom-kill "$why"
	exit 0
fi

tmp=$E2E_TMP

# cgroup_gone REPORT: the cgroup named in a memcg-run report no longer exists.
cgroup_gone() {
	local cg
	cg=$(sed -n 's/^cgroup=//p' "$1")
	[ -n "$cg" ] && [ ! -e "$cg" ]
}

for v in $(go_versions); do
	bin=$(testdata_bin "$v" default leaker)
	"$MEMCG_RUN" --limit 128M --timeout 120 --report "$tmp/r" -- "$bin" -mode oom -rate 1 \
		>/dev/null 2>&1
	rc=$?
	if [ $rc -eq 137 ] && grep -qx outcome=oom-killed "$tmp/r" && grep -qx oom_kills=1 "$tmp/r"; then
		pass "go$v-leaker-oom-killed"
	else
		fail "go$v-leaker-oom-killed" "rc=$rc report: $(tr '\n' ' ' <"$tmp/r")"
	fi
	# The peak usage reached the limit: the kill came from the limit, not elsewhere.
	peak=$(sed -n 's/^peak=//p' "$tmp/r")
	if [ -n "$peak" ] && [ "$peak" -ge $((120 << 20)) ]; then
		pass "go$v-peak-at-limit"
	else
		fail "go$v-peak-at-limit" "peak=$peak"
	fi
	check "go$v-cgroup-removed" cgroup_gone "$tmp/r"
done

# A command that stays under its limit exits normally and keeps its exit status.
"$MEMCG_RUN" --limit 64M --report "$tmp/r" -- sh -c 'exit 3' 2>/dev/null
rc=$?
if [ $rc -eq 3 ] && grep -qx outcome=exited "$tmp/r" && grep -qx oom_kills=0 "$tmp/r"; then
	pass exit-status-kept
else
	fail exit-status-kept "rc=$rc $(tr '\n' ' ' <"$tmp/r")"
fi
check exit-cgroup-removed cgroup_gone "$tmp/r"

# The command runs inside the cgroup it was given.
inside=$("$MEMCG_RUN" --limit 64M -- sh -c 'cat /proc/self/cgroup' 2>/dev/null)
if echo "$inside" | grep -q 'memory.*memcg-run-\|0::/.*memcg-run-'; then
	pass runs-inside-cgroup
else
	fail runs-inside-cgroup "$inside"
fi

# Bad input: a clear error and a non-zero exit.
"$MEMCG_RUN" --limit nonsense -- true 2>"$tmp/err"
rc=$?
if [ $rc -eq 2 ] && grep -q "bad --limit" "$tmp/err"; then
	pass bad-limit-rejected
else
	fail bad-limit-rejected "rc=$rc $(cat "$tmp/err")"
fi
