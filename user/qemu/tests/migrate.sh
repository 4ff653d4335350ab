#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Real migrations between stock and patched QEMU, in a VM:
#   scripts/vm-run --mem 6144 -- user/qemu/tests/migrate.sh [7.2|10.0|10.2] [--demo|--all]
# TAP: the plan "1..N", then "ok - qemuT: ..." lines (" # expected: ..." on
# those that reproduce a stock bug; a missing binary fails every case that
# needs it); the figures go to $SZ_OUT/qemu-T-migrate.json (--demo:
# $SZ_OUT/demo.json).  7.2: stock is Debian's qemu-system-x86_64;
# 10.0: both binaries come from user/qemu/build.sh 10.0, and its
# cross-version cases need the patched 7.2 (user/qemu/build.sh 7.2),
# Debian 12's own (/usr/bin/qemu-system-x86_64) and, with --all, sid's 11.1
# (user/qemu/build.sh 11.1); 10.2 as 10.0, and the patched 10.0 as a peer.
cd "$(dirname "$0")/../../.." || exit 1
target=${1:-7.2}
dir=build/qemu/$target
patched=$dir/qemu-system-x86_64
stock=/usr/bin/qemu-system-x86_64
[ "$target" = 7.2 ] || stock=$dir/qemu-system-x86_64-stock
json=${SZ_OUT:-/tmp}/qemu-$target-migrate.json
[ "$2" = --demo ] && json=${SZ_OUT:-/tmp}/demo.json
# 10.0 also migrates from the patched 7.2 (cross-version cases)
p72=build/qemu/7.2/qemu-system-x86_64
s111=build/qemu/11.1/qemu-system-x86_64-stock
p100=build/qemu/10.0/qemu-system-x86_64
exec python3 user/qemu/tests/migrate.py --target "$target" \
	--stock "$(readlink -f "$stock" || echo "$stock")" \
	--patched "$(readlink -f "$patched" || echo "$patched")" \
	--patched-7.2 "$(readlink -f "$p72" || echo "$p72")" \
	--stock-11.1 "$(readlink -f "$s111" || echo "$s111")" \
	--patched-10.0 "$(readlink -f "$p100" || echo "$p100")" \
	--json "$json" ${2:+"$2"}
