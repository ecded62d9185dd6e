# Turns `go tool pprof -raw` output into one line per sample:
#   VALUES... | bytes=N | func1 < func2 < ...   (leaf first, inlined frames expanded)
# Samples whose values are all zero carry no information and are left out
# (runtime/pprof writes them for buckets with nothing in the reported cycles).
# Sort the output to compare two profiles as multisets.
/^Samples:/ { section = "samples"; next }
/^Locations/ { section = "locations"; next }
/^Mappings/ { section = "mappings"; next }
section == "samples" && /^ *[0-9-]+( +[0-9-]+)*: / {
	flush()
	split($0, halves, ":")
	nvals = split(halves[1], vals, " ")
	nids = split(halves[2], ids, " ")
	cur_vals = ""
	zero = 1
	for (i = 1; i <= nvals; i++) {
		cur_vals = cur_vals vals[i] " "
		if (vals[i] != 0) zero = 0
	}
	cur_ids = halves[2]
	cur_label = ""
	have = 1
	next
}
section == "samples" && /bytes:\[/ {
	match($0, /bytes:\[[0-9]+\]/)
	cur_label = substr($0, RSTART, RLENGTH)
	next
}
section == "locations" && /^ *[0-9]+: 0x/ {
	id = $1
	sub(":", "", id)
	loc[id] = $4
	last = id
	next
}
section == "locations" && /^ +[^ ]/ && last != "" {
	loc[last] = loc[last] " < " $1
	next
}
function flush() {
	if (have && !zero) {
		pending[++npending] = cur_vals "| " cur_label " |" cur_ids
	}
	have = 0
}
END {
	flush()
	for (i = 1; i <= npending; i++) {
		split(pending[i], parts, "|")
		n = split(parts[3], ids, " ")
		names = ""
		for (j = 1; j <= n; j++) names = names (j > 1 ? " < " : "") loc[ids[j]]
		print parts[1] "|" parts[2] "| " names
	}
}
