# SPDX-License-Identifier: GPL-2.0
#
# make            build kmod/shmem_zero.ko against KDIR (W=1; add C=1 for sparse)
# make check      every test: static checks, then the kselftests in a VM
# make demo       the 1 GiB zero-page stream demo in a VM
# make bench      DISCARD vs punch-hole on fragmented vectors, in a VM
# make symcheck   every undefined symbol of the .ko is exported by KDIR
# make checkpatch checkpatch.pl --strict over the kernel sources

KVER ?= $(notdir $(lastword $(sort $(wildcard /boot/vmlinuz-6.1.*))))
KVER := $(patsubst vmlinuz-%,%,$(KVER))
KDIR ?= /lib/modules/$(KVER)/build
BUILD := $(CURDIR)/build
KSRC_TAR ?= /usr/src/linux-source-6.1.tar.xz
CHECKPATCH = $(BUILD)/checkpatch/checkpatch.pl --no-tree --strict --show-types \
	--ignore FILE_PATH_CHANGES

all: module

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	$(MAKE) -C selftests clean
	$(MAKE) -C user/demo clean
	$(MAKE) -C user/bench clean
	rm -rf $(BUILD)

symcheck: module
	scripts/check-symbols kmod/shmem_zero.ko $(KDIR)/Module.symvers

$(BUILD)/checkpatch/checkpatch.pl: $(KSRC_TAR)
	mkdir -p $(@D)
	tar -xJf $< -C $(@D) --strip-components=2 \
		linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
	touch $@

# BIT() does not exist for user space; a compat header is version checks.
checkpatch: $(BUILD)/checkpatch/checkpatch.pl
	$(CHECKPATCH) -f kmod/shmem_zero.c
	$(CHECKPATCH) --ignore BIT_MACRO -f kmod/include/uapi/linux/shmem_zero.h
	$(CHECKPATCH) --ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON -f kmod/compat.h

deps:
	scripts/install-deps

check: deps
	scripts/check

demo: deps module
	$(MAKE) -C user/demo
	scripts/vm-run -- user/demo/shmem_zero_demo

# DISCARD vs punch-hole, 100k random single-page ranges over a 1 GiB memfd:
# half-populated, then empty.  A benchmark, not a test.
bench: deps module
	$(MAKE) -C user/bench
	scripts/vm-run -- sh -c 'user/bench/sz_frag_bench 100000 3 2 && \
		user/bench/sz_frag_bench 100000 3 0'

.PHONY: all module clean symcheck checkpatch deps check demo bench
