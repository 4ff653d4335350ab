// SPDX-License-Identifier: GPL-2.0
/*
 * RECLAIM against its userspace emulation on a resident memfd with every
 * other page zero: walk with SEEK_DATA/SEEK_HOLE, pread each page, compare,
 * fallocate(PUNCH_HOLE) each zero page.  (The emulation is also racy: a
 * write between its compare and its punch is lost; RECLAIM's is not.)
 * Each method gets a fresh, identical file; wall time, Shmem after, and a
 * check that every data page survived.
 *
 * Usage: sz_reclaim_bench [MIB] [REPEATS]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/shmem_zero.h>

#include "bench.h"

static long page;

/* Every page resident; odd pages hold their index, even pages zero. */
static int make_file(size_t size)
{
	int fd = memfd_create("reclaim", 0);
	char *buf = calloc(1, page);

	if (fd < 0 || !buf)
		exit(2);
	for (size_t off = 0; off < size; off += page) {
		memset(buf, 0, page);
		if ((off / page) & 1)
			memcpy(buf, &off, sizeof(off));
		if (pwrite(fd, buf, page, off) != page)
			exit(2);
	}
	free(buf);
	return fd;
}

static long lost_data(int fd, size_t size)
{
	long bad = 0;
	size_t v;

	for (size_t off = page; off < size; off += 2 * page)
		if (pread(fd, &v, sizeof(v), off) != sizeof(v) || v != off)
			bad++;
	return bad;
}

static void emulate(int fd, size_t size)
{
	char *buf = malloc(page), *zero = calloc(1, page);
	off_t off = 0, hole;

	while ((off = lseek(fd, off, SEEK_DATA)) >= 0 && (size_t)off < size) {
		hole = lseek(fd, off, SEEK_HOLE);
		for (; off < hole; off += page) {
			if (pread(fd, buf, page, off) != page)
				exit(2);
			if (!memcmp(buf, zero, page) &&
			    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      off, page))
				exit(2);
		}
	}
	free(buf);
	free(zero);
}

int main(int argc, char **argv)
{
	size_t size = (argc > 1 ? atol(argv[1]) : 1024) << 20;
	int reps = argc > 2 ? atoi(argv[2]) : 1;
	int dev = open(SHMEM_ZERO_DEVICE, O_RDWR);

	page = sysconf(_SC_PAGESIZE);
	if (dev < 0) {
		perror(SHMEM_ZERO_DEVICE);
		return 2;
	}
	printf("%zu MiB memfd, all resident, every other page zero\n", size >> 20);
	for (int rep = 0; rep < reps; rep++) {
		struct shmem_zero_range r = { 0, size };
		struct shmem_zero_args a = { .size = sizeof(a),
			.mode = SHMEM_ZERO_MODE_RECLAIM,
			.ranges = (uintptr_t)&r, .nr_ranges = 1 };
		long s0;
		double t;
		int fd;

		fd = make_file(size);
		s0 = shmem_kb();
		t = now();
		emulate(fd, size);
		t = now() - t;
		printf("%-32s %8.1f ms  Shmem %+8ld kB  lost data pages %ld\n",
		       "SEEK_DATA+pread+compare+punch", t * 1e3,
		       shmem_kb() - s0, lost_data(fd, size));
		close(fd);

		fd = make_file(size);
		s0 = shmem_kb();
		a.fd = fd;
		t = now();
		if (ioctl(dev, SHMEM_ZERO_IOC_RANGES, &a)) {
			perror("RECLAIM");
			return 2;
		}
		t = now() - t;
		printf("%-32s %8.1f ms  Shmem %+8ld kB  lost data pages %ld"
		       "  (freed %llu, busy %llu)\n",
		       "shmem_zero RECLAIM, one ioctl", t * 1e3,
		       shmem_kb() - s0, lost_data(fd, size),
		       a.freed_pages, a.busy_pages);
		close(fd);
	}
	return 0;
}
