/* SPDX-License-Identifier: GPL-2.0 */
/* What the benchmarks share: a clock, the system's Shmem, JSON lines (json-c). */
#ifndef SZ_BENCH_H
#define SZ_BENCH_H

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdint.h>
#include <json-c/json.h>
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

/* The value types of json()'s pairs. */
enum { J_END, J_STR, J_I64, J_DBL };

/*
 * In JSON mode only: one object per line, {"bench": BENCH, ...}, written
 * with json-c.  The pairs are TYPE, "key", value, and J_END closes them:
 * J_STR a const char *, J_I64 an int64_t, J_DBL a double.
 */
static inline void json(const char *bench, ...)
{
	struct json_object *o;
	const char *key;
	va_list ap;
	int type;

	if (!bench_json)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "bench", json_object_new_string(bench));
	va_start(ap, bench);
	while ((type = va_arg(ap, int)) != J_END) {
		key = va_arg(ap, const char *);
		if (type == J_STR)
			json_object_object_add(o, key,
					       json_object_new_string(va_arg(ap, const char *)));
		else if (type == J_I64)
			json_object_object_add(o, key,
					       json_object_new_int64(va_arg(ap, int64_t)));
		else
			json_object_object_add(o, key,
					       json_object_new_double(va_arg(ap, double)));
	}
	va_end(ap);
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	fflush(stdout);
}

#endif
