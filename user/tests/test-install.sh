#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make install of libshmemzero into a temporary PREFIX (and a DESTDIR
# staging tree); pkg-config finds it; a program builds and links against
# the shared and the static library and runs.  TAP: the plan first, then one
# "ok - "/"not ok - " line per check.
set -uo pipefail
cd "$(dirname "$0")/../.."
# The checks below, one result call each (a check that never reports counts
# as a failure against this plan).
plan=12
echo "1..$plan"
tmp=$(mktemp -d /tmp/sz-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
rc=0 ran=0
result() {	# result STATUS NAME [DETAIL]
	ran=$((ran + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok - $2"
	else
		[ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/# /'
		echo "not ok - $2"
		rc=1
	fi
}

cat >"$tmp/prog.c" <<'C'
#define _GNU_SOURCE
#include <shmemzero.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void)
{
	struct sz_handle *h;
	struct sz_stats st;
	int fd = memfd_create("prog", 0);

	if (fd < 0 || ftruncate(fd, 1 << 20) || pwrite(fd, "x", 1, 4096) != 1)
		return 1;
	if (sz_open(&h, fd, 0, 1 << 20, 0, 0) || sz_add_zero(h, 0, 8192) ||
	    sz_flush(h))
		return 1;
	if (sz_stats(h, &st, sizeof(st)))
		return 1;
	printf("%s, %llu bytes applied\n",
	       sz_path(h) == SZ_PATH_IOCTL ? "ioctl" : "fallback",
	       (unsigned long long)st.applied_bytes);
	return sz_close(h);
}
C

prefix=$tmp/prefix
log=$(make -s -C user/lib install PREFIX="$prefix" 2>&1)
result $? "install: make -C user/lib install PREFIX=..." "$log"
missing=
for f in include/shmemzero.h lib/libshmemzero.so.0.3.0 lib/libshmemzero.so.0 \
	 lib/libshmemzero.so lib/libshmemzero.a lib/pkgconfig/shmemzero.pc \
	 share/man/man3/libshmemzero.3 share/man/man3/sz_open.3 \
	 share/man/man3/sz_add_zero.3 share/man/man3/sz_query.3 \
	 share/man/man3/sz_stats.3 share/man/man3/sz_flush.3; do
	[ -e "$prefix/$f" ] || missing="$missing $f"
done
result "$([ -z "$missing" ]; echo $?)" "install: library, links, header, .pc and man pages installed" \
	"missing:$missing"

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
flags=$(pkg-config --cflags --libs shmemzero 2>&1)
s=$?
[ $s -eq 0 ] && [[ $flags == *"-I$prefix/include"* ]] && [[ $flags == *-lshmemzero* ]]
result $? "install: pkg-config --cflags --libs shmemzero finds it ($flags)" "$flags"

log=$(cc -std=c11 -Wall -Wextra -Werror -o "$tmp/prog" "$tmp/prog.c" $flags 2>&1)
result $? "install: a program builds against the installed shared library" "$log"
needed=$(readelf -d "$tmp/prog" 2>/dev/null | grep -c 'NEEDED.*libshmemzero.so.0')
out=$(LD_LIBRARY_PATH=$prefix/lib "$tmp/prog" 2>&1)
s=$?
[ $s -eq 0 ] && [ "$needed" = 1 ]
result $? "install: it links to libshmemzero.so.0 and runs ($out)" "exit $s, NEEDED $needed: $out"

log=$(cc -std=c11 -Wall -Werror -o "$tmp/prog-static" "$tmp/prog.c" \
	$(pkg-config --cflags shmemzero) "$prefix/lib/libshmemzero.a" 2>&1) &&
	out=$("$tmp/prog-static" 2>&1)
result $? "install: and against the static library ($out)" "$log$out"

# Every export, with its version: 0.1's symbols keep their node, sz_free
# came in 0.2, and 0.3 gave sz_stats/query/reclaim a struct size (their
# 0.1 versions stay, as non-default "@" symbols) and added the vectors.
want="SHMEMZERO_0.1 SHMEMZERO_0.2 SHMEMZERO_0.3
sz_add_zero@@SHMEMZERO_0.1 sz_before_write@@SHMEMZERO_0.1 sz_close@@SHMEMZERO_0.1
sz_flush@@SHMEMZERO_0.1 sz_flush_range@@SHMEMZERO_0.1 sz_open@@SHMEMZERO_0.1
sz_path@@SHMEMZERO_0.1 sz_query@SHMEMZERO_0.1 sz_reclaim@SHMEMZERO_0.1
sz_stats@SHMEMZERO_0.1 sz_free@@SHMEMZERO_0.2 sz_add_zero_v@@SHMEMZERO_0.3
sz_before_write_v@@SHMEMZERO_0.3 sz_query@@SHMEMZERO_0.3 sz_reclaim@@SHMEMZERO_0.3
sz_stats@@SHMEMZERO_0.3"
have=$(nm -D --defined-only "$prefix/lib/libshmemzero.so.0" | awk '{print $3}' | sort)
[ "$have" = "$(printf '%s\n' $want | sort)" ]
result $? "install: exactly the sz_* symbols of nodes 0.1, 0.2 and 0.3 exported" \
	"$(diff <(printf '%s\n' $want | sort) <(echo "$have"))"

log=$(for std in c99 c11; do
	echo '#include <shmemzero.h>' | cc -std=$std -Wall -Wextra -pedantic -Werror \
		-I"$prefix/include" -x c -fsyntax-only - || echo "fails as $std"; done
	echo '#include <shmemzero.h>' | c++ -Wall -Wextra -Werror -I"$prefix/include" \
		-x c++ -fsyntax-only - || echo "fails as C++" ) 2>&1
result "$([ -z "$log" ]; echo $?)" "install: the header stands alone (C99, C11, C++)" "$log"

# from the tree's root, where the ".so man3/..." link pages resolve
log=$(cd "$prefix/share/man" && for m in man3/*.3; do
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$m" 2>&1 >/dev/null
done)
result "$([ -z "$log" ]; echo $?)" "install: man pages render without warnings" "$log"

stage=$tmp/stage
log=$(make -s -C user/lib install PREFIX=/usr/local DESTDIR="$stage" 2>&1)
flags=$(PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_PATH=$stage/usr/local/lib/pkgconfig \
	pkg-config --cflags --libs shmemzero 2>&1)
[ -e "$stage/usr/local/lib/libshmemzero.so.0" ] &&
	cc -o "$tmp/prog2" "$tmp/prog.c" $flags >/dev/null 2>&1 &&
	LD_LIBRARY_PATH=$stage/usr/local/lib "$tmp/prog2" >/dev/null
result $? "install: DESTDIR staging; pkg-config with the sysroot finds it ($flags)" "$log"
# A packager's CFLAGS replace the defaults, not what the library needs
# (-fPIC, -fvisibility=hidden, the uAPI include path): a copy of the
# sources builds with CFLAGS=-O1, and its .so exports the same symbols.
# (with the project's VERSION, which the library's Makefile reads)
mkdir -p "$tmp/src/user" "$tmp/src/kmod/include"
cp -r user/lib "$tmp/src/user/" && cp -r kmod/include/uapi "$tmp/src/kmod/include/" &&
	cp VERSION "$tmp/src/"
log=$(make -s -C "$tmp/src/user/lib" clean all CFLAGS=-O1 2>&1) &&
	[ "$(nm -D --defined-only "$tmp/src/user/lib/libshmemzero.so.0" | awk '{print $3}' | sort)" = \
	  "$(nm -D --defined-only "$prefix/lib/libshmemzero.so.0" | awk '{print $3}' | sort)" ]
result $? "install: make CFLAGS=-O1 keeps the library's own flags (same exports)" "$log"

# The top-level make install: library, tool, man pages, uAPI header.
root=$tmp/pkgroot
log=$(make -s install DESTDIR="$root" PREFIX=/usr 2>&1)
s=$?
missing=""
for f in lib/libshmemzero.so.0 lib/libshmemzero.a lib/pkgconfig/shmemzero.pc \
	 include/shmemzero.h include/linux/shmem_zero.h sbin/shmemzero \
	 share/man/man8/shmemzero.8 share/man/man3/sz_open.3 share/man/man3/sz_free.3; do
	[ -e "$root/usr/$f" ] || missing="$missing $f"
done
[ $s -eq 0 ] && [ -z "$missing" ]
result $? "install: top-level make install DESTDIR= PREFIX=/usr installs lib, tool, man pages, uAPI header" \
	"$log${missing:+
missing:$missing}"

if [ $ran != $plan ]; then
	echo "# test-install.sh: plan $plan but $ran checks ran: fix plan="
	rc=1
fi
exit $rc
