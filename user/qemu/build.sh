#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# user/qemu/build.sh [7.2|10.0]: QEMU with the libshmemzero series
# (user/qemu/TARGET/*.patch), x86_64-softmmu only, built with ccache against
# a static staging install of user/lib.
#
#   7.2   Debian's qemu 1:7.2+dfsg (apt-get source, Debian's patches applied
#         by dpkg-source).  "Stock" is Debian's own /usr/bin/qemu-system-x86_64.
#   10.0  upstream 10.0.2 as bookworm-backports ships it
#         (qemu_10.0.2+ds.orig.tar.xz), built twice: stock and patched, with
#         meson and pycotap from bookworm-backports unpacked next to the
#         build (the system's meson stays Debian 12's), no TCG (the tests
#         run -accel qtest) and no edk2 blobs (the +ds tarball has none).
#
# Binaries are cached in $SZ_QEMU_CACHE (default ~/.cache/shmem-zero/qemu)
# under TARGET/KEY, KEY = hash of what goes into them (source, series,
# library, this script), so a clean clone rebuilds nothing until the series
# changes.  build/qemu/TARGET/qemu-system-x86_64 (and, for 10.0,
# qemu-system-x86_64-stock) link to the current ones; the patched binary's
# path is the last line printed.
#
# Environment: SZ_QEMU_WORK (default build/qemu/TARGET), SZ_QEMU_CACHE,
# SZ_QEMU_SRC (a directory already holding the sources; default
# /work/qemu-src if it has them, else apt-get source --download-only), JOBS.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${1:-7.2}
case $target in
7.2|10.0) ;;
*) echo "usage: $0 [7.2|10.0]" >&2; exit 2 ;;
esac
series_dir=$root/user/qemu/$target
work=${SZ_QEMU_WORK:-$root/build/qemu/$target}
cache=${SZ_QEMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shmem-zero/qemu}/$target
from=${SZ_QEMU_SRC:-/work/qemu-src}
log() { echo "build.sh $target: $*" >&2; }

mapfile -t patches < <(ls "$series_dir"/*.patch)
((${#patches[@]})) || { log "no patches in $series_dir"; exit 1; }
lib_src=("$root"/user/lib/*.c "$root"/user/lib/*.h "$root"/user/lib/libshmemzero.map
	 "$root"/user/lib/Makefile "$root"/user/lib/shmemzero.pc.in
	 "$root"/kmod/include/uapi/linux/shmem_zero.h)
hash() { (cd / && sha256sum "$@" | cut -d' ' -f1) | sha256sum | cut -c1-16; }

common_flags=(--cc=/usr/lib/ccache/gcc --cxx=/usr/lib/ccache/g++
	--target-list=x86_64-softmmu --disable-install-blobs --disable-docs
	--disable-gtk --disable-sdl --disable-vnc --disable-opengl --disable-spice
	--disable-tools --disable-guest-agent --disable-werror)
if [[ $target == 7.2 ]]; then
	srcver=$(dpkg-query -W -f='${source:Version}' qemu-system-x86 2>/dev/null || true)
	srcver=${srcver#*:}
	src_id="qemu ${srcver:-7.2}"
	flags=("${common_flags[@]}")
	builds=(patched)
else
	src_id="qemu_10.0.2+ds.orig.tar.xz"
	flags=("${common_flags[@]}" --python=/usr/bin/python3 --disable-tcg
	       --disable-rust --disable-xen)
	builds=(stock patched)
fi
self=$root/user/qemu/build.sh
stock_key=$(hash "$self" <(echo "$src_id"))
patched_key=$(hash "$self" <(echo "$src_id") "${patches[@]}" "${lib_src[@]}")
key_of() { if [[ $1 == stock ]]; then echo "stock-$stock_key"; else echo "$patched_key"; fi; }
bin_name() { if [[ $1 == stock ]]; then echo qemu-system-x86_64-stock; else echo qemu-system-x86_64; fi; }

link_all() {
	mkdir -p "$work"
	for b in "${builds[@]}"; do
		ln -sfn "$cache/$(key_of "$b")/qemu-system-x86_64" "$work/$(bin_name "$b")"
	done
}
todo=()
for b in "${builds[@]}"; do
	[[ -x $cache/$(key_of "$b")/qemu-system-x86_64 ]] || todo+=("$b")
done
if ((${#todo[@]} == 0)); then
	link_all
	log "cached ($(for b in "${builds[@]}"; do printf '%s ' "$(key_of "$b")"; done))"
	echo "$cache/$patched_key/qemu-system-x86_64"
	exit 0
fi

# What a fresh Debian 12 lacks (scripts/install-deps installs all of them).
need=(meson ninja-build pkg-config gcc libglib2.0-dev libpixman-1-dev libfdt-dev
      libslirp-dev flex bison ccache dpkg-dev python3-venv xz-utils git)
missing=()
for p in "${need[@]}"; do
	dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' ||
		missing+=("$p")
done
if ((${#missing[@]})); then
	log "cannot build QEMU: missing Debian packages: ${missing[*]}"
	log "install them with scripts/install-deps (or apt-get install ${missing[*]})"
	exit 1
fi

start=$SECONDS
mkdir -p "$work/src"
src_hint() {
	log "apt-get source failed: a deb-src entry for $1 is needed (scripts/install-deps adds it), e.g."
	log "  /etc/apt/sources.list.d/debian-src.sources: Types: deb-src, URIs: http://deb.debian.org/debian, Suites: bookworm bookworm-updates bookworm-backports, Components: main"
	log "then apt-get update"
}
git_id=(-c user.name=shmem-zero-build -c user.email=build@localhost -c init.defaultBranch=main)

# unpack_TARGET DIR: a pristine source tree in DIR, committed to git.
unpack_7.2() {
	local dsc
	dsc=$(ls "$work"/src/qemu_7.2*.dsc 2>/dev/null | sort -V | tail -n1 || true)
	if [[ -z $dsc ]]; then
		if ls "$from"/qemu_7.2*.dsc >/dev/null 2>&1; then
			log "source from $from"
			cp "$from"/qemu_7.2*.dsc "$from"/qemu_7.2*.tar.* "$work/src/"
		else
			log "apt-get source --download-only qemu${srcver:+=$srcver}"
			(cd "$work/src" && apt-get source -q --download-only \
				"qemu${srcver:+=$srcver}") >&2 || { src_hint bookworm; exit 1; }
		fi
		dsc=$(ls "$work"/src/qemu_7.2*.dsc | sort -V | tail -n1)
	fi
	log "unpacking $(basename "$dsc") (Debian patches applied by dpkg-source)"
	dpkg-source -q -x "$dsc" "$1" >&2
	rm -rf "$1/.pc"
}
unpack_10.0() {
	local tar=$work/src/$src_id
	if [[ ! -f $tar ]]; then
		if [[ -f $from/$src_id ]]; then
			cp "$from/$src_id" "$tar"
		else
			# The .dsc of the backport may be gone from the archive (404):
			# the orig tarball is all we need.
			log "apt-get source --download-only qemu/bookworm-backports"
			(cd "$work/src" && apt-get source -q --download-only \
				qemu/bookworm-backports) >&2 || true
			[[ -f $tar ]] || { src_hint bookworm-backports; exit 1; }
		fi
	fi
	mkdir -p "$1"
	tar -xJf "$tar" -C "$1" --strip-components=1
	# The +ds tarball lacks the edk2 firmware blobs: do not unpack them.
	sed -i 's/unpack_edk2_blobs = bzip2.found()/unpack_edk2_blobs = false/' \
		"$1/meson.build"
}
# meson >= 1.5 and pycotap for QEMU 10.0, unpacked from bookworm-backports.
tools_10.0() {
	local t=$work/tools
	if [[ ! -x $t/usr/bin/meson ]]; then
		rm -rf "$t" && mkdir -p "$t/debs"
		log "apt-get download meson python3-pycotap (bookworm-backports)"
		(cd "$t/debs" && apt-get download -q meson/bookworm-backports \
			python3-pycotap/bookworm-backports) >&2 || {
			log "bookworm-backports is needed (scripts/install-deps adds it)"; exit 1; }
		for d in "$t"/debs/*.deb; do dpkg -x "$d" "$t"; done
	fi
	export PATH=$t/usr/bin:$PATH PYTHONPATH=$t/usr/lib/python3/dist-packages
}
[[ $target == 10.0 ]] && tools_10.0

# libshmemzero, static, so the binary needs nothing at run time.
stage=$work/stage
rm -rf "$stage"
make -s -C "$root/user/lib" install PREFIX="$stage" >&2
rm -f "$stage"/lib/libshmemzero.so*
export PKG_CONFIG_PATH=$stage/lib/pkgconfig
# ccache (its usual directory, or CCACHE_DIR): paths below the repository's
# parent are hashed relative, so a fresh tree (or another checkout) hits.
CCACHE_BASEDIR=$(dirname "$root")
export CCACHE_BASEDIR CCACHE_NOHASHDIR=1

for b in "${todo[@]}"; do
	tree=$work/tree-$b
	rm -rf "$tree"
	"unpack_$target" "$tree"
	(cd "$tree" && git "${git_id[@]}" init -q && git add -Af . &&
		git "${git_id[@]}" commit -qm "$src_id") >&2
	extra=()
	if [[ $b == patched ]]; then
		(cd "$tree" && git "${git_id[@]}" am -q "${patches[@]}") >&2 || {
			log "the series does not apply to $src_id"; exit 1; }
		extra=(--enable-shmemzero)
	fi
	mkdir -p "$tree/build"
	log "configure ($b)"
	(cd "$tree/build" && ../configure "${flags[@]}" "${extra[@]}") \
		>"$tree/build/configure.log" 2>&1 || {
		tail -n 30 "$tree/build/configure.log" >&2
		log "configure failed ($tree/build/configure.log)"; exit 1; }
	log "ninja qemu-system-x86_64 ($b, ccache)"
	ninja -C "$tree/build" -j "${JOBS:-$(nproc)}" qemu-system-x86_64 \
		>"$tree/build/ninja.log" 2>&1 || {
		grep -E 'error|Error' "$tree/build/ninja.log" | head -n 20 >&2
		log "build failed ($tree/build/ninja.log)"; exit 1; }
	dst=$cache/$(key_of "$b")
	mkdir -p "$dst"
	cp "$tree/build/qemu-system-x86_64" "$dst/qemu-system-x86_64.tmp"
	mv "$dst/qemu-system-x86_64.tmp" "$dst/qemu-system-x86_64"
	{ echo "source $src_id"; echo "build $b"
	  [[ $b == patched ]] && printf 'patch %s\n' "${patches[@]##*/}"
	  echo "seconds $((SECONDS - start))"; } >"$dst/info"
done
link_all
log "built ${todo[*]} in $((SECONDS - start)) s"
echo "$cache/$patched_key/qemu-system-x86_64"
