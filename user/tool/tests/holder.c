// SPDX-License-Identifier: GPL-2.0
/*
 * A stand-in for a running VM: a memfd of MIB MiB mapped shared, every page
 * populated by a read fault (the state stock QEMU leaves after a migration),
 * every 4th page holding data.  Prints "PID FD" and keeps writing to its
 * data pages through the mapping until SIGTERM (or SECONDS): each write
 * stores a new value in one of the first 8 words of a data page, then in
 * word 0, and the expected contents of those 8 words are remembered.  Then
 * every byte of every page is checked: a data page holds its 8 remembered
 * words and zeros after them, every other page is all zero.  Prints the
 * number of wrong pages (and the first one); exit 0 if there are none.
 *
 * With CHURN 1, each write to a data page is followed by one to a zero
 * page of the file's first 16th: a new value stored in its word 0, read
 * back at once (a write a reclaim lost reads back as 0), and zero stored
 * again; then a pause of 50 us, so that the rest of the zero pages stay
 * zero.  Prints the number of those writes and of the lost ones.
 *
 * With unplug or close in place of CHURN, it writes nothing after it has
 * printed "PID FD" but waits for SIGUSR1 and then lets go of its file as
 * QEMU does with a memory backend; until SIGTERM (or SECONDS) it lives on.
 * unplug: every page holds data; on SIGUSR1 the file is unmapped and its
 * fd closed, and "unplugged" printed: nothing holds it any more but other
 * processes' fds.  close: on SIGUSR1 only the fd is closed; every page is
 * read (faulted in) again through the mapping, which is kept, and
 * "closed START-END, N pages read in again" is printed: the mapping's
 * /proc/PID/map_files name and the pages that were not in the file (freed
 * by a RECLAIM); at the end the pages are checked as above.
 *
 * Usage: holder MIB SECONDS [CHURN | unplug | close]
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define WORDS	8	/* words of a data page that are written */

static volatile sig_atomic_t stop, let_go;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_usr1(int sig)
{
	(void)sig;
	let_go = 1;
}

/*
 * SIGUSR1 in unplug or close mode: let go of the file as QEMU does of a
 * memory backend.  Returns the mapping, NULL once it is unmapped, or
 * MAP_FAILED.
 */
static char *let_go_of(char *m, size_t size, int fd, long page, bool unplug)
{
	unsigned char *vec;
	long holes = 0;

	if ((unplug && munmap(m, size)) || close(fd))
		return MAP_FAILED;
	if (unplug) {
		printf("unplugged\n");
		fflush(stdout);
		return NULL;
	}
	/* the pages not in the file: allocated again by a read */
	vec = malloc(size / page);
	if (!vec || mincore(m, size, vec))
		return MAP_FAILED;
	for (size_t off = 0; off < size; off += page) {
		volatile char c = m[off];

		(void)c;
		holes += !(vec[off / page] & 1);
	}
	free(vec);
	printf("closed %lx-%lx, %ld pages read in again\n", (unsigned long)m,
	       (unsigned long)m + size, holes);
	fflush(stdout);
	return m;
}

int main(int argc, char **argv)
{
	size_t size = (argc > 1 ? atol(argv[1]) : 64) << 20;
	int secs = argc > 2 ? atoi(argv[2]) : 5;
	const char *mode = argc > 3 ? argv[3] : "0";
	bool unplug = !strcmp(mode, "unplug");
	bool idle = unplug || !strcmp(mode, "close");
	int churn = idle ? 0 : atoi(mode);
	uint64_t zwrites = 0, lost = 0;
	long page = sysconf(_SC_PAGESIZE), pages = size / page, bad = 0, first = -1;
	/* the expected first WORDS words of each page (0 for non-data pages) */
	uint64_t (*want)[WORDS] = calloc(pages, sizeof(*want)), seq = 0;
	uint64_t *expect = calloc(1, page);
	time_t end;
	char *m;
	int fd;

	fd = memfd_create("guest-ram", 0);
	if (fd < 0 || ftruncate(fd, size) || !want || !expect || pages < 4)
		return 2;
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return 2;
	for (long p = 0; p < pages; p++) {
		volatile char c = m[p * page];

		(void)c;
		if (p % 4 == 0 || unplug) {
			want[p][0] = ++seq;
			memcpy(m + p * page, &want[p][0], sizeof(seq));
		}
	}
	signal(SIGTERM, on_term);
	signal(SIGUSR1, on_usr1);
	printf("%d %d\n", getpid(), fd);
	fflush(stdout);
	srandom(1);
	end = time(NULL) + secs;
	while (idle && !stop && time(NULL) < end) {
		const struct timespec ts = { 0, 10 * 1000 * 1000 };

		if (let_go == 1) {
			let_go = 2;
			m = let_go_of(m, size, fd, page, unplug);
			if (m == MAP_FAILED)
				return 2;
		}
		nanosleep(&ts, NULL);
	}
	if (!m) {
		printf("unplugged, nothing to check\n");
		return 0;
	}
	while (!idle && !stop && time(NULL) < end) {
		long p = (random() % (pages / 4)) * 4;
		unsigned int w = ++seq % WORDS;

		want[p][w] = want[p][0] = seq;
		memcpy(m + p * page + w * 8, &seq, sizeof(seq));
		memcpy(m + p * page, &seq, sizeof(seq));
		if (churn) {
			/* not a data page (q % 4 != 0), in the first 16th */
			long q = (random() % (pages / 16 / 4)) * 4 + 1 + random() % 3;
			volatile uint64_t *z = (volatile uint64_t *)(m + q * page);

			*z = seq;
			if (*z != seq)
				lost++;
			*z = 0;
			zwrites++;
			usleep(50);
		}
	}
	for (long p = 0; p < pages; p++) {
		memcpy(expect, want[p], sizeof(want[p]));
		if (memcmp(m + p * page, expect, page)) {
			if (first < 0)
				first = p;
			bad++;
		}
	}
	printf("writes %llu, wrong pages %ld", (unsigned long long)seq, bad);
	if (churn)
		printf(", zero-page writes %llu, lost %llu",
		       (unsigned long long)zwrites, (unsigned long long)lost);
	if (bad)
		printf(" (first: page %ld)", first);
	printf("\n");
	return bad || lost ? 1 : 0;
}
