/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SHMEMZERO_TOOL_H
#define SHMEMZERO_TOOL_H

#include <stdbool.h>
#include <stdint.h>

/* Exit statuses, also in shmemzero(8). */
enum {
	EXIT_OK		= 0,
	EXIT_FAIL	= 1,	/* anything else */
	EXIT_USAGE	= 2,
	EXIT_NO_MODULE	= 3,	/* /dev/shmem_zero or its netlink family missing */
	EXIT_PERM	= 4,	/* permission denied */
	EXIT_NO_TARGET	= 5,	/* no such process, fd or file */
	EXIT_NOT_TMPFS	= 6,	/* the file is not on tmpfs */
};

struct json_object;

int cmd_stat(bool json, unsigned int watch);
void print_json_object(struct json_object *obj);
int cmd_reset(void);
bool parse_size(const char *s, uint64_t *v);

#endif
