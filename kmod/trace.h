/* SPDX-License-Identifier: GPL-2.0 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM shmem_zero

#if !defined(SHMEM_ZERO_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define SHMEM_ZERO_TRACE_H

#include <linux/tracepoint.h>

/* One SHMEM_ZERO_IOC_RANGES call, when it returns. */
TRACE_EVENT(shmem_zero_ioctl,
	TP_PROTO(dev_t dev, unsigned long ino, u32 mode, u64 nr_ranges,
		 u64 ranges_done, u64 bytes_done, u64 freed_pages, int ret),
	TP_ARGS(dev, ino, mode, nr_ranges, ranges_done, bytes_done,
		freed_pages, ret),
	TP_STRUCT__entry(
		__field(dev_t, dev)
		__field(unsigned long, ino)
		__field(u32, mode)
		__field(int, ret)
		__field(u64, nr_ranges)
		__field(u64, ranges_done)
		__field(u64, bytes_done)
		__field(u64, freed_pages)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->ino = ino;
		__entry->mode = mode;
		__entry->ret = ret;
		__entry->nr_ranges = nr_ranges;
		__entry->ranges_done = ranges_done;
		__entry->bytes_done = bytes_done;
		__entry->freed_pages = freed_pages;
	),
	TP_printk("dev %u:%u ino %lu mode %u ranges %llu/%llu bytes %llu freed %llu ret %d",
		  MAJOR(__entry->dev), MINOR(__entry->dev), __entry->ino,
		  __entry->mode, __entry->ranges_done, __entry->nr_ranges,
		  __entry->bytes_done, __entry->freed_pages, __entry->ret)
);

#endif /* SHMEM_ZERO_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
