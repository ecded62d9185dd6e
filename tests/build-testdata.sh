#!/usr/bin/env bash
# Builds the Go test programs in testdata/ with every installed Go toolchain
# (/usr/lib/go-1.*) in four modes, into OUT/go<VERSION>/<MODE>/<PROGRAM>:
#   default        go build
#   stripped       -ldflags='-s -w'
#   pie            -buildmode=pie
#   pie-stripped   both
# Programs: every folder of testdata/ with Go files, plus variants listed below.
# A program is rebuilt only when its stamp (the toolchain's full version, the flags,
# a hash of go.mod and the program's sources) changed. The stale programs of one
# toolchain, mode and tag set are built by one `go build` (packages compiled and
# linked in parallel, one start-up), and two toolchains build at a time: a fresh
# checkout builds all nine toolchains' programs in minutes, not most of an hour.
set -euo pipefail

out=${1:-build/testdata}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
jobs=${TESTDATA_JOBS:-2}

# name:folder:extra go build flags
variants=("leaker-noprof:leaker:-tags=noprof" "leaker-cgo:leaker:-tags=cgoleak")

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

declare -A src_hash
for p in "${programs[@]}"; do
	IFS=: read -r name folder extra <<<"$p"
	src_hash[$folder]=$(cat "$here"/testdata/go.mod "$here"/testdata/"$folder"/*.go | sha256sum | cut -c1-16)
done

# build_toolchain GO: every stale program of one toolchain; prints "built cached".
build_toolchain() {
	local go=$1 goversion version mode built=0 cached=0
	goversion=$("$go" env GOVERSION)
	version=$(sed -E 's/^go([0-9]+\.[0-9]+).*/\1/' <<<"$goversion")
	for mode in default stripped pie pie-stripped; do
		local dest=$out/go$version/$mode flags tags
		flags=$(mode_flags "$mode")
		mkdir -p "$dest"
		# Group the stale programs by their extra flags (one go build per group).
		declare -A group=()
		for p in "${programs[@]}"; do
			IFS=: read -r name folder extra <<<"$p"
			local stamp="$goversion $flags $extra ${src_hash[$folder]}"
			if [ -x "$dest/$name" ] && [ "$(cat "$dest/$name.stamp" 2>/dev/null)" = "$stamp" ]; then
				cached=$((cached + 1))
				continue
			fi
			group["+$extra"]+="$name:$folder " # "+": no empty key
		done
		for tags in "${!group[@]}"; do
			local tmp args=() f pkgs=() entry
			tmp=$(mktemp -d "$dest/.build.XXXXXX")
			IFS='|' read -ra mflags <<<"$flags"
			for f in "${mflags[@]}" ${tags#+}; do [ -n "$f" ] && args+=("$f"); done
			for entry in ${group[$tags]}; do pkgs+=("./${entry#*:}"); done
			if ! (cd "$here/testdata" && "$go" build "${args[@]}" -o "$tmp/" "${pkgs[@]}"); then
				rm -rf "$tmp"
				return 1
			fi
			for entry in ${group[$tags]}; do
				local name=${entry%%:*} folder=${entry#*:}
				mv "$tmp/$folder" "$dest/$name"
				echo "$goversion $flags ${tags#+} ${src_hash[$folder]}" >"$dest/$name.stamp"
				built=$((built + 1))
			done
			rm -rf "$tmp"
		done
		unset group
	done
	echo "$built $cached"
}

# Two toolchains at a time; each writes its counts to a file of its own.
counts=$(mktemp -d)
trap 'rm -rf "$counts"' EXIT
i=0 failed=0
pids=()
for go in $toolchains; do
	build_toolchain "$go" >"$counts/$i" 2>"$counts/$i.err" &
	pids+=($!)
	i=$((i + 1))
	if [ ${#pids[@]} -ge "$jobs" ]; then
		wait "${pids[0]}" || failed=1
		pids=("${pids[@]:1}")
	fi
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
cat "$counts"/*.err >&2 2>/dev/null || true
if [ $failed -ne 0 ]; then
	echo "build-testdata: a build failed (see above)" >&2
	exit 1
fi
built=0 cached=0
for f in "$counts"/[0-9]*; do
	case $f in *.err) continue ;; esac
	read -r b c <"$f" || continue
	built=$((built + b)) cached=$((cached + c))
done
echo "testdata: $built built, $cached up to date in $out"
