#!/usr/bin/env bash
# gosym symbolization against `go tool addr2line` of the same toolchain: every function
# entry and 10,000 random PCs inside functions, for every toolchain, build mode and
# testdata program. addr2line needs a symbol table, so a stripped build is compared
# with its unstripped twin after checking that both have the same functions at the same
# addresses (same source, same toolchain: text layout and pclntab do not depend on -s -w).
source "$(dirname "$0")/../lib.sh"
CHECK=$BUILD/tests/gosym-check
NPCS=${GOSYM_NPCS:-10000}
work=$E2E_TMP # removed on exit by lib.sh

unstripped_twin() {
	case $1 in stripped) echo default ;; pie-stripped) echo pie ;; *) echo "$1" ;; esac
}

for v in $(go_versions); do
	go=/usr/lib/go-$v/bin/go
	for mode in $BUILD_MODES; do
		ref_mode=$(unstripped_twin "$mode")
		for prog in leaker leaker-noprof manybuckets heaporacle cgoprog; do
			name=addr2line/go$v/$mode/$prog
			bin=$(testdata_bin "$v" "$mode" "$prog")
			ref=$(testdata_bin "$v" "$ref_mode" "$prog")
			if [ ! -x "$bin" ] || [ ! -x "$ref" ]; then
				fail "$name" "missing testdata $bin or $ref"
				continue
			fi
			if [ "$bin" != "$ref" ] && ! out=$("$CHECK" samefuncs "$bin" "$ref" 2>&1); then
				fail "$name" "stripped and unstripped builds differ: $out"
				continue
			fi
			seed=$(echo "$name" | cksum | cut -d' ' -f1)
			"$CHECK" pcs "$bin" "$NPCS" "$seed" >"$work/pcs" || { fail "$name" "pcs failed"; continue; }
			"$go" tool addr2line "$ref" <"$work/pcs" >"$work/want" 2>"$work/err" ||
				{ fail "$name" "go tool addr2line failed: $(head -c 300 "$work/err")"; continue; }
			oracle=go$v
			# Go 1.19's addr2line finds no pclntab in PIE binaries (it only looks for
			# .gopclntab) and answers "?" for every PC; use the newest toolchain's
			# addr2line (debug/gosym reads every pclntab format) for those.
			if ! grep -qv '^?' "$work/want"; then
				newest=$(go_versions | tail -n1)
				/usr/lib/go-$newest/bin/go tool addr2line "$ref" <"$work/pcs" >"$work/want" 2>"$work/err" ||
					{ fail "$name" "go$newest tool addr2line failed"; continue; }
				oracle="go$newest, go$v's own addr2line answers ? for all"
			fi
			"$CHECK" addr2line "$bin" <"$work/pcs" >"$work/got" 2>"$work/err" ||
				{ fail "$name" "gosym-check failed: $(head -c 300 "$work/err")"; continue; }
			npcs=$(wc -l <"$work/pcs")
			if [ "$(wc -l <"$work/want")" -ne $((2 * npcs)) ]; then
				fail "$name" "addr2line gave $(wc -l <"$work/want") lines for $npcs PCs"
				continue
			fi
			if cmp -s "$work/want" "$work/got"; then
				pass "$name ($npcs PCs, oracle $oracle)"
			else
				paste -d' ' - - <"$work/want" >"$work/w2"
				paste -d' ' - - <"$work/got" >"$work/g2"
				bad=$(paste -d'|' "$work/pcs" "$work/w2" "$work/g2" | awk -F'|' '$2 != $3' | head -3 | tr '\n' ';')
				nbad=$(paste -d'|' "$work/w2" "$work/g2" | awk -F'|' '$1 != $2' | wc -l)
				fail "$name" "$nbad of $npcs PCs differ (pc|addr2line|gosym): $bad"
			fi
		done
	done
done
