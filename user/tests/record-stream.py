#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Record a real QEMU migration stream file with Debian's qemu-system-x86_64.

A paused (-S) -nodefaults pc guest whose RAM is a 256 MiB memfd gets a
generated blob at 16 MiB through -device loader (random data pages mixed
with zero pages, so the stream has many short zero runs).  QMP "migrate" to
exec:cat > STREAM writes the stream; query-migrate is polled until it
completes.  The source memory is then read from the memfd through
/proc/PID/fd (read() of a tmpfs hole does not allocate; pmemsave would) and
written sparse to SOURCE.

Usage: record-stream.py OUTDIR   -> OUTDIR/stream, OUTDIR/source.img,
                                    OUTDIR/blob, OUTDIR/migrate.json
"""
import json
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "qemu", "tests"))
from migrate import QMP  # noqa: E402  (one copy of the QMP client)

QEMU = "/usr/bin/qemu-system-x86_64"
RAM_MIB = 256
BLOB_ADDR = 0x1000000
BLOB_PAGES = 8192          # 32 MiB
DATA_PERCENT = 25
PAGE = 4096
SEED = 0x5EED


def make_blob(path):
    rng = random.Random(SEED)
    with open(path, "wb") as f:
        for _ in range(BLOB_PAGES):
            if rng.randrange(100) < DATA_PERCENT:
                f.write(rng.randbytes(PAGE))
            else:
                f.write(bytes(PAGE))


def memfd_of(pid):
    fds = f"/proc/{pid}/fd"
    for fd in os.listdir(fds):
        try:
            if os.readlink(f"{fds}/{fd}").startswith("/memfd:memory-backend-memfd"):
                return f"{fds}/{fd}"
        except OSError:
            pass
    raise RuntimeError("memory-backend-memfd fd not found")


def dump_sparse(src, dst, size):
    chunk = 1 << 20
    zero = bytes(chunk)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        for off in range(0, size, chunk):
            buf = fin.read(chunk)
            if len(buf) != chunk:
                raise RuntimeError(f"short read at {off}")
            if buf != zero:
                fout.seek(off)
                fout.write(buf)
        fout.truncate(size)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = os.path.abspath(sys.argv[1])
    os.makedirs(out, exist_ok=True)
    blob, stream = f"{out}/blob", f"{out}/stream"
    source, sock = f"{out}/source.img", f"{out}/qmp.sock"
    for p in (stream, source, sock):
        if os.path.exists(p):
            os.unlink(p)
    make_blob(blob)
    qemu = subprocess.Popen(
        [QEMU, "-S", "-nodefaults", "-display", "none",
         "-machine", "pc,memory-backend=mem",
         "-object", f"memory-backend-memfd,id=mem,size={RAM_MIB}M,share=on",
         "-device", f"loader,file={blob},addr={BLOB_ADDR:#x},force-raw=on",
         "-qmp", f"unix:{sock},server=on,wait=off"],
        stdin=subprocess.DEVNULL)
    try:
        qmp = QMP(sock, 30)
        qmp.cmd("migrate", uri=f"exec:cat > {stream}")
        deadline = time.monotonic() + 120
        while True:
            info = qmp.cmd("query-migrate")
            if info.get("status") in ("completed", "failed", "cancelled"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("migration did not complete")
            time.sleep(0.05)
        if info["status"] != "completed":
            raise RuntimeError(f"migration {info['status']}: {info}")
        dump_sparse(memfd_of(qemu.pid), source, RAM_MIB << 20)
        with open(f"{out}/migrate.json", "w") as f:
            json.dump(info, f, indent=1)
        qmp.cmd("quit")
        qemu.wait(timeout=30)
    finally:
        if qemu.poll() is None:
            qemu.kill()
            qemu.wait()
        if os.path.exists(sock):
            os.unlink(sock)
    ram = info["ram"]
    print(f"recorded {stream}: {os.path.getsize(stream)} bytes, "
          f"{ram['normal']} data pages, {ram['duplicate']} zero pages")


if __name__ == "__main__":
    main()
