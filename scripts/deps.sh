#!/usr/bin/env bash
# Installs the system packages oomprof needs to build (and, with --test, to run its
# tests). Idempotent: when everything is present it checks and exits in well under a
# second, without touching apt.
set -euo pipefail

build_pkgs=(clang llvm libbpf-dev bpftool libelf-dev libdw-dev libprotobuf-c-dev
	protobuf-c-compiler zlib1g-dev pkg-config make gcc)
test_pkgs=(golang-1.19-go time util-linux binutils)
backport_pkgs=(golang-1.21-go golang-1.22-go golang-1.23-go)

want_tests=0
[ "${1:-}" = "--test" ] && want_tests=1

missing() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
			printf '%s\n' "$p"
	done
}

# bookworm-backports holds Go 1.21–1.23. Add it on the same mirror as the existing
# bookworm entry, in whichever format (deb822 or one-line) the machine uses.
add_backports() {
	if grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		return 0
	fi
	local mirror=""
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
	fi
	if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
		mirror=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list)
	fi
	[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
	echo "deps: adding bookworm-backports from $mirror"
	echo "deb $mirror bookworm-backports main" >/etc/apt/sources.list.d/bookworm-backports.list
	apt_updated=0
}

if [ "$(id -u)" -ne 0 ]; then
	need=$(missing "${build_pkgs[@]}")
	[ "$want_tests" = 1 ] && need+=$(missing "${test_pkgs[@]}" "${backport_pkgs[@]}")
	if [ -n "$need" ]; then
		echo "deps: missing packages (run as root to install): $(echo $need)" >&2
		exit 1
	fi
	exit 0
fi

apt_updated=1
need=$(missing "${build_pkgs[@]}")
need_bp=""
if [ "$want_tests" = 1 ]; then
	need+=" $(missing "${test_pkgs[@]}")"
	need_bp=$(missing "${backport_pkgs[@]}")
	[ -n "$need_bp" ] && add_backports
fi
need=$(echo $need)
need_bp=$(echo $need_bp)
[ -z "$need" ] && [ -z "$need_bp" ] && exit 0

export DEBIAN_FRONTEND=noninteractive
echo "deps: installing $need $need_bp"
apt-get update -qq
[ -n "$need" ] && apt-get install -y -qq --no-install-recommends $need >/dev/null
[ -n "$need_bp" ] && apt-get install -y -qq --no-install-recommends -t bookworm-backports $need_bp >/dev/null
echo "deps: done"
