#!/usr/bin/env bash
# Builds the Go test tools (tests/tools/*/main.go, standard library only) with the
# newest installed Go toolchain into OUT/tools/<name>. Skipped when the binary is newer
# than its sources. The build cache is the test programs' (OUT/.gocache), kept between
# runs: a fresh cache compiles net/http, which takes minutes on a loaded machine.
set -euo pipefail

out=${1:-build/testdata}
here=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out/tools"
out=$(cd "$out" && pwd)
go=$(ls -d /usr/lib/go-1.*/bin/go 2>/dev/null | sort -V | tail -n 1)
[ -n "$go" ] || { echo "build-go-tools: no Go toolchain (run scripts/deps.sh --test)" >&2; exit 1; }
export GOTOOLCHAIN=local GOPROXY=off GOFLAGS= GOCACHE=$out/.gocache GOPATH=$out/.gopath

for dir in "$here"/tests/tools/*/; do
	[ -e "$dir/main.go" ] || continue
	name=$(basename "$dir")
	bin=$out/tools/$name
	if [ -x "$bin" ] && [ -z "$(find "$dir" -name '*.go' -newer "$bin")" ]; then
		continue
	fi
	echo "  GO     $name"
	(cd "$dir" && "$go" build -o "$bin.tmp" ./main.go) && mv "$bin.tmp" "$bin"
done
