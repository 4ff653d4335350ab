#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# user/qemu/build.sh: Debian's QEMU 7.2 with the libshmemzero series
# (user/qemu/7.2/*.patch), x86_64-softmmu only, built with ccache against a
# static staging install of user/lib.  The binary is cached under
# build/qemu/7.2/cache/KEY/, KEY = hash of the series, the library sources
# and this script, so a second run is instant; build/qemu/7.2/qemu-system-x86_64
# links to the current one, and its path is the last line printed.
# "Stock" for the tests is Debian's own /usr/bin/qemu-system-x86_64 (the
# same source package, version pinned to it).
#
# Environment: SZ_QEMU_WORK (default build/qemu/7.2), SZ_QEMU_SRC (a directory
# already holding qemu_7.2*.dsc and its tarballs; default: /work/qemu-src if
# it has them, else apt-get source --download-only), JOBS.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
series_dir=$root/user/qemu/7.2
work=${SZ_QEMU_WORK:-$root/build/qemu/7.2}
log() { echo "build.sh: $*" >&2; }

mapfile -t patches < <(ls "$series_dir"/*.patch)
((${#patches[@]})) || { log "no patches in $series_dir"; exit 1; }
lib_src=("$root"/user/lib/*.c "$root"/user/lib/*.h "$root"/user/lib/libshmemzero.map
	 "$root"/user/lib/Makefile "$root"/user/lib/shmemzero.pc.in
	 "$root"/kmod/include/uapi/linux/shmem_zero.h "$root"/user/qemu/build.sh)
key=$( (cd / && sha256sum "${patches[@]}" "${lib_src[@]}" | cut -d' ' -f1) |
	sha256sum | cut -c1-16)
cached=$work/cache/$key/qemu-system-x86_64
if [[ -x $cached ]]; then
	ln -sfn "cache/$key/qemu-system-x86_64" "$work/qemu-system-x86_64"
	log "cached ($key)"
	echo "$cached"
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
# The source package of the installed qemu-system-x86 (our "stock").
srcver=$(dpkg-query -W -f='${source:Version}' qemu-system-x86 2>/dev/null || true)
srcver=${srcver#*:}
dsc=$(ls "$work"/src/qemu_7.2*.dsc 2>/dev/null | sort -V | tail -n1 || true)
if [[ -z $dsc ]]; then
	from=${SZ_QEMU_SRC:-/work/qemu-src}
	if ls "$from"/qemu_7.2*.dsc >/dev/null 2>&1; then
		log "source from $from"
		cp "$from"/qemu_7.2*.dsc "$from"/qemu_7.2*.tar.* "$work/src/"
	else
		log "apt-get source --download-only qemu${srcver:+=$srcver}"
		(cd "$work/src" && apt-get source -q --download-only "qemu${srcver:+=$srcver}") >&2 || {
			log "apt-get source failed: a deb-src entry for bookworm is needed, e.g."
			log "  /etc/apt/sources.list.d/debian-src.sources: Types: deb-src, URIs: http://deb.debian.org/debian, Suites: bookworm bookworm-updates, Components: main"
			log "then apt-get update"
			exit 1
		}
	fi
	dsc=$(ls "$work"/src/qemu_7.2*.dsc | sort -V | tail -n1)
fi

# Fresh tree: Debian's patches (dpkg-source), then the series (git am).
tree=$work/tree
rm -rf "$tree"
log "unpacking $(basename "$dsc") (Debian patches applied by dpkg-source)"
dpkg-source -q -x "$dsc" "$tree" >&2
rm -rf "$tree/.pc"
git_id=(-c user.name=shmem-zero-build -c user.email=build@localhost -c init.defaultBranch=main)
(cd "$tree" && git "${git_id[@]}" init -q && git add -Af . &&
	git "${git_id[@]}" commit -qm "$(basename "$dsc" .dsc)" &&
	git "${git_id[@]}" am -q "${patches[@]}") >&2 || {
	log "the series does not apply to $(basename "$dsc")"; exit 1; }

# libshmemzero, static, so the binary needs nothing at run time.
stage=$work/stage
rm -rf "$stage"
make -s -C "$root/user/lib" install PREFIX="$stage" >&2
rm -f "$stage"/lib/libshmemzero.so*

# ccache (its usual directory, or CCACHE_DIR): paths below the repository's
# parent are hashed relative, so a fresh tree (or another checkout) hits.
export CCACHE_BASEDIR=$(dirname "$root") CCACHE_NOHASHDIR=1
export PKG_CONFIG_PATH=$stage/lib/pkgconfig
mkdir -p "$tree/build"
cd "$tree/build"
log "configure"
../configure --cc=/usr/lib/ccache/gcc --cxx=/usr/lib/ccache/g++ \
	--target-list=x86_64-softmmu --disable-install-blobs --disable-docs \
	--disable-gtk --disable-sdl --disable-vnc --disable-opengl --disable-spice \
	--disable-tools --disable-guest-agent --disable-werror \
	--enable-shmemzero >configure.log 2>&1 || {
	tail -n 30 configure.log >&2; log "configure failed ($tree/build/configure.log)"; exit 1; }
log "ninja qemu-system-x86_64 (ccache)"
ninja -j "${JOBS:-$(nproc)}" qemu-system-x86_64 >ninja.log 2>&1 || {
	grep -E 'error|Error' ninja.log | head -n 20 >&2
	log "build failed ($tree/build/ninja.log)"; exit 1; }
mkdir -p "$work/cache/$key"
cp qemu-system-x86_64 "$cached.tmp"
mv "$cached.tmp" "$cached"
{ echo "dsc $(basename "$dsc")"; printf 'patch %s\n' "${patches[@]##*/}"
  echo "seconds $((SECONDS - start))"; ccache -s 2>/dev/null | grep -i hit || true; } \
	>"$work/cache/$key/info"
ln -sfn "cache/$key/qemu-system-x86_64" "$work/qemu-system-x86_64"
log "built in $((SECONDS - start)) s ($key)"
echo "$cached"
