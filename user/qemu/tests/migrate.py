#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Real migrations of a paused 1 GiB memfd guest, stock and patched QEMU (in the VM).

Each case starts a destination (-incoming defer) and a source whose memfd
holds 8 MiB of data written by -device loader, both with -accel qtest (the
qtest socket lets a case change guest memory between rounds), migrates over
a unix socket with QMP, measures RssShmem of both processes and the
destination file's allocation before and after, then compares the two
backing files with read() through /proc/PID/fd (a read of a tmpfs hole does
not allocate).  Prints TAP: the plan "1..N" first (N from the list of cases,
so a case that never reports counts as a failure), then "ok - qemuT: ..." /
"not ok - ..." per case, then a table as "#" lines; --json FILE writes the
figures.  A case that checks a peer's bug (stock QEMU ballooning the memory,
stock multifd leaving stale pages) ends its "ok" line with
" # expected: REASON".  --demo runs only stock -> stock and
patched -> patched and prints a table for a newcomer.
"""
import argparse
import fcntl
import json
import os
import socket
import struct
import subprocess
import sys
import time

GUEST = 1 << 30
DATA = 8 << 20
PAGE = 4096
DATA_ADDR = 0x10000000          # below 1 GiB: guest address == memfd offset
FRESH_ADDR = 0x20000000         # zero at the start, written between rounds
RUN = "/run/szq"
results = []
target = "?"


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
        # a QEMU whose main loop hangs fails the case instead of the run
        self.s.settimeout(60)
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


class QTest:
    """The qtest protocol on a socket QEMU connects to (-qtest unix:PATH)."""

    def __init__(self, listener):
        listener.settimeout(30)
        self.s, _ = listener.accept()
        listener.close()
        self.f = self.s.makefile("rw")

    def cmd(self, line):
        self.f.write(line + "\n")
        self.f.flush()
        while True:
            r = self.f.readline()
            if not r:
                raise RuntimeError("qtest: EOF after %r" % line)
            if r.startswith("IRQ"):
                continue
            if not r.startswith("OK"):
                raise RuntimeError("qtest: %r: %r" % (line, r))
            return r

    def fill(self, addr, pages, byte):
        self.cmd("memset 0x%x 0x%x 0x%02x" % (addr, pages * PAGE, byte))


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


def data_extents(f):
    """The allocated ranges of a file (SEEK_DATA / SEEK_HOLE; reads nothing)."""
    out, off, end = [], 0, os.fstat(f.fileno()).st_size
    while off < end:
        try:
            d = os.lseek(f.fileno(), off, os.SEEK_DATA)
        except OSError:
            break
        off = os.lseek(f.fileno(), d, os.SEEK_HOLE)
        out.append((d, off))
    return out


def compare(a, b, stale_byte=None):
    """(wrong pages, stale pages, non-zero pages of a) with read() only.

    Only ranges allocated in either file are read: holes of both are equal.
    """
    wrong = stale = nonzero = 0
    zero_mib = bytes(1 << 20)
    stale_page = bytes([stale_byte]) * PAGE if stale_byte is not None else None
    with open(a, "rb", buffering=0) as fa, open(b, "rb", buffering=0) as fb:
        ranges = sorted(data_extents(fa) + data_extents(fb))
        pos = 0
        for lo, hi in ranges:
            lo = max(lo, pos)
            while lo < hi:
                n = min(1 << 20, hi - lo)
                x, y = os.pread(fa.fileno(), n, lo), os.pread(fb.fileno(), n, lo)
                if not (x == y and x == zero_mib[:len(x)]):
                    for i in range(0, max(len(x), len(y)), PAGE):
                        px, py = x[i:i + PAGE], y[i:i + PAGE]
                        if px.strip(b"\0"):
                            nonzero += 1
                        if px != py:
                            wrong += 1
                            if py == stale_page:
                                stale += 1
                lo += n
            pos = max(pos, hi)
    return wrong, stale, nonzero


def start(binary, name, extra, qtest, machine="pc"):
    """QEMU with TCG, or with the qtest accelerator and a qtest socket.

    Debian's 7.2 build has no qtest accelerator, the 10.0 builds no TCG:
    7.2 cases use TCG unless they need qtest (patched builds have both).
    """
    sock = "%s/%s.qmp" % (RUN, name)
    qsock = "%s/%s.qtest" % (RUN, name)
    cmd = [binary, "-S", "-nodefaults", "-display", "none",
           "-L", "/usr/share/qemu", "-L", "/usr/share/seabios",
           "-machine", machine + ",memory-backend=mem", "-m", "1G",
           "-qmp", "unix:%s,server=on,wait=off" % sock] + extra
    if qtest:
        if os.path.exists(qsock):
            os.unlink(qsock)
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(qsock)
        listener.listen(1)
        cmd += ["-accel", "qtest", "-qtest", "unix:" + qsock]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=open("%s/%s.log" % (RUN, name), "w"),
                         stderr=subprocess.STDOUT)
    qt = None
    if qtest:
        try:
            qt = QTest(listener)
        except OSError:
            p.kill()
            raise RuntimeError("%s did not start: %s" % (name, open(
                "%s/%s.log" % (RUN, name)).read()[-500:]))
    return p, QMP(sock), qt


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


def mutate(qt, step):
    """Change the source's memory between rounds: data -> zero and zero -> data.

    Step k zeroes 256 pages of the loaded data and writes 256 fresh pages;
    from step 1 on it also zeroes pages the previous step wrote and writes
    data again into pages the previous step zeroed.
    """
    mib = 1 << 20
    qt.fill(DATA_ADDR + step * mib, 256, 0)
    qt.fill(FRESH_ADDR + step * mib, 256, 0x11 * (step + 1))
    if step:
        qt.fill(FRESH_ADDR + (step - 1) * mib, 64, 0)
        qt.fill(DATA_ADDR + (step - 1) * mib, 64, 0x5a + step)


def migrate(sq, dq, sqt, r, rounds):
    """Run the migration; with rounds, change memory while it iterates."""
    uri = "unix:%s/mig.sock" % RUN
    dq.cmd("migrate-incoming", uri=uri)
    if rounds:
        # Slow enough (multifd too) that the first round lasts seconds;
        # a 1 ms downtime at 4 MiB/s lets at most one dirty page switch
        # over, so each change made in a round is sent in another round;
        # the last change lands at pre-switchover, in the final round.
        sq.cmd("migrate-set-capabilities", capabilities=[
            {"capability": "pause-before-switchover", "state": True}])
        sq.cmd("migrate-set-parameters", **{"max-bandwidth": 4 << 20,
                                           "downtime-limit": 1})
    t0 = time.time()
    sq.cmd("migrate", uri=uri)
    step, syncs_at = 0, None
    while True:
        st = sq.cmd("query-migrate")
        status = st.get("status")
        syncs = st.get("ram", {}).get("dirty-sync-count", 0)
        if rounds and status == "active" and step < 3 and \
                (syncs_at is None or syncs > syncs_at):
            mutate(sqt, step)
            step, syncs_at = step + 1, syncs
        if rounds and status == "pre-switchover":
            mutate(sqt, step)
            step += 1
            sq.cmd("migrate-continue", state="pre-switchover")
        if status in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.02)
    r["status"] = status
    r["zero_pages"] = st.get("ram", {}).get("duplicate")
    r["dirty_syncs"] = st.get("ram", {}).get("dirty-sync-count")
    if rounds:
        r["changes"] = step
    while dq.cmd("query-status")["status"] == "inmigrate":
        time.sleep(0.05)
    r["seconds"] = round(time.time() - t0, 2)


def log_tail(lines=3):
    """What a failed case's QEMUs printed last, as "#" lines."""
    for name in ("src", "dst"):
        path = "%s/%s.log" % (RUN, name)
        if os.path.exists(path):
            for line in open(path, errors="replace").read().splitlines()[-lines:]:
                print("# %s: %s" % (name, line), flush=True)


STALE_PATH = "/dev/shm/dst"
MEMFD = ["-object", "memory-backend-memfd,id=mem,size=1G,share=on"]


def stale_file():
    """A destination backing file filled with 0xAA (a reused destination);
    the -object arguments for it."""
    with open(STALE_PATH, "wb") as f:
        chunk = b"\xaa" * (8 << 20)
        for _ in range(GUEST // len(chunk)):
            f.write(chunk)
    return ["-object", "memory-backend-file,id=mem,size=1G,share=on,mem-path="
            + STALE_PATH]


def source_args():
    """The source's memory: a memfd holding the blob at DATA_ADDR."""
    return MEMFD + ["-device", "loader,file=%s/blob,addr=0x%x,force-raw=on" % (
        RUN, DATA_ADDR)]


def case(name, src_bin, dst_bin, stale=False, multifd=False, rounds=False,
         check=None, expect_equal=True, peer_bug=None, params=None,
         machine="pc"):
    """One migration; peer_bug: the stock bug the case reproduces (its check
    asserts it), reported as "# expected: PEER_BUG" on the ok line; params:
    more migration parameters for both sides; machine: both sides' machine
    type (a versioned one for a migration between QEMU versions)."""
    kib = lambda b: b // 1024
    if stale:
        dst_mem, hint = stale_file(), STALE_PATH
    else:
        dst_mem, hint = MEMFD, "memfd:"
    r = {"case": name, "target": target, "src_bin": src_bin, "dst_bin": dst_bin,
         "stale": stale, "multifd": multifd, "rounds": rounds}
    if peer_bug:
        r["peer_bug"] = peer_bug
    procs = []
    try:
        qtest = rounds or target != "7.2"
        dp, dq, _ = start(dst_bin, "dst", dst_mem + ["-incoming", "defer"],
                          qtest, machine)
        procs.append((dp, dq))
        sp, sq, sqt = start(src_bin, "src", source_args(), qtest, machine)
        procs.append((sp, sq))
        for q in (sq, dq):
            q.cmd("migrate-set-parameters", **{"max-bandwidth": 8 << 30})
            if params:
                q.cmd("migrate-set-parameters", **params)
            if multifd:
                q.cmd("migrate-set-capabilities", capabilities=[
                    {"capability": "multifd", "state": True}])
                q.cmd("migrate-set-parameters", **{"multifd-channels": 2})
        dfile = ram_fd(dp.pid, hint)
        r["src_before_kib"] = rss_shmem(sp.pid)
        r["dst_before_kib"] = rss_shmem(dp.pid)
        r["dst_file_before_kib"] = kib(os.stat(dfile).st_blocks * 512)
        c0 = module_ranges()
        migrate(sq, dq, sqt, r, rounds)
        c1 = module_ranges()
        if c0 and c1:
            r["ioctl_discard_ranges"] = c1[0] - c0[0]
            r["ioctl_query_ranges"] = c1[1] - c0[1]
        # memory first: nothing below allocates
        r["src_after_kib"] = rss_shmem(sp.pid)
        r["dst_after_kib"] = rss_shmem(dp.pid)
        r["dst_file_after_kib"] = kib(os.stat(dfile).st_blocks * 512)
        wrong, nstale, nonzero = compare(ram_fd(sp.pid, "memfd:"), dfile,
                                         0xAA if stale else None)
        r.update(equal=not wrong, wrong_pages=wrong, stale_pages=nstale,
                 src_data_kib=nonzero * PAGE // 1024)
    except Exception as e:
        r["status"] = "error: %s" % e
    finally:
        for p, q in reversed(procs):
            stop(p, q)
        if stale:
            os.unlink(STALE_PATH)
    results.append(r)
    why = []
    if r["status"] != "completed" or r.get("equal") is None:
        why.append("status %s" % r["status"])
    elif r["equal"] != expect_equal:
        why.append("contents %s (wrong %s, stale %s)" % (
            "equal" if r["equal"] else "differ", r["wrong_pages"], r["stale_pages"]))
    if not why and check:
        why += check(r)
    r["pass"] = not why
    if why:
        log_tail()
        note = " # " + "; ".join(why)
    else:
        note = " # expected: " + peer_bug if peer_bug else ""
    print("%s - qemu%s: %s%s" % ("ok" if not why else "not ok", target, name,
                                 note), flush=True)
    return r


FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_IMMUTABLE_FL = 0x80086601, 0x40086602, 0x10


def set_immutable(path, on):
    """chattr +i / -i (tmpfs takes it since 6.0): punch-hole and DISCARD
    then fail with EPERM, while the mapping QEMU holds still writes."""
    fd = os.open(path, os.O_RDONLY)
    try:
        flags = struct.unpack("l", fcntl.ioctl(fd, FS_IOC_GETFLAGS,
                                               struct.pack("l", 0)))[0]
        flags = flags | FS_IMMUTABLE_FL if on else flags & ~FS_IMMUTABLE_FL
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("l", flags))
    finally:
        os.close(fd)


def case_queue_fails(name, src_bin, dst_bin):
    """A destination whose queued zero pages cannot be applied (its file made
    immutable while it migrates, multifd: the recv threads' flush fails)
    must fail the migration, with the error in its log, and keep QMP
    answering; it must not hang in the multifd sync."""
    path = STALE_PATH
    dst_mem = stale_file()
    r = {"case": name, "target": target, "src_bin": src_bin,
         "dst_bin": dst_bin, "status": "not run"}
    procs, why = [], []
    uri = "unix:%s/mig.sock" % RUN
    try:
        dp, dq, _ = start(dst_bin, "dst", dst_mem + ["-incoming", "defer"], True)
        procs.append((dp, dq))
        sp, sq, _ = start(src_bin, "src", source_args(), True)
        procs.append((sp, sq))
        for q in (sq, dq):
            q.cmd("migrate-set-capabilities", capabilities=[
                {"capability": "multifd", "state": True}])
            q.cmd("migrate-set-parameters", **{"multifd-channels": 2})
        # slow: the file is made immutable while RAM is still coming
        sq.cmd("migrate-set-parameters", **{"max-bandwidth": 4 << 20})
        dq.cmd("migrate-incoming", uri=uri, **{"exit-on-error": False})
        sq.cmd("migrate", uri=uri)
        t0 = time.time()
        while sq.cmd("query-migrate").get("ram", {}).get("transferred", 0) < (1 << 20):
            if time.time() - t0 > 60:
                raise RuntimeError("the migration did not start")
            time.sleep(0.02)
        set_immutable(path, True)
        while True:
            try:
                st = dq.cmd("query-migrate").get("status")
            except (OSError, ValueError) as e:
                raise RuntimeError("destination QMP does not answer (%s)" % e)
            if st in ("failed", "completed", "cancelled"):
                break
            if time.time() - t0 > 120:
                raise RuntimeError("destination still %s after 120 s" % st)
            time.sleep(0.1)
        r["status"] = st
        r["seconds"] = round(time.time() - t0, 2)
        dq.cmd("query-status")           # the monitor still answers
    except Exception as e:
        r["status"] = "error: %s" % e
    finally:
        for p, q in reversed(procs):
            stop(p, q)
        if os.path.exists(path):
            set_immutable(path, False)
            os.unlink(path)
    log = open("%s/dst.log" % RUN).read() if os.path.exists("%s/dst.log" % RUN) else ""
    if r["status"] != "failed":
        why.append("destination status %s" % r["status"])
    if "shmemzero:" not in log:
        why.append("no shmemzero error in the destination's log")
    r["pass"] = not why
    results.append(r)
    if why:
        log_tail()
    print("%s - qemu%s: %s%s" % ("ok" if not why else "not ok", target, name,
                                 " # " + "; ".join(why) if why else ""),
          flush=True)
    return r


# Expectations, in KiB
LIMIT = 1024 * 10.24                      # 1 % of the guest


def small_dst(r):
    d = max(r["dst_after_kib"], r["dst_file_after_kib"])
    data = r["src_data_kib"]
    return [] if d <= data + LIMIT else [
        "destination %d kB > data %d kB + 1 %%" % (d, data)]


def small_src(r):
    g = r["src_after_kib"] - r["src_before_kib"]
    # each change between rounds writes 256 fresh pages on the source
    g -= r.get("changes", 0) * 256 * PAGE // 1024
    return [] if g <= LIMIT else ["source grew %d kB > 1 %%" % g]


def big_both(r):
    full = GUEST // 1024 * 0.9
    return [] if r["src_after_kib"] >= full and r["dst_after_kib"] >= full else \
        ["bug not reproduced: source %d kB, destination %d kB" % (
            r["src_after_kib"], r["dst_after_kib"])]


def big_src(r):
    full = GUEST // 1024 * 0.9
    return [] if r["src_after_kib"] >= full else \
        ["bug not reproduced: source %d kB" % r["src_after_kib"]]


def stale_left(r):
    return [] if r["stale_pages"] > 0 else ["bug not reproduced: no stale page"]


def dst_ioctl(r):
    """The patched destination went through the module, not the fallback."""
    return [] if r.get("ioctl_discard_ranges", 0) > 0 else \
        ["no DISCARD ranges in the module's counters"]


def src_ioctl(r):
    """The patched source asked the module for its holes."""
    return [] if r.get("ioctl_query_ranges", 0) > 0 else \
        ["no QUERY ranges in the module's counters"]


def several_rounds(r):
    return [] if r.get("changes", 0) >= 2 and r.get("dirty_syncs", 0) >= 3 else \
        ["only %s changes over %s bitmap syncs" % (r.get("changes"),
                                                   r.get("dirty_syncs"))]


def both(r):
    return small_dst(r) + small_src(r) + dst_ioctl(r) + src_ioctl(r)


# The stock bugs the stock -> stock cases reproduce
BALLOON = "stock bug reproduced (both sides balloon to 1 GiB)"
BALLOON_SRC = "stock bug reproduced (the multifd source balloons to 1 GiB)"
STALE = "stock bug reproduced (multifd leaves stale pages)"


def unload():
    if os.path.exists("/dev/shmem_zero"):
        subprocess.run(["rmmod", "shmem_zero"], check=True)


def check_cases(S, P, P72=None):
    """The cases to run, in order: (function to call first or None,
    case() arguments, "fn" for another case function).  The plan line
    counts this list.  P72: the patched 7.2 binary, for 10.0's
    cross-version cases."""
    unloaded = lambda r: [] if not os.path.exists("/dev/shmem_zero") else \
        ["module still loaded"]
    c = [
        dict(name="stock -> stock (reproduces the bug)", src_bin=S, dst_bin=S,
             check=big_both, peer_bug=BALLOON),
        dict(name="patched -> patched", src_bin=P, dst_bin=P, check=both),
        dict(name="patched -> patched, stale destination file", src_bin=P,
             dst_bin=P, stale=True, check=both),
        dict(name="patched -> patched, several rounds", src_bin=P, dst_bin=P,
             stale=True, rounds=True,
             check=lambda r: both(r) + several_rounds(r)),
        dict(name="stock -> patched", src_bin=S, dst_bin=P,
             check=lambda r: small_dst(r) + dst_ioctl(r)),
        dict(name="patched -> stock", src_bin=P, dst_bin=S,
             check=lambda r: small_src(r) + src_ioctl(r)),
    ]
    if target != "7.2":
        c += [
            dict(name="stock -> stock, multifd (source grows)", src_bin=S,
                 dst_bin=S, multifd=True, check=big_src, peer_bug=BALLOON_SRC),
            dict(name="stock -> stock, multifd, stale destination (left stale)",
                 src_bin=S, dst_bin=S, multifd=True, stale=True,
                 expect_equal=False, check=stale_left, peer_bug=STALE),
        ]
    c += [
        dict(name="patched -> patched, multifd", src_bin=P, dst_bin=P,
             multifd=True, check=both),
        dict(name="patched -> patched, multifd, stale destination file",
             src_bin=P, dst_bin=P, multifd=True, stale=True, check=both),
        dict(name="patched -> patched, multifd, several rounds", src_bin=P,
             dst_bin=P, multifd=True, stale=True, rounds=True,
             check=lambda r: both(r) + several_rounds(r)),
        dict(name="stock -> patched, multifd, stale destination file",
             src_bin=S, dst_bin=P, multifd=True, stale=True,
             check=lambda r: small_dst(r) + dst_ioctl(r)),
        dict(name="patched -> stock, multifd", src_bin=P, dst_bin=S,
             multifd=True, check=lambda r: small_src(r) + src_ioctl(r)),
    ]
    if target != "7.2":
        # zero pages on the main channel, normal pages on the recv threads
        c += [
            dict(name="patched -> patched, multifd, zero-page-detection=legacy, "
                 "stale destination file", src_bin=P, dst_bin=P, multifd=True,
                 stale=True, params={"zero-page-detection": "legacy"},
                 check=both),
            dict(name="patched -> patched, multifd, zero-page-detection=legacy, "
                 "several rounds", src_bin=P, dst_bin=P, multifd=True,
                 stale=True, rounds=True,
                 params={"zero-page-detection": "legacy"},
                 check=lambda r: both(r) + several_rounds(r)),
            dict(name="patched 7.2 -> patched, multifd, pc-i440fx-7.2, stale "
                 "destination file", src_bin=P72 or "(no 7.2 build)",
                 dst_bin=P, multifd=True, stale=True, machine="pc-i440fx-7.2",
                 check=both),
            dict(name="patched -> patched, multifd, destination file made "
                 "immutable mid-migration (fails, QMP alive)", src_bin=P,
                 dst_bin=P, fn=case_queue_fails),
        ]
    # the last two without the module: unload it first
    return [(None, a) for a in c] + [
        (unload, dict(name="patched -> patched, module not loaded (fallback)",
                      src_bin=P, dst_bin=P, stale=True,
                      check=lambda r: small_dst(r) + small_src(r) + unloaded(r))),
        (None, dict(name="patched -> patched, multifd, module not loaded "
                    "(fallback)", src_bin=P, dst_bin=P, stale=True,
                    multifd=True,
                    check=lambda r: small_dst(r) + small_src(r) + unloaded(r))),
    ]


def demo_cases(S, P):
    return [(None, dict(name="stock -> stock", src_bin=S, dst_bin=S,
                        check=big_both, peer_bug=BALLOON)),
            (None, dict(name="patched -> patched", src_bin=P, dst_bin=P,
                        check=both))]


def run(cases):
    """The plan, then each case; a binary that is missing fails its cases."""
    print("1..%d" % len(cases), flush=True)
    for first, a in cases:
        missing = [b for b in (a["src_bin"], a["dst_bin"])
                   if not os.access(b, os.X_OK)]
        if missing:
            results.append({"case": a["name"], "target": target,
                            "status": "not run", "pass": False})
            print("not ok - qemu%s: %s # binary %s missing (run "
                  "user/qemu/build.sh %s)" % (target, a["name"], missing[0],
                                             target), flush=True)
            continue
        try:
            if first:
                first()
        except Exception as e:
            results.append({"case": a["name"], "target": target,
                            "status": "not run", "pass": False})
            print("not ok - qemu%s: %s # %s" % (target, a["name"], e),
                  flush=True)
            continue
        a = dict(a)
        a.pop("fn", case)(**a)


def table():
    for r in results:
        if "ioctl_discard_ranges" in r:
            print("# %s: module DISCARD ranges %d, QUERY ranges %d" % (
                r["case"], r["ioctl_discard_ranges"], r["ioctl_query_ranges"]))
    print("# QEMU %s: RssShmem of each QEMU and the destination file's "
          "allocation, kB" % target)
    print("# %-50s %4s %8s %8s %8s %8s %8s %8s %6s %s" % (
        "case", "stat", "src_bef", "src_aft", "dst_bef", "dst_aft", "dfil_bef",
        "dfil_aft", "sec", "contents"))
    for r in results:
        print("# %-50s %4s %8s %8s %8s %8s %8s %8s %6s %s" % (
            r["case"][:50], "done" if r["status"] == "completed" else "FAIL",
            r.get("src_before_kib"), r.get("src_after_kib"),
            r.get("dst_before_kib"), r.get("dst_after_kib"),
            r.get("dst_file_before_kib"), r.get("dst_file_after_kib"), r.get("seconds"),
            "equal" if r.get("equal") else "DIFFER wrong=%s stale=%s" % (
                r.get("wrong_pages"), r.get("stale_pages"))))


def demo_table():
    mib = lambda k: "%7.1f MiB" % (k / 1024) if k is not None else "?"
    print()
    print("Live migration of a paused guest with 1 GiB of memfd RAM holding 8 MiB of "
          "data (QEMU %s, in a VM)" % target)
    print("%-20s %27s %27s %8s  %s" % ("", "source RssShmem", "destination RssShmem",
                                       "time", "contents"))
    print("%-20s %13s %13s %13s %13s" % ("", "before", "after", "before", "after"))
    for r in results:
        print("%-20s %13s %13s %13s %13s %7ss  %s" % (
            r["case"].split(" (")[0], mib(r.get("src_before_kib")),
            mib(r.get("src_after_kib")), mib(r.get("dst_before_kib")),
            mib(r.get("dst_after_kib")), r.get("seconds"),
            "correct" if r.get("equal") else "WRONG (%s)" % r.get("status")))
    print()


def markdown(files):
    """The README's table, from the JSON files of earlier runs."""
    print("| QEMU | case | source before | source after | destination after "
          "| dst file before | dst file after | s | contents |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for path in files:
        for r in json.load(open(path)):
            print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["target"], r["case"], r.get("src_before_kib"),
                r.get("src_after_kib"), r.get("dst_after_kib"),
                r.get("dst_file_before_kib"), r.get("dst_file_after_kib"),
                r.get("seconds"), "equal" if r.get("equal") else
                "%s stale pages" % r.get("stale_pages")))
    return 0


def main():
    global target
    if sys.argv[1:2] == ["--markdown"]:
        return markdown(sys.argv[2:])
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default="7.2", help="the QEMU series: 7.2 or 10.0")
    ap.add_argument("--stock", default="/usr/bin/qemu-system-x86_64")
    ap.add_argument("--patched", required=True)
    ap.add_argument("--patched-7.2", dest="patched72",
                    help="10.0: the patched 7.2 binary, for cross-version cases")
    # --markdown JSON...: print the README's table from earlier runs
    ap.add_argument("--json")
    ap.add_argument("--only", metavar="TEXT",
                    help="run only the cases whose name contains TEXT")
    ap.add_argument("--demo", action="store_true",
                    help="only stock -> stock and patched -> patched, a table")
    a = ap.parse_args()
    target = a.target
    os.makedirs(RUN, exist_ok=True)
    # every page non-zero (urandom may give a zero page: never in practice)
    with open(RUN + "/blob", "wb") as f:
        f.write(os.urandom(DATA))
    if a.demo:
        run(demo_cases(a.stock, a.patched))
        demo_table()
    else:
        run([c for c in check_cases(a.stock, a.patched, a.patched72)
             if not a.only or a.only in c[1]["name"]])
        table()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0 if all(r.get("pass") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
