// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target of the migration stream parser: any input must parse or
 * fail with an error inside the input, never crash, leak or read outside
 * it; every page reported must lie inside its block.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

struct seen {
	const struct szr_info *info;	/* page_size: the stream's, 4 to 64 KiB */
	struct szr_block blocks[SZR_MAX_BLOCKS];
	unsigned int nr;
	uint64_t sum;
};

static int on_blocks(void *ctx, const struct szr_block *b, unsigned int n)
{
	struct seen *s = ctx;

	if (!n || n > SZR_MAX_BLOCKS)
		abort();
	memcpy(s->blocks, b, n * sizeof(*b));
	s->nr = n;
	return 0;
}

static void check(struct seen *s, unsigned int b, uint64_t off)
{
	uint32_t ps = s->info->page_size;

	if (ps < 4096 || ps > 65536 || (ps & (ps - 1)) || b >= s->nr ||
	    off >= s->blocks[b].length || off % ps)
		abort();
}

static int on_page(void *ctx, unsigned int b, uint64_t off, const uint8_t *d)
{
	struct seen *s = ctx;

	check(s, b, off);
	/* ASan: the whole page is inside the input */
	s->sum += d[0] + d[s->info->page_size - 1];
	return 0;
}

static int on_fill(void *ctx, unsigned int b, uint64_t off, uint8_t byte)
{
	check(ctx, b, off);
	((struct seen *)ctx)->sum += byte;
	return 0;
}

static int on_eos(void *ctx)
{
	return ((struct seen *)ctx)->sum == UINT64_MAX ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct szr_ops ops = {
		.blocks = on_blocks, .page = on_page, .fill = on_fill,
		.eos = on_eos,
	};
	struct szr_info info;
	struct seen s = { .info = &info };
	struct szr_error err;
	int ret = szr_parse(data, size, &ops, &s, &info, &err);

	if (ret && (!err.msg[0] || err.offset > size))
		abort();
	return 0;
}
