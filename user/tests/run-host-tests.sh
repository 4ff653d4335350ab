#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Host tests of libshmemzero and sz-replay (no module needed), as TAP-ish
# "ok - NAME" lines: the library on real memfds (the fallback path), the
# shmemzero tool's errors and exit codes without the module, a
# stream recorded from qemu-system-x86_64 replayed by every strategy but
# lib, malformed streams, the installed library, fuzzing, valgrind.
# Build first: make -C user/tests.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=build/replay
mkdir -p "$out"
rc=0
# Each runner is announced up front and before its results, so one that
# dies before its plan is a failure (scripts/tally).
runners=("user/tests/test_lib" "user/tests/test_stream" "test-replay.py record" "test-replay.py host"
	 "user/tests/test-install.sh" "user/tests/test-fuzz.sh"
	 "user/tool/tests/host.sh" "user/tool/tests/test_stats" "valgrind")
printf '# expect: %s\n' "${runners[@]}"

echo "# producer: user/tests/test_lib"
user/tests/test_lib || rc=1
echo "# producer: user/tests/test_stream"
user/tests/test_stream user/replay/corpus/seed-full || rc=1
echo "# producer: test-replay.py record"
/usr/bin/python3 user/tests/test-replay.py record "$out" || rc=1
echo "# producer: test-replay.py host"
/usr/bin/python3 user/tests/test-replay.py host "$out" || rc=1
echo "# producer: user/tests/test-install.sh"
user/tests/test-install.sh || rc=1
echo "# producer: user/tests/test-fuzz.sh"
user/tests/test-fuzz.sh || rc=1
echo "# producer: user/tool/tests/host.sh"
user/tool/tests/host.sh || rc=1
echo "# producer: user/tool/tests/test_stats"
user/tool/tests/test_stats || rc=1

echo "# producer: valgrind"
echo "1..2"

vg=(valgrind --quiet --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite,indirect)
if ! command -v valgrind >/dev/null; then
	echo "not ok - valgrind: not installed (apt-get install valgrind)"
	rc=1
else
	"${vg[@]}" user/tests/test_lib --quick >build/valgrind-test_lib.log 2>&1
	s=$?
	[ $s -eq 0 ] || { grep -v '^ok ' build/valgrind-test_lib.log | tail -n 30 | sed 's/^/# /'; rc=1; }
	echo "$([ $s -eq 0 ] && echo ok || echo not ok) - valgrind: test_lib (fallback path) without memory errors or leaks"
	"${vg[@]}" user/replay/sz-replay --strategy stock,madvise-dontneed,punch,madv-remove,seek-data,mincore,lib-fallback,skip \
		--prefill none --prefill 0x11 user/replay/corpus/seed-full >build/valgrind-sz-replay.log 2>&1
	s=$?
	[ $s -eq 0 ] || { tail -n 30 build/valgrind-sz-replay.log | sed 's/^/# /'; rc=1; }
	echo "$([ $s -eq 0 ] && echo ok || echo not ok) - valgrind: sz-replay, every host strategy, without memory errors or leaks"
fi
exit $rc
