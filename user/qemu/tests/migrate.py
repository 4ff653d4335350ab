#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Real migrations of memfd guests, stock and patched QEMU (in the VM).

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

The "running guest" cases (case_live) migrate a guest that writes while it
migrates instead: guest/writer.S, 256 MiB, under TCG, checked page by page
against its own pattern on both sides of the migration.
"""
import argparse
import fcntl
import json
import os
import shutil
import signal
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


def cpu_s(pid):
    """utime + stime of a process so far, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


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


def start(binary, name, extra, qtest, machine="pc", mem="1G", paused=True):
    """QEMU with TCG, or with the qtest accelerator and a qtest socket.

    Debian's 7.2 build has no qtest accelerator: 7.2 cases use TCG unless
    they need qtest (the patched builds have both).  paused: -S (a running
    guest's source is started without it).
    """
    sock = "%s/%s.qmp" % (RUN, name)
    qsock = "%s/%s.qtest" % (RUN, name)
    cmd = [binary] + (["-S"] if paused else []) + [
           "-nodefaults", "-display", "none",
           "-L", "/usr/share/qemu", "-L", "/usr/share/seabios",
           "-machine", machine + ",memory-backend=mem", "-m", mem,
           "-qmp", "unix:%s,server=on,wait=off" % sock] + extra
    if qtest:
        if os.path.exists(qsock):
            os.unlink(qsock)
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(qsock)
        listener.listen(1)
        cmd += ["-accel", "qtest", "-qtest", "unix:" + qsock]
    # a bundled Debian binary (build.sh 11.1) carries its own modules
    # (the qtest accelerator): the machine's are another version's
    env = None
    mods = os.path.join(os.path.dirname(os.path.realpath(binary)), "modules")
    if os.path.isdir(mods):
        env = dict(os.environ, QEMU_MODULE_DIR=mods)
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=open("%s/%s.log" % (RUN, name), "w"),
                         stderr=subprocess.STDOUT, env=env)
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
    r["total_ms"], r["downtime_ms"] = st.get("total-time"), st.get("downtime")
    r["bytes"] = st.get("ram", {}).get("transferred")
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


def verdict(r, why, peer_bug=None):
    """The case's TAP line: "not ok" with the reasons (and what the QEMUs
    printed last) if there are any, else "ok", with " # expected: PEER_BUG"
    for a case that reproduces a stock bug."""
    r["pass"] = not why
    if why:
        log_tail()
        note = " # " + "; ".join(why)
    else:
        note = " # expected: " + peer_bug if peer_bug else ""
    print("%s - qemu%s: %s%s" % ("ok" if not why else "not ok", target,
                                 r["case"], note), flush=True)
    return r


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


def set_multifd(q, channels=2):
    """multifd on one side, with its number of channels (both sides alike)."""
    q.cmd("migrate-set-capabilities", capabilities=[
        {"capability": "multifd", "state": True}])
    q.cmd("migrate-set-parameters", **{"multifd-channels": channels})


# A running guest's migration: rounds that cannot converge while it writes
# (64 MiB/s, 1 ms downtime: a round ends it only if at most 16 pages were
# dirtied since the last sync; 0 ms would not do: with a threshold of 0 a
# round that has sent everything completes without a sync), then, after
# three bitmap syncs, a downtime it meets.
LIVE_ROUNDS = {"max-bandwidth": 64 << 20, "downtime-limit": 1}
LIVE_CONVERGE = {"max-bandwidth": 8 << 30, "downtime-limit": 60000}


def wait_migration(sq, dq, live, poll=None, timeout=None):
    """Poll a started migration until it ends, calling poll() after each
    query-migrate; live: switch from LIVE_ROUNDS to LIVE_CONVERGE after
    three bitmap syncs and, if live is callable, once live() is true.
    Returns the source's last query-migrate, once the destination has left
    "inmigrate"."""
    t0, converging = time.time(), False
    while True:
        st = sq.cmd("query-migrate")
        if poll:
            poll()
        status = st.get("status")
        if status in ("completed", "failed", "cancelled"):
            break
        if live and not converging and \
                st.get("ram", {}).get("dirty-sync-count", 0) >= 3 and \
                (not callable(live) or live()):
            sq.cmd("migrate-set-parameters", **LIVE_CONVERGE)
            converging = True
        if timeout and time.time() - t0 > timeout:
            raise RuntimeError("still %s after %d s" % (status, timeout))
        time.sleep(0.05)
    while dq.cmd("query-status")["status"] == "inmigrate":
        time.sleep(0.05)
    return st


def case(name, src_bin, dst_bin, stale=False, multifd=False, rounds=False,
         check=None, expect_equal=True, peer_bug=None, params=None,
         machine="pc", dst_mem=None, dst_extra=()):
    """One migration; peer_bug: the stock bug the case reproduces (its check
    asserts it), reported as "# expected: PEER_BUG" on the ok line; params:
    more migration parameters for both sides; machine: both sides' machine
    type (a versioned one for a migration between QEMU versions); dst_mem:
    the destination's memory-backend-memfd options instead of MEMFD's;
    dst_extra: more destination arguments."""
    kib = lambda b: b // 1024
    if stale:
        dst_mem, hint = stale_file(), STALE_PATH
    elif dst_mem:
        dst_mem, hint = ["-object", "memory-backend-memfd," + dst_mem], "memfd:"
    else:
        dst_mem, hint = MEMFD, "memfd:"
    r = {"case": name, "target": target, "src_bin": src_bin, "dst_bin": dst_bin,
         "stale": stale, "multifd": multifd, "rounds": rounds}
    if peer_bug:
        r["peer_bug"] = peer_bug
    procs = []
    try:
        qtest = rounds or target != "7.2"
        dp, dq, _ = start(dst_bin, "dst", dst_mem + list(dst_extra) +
                          ["-incoming", "defer"], qtest, machine)
        procs.append((dp, dq))
        sp, sq, sqt = start(src_bin, "src", source_args(), qtest, machine)
        procs.append((sp, sq))
        for q in (sq, dq):
            q.cmd("migrate-set-parameters", **{"max-bandwidth": 8 << 30})
            if params:
                q.cmd("migrate-set-parameters", **params)
            if multifd:
                set_multifd(q)
        dfile = ram_fd(dp.pid, hint)
        r["src_before_kib"] = rss_shmem(sp.pid)
        r["dst_before_kib"] = rss_shmem(dp.pid)
        r["dst_file_before_kib"] = kib(os.stat(dfile).st_blocks * 512)
        c0 = module_ranges()
        t0 = (cpu_s(sp.pid), cpu_s(dp.pid))
        migrate(sq, dq, sqt, r, rounds)
        t1 = (cpu_s(sp.pid), cpu_s(dp.pid))
        c1 = module_ranges()
        r["src_cpu_s"] = round(t1[0] - t0[0], 2)
        r["dst_cpu_s"] = round(t1[1] - t0[1], 2)
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
    return verdict(r, why, peer_bug)


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
    must fail the migration with shmemzero's error as the migration's
    (query-migrate's error-desc), and keep QMP answering; it must not hang
    in the multifd sync."""
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
            set_multifd(q)
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
                r["error"] = dq.cmd("query-migrate").get("error-desc", "")
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
    if r["status"] != "failed":
        why.append("destination status %s" % r["status"])
    # the migration's own error names the block and the call that failed
    elif not r.get("error", "").startswith("shmemzero: mem: "):
        why.append("the destination's error is %r, not shmemzero's"
                   % r.get("error"))
    results.append(r)
    return verdict(r, why)


class VirtioMem:
    """The guest's side of a virtio-mem-pci device, driven over qtest the
    way a guest driver would (tests/qtest/libqos does the same for its
    virtio devices): find the function on bus 0, place its modern BAR,
    negotiate features, set up queue 0 in guest RAM below 2 MiB, and send
    PLUG requests.  Only what the test needs: one request at a time,
    polled, no interrupts."""
    BAR = 0xe0000000                    # in i440fx's 32-bit PCI hole
    RING = 0x100000                     # desc, avail, used, request, response

    def __init__(self, qt):
        self.qt = qt
        self.slot = next((d for d in range(32)
                          if self.cfg(d, 0) == 0x10581af4), None)
        if self.slot is None:
            raise RuntimeError("no virtio-mem-pci function on bus 0")
        self.cfg_write(0x20, self.BAR | 0x4)      # BAR4: 64-bit memory
        self.cfg_write(0x24, 0)
        self.cfg_write(0x04, 0x6)                 # memory space, bus master
        self.caps = {}
        pos = self.cfg(self.slot, 0x34) & 0xfc
        while pos:
            head = self.cfg(self.slot, pos)
            if head & 0xff == 0x09:               # vendor: virtio_pci_cap
                kind, bar = head >> 24, self.cfg(self.slot, pos + 4) & 0xff
                if bar == 4:
                    self.caps[kind] = (self.BAR + self.cfg(self.slot, pos + 8),
                                       self.cfg(self.slot, pos + 16))
            pos = (head >> 8) & 0xfc
        self.common, self.dev = self.caps[1][0], self.caps[4][0]
        self.notify, self.mult = self.caps[2]
        self.w(1, 20, 0)                          # reset
        self.w(1, 20, 1 | 2)                      # ACKNOWLEDGE | DRIVER
        self.w(4, 0, 0)
        lo = self.r(4, 4)
        self.w(4, 0, 1)
        hi = self.r(4, 4)
        if not hi & 1:
            raise RuntimeError("no VIRTIO_F_VERSION_1")
        # ACPI_PXM and UNPLUGGED_INACCESSIBLE if offered, VERSION_1
        for sel, val in ((0, lo & 3), (1, 1)):
            self.w(4, 8, sel)
            self.w(4, 12, val)
        self.w(1, 20, 1 | 2 | 8)                  # FEATURES_OK
        if not self.r(1, 20) & 8:
            raise RuntimeError("virtio-mem refused the features")
        self.w(2, 22, 0)                          # queue 0
        self.qsize = self.r(2, 24)
        for off, addr in ((32, self.RING), (40, self.RING + 0x1000),
                          (48, self.RING + 0x2000)):
            self.w(4, off, addr)
            self.w(4, off + 4, 0)
        self.qt.cmd("memset 0x%x 0x4000 0" % self.RING)
        self.notify += self.r(2, 30) * self.mult
        self.w(2, 28, 1)                          # queue_enable
        self.w(1, 20, 1 | 2 | 8 | 4)              # DRIVER_OK
        self.used = 0

    def cfg(self, slot, off):
        self.qt.cmd("outl 0xcf8 0x%x" % (0x80000000 | slot << 11 | off))
        return int(self.qt.cmd("inl 0xcfc").split()[1], 16)

    def cfg_write(self, off, val):
        self.qt.cmd("outl 0xcf8 0x%x" % (0x80000000 | self.slot << 11 | off))
        self.qt.cmd("outl 0xcfc 0x%x" % val)

    def r(self, size, off, base=None):
        op = {1: "readb", 2: "readw", 4: "readl"}[size]
        return int(self.qt.cmd("%s 0x%x" % (op, (base or self.common) + off))
                   .split()[1], 16)

    def w(self, size, off, val):
        op = {1: "writeb", 2: "writew", 4: "writel"}[size]
        self.qt.cmd("%s 0x%x 0x%x" % (op, self.common + off, val))

    def config(self):
        """virtio_mem_config: block size, region address, plugged size
        (the device's config space takes accesses of up to 4 bytes)."""
        q = lambda off: self.r(4, off, self.dev) | \
            self.r(4, off + 4, self.dev) << 32
        return dict(block=q(0), addr=q(16), region=q(24), plugged=q(40),
                    requested=q(48))

    def plug(self, addr, blocks):
        """VIRTIO_MEM_REQ_PLUG of blocks from addr; the response type
        (0: ACK)."""
        req, resp = self.RING + 0x3000, self.RING + 0x3100
        self.qt.cmd("write 0x%x 24 0x%s" % (req, struct.pack(
            "<H6xQH6x", 0, addr, blocks).hex()))
        self.qt.cmd("memset 0x%x 16 0xff" % resp)
        slot = self.used % self.qsize
        # desc 0 -> 1: the request, then the device-writable response
        self.qt.cmd("write 0x%x 32 0x%s" % (self.RING, struct.pack(
            "<QIHHQIHH", req, 24, 1, 1, resp, 16, 2, 0).hex()))
        self.qt.cmd("writew 0x%x 0" % (self.RING + 0x1000 + 4 + 2 * slot))
        self.qt.cmd("writew 0x%x 0x%x" % (self.RING + 0x1002, self.used + 1))
        self.qt.cmd("writew 0x%x 0" % self.notify)
        end = time.time() + 30
        while self.r(2, 0, self.RING + 0x2002) != self.used + 1:
            if time.time() > end:
                raise RuntimeError("virtio-mem did not answer the plug")
            time.sleep(0.01)
        self.used += 1
        return self.r(2, 0, resp)


VMEM_SIZE, VMEM_PLUG, VMEM_DATA = 1 << 30, 256 << 20, 32 << 20


def memfd_of_size(pid, size):
    """The /proc/PID/fd path of the memfd whose size is size."""
    for fd in os.listdir("/proc/%d/fd" % pid):
        path = "/proc/%d/fd/%s" % (pid, fd)
        try:
            if "memfd:" in os.readlink(path) and os.stat(path).st_size == size:
                return path
        except OSError:
            continue
    raise RuntimeError("no memfd of %d bytes in %d" % (size, pid))


def case_virtio_mem(name, src_bin, dst_bin):
    """A virtio-mem device (a RamDiscardManager) with prealloc=on: 256 MiB
    plugged by the guest, 32 MiB of it data.  The destination preallocates
    the plugged blocks in post_load_early, before RAM arrives; a patched
    destination must not punch the zero pages that follow (the block is
    not eligible): contents equal, the plugged memory still allocated."""
    mem = ["-object", "memory-backend-memfd,id=mem,size=512M,share=on",
           "-object", "memory-backend-memfd,id=vmem0,size=1G,share=on",
           "-device", "virtio-mem-pci,id=vm0,memdev=vmem0,block-size=2M,"
           "requested-size=%d,prealloc=on" % VMEM_PLUG]
    r = {"case": name, "target": target, "src_bin": src_bin,
         "dst_bin": dst_bin, "status": "not run"}
    procs, why = [], []
    try:
        dp, dq, _ = start(dst_bin, "dst", mem + ["-incoming", "defer"], True,
                          mem="512M,maxmem=2G")
        procs.append((dp, dq))
        sp, sq, sqt = start(src_bin, "src", mem, True, mem="512M,maxmem=2G",
                            paused=False)
        procs.append((sp, sq))
        vm = VirtioMem(sqt)
        c = vm.config()
        resp = vm.plug(c["addr"], VMEM_PLUG // c["block"])
        c = vm.config()
        if resp != 0 or c["plugged"] != VMEM_PLUG:
            raise RuntimeError("plug: response %d, %d bytes plugged" % (
                resp, c["plugged"]))
        for i in range(VMEM_DATA >> 20):          # data in the plugged range
            sqt.fill(c["addr"] + (i << 20), 256, 0x31 + i)
        sfile, dfile = memfd_of_size(sp.pid, VMEM_SIZE), \
            memfd_of_size(dp.pid, VMEM_SIZE)
        for q in (sq, dq):
            q.cmd("migrate-set-parameters", **{"max-bandwidth": 8 << 30})
        c0 = module_ranges()
        migrate(sq, dq, sqt, r, False)
        c1 = module_ranges()
        if c0 and c1:
            r["ioctl_discard_ranges"] = c1[0] - c0[0]
        r["dst_vmem_kib"] = os.stat(dfile).st_blocks * 512 // 1024
        wrong, _, nonzero = compare(sfile, dfile)
        r.update(equal=not wrong, wrong_pages=wrong,
                 src_data_kib=nonzero * PAGE // 1024)
    except Exception as e:
        r["status"] = "error: %s" % e
    finally:
        for p, q in reversed(procs):
            stop(p, q)
    results.append(r)
    if r["status"] != "completed" or r.get("equal") is None:
        why.append("status %s" % r["status"])
    else:
        if not r["equal"]:
            why.append("contents differ (%d pages)" % r["wrong_pages"])
        if r["src_data_kib"] != VMEM_DATA // 1024:
            why.append("source data %d kB, not %d" % (r["src_data_kib"],
                                                       VMEM_DATA // 1024))
        if r["dst_vmem_kib"] < VMEM_PLUG // 1024:
            why.append("destination's virtio-mem memory %d kB < %d kB "
                       "plugged: preallocation punched" % (
                           r["dst_vmem_kib"], VMEM_PLUG // 1024))
    return verdict(r, why)


# QEMU's own migration-test, built by user/qemu/build.sh TARGET (10.0,
# 10.2) with the series' tests (patch 5, tests/qtest/migration/
# shmemzero-tests.c)
def migration_test():
    return os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "..", "..", "..", "build", "qemu", target,
                        "migration-test")


def qtest_binary(binary):
    """A copy of binary that finds its firmware without -L, which
    migration-test does not pass: QEMU looks in DIR/qemu-bundle/DATADIR,
    DIR its own directory (get_relocated_path()), and build.sh configures
    the default prefix, DATADIR /usr/local/share/qemu.  The firmware is
    Debian's (seabios, qemu-system-data), as for every other case."""
    d = RUN + "/qtest-qemu"
    data = d + "/qemu-bundle/usr/local/share/qemu"
    os.makedirs(data, exist_ok=True)
    for src in ("/usr/share/seabios", "/usr/share/qemu"):
        for f in os.listdir(src):
            if not os.path.lexists(os.path.join(data, f)):
                os.symlink(os.path.join(src, f), os.path.join(data, f))
    exe = d + "/qemu-system-x86_64"       # migration-test reads the arch
    shutil.copy2(binary, exe)             # from the name
    # build.sh's 10.0 binaries load their libraries from $ORIGIN/lib
    lib, link = os.path.join(os.path.dirname(binary), "lib"), d + "/lib"
    if os.path.isdir(lib) and not os.path.lexists(link):
        os.symlink(lib, link)
    return exe


QTEST_TIMEOUT = 480    # each takes 1-2 min in the VM, under a minute on the host


def case_qtest(name, src_bin, dst_bin, path):
    """One test of migration-test (--full -p PATH: the multifd ones are
    in the full set) with QTEST_QEMU_BINARY the patched QEMU: its TAP
    result (a skip fails the case), and its last lines on failure."""
    r = {"case": name, "target": target, "src_bin": src_bin,
         "dst_bin": dst_bin, "status": "not run"}
    why = []
    t0 = time.time()
    try:
        env = dict(os.environ, QTEST_QEMU_BINARY=qtest_binary(dst_bin))
        # its own process group: a hung test is killed with its QEMUs
        p = subprocess.Popen([migration_test(), "--tap", "--full", "-p", path],
                             env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
        try:
            stdout, stderr = p.communicate(timeout=QTEST_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            raise
        tap = [ln for ln in stdout.splitlines()
               if ln.startswith(("ok ", "not ok "))]
        r.update(status="completed", exit=p.returncode, tap=tap)
        if p.returncode or len(tap) != 1 or not tap[0].startswith("ok ") \
                or "# SKIP" in tap[0]:
            why.append("migration-test exit %d: %s" % (
                p.returncode, tap or "no result"))
            for ln in (stdout + stderr).splitlines()[-5:]:
                print("# migration-test: %s" % ln, flush=True)
    except subprocess.TimeoutExpired:
        r["status"] = "error: migration-test still running after %d s " \
            "(killed)" % QTEST_TIMEOUT
        why.append(r["status"])
    except OSError as e:
        r["status"] = "error: %s" % e
        why.append(r["status"])
    r["seconds"] = round(time.time() - t0, 2)
    results.append(r)
    return verdict(r, why)


# The running guest: user/qemu/tests/guest/writer.S (its comment has the
# pattern and the state page), 256 MiB of memfd RAM.
WRITER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guest",
                      "writer.bin")
LIVE_GUEST = 256 << 20
STATE, MAGIC = 1 << 20, 0x52575a53


def writer_state(path):
    """The writer's state page: dict(first, pages, step, errors, bad...)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        v = struct.unpack("<10I", os.pread(fd, 40, STATE))
    finally:
        os.close(fd)
    if v[0] != MAGIC:
        return None
    return dict(zip(("first", "pages", "step", "errors", "bad_page", "bad_gen",
                     "bad_dword0", "bad_dword1"), v[2:]))


def writer_content(p, g):
    """Page p at generation g (writer.S): None for a zero page, else the
    dwords 0, 1 and 1023."""
    c = p & 7
    if g == 0 or c in (0, 7):
        return None
    if c == 6:
        g = 1
    if c in (4, 5):
        h = ((p * 0x9e3779b1) ^ (g * 0x85ebca77)) & 0xffffffff
        if not (h >> 16) & 1:
            return None
    return (p, g, p ^ g ^ 0xa5a5a5a5)


def writer_check(path, st):
    """(bad pages, first bad page or None): every page of the writer's
    range against its generation in st (the page being written when the
    vCPU stopped is skipped).  Read with pread: holes are not allocated."""
    n, first, step = st["pages"], st["first"], st["step"]
    g, cur = step // n + 1, step % n
    zero = bytes(PAGE)
    bad, where = 0, None
    fd = os.open(path, os.O_RDONLY)
    try:
        chunk = 256
        for i0 in range(0, n, chunk):
            buf = os.pread(fd, chunk * PAGE, (first + i0) * PAGE)
            for j in range(min(chunk, n - i0)):
                i = i0 + j
                if i == cur:
                    continue
                want = writer_content(first + i, g if i < cur else g - 1)
                page = buf[j * PAGE:(j + 1) * PAGE]
                if want is None:
                    ok = page == zero
                else:
                    ok = (struct.unpack_from("<2I", page) == want[:2] and
                          struct.unpack_from("<I", page, PAGE - 4)[0] == want[2]
                          and not page[8:PAGE - 4].strip(b"\0"))
                if not ok:
                    bad += 1
                    where = where if where is not None else first + i
    finally:
        os.close(fd)
    return bad, where


def wait_state(path, cond, what, timeout=120):
    t0 = time.time()
    while True:
        st = writer_state(path)
        if st and cond(st):
            return st
        if time.time() - t0 > timeout:
            raise RuntimeError("writer: no %s after %d s (state %s)" % (
                what, timeout, st))
        time.sleep(0.1)


def case_live(name, src_bin, dst_bin, multifd=False, channels=2, params=None,
              machine="pc", check=None, peer_bug=None, rounds=None):
    """A running guest (writer.S) migrated live: several bandwidth-limited
    rounds while it writes, then a converging one.  The destination stays
    paused at the end (-S): both files are compared, and every page is
    checked against the guest's pattern; then the destination runs a full
    pass, in which the guest checks every page it rewrites.  rounds: the
    source's parameters for the rounds, over LIVE_ROUNDS."""
    kib = lambda b: b // 1024
    mem = ["-object", "memory-backend-memfd,id=mem,size=%d,share=on" % LIVE_GUEST,
           "-bios", WRITER, "-accel", "tcg"]
    r = {"case": name, "target": target, "src_bin": src_bin, "dst_bin": dst_bin,
         "multifd": multifd, "live": True, "status": "not run"}
    if multifd:
        r["channels"] = channels
    if params:
        r.update(params)
    if peer_bug:
        r["peer_bug"] = peer_bug
    procs = []
    uri = "unix:%s/mig.sock" % RUN
    try:
        if not os.path.exists(WRITER):
            raise RuntimeError("%s missing (make user)" % WRITER)
        dp, dq, _ = start(dst_bin, "dst", mem + ["-incoming", "defer"], False,
                          machine, mem="256M")
        procs.append((dp, dq))
        sp, sq, _ = start(src_bin, "src", mem, False, machine, mem="256M",
                          paused=False)
        procs.append((sp, sq))
        sfile, dfile = ram_fd(sp.pid, "memfd:"), ram_fd(dp.pid, "memfd:")
        # the first pass over: every class of page exists
        st = wait_state(sfile, lambda st: st["step"] >= st["pages"],
                        "second pass")
        n = st["pages"]
        for q in (sq, dq):
            if params:
                q.cmd("migrate-set-parameters", **params)
            if multifd:
                set_multifd(q, channels)
        sq.cmd("migrate-set-parameters", **dict(LIVE_ROUNDS, **(rounds or {})))
        r["src_before_kib"] = rss_shmem(sp.pid)
        r["dst_before_kib"] = rss_shmem(dp.pid)
        r["dst_file_before_kib"] = kib(os.stat(dfile).st_blocks * 512)
        dq.cmd("migrate-incoming", uri=uri)
        step0 = writer_state(sfile)["step"]
        t0 = time.time()
        sq.cmd("migrate", uri=uri)
        # converge only after the guest has rewritten its whole range
        # while the rounds ran (however slow this machine's TCG is)
        m = wait_migration(
            sq, dq, lambda: writer_state(sfile)["step"] - step0 >= n,
            timeout=300)
        status = m.get("status")
        r["status"] = status
        r["dirty_syncs"] = m.get("ram", {}).get("dirty-sync-count")
        r["downtime_ms"] = m.get("downtime")
        r["seconds"] = round(time.time() - t0, 2)
        if status != "completed":
            raise RuntimeError("migration %s" % status)
        st = writer_state(sfile)             # the source is stopped
        r["pages_written_live"] = st["step"] - step0
        r["src_after_kib"] = rss_shmem(sp.pid)
        r["dst_after_kib"] = rss_shmem(dp.pid)
        r["dst_file_after_kib"] = kib(os.stat(dfile).st_blocks * 512)
        wrong, _, nonzero = compare(sfile, dfile)
        r.update(equal=not wrong, wrong_pages=wrong,
                 src_data_kib=nonzero * PAGE // 1024)
        r["bad_pages"], r["first_bad"] = writer_check(dfile, writer_state(dfile))
        # the guest runs on: one whole pass checks each page it rewrites
        dq.cmd("cont")
        end = writer_state(dfile)["step"] + n + 1
        st = wait_state(dfile, lambda st: st["step"] >= end, "pass after cont")
        r["guest_errors"] = st["errors"]
        if st["errors"]:
            r["guest_first_bad"] = dict((k, st[k]) for k in (
                "bad_page", "bad_gen", "bad_dword0", "bad_dword1"))
    except Exception as e:
        r["status"] = "error: %s" % e
    finally:
        for p, q in reversed(procs):
            stop(p, q)
    results.append(r)
    why = []
    if r["status"] != "completed" or r.get("guest_errors") is None:
        why.append("status %s" % r["status"])
    else:
        if not r["equal"]:
            why.append("contents differ (%d pages)" % r["wrong_pages"])
        if r["bad_pages"]:
            why.append("%d pages off the guest's pattern (first %d)" % (
                r["bad_pages"], r["first_bad"]))
        if r["guest_errors"]:
            why.append("the guest found %d bad pages (%s)" % (
                r["guest_errors"], r["guest_first_bad"]))
        if r["dirty_syncs"] < 3 or r["pages_written_live"] < n:
            why.append("not live enough: %s bitmap syncs, %d pages written" % (
                r["dirty_syncs"], r["pages_written_live"]))
        if not why and check:
            why += check(r)
    return verdict(r, why, peer_bug)


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


def dst_kept(r):
    """A destination whose memory must stay populated (prealloc=on,
    -overcommit mem-lock=on): nothing punched, everything still resident."""
    why = []
    if "ioctl_discard_ranges" not in r:
        why.append("no module counters")
    elif r["ioctl_discard_ranges"]:
        why.append("the destination punched %d ranges" % r["ioctl_discard_ranges"])
    if r["dst_after_kib"] < GUEST // 1024 * 0.9:
        why.append("destination %d kB: no longer populated" % r["dst_after_kib"])
    return why


# The stock bugs the stock -> stock cases reproduce
BALLOON = "stock bug reproduced (both sides balloon to 1 GiB)"
BALLOON_SRC = "stock bug reproduced (the multifd source balloons to 1 GiB)"
STALE = "stock bug reproduced (multifd leaves stale pages)"


def unload():
    if os.path.exists("/dev/shmem_zero"):
        subprocess.run(["rmmod", "shmem_zero"], check=True)


def check_cases(S, P, P72=None, S72=None, S111=None, P100=None):
    """The cases to run, in order: (function to call first or None,
    case() arguments, "fn" for another case function).  The plan line
    counts this list.  P72, S72: the patched and Debian 12's 7.2 binaries,
    S111: sid's 11.1, P100: the patched 10.0 (for 10.2), for the
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
                 expect_equal=False, check=stale_left, peer_bug=STALE,
                 all_only=True),
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
    if target != "7.2":
        # QEMU's migration-test, the series' tests (running guest, checks
        # the guest's memory and each side's RssShmem)
        # (--all only: each boots a q35 guest under TCG, 4 minutes for
        # the precopy one, more than make check's cold budget leaves; the
        # cases here run the same code paths with running guests)
        for path in ("precopy/unix/memfd",
                     "multifd/tcp/memfd/zero-page/multifd",
                     "multifd/tcp/memfd/zero-page/legacy"):
            c.append(dict(name="migration-test /migration/shmemzero/" + path,
                          src_bin=P, dst_bin=P, fn=case_qtest,
                          path="/x86_64/migration/shmemzero/" + path,
                          all_only=True))
    # memory the user asked to keep populated is not punched
    c += [
        dict(name="patched -> patched, destination prealloc=on (kept)",
             src_bin=P, dst_bin=P, check=lambda r: dst_kept(r) + src_ioctl(r),
             dst_mem="id=mem,size=1G,share=on,prealloc=on"),
        dict(name="patched -> patched, destination -overcommit mem-lock=on "
             "(kept)", src_bin=P, dst_bin=P,
             check=lambda r: dst_kept(r) + src_ioctl(r),
             dst_extra=("-overcommit", "mem-lock=on")),
    ]
    if target != "7.2":
        # 10.0 preallocates plugged blocks in post_load_early, before RAM
        c.append(dict(name="patched -> patched, virtio-mem prealloc=on, "
                      "256 MiB plugged (kept)", src_bin=P, dst_bin=P,
                      fn=case_virtio_mem))
    # running guests (writer.S): precopy and multifd both ways between
    # stock and patched; 10.0: each zero-page-detection mode, 2, 4 and 8
    # channels, and the patched 7.2 as a source.  --all only, for make
    # check's cold budget (each costs about 50 s under TCG): what another
    # case or the other target already runs.  make check keeps, per target,
    # a patched destination by precopy and by multifd, and the multifd
    # source: 7.2 patched -> patched and stock -> patched, each both ways;
    # 10.0 stock -> patched both ways, patched -> patched and patched ->
    # stock by multifd, and the upgrade cases with Debian 12's stock 7.2 as
    # the source and the patched 7.2 as the destination.  Left to --all:
    # stock -> stock (the paused case reproduces it), patched -> stock on
    # 7.2 and without multifd on 10.0, 10.0's patched -> patched without
    # multifd, every zero-page-detection but the default (the paused
    # legacy cases and the cases without multifd cover the others), 4 and
    # 8 channels beside 2, the patched 7.2 as a source.
    live = lambda name, **k: dict(name="running guest, " + name, fn=case_live, **k)
    c += [
        live("stock -> stock", src_bin=S, dst_bin=S, all_only=True),
        live("patched -> patched", src_bin=P, dst_bin=P, check=small_dst,
             all_only=target != "7.2"),
        live("stock -> patched", src_bin=S, dst_bin=P, check=small_dst),
        live("patched -> stock", src_bin=P, dst_bin=S, all_only=True),
        live("patched -> patched, multifd", src_bin=P, dst_bin=P,
             multifd=True, check=small_dst),
        live("stock -> patched, multifd", src_bin=S, dst_bin=P,
             multifd=True, check=small_dst),
        live("patched -> stock, multifd", src_bin=P, dst_bin=S,
             multifd=True, all_only=target == "7.2"),
    ]
    if target != "7.2":
        for zpd in ("none", "legacy", "multifd"):
            c.append(live("patched -> patched, multifd, zero-page-detection="
                          + zpd, src_bin=P, dst_bin=P, multifd=True,
                          params={"zero-page-detection": zpd},
                          check=small_dst if zpd != "none" else None,
                          all_only=True))
        for n in (4, 8):
            c.append(live("patched -> patched, multifd, %d channels" % n,
                          src_bin=P, dst_bin=P, multifd=True, channels=n,
                          check=small_dst, all_only=True))
        for mf in (False, True):
            c.append(live("patched 7.2 -> patched, pc-i440fx-7.2" +
                          (", multifd" if mf else ""),
                          src_bin=P72 or "(no 7.2 build)", dst_bin=P,
                          multifd=mf, machine="pc-i440fx-7.2",
                          check=small_dst, all_only=True))
        # A Debian 12 host (its own, stock QEMU) migrating to an upgraded
        # Debian 13 host, and back: QEMU supports a newer -> older
        # migration with the older machine type.  (Running guests only:
        # Debian's 7.2 has no qtest accelerator.)
        c += [
            live("stock 7.2 -> patched, pc-i440fx-7.2, multifd",
                 src_bin=S72 or "(no stock 7.2)", dst_bin=P, multifd=True,
                 machine="pc-i440fx-7.2", check=small_dst),
            live("patched -> patched 7.2, pc-i440fx-7.2, multifd",
                 src_bin=P, dst_bin=P72 or "(no 7.2 build)", multifd=True,
                 machine="pc-i440fx-7.2", check=small_dst),
        ]
        # The next upgrade, Debian 13 -> sid: a patched 10.0 host and a
        # host with sid's own (stock) 11.1, both ways, pc-i440fx-10.0
        # (make check-full; no patched 11.1: build.sh).  The stock side
        # checks nothing of its own memory, as in the other stock cases.
        s111 = S111 or "(no 11.1 bundle)"
        m10 = "pc-i440fx-10.0"
        c += [
            dict(name="patched -> stock 11.1, %s" % m10, src_bin=P,
                 dst_bin=s111, machine=m10, all_only=True,
                 check=lambda r: small_src(r) + src_ioctl(r)),
            dict(name="patched -> stock 11.1, multifd, %s" % m10, src_bin=P,
                 dst_bin=s111, machine=m10, multifd=True, all_only=True,
                 check=lambda r: small_src(r) + src_ioctl(r)),
            dict(name="stock 11.1 -> patched, %s, stale destination file" % m10,
                 src_bin=s111, dst_bin=P, machine=m10, stale=True,
                 all_only=True, check=lambda r: small_dst(r) + dst_ioctl(r)),
            dict(name="stock 11.1 -> patched, multifd, %s, stale destination "
                 "file" % m10, src_bin=s111, dst_bin=P, machine=m10,
                 multifd=True, stale=True, all_only=True,
                 check=lambda r: small_dst(r) + dst_ioctl(r)),
            live("patched -> stock 11.1, %s, multifd" % m10, src_bin=P,
                 dst_bin=s111, multifd=True, machine=m10, all_only=True),
            # 11.1 as the source converged in the rounds at 64 MiB/s (the
            # guest in a VM dirtied at most 16 pages between two syncs):
            # a quarter of it, 4 pages
            live("stock 11.1 -> patched, %s, multifd" % m10, src_bin=s111,
                 dst_bin=P, multifd=True, machine=m10, check=small_dst,
                 rounds={"max-bandwidth": 16 << 20}, all_only=True),
        ]
    if target == "10.2":
        # the series on both sides of a 10.0 -> 10.2 upgrade, both ways
        p100 = P100 or "(no 10.0 build)"
        c += [
            dict(name="patched 10.0 -> patched, multifd, %s, stale "
                 "destination file" % m10, src_bin=p100, dst_bin=P,
                 multifd=True, stale=True, machine=m10, check=both),
            dict(name="patched -> patched 10.0, multifd, %s, stale "
                 "destination file" % m10, src_bin=P, dst_bin=p100,
                 multifd=True, stale=True, machine=m10, check=both),
            live("patched 10.0 -> patched, %s" % m10, src_bin=p100,
                 dst_bin=P, machine=m10, check=small_dst),
            live("patched -> patched 10.0, %s, multifd" % m10, src_bin=P,
                 dst_bin=p100, multifd=True, machine=m10, check=small_dst),
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
        a.pop("all_only", None)
        t0 = time.time()
        a.pop("fn", case)(**a)
        # the case's whole cost (start, fill, migrate, compare), for
        # make check's budget
        if results and results[-1].get("case") == a["name"]:
            results[-1]["wall_s"] = round(time.time() - t0, 1)
        print("# took %.0f s" % (time.time() - t0), flush=True)


def table():
    for r in results:
        if "ioctl_discard_ranges" in r:
            print("# %s: module DISCARD ranges %s, QUERY ranges %s" % (
                r["case"], r["ioctl_discard_ranges"],
                r.get("ioctl_query_ranges", "-")))
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
            "-" if "equal" not in r else "equal" if r["equal"] else
            "DIFFER wrong=%s stale=%s" % (r.get("wrong_pages"),
                                          r.get("stale_pages"))))


def demo_table():
    mib = lambda k: "%7.1f MiB" % (k / 1024) if k is not None else "?"
    print()
    print("Live migration of a paused guest with 1 GiB of memfd RAM holding 8 MiB of "
          "data (QEMU %s, in a VM)" % target)
    print("%-20s %27s %27s %8s %9s %11s  %s" % (
        "", "source RssShmem", "destination RssShmem", "time", "downtime",
        "CPU src/dst", "contents"))
    print("%-20s %13s %13s %13s %13s" % ("", "before", "after", "before", "after"))
    for r in results:
        print("%-20s %13s %13s %13s %13s %7ss %7sms %5s/%-5s  %s" % (
            r["case"].split(" (")[0], mib(r.get("src_before_kib")),
            mib(r.get("src_after_kib")), mib(r.get("dst_before_kib")),
            mib(r.get("dst_after_kib")), r.get("seconds"),
            r.get("downtime_ms"), r.get("src_cpu_s"), r.get("dst_cpu_s"),
            "correct" if r.get("equal") else "WRONG (%s)" % r.get("status")))
    print("(CPU: seconds of utime + stime of each QEMU during the migration; "
          "the end-to-end cost table is make bench-migrate's)")
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
    ap.add_argument("--target", default="7.2",
                    help="the QEMU series: 7.2, 10.0 or 10.2")
    ap.add_argument("--stock", default="/usr/bin/qemu-system-x86_64")
    ap.add_argument("--patched", required=True)
    ap.add_argument("--patched-7.2", dest="patched72",
                    help="10.0: the patched 7.2 binary, for cross-version cases")
    ap.add_argument("--stock-7.2", dest="stock72",
                    default="/usr/bin/qemu-system-x86_64",
                    help="10.0: Debian 12's QEMU, for cross-version cases")
    ap.add_argument("--patched-10.0", dest="patched100",
                    help="10.2: the patched 10.0, for cross-version cases")
    ap.add_argument("--stock-11.1", dest="stock111",
                    help="10.0: sid's QEMU (build.sh 11.1), for cross-version "
                    "cases")
    # --markdown JSON...: print the README's table from earlier runs
    ap.add_argument("--json")
    ap.add_argument("--only", metavar="TEXT",
                    help="run only the cases whose name contains TEXT")
    ap.add_argument("--demo", action="store_true",
                    help="only stock -> stock and patched -> patched, a table")
    ap.add_argument("--all", action="store_true",
                    help="also the cases that repeat another's code path "
                    "(make check-full)")
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
        run([(f, c) for f, c in check_cases(a.stock, a.patched, a.patched72,
                                               a.stock72, a.stock111,
                                               a.patched100)
             if (not a.only or a.only in c["name"]) and
             (a.all or not c.get("all_only"))])
        table()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0 if all(r.get("pass") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
