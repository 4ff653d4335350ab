/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libshmemzero internals shared by its source files. */
#ifndef SZ_INTERNAL_H
#define SZ_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/shmem_zero.h>

#include "shmemzero.h"

#define SZ_EXPORT	__attribute__((visibility("default")))
/*
 * An exported function under a versioned name (libshmemzero.map):
 * name@@VER is the default that new programs link to, name@VER an old
 * ABI kept for programs linked before.  The functions are prototyped
 * here, under their own names, for -Wmissing-prototypes.
 */
#define SZ_SYMVER(fn, versioned)	__asm__(".symver " #fn ", " #versioned)

/* File offsets are cast to off_t: every source defines _FILE_OFFSET_BITS. */
_Static_assert(sizeof(off_t) == 8, "libshmemzero needs a 64-bit off_t");

struct sz_handle {
	int fd;				/* our dup of the caller's fd */
	pid_t owner;			/* the process that opened it */
	int dev;			/* /dev/shmem_zero, or -1 */
	int path;			/* enum sz_path */
	unsigned int flags;		/* SZ_OPEN_* */
	unsigned int mode;		/* SHMEM_ZERO_MODE_DISCARD / _ZERO_IN_PLACE */
	bool query_noread;		/* the module takes SHMEM_ZERO_QUERY_NOREAD */
	bool no_punch;			/* fallocate cannot punch: write zeros */
	uint64_t base, size;		/* the region, in file offsets */
	uint64_t page;
	/* Pending runs in file offsets: sorted, disjoint, never adjacent. */
	struct shmem_zero_range *runs;
	size_t nr, cap, batch;
	struct sz_stats st;
	unsigned char *io, *zero;	/* zero-in-place fallback buffers */
};

/* Is [off, off + len) inside the region, and page aligned if asked? */
bool sz__range_ok(const struct sz_handle *h, uint64_t off, uint64_t len,
		 bool aligned);
/* The ioctl, resuming after EINTR; args->ranges_done etc. accumulate. */
int sz__ioctl_resume(struct sz_handle *h, struct shmem_zero_args *args);
/* Did the device refuse this fd or mode (use the fallback then)? */
bool sz__refused(int err);
/* Is every byte of p[0, len) zero?  len a multiple of 8, p 8-aligned. */
bool sz__all_zero(const unsigned char *p, size_t len);
/*
 * pread() of [off, off + len) into buf, retried on EINTR and continued when
 * short: the bytes read (fewer only at EOF), or -errno.
 */
ssize_t sz__pread_full(struct sz_handle *h, void *buf, size_t len, uint64_t off);
/* Copy an ssize-byte struct out to one of size bytes (zero-filled past). */
void sz__copy_out(void *dst, size_t size, const void *src, size_t ssize);

/* The versions of the versioned exports (see SZ_SYMVER). */
int sz_stats_v03(const struct sz_handle *h, struct sz_stats *st, size_t size);
void sz_stats_v01(const struct sz_handle *h, struct sz_stats *st);
int sz_query_v03(struct sz_handle *h, uint64_t offset, uint64_t length,
		 uint8_t *map, struct sz_counts *counts, size_t counts_size);
int sz_query_v01(struct sz_handle *h, uint64_t offset, uint64_t length,
		 uint8_t *map, struct sz_counts *counts);
int sz_reclaim_v03(struct sz_handle *h, uint64_t offset, uint64_t length,
		   struct sz_counts *counts, size_t counts_size);
int sz_reclaim_v01(struct sz_handle *h, uint64_t offset, uint64_t length,
		   struct sz_counts *counts);

#endif /* SZ_INTERNAL_H */
