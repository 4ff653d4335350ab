/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * shmem_zero: batched zero-range operations on tmpfs files (memfd, /dev/shm).
 *
 * One ioctl on /dev/shmem_zero names a tmpfs file by fd and a vector of
 * page-aligned byte ranges of it.  See Documentation/shmem_zero.rst.
 */
#ifndef _UAPI_LINUX_SHMEM_ZERO_H
#define _UAPI_LINUX_SHMEM_ZERO_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define SHMEM_ZERO_DEVICE	"/dev/shmem_zero"

/* Modes (struct shmem_zero_args.mode). */
enum shmem_zero_mode {
	/*
	 * Afterwards every byte of every range reads as zero: resident
	 * folios are unmapped and removed, swap entries freed, parts of
	 * large folios zeroed in place, DMA-pinned folios zeroed in place
	 * instead of freed.  Holes stay holes.  As punch-hole, it does not
	 * stop at EOF: blocks that fallocate(FALLOC_FL_KEEP_SIZE) allocated
	 * past it are freed too.  Needs the fd open for writing.
	 * hugetlbfs files (MFD_HUGETLB): DISCARD only, ranges aligned to the
	 * huge page size, done by the filesystem's punch-hole, no page counts.
	 * Like punch-hole: refused (EPERM) on append-only, immutable and
	 * write-sealed files, also when that happens during the call;
	 * S_ISUID, S_ISGID and security.capability are dropped (unless the
	 * caller has CAP_FSETID, for the two bits).  Stops with EBUSY before
	 * it would remove a page that a mapping registered with a userfaultfd
	 * for missing faults covers (punch-hole does not check that).
	 * i_rwsem is held a chunk of the vector at a time, not for the call.
	 */
	SHMEM_ZERO_MODE_DISCARD		= 0,
	/*
	 * Classify every page without faulting or changing anything: the
	 * counters, and one byte per page (enum shmem_zero_page) in the
	 * optional map.  Needs the fd open for reading.  Swapped-out pages
	 * are SWAP only if the caller owns the file or may write it (the rule
	 * of mincore(2)); to others they are DATA.
	 */
	SHMEM_ZERO_MODE_QUERY		= 1,
	/*
	 * Free exactly the resident pages whose every byte is zero, while
	 * other threads may fault, write and pin the file: a write is not
	 * lost (one exception: a pinner that writes without marking the page
	 * dirty and unpins within the call's removal window, as udmabuf does,
	 * loses it as it would to page reclaim; see Documentation).  Data,
	 * swapped and fallocated pages stay; holes stay holes.
	 * Pinned or otherwise referenced pages are skipped and counted.  Needs
	 * the fd open for reading and writing (the counts tell which pages
	 * hold data).  Refused (EPERM), as punch-hole is, on append-only and
	 * immutable files and on F_SEAL_WRITE or F_SEAL_FUTURE_WRITE memfds,
	 * although the content does not change: it would free memory that the
	 * fd cannot punch and make the sealed file's readers re-fault it.  A
	 * seal added while a call runs stops it with EPERM before the next
	 * page.  Stops with EBUSY, as DISCARD, before it would remove a page
	 * under a userfaultfd missing-fault registration.  mtime, ctime and
	 * mode bits are left alone.
	 */
	SHMEM_ZERO_MODE_RECLAIM		= 2,
	/*
	 * Clear resident non-zero pages in place (for preallocated or pinned
	 * memory): every byte reads zero afterwards, resident pages stay
	 * resident, holes stay holes, nothing is allocated.  Swap entries
	 * wholly in range are dropped (they hold no memory); a large swap
	 * entry only partly in range stays swapped out and is counted busy
	 * (dropping part of it would read it back from swap).  Hwpoisoned pages
	 * cannot be cleared: they are left and counted as data.  Those two
	 * are the pages that may not read zero afterwards.  Pages past EOF
	 * are left.  Needs the fd open for reading
	 * and writing (zero_pages tells which pages were zero); refused (EPERM)
	 * on append-only, immutable and write-sealed files, also when that
	 * happens during the call; drops S_ISUID, S_ISGID and
	 * security.capability as write(2) does.  Stops with EBUSY, as
	 * DISCARD, before it would drop a swap entry under a userfaultfd
	 * missing-fault registration.
	 */
	SHMEM_ZERO_MODE_ZERO_IN_PLACE	= 3,
};

/* Per-page classes written to the QUERY map. */
enum shmem_zero_page {
	SHMEM_ZERO_PAGE_HOLE		= 0,	/* not allocated (or past EOF) */
	SHMEM_ZERO_PAGE_ZERO		= 1,	/* resident, every byte zero */
	SHMEM_ZERO_PAGE_DATA		= 2,	/* resident, some byte non-zero;
						 * or swapped out, for a caller
						 * not shown SWAP
						 */
	SHMEM_ZERO_PAGE_SWAP		= 3,	/* swapped out (content unknown);
						 * only to the owner or a writer
						 */
	SHMEM_ZERO_PAGE_UNWRITTEN	= 4,	/* fallocated, reads as zero */
	SHMEM_ZERO_PAGE_RESIDENT	= 5,	/* resident, not read
						 * (SHMEM_ZERO_QUERY_NOREAD)
						 */
};

/*
 * Flags (struct shmem_zero_args.flags).
 *
 * SHMEM_ZERO_QUERY_NOREAD, QUERY only: resident pages are not read.  Each
 * is RESIDENT in the map and counted in data_pages whatever it holds;
 * holes, fallocated and swapped-out pages are told as without the flag.
 * The call then costs a walk of the page cache, not a read of every
 * resident page: for a caller that reads the pages it needs anyway (a
 * migration source reads every page it sends).
 */
#define SHMEM_ZERO_QUERY_NOREAD		(1U << 0)

/* One byte range of the file; offset and length page aligned, length > 0. */
struct shmem_zero_range {
	__u64 offset;
	__u64 length;
};

/* The most ranges one call takes (16 MiB of vector). */
#define SHMEM_ZERO_MAX_RANGES	(1U << 20)

/*
 * Extensible argument, in the openat2()/clone3() way: @size is the size
 * the caller knows.  The kernel accepts any size from
 * SHMEM_ZERO_ARGS_SIZE_VER0 on; bytes it does not know must be zero
 * (E2BIG otherwise).  It writes back min(@size, its own size) bytes.
 *
 * Output fields are written back on success and on failure: they describe
 * the completed prefix of the vector.  Ranges [0, ranges_done) are done;
 * bytes_done also counts the done, page-aligned head of range ranges_done
 * when a call stopped inside it (EINTR, or EINVAL from a range grown
 * after the validation: QUERY never writes the map past map_len).  Page
 * counters count pages of PAGE_SIZE: DISCARD those it found or acted on,
 * past EOF too, and holes before EOF; QUERY every page of every range, pages
 * past EOF as holes, so its counts add up to the map written.
 */
struct shmem_zero_args {
	__u32 size;		/* in: sizeof(struct shmem_zero_args) */
	__s32 fd;		/* in: the tmpfs file */
	__u32 mode;		/* in: enum shmem_zero_mode */
	__u32 flags;		/* in: SHMEM_ZERO_QUERY_NOREAD or 0 */
	__u64 ranges;		/* in: user pointer to struct shmem_zero_range[] */
	__u64 nr_ranges;	/* in: at most SHMEM_ZERO_MAX_RANGES */
	__u64 map;		/* in: QUERY: user pointer to __u8[map_len], or 0 */
	__u64 map_len;		/* in: bytes at map; >= pages in all ranges */

	__u64 ranges_done;	/* out: ranges fully done */
	__u64 bytes_done;	/* out: bytes done, partial range included */
	__u64 hole_pages;	/* out: holes (skipped, never allocated) */
	__u64 zero_pages;	/* out: QUERY: resident, all zero;
				 * ZERO_IN_PLACE: already zero, untouched
				 */
	__u64 data_pages;	/* out: QUERY, RECLAIM: resident, not all zero
				 * (QUERY: and swapped, when not shown SWAP;
				 * with SHMEM_ZERO_QUERY_NOREAD every resident
				 * page), or hwpoisoned; ZERO_IN_PLACE: hwpoisoned,
				 * not cleared
				 */
	__u64 unwritten_pages;	/* out: fallocated, not written (reads zero;
				 * RECLAIM and ZERO_IN_PLACE leave them)
				 */
	__u64 swap_pages;	/* out: QUERY: swapped (owner, writer only);
				 * DISCARD, ZERO_IN_PLACE: swap freed;
				 * RECLAIM: swapped, skipped
				 */
	__u64 freed_pages;	/* out: DISCARD: resident pages removed;
				 * RECLAIM: zero pages removed
				 */
	__u64 zeroed_pages;	/* out: DISCARD: zeroed in place (part of a
				 * large folio that could not be split);
				 * ZERO_IN_PLACE: cleared
				 */
	/* SHMEM_ZERO_ARGS_SIZE_VER1 */
	__u64 pinned_pages;	/* out: DISCARD: DMA-pinned, zeroed in place
				 * instead of freed; RECLAIM: zero but pinned,
				 * kept
				 */
	__u64 busy_pages;	/* out: RECLAIM: zero but kept: referenced,
				 * mlocked, in a large folio partly in range
				 * or partly data, under swap-out;
				 * ZERO_IN_PLACE: in a large swap entry partly
				 * in range, left swapped out
				 */
};

#define SHMEM_ZERO_ARGS_SIZE_VER0	120	/* first published size */
#define SHMEM_ZERO_ARGS_SIZE_VER1	136	/* + pinned_pages, busy_pages */

/*
 * 0xBC: free in Documentation/userspace-api/ioctl/ioctl-number.rst (0xBA,
 * this device's first magic, went to liveupdate.h in 2025).
 *
 * The number carries the size this header was built with, as _IOWR()
 * does, but the kernel ignores that field: the size that counts is
 * struct shmem_zero_args.size, so a caller built against any version of
 * this header is understood.
 */
#define SHMEM_ZERO_IOC_MAGIC	0xBC
#define SHMEM_ZERO_IOC_RANGES	_IOWR(SHMEM_ZERO_IOC_MAGIC, 0x01, \
				      struct shmem_zero_args)

/*
 * Generic netlink family SHMEM_ZERO_GENL_NAME: module-wide counters, summed
 * over all calls since load or the last reset.  Both commands need
 * CAP_NET_ADMIN in the initial user namespace (GENL_ADMIN_PERM): the
 * counters are host-wide.  See Documentation/netlink/specs/shmem_zero.yaml.
 */
#define SHMEM_ZERO_GENL_NAME	"shmem_zero"
#define SHMEM_ZERO_GENL_VERSION	1

enum {
	SHMEM_ZERO_CMD_UNSPEC,
	SHMEM_ZERO_CMD_GET_STATS,	/* needs CAP_NET_ADMIN; reply: A_* */
	SHMEM_ZERO_CMD_RESET_STATS,	/* needs CAP_NET_ADMIN */

	__SHMEM_ZERO_CMD_MAX,
	SHMEM_ZERO_CMD_MAX = __SHMEM_ZERO_CMD_MAX - 1
};

enum {
	SHMEM_ZERO_A_UNSPEC,
	SHMEM_ZERO_A_PAD,
	SHMEM_ZERO_A_MODE,		/* nest, one per mode: A_MODE_* */
	SHMEM_ZERO_A_ERROR,		/* nest, one per errno seen: A_ERROR_* */
	/* u64 sums of the per-call page counters of the same names */
	SHMEM_ZERO_A_HOLE_PAGES,
	SHMEM_ZERO_A_ZERO_PAGES,
	SHMEM_ZERO_A_DATA_PAGES,
	SHMEM_ZERO_A_UNWRITTEN_PAGES,
	SHMEM_ZERO_A_SWAP_PAGES,
	SHMEM_ZERO_A_FREED_PAGES,
	SHMEM_ZERO_A_ZEROED_PAGES,
	SHMEM_ZERO_A_PINNED_PAGES,
	SHMEM_ZERO_A_BUSY_PAGES,

	__SHMEM_ZERO_A_MAX,
	SHMEM_ZERO_A_MAX = __SHMEM_ZERO_A_MAX - 1
};

enum {
	SHMEM_ZERO_A_MODE_UNSPEC,
	SHMEM_ZERO_A_MODE_PAD,
	SHMEM_ZERO_A_MODE_ID,		/* u32: enum shmem_zero_mode */
	SHMEM_ZERO_A_MODE_CALLS,	/* u64: ioctl calls */
	SHMEM_ZERO_A_MODE_FAILED,	/* u64: of which returned an error */
	SHMEM_ZERO_A_MODE_RANGES,	/* u64: ranges done */
	SHMEM_ZERO_A_MODE_BYTES,	/* u64: bytes done */
	SHMEM_ZERO_A_MODE_TIME_NS,	/* u64: time spent in calls */

	__SHMEM_ZERO_A_MODE_MAX,
	SHMEM_ZERO_A_MODE_MAX = __SHMEM_ZERO_A_MODE_MAX - 1
};

enum {
	SHMEM_ZERO_A_ERROR_UNSPEC,
	SHMEM_ZERO_A_ERROR_PAD,
	SHMEM_ZERO_A_ERROR_ERRNO,	/* u32: positive errno, 0 for others */
	SHMEM_ZERO_A_ERROR_COUNT,	/* u64: calls that failed with it */

	__SHMEM_ZERO_A_ERROR_MAX,
	SHMEM_ZERO_A_ERROR_MAX = __SHMEM_ZERO_A_ERROR_MAX - 1
};

#endif /* _UAPI_LINUX_SHMEM_ZERO_H */
