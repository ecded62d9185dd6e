#!/usr/bin/env bash
# Packs the guest tier's initramfs for one unpacked Debian kernel package:
# busybox-static, tests/kernel/init, and the 9p/virtio modules of that kernel with their
# dependencies (decompressed: busybox's insmod reads plain .ko files).
#   tests/kernel/initramfs.sh KERNEL-TREE OUT.cpio.gz
set -euo pipefail

tree=$(cd "$1" && pwd) out=$2
here=$(cd "$(dirname "$0")" && pwd)
busybox=/bin/busybox
[ -x "$busybox" ] && file -L "$busybox" 2>/dev/null | grep -q 'statically linked' ||
	busybox=$(command -v busybox)
version=$(ls "$tree/lib/modules")
[ -n "$version" ] || { echo "initramfs: no modules in $tree" >&2; exit 1; }
[ -e "$tree/lib/modules/$version/modules.dep" ] || depmod -b "$tree" "$version"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,proc,sys,dev,host,lib/modules}
cp "$busybox" "$work/bin/busybox"
cp "$here/init" "$work/init"
chmod 755 "$work/init"
: >"$work/modules.order"
for m in virtio_pci 9pnet_virtio 9p; do
	modprobe -d "$tree" -S "$version" --show-depends "$m" 2>/dev/null |
		awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++' | while read -r ko; do
	base=$(basename "$ko")
	case $ko in
	*.xz) xz -dc "$ko" >"$work/lib/modules/${base%.xz}"; base=${base%.xz} ;;
	*.zst) zstd -qdc "$ko" >"$work/lib/modules/${base%.zst}"; base=${base%.zst} ;;
	*) cp "$ko" "$work/lib/modules/$base" ;;
	esac
	echo "$base" >>"$work/modules.order"
done
grep -q '^9p.ko$' "$work/modules.order" || grep -q '^CONFIG_9P_FS=y' "$tree"/boot/config-* ||
	{ echo "initramfs: no 9p module in $tree" >&2; exit 1; }
(cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
