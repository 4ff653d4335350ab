#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""sz-replay tests on a real recorded stream, as TAP: a plan "1..N" (every
check the mode means to run), then one "ok - NAME" / "not ok - NAME" line
each; a check that asserts a peer strategy's known bug ends its ok line with
"# expected: why".

  test-replay.py record DIR   record DIR/stream and DIR/source.img (host)
  test-replay.py host DIR     every strategy but lib, empty and pre-filled
                              destination; malformed and truncated streams
  test-replay.py vm DIR       lib on the module, lib-fallback, punch and
                              madvise-dontneed, in the VM

The verdicts do not come from sz-replay's report of itself.  sz-replay runs
once per strategy and destination under an LD_PRELOAD shim (compiled here)
that stops it when it closes its destination memfd: this script then preads
that memfd through /proc/PID/fd, compares the RAM block the source image
holds page by page with source.img, counts the wrong and stale pages itself,
and takes the allocation from fstat().  For lib on the module, the module's
own counters (shmemzero stat) say how many ioctls the run made.  sz-replay's
JSON gives figures only (zero-page time, its own counts, printed as "#").
"""
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPLAY = os.path.join(HERE, "..", "replay", "sz-replay")
TOOL = os.path.join(HERE, "..", "tool", "shmemzero")
RECORD = os.path.join(HERE, "record-stream.py")
PREFILL = 0xaa
PAGE = 4096
CHUNK = 256 * PAGE
# sz-replay's correct strategies; the others have a known bug on a destination
# that held data (a peer's, not ours): what they leave there, and why.
PEER_BUGS = {
    "madvise-dontneed": "MADV_DONTNEED keeps shmem's old bytes, stale pages "
                        "reproduced",
    "skip": "skip never writes zero pages, stale pages reproduced",
}
failed = 0
reported = 0


def result(good, name, why="", expected=None):
    global failed, reported
    reported += 1
    if not good:
        failed += 1
        for line in why.splitlines():
            print(f"# {line}")
    suffix = f" # expected: {expected}" if good and expected else ""
    print(f"{'ok' if good else 'not ok'} - {name}{suffix}", flush=True)


def diag(text):
    for line in text.splitlines():
        print(f"# {line}")


def replay(args):
    return subprocess.run([REPLAY] + args, capture_output=True, text=True)


# ---- the stream's RAM blocks, parsed here ------------------------------------

def ram_blocks(stream):
    """[(name, length)] of the first "ram" section (RAM_SAVE_FLAG_MEM_SIZE),
    in stream order: sz-replay lays them out one after the other in its
    destination memfd."""
    with open(stream, "rb") as f:
        head = f.read(1 << 16)
    if head[:8] != b"QEVM\0\0\0\3":
        raise ValueError("not a QEMU migration stream (version 3)")
    at = 8
    while True:
        # QEMU_VM_SECTION_START, section id, idstr "ram", instance, version
        at = head.find(b"\x03ram", at)
        if at < 0:
            raise ValueError("no ram section start")
        if at >= 5 and head[at - 5] == 0x01:
            break
        at += 4
    at += 4 + 8
    total, = struct.unpack_from(">Q", head, at)
    if not total & 0x04:
        raise ValueError("ram section without RAM_SAVE_FLAG_MEM_SIZE")
    total &= ~(PAGE - 1)
    at += 8
    blocks, seen = [], 0
    while seen < total:
        n = head[at]
        name = head[at + 1:at + 1 + n].decode()
        length, = struct.unpack_from(">Q", head, at + 1 + n)
        at += 1 + n + 8
        blocks.append((name, length))
        seen += length
    if seen != total:
        raise ValueError(f"block lengths add up to {seen}, not {total}")
    return blocks


class Source:
    """source.img: the largest RAM block as the source left it; its offset
    in sz-replay's destination; its non-zero pages."""

    def __init__(self, d):
        blocks = ram_blocks(f"{d}/stream")
        big = max(range(len(blocks)), key=lambda i: blocks[i][1])
        self.name, self.length = blocks[big]
        self.offset = sum(length for _, length in blocks[:big])
        self.dest_size = sum(length for _, length in blocks)
        size = os.path.getsize(f"{d}/source.img")
        if size != self.length:
            raise ValueError(f"source.img has {size} bytes, block "
                             f"{self.name!r} {self.length}")
        self.data = {}
        zero = bytes(PAGE)
        with open(f"{d}/source.img", "rb") as f:
            for p in range(self.length // PAGE):
                page = f.read(PAGE)
                if page != zero:
                    self.data[p] = page
        self.zero_pages = self.length // PAGE - len(self.data)


# ---- sz-replay under the shim: its destination, read here ---------------------

SHIM_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* sz-replay's destination memfd: on its close(), tell the test (fd number on
 * SZ_TEST_CAPTURE_W) and wait for its byte on SZ_TEST_CAPTURE_R. */
static int dest = -1, ctl_w = -1, ctl_r = -1;

__attribute__((constructor)) static void init(void)
{
	const char *w = getenv("SZ_TEST_CAPTURE_W"), *r = getenv("SZ_TEST_CAPTURE_R");

	if (w && r) {
		ctl_w = atoi(w);
		ctl_r = atoi(r);
	}
}

int memfd_create(const char *name, unsigned int flags)
{
	static int (*real)(const char *, unsigned int);
	int fd;

	if (!real)
		real = (int (*)(const char *, unsigned int))dlsym(RTLD_NEXT, "memfd_create");
	fd = real(name, flags);
	if (fd >= 0 && !strcmp(name, "sz-replay-dest"))
		dest = fd;
	return fd;
}

int close(int fd)
{
	static int (*real)(int);
	int saved = errno;
	char msg[32], ack;
	int len;

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "close");
	if (fd >= 0 && fd == dest && ctl_w >= 0) {
		dest = -1;
		len = snprintf(msg, sizeof(msg), "%d\n", fd);
		if (write(ctl_w, msg, len) == len && read(ctl_r, &ack, 1) == 1)
			errno = saved;
	}
	return real(fd);
}
"""


def build_shim(tmp):
    src, so = f"{tmp}/capture.c", f"{tmp}/capture.so"
    with open(src, "w") as f:
        f.write(SHIM_C)
    p = subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-Wall", "-Werror",
                        "-o", so, src], capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(f"building the capture shim: {p.stderr}")
    return so


def module_calls():
    """ioctl calls the module has counted, every mode (None: unknown)."""
    p = subprocess.run([TOOL, "stat", "--json"], capture_output=True,
                       text=True)
    if p.returncode:
        return None
    return sum(m["calls"] for m in json.loads(p.stdout)["modes"].values())


def check_dest(path, src, prefill):
    """Read sz-replay's destination: the source block's wrong pages (stale:
    all prefill bytes), the file's allocation and non-zero pages."""
    zero_chunk, zero = bytes(CHUNK), bytes(PAGE)
    stale_page = bytes([prefill]) * PAGE if prefill is not None else None
    r = {"wrong": 0, "stale": 0, "nonzero": 0, "first_wrong": None}
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        r["size"], r["alloc_kb"] = st.st_size, st.st_blocks // 2
        for off in range(0, st.st_size, CHUNK):
            buf = os.pread(fd, CHUNK, off)
            if len(buf) != min(CHUNK, st.st_size - off):
                raise RuntimeError(f"short read at {off}")
            # the source block's pages in this chunk: [lo, hi)
            lo = max(off, src.offset)
            hi = min(off + len(buf), src.offset + src.length)
            lo, hi = (lo - src.offset) // PAGE, (hi - src.offset) // PAGE
            if buf == zero_chunk[:len(buf)] and not any(
                    p in src.data for p in range(lo, hi)):
                continue	# all zero, as the source
            for i in range(len(buf) // PAGE):
                page = buf[i * PAGE:(i + 1) * PAGE]
                p = (off - src.offset) // PAGE + i
                r["nonzero"] += page != zero
                if not lo <= p < hi:
                    continue	# another block
                if page != src.data.get(p, zero):
                    r["wrong"] += 1
                    r["stale"] += page == stale_page
                    if r["first_wrong"] is None:
                        r["first_wrong"] = p
    finally:
        os.close(fd)
    return r


def run_captured(shim, d, strategy, prefill, count_calls):
    """sz-replay with one strategy and destination; what this script found
    in its destination (None if it never closed one), its exit status, its
    JSON run (figures) and its stderr."""
    cap_r, cap_w = os.pipe()
    ack_r, ack_w = os.pipe()
    env = dict(os.environ, LD_PRELOAD=shim, SZ_TEST_CAPTURE_W=str(cap_w),
               SZ_TEST_CAPTURE_R=str(ack_r))
    src = d["src"]
    calls0 = module_calls() if count_calls else None
    with tempfile.TemporaryFile("w+") as out, \
            tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(
            [REPLAY, "--json", "--strategy", strategy, "--prefill",
             "none" if prefill is None else f"{prefill:#x}", "--source",
             f"{d['dir']}/source.img", f"{d['dir']}/stream"],
            stdout=out, stderr=err, env=env, pass_fds=(cap_w, ack_r))
        os.close(cap_w)
        os.close(ack_r)
        found, problems = [], []
        with os.fdopen(cap_r, "rb", 0) as ctl, \
                os.fdopen(ack_w, "wb", 0) as ack:
            for line in iter(ctl.readline, b""):	# EOF: sz-replay exited
                try:
                    found.append(check_dest(
                        f"/proc/{p.pid}/fd/{int(line)}", src, prefill))
                    if count_calls:
                        c = module_calls()
                        found[-1]["calls"] = None if c is None or \
                            calls0 is None else c - calls0
                except (OSError, RuntimeError, ValueError) as e:
                    problems.append(f"reading the destination: {e}")
                ack.write(b"k")
        status = p.wait()
        out.seek(0)
        err.seek(0)
        runs = []
        for line in out:
            try:
                runs.append(json.loads(line))
            except ValueError:
                pass
        stderr = err.read()
    if len(found) != 1:
        problems.append(f"{len(found)} destinations closed, not 1")
    return (found[0] if len(found) == 1 and not problems else None,
            status, runs[0] if len(runs) == 1 else {}, stderr, problems)


def replay_runs(strategies):
    """sz-replay's runs, in order: (strategy, prefill); lib has 2 checks."""
    return [(s, pf) for pf in (None, PREFILL) for s in strategies]


def nr_checks(strategies):
    return sum(1 + (s == "lib") for s, _ in replay_runs(strategies))


def strategies_test(where, d, strategies, shim, why):
    for s, prefill in replay_runs(strategies):
        dest = "empty" if prefill is None else f"pre-filled {prefill:#x}"
        name = f"replay {where}: {s}, {dest} destination"
        lib_name = f"{name}: lib used the module"
        if shim is None:
            result(False, name, why)
            if s == "lib":
                result(False, lib_name, why)
            continue
        got, status, run, stderr, problems = run_captured(
            shim, d, s, prefill, s == "lib")
        detail = "\n".join(problems +
                           [f"sz-replay exit {status}", stderr.strip(),
                            f"sz-replay's run: {json.dumps(run)}"])
        # exit 3 is sz-replay's own verdict on the contents, not an error
        ran = got is not None and status in (0, 3) and "error" not in run
        if ran:
            diag(f"{name}: sz-replay's own figures: exit {status}, wrong "
                 f"{run.get('wrong_pages')}, stale {run.get('stale_pages')}, "
                 f"zero pages {run.get('zero_ms', float('nan')):.1f} ms")
            if got["first_wrong"] is not None:
                diag(f"{name}: first wrong page {got['first_wrong']} of "
                     f"block {d['src'].name!r}")
        if not ran:
            result(False, name, detail)
        elif prefill is not None and s in PEER_BUGS:
            # the peer's bug must show: pages still holding the pre-fill
            result(got["wrong"] > 0 and got["stale"] == got["wrong"],
                   f"{name}: {got['stale']} stale pages of "
                   f"{got['wrong']} wrong", detail, PEER_BUGS[s])
        else:
            # correct, and holding only what the data needs (stock: all)
            lean = s == "stock" or \
                got["alloc_kb"] < got["nonzero"] * PAGE // 1024 + 4096
            result(got["wrong"] == 0 and lean,
                   f"{name}: 0 wrong pages, {got['alloc_kb'] // 1024} MiB "
                   f"allocated for {got['nonzero']} non-zero pages",
                   f"{got['wrong']} wrong pages, {got['stale']} stale; "
                   f"{got['alloc_kb']} kB allocated\n{detail}")
        if s == "lib":
            calls = got.get("calls") if got else None
            zp = d["src"].zero_pages
            result(ran and calls is not None and 1 <= calls < zp // 100,
                   f"{lib_name}, {calls} ioctls (module counters) for "
                   f"{zp} zero pages",
                   f"module calls {calls} (shmemzero stat), want 1 to "
                   f"{zp // 100 - 1}\n{detail}")


def malformed_test(d):
    data = open(f"{d}/stream", "rb").read()
    tmp = f"{d}/malformed"
    rng = random.Random(7)
    cases = [("truncated", data[:n]) for n in
             (0, 3, 7, 20, 100, 5000, len(data) // 2, len(data) - 3)]
    for i in range(12):
        b = bytearray(data)
        at = rng.randrange(len(b)) if i % 2 else rng.randrange(0x400)
        b[at] ^= 1 + rng.randrange(255)
        cases.append((f"byte {at} flipped", bytes(b)))
    cases.append(("garbage", bytes(rng.randrange(256) for _ in range(4096))))
    bad = []
    for what, blob in cases:
        with open(tmp, "wb") as f:
            f.write(blob)
        p = replay(["--info", tmp])
        # exit 0 (a flip in page data is still a valid stream) or 1 with
        # the offset; a signal or anything else is a failure
        if p.returncode < 0 or p.returncode not in (0, 1) or \
                (p.returncode == 1 and ": offset " not in p.stderr):
            bad.append(f"{what}: exit {p.returncode}: {p.stderr.strip()}")
    os.unlink(tmp)
    result(not bad, f"replay: {len(cases)} malformed and truncated streams "
           "fail cleanly with a byte offset", "\n".join(bad))
    p = replay(["--info", "/dev/null"])
    result(p.returncode == 1, "replay: an empty file is refused", p.stderr)


MODES = {
    # mode: (strategies, malformed streams too)
    "host": (["stock", "madvise-dontneed", "punch", "madv-remove",
              "seek-data", "mincore", "lib-fallback", "skip"], True),
    # the rest run on the host; make bench runs them all in the VM
    "vm": (["lib", "lib-fallback", "punch", "madvise-dontneed"], False),
}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("record", "host", "vm"):
        sys.exit(__doc__)
    mode, d = sys.argv[1], sys.argv[2]
    if mode == "record":
        print("1..1", flush=True)
        p = subprocess.run([sys.executable, RECORD, d], capture_output=True,
                           text=True)
        ok = p.returncode == 0
        if ok:
            info = replay(["--info", f"{d}/stream"])
            ok = info.returncode == 0 and "VMDESCRIPTION present" in info.stdout
            p.stdout += info.stdout + info.stderr
        result(ok, "replay: record a stream with Debian's qemu-system-x86_64 "
               "(paused guest, -device loader blob) and parse it",
               p.stdout + p.stderr)
        sys.exit(1 if failed else 0)

    strategies, malformed = MODES[mode]
    plan = nr_checks(strategies) + (2 if malformed else 0)
    print(f"1..{plan}", flush=True)
    tmp = tempfile.mkdtemp(prefix="sz-replay-test.")
    try:
        shim, why = None, ""
        try:
            if not os.path.exists(f"{d}/stream"):
                raise RuntimeError(f"no recorded stream in {d}")
            src = Source(d)
            shim = build_shim(tmp)
        except (OSError, RuntimeError, ValueError) as e:
            why = str(e)
            diag(f"replay {mode}: {why}")
            src = None
        strategies_test(mode, {"dir": d, "src": src}, strategies, shim, why)
        if malformed:
            if src is None:
                result(False, "replay: malformed and truncated streams fail "
                       "cleanly with a byte offset", why)
                result(False, "replay: an empty file is refused", why)
            else:
                malformed_test(d)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if reported != plan:
        diag(f"test-replay.py {mode}: plan {plan} but {reported} results")
        sys.exit(1)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
