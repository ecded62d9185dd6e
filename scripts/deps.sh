#!/usr/bin/env bash
# Installs the Debian packages oomprof needs to build (and, with --test, to run its
# tests). Idempotent: when everything is present it checks and exits in well under a
# second, without touching apt.
#
# The test packages come from several Debian suites (Go 1.21–1.23 from
# bookworm-backports, 1.24 from trixie, 1.25–1.27 from trixie-backports; guest kernels
# from bullseye and bookworm-backports). The extra suites are added on the mirror the
# machine already uses for bookworm, pinned to priority 1 so that nothing is ever taken
# from them except a package asked for by name, and an install that would upgrade or
# remove an installed package is refused before it runs.
set -euo pipefail

build_pkgs=(clang llvm libbpf-dev bpftool libelf-dev libdw-dev libprotobuf-c-dev
	protobuf-c-compiler zlib1g-dev pkg-config make gcc libcurl4-openssl-dev)
# systemd: systemd-analyze verify of the unit; prometheus: scrapes the metrics endpoint
# (the tests run the binary themselves, never its service).
test_pkgs=(time util-linux binutils systemd prometheus strace libcap2-bin iproute2 curl)
# "package/suite" for every test package not in bookworm itself.
suite_pkgs=(golang-1.19-go/bookworm
	golang-1.21-go/bookworm-backports golang-1.22-go/bookworm-backports
	golang-1.23-go/bookworm-backports golang-1.24-go/trixie
	golang-1.25-go/trixie-backports golang-1.26-go/trixie-backports
	golang-1.27-go/trixie-backports)
extra_suites=(bookworm-backports trixie trixie-backports bullseye)
sources_file=/etc/apt/sources.list.d/oomprof-suites.sources
pin_file=/etc/apt/preferences.d/oomprof-suites

want_tests=0
[ "${1:-}" = "--test" ] && want_tests=1

die() {
	echo "deps: $*" >&2
	exit 1
}

missing() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "${p%%/*}" 2>/dev/null | grep -q '^install ok installed' ||
			printf '%s\n' "$p"
	done
}

# Every "URI suites..." pair of the machine's apt sources, one-line and deb822 alike.
apt_source_entries() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
			print $i, $(i + 1) }' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk 'function flush() { if (types ~ /(^| )deb( |$)/ && uri != "") print uri, suites
				types = uri = suites = "" }
			/^[ \t]*$/ { flush(); next }
			/^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
			/^URIs:/ { uri = $2 }
			/^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
			END { flush() }' "$f"
	done
}

# The mirror this machine takes Debian bookworm from.
debian_mirror() {
	apt_source_entries | awk '{ for (i = 2; i <= NF; i++) if ($i == "bookworm") { print $1; exit } }'
}

suite_configured() {
	apt_source_entries | awk -v s="$1" '{ for (i = 2; i <= NF; i++) if ($i == s) found = 1 }
		END { exit !found }'
}

# Adds the suites the test packages come from, on the machine's own mirror, pinned low.
add_suites() {
	local mirror suites=() s keyring=""
	rm -f "$sources_file"
	for s in "${extra_suites[@]}"; do
		suite_configured "$s" || suites+=("$s")
	done
	if [ ${#suites[@]} -gt 0 ]; then
		mirror=$(debian_mirror)
		[ -n "$mirror" ] || die "no apt source for Debian bookworm in /etc/apt/sources.list or
  /etc/apt/sources.list.d; add your Debian mirror for bookworm (main) and run again"
		[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] &&
			keyring="Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
		echo "deps: adding ${suites[*]} from $mirror (pinned: only packages asked for by name)"
		printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\n%s\n' \
			"$mirror" "${suites[*]}" "$keyring" >"$sources_file"
	fi
	if [ ! -f "$pin_file" ]; then
		for s in "${extra_suites[@]}"; do
			printf 'Package: *\nPin: release n=%s\nPin-Priority: 1\n\n' "$s"
		done >"$pin_file"
	fi
}

# pkg/suite for a package and the source package its golang-1.NN-go depends on.
with_companions() {
	local p
	for p in "$@"; do
		printf '%s\n' "$p"
		case $p in golang-1.*-go/*) printf '%s\n' "${p/-go\//-src/}" ;; esac
	done
}

# Refuses an install that would upgrade, downgrade or remove an installed package,
# except an upgrade to bookworm's own newer point release (a dev package such as
# libcurl4-openssl-dev requires its library at exactly its own version).
install_safely() {
	local plan changes
	plan=$(apt-get install -s -y --no-install-recommends -o DPkg::Lock::Timeout=300 "$@")
	changes=$(grep -E '^(Inst [^ ]+ \[|Remv )' <<<"$plan" |
		grep -vE '^Inst [^ ]+ \[[^]]*\] \([^ ]+ Debian(-Security)?:12[.0-9]*/(oldstable|stable)(-security)? ' || true)
	if [ -n "$changes" ]; then
		echo "$changes" >&2
		die "installing $* would change installed packages (above); not done"
	fi
	apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" >/dev/null
}

need=$(missing "${build_pkgs[@]}")
need_suites=""
if [ "$want_tests" = 1 ]; then
	need+=" $(missing "${test_pkgs[@]}")"
	need_suites=$(missing "${suite_pkgs[@]}")
fi
need=$(echo $need)
need_suites=$(echo $need_suites)
[ -z "$need" ] && [ -z "$need_suites" ] && exit 0

[ "$(id -u)" -eq 0 ] || die "missing packages (run as root to install): $need $need_suites"

export DEBIAN_FRONTEND=noninteractive
# Packages such as prometheus start their service from postinst: the tests run those
# programs themselves, on loopback, so nothing installed here may start one.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 0755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
echo "deps: installing $(echo $need $need_suites)"
[ -n "$need_suites" ] && add_suites
apt-get update -qq -o DPkg::Lock::Timeout=300 || die "apt-get update failed"
[ -n "$need" ] && install_safely $need
[ -n "$need_suites" ] && install_safely $(with_companions $need_suites)
echo "deps: done"
