// SPDX-License-Identifier: GPL-2.0
/*
 * The physical-limit line: what one call costs when there is nothing to do,
 * on an empty 1 GiB memfd, next to what the per-run strategies pay per run:
 *
 *   null syscall              getppid()
 *   empty ioctl               SHMEM_ZERO_IOC_RANGES DISCARD, no range
 *   ioctl, 1 hole page        DISCARD of one 4 KiB range over a hole
 *   ioctl, 64 MiB hole        DISCARD of one 64 MiB range, all holes
 *   ioctl, 4096 hole runs     DISCARD of 4096 one-page ranges: per range
 *   SEEK_DATA, punch, MADV_REMOVE, mincore: one call over a hole page
 *   mincore, 64 MiB of holes  one call: per page (it looks up every page)
 *   sz_add_zero               libshmemzero queuing one zero page in stream
 *                             order (extends the pending run; no syscall)
 *   sz_add_zero_v             the same, 128 pages per call: a multifd
 *                             packet's zero pages (QEMU's receive path)
 *   inline coalescing         the same done by the caller (sz-replay's
 *                             per-run strategies): a compare and an add
 *
 * Prints ns per call (per range for the vector), best of REPEATS.
 *
 * Usage: sz_limit_bench [--json] [REPEATS]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/shmem_zero.h>

#include "bench.h"
#include "shmemzero.h"

#define SIZE		(1UL << 30)
#define RUNS		4096

static long page;
static int dev, fd;
static char *map;
static struct shmem_zero_range vec[RUNS];
static struct sz_handle *handle;
static uint64_t pend_start, pend_end, sink;
static unsigned char vec64[(64UL << 20) / 4096];
#define PACKET		128	/* pages of a 512 KiB multifd packet */
static uint64_t packet[PACKET];

static void discard(struct shmem_zero_range *r, unsigned long n)
{
	struct shmem_zero_args a = {
		.size = sizeof(a), .fd = fd, .mode = SHMEM_ZERO_MODE_DISCARD,
		.ranges = (uintptr_t)r, .nr_ranges = n,
	};

	if (ioctl(dev, SHMEM_ZERO_IOC_RANGES, &a)) {
		perror("DISCARD");
		exit(2);
	}
}

static void op(int which, long i)
{
	struct shmem_zero_range one = { (i % 1024) * page * 64, page };
	struct shmem_zero_range big = { 0, 64UL << 20 };
	off_t off = (i % 1024) * page * 64;
	unsigned char v;
	uint64_t first;

	switch (which) {
	case 0:
		syscall(SYS_getppid);
		break;
	case 1:
		discard(NULL, 0);
		break;
	case 2:
		discard(&one, 1);
		break;
	case 3:
		discard(&big, 1);
		break;
	case 4:
		discard(vec, RUNS);
		break;
	case 5:
		lseek(fd, off, SEEK_DATA);
		break;
	case 6:
		fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
			  page);
		break;
	case 7:
		madvise(map + off, page, MADV_REMOVE);
		break;
	case 8:
		mincore(map + off, page, &v);
		break;
	case 9:
		mincore(map, 64UL << 20, vec64);
		break;
	case 10:		/* one run grows page by page; never flushes */
		sz_add_zero(handle, (uint64_t)(i % (SIZE / page)) * page, page);
		if (i % (SIZE / page) == SIZE / page - 1) {
			sz_close(handle);
			sz_open(&handle, fd, 0, SIZE, SZ_OPEN_FALLBACK, 0);
		}
		break;
	case 11:		/* the same pages, a packet per call */
		first = (uint64_t)(i * PACKET) % (SIZE / page);
		for (int k = 0; k < PACKET; k++)	/* as QEMU decodes them */
			packet[k] = (first + k) * page;
		sz_add_zero_v(handle, packet, PACKET, page);
		if ((i + 1) * PACKET % (SIZE / page) == 0) {
			sz_close(handle);
			sz_open(&handle, fd, 0, SIZE, SZ_OPEN_FALLBACK, 0);
		}
		break;
	default:
		if (pend_end == (uint64_t)i * page) {
			pend_end += page;
		} else {
			sink += pend_end - pend_start;
			pend_start = (uint64_t)i * page;
			pend_end = pend_start + page;
		}
		break;
	}
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		long calls;
		long per;		/* units per call */
	} ops[] = {
		{ "null syscall (getppid)", 20000, 1 },
		{ "empty ioctl", 20000, 1 },
		{ "ioctl, 1 hole page", 20000, 1 },
		{ "ioctl, 64 MiB of holes", 2000, 1 },
		{ "ioctl, 4096 one-page hole runs (per run)", 20, RUNS },
		{ "SEEK_DATA over a hole", 20000, 1 },
		{ "fallocate(PUNCH_HOLE) of a hole", 20000, 1 },
		{ "madvise(MADV_REMOVE) of a hole", 20000, 1 },
		{ "mincore of one hole page", 20000, 1 },
		{ "mincore of 64 MiB of holes (per page)", 20, 16384 },
		{ "sz_add_zero (per zero page)", 1000000, 1 },
		{ "sz_add_zero_v, 128-page packets (per zero page)", 8000,
		  PACKET },
		{ "inline coalescing (per zero page)", 1000000, 1 },
	};
	int arg = bench_args(argc, argv);
	int reps = argc > arg ? atoi(argv[arg]) : 3;
	unsigned int k;

	page = sysconf(_SC_PAGESIZE);
	dev = bench_dev();
	fd = memfd_create("limit", 0);
	if (fd < 0 || ftruncate(fd, SIZE)) {
		perror("setup");
		return 2;
	}
	map = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED ||
	    sz_open(&handle, fd, 0, SIZE, SZ_OPEN_FALLBACK, 0)) {
		perror("setup");
		return 2;
	}
	for (k = 0; k < RUNS; k++) {
		vec[k].offset = (uint64_t)k * 2 * page;
		vec[k].length = page;
	}
	say("empty 1 GiB memfd; ns per call, best of %d\n", reps);
	for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		double best = 0;

		for (int rep = 0; rep < reps; rep++) {
			double t = now();

			for (long i = 0; i < ops[k].calls; i++)
				op((int)k, i);
			t = (now() - t) * 1e9 / ops[k].calls / ops[k].per;
			if (!rep || t < best)
				best = t;
		}
		say("  %-42s %9.1f ns\n", ops[k].name, best);
		json("limit", J_STR, "op", ops[k].name, J_DBL, "ns", best,
		     J_I64, "reps", (int64_t)reps, J_END);
	}
	say("(the inline coalescing closed runs worth %llu bytes)\n",
	    (unsigned long long)sink);
	sz_close(handle);
	return 0;
}
