#!/usr/bin/env bash
# Builds the Go test programs in testdata/ with every installed Go toolchain
# (/usr/lib/go-1.*) in four modes, into OUT/go<VERSION>/<MODE>/<PROGRAM>:
#   default        go build
#   stripped       -ldflags='-s -w'
#   pie            -buildmode=pie
#   pie-stripped   both
# Programs: every folder of testdata/ with Go files, plus variants listed below.
# A build is skipped when its stamp (toolchain, flags, source hash) is unchanged.
set -euo pipefail

out=${1:-build/testdata}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

# name:folder:extra go build flags
variants=("leaker-noprof:leaker:-tags=noprof")

export GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod GO111MODULE=on
export GOCACHE=$out/.gocache GOPATH=$out/.gopath

toolchains=$(ls -d /usr/lib/go-1.*/bin/go 2>/dev/null | sort -V || true)
if [ -z "$toolchains" ]; then
	echo "build-testdata: no Go toolchain under /usr/lib/go-1.* (run scripts/deps.sh --test)" >&2
	exit 1
fi

programs=()
for dir in "$here"/testdata/*/; do
	name=$(basename "$dir")
	ls "$dir"*.go >/dev/null 2>&1 && programs+=("$name:$name:")
done
programs+=("${variants[@]}")

mode_flags() {
	case $1 in
	default) echo "" ;;
	stripped) echo "-ldflags=-s -w" ;;
	pie) echo "-buildmode=pie" ;;
	pie-stripped) echo "-buildmode=pie|-ldflags=-s -w" ;;
	esac
}

built=0 cached=0
for go in $toolchains; do
	version=$("$go" env GOVERSION | sed -E 's/^go([0-9]+\.[0-9]+).*/\1/')
	for mode in default stripped pie pie-stripped; do
		dest=$out/go$version/$mode
		mkdir -p "$dest"
		for p in "${programs[@]}"; do
			IFS=: read -r name folder extra <<<"$p"
			src_hash=$(cat "$here"/testdata/go.mod "$here"/testdata/"$folder"/*.go | sha256sum | cut -c1-16)
			flags=$(mode_flags "$mode")
			stamp="$("$go" env GOVERSION) $flags $extra $src_hash"
			if [ -x "$dest/$name" ] && [ "$(cat "$dest/$name.stamp" 2>/dev/null)" = "$stamp" ]; then
				cached=$((cached + 1))
				continue
			fi
			args=()
			IFS='|' read -ra mflags <<<"$flags"
			for f in "${mflags[@]}" $extra; do [ -n "$f" ] && args+=("$f"); done
			(cd "$here/testdata" && "$go" build "${args[@]}" -o "$dest/$name.tmp" "./$folder")
			mv "$dest/$name.tmp" "$dest/$name"
			echo "$stamp" >"$dest/$name.stamp"
			built=$((built + 1))
		done
	done
done
echo "testdata: $built built, $cached up to date in $out"
