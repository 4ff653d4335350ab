/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libshmemzero: batched zero ranges for tmpfs files (memfd, /dev/shm).
 *
 * A handle covers one region of a file (a RAM block of a memfd).  Zero runs
 * are queued with sz_add_zero(), coalesced, and applied in batches: one
 * SHMEM_ZERO_IOC_RANGES ioctl on /dev/shmem_zero per batch, or, when the
 * device is missing or refuses the file, fallocate(PUNCH_HOLE) per run.
 * Afterwards the ranges read as zero and hold no memory.
 *
 * Offsets are relative to the region; runs are page aligned.  Every call
 * returns 0 (or a count) on success and a negative errno on failure; the
 * library never prints, never aborts, and installs no signal handler.
 *
 * Thread safety: a handle belongs to one thread at a time (no internal
 * lock; as with an io_uring).  Handles are independent: threads may use
 * their own handles on the same file concurrently, provided that a page
 * one handle has pending is not written through another before that
 * handle flushes it (the pending zero would wipe the write): QEMU's
 * multifd threads receive disjoint pages between two syncs, and flush at
 * each sync.
 *
 * fork(): a child inherits the handle and its pending runs, which belong
 * to the parent.  In the child every call that would apply them
 * (sz_flush(), sz_flush_range(), sz_close(), and sz_add_zero(),
 * sz_before_write() or sz_query() when they have to) fails with -ECHILD
 * and applies nothing; the child releases the handle with sz_free().
 *
 * The handle keeps its own duplicate of the fd (F_DUPFD_CLOEXEC): the
 * caller may close its fd, and a new file that reuses the number is not
 * touched.
 *
 * See libshmemzero(3).
 */
#ifndef SHMEMZERO_H
#define SHMEMZERO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHMEMZERO_VERSION_MAJOR	0
#define SHMEMZERO_VERSION_MINOR	3

struct sz_handle;

/* sz_open() flags */
#define SZ_OPEN_FALLBACK	(1u << 0)	/* never use the device */
#define SZ_OPEN_NO_FALLBACK	(1u << 1)	/* fail if the device is unusable */
#define SZ_OPEN_ZERO_IN_PLACE	(1u << 2)	/* clear in place, keep memory */
#define SZ_OPEN_READONLY	(1u << 3)	/* sz_query() only; fd may be
						 * read-only or sealed */
#define SZ_OPEN_QUERY_NOREAD	(1u << 4)	/* sz_query() reads no page:
						 * SZ_PAGE_RESIDENT (0.2) */

/* sz_path() */
enum sz_path {
	SZ_PATH_IOCTL		= 1,	/* /dev/shmem_zero */
	SZ_PATH_FALLBACK	= 2,	/* fallocate(PUNCH_HOLE) per run */
};

/* One byte per page in an sz_query() map; the kernel's values. */
enum sz_page_class {
	SZ_PAGE_HOLE		= 0,	/* not allocated (or past EOF) */
	SZ_PAGE_ZERO		= 1,	/* resident, every byte zero */
	SZ_PAGE_DATA		= 2,	/* resident, some byte non-zero */
	SZ_PAGE_SWAP		= 3,	/* swapped out, not read */
	SZ_PAGE_UNWRITTEN	= 4,	/* fallocated, reads as zero */
	SZ_PAGE_RESIDENT	= 5,	/* SZ_OPEN_QUERY_NOREAD: allocated,
					 * not read (counted as data) */
};

/*
 * Page counts of sz_query() and sz_reclaim().  The caller passes
 * sizeof(struct sz_counts) with it: fields are only ever appended, and a
 * library older than the caller's header zeroes the ones it does not know.
 */
struct sz_counts {
	uint64_t hole, zero, data, swap, unwritten;
	uint64_t freed;		/* sz_reclaim(): zero pages freed */
	uint64_t pinned, busy;	/* sz_reclaim(): zero pages kept */
};
#define SZ_COUNTS_SIZE_VER0	64	/* 0.3: hole .. busy */

/* Cumulative counters of a handle (sz_stats(); sized as sz_counts). */
struct sz_stats {
	uint64_t add_calls, add_bytes;	/* sz_add_zero() */
	uint64_t coalesced;		/* adds merged into a pending run */
	uint64_t pending_runs, pending_bytes;	/* queued now */
	uint64_t flushes;		/* batches applied */
	uint64_t applied_runs, applied_bytes;
	uint64_t trimmed_bytes;		/* dropped by sz_before_write() */
	uint64_t early_flushes;		/* runs applied early for a write */
	uint64_t syscalls;		/* every syscall the library made */
	uint64_t ioctls, eintr_restarts;
	uint64_t fallocates;		/* fallback punch-hole calls */
	/* kernel page counters summed over DISCARD/ZERO_IN_PLACE calls */
	uint64_t hole_pages, freed_pages, zeroed_pages, swap_pages;
	uint64_t pinned_pages;
};
#define SZ_STATS_SIZE_VER0	152	/* 0.3: add_calls .. pinned_pages */

/*
 * Open a handle on bytes [fd_offset, fd_offset + length) of fd (the handle
 * holds a duplicate of it).  batch: pending runs that trigger a flush
 * (0: 4096).  Probes the device once with an empty vector.
 */
int sz_open(struct sz_handle **hp, int fd, uint64_t fd_offset,
	    uint64_t length, unsigned int flags, unsigned int batch);
/* Flush, then free the handle (always freed); the flush's result. */
int sz_close(struct sz_handle *h);
/* Free the handle without applying its pending runs (a forked child). */
void sz_free(struct sz_handle *h);
/* SZ_PATH_IOCTL or SZ_PATH_FALLBACK. */
int sz_path(const struct sz_handle *h);

/* Queue [offset, offset + length) to read as zero; page aligned. */
int sz_add_zero(struct sz_handle *h, uint64_t offset, uint64_t length);
/*
 * Call before writing [offset, offset + length) (any byte range): pending
 * zero pages the write covers whole are dropped, pages it covers in part
 * are zeroed now.  The caller then writes every byte of the range.
 */
int sz_before_write(struct sz_handle *h, uint64_t offset, uint64_t length);
/*
 * Vector forms (0.3), for callers holding many pages at once, such as
 * QEMU's multifd packets: n ranges of length bytes at offsets[0, n), taken
 * in order as n calls of sz_add_zero() or sz_before_write() would, at the
 * cost of one call.  They return how many were taken: n; or fewer, when
 * offsets[ret] failed and it and the ones after were not touched (call
 * again from there for its error); or -errno when offsets[0] failed.
 * With sz_add_zero_v(), a batch that a run filled and that could not be
 * applied stays pending, and the next call that applies it reports it.
 */
ssize_t sz_add_zero_v(struct sz_handle *h, const uint64_t *offsets, size_t n,
		      uint64_t length);
ssize_t sz_before_write_v(struct sz_handle *h, const uint64_t *offsets,
			  size_t n, uint64_t length);
/* Apply now the pending runs that overlap the range (before reading it). */
int sz_flush_range(struct sz_handle *h, uint64_t offset, uint64_t length);
/* Apply every pending run. */
int sz_flush(struct sz_handle *h);

/*
 * Classify the pages of a range (page aligned) without allocating: map
 * (one byte per page, or NULL) and counts (or NULL).  Pending runs in the
 * range are applied first.  Fallback: holes by SEEK_DATA, residency by
 * mincore(), content by pread(); fallocated pages read as holes there.
 * With SZ_OPEN_QUERY_NOREAD no page is read, on either path: every
 * allocated page that is not known to read as zero (a hole, or fallocated
 * on the module path) or swapped is SZ_PAGE_RESIDENT, for callers that
 * read the pages they need anyway; its cost is a walk of the page cache
 * (SEEK_DATA and mincore() without the module, or with a module before
 * the flag).
 */
int sz_query(struct sz_handle *h, uint64_t offset, uint64_t length,
	     uint8_t *map, struct sz_counts *counts, size_t counts_size);
/*
 * Free the resident pages of the range that are entirely zero, race-free
 * against concurrent writers.  Module only: -EOPNOTSUPP on the fallback
 * path (userspace cannot compare and punch atomically).
 */
int sz_reclaim(struct sz_handle *h, uint64_t offset, uint64_t length,
	       struct sz_counts *counts, size_t counts_size);

/* Copy the handle's counters: size is sizeof(*st); -EINVAL if too small. */
int sz_stats(const struct sz_handle *h, struct sz_stats *st, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* SHMEMZERO_H */
