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
/*
 * Pages DISCARD and ZERO_IN_PLACE process under one hold of i_rwsem (and
 * sb_writers) before they let writers in, see sz_lock().
 */
#define SZ_HOLD_PAGES	SZ_RUN_MAX

struct sz_call {
	struct shmem_zero_args args;	/* kernel copy; out fields accumulate */
	struct file *file;
	struct inode *inode;
	struct address_space *mapping;
	struct shmem_zero_range *chunk;	/* SZ_CHUNK ranges */
	u8 __user *map;			/* QUERY map cursor, or NULL */
	u64 map_left;			/* bytes of the map not written yet */
	u8 *fill;			/* QUERY map: PAGE_SIZE bytes of fill_class */
	int fill_class;			/* what c->fill holds, -1: nothing yet */
	unsigned long align;		/* ranges' alignment */
	bool hugetlb;			/* hugetlbfs DISCARD */
	bool swap_visible;		/* QUERY may report SWAP, see sz_check_file() */
	bool exclusive;			/* DISCARD, ZERO_IN_PLACE: under i_rwsem */
	bool locked;			/* i_rwsem and sb_writers held */
	bool privs_removed;		/* file_remove_privs() done */
	unsigned long budget;		/* pages left in this hold */
	u64 changes;			/* sz_changes() when the hold began */
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

/*
 * QUERY: @nr pages of @class, counted in *count and written to the map if
 * there is one, so that the counters always add up to the map written.
 *
 * The map is written a piece of at most PAGE_SIZE bytes at a time, through
 * c->fill: a hole may be 2^51 pages long.  Between pieces it reschedules
 * and, when @done is given (holes, the only unbounded fills; an entry is at
 * most one folio or swap entry), stops on a pending signal with -EINTR;
 * *done and *count then cover the pieces written.
 *
 * Never past map_len: pass 1 checked the vector's page count against it, but
 * user space may have grown a range since.  Such a fill fails as pass 1 does
 * (-EINVAL) before writing any of its bytes (sz_query_entry() checks a whole
 * entry first).
 */
static int sz_map_fill(struct sz_call *c, u8 class, u64 nr, u64 *count,
		       pgoff_t *done)
{
	if (!c->map) {
		*count += nr;
		if (done)
			*done += nr;
		return 0;
	}
	if (nr > c->map_left)
		return -EINVAL;
	while (nr) {
		unsigned long n = min_t(u64, nr, PAGE_SIZE);

		if (n == 1) {
			if (put_user(class, c->map))
				return -EFAULT;
		} else {
			if (c->fill_class != class) {
				memset(c->fill, class, PAGE_SIZE);
				c->fill_class = class;
			}
			if (copy_to_user(c->map, c->fill, n))
				return -EFAULT;
		}
		c->map += n;
		c->map_left -= n;
		*count += n;
		if (done)
			*done += n;
		nr -= n;
		if (!nr)
			break;
		if (done && task_sigpending(current))
			return -EINTR;
		cond_resched();
	}
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
 * Lock a referenced folio that is still in the file.  i_rwsem, which
 * ZERO_IN_PLACE and DISCARD hold (QUERY holds nothing), keeps truncation,
 * punch-hole and write(2) out, but not what removes folios without it:
 * swap-out, vmscan dropping a clean folio, migration and khugepaged (which
 * replace it), a RECLAIM call (which takes no i_rwsem).  No other folio
 * lock is held while this one is waited for.  -EAGAIN: it left; look the
 * index up again.
 */
static int sz_lock_folio(struct sz_call *c, struct folio *folio)
{
	folio_lock(folio);
	if (folio->mapping == c->mapping)
		return 0;
	folio_unlock(folio);
	return -EAGAIN;
}

/*
 * Does @folio, referenced, hold no data yet (fallocated: it reads as zero)?
 * Not uptodate alone does not tell: a folio is also inserted locked and
 * not uptodate and made uptodate before it is unlocked.  Migration does so
 * on every kernel (folio_migrate_mapping() stores the destination, the
 * flag follows the copy), and on 6.1-6.3 so does khugepaged's
 * collapse_file(), which copies the small folios' data into its huge one
 * after it stored it.  read(2) takes the folio lock before it tests the
 * flag (shmem_get_folio()), and so does this; the lock is not held on
 * return, so a caller may then fault on the file (the QUERY map may be a
 * mapping of it).  1: fallocated; 0: it has data; -EAGAIN: it left the
 * file, look the index up again.
 */
static int sz_unwritten(struct sz_call *c, struct folio *folio)
{
	bool unwritten;
	int ret;

	if (folio_test_uptodate(folio))
		return 0;
	ret = sz_lock_folio(c, folio);
	if (ret)
		return ret;
	unwritten = !folio_test_uptodate(folio);
	folio_unlock(folio);
	return unwritten;
}

/*
 * QUERY: the content is read without the folio lock, a snapshot as read(2)
 * gives.  Folios that are not uptodate were fallocated and read as zero
 * (sz_unwritten()); they are not read, nor is any with
 * SHMEM_ZERO_QUERY_NOREAD (RESIDENT).
 * Swap entries are SWAP only to a caller that mincore() would tell
 * (!c->swap_visible: DATA), see sz_check_file().
 */
static int sz_query_entry(struct sz_call *c, void *entry, pgoff_t first,
			  unsigned long nr, bool whole)
{
	struct folio *folio = entry;
	unsigned long i, data = 0;
	int ret;

	/* All of the entry or none of it: the caller's progress is per entry. */
	if (c->map && nr > c->map_left)
		return -EINVAL;
	if (xa_is_value(entry) && !c->swap_visible) {
		/* What read(2) tells of it: content, which is not read. */
		return sz_map_fill(c, SHMEM_ZERO_PAGE_DATA, nr,
				   &c->args.data_pages, NULL);
	}
	if (xa_is_value(entry))
		return sz_map_fill(c, SHMEM_ZERO_PAGE_SWAP, nr,
				   &c->args.swap_pages, NULL);
	ret = sz_unwritten(c, folio);
	if (ret < 0)
		return ret;
	if (ret)
		return sz_map_fill(c, SHMEM_ZERO_PAGE_UNWRITTEN, nr,
				   &c->args.unwritten_pages, NULL);
	if (c->args.flags & SHMEM_ZERO_QUERY_NOREAD)
		return sz_map_fill(c, SHMEM_ZERO_PAGE_RESIDENT, nr,
				   &c->args.data_pages, NULL);
	/*
	 * The classes go to c->fill first, then to the map in one copy, and
	 * are counted only once written: a map that faults inside a large
	 * folio leaves no count past the reported prefix.  An entry is at
	 * most one folio, at most PMD order: fewer pages than c->fill's bytes.
	 */
	if (c->map && WARN_ON_ONCE(nr > PAGE_SIZE))
		return -EINVAL;
	for (i = 0; i < nr; i++) {
		bool d = sz_data_pages(folio, first + i, 1);

		if (c->map)
			c->fill[i] = d ? SHMEM_ZERO_PAGE_DATA :
					 SHMEM_ZERO_PAGE_ZERO;
		data += d;
	}
	if (c->map) {
		c->fill_class = -1;
		if (copy_to_user(c->map, c->fill, nr))
			return -EFAULT;
		c->map += nr;
		c->map_left -= nr;
	}
	c->args.data_pages += data;
	c->args.zero_pages += nr - data;
	return 0;
}

/* Write-sealed memfd: no mode but QUERY (punch-hole refuses it too). */
static bool sz_write_sealed(struct inode *inode)
{
	return READ_ONCE(SHMEM_I(inode)->seals) &
	       (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE);
}

/*
 * Does a mapping of the file that a userfaultfd watches for missing faults
 * (VM_UFFD_MISSING) cover a page of [first, first + nr)?  Removing a page
 * there turns it into a missing fault, and the postcopy destination, which
 * registers guest RAM so, takes every missing fault for a page the source
 * has still to send: one it already received is never sent again, and the
 * vCPU that touches it waits for ever.  So the modes stop with -EBUSY
 * before they remove a page or a swap entry such a mapping covers:
 * DISCARD (each run; on hugetlbfs each range), RECLAIM (each folio) and
 * ZERO_IN_PLACE (a swap entry it would drop; it keeps resident pages).
 * Punch-hole does not check; the device is stricter.
 *
 * i_mmap holds every VMA that maps the file, in an interval tree ordered by
 * vm_pgoff; its iterators are not exported, so it is walked in order with
 * rb_next() and the walk stops at the first VMA that starts past the pages.
 * i_mmap_rwsem (read) keeps VMAs from being added or removed; it nests
 * below the folio lock, as in unmap_mapping_pages().  UFFDIO_REGISTER sets
 * the flag under the mm's mmap_lock, which is not taken here: a
 * registration that races with the call is seen at its next run, folio or
 * swap entry, not before.  vm_flags is written under that lock (and the
 * VMA's write lock, 6.4+); reading it under i_mmap_rwsem only is the
 * benign race rmap's walkers make too, hence READ_ONCE().
 *
 * The cost is one walk of the file's mappings per check, from the first:
 * nothing for a guest's memfd, mapped once or twice, but it grows with
 * the number of mappings of a file mapped many times.
 */
static bool sz_uffd_missing(struct sz_call *c, pgoff_t first,
			    unsigned long nr)
{
	struct address_space *mapping = c->mapping;
	struct rb_node *node;
	bool found = false;

	if (!VM_UFFD_MISSING || !mapping_mapped(mapping))
		return false;
	i_mmap_lock_read(mapping);
	for (node = rb_first_cached(&mapping->i_mmap); node;
	     node = rb_next(node)) {
		struct vm_area_struct *vma = rb_entry(node,
						      struct vm_area_struct,
						      shared.rb);

		if (vma->vm_pgoff >= first + nr)
			break;
		if (vma->vm_pgoff + vma_pages(vma) > first &&
		    (READ_ONCE(vma->vm_flags) & VM_UFFD_MISSING)) {
			found = true;
			break;
		}
	}
	i_mmap_unlock_read(mapping);
	return found;
}

/* Pages DISCARD or ZERO_IN_PLACE changed so far. */
static u64 sz_changes(const struct sz_call *c)
{
	return c->args.freed_pages + c->args.zeroed_pages +
	       c->args.swap_pages + c->args.pinned_pages;
}

/*
 * DISCARD and ZERO_IN_PLACE change the file under sb_writers and i_rwsem,
 * taken in the order of vfs_fallocate() -> shmem_fallocate(): sb_writers,
 * then i_rwsem; below them shmem_truncate_range() and the clears take folio
 * locks and, to unmap, i_mmap_rwsem.  Seals, append-only and immutable
 * change under i_rwsem, so they are tested at every hold: a seal added
 * while the call runs stops it with -EPERM before its next page, and the
 * output fields report what was done.
 *
 * Not for the whole call: a hold covers at most one chunk of the vector
 * (SZ_CHUNK ranges, copied from user space before the lock is taken, see
 * sz_pass()) and SZ_HOLD_PAGES pages of entries (sz_relax()).  So write(2),
 * ftruncate(), fallocate(), F_ADD_SEALS and fsfreeze (sb_writers) on the
 * file wait at most one hold, not a vector of 2^20 ranges.  Between holds
 * the file may change as it may between two punch-hole calls: the walk
 * resumes at the next index, and EOF is read again for the next range.
 *
 * file_modified() in two halves.  file_remove_privs() in the first hold,
 * before anything changes, as write(2) does: S_ISUID, S_ISGID (with group
 * exec) and security.capability go as punch-hole and write(2) drop them,
 * unless the caller has CAP_FSETID (for the two bits); it needs i_rwsem
 * (notify_change()).  It runs for every call that passed the checks, holes
 * only included, as punch-hole's does.  The time half, file_update_time(),
 * at the end of each hold that changed something: a DISCARD of holes leaves
 * mtime and ctime alone.
 *
 * Returns with the locks held (c->locked), also on error; sz_unlock()
 * releases them.
 */
static int sz_lock(struct sz_call *c)
{
	file_start_write(c->file);
	inode_lock(c->inode);
	c->locked = true;
	c->budget = SZ_HOLD_PAGES;
	c->changes = sz_changes(c);
	if (sz_write_sealed(c->inode) || IS_APPEND(c->inode) ||
	    IS_IMMUTABLE(c->inode))
		return -EPERM;
	if (!c->privs_removed) {
		c->privs_removed = true;
		return file_remove_privs(c->file);
	}
	return 0;
}

static void sz_unlock(struct sz_call *c)
{
	if (sz_changes(c) != c->changes)
		file_update_time(c->file);
	inode_unlock(c->inode);
	file_end_write(c->file);
	c->locked = false;
}

/* @pages of entries done in this hold. */
static void sz_spend(struct sz_call *c, unsigned long pages)
{
	c->budget -= min(c->budget, pages);
}

/*
 * Between two entries, runs or ranges: once the hold has done SZ_HOLD_PAGES,
 * let writers, truncation and freezing in.  Only DISCARD and ZERO_IN_PLACE
 * hold locks; the other modes take none.  An -EPERM (sealed meanwhile) falls
 * before the next page, so callers relax only where more is left to do.
 */
static int sz_relax(struct sz_call *c)
{
	if (!c->locked || c->budget)
		return 0;
	sz_unlock(c);
	cond_resched();
	return sz_lock(c);
}

/*
 * Put the dirty bit that sz_reclaim_entry() took back on a folio that
 * invalidate_mapping_pages() kept: it may have been written since without
 * being marked dirty (a write through a pin; udmabuf never marks its pages
 * dirty), and a clean shmem folio is one that reclaim may drop.  Only the
 * folio still in the slot is touched; a folio that took its place was never
 * cleaned.  The lookup reference and the folio lock keep it from being
 * truncated under folio_mark_dirty().
 */
static void sz_redirty(struct address_space *mapping, struct folio *cleaned,
		       pgoff_t index)
{
	pgoff_t pos = index;
	unsigned long nr;
	void *entry = sz_next_entry(mapping, &pos, index + 1, &nr);

	if (!entry || xa_is_value(entry))
		return;
	if (entry == cleaned) {
		folio_lock(cleaned);
		if (cleaned->mapping == mapping)
			folio_mark_dirty(cleaned);
		folio_unlock(cleaned);
	}
	folio_put(entry);
}

/*
 * RECLAIM one folio: remove it if every byte is zero and nobody else can
 * see or write it, while faults, write(2) and lockless page cache users
 * race: GUP-fast, filemap_get_folios*() and memfd_pin_folios() (udmabuf),
 * splice, read(2), KVM.
 *
 * 1. Unlocked filter: a folio with data stays without taking the lock.
 * 2. folio_trylock(); still this file's, not under writeback, not in the
 *    swap cache, not mlocked, not DMA-pinned.
 * 3. Before unmapping: the references must be the page cache's (nr), ours
 *    and one per mapping (PTE or PMD).  Anything more (a pin, a GUP or KVM
 *    reference, an LRU batch, a reader) keeps the folio, so it is counted
 *    busy and left mapped: its PTEs and KVM's SPTEs are not zapped for
 *    nothing on every pass.  (Before 6.10 a large folio's mapcount cannot
 *    be read, see sz_folio_mapcount(): such a folio is unmapped first.)
 *    No mapping of it may be registered with a userfaultfd for missing
 *    faults: the call stops with -EBUSY (sz_uffd_missing()).
 * 4. unmap_mapping_pages(): every PTE goes (a dirty PTE dirties the folio),
 *    MMU notifiers make KVM drop its SPTEs.  Then no mapping and exactly
 *    nr + 1 references must be left.
 * 5. Compare again.  With the folio locked and unmapped, a writer must
 *    either take the folio lock (fault, fault-around, write(2), fallocate,
 *    userfaultfd CONTINUE: they re-check ->mapping after locking) or hold a
 *    reference (step 4 saw none), so this content is final for now.
 * 6. folio_clear_dirty_for_io(): the folio reads as a hole would, so it
 *    may be clean; shmem has no writeback accounting, this only clears
 *    PG_dirty (as vmscan's pageout() does before shmem_writepage()).
 * 7. Unlock, drop our reference, invalidate_mapping_pages() over exactly
 *    the folio's indices: find_lock_entries() trylocks it,
 *    mapping_evict_folio() refuses it dirty, under writeback or with more
 *    than nr + 1 references (the page cache's and the lookup's, so mapped
 *    or pinned), and remove_mapping() freezes the refcount at nr + 1 under
 *    the i_pages lock, then tests PG_dirty, then deletes it from the page
 *    cache without a shadow entry: __remove_mapping(), as vmscan does.
 *    shmem's swap entries in the range are left alone (shmem_mapping()).
 * 8. If the folio is still in the file and step 6 found it dirty, it is
 *    marked dirty again (sz_redirty()).
 *
 * Between 6 and the freeze in 7 the folio is unlocked, clean and unmapped.
 * A writer that locks it (5) either dirties it before the trylock, and it
 * stays, or finds ->mapping cleared and allocates a new folio.  A fault
 * that maps it adds a reference: the freeze fails; a PTE zapped before the
 * freeze moved its dirty bit to the folio: PG_dirty is tested after the
 * freeze.  A lockless user that takes a reference (folio_try_get()) before
 * the freeze makes it fail, and keeps the folio in the file whatever it
 * does with it later; one that comes after finds the refcount frozen at 0,
 * retries the xarray and finds the hole or a new folio.  A reference taken
 * and dropped entirely inside the window is a reader's (read(2), splice,
 * filemap_get_folios()) or a pinner's that marks the folio dirty before it
 * unpins (set_page_dirty_lock(), unpin_user_pages_dirty_lock()), which the
 * dirty test after the freeze sees.  The exception is a pinner that writes
 * and never marks dirty: udmabuf (its pages are mapped by PFN, released by
 * unpin_folio()).  A udmabuf created, written through and destroyed inside
 * the window loses that write, as it does to vmscan whenever its folio is
 * clean (every folio memfd_pin_folios() allocates is); RECLAIM widens that
 * to the zero folios it cleaned, for the length of one
 * invalidate_mapping_pages() call.
 *
 * A folio that took our folio's place in the window (ours truncated, swapped
 * out or collapsed) is evicted only if it is clean, unused and unmapped,
 * which vmscan and drop_caches evict too: shmem marks dirty every folio
 * whose content must be kept (write_end, fallocate, swap-in, dirty PTEs,
 * GUP with FOLL_WRITE).
 *
 * Locks: folio lock, then i_mmap_rwsem (in the unmap), as in truncation;
 * none held across invalidate_mapping_pages(), which takes the folio lock
 * (trylock), i_lock and the i_pages lock itself.  No i_rwsem.
 */
static int sz_reclaim_entry(struct sz_call *c, void **entryp, pgoff_t first,
			    unsigned long nr, bool whole)
{
	void *entry = *entryp;
	struct folio *folio = entry;
	u64 *count = &c->args.busy_pages;
	unsigned long data, removed;
	bool cleaned, unwritten;
	int mapcount;

	/*
	 * Sealed, made append-only or immutable since the call began: stop
	 * before this entry (sz_run() tested it first, without i_rwsem).
	 */
	if (sz_write_sealed(c->inode) || IS_APPEND(c->inode) ||
	    IS_IMMUTABLE(c->inode))
		return -EPERM;
	if (xa_is_value(entry)) {
		c->args.swap_pages += nr;
		return 0;
	}
	/*
	 * Not uptodate: fallocated, or being filled or migrated, which holds
	 * the folio lock until it is uptodate (sz_unwritten()).  Tested under
	 * the lock, not waited for: a folio locked is busy.
	 */
	if (!folio_test_uptodate(folio)) {
		if (!folio_trylock(folio))
			goto out;
		unwritten = !folio_test_uptodate(folio);
		folio_unlock(folio);
		if (unwritten) {
			c->args.unwritten_pages += nr;
			return 0;
		}
	}
	/*
	 * Unlocked filter: a folio with data stays without taking the lock;
	 * its zero pages, like those of a folio partly in range, are busy.
	 */
	data = sz_data_pages(folio, first, nr);
	if (data || !whole || first != folio->index) {
		c->args.data_pages += data;
		c->args.busy_pages += nr - data;
		return 0;
	}
	/* [first, first + nr) is the whole folio */
	if (!folio_trylock(folio))
		goto out;
	if (folio->mapping != c->mapping || folio_test_writeback(folio) ||
	    folio_test_swapcache(folio) || folio_test_mlocked(folio))
		goto unlock;
	if (folio_maybe_dma_pinned(folio)) {
		count = &c->args.pinned_pages;
		goto unlock;
	}
	/* Nothing but the page cache, us and the mappings, before unmapping. */
	mapcount = sz_folio_mapcount(folio);
	if (mapcount >= 0 && folio_ref_count(folio) - mapcount != nr + 1)
		goto unlock;
	if (sz_uffd_missing(c, first, nr)) {
		folio_unlock(folio);
		return -EBUSY;
	}
	if (folio_mapped(folio))
		unmap_mapping_pages(c->mapping, first, nr, false);
	if (folio_mapped(folio) || folio_ref_count(folio) != nr + 1)
		goto unlock;
	data = sz_data_pages(folio, first, nr);
	if (data) {
		c->args.data_pages += data;
		nr -= data;		/* the rest are busy */
		goto unlock;
	}
	cleaned = folio_clear_dirty_for_io(folio);
	folio_unlock(folio);
	/* Our reference would fail the freeze: the caller has none to put. */
	*entryp = NULL;
	folio_put(folio);
	removed = invalidate_mapping_pages(c->mapping, first, first + nr - 1);
	/*
	 * Removed if the count covers it and its slot is a hole now (the
	 * count also takes in swap entries in the range, which stay).  The
	 * folio pointer is only compared from here on.
	 */
	if (removed >= nr && !xa_load(&c->mapping->i_pages, first)) {
		c->args.freed_pages += nr;
		return 0;
	}
	if (cleaned)
		sz_redirty(c->mapping, folio, first);
	c->args.busy_pages += nr;
	return 0;
unlock:
	folio_unlock(folio);
out:
	*count += nr;
	return 0;
}

/*
 * Clear the non-zero pages of [first, first + nr) in a locked folio.
 * Hwpoisoned pages are neither read nor written: they are counted in
 * *poisoned, and do not read as zero afterwards (read(2) fails on them).
 */
static unsigned long sz_clear_pages(struct folio *folio, pgoff_t first,
				    unsigned long nr, unsigned long *poisoned)
{
	unsigned long i, cleared = 0;

	*poisoned = 0;
	for (i = 0; i < nr; i++) {
		struct page *page = sz_page(folio, first + i);

		if (PageHWPoison(page)) {
			(*poisoned)++;
			continue;
		}
		if (sz_page_is_zero(page))
			continue;
		clear_highpage(page);
		flush_dcache_page(page);
		cleared++;
	}
	if (cleared)
		folio_mark_dirty(folio);
	return cleared;
}

/*
 * Drop the swap entries of [first, first + nr), which the caller found wholly
 * inside it: they read as zero afterwards and hold no memory.
 */
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
 *
 * A swap entry is freed only when it lies wholly in the range.  A large
 * one (6.12: a large folio swapped out whole) that the range covers in part
 * is kept and counted busy: shmem_truncate_range() would zero the part in
 * range through the page cache, splitting the entry and reading a page of
 * it back from swap (shmem_get_partial_folio()), and this mode allocates
 * nothing.  Hwpoisoned pages cannot be cleared: they count as data.
 */
static int sz_zero_entry(struct sz_call *c, void *entry, pgoff_t first,
			 unsigned long nr, bool whole)
{
	struct folio *folio = entry;
	unsigned long cleared, poisoned;
	int ret;

	if (xa_is_value(entry) && !whole) {
		c->args.busy_pages += nr;
		return 0;
	}
	if (xa_is_value(entry)) {
		if (sz_uffd_missing(c, first, nr))
			return -EBUSY;
		sz_free_swap(c, first, nr);
		return 0;
	}
	ret = sz_lock_folio(c, folio);
	if (ret)
		return ret;
	/* under the lock: not one being filled (sz_unwritten()) */
	if (!folio_test_uptodate(folio)) {
		folio_unlock(folio);
		c->args.unwritten_pages += nr;
		return 0;
	}
	cleared = sz_clear_pages(folio, first, nr, &poisoned);
	folio_unlock(folio);
	c->args.zeroed_pages += cleared;
	c->args.data_pages += poisoned;
	c->args.zero_pages += nr - cleared - poisoned;
	return 0;
}

/* *entryp is set to NULL when the mode dropped the folio reference itself. */
static int sz_entry(struct sz_call *c, void **entryp, pgoff_t first,
		    unsigned long nr, bool whole)
{
	switch (c->args.mode) {
	case SHMEM_ZERO_MODE_QUERY:
		return sz_query_entry(c, *entryp, first, nr, whole);
	case SHMEM_ZERO_MODE_RECLAIM:
		return sz_reclaim_entry(c, entryp, first, nr, whole);
	default:
		return sz_zero_entry(c, *entryp, first, nr, whole);
	}
}

/*
 * Visit [index, end): count holes (and map them), and hand each entry to the
 * mode's sz_*_entry() with a reference held on a folio (dropped here unless
 * the mode dropped it itself); pages [first, first + nr) of the entry are in
 * range, all of it if @whole.  -EAGAIN from it: look the same index up again
 * (the entry changed under it).  *done: pages visited so far, for EINTR and
 * for the -EPERM of a seal added between two holds (sz_relax()).
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
		*done = index - start;	/* the hole's pieces advance it */
		ret = sz_map_fill(c, SHMEM_ZERO_PAGE_HOLE, first - index,
				  &c->args.hole_pages, done);
		if (ret || !entry) {
			if (entry && !xa_is_value(entry))
				folio_put(entry);
			break;
		}
		index = first;
		ret = sz_entry(c, &entry, first, min(pos + nr, end) - first,
			       pos >= start && pos + nr <= end);
		if (entry && !xa_is_value(entry))
			folio_put(entry);
		if (ret == -EAGAIN)
			continue;
		if (ret)
			return ret;
		index = min(pos + nr, end);
		*done = index - start;
		sz_spend(c, nr);
		ret = index < end ? sz_relax(c) : 0;
		if (ret)
			return ret;
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
	unsigned long poisoned;
	int ret = sz_lock_folio(c, folio);

	if (!ret) {
		sz_clear_pages(folio, run->start, run->end - run->start,
			       &poisoned);
		folio_unlock(folio);
		c->args.pinned_pages += run->end - run->start;
	}
	folio_put(folio);
	return ret;
}

/* Holes in [from, to) that DISCARD counts: those before @eof. */
static unsigned long sz_holes(pgoff_t from, pgoff_t to, pgoff_t eof)
{
	to = min(to, eof);
	return to > from ? to - from : 0;
}

/*
 * DISCARD [index, end) with i_rwsem held, let go between holds (sz_relax()).
 * Each run of entries is unmapped
 * from every shared mapping and removed by shmem_truncate_range(), which
 * frees swap entries, and zeroes (and tries to split) large folios that
 * straddle the run's edges: exactly what FALLOC_FL_PUNCH_HOLE does to the
 * run, without faulting and without touching the holes between runs.
 *
 * Like punch-hole, it does not stop at EOF: blocks that
 * fallocate(FALLOC_FL_KEEP_SIZE) allocated past it are freed and counted
 * too.  Holes are counted only before @eof.
 *
 * The counts are what the walk found.  Faults do not take i_rwsem; one that
 * races with a run re-adds a page the run already counted as freed, which is
 * the outcome of a fault just after the call.  A pin taken after the walk
 * looked at a folio is not seen, as with punch-hole.  *done: the pages
 * processed so far, for EINTR, EPERM (a seal, sz_relax()) and EBUSY.
 */
static int sz_discard_range(struct sz_call *c, pgoff_t index, pgoff_t end,
			    pgoff_t eof, pgoff_t *done)
{
	pgoff_t start = index;
	struct sz_run run, left;
	int ret;

	while (index < end) {
		unsigned long zeroed = 0;

		if (task_sigpending(current))
			return -EINTR;
		if (!sz_walk(c->mapping, index, end, false, &run))
			break;
		c->args.hole_pages += sz_holes(index, run.start, eof);
		index = run.start;
		*done = index - start;
		if (run.pinned) {
			if (sz_discard_pinned(c, &run) == -EAGAIN)
				continue;	/* swapped out meanwhile */
			index = run.end;
			*done = index - start;
			sz_spend(c, run.end - run.start);
			ret = index < end ? sz_relax(c) : 0;
			if (ret)
				return ret;
			cond_resched();
			continue;
		}
		if (sz_uffd_missing(c, run.start, run.end - run.start))
			return -EBUSY;
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
		sz_spend(c, run.end - run.start);
		ret = index < end ? sz_relax(c) : 0;
		if (ret)
			return ret;
		cond_resched();
	}
	c->args.hole_pages += sz_holes(index, end, eof);
	*done = end - start;
	return 0;
}

/*
 * Past EOF (i_size rounded up to a page) there are only blocks that
 * fallocate(FALLOC_FL_KEEP_SIZE) allocated there, and what they became
 * (swap entries, or pages read back from swap: all zero).  DISCARD frees
 * them, as punch-hole does.  The other modes stop at EOF: QUERY reports the
 * pages past it as holes, since read(2) reads nothing there; RECLAIM and
 * ZERO_IN_PLACE leave them (nothing past EOF can be read, so there is
 * nothing to clear, and RECLAIM leaves fallocated blocks anyway).
 */
static int sz_apply_range(struct sz_call *c, const struct shmem_zero_range *r)
{
	u64 size = round_up(i_size_read(c->inode), PAGE_SIZE);
	u64 last = min(r->offset + r->length, size);
	pgoff_t index = r->offset >> PAGE_SHIFT;
	pgoff_t end = r->offset < size ? last >> PAGE_SHIFT : index;
	pgoff_t done = 0;
	u64 past = (r->length >> PAGE_SHIFT) - (end - index);
	int ret = 0;

	switch (c->args.mode) {
	case SHMEM_ZERO_MODE_DISCARD:
		ret = sz_discard_range(c, index,
				       index + (r->length >> PAGE_SHIFT), end,
				       &done);
		break;
	case SHMEM_ZERO_MODE_QUERY:
		ret = sz_visit_range(c, index, end, &done);
		if (!ret && past)
			ret = sz_map_fill(c, SHMEM_ZERO_PAGE_HOLE, past,
					  &c->args.hole_pages, &done);
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
 * locks and checks seals; this only saves the caller the syscalls.  Its
 * VMAs count vm_pgoff in PAGE_SIZE units too.
 */
static int sz_punch_range(struct sz_call *c, const struct shmem_zero_range *r)
{
	int ret;

	if (task_sigpending(current))
		return -EINTR;
	if (sz_uffd_missing(c, r->offset >> PAGE_SHIFT, r->length >> PAGE_SHIFT))
		return -EBUSY;
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
 * nothing; the second applies it, stopping at the first error.  User space
 * may change the vector in between: the second pass checks each range again
 * (sz_load_chunk()) and never writes the map past map_len (sz_map_fill()),
 * so what it did is the reported prefix.
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
		/* One hold at most per chunk, loaded before it is taken. */
		if (!pages && c->exclusive) {
			ret = sz_lock(c);
			if (ret)
				return ret;
		}
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
			if (!ret && i + 1 < nr)
				ret = sz_relax(c);
			if (ret)
				return ret;
		}
		if (c->locked)
			sz_unlock(c);
	}
	return 0;
}

/*
 * The checks of vfs_fallocate() and shmem_fallocate() for a punch hole, in
 * their order, so that errors read the same.  The device grants nothing the
 * fd does not:
 *
 * - Access mode (EBADF): QUERY needs the fd open for reading, DISCARD for
 *   writing, RECLAIM and ZERO_IN_PLACE for both: they change the file and
 *   their counts tell what its pages hold (data_pages, zero_pages,
 *   freed_pages), which only a reader may learn.  EBADF is what read(2)
 *   gives on an O_WRONLY fd and fallocate(2) on an O_RDONLY one.
 * - Append-only, immutable (EPERM) and write seals (EPERM, in sz_lock()):
 *   every mode but QUERY, as punch-hole.  RECLAIM too, although what the
 *   file reads does not change: it frees memory that this fd could not
 *   punch, and unmaps it from the sealed file's readers, who re-fault it
 *   (charged to their memcg).
 * - The LSM hook: vfs_fallocate() calls security_file_permission(file,
 *   MAY_WRITE), which is not exported (6.1, 6.12); rw_verify_area() is,
 *   and calls it with MAY_READ or MAY_WRITE (and on 6.12 the fanotify
 *   FAN_ACCESS_PERM event for reads, as read(2)).  One call per ioctl, as
 *   vfs_fallocate() and readv()/writev() make one per call: the hook takes
 *   no range, and the ranges' own check (sz_check_range(): offset + length
 *   <= LLONG_MAX) is stricter than rw_verify_area()'s; so no range is
 *   passed.  It must run before file_start_write() (6.12 asserts it).
 *   QUERY: MAY_READ; DISCARD: MAY_WRITE; RECLAIM, ZERO_IN_PLACE: both.
 * - Swap residency: QUERY shows swapped-out pages as SWAP only to a caller
 *   that mincore() would show them to (can_do_mincore(), 5.0+): the file's
 *   owner (or CAP_FOWNER), or one that may write it; to others they are
 *   DATA, as read(2) would tell.  file_owner_or_capable() and
 *   file_permission() are inlines of <linux/fs.h> on 6.1 and 6.12 over the
 *   exported inode_owner_or_capable() and inode_permission(), passing the
 *   mount's user_ns (6.1) or mnt_idmap (6.3+, "fs: port
 *   inode_owner_or_capable() to mnt_idmap"): no compat shim is needed.
 */
static int sz_check_file(struct sz_call *c)
{
	struct inode *inode = file_inode(c->file);
	u32 mode = c->args.mode;
	bool query = mode == SHMEM_ZERO_MODE_QUERY;
	bool reads = mode != SHMEM_ZERO_MODE_DISCARD;
	fmode_t need = (reads ? FMODE_READ : 0) | (query ? 0 : FMODE_WRITE);
	int ret;

	if ((c->file->f_mode & need) != need)
		return -EBADF;
	if (!query && (IS_APPEND(inode) || IS_IMMUTABLE(inode)))
		return -EPERM;
	if (!query && IS_SWAPFILE(inode))
		return -ETXTBSY;
	ret = reads ? rw_verify_area(READ, c->file, NULL, 0) : 0;
	if (!ret && !query)
		ret = rw_verify_area(WRITE, c->file, NULL, 0);
	if (ret)
		return ret;
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
	c->swap_visible = query && (file_owner_or_capable(c->file) ||
				    file_permission(c->file, MAY_WRITE) == 0);
	return 0;
}

/*
 * RECLAIM's page cache removals lower mapping->nrpages and free the folios
 * (memcg uncharged, NR_SHMEM and NR_FILE_PAGES lowered) but, as for folios
 * vmscan drops, leave shmem's own accounting until shmem_recalc_inode()
 * notices: info->alloced, i_blocks, the tmpfs size= limit (used_blocks),
 * tmpfs quotas (6.6+) and, files being VM_NORESERVE, Committed_AS.  Nothing
 * exported calls it directly (shmem_charge() and shmem_uncharge() are not
 * exported, on 6.1 and on 6.12).  The exported paths that reach it are
 * shmem_truncate_range() (it sets mtime and ctime, and on 6.12 bumps
 * i_version), page allocation in the file (shmem_read_mapping_page_gfp(),
 * shmem_get_folio() on 6.12: they fill holes) and shmem's ->getattr, which
 * reconciles before it reports st_blocks and changes nothing else.  So the
 * accounting is settled through ->getattr, by vfs_getattr_nosec(): without
 * the LSM getattr hook, which could refuse or audit a stat the caller never
 * made; shmem_getattr() cannot fail.
 */
static void sz_recalc(struct sz_call *c)
{
	struct kstat stat;

	vfs_getattr_nosec(&c->file->f_path, &stat, STATX_BLOCKS,
			  AT_STATX_SYNC_AS_STAT);
}

static int sz_run(struct sz_call *c)
{
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
		/*
		 * Folio locks only: writers to the file are not held up.  So
		 * the seal is tested here and again before each folio
		 * (sz_reclaim_entry()), not under i_rwsem.
		 */
		if (sz_write_sealed(c->inode))
			return -EPERM;
		ret = sz_pass(c, NULL);
		if (c->args.freed_pages)
			sz_recalc(c);
		return ret;
	}

	/*
	 * DISCARD, ZERO_IN_PLACE: under i_rwsem, a hold at a time (sz_lock()).
	 * An empty vector takes one hold too: the seal check and
	 * file_remove_privs() happen for every call that passed the checks.
	 */
	c->exclusive = true;
	ret = c->args.nr_ranges ? sz_pass(c, NULL) : sz_lock(c);
	if (c->locked)
		sz_unlock(c);
	if (sz_changes(c))
		fsnotify_modify(c->file);
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
	if (!mode_valid || c.args.nr_ranges > SHMEM_ZERO_MAX_RANGES ||
	    (c.args.flags && (c.args.flags != SHMEM_ZERO_QUERY_NOREAD ||
			      c.args.mode != SHMEM_ZERO_MODE_QUERY)))
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
	c.map_left = c.args.map_len;
	c.fill_class = -1;
	if (c.map)
		c.fill = kmalloc(PAGE_SIZE, GFP_KERNEL);
	ret = c.chunk && (c.fill || !c.map) ? sz_run(&c) : -ENOMEM;
	kfree(c.fill);
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

/*
 * The size field of the number is not compared: struct shmem_zero_args
 * carries its own (@size), which decides what is read and written back.
 */
#define SZ_IOC_NOSIZE(cmd)	((cmd) & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT))

static long sz_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	switch (SZ_IOC_NOSIZE(cmd)) {
	case SZ_IOC_NOSIZE(SHMEM_ZERO_IOC_RANGES):
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
