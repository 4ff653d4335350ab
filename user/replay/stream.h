/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parser of a QEMU migration stream file as QEMU 7.2 writes it (migration/
 * savevm.c, ram.c): the header, the configuration section, the "ram"
 * section's pages, device sections skipped by the sizes the stream's own
 * VMDESCRIPTION gives, EOF, and the VMDESCRIPTION.  It works on a buffer
 * and reports RAM through callbacks; errors carry the byte offset.
 */
#ifndef SZR_STREAM_H
#define SZR_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SZR_MAX_BLOCKS		64
/* The VMDESCRIPTION: how far from the end it may start, its JSON nesting. */
#define SZR_VMDESC_MAX		(16u << 20)
#define SZR_VMDESC_DEPTH	256

struct szr_block {
	char name[256];
	uint64_t length;
};

/* Callbacks: 0 to go on, or a positive errno to stop the parse. */
struct szr_ops {
	/* The RAM block list (RAM_SAVE_FLAG_MEM_SIZE). */
	int (*blocks)(void *ctx, const struct szr_block *blocks, unsigned int n);
	/*
	 * RAM_SAVE_FLAG_PAGE: page_size bytes of data (info->page_size, set
	 * before the first callback).
	 */
	int (*page)(void *ctx, unsigned int block, uint64_t offset,
		    const uint8_t *data);
	/* RAM_SAVE_FLAG_ZERO: a page filled with byte (0 almost always). */
	int (*fill)(void *ctx, unsigned int block, uint64_t offset,
		    uint8_t byte);
	/* RAM_SAVE_FLAG_EOS: end of a RAM section chunk (a flush point). */
	int (*eos)(void *ctx);
};

struct szr_info {
	uint32_t page_size;
	char machine[256];
	uint64_t data_pages, zero_pages, fill_pages;
	uint64_t ram_sections, eos, device_sections, commands;
	bool vmdesc;			/* a VMDESCRIPTION was found */
	uint64_t vmdesc_offset;
	unsigned int nr_blocks;
	struct szr_block blocks[SZR_MAX_BLOCKS];
};

struct szr_error {
	uint64_t offset;		/* where in the stream */
	char msg[320];
};

/*
 * Parse buf[0, len).  0 on success; -1 on a malformed or truncated stream;
 * a callback's errno if one stopped it.  err is set unless 0 is returned.
 */
int szr_parse(const uint8_t *buf, size_t len, const struct szr_ops *ops,
	      void *ctx, struct szr_info *info, struct szr_error *err);

#endif /* SZR_STREAM_H */
