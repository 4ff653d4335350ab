// SPDX-License-Identifier: GPL-2.0
/*
 * QUERY against what userspace has: a MIB memfd, sparse (1 % of its pages,
 * at random, hold data; the rest are holes) or dense (every page resident,
 * half of them, at random, data and half zero).  Each method walks the
 * whole file:
 *
 *   query ioctl       one SHMEM_ZERO_MODE_QUERY call: hole/zero/data per page
 *   mincore           mmap + mincore + munmap: resident or not, nothing more
 *   seek-data         SEEK_DATA/SEEK_HOLE walk: the allocated extents only
 *   lib fallback      sz_query() without the module (mincore, SEEK_DATA and
 *                     pread of resident pages): the same classes as QUERY
 *
 * Reports time, syscalls and the page counts each method sees.
 *
 * Usage: sz_query_bench [--json] [MIB] [REPEATS]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/shmem_zero.h>

#include "bench.h"
#include "shmemzero.h"

static long page;

struct seen {
	uint64_t hole, zero, data, resident;
	long syscalls;
};

/* sparse: 1 % data, rest holes; dense: all resident, 50 % data. */
static int make_file(size_t size, int dense)
{
	int fd = memfd_create("query", 0);
	char *buf = malloc(page), *zero = calloc(1, page);
	size_t pages = size / page, i;

	if (fd < 0 || ftruncate(fd, size) || !buf || !zero)
		exit(2);
	memset(buf, 0x5a, page);
	srandom(7);
	for (i = 0; i < pages; i++) {
		int data = dense ? random() % 2 : random() % 100 == 0;

		if (!data && !dense)
			continue;
		if (pwrite(fd, data ? buf : zero, page, i * page) != page)
			exit(2);
	}
	free(buf);
	free(zero);
	return fd;
}

static void by_query(int dev, int fd, size_t size, struct seen *s)
{
	struct shmem_zero_range r = { 0, size };
	uint8_t *map = malloc(size / page);
	struct shmem_zero_args a = {
		.size = sizeof(a), .fd = fd, .mode = SHMEM_ZERO_MODE_QUERY,
		.ranges = (uintptr_t)&r, .nr_ranges = 1,
		.map = (uintptr_t)map, .map_len = size / page,
	};

	if (!map || ioctl(dev, SHMEM_ZERO_IOC_RANGES, &a)) {
		perror("QUERY");
		exit(2);
	}
	s->hole = a.hole_pages;
	s->zero = a.zero_pages;
	s->data = a.data_pages;
	s->resident = a.zero_pages + a.data_pages;
	s->syscalls = 1;
	free(map);
}

static void by_mincore(int fd, size_t size, struct seen *s)
{
	unsigned char *vec = malloc(size / page);
	void *addr = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	size_t i;

	if (!vec || addr == MAP_FAILED || mincore(addr, size, vec)) {
		perror("mincore");
		exit(2);
	}
	munmap(addr, size);
	for (i = 0; i < size / page; i++)
		s->resident += vec[i] & 1;
	s->syscalls = 3;
	free(vec);
}

static void by_seek(int fd, size_t size, struct seen *s)
{
	off_t off = 0, hole;

	for (;;) {
		s->syscalls++;
		off = lseek(fd, off, SEEK_DATA);
		if (off < 0 || (size_t)off >= size)
			break;
		s->syscalls++;
		hole = lseek(fd, off, SEEK_HOLE);
		s->resident += (hole - off) / page;
		off = hole;
	}
}

static void by_lib(int fd, size_t size, struct seen *s)
{
	struct sz_handle *h;
	struct sz_counts c;
	struct sz_stats st;

	if (sz_open(&h, fd, 0, size, SZ_OPEN_READONLY | SZ_OPEN_FALLBACK, 0) ||
	    sz_query(h, 0, size, NULL, &c, sizeof(c))) {
		fprintf(stderr, "sz_query failed\n");
		exit(2);
	}
	sz_stats(h, &st, sizeof(st));
	sz_close(h);
	s->hole = c.hole;
	s->zero = c.zero;
	s->data = c.data;
	s->resident = c.zero + c.data;
	s->syscalls = (long)st.syscalls;
}

int main(int argc, char **argv)
{
	static const char *const methods[] = {
		"query ioctl", "mincore", "seek-data", "lib fallback",
	};
	int arg = bench_args(argc, argv);
	size_t size = (argc > arg ? atol(argv[arg]) : 256) << 20;
	int reps = argc > arg + 1 ? atoi(argv[arg + 1]) : 1;
	int dev = bench_dev();

	page = sysconf(_SC_PAGESIZE);
	for (int dense = 0; dense < 2; dense++) {
		int fd = make_file(size, dense);

		say("%zu MiB memfd, %s\n", size >> 20, dense ?
		    "dense: all resident, 50 % data" :
		    "sparse: 1 % data, rest holes");
		for (int rep = 0; rep < reps; rep++)
			for (int m = 0; m < 4; m++) {
				struct seen s = { 0 };
				double t = now();

				switch (m) {
				case 0:
					by_query(dev, fd, size, &s);
					break;
				case 1:
					by_mincore(fd, size, &s);
					break;
				case 2:
					by_seek(fd, size, &s);
					break;
				default:
					by_lib(fd, size, &s);
					break;
				}
				t = now() - t;
				say("  %-13s %9.2f ms %8ld syscalls  resident %8llu"
				    "  hole/zero/data %llu/%llu/%llu\n", methods[m],
				    t * 1e3, s.syscalls,
				    (unsigned long long)s.resident,
				    (unsigned long long)s.hole,
				    (unsigned long long)s.zero,
				    (unsigned long long)s.data);
				json("query", J_STR, "file", dense ? "dense" : "sparse",
				     J_I64, "mib", (int64_t)(size >> 20),
				     J_STR, "method", methods[m], J_I64, "rep", (int64_t)rep,
				     J_DBL, "ms", t * 1e3, J_I64, "syscalls", (int64_t)s.syscalls,
				     J_I64, "resident", (int64_t)s.resident,
				     J_I64, "hole", (int64_t)s.hole, J_I64, "zero", (int64_t)s.zero,
				     J_I64, "data", (int64_t)s.data, J_END);
			}
		close(fd);
	}
	return 0;
}
