#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""sz-replay tests on a real recorded stream; one "ok - NAME" line each.

  test-replay.py record DIR   record DIR/stream and DIR/source.img (host)
  test-replay.py host DIR     every strategy but lib, empty and pre-filled
                              destination; malformed and truncated streams
  test-replay.py vm DIR       lib on the module, lib-fallback, punch and
                              madvise-dontneed, in the VM
"""
import json
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPLAY = os.path.join(HERE, "..", "replay", "sz-replay")
RECORD = os.path.join(HERE, "record-stream.py")
PREFILL = "0xaa"
failed = 0


def result(good, name, why=""):
    global failed
    if not good:
        failed += 1
        for line in why.splitlines():
            print(f"# {line}")
    print(f"{'ok' if good else 'not ok'} - {name}", flush=True)


def replay(args):
    return subprocess.run([REPLAY] + args, capture_output=True, text=True)


def strategies_test(where, d, strategies):
    p = replay(["--json", "--strategy", ",".join(strategies),
                "--prefill", "none", "--prefill", PREFILL,
                "--source", f"{d}/source.img", f"{d}/stream"])
    runs = []
    for line in p.stdout.splitlines():
        try:
            runs.append(json.loads(line))
        except ValueError:
            pass
    result(p.returncode == 0 and len(runs) == 2 * len(strategies),
           f"replay {where}: sz-replay ran {len(strategies)} strategies x "
           f"2 destinations", f"exit {p.returncode}\n{p.stderr}{p.stdout}")
    for r in runs:
        dest = "empty" if r["prefill"] == "none" else f"pre-filled {PREFILL}"
        name = f"replay {where}: {r['strategy']}, {dest} destination"
        if "error" in r:
            result(False, name, r["error"])
            continue
        detail = json.dumps(r)
        data_kib = r["data_pages"] * 4
        if r["expected_correct"] or r["prefill"] == "none":
            # correct, and holding only what the data needs (stock: all)
            lean = r["strategy"] == "stock" or r["alloc_kb"] < data_kib + 4096
            result(r["wrong_pages"] == 0 and lean,
                   f"{name}: 0 wrong pages, {r['alloc_kb'] // 1024} MiB "
                   f"allocated, zero pages {r['zero_ms']:.1f} ms", detail)
        else:
            # madvise-dontneed (and skip) must leave the stale bytes
            why = ("MADV_DONTNEED only unmaps, the shmem page cache keeps "
                   "the old bytes" if r["strategy"] == "madvise-dontneed"
                   else "zero pages are never written")
            result(r["wrong_pages"] > 0 and
                   r["stale_pages"] == r["wrong_pages"],
                   f"{name}: {r['stale_pages']} stale pages, as expected "
                   f"({why})", detail)
        if r["strategy"] == "lib":
            result(r.get("lib_path") == "ioctl" and
                   r["syscalls"] < r["zero_pages"] // 100,
                   f"{name}: lib used the module, {r['syscalls']} syscalls "
                   f"for {r['zero_pages']} zero pages", detail)


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


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("record", "host", "vm"):
        sys.exit(__doc__)
    mode, d = sys.argv[1], sys.argv[2]
    if mode == "record":
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
    elif not os.path.exists(f"{d}/stream"):
        result(False, f"replay {mode}: no recorded stream in {d}")
    elif mode == "host":
        strategies_test("host", d, ["stock", "madvise-dontneed", "punch",
                                    "madv-remove", "seek-data", "mincore",
                                    "lib-fallback", "skip"])
        malformed_test(d)
    else:
        # the rest run on the host; make bench runs them all in the VM
        strategies_test("vm", d, ["lib", "lib-fallback", "punch",
                                  "madvise-dontneed"])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
