/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Synthetic migration streams: one RAM block ("pc.ram") of a given size in
 * which a given fraction of the pages, at random places (fixed seed), holds
 * data; the rest is sent as zero pages.  The pages are handed to the same
 * callbacks as szr_parse() gives a real stream, in the order a QEMU 7.2
 * source's bulk stage sends them (ascending offsets, an EOS every chunk),
 * without writing the stream out: a 1 TiB block is 268 M page records.
 */
#ifndef SZR_SYNTH_H
#define SZR_SYNTH_H

#include <stdint.h>

#include "stream.h"

struct szr_synth {
	uint64_t size;			/* bytes, a multiple of page */
	double fraction;		/* of the pages that hold data */
	uint64_t seed;
	uint32_t page;
	uint64_t *data;			/* page indices holding data, sorted */
	uint64_t nr_data;
};

/*
 * Parse "SIZE,PERCENT" (SIZE with an optional K/M/G/T suffix, PERCENT of
 * the pages that hold data, may be fractional) and lay out the data pages.
 * 0, or -1 with a message on stderr.
 */
int szr_synth_init(struct szr_synth *s, const char *spec, uint64_t seed,
		   uint32_t page);
void szr_synth_free(struct szr_synth *s);

/* The expected contents of data page idx (page bytes). */
void szr_synth_fill(const struct szr_synth *s, uint64_t idx, uint8_t *buf);

/* Emit the stream through ops, filling info as szr_parse() does. */
int szr_synth_emit(const struct szr_synth *s, const struct szr_ops *ops,
		   void *ctx, struct szr_info *info, struct szr_error *err);

#endif /* SZR_SYNTH_H */
