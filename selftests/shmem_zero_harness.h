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

#endif /* SHMEM_ZERO_HARNESS_H */
