#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Module-path tests, to run inside scripts/vm-run (shmem_zero.ko loaded):
# libshmemzero on both paths and their agreement, and sz-replay's every
# strategy, lib on the module included, on the stream the host tests
# recorded in build/replay; and test_lib built with -m32 (user/tests/Makefile:
# a 32-bit off_t, the compat ioctl), which the host, without IA32
# emulation, cannot run.
set -uo pipefail
cd "$(dirname "$0")/../.."
rc=0
# Announced up front and before their results (scripts/tally).
printf '# expect: %s\n' "test_lib --require-module" "test_lib.m32" \
	"test-replay.py vm"
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
echo "# producer: test-replay.py vm"
/usr/bin/python3 user/tests/test-replay.py vm build/replay || rc=1
exit $rc
