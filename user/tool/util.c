// SPDX-License-Identifier: GPL-2.0
/* What shmemzero(8) and shmemzerod(8) share. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "tool.h"

/* A byte count: a number with an optional K, M, G or T (powers of 1024). */
bool parse_size(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long n;
	int shift = 0;

	errno = 0;
	n = strtoull(s, &end, 0);
	if (errno || end == s)
		return false;
	switch (*end) {
	case 'T': case 't': shift += 10; /* fall through */
	case 'G': case 'g': shift += 10; /* fall through */
	case 'M': case 'm': shift += 10; /* fall through */
	case 'K': case 'k': shift += 10; end++; break;
	}
	if (*end || (shift && n > (UINT64_MAX >> shift)))
		return false;
	*v = (uint64_t)n << shift;
	return true;
}
