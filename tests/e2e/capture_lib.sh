# Helpers for the capture end-to-end tests (source after lib.sh).

# go_addrs VERSION MODE PROGRAM: link-time addresses "MBUCKETS RATE CYCLE" of the
# runtime globals in that build. Taken with `go tool nm` from the unstripped sibling
# (default for stripped, pie for pie-stripped) and moved by the difference of the
# containing section's start: stripping shortens .go.buildinfo, which shifts the data
# sections by a few bytes, while the layout inside each section stays the same.
go_addrs() {
	local v=$1 mode=$2 prog=$3 bin sib
	bin=$(testdata_bin "$v" "$mode" "$prog")
	sib=$(testdata_bin "$v" "${mode%-stripped}" "$prog")
	[ "$mode" = stripped ] && sib=$(testdata_bin "$v" default "$prog")
	"/usr/lib/go-$v/bin/go" tool nm "$sib" |
		awk '$3=="runtime.mbuckets"{m=$1} $3=="runtime.MemProfileRate"{r=$1}
		     $3=="runtime.mProfCycle"{c=$1} END{print m, r, c}' |
		while read -r m r c; do
			[ -n "$m" ] && [ -n "$r" ] && [ -n "$c" ] || return 1
			for a in $m $r $c; do
				section_move "$sib" "$bin" "$a"
			done | tr '\n' ' '
			echo
		done
}

# section_move FROM TO HEXADDR: the address in TO of what is at HEXADDR in FROM.
section_move() {
	local from=$1 to=$2 addr=$((16#$3)) name start size
	while read -r name start size; do
		if [ "$addr" -ge $((16#$start)) ] && [ "$addr" -lt $((16#$start + 16#$size)) ]; then
			local tstart
			tstart=$(readelf -SW "$to" | sed 's/^ *\[ *[0-9]*\]//' |
				awk -v n="$name" '$1==n{print $3}')
			[ -n "$tstart" ] || return 1
			printf '0x%x\n' $((addr - 16#$start + 16#$tstart))
			return 0
		fi
	done < <(readelf -SW "$from" | sed 's/^ *\[ *[0-9]*\]//' |
		awk '$1 ~ /^\./ && ($2=="PROGBITS" || $2=="NOBITS") {print $1, $3, $5}')
	return 1
}
