#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Module-path tests, to run inside scripts/vm-run (shmem_zero.ko loaded):
# libshmemzero on both paths and their agreement, and sz-replay's every
# strategy, lib on the module included, on the stream the host tests
# recorded in build/replay; test_lib, sz-replay and shmemzero(8) built
# with -m32 (user/tests/Makefile: a 32-bit off_t, the compat ioctl), which a
# host without IA32 emulation cannot run.
set -uo pipefail
cd "$(dirname "$0")/../.."
rc=0
# Announced up front and before their results (scripts/tally).
printf '# expect: %s\n' "test_lib --require-module" "test_lib.m32" \
	"m32 tools" "test-replay.py vm"
echo "# producer: test_lib --require-module"
user/tests/test_lib --require-module --quick || rc=1
echo "# producer: test_lib.m32"
if [ -x user/tests/test_lib.m32 ]; then
	user/tests/test_lib.m32 --require-module --quick || rc=1
else
	echo "1..1"
	echo "not ok - lib -m32: user/tests/test_lib.m32 not built (gcc-multilib)"
	rc=1
fi
# sz-replay, its parser and shmemzero(8) built for i386 (user/tests/Makefile):
# file offsets past 2 and 4 GiB, which a 32-bit off_t cannot hold.
echo "# producer: m32 tools"
echo "1..5"
m32() {	# m32 NAME CMD...: ok when CMD succeeds; its output is kept on failure
	local name=$1
	shift
	if "$@" >"$tmp/m32.log" 2>&1; then
		echo "ok - m32: $name"
	else
		echo "not ok - m32: $name"
		tail -n 8 "$tmp/m32.log" | sed 's/^/# /'
		rc=1
	fi
}
query_pages() {	# query_pages TOOL FILE: the query's counts, one JSON line
	"$1" query --json "$2" | python3 -c 'import json, sys
d = json.load(sys.stdin)
d.pop("target")
print(json.dumps(d, sort_keys=True))'
}
same_query() {	# a 5 GiB file, data at 4 GiB + 4 KiB: both tools count alike
	local f=/dev/shm/sz-m32 a b
	rm -f $f
	truncate -s 5G $f &&
	printf 'x' | dd of=$f bs=4096 seek=$(((4 << 18) + 1)) conv=notrunc status=none &&
	a=$(query_pages user/tool/shmemzero $f) && b=$(query_pages user/tests/shmemzero.m32 $f) &&
	echo "64-bit $a; i386 $b" && [ -n "$a" ] && [ "$a" = "$b" ]
	local ret=$?
	rm -f $f
	return $ret
}
tmp=$(mktemp -d)
m32 "test_stream (sz-replay's parser) on the corpus" \
	user/tests/test_stream.m32 user/replay/corpus/seed-full
m32 "sz-replay --synthetic 2304M,1: punch, lib and lib-fallback leave no wrong page" \
	user/tests/sz-replay.m32 --synthetic 2304M,1 --strategy punch,lib,lib-fallback
too_big() {	# 5 GiB cannot be mapped in 32 bits: refused, not cut to 1 GiB
	user/tests/sz-replay.m32 --synthetic 5G,1 --strategy punch
	[ $? = 1 ] && grep -q 'larger than this address space' "$tmp/m32.log"
}
m32 "sz-replay --synthetic 5G,1: refused (exit 1), not mapped short" too_big
m32 "shmemzero query of a 5 GiB file, data at 4 GiB + 4 KiB, as the 64-bit tool" same_query
m32 "test_stats (the GET_STATS reply parser)" user/tests/test_stats.m32
rm -rf "$tmp"
echo "# producer: test-replay.py vm"
/usr/bin/python3 user/tests/test-replay.py vm build/replay || rc=1
exit $rc
