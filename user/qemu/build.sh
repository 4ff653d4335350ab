#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# user/qemu/build.sh [7.2|10.0|10.2|11.1]: QEMU with the libshmemzero series
# (user/qemu/TARGET/*.patch), x86_64-softmmu only, built with ccache against
# a static staging install of user/lib; 11.1: sid's QEMU, stock only.
#
#   7.2   Debian's qemu 7.2 (apt-get source, Debian's patches applied by
#         dpkg-source), pinned to the source version of the installed
#         qemu-system-x86, whose /usr/bin/qemu-system-x86_64 is "stock" in
#         the tests; if that version has left the archive, the newest 7.2
#         source there (with a warning).
#   10.0  Debian 13's qemu (trixie's source package, pinned below,
#         Debian's patches applied by dpkg-source), the QEMU Debian 13
#         hosts run, built in a trixie root (scripts/build-root) with
#         trixie's compiler, meson, python and libraries, twice in one
#         tree: stock, then patched; with TCG (the running-guest cases: the
#         VM has no KVM) and no edk2 blobs (the +ds source has none).
#         The binaries link trixie's libraries, which Debian 12 (the VM's
#         userland) lacks, so each is made relocatable: the libraries it
#         needs (ldd, in the root), trixie's dynamic loader included, are
#         copied to lib/ beside it, its RPATH set to $ORIGIN/lib and its
#         interpreter to that loader's path in the cache (patchelf).  It
#         then runs anywhere that path exists, with /proc/PID/exe and comm
#         its own (shmemzerod selects VMs by them); no root at run time.
#   10.2  sid's qemu 10.2.2 source package (the newest source sid's
#         archive serves here, see 11.1), built as 10.0 is but in a sid
#         root (gcc 16): the series ported past upstream's moves since
#         10.0 (system/ headers, physical_memory_*,
#         migrate_ram_is_ignored, the multifd receive path's COLO and
#         postcopy cases, the last stage's dirty bitmap).
#   11.1  sid's qemu-system-x86 as Debian built it (stock only: the
#         peer of 10.0's cross-version cases, a host upgraded to sid),
#         taken from a sid root (scripts/build-root) and made relocatable
#         as 10.0 is; its qtest accelerator is a module, copied to
#         modules/ beside it (migrate.py sets QEMU_MODULE_DIR).  No
#         patched 11.1: sid's Sources index lists qemu 1:11.1.x, but the
#         archive here serves none of those files (404), only sid's older
#         10.2.2 source, so the series cannot be built or tested on 11.1.
#
# Only what user/qemu/tests/migrate.py uses is built: the pc machine with
# the devices it creates under -nodefaults, the generic loader, memfd/file
# memory backends, qtest and TCG, and for 10.0/10.2 virtio-mem-pci, the q35
# machine and QEMU's migration-test (patch 5's tests); no optional feature
# (--without-default-features), no docs, tools, guest agent, plugins,
# modules or debug info.
#
# Binaries are cached in $SZ_QEMU_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/shmem-zero/qemu) under TARGET/KEY, KEY = hash
# of what goes into them (source version, series, library, this script), so
# a clean clone rebuilds nothing until the series changes; after a build the
# $SZ_QEMU_CACHE_KEEP (3) most recently used keys of each kind (stock,
# patched) are kept per target, older ones deleted.
# build/qemu/TARGET/qemu-system-x86_64 (and, but for 7.2,
# qemu-system-x86_64-stock) link to the current ones; the patched binary's
# path (11.1: the stock one's) is the last line printed.
#
# Downloaded sources are kept in $SZ_QEMU_SRC (default
# ${XDG_CACHE_HOME:-~/.cache}/shmem-zero/qemu-src), so another clone does
# not download them again.
#
# Environment: SZ_QEMU_WORK (default build/qemu/TARGET), SZ_QEMU_CACHE,
# SZ_QEMU_CACHE_KEEP, SZ_QEMU_SRC, JOBS.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${1:-7.2}
case $target in
7.2|10.0|10.2|11.1) ;;
*) echo "usage: $0 [7.2|10.0|10.2|11.1]" >&2; exit 2 ;;
esac
series_dir=$root/user/qemu/$target
work=${SZ_QEMU_WORK:-$root/build/qemu/$target}
xdg_cache=${XDG_CACHE_HOME:-$HOME/.cache}/shmem-zero
cache=${SZ_QEMU_CACHE:-$xdg_cache/qemu}/$target
keep=${SZ_QEMU_CACHE_KEEP:-3}
((keep >= 1)) || keep=1
src_dir=${SZ_QEMU_SRC:-$xdg_cache/qemu-src}
log() { echo "build.sh $target: $*" >&2; }

patches=()
[[ $target == 11.1 ]] || mapfile -t patches < <(ls "$series_dir"/*.patch)
[[ $target == 11.1 ]] || ((${#patches[@]})) || { log "no patches in $series_dir"; exit 1; }
lib_src=("$root"/user/lib/*.c "$root"/user/lib/*.h "$root"/user/lib/libshmemzero.map
	 "$root"/user/lib/Makefile "$root"/user/lib/shmemzero.pc.in
	 "$root"/kmod/include/uapi/linux/shmem_zero.h)
hash() { (cd / && sha256sum "$@" | cut -d' ' -f1) | sha256sum | cut -c1-16; }

# The devices: what "-nodefaults -machine pc" creates in Debian's 7.2 build
# (its "info qtree"), since a migration between Debian's binary and ours
# needs the same device sections: I440FX selects the PIIX3/PIIX4 chipset,
# IDE, RTC, PIT, i8042, FDC (7.2), SMBus EEPROMs, fw_cfg, APIC/IOAPIC,
# kvmvapic; HPET, VMPORT and VMMOUSE are only "implied" by the pc machine,
# which --without-default-devices ignores.  GENERIC_LOADER (-device loader)
# is "default y", also ignored.  10.0 uses the same list, FDC_ISA included
# (10.0's pc only implies it): a pc-i440fx-7.2 destination must have the
# floppy controller a 7.2 source sends a section for (the cross-version
# cases).
devices_mak='# user/qemu/build.sh: the devices user/qemu/tests/migrate.py uses
CONFIG_I440FX=y
CONFIG_FDC_ISA=y
CONFIG_HPET=y
CONFIG_VMPORT=y
CONFIG_VMMOUSE=y
CONFIG_GENERIC_LOADER=y'
devices=shmemzero-tests
# 10.0 and 10.2 also have virtio-mem-pci (migrate.py's virtio-mem case)
# and the q35 machine QEMU's migration-test boots (its x86 guest is an AHCI
# disk).
devices_mak_10_0='CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_MEM=y
CONFIG_Q35=y'
# 10.2: x86's ACPI code links CXL's since 10.1, whose host bridge is not
# selected without default devices, and its root port's parent type is
# PCIe's (without it QEMU dies at start: "Type 'cxl-rp' is missing its
# parent 'pcie-root-port-base'"); Debian's build has all four.
devices_mak_10_2='CONFIG_PXB=y
CONFIG_CXL=y
CONFIG_CXL_MEM_DEVICE=y
CONFIG_PCIE_PORT=y'

common_flags=(--cc=/usr/lib/ccache/gcc --cxx=/usr/lib/ccache/g++
	--target-list=x86_64-softmmu
	--without-default-features --without-default-devices
	"--with-devices-x86_64=$devices"
	--disable-docs --disable-tools --disable-guest-agent --disable-plugins
	--disable-modules --disable-debug-info --disable-install-blobs
	--disable-werror)
src_id_of() { echo "qemu $1"; }
# in_root: where 10.0, 10.2 and 11.1 run configure, ninja, the library's
# build and the bundling: their suite's root (a clean environment: what
# they need is passed with env), which sees the checkout only.
case $target in
10.0) suite=trixie ;;
10.2|11.1) suite=sid ;;
*) suite= ;;
esac
in_root=()
if [[ -n $suite ]]; then
	[[ $work/ == "$root"/* ]] || {
		log "SZ_QEMU_WORK must be inside the checkout, which the $suite root sees"; exit 1; }
	in_root=("$root/scripts/build-root" "$suite" --)
fi
if [[ $target == 7.2 ]]; then
	# The stock side of the 7.2 tests; its source version, with the
	# epoch (apt-get source qemu=7.2+dfsg-... finds nothing).
	if ! dpkg-query -W -f='${db:Status-Abbrev}' qemu-system-x86 2>/dev/null |
		grep -q '^ii'; then
		log "qemu-system-x86 is not installed: its qemu-system-x86_64 is the stock side of the 7.2 tests and its source version is the one built here"
		log "install it with scripts/install-deps (or apt-get install qemu-system-x86)"
		exit 1
	fi
	want=$(dpkg-query -W -f='${source:Version}' qemu-system-x86)
	srcver=$want
	flags=("${common_flags[@]}")
	builds=(patched)
elif [[ $target == 11.1 ]]; then
	srcver=$("${in_root[@]}" dpkg-query -W -f='${Version}' qemu-system-x86) || {
		log "no qemu-system-x86 in the sid root"; exit 1; }
	src_id_of() { echo "qemu-system-x86 $1 sid (Debian's binary)"; }
	builds=(stock)
else
	# The suite's source when the series was ported (10.0: Debian 13's
	# newest, trixie's main suite; 10.2: sid's); a newer one means
	# porting and testing the series again, so it is pinned, with its
	# .dsc's hash (which holds the other files' hashes).
	if [[ $target == 10.0 ]]; then
		srcver=1:10.0.13+ds-0+deb13u1
		dsc_sha256=a426c892e5369058c3423816c8625bc8010bb5a58ece57261f62b64ee4d765ad
	else
		srcver=1:10.2.2+ds-1
		dsc_sha256=f1684b3aa5ec500c3389d346c6501dee45041ea91656c6556d4da9023b7987dd
	fi
	dsc=$src_dir/qemu_${srcver#*:}.dsc
	src_id_of() { echo "qemu $srcver $suite $dsc_sha256"; }
	# TCG for the running guests of the tests (the VM has no KVM); KVM
	# as on a host.
	flags=("${common_flags[@]}" --python=/usr/bin/python3 --enable-tcg
	       --enable-kvm --disable-rust --disable-xen)
	builds=(stock patched)
fi
self=$root/user/qemu/build.sh
set_keys() {
	src_id=$(src_id_of "$srcver")
	stock_key=$(hash "$self" <(echo "$src_id"))
	patched_key=$(hash "$self" <(echo "$src_id") "${patches[@]}" "${lib_src[@]}")
}
key_of() { if [[ $1 == stock ]]; then echo "stock-$stock_key"; else echo "$patched_key"; fi; }
bin_name() { if [[ $1 == stock ]]; then echo qemu-system-x86_64-stock; else echo qemu-system-x86_64; fi; }
# What else a build leaves in its cache directory: 10.0's and 10.2's
# patched build, QEMU's migration-test with the series' tests
# (tests/qtest/migration/), build/qemu/TARGET/migration-test.
extras_of() { [[ $target == 10.[02] && $1 == patched ]] && echo tests/qtest/migration-test || true; }

link_all() {
	mkdir -p "$work"
	for b in "${builds[@]}"; do
		ln -sfn "$cache/$(key_of "$b")/qemu-system-x86_64" "$work/$(bin_name "$b")"
		for x in $(extras_of "$b"); do
			ln -sfn "$cache/$(key_of "$b")/${x##*/}" "$work/${x##*/}"
		done
		touch "$cache/$(key_of "$b")"	# most recently used, for prune
	done
}
# cached_or_todo: link and exit if every binary is cached, else set todo.
cached_or_todo() {
	todo=()
	for b in "${builds[@]}"; do
		for x in qemu-system-x86_64 $(extras_of "$b"); do
			[[ -x $cache/$(key_of "$b")/${x##*/} ]] || { todo+=("$b"); break; }
		done
	done
	((${#todo[@]})) && return
	link_all
	log "cached ($(for b in "${builds[@]}"; do printf '%s ' "$(key_of "$b")"; done)for $src_id)"
	echo "$cache/$(key_of "${builds[-1]}")/qemu-system-x86_64"
	exit 0
}
set_keys
cached_or_todo

# bundle DIR DST BIN...: in the root, each BIN of DIR gets the libraries it
# loads (ldd) in DIR/lib, its RPATH $ORIGIN/lib and as interpreter the
# loader's copy at DST/lib (its path once copied to the cache).  RPATH, not
# RUNPATH: a RUNPATH serves only the binary's own DT_NEEDED, and glib's
# libpcre2 would come from the machine's /lib instead.
bundle='set -e
dir=$1 dst=$2
shift 2
cd "$dir"
for x; do
	ldd "$x" | awk '\''$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }'\'' |
	while read -r l; do cp -L "$l" lib/; done
	interp=$(patchelf --print-interpreter "$x")
	patchelf --set-interpreter "$dst/lib/${interp##*/}" --force-rpath \
		--set-rpath "\$ORIGIN/lib" "$x"
done
echo "$(ls lib | wc -l) libraries: $(ls lib | tr "\n" " ")"'
# prune: keep the $keep most recently used keys of each kind (stock-KEY,
# KEY) of this target; link_all just touched the current ones.
prune_cache() {
	local kind k
	for kind in 'stock-[0-9a-f]{16}' '[0-9a-f]{16}'; do
		find "$cache" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended \
			-regex ".*/$kind" -printf '%T@ %f\n' |
			sort -rn | tail -n +$((keep + 1)) |
			while read -r _ k; do
				log "pruning the cached $k"
				rm -rf "${cache:?}/$k"
			done
	done
}

# publish FROM DST FILE...: into the cache directory DST, the lib/ and
# modules/ that FROM has, then each FILE of FROM, the last one (the binary,
# which cached_or_todo looks for) last, each moved into place whole.
publish() {
	local from=$1 dst=$2 d f
	shift 2
	mkdir -p "$dst"
	for d in lib modules; do
		[[ -d $from/$d ]] || continue
		rm -rf "${dst:?}/$d"
		cp -a "$from/$d" "$dst/$d"
	done
	for f; do
		cp "$from/$f" "$dst/$f.tmp"
		mv "$dst/$f.tmp" "$dst/$f"
	done
}

# 11.1: sid's own binary (and its qtest accelerator module), bundled in the
# sid root like 10.0's builds.
if [[ $target == 11.1 ]]; then
	start=$SECONDS
	dst=$cache/$(key_of stock)
	from=$work/bundle-stock
	rm -rf "$from"
	mkdir -p "$from/lib" "$from/modules"
	{ "${in_root[@]}" sh -c 'cp /usr/bin/qemu-system-x86_64 "$1/" &&
		cp /usr/lib/x86_64-linux-gnu/qemu/accel-qtest.so "$1/modules/"' copy "$from" &&
	  "${in_root[@]}" sh -c "$bundle" bundle "$from" "$dst" qemu-system-x86_64; } \
		>"$work/bundle-stock.log" 2>&1 || {
		cat "$work/bundle-stock.log" >&2
		log "bundling sid's qemu-system-x86_64 failed"; exit 1; }
	publish "$from" "$dst" qemu-system-x86_64
	{ echo "source $src_id"; echo "build stock (Debian's binary)"
	  echo "seconds $((SECONDS - start))"; } >"$dst/info"
	link_all
	prune_cache
	log "bundled stock in $((SECONDS - start)) s"
	echo "$dst/qemu-system-x86_64"
	exit 0
fi

# What a fresh Debian 12 lacks (scripts/install-deps installs all of them).
# 10.0 and 10.2 build in a trixie or sid root, which has its own
# (scripts/build-root).
need=(dpkg-dev xz-utils git)
[[ $target == 10.[02] ]] ||
	need+=(meson ninja-build pkg-config gcc libglib2.0-dev libpixman-1-dev
	       libfdt-dev flex bison ccache python3-venv)
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

src_hint() {
	log "apt-get source failed: apt needs a deb-src entry for $1:"
	log "scripts/install-deps adds one made from this machine's Debian archive entry"
	log "(scripts/apt-sources), then runs apt-get update"
}
# fetch_src SPEC [FILE...]: apt-get source --download-only SPEC in a scratch
# directory of $src_dir, then move what arrived into $src_dir, so a download
# cut short leaves nothing behind.  Without FILEs, apt-get must succeed and
# everything is kept; with FILEs, only those are kept and must have arrived
# (apt-get checks each file against the archive's index as it arrives).
fetch_src() {
	local spec=$1 tmp f rc=0
	shift
	mkdir -p "$src_dir"
	tmp=$(mktemp -d "$src_dir/.download.XXXXXX")
	log "apt-get source --download-only $spec (into $src_dir)"
	(cd "$tmp" && apt-get source -q --download-only "$spec") >&2 || rc=$?
	if (($#)); then
		for f in "$@"; do
			[[ -f $tmp/$f ]] && mv -f "$tmp/$f" "$src_dir/$f"
		done
	elif ((rc == 0)); then
		mv -f "$tmp"/* "$src_dir/"
	fi
	rm -rf "$tmp"
	(($#)) || return $rc
	for f in "$@"; do [[ -f $src_dir/$f ]] || return 1; done
}
# resolve_7.2: the source .dsc in $src_dir, downloaded if needed: the
# installed qemu-system-x86's version if $src_dir or the archive has it,
# else the newest 7.2 source of the archive; sets srcver and dsc.
resolve_7.2() {
	local v
	local -a archive
	mapfile -t archive < <(apt-cache madison qemu 2>/dev/null |
		awk -F'|' '$3 ~ /Sources[ ]*$/ { gsub(/ /, "", $2); print $2 }' |
		grep '^1:7\.2+' | sort -Vr || true)
	for v in "$want" "${archive[@]}"; do
		dsc=$src_dir/qemu_${v#*:}.dsc
		if [[ ! -f $dsc ]]; then
			if ! printf '%s\n' "${archive[@]}" | grep -qxF "$v"; then
				log "qemu $v: not in the archive (apt-cache madison qemu: ${archive[*]:-no 7.2 source})"
				continue
			fi
			fetch_src "qemu=$v" || continue
		fi
		srcver=$v
		if [[ $v != "$want" ]]; then
			log "WARNING: the source of the installed qemu-system-x86 ($want) has left the archive;"
			log "WARNING: building the newest 7.2 source there, $v, instead, so the patched binary"
			log "WARNING: also differs from the stock one by Debian's changes between the two"
		fi
		return 0
	done
	src_hint bookworm
	exit 1
}
# resolve_10.0: the suite's source package, downloaded by scripts/build-root
# (the suite's Sources indices) into a scratch directory of $src_dir.
resolve_10.0() {
	local tmp
	if [[ ! -f $dsc ]]; then
		mkdir -p "$src_dir"
		tmp=$(mktemp -d "$src_dir/.download.XXXXXX")
		log "scripts/build-root $suite --source qemu=$srcver (into $src_dir)"
		if (cd "$tmp" && "$root/scripts/build-root" "$suite" --source "qemu=$srcver") >&2; then
			mv -f "$tmp"/* "$src_dir/"
		fi
		rm -rf "$tmp"
		[[ -f $dsc ]] || { log "qemu $srcver: not downloaded from $suite (has it left the archive?)"; exit 1; }
	fi
	echo "$dsc_sha256  $dsc" | sha256sum -c --quiet >&2 || {
		log "$dsc: not the expected .dsc (sha256 $dsc_sha256); delete it to download it again"
		exit 1; }
}
resolve_10.2() { resolve_10.0; }
"resolve_$target"
set_keys	# the source actually used (7.2: maybe a fallback)
cached_or_todo

# unpack_TARGET DIR: a pristine source tree in DIR.
# (Debian's skip-unpack-edk2-blobs.patch keeps 10.0's meson from unpacking
# the edk2 blobs the +ds source lacks.)
unpack_7.2() {
	log "unpacking $(basename "$dsc") (Debian patches applied by dpkg-source)"
	dpkg-source -q -x --no-copy "$dsc" "$1" >&2
	rm -rf "$1/.pc"
}
unpack_10.0() { unpack_7.2 "$@"; }
unpack_10.2() { unpack_7.2 "$@"; }
start=$SECONDS

# libshmemzero, static, so the binary needs nothing at run time.
stage=$work/stage
rm -rf "$stage"
"${in_root[@]}" make -s -C "$root/user/lib" install PREFIX="$stage" >&2
rm -f "$stage"/lib/libshmemzero.so*
# ccache (its usual directory, or CCACHE_DIR; for 10.0 and 10.2 the root's own):
# paths below the repository's parent are hashed relative, so a fresh tree
# (or another checkout) hits.
build_env=(env "PKG_CONFIG_PATH=$stage/lib/pkgconfig" "CCACHE_BASEDIR=$(dirname "$root")"
	   CCACHE_NOHASHDIR=1)
git_id=(-c "user.name=shmem-zero build" -c user.email=shmem-zero@invalid
	-c init.defaultBranch=main)

# One tree for both builds of 10.0 (10.2).  The patched build reuses the stock
# build's objects, which is sound because ninja, not this script, decides
# what to rebuild, and its decisions only depend on things it tracks:
# configure is run again from scratch in the same build directory (it
# deletes meson-private and reruns meson setup), so build.ninja is exactly
# the one a fresh tree gives with the series applied; meson rewrites a
# generated file (config-host.h, ...) only when its contents change; git am
# gives every file the series touches a new mtime, newer than every object
# of the stock build, and ninja knows each object's headers from the
# compiler's depfiles; and an object whose command line changed (e.g. the
# libshmemzero include directory added to a target) is rebuilt because
# ninja keeps the hash of each command in .ninja_log.  The series adds no
# CONFIG_ symbol (patch 1), so only what it touches is compiled again.
tree=$work/tree
rm -rf "$tree"
"unpack_$target" "$tree"
(cd "$tree" && git "${git_id[@]}" init -q && git add -Af . &&
	git "${git_id[@]}" commit -qm "$src_id") >&2
# The device list (configure --with-devices-x86_64=NAME reads
# configs/devices/x86_64-softmmu/NAME.mak; untracked, git am ignores it).
printf '%s\n' "$devices_mak" >"$tree/configs/devices/x86_64-softmmu/$devices.mak"
if [[ $target == 10.[02] ]]; then
	printf '%s\n' "$devices_mak_10_0" >>"$tree/configs/devices/x86_64-softmmu/$devices.mak"
fi
if [[ $target == 10.2 ]]; then
	printf '%s\n' "$devices_mak_10_2" >>"$tree/configs/devices/x86_64-softmmu/$devices.mak"
fi
mkdir -p "$tree/build"
for b in "${todo[@]}"; do
	extra=()
	if [[ $b == patched ]]; then
		(cd "$tree" && git "${git_id[@]}" am -q "${patches[@]}") >&2 || {
			log "the series does not apply to $src_id"; exit 1; }
		extra=(--enable-shmemzero)
	fi
	log "configure ($b)"
	(cd "$tree/build" && "${in_root[@]}" "${build_env[@]}" ../configure "${flags[@]}" "${extra[@]}") \
		>"$tree/build/configure-$b.log" 2>&1 || {
		tail -n 30 "$tree/build/configure-$b.log" >&2
		log "configure failed ($tree/build/configure-$b.log)"; exit 1; }
	log "ninja qemu-system-x86_64 $(extras_of "$b") ($b, ccache)"
	"${in_root[@]}" "${build_env[@]}" ninja -C "$tree/build" -j "${JOBS:-$(nproc)}" qemu-system-x86_64 \
		$(extras_of "$b") \
		>"$tree/build/ninja-$b.log" 2>&1 || {
		grep -E 'error|Error' "$tree/build/ninja-$b.log" | head -n 20 >&2
		log "build failed ($tree/build/ninja-$b.log)"; exit 1; }
	dst=$cache/$(key_of "$b")
	from=$tree/build
	if [[ $target == 10.[02] ]]; then
		from=$tree/bundle-$b
		rm -rf "$from"
		mkdir -p "$from/lib"
		for x in qemu-system-x86_64 $(extras_of "$b"); do
			cp "$tree/build/$x" "$from/${x##*/}"
		done
		"${in_root[@]}" sh -c "$bundle" bundle "$from" "$dst" \
			qemu-system-x86_64 $(extras_of "$b" | sed 's|.*/||') \
			>"$tree/build/bundle-$b.log" 2>&1 || {
			cat "$tree/build/bundle-$b.log" >&2
			log "making the binaries relocatable failed"; exit 1; }
	fi
	publish "$from" "$dst" $(extras_of "$b" | sed 's|.*/||') qemu-system-x86_64
	{ echo "source $src_id"; echo "build $b"
	  [[ $b == patched ]] && printf 'patch %s\n' "${patches[@]##*/}"
	  echo "configure ${flags[*]} ${extra[*]}"
	  echo "seconds $((SECONDS - start))"; } >"$dst/info"
	log "$b built ($((SECONDS - start)) s so far)"
done
link_all

prune_cache
log "built ${todo[*]} in $((SECONDS - start)) s"
echo "$cache/$(key_of "${builds[-1]}")/qemu-system-x86_64"
