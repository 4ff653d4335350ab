#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# shmemzero(8) on the host, without the module: its errors and exit codes
# (shmemzero.8, EXIT STATUS) where no VM is needed.  TAP.  Usage:
# user/tool/tests/host.sh [TOOL] (from the repository root; as root, for
# the unprivileged case, which runs as nobody).
set -uo pipefail
tool=$(realpath "${1:-user/tool/shmemzero}")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
head -c 8192 /dev/zero >"$dir/plain"
n=0
echo "1..14"
# check NAME WANT CMD...: the command's exit status must be WANT.
check() {
	local name=$1 want=$2 got
	shift 2
	"$@" >"$dir/out" 2>&1
	got=$?
	n=$((n + 1))
	if [ "$got" = "$want" ]; then
		echo "ok $n - shmemzero: $name: exit $got"
	else
		echo "not ok $n - shmemzero: $name: exit $got, want $want"
		sed 's/^/# /' "$dir/out" | tail -n 5
	fi
}
# A memfd of SIZE bytes, as /proc/self/fd/N of the tool itself.
on_memfd() {
	local size=$1
	shift
	python3 - "$size" "$@" <<'PY'
import os, subprocess, sys
fd = os.memfd_create("hosttest", 0)
os.ftruncate(fd, int(sys.argv[1]))
args = [a.replace("MEMFD", "/proc/self/fd/%d" % fd) for a in sys.argv[2:]]
sys.exit(subprocess.run(args, pass_fds=(fd,)).returncode)
PY
}

# shmemzerod(8): its configuration's errors come first (2), then the module
daemon=$(dirname "$tool")/shmemzerod
printf 'exe = qemu-system-*\ncpu_percent = 0\n' >"$dir/bad.conf"
check "shmemzerod: a bad setting is a configuration error (2)" 2 \
	"$daemon" --config "$dir/bad.conf" --once
printf 'exe = qemu-system-*\n' >"$dir/ok.conf"
check "shmemzerod without the module refuses to start (3)" 3 \
	"$daemon" --config "$dir/ok.conf" --once

check "query of a missing file is 'no such file' (5), not 'no module'" 5 \
	"$tool" query "$dir/nonexistent"
mkfifo "$dir/fifo"
check "query of a FIFO does not wait for a writer: not tmpfs (6)" 6 \
	timeout 20 "$tool" query "$dir/fifo"
check "query of a directory: not tmpfs (6)" 6 "$tool" query "$dir"
check "query of an empty memfd succeeds" 0 on_memfd 0 "$tool" query MEMFD
check "query of a memfd succeeds without the module (fallback)" 0 \
	on_memfd 65536 "$tool" query MEMFD --json
# reclaim --dry-run only reads: a reader's fd will do
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	f=$dir/ro
	head -c 65536 /dev/zero >"$f"
	chmod 0644 "$f"
	chmod 0755 "$dir"
	check "reclaim --dry-run as a reader (nobody, 0644 root file)" 0 \
		setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$tool" reclaim --dry-run "$f"
else
	n=$((n + 1))
	echo "not ok $n - shmemzero: reclaim --dry-run as a reader # needs root and setpriv"
fi

# The fallback query's classes, as the owner and as a reader who may not
# write: mincore() says "resident" for every page to the latter, so holes
# must come from SEEK_DATA.  64 pages: 16 data, 32 holes, 8 zero, 8 data.
classes() {
	local want=$1 name=$2
	shift 2
	n=$((n + 1))
	if got=$("$@" 2>"$dir/err" | python3 -c 'import json, sys
j = json.load(sys.stdin)
print("hole %d zero %d data %d" % (j["hole"], j["zero"], j["data"]))') &&
	   [ "$got" = "$want" ]; then
		echo "ok $n - shmemzero: $name: $got"
	else
		echo "not ok $n - shmemzero: $name: ${got:-no JSON}, want $want"
		sed 's/^/# /' "$dir/err" | tail -n 3
	fi
}
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	f=$dir/layout
	python3 - "$f" <<'PY'
import os, sys
pg = os.sysconf("SC_PAGESIZE")
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.ftruncate(fd, 64 * pg)
os.pwrite(fd, b"\x5a" * (16 * pg), 0)
os.pwrite(fd, b"\0" * (8 * pg), 48 * pg)
os.pwrite(fd, b"\x5a" * (8 * pg), 56 * pg)
os.close(fd)
PY
	classes "hole 32 zero 8 data 24" "fallback query as the owner" \
		"$tool" query --json "$f"
	classes "hole 32 zero 8 data 24" "fallback query as a reader (mincore would lie)" \
		setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$tool" query --json "$f"
else
	for w in owner reader; do
		n=$((n + 1))
		echo "not ok $n - shmemzero: fallback query as $w # needs root and setpriv"
	done
fi

# --version; output errors (a full disk) fail the command; JSON of a path
# that needs escaping parses and gives the path back.
check "--version" 0 "$tool" --version
n=$((n + 1))
if "$tool" --version 2>&1 | grep -Eq '^shmemzero [0-9]+\.[0-9]+'; then
	echo "ok $n - shmemzero: --version prints 'shmemzero X.Y'"
else
	echo "not ok $n - shmemzero: --version prints 'shmemzero X.Y'"
fi
check "query to a full stdout (/dev/full) fails (1)" 1 \
	sh -c "exec \"\$0\" query \"\$1\" >/dev/full" "$tool" "$dir/plain"
odd=$dir/$'q"uote\\back\tslash\nnl'
head -c 8192 /dev/zero >"$odd"
n=$((n + 1))
if got=$("$tool" query --json "$odd" | python3 -c 'import json, sys
print(json.load(sys.stdin)["target"])') && [ "$got" = "$odd" ]; then
	echo "ok $n - shmemzero: query --json of a path with quote, backslash, tab, newline parses"
else
	echo "not ok $n - shmemzero: query --json of a path with quote, backslash, tab, newline parses"
fi
