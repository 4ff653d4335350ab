// SPDX-License-Identifier: GPL-2.0
/*
 * What the library's queuing costs per zero page, in instructions, not
 * seconds: run it under callgrind, which counts the same total on every
 * run whatever else the machine does (no module needed: the handle is on
 * the fallback path, and nothing is flushed before the end).
 *
 *   make -C user/bench call-cost
 *
 * MODE: "single", one sz_add_zero() per page in stream order (QEMU's
 * precopy path); "vector", sz_add_zero_v() per 128-page multifd packet
 * (its multifd receive path).  Each queues every page of a 1 GiB memfd.
 * What each pays besides, to subtract: "base" (open and free only) for
 * single, "fill" (filling the packets too) for vector.
 *
 * Usage: sz_call_cost single|vector|base|fill
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shmemzero.h"

#define SIZE	(1ULL << 30)
#define PACKET	128

int main(int argc, char **argv)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), pages = SIZE / page;
	int fd = memfd_create("call-cost", 0);
	static uint64_t packet[PACKET];
	struct sz_handle *h;
	uint64_t i;
	int k;

	if (argc != 2 || fd < 0 || ftruncate(fd, SIZE) ||
	    sz_open(&h, fd, 0, SIZE, SZ_OPEN_FALLBACK, 0)) {
		fprintf(stderr, "usage: %s single|vector|base|fill\n", argv[0]);
		return 2;
	}
	if (!strcmp(argv[1], "single")) {
		for (i = 0; i < pages; i++)
			sz_add_zero(h, i * page, page);
	} else if (strcmp(argv[1], "base")) {
		for (i = 0; i < pages; i += PACKET) {
			for (k = 0; k < PACKET; k++)
				packet[k] = (i + k) * page;
			if (!strcmp(argv[1], "vector"))
				sz_add_zero_v(h, packet, PACKET, page);
			else
				__asm__ volatile("" : : "r"(packet) : "memory");
		}
	}
	sz_free(h);
	return 0;
}
