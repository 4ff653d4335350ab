// SPDX-License-Identifier: GPL-2.0
/*
 * RECLAIM against its userspace emulation on a resident memfd with every
 * other page zero: walk with SEEK_DATA/SEEK_HOLE, pread 1 MiB at a time,
 * compare, fallocate(PUNCH_HOLE) each run of zero pages.  (The emulation is also racy: a
 * write between its compare and its punch is lost; RECLAIM's is not.)
 * Each method gets a fresh, identical file; wall time, Shmem after, and a
 * check that every data page survived.
 *
 * Usage: sz_reclaim_bench [--json] [MIB] [REPEATS]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
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

static void result(const char *name, int rep, double t, long syscalls,
		   long shmem0, int fd, size_t size)
{
	long shmem = shmem_kb() - shmem0, lost = lost_data(fd, size);

	say("%-32s %8.1f ms  Shmem %+8ld kB  lost data pages %ld\n", name,
	    t * 1e3, shmem, lost);
	json("reclaim", J_STR, "method", name, J_I64, "mib", (int64_t)(size >> 20),
	     J_I64, "rep", (int64_t)rep, J_DBL, "ms", t * 1e3,
	     J_I64, "syscalls", (int64_t)syscalls, J_I64, "shmem_kb", (int64_t)shmem,
	     J_I64, "lost_pages", (int64_t)lost, J_END);
}

#define EMU_CHUNK	(1 << 20)	/* the emulation reads 1 MiB at a time */

/*
 * The emulation, as well as a program can do it alone: SEEK_DATA/SEEK_HOLE
 * for the extents, 1 MiB preads, and one punch per run of zero pages.
 * Returns its syscalls.  (It races with writers: see Documentation.)
 */
static long emulate(int fd, size_t size)
{
	char *buf = malloc(EMU_CHUNK), *zero = calloc(1, page);
	off_t off = 0, hole;
	long calls = 0;

	if (!buf || !zero)
		exit(2);
	for (;;) {
		calls++;
		off = lseek(fd, off, SEEK_DATA);
		if (off < 0 || (size_t)off >= size)
			break;
		hole = lseek(fd, off, SEEK_HOLE);
		calls++;
		while (off < hole) {
			size_t n = hole - off < EMU_CHUNK ? hole - off : EMU_CHUNK;
			off_t run = -1;

			calls++;
			if (pread(fd, buf, n, off) != (ssize_t)n)
				exit(2);
			for (size_t p = 0; p <= n; p += page) {
				bool z = p < n && !memcmp(buf + p, zero, page);

				if (z && run < 0)
					run = off + p;
				if (!z && run >= 0) {
					calls++;
					if (fallocate(fd, FALLOC_FL_PUNCH_HOLE |
						      FALLOC_FL_KEEP_SIZE, run,
						      off + p - run))
						exit(2);
					run = -1;
				}
			}
			off += n;
		}
	}
	free(buf);
	free(zero);
	return calls;
}

int main(int argc, char **argv)
{
	int arg = bench_args(argc, argv);
	size_t size = (argc > arg ? atol(argv[arg]) : 1024) << 20;
	int reps = argc > arg + 1 ? atoi(argv[arg + 1]) : 1;
	int dev = bench_dev();

	page = sysconf(_SC_PAGESIZE);
	say("%zu MiB memfd, all resident, every other page zero\n", size >> 20);
	for (int rep = 0; rep < reps; rep++) {
		struct shmem_zero_range r = { 0, size };
		struct shmem_zero_args a = { .size = sizeof(a),
			.mode = SHMEM_ZERO_MODE_RECLAIM,
			.ranges = (uintptr_t)&r, .nr_ranges = 1 };
		long s0, calls;
		double t;
		int fd;

		fd = make_file(size);
		s0 = shmem_kb();
		t = now();
		calls = emulate(fd, size);
		t = now() - t;
		result("SEEK_DATA+pread+compare+punch", rep, t, calls, s0, fd,
		       size);
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
		result("shmem_zero RECLAIM, one ioctl", rep, t, 1, s0, fd, size);
		say("%-32s freed %llu, busy %llu\n", "", a.freed_pages,
		    a.busy_pages);
		close(fd);
	}
	return 0;
}
