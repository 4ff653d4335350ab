#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Real migrations between Debian's QEMU 7.2 (stock) and the patched build,
# in a VM (scripts/vm-run --mem 6144 -- user/qemu/tests/migrate.sh [BINARY]).
# TAP-ish "ok - qemu7.2: ..." lines; the figures go to $SZ_OUT/qemu-7.2-migrate.json.
cd "$(dirname "$0")/../../.." || exit 1
patched=${1:-build/qemu/7.2/qemu-system-x86_64}
if [ ! -x "$patched" ]; then
	echo "not ok - qemu7.2: patched binary $patched missing (run user/qemu/build.sh)"
	exit 1
fi
patched=$(readlink -f "$patched")
exec python3 user/qemu/tests/migrate.py --patched "$patched" \
	--json "${SZ_OUT:-/tmp}/qemu-7.2-migrate.json"
