/* SPDX-License-Identifier: GPL-2.0 */
/* What the benchmarks share: a clock, the system's Shmem, JSON lines. */
#ifndef SZ_BENCH_H
#define SZ_BENCH_H

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/shmem_zero.h>

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

/*
 * --json as the first argument: each measurement is also printed as one
 * JSON object per line (for make bench), after the human-readable lines
 * are suppressed.  Returns the index of the first positional argument.
 */
static int bench_json;

static inline int bench_args(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--json")) {
		bench_json = 1;
		return 2;
	}
	return 1;
}

/* /dev/shmem_zero, or exit 2. */
static inline int bench_dev(void)
{
	int dev = open(SHMEM_ZERO_DEVICE, O_RDWR);

	if (dev < 0) {
		perror(SHMEM_ZERO_DEVICE);
		exit(2);
	}
	return dev;
}

/* printf() unless in JSON mode. */
static inline void say(const char *fmt, ...)
{
	va_list ap;

	if (bench_json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* printf() in JSON mode only: one object per call, fmt without braces. */
static inline void json(const char *fmt, ...)
{
	va_list ap;

	if (!bench_json)
		return;
	putchar('{');
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	puts("}");
	fflush(stdout);
}

#endif
