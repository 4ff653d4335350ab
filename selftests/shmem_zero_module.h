/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Module unload and reload helpers of the kselftests that unload
 * shmem_zero.ko with a call in flight (shmem_zero_test.c's mod fixture,
 * shmem_zero_race_test.c's unload fixture): include after
 * kselftest_harness.h and shmem_zero_util.h.
 */
#ifndef SHMEM_ZERO_MODULE_H
#define SHMEM_ZERO_MODULE_H

static inline bool module_loaded(void)
{
	return access("/sys/module/shmem_zero", F_OK) == 0;
}

static inline int load_module(const char *ko)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC), r, e;

	if (fd < 0)
		return errno;
	r = syscall(SYS_finit_module, fd, "", 0);
	e = errno;
	close(fd);
	return r ? e : 0;
}

static inline int unload_module(void)
{
	return syscall(SYS_delete_module, "shmem_zero", O_NONBLOCK) ? errno : 0;
}

static inline bool wait_path(const char *path, bool present, int ms)
{
	for (int i = 0; i <= ms; i += 10) {
		if ((access(path, F_OK) == 0) == present)
			return true;
		usleep(10000);
	}
	return false;
}

static inline bool busy_errno(int e)
{
	return e == EBUSY || e == EAGAIN || e == EWOULDBLOCK;
}

struct busy {
	int dev, fd;
	uint32_t mode;
	const struct shmem_zero_range *r;
	uint64_t nr;
	atomic_ulong seq;		/* odd while inside the ioctl */
	atomic_int stop;
	unsigned long fail_seq;		/* seq value during the failed call */
	int err;
	struct shmem_zero_args first;	/* the first call's result */
	int first_err;
};

static inline void *busy_thread(void *arg)
{
	struct busy *b = arg;

	for (int i = 0; !atomic_load(&b->stop); i++) {
		struct shmem_zero_args a;
		unsigned long s;
		int e;

		args_init(&a, b->fd, b->mode, b->r, b->nr);
		s = atomic_fetch_add(&b->seq, 1) + 1;
		e = sz(b->dev, &a);
		atomic_fetch_add(&b->seq, 1);
		if (!i) {
			b->first = a;
			b->first_err = e;
		}
		if (e) {
			b->err = e;
			b->fail_seq = s;
			break;
		}
	}
	return NULL;
}

/* The device works: a DISCARD of a small memfd zeroes and frees it. */
static inline void check_device_works(struct __test_metadata *_metadata)
{
	struct shmem_zero_range r = { 0, 4 * PG };
	struct shmem_zero_args a;
	int dev = open_dev(), fd = memfd("works", 4 * PG, 0);

	ASSERT_LE(0, dev);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fill_pages(fd, 0, 4, 1, NULL));
	ASSERT_EQ(0, sz_call(dev, fd, DISCARD, &r, 1, NULL, 0, &a));
	EXPECT_EQ(4ULL, a.freed_pages);
	EXPECT_EQ(0, bad_pages(fd, 0, 4, 0, NULL, NULL));
	EXPECT_EQ(0, blocks(fd));
	close(fd);
	close(dev);
}

#endif /* SHMEM_ZERO_MODULE_H */
