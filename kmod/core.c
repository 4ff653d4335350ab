// SPDX-License-Identifier: GPL-2.0
/*
 * shmem_zero: batched zero-range operations on tmpfs files.
 *
 * /dev/shmem_zero takes a tmpfs file (memfd, /dev/shm file) by fd and a
 * vector of page-aligned ranges of it, and walks the page cache of each range
 * once, without faulting: holes are skipped, resident folios and swap entries
 * are dropped, classified, reclaimed or zeroed in place.  See
 * Documentation/shmem_zero.rst.
 */
#include <linux/fcntl.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fsnotify.h>
#include <linux/highmem.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/pagemap.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>
#include <uapi/linux/magic.h>

#include "compat.h"
#include "shmem_zero.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

/* Ranges copied from user space at a time. */
#define SZ_CHUNK	(PAGE_SIZE / sizeof(struct shmem_zero_range))
/* Pages one shmem_truncate_range() call takes, bounding signal latency. */
#define SZ_RUN_MAX	2048UL

struct sz_call {
	struct shmem_zero_args args;	/* kernel copy; out fields accumulate */
	struct file *file;
	struct inode *inode;
	struct address_space *mapping;
	struct shmem_zero_range *chunk;	/* SZ_CHUNK ranges */
	u8 __user *map;			/* QUERY map cursor, or NULL */
	unsigned long align;		/* ranges' alignment */
	bool hugetlb;			/* hugetlbfs DISCARD */
};

static int sz_check_range(struct sz_call *c, const struct shmem_zero_range *r)
{
	if (!r->length || !IS_ALIGNED(r->offset, c->align) ||
	    !IS_ALIGNED(r->length, c->align))
		return -EINVAL;
	if (r->offset > LLONG_MAX || r->length > LLONG_MAX - r->offset)
		return -EINVAL;
	return 0;
}

/*
 * Copy ranges [first, first + nr) of the user vector into c->chunk and check
 * them.  The vector is read twice (validated whole, then applied), so the
 * second read checks again: user space may change it in between.
 */
static int sz_load_chunk(struct sz_call *c, u64 first, unsigned int nr)
{
	const struct shmem_zero_range __user *uranges =
		u64_to_user_ptr(c->args.ranges);
	unsigned int i;
	int ret;

	if (copy_from_user(c->chunk, uranges + first, nr * sizeof(*c->chunk)))
		return -EFAULT;
	for (i = 0; i < nr; i++) {
		ret = sz_check_range(c, &c->chunk[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Pages a swap entry covers, and its first index: shmem stores large swap
 * entries (one per swapped-out large folio) from 6.12 on.  The walk may have
 * started inside one, so the index is rounded down to the entry's order.
 */
static unsigned long sz_swap_entry(struct xa_state *xas, pgoff_t *first)
{
	unsigned long nr = 1UL << xas_get_order(xas);

	*first = round_down(xas->xa_index, nr);
	return nr;
}

/*
 * Next page cache entry at an index in [*index, end), or NULL.  Returns a
 * swap (value) entry, or a folio with a reference held; *index and *nr are
 * set to the entry's first index and size in pages (it may start before the
 * old *index).  The reference keeps a large folio from being split or freed,
 * so its index and size are stable until folio_put().
 */
static void *sz_next_entry(struct address_space *mapping, pgoff_t *index,
			   pgoff_t end, unsigned long *nr)
{
	XA_STATE(xas, &mapping->i_pages, *index);
	void *entry;

	rcu_read_lock();
	for (;;) {
		entry = xas_find(&xas, end - 1);
		if (xas_retry(&xas, entry))
			continue;
		if (!entry)
			break;
		if (xa_is_value(entry)) {
			*nr = sz_swap_entry(&xas, index);
			break;
		}
		if (!sz_folio_try_get(entry)) {
			xas_reset(&xas);
			continue;
		}
		if (unlikely(entry != xas_reload(&xas))) {
			folio_put(entry);
			xas_reset(&xas);
			continue;
		}
		*index = ((struct folio *)entry)->index;
		*nr = folio_nr_pages(entry);
		break;
	}
	rcu_read_unlock();
	return entry;
}

static int sz_map_fill(struct sz_call *c, u8 class, unsigned long nr)
{
	if (!c->map)
		return 0;
	if (class == SHMEM_ZERO_PAGE_HOLE) {
		if (clear_user(c->map, nr))
			return -EFAULT;
	} else {
		unsigned long i;

		for (i = 0; i < nr; i++)
			if (put_user(class, c->map + i))
				return -EFAULT;
	}
	c->map += nr;
	return 0;
}

static bool sz_page_is_zero(struct page *page)
{
	void *addr = kmap_local_page(page);
	bool zero = !memchr_inv(addr, 0, PAGE_SIZE);

	kunmap_local(addr);
	return zero;
}

static struct page *sz_page(struct folio *folio, pgoff_t index)
{
	return folio_page(folio, index - folio->index);
}

/* Pages of [first, first + nr) with data; hwpoisoned ones are not read. */
static unsigned long sz_data_pages(struct folio *folio, pgoff_t first,
				   unsigned long nr)
{
	unsigned long i, data = 0;

	for (i = 0; i < nr; i++) {
		struct page *page = sz_page(folio, first + i);

		data += PageHWPoison(page) || !sz_page_is_zero(page);
	}
	return data;
}

/*
 * QUERY: the content is read without the folio lock, a snapshot as read(2)
 * gives.  Folios that are not uptodate were fallocated and read as zero;
 * they are not read.
 */
static int sz_query_entry(struct sz_call *c, void *entry, pgoff_t first,
			  unsigned long nr, bool whole)
{
	struct folio *folio = entry;
	unsigned long i;
	int ret;

	if (xa_is_value(entry)) {
		c->args.swap_pages += nr;
		return sz_map_fill(c, SHMEM_ZERO_PAGE_SWAP, nr);
	}
	if (!folio_test_uptodate(folio)) {
		c->args.unwritten_pages += nr;
		return sz_map_fill(c, SHMEM_ZERO_PAGE_UNWRITTEN, nr);
	}
	for (i = 0; i < nr; i++) {
		bool zero = !sz_data_pages(folio, first + i, 1);

		if (zero)
			c->args.zero_pages++;
		else
			c->args.data_pages++;
		ret = sz_map_fill(c, zero ? SHMEM_ZERO_PAGE_ZERO :
					    SHMEM_ZERO_PAGE_DATA, 1);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * RECLAIM one folio: remove it if every byte is zero and nobody else can
 * see or write it, while faults, write(2) and GUP may race.
 *
 * Every path that maps a page cache folio or writes to it takes the folio
 * lock and then re-checks folio->mapping: shmem_fault() (FGP_LOCK), fault-
 * around (trylock), shmem_write_begin(), userfaultfd CONTINUE.  fork() and
 * mremap() copy only existing PTEs.  So with the folio locked and unmapped
 * from every mapping, no new PTE can appear and no write(2) can start.
 * Writers that already hold it some other way hold a reference: a GUP pin
 * (folio_maybe_dma_pinned), a GUP reference taken through a PTE before the
 * unmap, a KVM mapping (its MMU notifier fired in the unmap and dropped it),
 * a zap still gathering the PTE.  With exactly the page cache's references
 * and ours left, the content compared under the lock is final, and the
 * folio is removed still locked.  A reference taken after the check is a
 * speculative page cache lookup (read(2), splice): those readers lock the
 * folio and re-check ->mapping before they write.  Lock order: folio lock,
 * then i_mmap_rwsem (in the unmap), as in truncation.  A folio still in a
 * per-CPU LRU batch holds the batch's reference and counts as busy.
 */
static int sz_reclaim_entry(struct sz_call *c, void *entry, pgoff_t first,
			    unsigned long nr, bool whole)
{
	struct folio *folio = entry;
	u64 *count = &c->args.busy_pages;
	unsigned long data;

	if (xa_is_value(entry)) {
		c->args.swap_pages += nr;
		return 0;
	}
	if (!folio_test_uptodate(folio)) {
		c->args.unwritten_pages += nr;
		return 0;
	}
	/*
	 * Unlocked filter: a folio with data stays without taking the lock;
	 * its zero pages, like those of a folio partly in range, are busy.
	 */
	data = sz_data_pages(folio, first, nr);
	if (data || !whole) {
		c->args.data_pages += data;
		c->args.busy_pages += nr - data;
		return 0;
	}
	if (!folio_trylock(folio))
		goto out;
	if (folio->mapping != c->mapping || folio_test_writeback(folio) ||
	    folio_test_swapcache(folio) || folio_test_mlocked(folio))
		goto unlock;
	if (folio_maybe_dma_pinned(folio)) {
		count = &c->args.pinned_pages;
		goto unlock;
	}
	if (folio_mapped(folio))
		unmap_mapping_pages(c->mapping, folio->index, nr, false);
	if (folio_mapped(folio) || folio_ref_count(folio) != nr + 1)
		goto unlock;
	data = sz_data_pages(folio, first, nr);
	if (data) {
		c->args.data_pages += data;
		nr -= data;		/* the rest are busy */
		goto unlock;
	}
	if (!sz_remove_folio(c->mapping, folio))
		count = &c->args.freed_pages;
unlock:
	folio_unlock(folio);
out:
	*count += nr;
	return 0;
}

/*
 * Lock a referenced folio that is still in the file, with i_rwsem held (so
 * it can only have left by swap-out).  -EAGAIN: look the index up again.
 */
static int sz_lock_folio(struct sz_call *c, struct folio *folio)
{
	folio_lock(folio);
	if (folio->mapping == c->mapping)
		return 0;
	folio_unlock(folio);
	return -EAGAIN;
}

/* Clear the non-zero pages of [first, first + nr) in a locked folio. */
static unsigned long sz_clear_pages(struct folio *folio, pgoff_t first,
				    unsigned long nr)
{
	unsigned long i, cleared = 0;

	for (i = 0; i < nr; i++) {
		struct page *page = sz_page(folio, first + i);

		if (PageHWPoison(page) || sz_page_is_zero(page))
			continue;
		clear_highpage(page);
		flush_dcache_page(page);
		cleared++;
	}
	if (cleared)
		folio_mark_dirty(folio);
	return cleared;
}

/* Drop swap entries: they read as zero afterwards and hold no memory. */
static void sz_free_swap(struct sz_call *c, pgoff_t first, unsigned long nr)
{
	shmem_truncate_range(c->inode, (loff_t)first << PAGE_SHIFT,
			     ((loff_t)(first + nr) << PAGE_SHIFT) - 1);
	c->args.swap_pages += nr;
}

/*
 * ZERO_IN_PLACE, i_rwsem held: clear resident pages under the folio lock,
 * leave them resident and mapped.  A write racing with the clear lands
 * before or after it, as with memset(3) through a mapping.
 */
static int sz_zero_entry(struct sz_call *c, void *entry, pgoff_t first,
			 unsigned long nr, bool whole)
{
	struct folio *folio = entry;
	unsigned long cleared;
	int ret;

	if (xa_is_value(entry)) {
		sz_free_swap(c, first, nr);
		return 0;
	}
	if (!folio_test_uptodate(folio)) {
		c->args.unwritten_pages += nr;
		return 0;
	}
	ret = sz_lock_folio(c, folio);
	if (ret)
		return ret;
	cleared = sz_clear_pages(folio, first, nr);
	folio_unlock(folio);
	c->args.zeroed_pages += cleared;
	c->args.zero_pages += nr - cleared;
	return 0;
}

static int sz_entry(struct sz_call *c, void *entry, pgoff_t first,
		    unsigned long nr, bool whole)
{
	switch (c->args.mode) {
	case SHMEM_ZERO_MODE_QUERY:
		return sz_query_entry(c, entry, first, nr, whole);
	case SHMEM_ZERO_MODE_RECLAIM:
		return sz_reclaim_entry(c, entry, first, nr, whole);
	default:
		return sz_zero_entry(c, entry, first, nr, whole);
	}
}

/*
 * Visit [index, end): count holes (and map them), and hand each entry to the
 * mode's sz_*_entry() with a reference held on a folio; pages [first, first +
 * nr) of the entry are in range, all of it if @whole.  -EAGAIN from it: look
 * the same index up again (the entry changed under it).  *done: pages
 * visited so far, for EINTR.
 */
static int sz_visit_range(struct sz_call *c, pgoff_t index, pgoff_t end,
			  pgoff_t *done)
{
	pgoff_t start = index;
	int ret = 0;

	while (index < end) {
		pgoff_t pos = index, first;
		unsigned long nr;
		void *entry;

		if (task_sigpending(current))
			return -EINTR;
		entry = sz_next_entry(c->mapping, &pos, end, &nr);
		first = entry ? max(pos, index) : end;
		c->args.hole_pages += first - index;
		ret = sz_map_fill(c, SHMEM_ZERO_PAGE_HOLE, first - index);
		if (ret || !entry)
			break;
		index = first;
		*done = index - start;
		ret = sz_entry(c, entry, first, min(pos + nr, end) - first,
			       pos >= start && pos + nr <= end);
		if (!xa_is_value(entry))
			folio_put(entry);
		if (ret == -EAGAIN)
			continue;
		if (ret)
			return ret;
		index = min(pos + nr, end);
		*done = index - start;
		cond_resched();
	}
	if (!ret)
		*done = end - start;
	return ret;
}

/* Page cache entries found in [start, end), by what DISCARD does to them. */
struct sz_run {
	pgoff_t start, end;	/* first entry, and where the run stops */
	unsigned long whole;	/* pages of folios entirely inside */
	unsigned long partial;	/* pages of large folios partly inside */
	unsigned long swap;	/* swap entries */
	struct folio *pinned;	/* or: one DMA-pinned folio, referenced */
};

/*
 * One RCU walk from @index: the run of contiguous entries that starts at the
 * first entry, ending after SZ_RUN_MAX pages, when the CPU is wanted, or
 * before a DMA-pinned folio (@gaps false); or every entry up to @end (@gaps
 * true, for spans of at most a run).  A run that would start with a pinned
 * folio is that folio alone, returned referenced in run->pinned.  Returns
 * false if it found nothing.  A folio is counted only under a reference
 * taken and re-checked against its slot, which keeps it from being split or
 * freed meanwhile.
 */
static bool sz_walk(struct address_space *mapping, pgoff_t index,
		    pgoff_t end, bool gaps, struct sz_run *run)
{
	XA_STATE(xas, &mapping->i_pages, index);
	bool found = false;
	void *entry;

	*run = (struct sz_run) { .start = end, .end = end };
	rcu_read_lock();
	xas_for_each(&xas, entry, end - 1) {
		struct folio *folio = entry;
		pgoff_t first, next;
		unsigned long nr;
		bool pinned = false;

		if (xas_retry(&xas, entry))
			continue;
		if (xa_is_value(entry)) {
			nr = sz_swap_entry(&xas, &first);
		} else {
			if (!sz_folio_try_get(folio))
				goto retry;
			if (unlikely(folio != xas_reload(&xas))) {
				folio_put(folio);
				goto retry;
			}
			first = folio->index;
			nr = folio_nr_pages(folio);
			pinned = !gaps && folio_maybe_dma_pinned(folio);
		}
		next = min(first + nr, end);
		if (found && !gaps && (max(first, index) != run->end || pinned)) {
			if (!xa_is_value(entry))
				folio_put(folio);
			break;
		}
		first = max(first, index);
		if (!found)
			run->start = first;
		found = true;
		run->end = next;
		if (pinned) {
			run->pinned = folio;
			break;
		}
		if (xa_is_value(entry)) {
			run->swap += next - first;
		} else {
			if (folio->index >= index && folio->index + nr <= end)
				run->whole += next - first;
			else
				run->partial += next - first;
			folio_put(folio);
		}
		if (!gaps && (next - run->start >= SZ_RUN_MAX || need_resched()))
			break;
		continue;
retry:
		xas_reset(&xas);
	}
	rcu_read_unlock();
	return found;
}

/*
 * DISCARD a DMA-pinned folio's part of the range by zeroing it in place: a
 * device may still write to it, and a page it writes to must stay the file's.
 */
static int sz_discard_pinned(struct sz_call *c, struct sz_run *run)
{
	struct folio *folio = run->pinned;
	int ret = sz_lock_folio(c, folio);

	if (!ret) {
		sz_clear_pages(folio, run->start, run->end - run->start);
		folio_unlock(folio);
		c->args.pinned_pages += run->end - run->start;
	}
	folio_put(folio);
	return ret;
}

/*
 * DISCARD [index, end) with i_rwsem held.  Each run of entries is unmapped
 * from every shared mapping and removed by shmem_truncate_range(), which
 * frees swap entries, and zeroes (and tries to split) large folios that
 * straddle the run's edges: exactly what FALLOC_FL_PUNCH_HOLE does to the
 * run, without faulting and without touching the holes between runs.
 *
 * The counts are what the walk found.  Faults do not take i_rwsem; one that
 * races with a run re-adds a page the run already counted as freed, which is
 * the outcome of a fault just after the call.  A pin taken after the walk
 * looked at a folio is not seen, as with punch-hole.
 */
static int sz_discard_range(struct sz_call *c, pgoff_t index, pgoff_t end,
			    pgoff_t *done)
{
	pgoff_t start = index;
	struct sz_run run, left;

	while (index < end) {
		unsigned long zeroed = 0;

		if (task_sigpending(current))
			return -EINTR;
		if (!sz_walk(c->mapping, index, end, false, &run))
			break;
		c->args.hole_pages += run.start - index;
		index = run.start;
		if (run.pinned) {
			if (sz_discard_pinned(c, &run) == -EAGAIN)
				continue;	/* swapped out meanwhile */
			index = run.end;
			continue;
		}
		if (mapping_mapped(c->mapping))
			unmap_mapping_pages(c->mapping, run.start,
					    run.end - run.start, false);
		shmem_truncate_range(c->inode, (loff_t)run.start << PAGE_SHIFT,
				     ((loff_t)run.end << PAGE_SHIFT) - 1);
		/* What stays of partly covered folios was zeroed, not split. */
		if (run.partial && sz_walk(c->mapping, run.start, run.end,
					   true, &left))
			zeroed = min(left.whole + left.partial, run.partial);
		c->args.swap_pages += run.swap;
		c->args.freed_pages += run.whole + run.partial - zeroed;
		c->args.zeroed_pages += zeroed;
		index = run.end;
		*done = index - start;
		cond_resched();
	}
	c->args.hole_pages += end - index;
	*done = end - start;
	return 0;
}

static int sz_apply_range(struct sz_call *c, const struct shmem_zero_range *r)
{
	u64 size = round_up(i_size_read(c->inode), PAGE_SIZE);
	u64 last = min(r->offset + r->length, size);
	pgoff_t index = r->offset >> PAGE_SHIFT;
	pgoff_t end = r->offset < size ? last >> PAGE_SHIFT : index;
	pgoff_t done = 0;
	u64 past = (r->length >> PAGE_SHIFT) - (end - index);
	int ret = 0;

	/* Pages past EOF: a no-op, as for a punched hole; QUERY: holes. */
	switch (c->args.mode) {
	case SHMEM_ZERO_MODE_DISCARD:
		ret = sz_discard_range(c, index, end, &done);
		break;
	case SHMEM_ZERO_MODE_QUERY:
		ret = sz_visit_range(c, index, end, &done);
		if (!ret && past) {
			c->args.hole_pages += past;
			ret = sz_map_fill(c, SHMEM_ZERO_PAGE_HOLE, past);
		}
		break;
	case SHMEM_ZERO_MODE_RECLAIM:
		ret = sz_visit_range(c, index, end, &done);
		break;
	case SHMEM_ZERO_MODE_ZERO_IN_PLACE:
		ret = sz_visit_range(c, index, end, &done);
		break;
	}
	if (ret) {
		c->args.bytes_done += (u64)done << PAGE_SHIFT;
		return ret;
	}
	c->args.bytes_done += r->length;
	c->args.ranges_done++;
	return 0;
}

/*
 * hugetlbfs (MFD_HUGETLB) DISCARD: its own punch-hole, which takes its own
 * locks and checks seals; this only saves the caller the syscalls.
 */
static int sz_punch_range(struct sz_call *c, const struct shmem_zero_range *r)
{
	int ret;

	if (task_sigpending(current))
		return -EINTR;
	ret = vfs_fallocate(c->file, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			    r->offset, r->length);
	if (ret)
		return ret;
	c->args.bytes_done += r->length;
	c->args.ranges_done++;
	cond_resched();
	return 0;
}

/*
 * One pass over the user's vector, a chunk at a time.  The first (@pages
 * set) validates it whole and counts its pages, so that bad input changes
 * nothing; the second applies it, stopping at the first error.
 */
static int sz_pass(struct sz_call *c, u64 *pages)
{
	unsigned int i, nr;
	u64 first;
	int ret;

	for (first = 0; first < c->args.nr_ranges; first += nr) {
		nr = min_t(u64, SZ_CHUNK, c->args.nr_ranges - first);
		ret = sz_load_chunk(c, first, nr);
		if (ret)
			return ret;
		for (i = 0; i < nr; i++) {
			const struct shmem_zero_range *r = &c->chunk[i];

			/* 2^20 ranges of up to 2^51 pages: saturate */
			if (pages && check_add_overflow(*pages,
							r->length >> PAGE_SHIFT,
							pages))
				*pages = U64_MAX;
			if (pages)
				continue;
			ret = c->hugetlb ? sz_punch_range(c, r) :
					   sz_apply_range(c, r);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/*
 * The checks of vfs_fallocate() and shmem_fallocate() for a punch hole, in
 * their order, so that errors read the same.  The device grants nothing the
 * fd does not: QUERY needs it open for reading, the other modes for writing.
 * RECLAIM does not change what the file reads, so append-only, immutable and
 * F_SEAL_WRITE files allow it.
 */
static int sz_check_file(struct sz_call *c)
{
	struct inode *inode = file_inode(c->file);
	u32 mode = c->args.mode;
	bool changes = mode == SHMEM_ZERO_MODE_DISCARD ||
		       mode == SHMEM_ZERO_MODE_ZERO_IN_PLACE;

	if (!(c->file->f_mode & (mode == SHMEM_ZERO_MODE_QUERY ?
				 FMODE_READ : FMODE_WRITE)))
		return -EBADF;
	if (changes && (IS_APPEND(inode) || IS_IMMUTABLE(inode)))
		return -EPERM;
	if (changes && IS_SWAPFILE(inode))
		return -ETXTBSY;
	if (S_ISFIFO(inode->i_mode))
		return -ESPIPE;
	if (S_ISDIR(inode->i_mode))
		return -EISDIR;
	if (!S_ISREG(inode->i_mode))
		return -ENODEV;
	c->inode = inode;
	c->mapping = inode->i_mapping;
	c->align = PAGE_SIZE;
	if (inode->i_sb->s_magic == HUGETLBFS_MAGIC &&
	    mode == SHMEM_ZERO_MODE_DISCARD) {
		c->hugetlb = true;
		c->align = inode->i_sb->s_blocksize;	/* the huge page size */
		return 0;
	}
	/* Not tmpfs: other filesystems, overlayfs over tmpfs, hugetlbfs. */
	if (!shmem_mapping(inode->i_mapping))
		return -EOPNOTSUPP;
	return 0;
}

static int sz_run(struct sz_call *c)
{
	struct kstat stat;
	u64 pages = 0;
	int ret;

	ret = sz_check_file(c);
	if (ret)
		return ret;
	ret = sz_pass(c, &pages);
	if (ret)
		return ret;
	if (c->map && pages > c->args.map_len)
		return -EINVAL;
	if (c->args.mode == SHMEM_ZERO_MODE_QUERY || c->hugetlb)
		return sz_pass(c, NULL);

	if (c->args.mode == SHMEM_ZERO_MODE_RECLAIM) {
		/* Folio locks only: writers to the file are not held up. */
		ret = sz_pass(c, NULL);
		/*
		 * shmem reconciles its block accounting with the page cache
		 * lazily (shmem_recalc_inode()); its getattr makes it do so.
		 */
		if (c->args.freed_pages)
			vfs_getattr(&c->file->f_path, &stat, STATX_BLOCKS,
				    AT_STATX_SYNC_AS_STAT);
		return ret;
	}

	/*
	 * Lock order as in vfs_fallocate() -> shmem_fallocate(): sb_writers,
	 * then i_rwsem; shmem_truncate_range() takes folio locks and, to
	 * unmap, i_mmap_rwsem below that.  Seals change under i_rwsem.
	 */
	file_start_write(c->file);
	inode_lock(c->inode);
	if (SHMEM_I(c->inode)->seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))
		ret = -EPERM;
	else
		ret = sz_pass(c, NULL);
	inode_unlock(c->inode);
	if (c->args.freed_pages || c->args.zeroed_pages ||
	    c->args.swap_pages || c->args.pinned_pages) {
		file_update_time(c->file);
		fsnotify_modify(c->file);
	}
	file_end_write(c->file);
	return ret;
}

static long sz_ioctl_ranges(struct shmem_zero_args __user *uargs)
{
	struct shmem_zero_args in;
	struct sz_call c = {};
	/*
	 * The time statistic only: local_clock() reads the TSC, where
	 * ktime_get_ns() may read a slow clocksource (HPET in a TCG guest).
	 * It is per CPU: a call that migrated may see the end before the start.
	 */
	u64 start = local_clock(), end;
	bool mode_valid = false;
	u32 usize;
	int ret;

	if (get_user(usize, &uargs->size)) {
		ret = -EFAULT;
		goto account;
	}
	ret = -EINVAL;
	if (usize < SHMEM_ZERO_ARGS_SIZE_VER0)
		goto account;
	ret = -E2BIG;
	if (usize > PAGE_SIZE)
		goto account;
	ret = copy_struct_from_user(&in, sizeof(in), uargs, usize);
	if (ret)
		goto account;
	/* Outputs start from zero, whatever the caller left there. */
	c.args = (struct shmem_zero_args) {
		.size = in.size, .fd = in.fd, .mode = in.mode,
		.flags = in.flags, .ranges = in.ranges,
		.nr_ranges = in.nr_ranges, .map = in.map, .map_len = in.map_len,
	};

	ret = -EINVAL;
	mode_valid = c.args.mode <= SHMEM_ZERO_MODE_ZERO_IN_PLACE;
	if (!mode_valid || c.args.flags ||
	    c.args.nr_ranges > SHMEM_ZERO_MAX_RANGES)
		goto out;
	if (c.args.mode == SHMEM_ZERO_MODE_QUERY && c.args.map) {
		c.map = u64_to_user_ptr(c.args.map);
		ret = -EFAULT;
		if (!access_ok(c.map, c.args.map_len))
			goto out;
	}
	ret = -EBADF;
	c.file = fget(c.args.fd);
	if (!c.file)
		goto out;
	c.chunk = kmalloc(PAGE_SIZE, GFP_KERNEL);
	ret = c.chunk ? sz_run(&c) : -ENOMEM;
	kfree(c.chunk);
	trace_shmem_zero_ioctl(file_inode(c.file)->i_sb->s_dev,
			       file_inode(c.file)->i_ino, c.args.mode,
			       c.args.nr_ranges, c.args.ranges_done,
			       c.args.bytes_done, c.args.freed_pages, ret);
	fput(c.file);
out:
	if (copy_to_user(uargs, &c.args, min_t(size_t, usize, sizeof(c.args))))
		ret = -EFAULT;
account:
	end = local_clock();
	sz_stats_account(&c.args, mode_valid, ret, end > start ? end - start : 0);
	return ret;
}

static long sz_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case SHMEM_ZERO_IOC_RANGES:
		return sz_ioctl_ranges(u64_to_user_ptr((u64)arg));
	default:
		return -ENOTTY;
	}
}

static const struct file_operations sz_fops = {
	.owner		= THIS_MODULE,	/* pins the module while open */
	.unlocked_ioctl	= sz_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

/* 0666: the ioctl only does what the fd it is given already allows. */
static struct miscdevice sz_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "shmem_zero",
	.fops	= &sz_fops,
	.mode	= 0666,
};

static int __init sz_init(void)
{
	int ret = sz_stats_init();

	if (ret)
		return ret;
	ret = misc_register(&sz_misc);
	if (ret)
		sz_stats_exit();
	return ret;
}

static void __exit sz_exit(void)
{
	misc_deregister(&sz_misc);
	sz_stats_exit();
}

module_init(sz_init);
module_exit(sz_exit);

MODULE_DESCRIPTION("Batched zero-range discard and query for tmpfs files");
MODULE_AUTHOR("shmem-zero developers");
MODULE_LICENSE("GPL");
