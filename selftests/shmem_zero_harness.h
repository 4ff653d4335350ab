/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's kselftest_harness.h (extracted from Debian's linux-source by
 * the Makefile), for the shmem_zero kselftests: 6.1's defines a signal
 * handler with an unused parameter; the tests keep -Wextra -Werror, the
 * header's lines do not.
 */
#ifndef SHMEM_ZERO_HARNESS_H
#define SHMEM_ZERO_HARNESS_H

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop

/*
 * The harness kills a test after 30 s unless it says otherwise.  That is a
 * hang catcher, and on the debug kernel (KASAN, lockdep) under TCG ordinary
 * work outruns it: sz.reclaim_read_faulted (64 MiB read-faulted, then one
 * RECLAIM) was killed at 30 s in a CI run that had passed it before.  Tests
 * assert outcomes, not time: 300 s by default, what TEST_F() and TEST()
 * expand to below this line; TEST_F_TIMEOUT() only for longer ones.
 * vm-run's timeout stays the last net.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

#endif /* SHMEM_ZERO_HARNESS_H */
