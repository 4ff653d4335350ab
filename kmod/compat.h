/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel API differences, each shim naming the release that changed it.
 */
#ifndef SHMEM_ZERO_COMPAT_H
#define SHMEM_ZERO_COMPAT_H

#include <linux/version.h>
#include <linux/mm.h>
#include <linux/pagemap.h>

/* 6.10 folded folio_try_get_rcu() into folio_try_get(). */
static inline bool sz_folio_try_get(struct folio *folio)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 10, 0)
	return folio_try_get_rcu(folio);
#else
	return folio_try_get(folio);
#endif
}

/*
 * Mappings (PTEs and PMDs) of a page cache folio, each of which holds a
 * folio reference; -1 where a module cannot tell.  From 6.10 a large
 * folio keeps its mapcount in one field and folio_mapcount() is an inline
 * reading it; before, a large folio's count was computed out of line, in
 * code that is not exported (6.1: folio_mapcount() in mm/util.c), and only
 * a small folio's own _mapcount can be read.
 */
static inline int sz_folio_mapcount(struct folio *folio)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
	return folio_mapcount(folio);
#else
	if (folio_test_large(folio))
		return -1;
	return atomic_read(&folio->_mapcount) + 1;
#endif
}

#endif /* SHMEM_ZERO_COMPAT_H */
