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
 * Remove a locked page cache folio (truncate_inode_folio()); 0 on success.
 * 6.8 replaced generic_error_remove_page() by generic_error_remove_folio().
 */
static inline int sz_remove_folio(struct address_space *mapping,
				  struct folio *folio)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 8, 0)
	return generic_error_remove_page(mapping, &folio->page);
#else
	return generic_error_remove_folio(mapping, folio);
#endif
}

#endif /* SHMEM_ZERO_COMPAT_H */
