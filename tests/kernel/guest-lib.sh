# Shared by the kernel-matrix tier (tests/kernel/run.sh) and its benchmark
# (tests/bench/kernels.sh): the kernels, booting a guest, reading what it produced.
# Source it after tests/lib.sh.
GO=1.23 # the testdata toolchain used in the guests
GOBIN=/usr/lib/go-$GO/bin/go
KDIR=$BUILD/kernels
RUNDIR=$BUILD/kernel-run
GUEST_TIMEOUT=${GUEST_TIMEOUT:-600}

# name suite package-regex
KERNELS=(
	"5.10 bullseye ^linux-image-5\.10\.0-[0-9]+-amd64$"
	"6.1 bookworm ^linux-image-6\.1\.0-[0-9]+-amd64$"
	"6.12 bookworm-backports ^linux-image-6\.12\.[0-9]+\+deb12-amd64$"
)

# Why no guest can run here, or nothing.
blocker() {
	[ "$(id -u)" -eq 0 ] || { echo "needs root"; return; }
	command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86_64 is not installed (scripts/deps.sh --test)"; return; }
	[ -x /bin/busybox ] || { echo "busybox-static is not installed (scripts/deps.sh --test)"; return; }
	[ -x "$GOBIN" ] || { echo "Go $GO is not installed"; return; }
	[ -x "$TESTDATA/go$GO/default/leaker" ] || { echo "no go$GO test programs in $TESTDATA (make tests)"; return; }
	qemu-system-x86_64 -accel help 2>/dev/null | grep -qx tcg || echo "qemu has no TCG accelerator"
}

# boot NAME TREE OUT: runs guest.sh in a guest of the kernel in TREE; serial log in OUT.
boot() {
	local name=$1 tree=$2 out=$3 img=$KDIR/$(basename "$2").cpio.gz
	if [ ! -s "$img" ] || [ "$img" -ot "$ROOT/tests/kernel/init" ] ||
		[ "$img" -ot "$ROOT/tests/kernel/initramfs.sh" ]; then
		"$ROOT/tests/kernel/initramfs.sh" "$tree" "$img" || return 1
	fi
	rm -rf "$out"
	mkdir -p "$out"
	printf 'OOMPROF=%s\nMEMCG_RUN=%s\nTESTDATA_GO=%s\nGUEST_ONLY="%s"\n' "$OOMPROF" "$MEMCG_RUN" \
		"$TESTDATA/go$GO/default" "${GUEST_ONLY:-}" >"$out/env"
	timeout --kill-after=10 "$GUEST_TIMEOUT" qemu-system-x86_64 \
		-accel tcg,thread=multi -cpu max -smp 2 -m 640M \
		-nodefaults -display none -monitor none -serial stdio -no-reboot \
		-kernel "$(ls "$tree"/boot/vmlinuz-*)" -initrd "$img" \
		-append "console=ttyS0 quiet panic=-1 mitigations=off oomprof.script=$ROOT/tests/kernel/guest.sh oomprof.out=$out" \
		-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$out,mount_tag=out,security_model=none" \
		</dev/null >"$out/console.log" 2>&1
	echo "qemu_exit=$?" >>"$out/console.log"
}

# fetch_kernel NAME SUITE REGEX: the unpacked package tree (stdout), or the reason on
# stderr and status 1.
fetch_kernel() {
	"$ROOT/tests/kernel/fetch.sh" "$1" "$2" "$3" "$KDIR"
}

# Per-scenario facts from the guest in $OUTK (key=value files).
val() { sed -n "s/^$2=//p" "$OUTK/$1.env" 2>/dev/null | head -n 1; }
glog() { grep -E "$1" "$OUTK/watch.log" 2>/dev/null; }
profile_of() { ls "$OUTK"/profiles/*-"$1"-*.pb.gz 2>/dev/null | head -n 1; }
comment() { "$GOBIN" tool pprof -comments "$1" 2>/dev/null | sed -n "s/^$2: //p" | head -n 1; }
gms() {
	local stamp
	stamp=$(glog "$1" | head -n 1 | cut -d' ' -f1)
	[ -n "$stamp" ] && date -d "$stamp" +%s%3N
}

