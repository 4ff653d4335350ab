# SPDX-License-Identifier: GPL-2.0
#
# make            build build/KVER/kmod/shmem_zero.ko against KDIR (W=1; C=1: sparse)
# make check      every test: static checks, then the kselftests in a VM
#                 (DEBUG_KERNELS=6.12, as CI: and on the 6.12 debug kernel)
# make check-full make check with both debug kernels (6.12, 6.1), Debian 13's
#                 and sid's kernels (6.12, 6.12-rt, 7.2; scripts/build-root)
#                 and every QEMU case, too
# make debug-kernel  build the 6.12 debug kernel (DEBUG_SERIES=6.1) + module
# make demo       stock vs patched live migration of a 1 GiB memfd guest, in a VM
# make bench      every benchmark side by side in one VM, report in Documentation/bench/
# make bench-migrate  stock vs patched migrations, time/downtime/CPU/memory (part of bench)
# make symcheck   every undefined symbol of the .ko is exported by KDIR
# make checkpatch checkpatch.pl --strict over the kernel sources
# make dkms-src   copy the module sources to /usr/src for dkms add
# make user       libshmemzero, sz-replay, shmemzero(8), their tests, the writer guest
# make qemu-check    QEMU 7.2 and 10.0 + their series (cached), real migrations in a VM
# make fresh-check   make demo and make check in a clean Debian 12 root (mmdebstrap), timed

# The kernels we target: Debian 12's 6.1 and bookworm-backports' 6.12, the
# newest installed of each.  KVER picks the one "make" builds (default 6.1);
# "make check" tests every kernel in KVERS.
newest = $(shell ls /boot/vmlinuz-$(1).* 2>/dev/null | sort -V | tail -n1 | \
	sed 's|.*/vmlinuz-||')
KVER ?= $(call newest,6.1)
KVERS ?= $(call newest,6.1) $(call newest,6.12)
# A debug kernel of scripts/debug-kernel (KVER ending -sz-debug) builds
# against its tree in the cache.
SZ_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/shmem-zero
KDIR ?= $(firstword $(wildcard /lib/modules/$(KVER)/build \
	$(SZ_CACHE)/kernels/by-release/$(KVER)/lib/modules/$(KVER)/build) \
	/lib/modules/$(KVER)/build)
BUILD := $(CURDIR)/build
# Each kernel builds from its own copy of the sources, so builds for
# different kernels never share objects: build/$(KVER)/kmod/shmem_zero.ko.
# Expanded when used, like KVER: on a new machine "make demo" installs the
# kernel (deps) after this file is read.
OBJ = $(BUILD)/$(KVER)
KMOD_C := kmod/core.c kmod/stats.c
KMOD_H := kmod/shmem_zero.h
KMOD_FILES := Kbuild kmod/Kbuild $(KMOD_C) $(KMOD_H) kmod/trace.h kmod/compat.h \
	kmod/include/uapi/linux/shmem_zero.h
KSRC_TAR ?= /usr/src/linux-source-6.1.tar.xz
CHECKPATCH_ANY = $(BUILD)/checkpatch/checkpatch.pl --no-tree --show-types \
	--ignore FILE_PATH_CHANGES
CHECKPATCH = $(CHECKPATCH_ANY) --strict

all: module

module:
	@test -n "$(KVER)" || { echo "no kernel in /boot to build for: run scripts/install-deps" >&2; exit 1; }
	mkdir -p $(OBJ)
	cp -a --parents $(KMOD_FILES) $(OBJ)/
	$(MAKE) -C $(KDIR) M=$(OBJ) W=1 modules

kvers:
	@echo $(KVERS)

# The module's sources and dkms.conf, where "dkms add" looks for them; the
# version is the project's (VERSION), as in the Debian packages.
DKMS_VERSION ?= $(shell cat VERSION)
DKMS_SRC = $(DESTDIR)/usr/src/shmem-zero-$(DKMS_VERSION)
dkms-src:
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)
	cp -a --parents $(KMOD_FILES) kmod/60-shmem-zero.rules $(DKMS_SRC)/
	sed 's/#MODULE_VERSION#/$(DKMS_VERSION)/' dkms.conf \
		>$(DKMS_SRC)/dkms.conf

# The Debian packages (debian/, issue 18): shmem-zero-dkms, libshmemzero0,
# libshmemzero-dev and shmemzero, version VERSION, built by dpkg-buildpackage
# from a copy of the tree (tracked and new files) whose debian/changelog is
# written here, into build/deb/; then lintian, which must be quiet.
# scripts/deb-test installs them in a VM of each kernel.
DEB_VERSION := $(shell cat VERSION)
DEB_TREE = $(BUILD)/deb/shmem-zero-$(DEB_VERSION)
deb:
	rm -rf $(BUILD)/deb
	mkdir -p $(DEB_TREE)
	git ls-files -z -co --exclude-standard | xargs -0 cp -a --parents -t $(DEB_TREE)
	printf 'shmem-zero (%s) unstable; urgency=medium\n\n  * Version %s (VERSION).\n\n -- %s  %s\n' \
		'$(DEB_VERSION)' '$(DEB_VERSION)' \
		"$$(sed -n 's/^Maintainer: //p' debian/control)" \
		"$$(date -R -d @$$(git log -1 --format=%ct))" >$(DEB_TREE)/debian/changelog
	cd $(DEB_TREE) && dpkg-buildpackage -b -us -uc --no-sign
	lintian --fail-on error,warning --info $(BUILD)/deb/*.changes

clean:
	$(MAKE) -C selftests clean
	$(MAKE) -C user/demo clean
	$(MAKE) -C user/bench clean
	$(MAKE) -C user/lib clean
	$(MAKE) -C user/replay clean
	$(MAKE) -C user/tests clean
	$(MAKE) -C user/tool clean
	$(MAKE) -C user/qemu/tests/guest clean
	rm -rf $(BUILD)

symcheck: module
	scripts/check-symbols $(OBJ)/kmod/shmem_zero.ko $(KDIR)/Module.symvers

$(BUILD)/checkpatch/checkpatch.pl: $(KSRC_TAR)
	mkdir -p $(@D)
	tar -xJf $< -C $(@D) --strip-components=2 \
		linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
	touch $@

# BIT() does not exist for user space; a compat header is version checks;
# TRACE_EVENT() keeps the layout of include/trace/events/ (not --strict).
checkpatch: $(BUILD)/checkpatch/checkpatch.pl
	$(CHECKPATCH) -f $(KMOD_C) $(KMOD_H)
	$(CHECKPATCH) --ignore BIT_MACRO -f kmod/include/uapi/linux/shmem_zero.h
	$(CHECKPATCH) --ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON -f kmod/compat.h
	$(CHECKPATCH_ANY) -f kmod/trace.h

deps:
	scripts/install-deps

# make check DEBUG_KERNELS=6.12 (what CI runs) adds the 6.12 debug kernel.
check: deps
	DEBUG_KERNELS="$(DEBUG_KERNELS)" scripts/check

# make check, plus 6.1's debug kernel beside 6.12's (scripts/debug-kernel),
# 1 000 000 fuzzer calls on each debug kernel (issue 14), and Debian 13's
# 6.12 (generic, PREEMPT_RT) and sid's 7.2 in scripts/build-root roots,
# sid's QEMU 10.2.2 with the series and every QEMU case (issue 16).
check-full: deps
	DEBUG_KERNELS="6.12 6.1" SZ_FUZZ_DEBUG_CALLS=1000000 PLATFORMS="trixie sid" QEMU_CASES=all \
		QEMU_TARGETS="7.2 10.0 10.2" DEB_KERNELS=all SZ_DAEMON_ALL=1 \
		scripts/check

# A debug kernel (KASAN, lockdep, DEBUG_VM, UBSAN, kmemleak, fault
# injection; cached) and the module built against it: make debug-kernel
# DEBUG_SERIES=6.1.  Prints the KVER for scripts/vm-run --kernel.
DEBUG_SERIES ?= 6.12
debug-kernel: deps
	@k=$$(scripts/debug-kernel $(DEBUG_SERIES)) && $(MAKE) -s KVER=$$k module && echo $$k

# The README's commands on a brand-new Debian 12 (a developer's tool: about
# an hour; not part of make check).
fresh-check:
	scripts/fresh-check

# Debian's QEMU 7.2, stock and patched, each migrating a paused guest with
# 1 GiB of memfd RAM (8 MiB of data) inside a VM: a table on stdout, the
# same figures in build/demo/demo.json.  make demo-stream: the ioctl alone
# on a synthetic 1 GiB zero-page stream.
demo: deps module user
	user/qemu/build.sh 7.2
	rm -rf $(BUILD)/demo
	scripts/vm-run --mem 6144 --out $(BUILD)/demo -- \
		user/qemu/tests/migrate.sh 7.2 --demo
	@echo "figures: $(BUILD)/demo/demo.json"

demo-stream: deps module
	$(MAKE) -C user/demo
	scripts/vm-run -- user/demo/shmem_zero_demo

# Every benchmark in one 4 GiB VM (user/bench/run-bench.sh): each zero-page
# strategy of sz-replay on synthetic streams (empty and pre-filled
# destinations, THP, a sparse 1 TiB memfd) and on a stream recorded from
# Debian's QEMU; DISCARD vectors; RECLAIM and QUERY against userspace; the
# cost of an empty call; a 32 GiB memfd guest migrated by stock and patched
# QEMU 7.2.  user/bench/report.py writes $(BENCH_OUT)/report.md, its SVG
# plots (gnuplot) and results.json.  Benchmarks, not tests: nothing fails on
# a figure.  BENCH_REPEATS: repetitions per scenario (medians reported).
BENCH_REPEATS ?= 3
BENCH_OUT ?= Documentation/bench
BENCH_T0 := $(shell date +%s)
bench: deps module user
	$(MAKE) -C user/bench
	user/qemu/build.sh >$(BUILD)/qemu-path
	user/tests/record-stream.py $(BUILD)/replay
	rm -rf $(BUILD)/bench
	scripts/vm-run --mem 4096 --timeout 1200 --out $(BUILD)/bench -- \
		user/bench/run-bench.sh $(BUILD)/replay \
		"$$(tail -n1 $(BUILD)/qemu-path)" $(BENCH_REPEATS)
	user/bench/report.py $(BUILD)/bench $(BENCH_OUT) --command "make bench" \
		--wall $$(($$(date +%s) - $(BENCH_T0)))
	$(MAKE) bench-migrate

# What a migration costs end to end (issue 15): an almost empty 4 GiB
# guest, a populated 1 GiB one and the running writer guest, each migrated
# by stock and patched QEMU 10.0 (precopy, multifd, module and fallback);
# total time, downtime, CPU of each QEMU, memory, bytes, wrong pages, and
# the goals met or missed, in $(BENCH_OUT)/migration-cost.md.
bench-migrate: deps module user
	user/qemu/build.sh 10.0 >/dev/null
	rm -rf $(BUILD)/bench-migrate
	scripts/vm-run --mem 12288 --timeout 1800 --out $(BUILD)/bench-migrate -- \
		sh -c 'user/bench/migrate_cost.py --target 10.0 --repeats $(BENCH_REPEATS) \
		--stock "$$(readlink -f build/qemu/10.0/qemu-system-x86_64-stock)" \
		--patched "$$(readlink -f build/qemu/10.0/qemu-system-x86_64)" \
		--json "$$SZ_OUT/cost.json"'
	{ echo "# Migration cost, end to end"; echo; \
	  echo "From \`make bench-migrate\` (user/bench/migrate_cost.py, in a VM under TCG on"; \
	  echo "2 cores; medians of $(BENCH_REPEATS) runs; the guests are described in the script)."; echo; \
	  user/bench/migrate_cost.py --markdown $(BUILD)/bench-migrate/cost.json; } \
		>$(BENCH_OUT)/migration-cost.md

user:
	$(MAKE) -C user/tests all
	$(MAKE) -C user/tool
	$(MAKE) -C user/qemu/tests/guest

# What a distribution ships from user space: libshmemzero (.so, .a, header,
# pkg-config, man pages), shmemzero(8), and the uAPI header for programs
# that call the ioctl themselves.  PREFIX (/usr/local) and DESTDIR.
PREFIX ?= /usr/local
install:
	$(MAKE) -C user/lib install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)
	$(MAKE) -C user/tool install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)
	install -D -m 644 kmod/include/uapi/linux/shmem_zero.h \
		$(DESTDIR)$(PREFIX)/include/linux/shmem_zero.h

# QEMU 7.2 and 10.0 with the libshmemzero series (cached by what goes into
# each binary), then stock/patched migrations of a 1 GiB memfd guest, one VM
# per target.
qemu-check: deps module user
	for t in 7.2 10.0; do user/qemu/build.sh $$t || exit 1; \
		scripts/vm-run --mem 6144 --timeout 1800 -- \
			user/qemu/tests/migrate.sh $$t || exit 1; done

.PHONY: all module kvers dkms-src deb clean symcheck checkpatch deps check check-full debug-kernel \
	fresh-check demo \
	demo-stream bench bench-migrate user install qemu-check
