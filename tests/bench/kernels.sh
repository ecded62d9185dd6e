#!/usr/bin/env bash
# Per guest kernel (Debian's 5.10, 6.1, 6.12 under qemu TCG, as in the kernel-matrix
# tier): ns per bucket walked by the kernel side and kill-to-file latency, for a
# 10,000-bucket program killed at memory.max. TCG is ~8x slower than the host: the
# figures compare kernels (and walk variants) with each other, the ratio is to 6.12's.
# BENCH_KERNELS="5.10 6.1" measures only those.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/kernel/guest-lib.sh"
RUNDIR=$BUILD/kernel-bench

why=$(blocker)
if [ -n "$why" ]; then
	echo "kernels: cannot run: $why"
	exit 1
fi
declare -A ns
for entry in "${KERNELS[@]}"; do
	read -r k suite regex <<<"$entry"
	[ -n "${BENCH_KERNELS:-}" ] && [[ " $BENCH_KERNELS " != *" $k "* ]] && continue
	OUTK=$RUNDIR/$k
	tree=$(fetch_kernel "$k" "$suite" "$regex") || { echo "$k: cannot fetch the kernel"; continue; }
	GUEST_ONLY=bench boot "$k" "$tree" "$OUTK"
	pid=$(val bench pid)
	f=$(profile_of "$pid")
	if [ -z "$f" ]; then
		echo "$k: no profile ($(glog 'oomprof watch: ' | head -n 1 | cut -d' ' -f3- | cut -c1-120); $(glog "pid $pid" | tail -n 1 | cut -c 25-))"
		continue
	fi
	# "capture: 10012 buckets walked in 81234 us over 3 invocations"
	read -r nb us inv < <(comment "$f" capture | awk '{ print $1, $5, $8 }')
	t0=$(gms "OOM kill: pid $pid ")
	t1=$(gms "profile written: .*-$pid-")
	ns[$k]=$((us * 1000 / (nb > 0 ? nb : 1)))
	echo "$k ($(glog 'oomprof watch: ' | sed -n 's/.*BPF programs: \([a-z_-]*\).*/\1/p' | head -n 1)): ${ns[$k]} ns per bucket walked ($nb buckets in $inv invocations), kill-to-file $((t1 - t0)) ms, $(comment "$f" "capture status")"
done
if [ -n "${ns[6.12]:-}" ] && [ "${ns[6.12]}" -gt 0 ]; then
	for k in "${!ns[@]}"; do
		awk -v k="$k" -v a="${ns[$k]}" -v b="${ns[6.12]}" 'BEGIN { printf "%s: walk cost %.2fx of 6.12\n", k, a / b }'
	done | sort
fi
