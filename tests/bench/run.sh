#!/usr/bin/env bash
# Runs every benchmark script tests/bench/*.sh; each prints its own figures.
set -uo pipefail
cd "$(dirname "$0")/../.."
rc=0
for script in tests/bench/*.sh; do
	[ "$(basename "$script")" = run.sh ] && continue
	echo "== bench $(basename "$script" .sh)"
	bash "$script" || rc=1
done
exit $rc
