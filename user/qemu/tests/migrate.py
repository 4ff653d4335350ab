#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Real QEMU 7.2 migrations of a paused 1 GiB memfd guest (runs in the VM).

Each case starts a destination (-incoming defer) and a source whose memfd
holds 8 MiB of data written by -device loader, migrates over a unix socket
with QMP, measures RssShmem of both processes (and the destination file's
allocation) before and after, then compares the two backing files with
read() through /proc/PID/fd (a read of a tmpfs hole does not allocate).
Prints "ok - qemu7.2: ..." / "not ok - ..." lines and a table; --json FILE
writes the figures.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import time

GUEST = 1 << 30
DATA = 8 << 20
PAGE = 4096
DATA_ADDR = 0x10000000
RUN = "/run/szq"
results = []


class QMP:
    def __init__(self, path, timeout=30):
        end = time.time() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.time() > end:
                    raise
                time.sleep(0.1)
        self.f = self.s.makefile("rw")
        json.loads(self.f.readline())          # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "event" in r:
                continue
            if "error" in r:
                raise RuntimeError("%s: %s" % (name, r["error"]))
            return r["return"]


def rss_shmem(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssShmem:"):
                return int(line.split()[1])
    return -1


def ram_fd(pid, hint):
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if hint in t:
            return "/proc/%d/fd/%s" % (pid, fd)
    raise RuntimeError("no %s fd in %d" % (hint, pid))


def compare(a, b, stale_byte=None):
    """(equal, wrong pages, stale pages) with read() only."""
    if subprocess.run(["cmp", "-s", a, b]).returncode == 0:
        return True, 0, 0
    wrong = stale = 0
    stale_page = bytes([stale_byte]) * PAGE if stale_byte is not None else None
    with open(a, "rb", buffering=0) as fa, open(b, "rb", buffering=0) as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if not x and not y:
                break
            if x == y:
                continue
            for i in range(0, max(len(x), len(y)), PAGE):
                if x[i:i + PAGE] != y[i:i + PAGE]:
                    wrong += 1
                    if y[i:i + PAGE] == stale_page:
                        stale += 1
    return False, wrong, stale


def start(binary, name, extra):
    sock = "%s/%s.qmp" % (RUN, name)
    cmd = [binary, "-S", "-nodefaults", "-display", "none",
           "-L", "/usr/share/qemu", "-L", "/usr/share/seabios",
           "-machine", "pc,memory-backend=mem", "-m", "1G",
           "-qmp", "unix:%s,server=on,wait=off" % sock] + extra
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=open("%s/%s.log" % (RUN, name), "w"),
                         stderr=subprocess.STDOUT)
    return p, QMP(sock)


def stop(p, q):
    try:
        q.cmd("quit")
    except Exception:
        pass
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    "..", "..", "tool", "shmemzero")


def module_ranges():
    """(DISCARD ranges, QUERY ranges) the module has done, or None."""
    if not os.path.exists("/dev/shmem_zero"):
        return None
    out = subprocess.run([TOOL, "stat", "--json"], capture_output=True, text=True)
    if out.returncode:
        return None
    m = json.loads(out.stdout)["modes"]
    return m["discard"]["ranges"], m["query"]["ranges"]


def case(name, src_bin, dst_bin, stale=False, check=None):
    kib = lambda b: b // 1024
    memfd = ["-object", "memory-backend-memfd,id=mem,size=1G,share=on"]
    if stale:
        path = "/dev/shm/dst"
        with open(path, "wb") as f:
            chunk = b"\xaa" * (8 << 20)
            for _ in range(GUEST // len(chunk)):
                f.write(chunk)
        dst_mem = ["-object",
                   "memory-backend-file,id=mem,size=1G,share=on,mem-path=" + path]
        hint = "/dev/shm/dst"
    else:
        dst_mem, hint = memfd, "memfd:"
    dp, dq = start(dst_bin, "dst", dst_mem + ["-incoming", "defer"])
    sp, sq = start(src_bin, "src", memfd + [
        "-device", "loader,file=%s/blob,addr=0x%x,force-raw=on" % (RUN, DATA_ADDR)])
    r = {"case": name, "src_bin": src_bin, "dst_bin": dst_bin, "stale": stale}
    try:
        for q in (sq, dq):
            q.cmd("migrate-set-parameters", **{"max-bandwidth": 8 << 30})
        dfile = ram_fd(dp.pid, hint)
        r["src_before_kib"] = rss_shmem(sp.pid)
        r["dst_before_kib"] = rss_shmem(dp.pid)
        r["dst_file_before_kib"] = kib(os.stat(dfile).st_blocks * 512)
        uri = "unix:%s/mig.sock" % RUN
        dq.cmd("migrate-incoming", uri=uri)
        c0 = module_ranges()
        t0 = time.time()
        sq.cmd("migrate", uri=uri)
        while True:
            st = sq.cmd("query-migrate")
            if st.get("status") in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.05)
        r["status"] = st["status"]
        r["zero_pages"] = st.get("ram", {}).get("duplicate")
        while dq.cmd("query-status")["status"] == "inmigrate":
            time.sleep(0.05)
        r["seconds"] = round(time.time() - t0, 2)
        c1 = module_ranges()
        if c0 and c1:
            r["ioctl_discard_ranges"] = c1[0] - c0[0]
            r["ioctl_query_ranges"] = c1[1] - c0[1]
        # memory first: nothing below allocates
        r["src_after_kib"] = rss_shmem(sp.pid)
        r["dst_after_kib"] = rss_shmem(dp.pid)
        r["dst_file_after_kib"] = kib(os.stat(dfile).st_blocks * 512)
        eq, wrong, nstale = compare(ram_fd(sp.pid, "memfd:"), dfile,
                                    0xAA if stale else None)
        r.update(equal=eq, wrong_pages=wrong, stale_pages=nstale)
    except Exception as e:
        r["status"] = "error: %s" % e
    finally:
        stop(sp, sq)
        stop(dp, dq)
        if stale:
            os.unlink("/dev/shm/dst")
    results.append(r)
    ok = r["status"] == "completed" and r.get("equal")
    why = []
    if not ok:
        why.append("status %s, equal %s, wrong %s, stale %s" % (
            r["status"], r.get("equal"), r.get("wrong_pages"), r.get("stale_pages")))
    if ok and check:
        why += check(r)
    r["pass"] = not why
    print("%s - qemu7.2: %s%s" % ("ok" if not why else "not ok", name,
                                  " # " + "; ".join(why) if why else ""),
          flush=True)
    return r


# Expectations, in KiB
LIMIT = 1024 * 10.24                      # 1 % of the guest
DATA_KIB = DATA // 1024


def small_dst(r):
    d = max(r["dst_after_kib"], r["dst_file_after_kib"])
    return [] if d <= DATA_KIB + LIMIT else ["destination %d kB > data + 1 %%" % d]


def small_src(r):
    g = r["src_after_kib"] - r["src_before_kib"]
    return [] if g <= LIMIT else ["source grew %d kB > 1 %%" % g]


def big_both(r):
    full = GUEST // 1024 * 0.9
    return [] if r["src_after_kib"] >= full and r["dst_after_kib"] >= full else \
        ["bug not reproduced: source %d kB, destination %d kB" % (
            r["src_after_kib"], r["dst_after_kib"])]


def dst_ioctl(r):
    """The patched destination went through the module, not the fallback."""
    return [] if r.get("ioctl_discard_ranges", 0) > 0 else \
        ["no DISCARD ranges in the module's counters"]


def src_ioctl(r):
    """The patched source asked the module for its holes."""
    return [] if r.get("ioctl_query_ranges", 0) > 0 else \
        ["no QUERY ranges in the module's counters"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stock", default="/usr/bin/qemu-system-x86_64")
    ap.add_argument("--patched", required=True)
    ap.add_argument("--json")
    a = ap.parse_args()
    os.makedirs(RUN, exist_ok=True)
    rnd = os.urandom(DATA)
    # every page non-zero (urandom may give a zero page: never in practice)
    with open(RUN + "/blob", "wb") as f:
        f.write(rnd)
    S, P = a.stock, a.patched
    mod = os.path.exists("/dev/shmem_zero")
    case("stock -> stock (reproduces the bug)", S, S, check=big_both)
    both = lambda r: small_dst(r) + small_src(r) + dst_ioctl(r) + src_ioctl(r)
    case("patched -> patched", P, P, check=both)
    case("patched -> patched, stale destination file", P, P, stale=True,
         check=both)
    case("stock -> patched", S, P, check=lambda r: small_dst(r) + dst_ioctl(r))
    case("patched -> stock", P, S, check=lambda r: small_src(r) + src_ioctl(r))
    if mod:
        subprocess.run(["rmmod", "shmem_zero"], check=True)
    case("patched -> patched, module not loaded (fallback)", P, P, stale=True,
         check=lambda r: small_dst(r) + small_src(r) +
         ([] if not os.path.exists("/dev/shmem_zero") else ["module still loaded"]))
    for r in results:
        if "ioctl_discard_ranges" in r:
            print("# %s: module DISCARD ranges %d, QUERY ranges %d" % (
                r["case"], r["ioctl_discard_ranges"], r["ioctl_query_ranges"]))
    print("# RssShmem of each QEMU and the destination file's allocation, kB")
    print("# %-48s %5s %9s %9s %9s %9s %9s %9s %6s %s" % (
        "case", "stat", "src_bef", "src_aft", "dst_bef", "dst_aft", "dfile_bef",
        "dfile_aft", "sec", "contents"))
    for r in results:
        print("# %-48s %5s %9s %9s %9s %9s %9s %9s %6s %s" % (
            r["case"][:48], "done" if r["status"] == "completed" else "FAIL",
            r.get("src_before_kib"), r.get("src_after_kib"),
            r.get("dst_before_kib"), r.get("dst_after_kib"),
            r.get("dst_file_before_kib"), r.get("dst_file_after_kib"), r.get("seconds"),
            "equal" if r.get("equal") else "DIFFER wrong=%s stale=%s" % (
                r.get("wrong_pages"), r.get("stale_pages"))))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0 if all(r.get("pass") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
