#!/usr/bin/env bash
# Fetches one Debian kernel package for the guest tier and unpacks it, never installing
# it on the host: the newest package whose name matches REGEX in SUITE.
#   tests/kernel/fetch.sh NAME SUITE REGEX DIR
# Prints the unpacked tree (DIR/<package>_<version>) on stdout. A tree already unpacked
# is reused: a second run downloads nothing. Exit 1 with the reason on stderr.
set -euo pipefail

name=$1 suite=$2 regex=$3 dir=$4

die() {
	echo "fetch $name: $*" >&2
	exit 1
}

# The newest "package version" in SUITE among the names matching REGEX (one apt-cache
# call for all of them: each call reads the whole package cache).
newest() {
	local names
	names=$(apt-cache search --names-only "$regex" 2>/dev/null | awk '{ print $1 }')
	[ -n "$names" ] || return 0
	# shellcheck disable=SC2086
	apt-cache madison $names 2>/dev/null |
		awk -F' *[|] *' -v s="$suite" '$3 ~ ("(^| |/)" s "/") { gsub(/ /, "", $1); print $1, $2 }' |
		sort -V -k2 | tail -n 1
}

# The choice is kept until apt's package lists change (apt-cache is slow).
choice=$dir/.choice-$name
mkdir -p "$dir"
if [ -s "$choice" ] && [ -z "$(find /var/lib/apt/lists -newer "$choice" -name '*Packages*' -print -quit 2>/dev/null)" ]; then
	read -r pkg version <"$choice" || true
else
	read -r pkg version <<<"$(newest)" || true
	[ -n "${pkg:-}" ] && echo "$pkg $version" >"$choice"
fi
[ -n "${pkg:-}" ] || die "no package matching $regex in $suite (is the suite configured? scripts/deps.sh --test)"
tree=$dir/${pkg}_$version
if [ -e "$tree/.unpacked" ]; then
	echo "$tree"
	exit 0
fi
mkdir -p "$dir"
work=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -q=2 -o APT::Sandbox::User=root "$pkg=$version" >&2) ||
	die "apt-get download $pkg=$version failed"
deb=$(ls "$work"/*.deb)
rm -rf "$tree"
dpkg -x "$deb" "$work/tree" || die "dpkg -x $deb failed"
ls "$work"/tree/boot/vmlinuz-* >/dev/null 2>&1 || die "$deb has no /boot/vmlinuz"
mv "$work/tree" "$tree"
touch "$tree/.unpacked"
echo "$tree"
