#!/usr/bin/env bash
# The Go test programs exist for every installed toolchain in all four build modes,
# are of the kind their mode promises, and run.
source "$(dirname "$0")/../lib.sh"

versions=$(go_versions)
# Every toolchain scripts/deps.sh installs (the test matrix is what is installed).
for want in $(grep -o 'golang-1\.[0-9]*-go' "$ROOT/scripts/deps.sh" | sed 's/golang-\(.*\)-go/\1/' | sort -uV); do
	if echo "$versions" | grep -qx "$want"; then
		pass "toolchain-$want-installed"
	else
		fail "toolchain-$want-installed" "no /usr/lib/go-$want (scripts/deps.sh --test installs it)"
	fi
done

# elf_type FILE: EXEC or DYN (PIE), from the ELF header's e_type.
elf_type() {
	case $(od -An -tu2 -j16 -N2 "$1" | tr -d ' ') in
	2) echo EXEC ;;
	3) echo DYN ;;
	*) echo unknown ;;
	esac
}

has_symtab() { readelf -S "$1" 2>/dev/null | grep -q '\.symtab'; }

for v in $versions; do
	for mode in $BUILD_MODES; do
		for prog in leaker leaker-noprof leaker-cgo manybuckets heaporacle; do
			bin=$(testdata_bin "$v" "$mode" "$prog")
			name="go$v-$mode-$prog"
			if [ ! -x "$bin" ]; then
				fail "$name" "not built: $bin"
				continue
			fi
			type=$(elf_type "$bin")
			case $mode in pie*) want=DYN ;; *) want=EXEC ;; esac
			if [ "$type" != "$want" ]; then
				fail "$name" "ELF type $type, want $want"
				continue
			fi
			if case $mode in *stripped) has_symtab "$bin" ;; *) ! has_symtab "$bin" ;; esac then
				fail "$name" "symbol table presence does not match mode $mode"
				continue
			fi
			pass "$name"
		done
		# leaker-cgo is linked by the C linker: C code before the Go text.
		if "$OOMPROF" inspect "$(testdata_bin "$v" "$mode" leaker-cgo)" 2>&1 | grep -q '^cgo / external: *yes'; then
			pass "go$v-$mode-leaker-cgo-external"
		else
			fail "go$v-$mode-leaker-cgo-external" "not externally linked"
		fi
		# Each leaker runs, retains memory, and reports its rate.
		out=$(printf 'rate\nquit\n' | timeout 30 "$(testdata_bin "$v" "$mode" leaker)" -mode hold -mb 4 -rate 512 2>&1)
		if echo "$out" | grep -q '^ready chunks=' && echo "$out" | grep -qx 'rate 512'; then
			pass "go$v-$mode-leaker-runs"
		else
			fail "go$v-$mode-leaker-runs" "$(echo "$out" | tail -n 3 | tr '\n' ' ')"
		fi
	done
	# Without runtime/pprof the linker drops the memory profiler's entry point.
	nm=/usr/lib/go-$v/bin/go
	with=$("$nm" tool nm "$(testdata_bin "$v" default leaker)" | grep -c ' runtime\.MemProfile$\| runtime\.memProfileInternal$')
	without=$("$nm" tool nm "$(testdata_bin "$v" default leaker-noprof)" | grep -c ' runtime\.MemProfile$\| runtime\.memProfileInternal$')
	if [ "$with" -ge 1 ] && [ "$without" -eq 0 ]; then
		pass "go$v-noprof-has-no-memprofile"
	else
		fail "go$v-noprof-has-no-memprofile" "leaker: $with, leaker-noprof: $without"
	fi
done
