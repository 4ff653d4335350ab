/* SPDX-License-Identifier: GPL-2.0 */
/* Internal interfaces between the parts of shmem_zero.ko. */
#ifndef SHMEM_ZERO_H
#define SHMEM_ZERO_H

#include <linux/types.h>
#include <uapi/linux/shmem_zero.h>

int sz_stats_init(void);
void sz_stats_exit(void);
void sz_stats_account(const struct shmem_zero_args *args, bool mode_valid,
		      int ret, u64 nsecs);

#endif /* SHMEM_ZERO_H */
