// SPDX-License-Identifier: GPL-2.0
/*
 * A stand-in for a running VM: a memfd of MIB MiB mapped shared, every page
 * populated by a read fault (the state stock QEMU leaves after a migration),
 * every 4th page holding data.  Prints "PID FD" and keeps writing to its
 * data pages through the mapping until SIGTERM (or SECONDS), remembering the
 * last value of each; then checks every data page holds its last value and
 * every other page reads zero.  Exit 0 if so.
 *
 * Usage: holder MIB SECONDS
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	size_t size = (argc > 1 ? atol(argv[1]) : 64) << 20;
	int secs = argc > 2 ? atoi(argv[2]) : 5;
	long page = sysconf(_SC_PAGESIZE), pages = size / page, bad = 0;
	uint64_t *last = calloc(pages, sizeof(*last)), seq = 0;
	time_t end;
	char *m;
	int fd;

	fd = memfd_create("guest-ram", 0);
	if (fd < 0 || ftruncate(fd, size) || !last)
		return 2;
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return 2;
	for (long p = 0; p < pages; p++) {
		volatile char c = m[p * page];

		(void)c;
		if (p % 4 == 0) {
			last[p] = ++seq;
			memcpy(m + p * page, &last[p], sizeof(seq));
		}
	}
	signal(SIGTERM, on_term);
	printf("%d %d\n", getpid(), fd);
	fflush(stdout);
	srandom(1);
	end = time(NULL) + secs;
	while (!stop && time(NULL) < end) {
		long p = (random() % (pages / 4)) * 4;

		last[p] = ++seq;
		memcpy(m + p * page + (seq % 8) * 8, &last[p], sizeof(seq));
		memcpy(m + p * page, &last[p], sizeof(seq));
	}
	for (long p = 0; p < pages; p++) {
		uint64_t v;

		memcpy(&v, m + p * page, sizeof(v));
		if (v != last[p])
			bad++;
	}
	printf("writes %llu, wrong pages %ld\n", (unsigned long long)seq, bad);
	return bad ? 1 : 0;
}
