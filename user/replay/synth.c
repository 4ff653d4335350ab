// SPDX-License-Identifier: GPL-2.0
/* Synthetic migration streams; see synth.h. */
#define _FILE_OFFSET_BITS 64	/* off_t: 64-bit on i386 too */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"

/* Pages between two EOS, as a source flushes its chunks (64 MiB of 4 KiB). */
#define SYNTH_EOS_PAGES		16384

static uint64_t xorshift(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in (0, 1]. */
static double uniform(uint64_t *state)
{
	return ((double)(xorshift(state) >> 11) + 1.0) / 9007199254740992.0;
}

static int parse_size(const char *s, char **end, uint64_t *out)
{
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(s, end, 0);
	if (errno || *end == s)
		return -1;
	switch (**end) {
	case 'T': case 't':
		shift += 10;
		/* fall through */
	case 'G': case 'g':
		shift += 10;
		/* fall through */
	case 'M': case 'm':
		shift += 10;
		/* fall through */
	case 'K': case 'k':
		shift += 10;
		(*end)++;
		break;
	}
	if (shift && v > (~0ULL >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

int szr_synth_init(struct szr_synth *s, const char *spec, uint64_t seed,
		   uint32_t page)
{
	uint64_t pages, state, idx, cap;
	double pct, logq;
	char *end;

	memset(s, 0, sizeof(*s));
	if (parse_size(spec, &end, &s->size) || *end != ',')
		goto bad;
	errno = 0;
	pct = strtod(end + 1, &end);
	if (errno || *end || !(pct >= 0 && pct <= 100))
		goto bad;
	if (!s->size || s->size % page)
		goto bad;
	s->fraction = pct / 100;
	s->seed = seed;
	s->page = page;
	pages = s->size / page;
	/* Geometric gaps between data pages: O(data pages), not O(pages). */
	cap = (uint64_t)((double)pages * s->fraction * 1.1) + 64;
	s->data = malloc(cap * sizeof(*s->data));
	if (!s->data) {
		fprintf(stderr, "sz-replay: no memory for %llu data pages\n",
			(unsigned long long)cap);
		return -1;
	}
	state = seed * 0x9e3779b97f4a7c15ULL + 1;
	logq = log1p(-s->fraction);
	for (idx = 0; s->fraction > 0; idx++) {
		if (s->fraction < 1)
			idx += (uint64_t)floor(log(uniform(&state)) / logq);
		if (idx >= pages)
			break;
		if (s->nr_data == cap) {
			uint64_t *d = realloc(s->data, 2 * cap * sizeof(*d));

			if (!d) {
				szr_synth_free(s);
				return -1;
			}
			s->data = d;
			cap *= 2;
		}
		s->data[s->nr_data++] = idx;
	}
	return 0;
bad:
	fprintf(stderr, "sz-replay: bad synthetic spec '%s' (SIZE,PERCENT, "
		"e.g. 256M,1)\n", spec);
	return -1;
}

void szr_synth_free(struct szr_synth *s)
{
	free(s->data);
	s->data = NULL;
	s->nr_data = 0;
}

void szr_synth_fill(const struct szr_synth *s, uint64_t idx, uint8_t *buf)
{
	uint64_t *w = (uint64_t *)buf, v = (idx + 1) * 0x9e3779b97f4a7c15ULL ^
					   s->seed;
	uint32_t i;

	for (i = 0; i < s->page / 8; i++)
		w[i] = (v + i) | 1;
}

static int stop(struct szr_error *err, uint64_t idx, int ret)
{
	err->offset = idx;
	snprintf(err->msg, sizeof(err->msg),
		 "synthetic page %llu: callback: %s",
		 (unsigned long long)idx, strerror(ret));
	return ret;
}

int szr_synth_emit(const struct szr_synth *s, const struct szr_ops *ops,
		   void *ctx, struct szr_info *info, struct szr_error *err)
{
	uint64_t pages = s->size / s->page, idx = 0, next = 0;
	uint8_t *buf = malloc(s->page);
	int ret = 0;

	memset(info, 0, sizeof(*info));
	memset(err, 0, sizeof(*err));
	if (!buf)
		return stop(err, 0, ENOMEM);
	info->page_size = s->page;
	snprintf(info->machine, sizeof(info->machine), "synthetic");
	info->nr_blocks = 1;
	snprintf(info->blocks[0].name, sizeof(info->blocks[0].name), "pc.ram");
	info->blocks[0].length = s->size;
	info->ram_sections = 1;
	if (!ops) {		/* the layout only: no walk over every page */
		info->data_pages = s->nr_data;
		info->zero_pages = pages - s->nr_data;
		info->eos = pages / SYNTH_EOS_PAGES + 1;
		goto out;
	}
	if (ops->blocks && (ret = ops->blocks(ctx, info->blocks, 1)))
		goto out;
	for (idx = 0; idx < pages; idx++) {
		if (next < s->nr_data && s->data[next] == idx) {
			next++;
			info->data_pages++;
			if (ops->page) {
				szr_synth_fill(s, idx, buf);
				ret = ops->page(ctx, 0, idx * s->page, buf);
			}
		} else {
			info->zero_pages++;
			if (ops->fill)
				ret = ops->fill(ctx, 0, idx * s->page, 0);
		}
		if (!ret && (idx + 1) % SYNTH_EOS_PAGES == 0) {
			info->eos++;
			if (ops->eos)
				ret = ops->eos(ctx);
		}
		if (ret)
			goto out;
	}
	info->eos++;
	if (ops->eos)
		ret = ops->eos(ctx);
out:
	free(buf);
	return ret ? stop(err, idx, ret) : 0;
}
