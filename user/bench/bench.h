/* SPDX-License-Identifier: GPL-2.0 */
/* What the benchmarks share: a clock and the system's Shmem. */
#ifndef SZ_BENCH_H
#define SZ_BENCH_H

#include <stdio.h>
#include <time.h>

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Shmem of /proc/meminfo in kB, -1 if unreadable. */
static inline long shmem_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Shmem: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

#endif
