#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Scale: migrate a paused guest with a big, nearly empty memfd (runs in the VM).

A source QEMU whose RAM is a GUEST_GIB memfd holding DATA_MIB of data
(-device loader) migrates over a unix socket to a destination QEMU, both
paused (-S: no guest code runs; a 16 MiB TCG buffer), once with Debian's
stock QEMU 7.2 on both sides and once with the patched build.  Both QEMUs of
a pair run in one memory cgroup (memory.max = LIMIT_MIB, no swap) so that an
out-of-memory pair is killed by the cgroup, not the VM.  Every SAMPLE_S the
source's query-migrate, both RssShmem, the cgroup's memory.current and the
system's Shmem are sampled: the report says how far a pair got (pages and
GiB handled by the source) and its peak memory.  Writes one JSON object.

Usage: scale.py --patched QEMU [--stock QEMU] [--guest-gib N] [--data-mib N]
                [--limit-mib N] [--timeout S] --json FILE
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "qemu", "tests"))
from migrate import QMP, rss_shmem, stop  # noqa: E402  (one copy of the helpers)

RUN = "/run/szscale"
CG_ROOT = "/sys/fs/cgroup"
SAMPLE_S = 0.5


def meminfo_kb(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def cgroup(name, limit_mib):
    """A fresh memory cgroup (cgroup2 mounted here if it is not)."""
    if not os.path.exists(CG_ROOT + "/cgroup.controllers"):
        subprocess.run(["mount", "-t", "cgroup2", "none", CG_ROOT], check=True)
    with open(CG_ROOT + "/cgroup.subtree_control", "w") as f:
        f.write("+memory")
    path = "%s/%s" % (CG_ROOT, name)
    if os.path.isdir(path):
        os.rmdir(path)
    os.mkdir(path)
    for key, val in (("memory.max", limit_mib << 20), ("memory.swap.max", 0),
                     ("memory.oom.group", 0)):
        if os.path.exists("%s/%s" % (path, key)):
            with open("%s/%s" % (path, key), "w") as f:
                f.write(str(val))
    return path


def cg_read(path, key):
    try:
        with open("%s/%s" % (path, key)) as f:
            text = f.read()
    except OSError:
        return None
    if key == "memory.events":
        return dict((k, int(v)) for k, v in
                    (line.split() for line in text.splitlines()))
    return int(text.split()[0])


def start(binary, name, cg, gib, extra):
    sock = "%s/%s.qmp" % (RUN, name)
    cmd = [binary, "-S", "-nodefaults", "-display", "none", "-accel", "tcg,tb-size=16",
           "-L", "/usr/share/qemu", "-L", "/usr/share/seabios",
           "-machine", "pc,memory-backend=mem", "-m", "%dG" % gib,
           "-object", "memory-backend-memfd,id=mem,size=%dG,share=on" % gib,
           "-qmp", "unix:%s,server=on,wait=off" % sock] + extra

    def join():
        with open(cg + "/cgroup.procs", "w") as f:
            f.write(str(os.getpid()))
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, preexec_fn=join,
                         stdout=open("%s/%s.log" % (RUN, name), "w"),
                         stderr=subprocess.STDOUT)
    return p, QMP(sock)


def pair(name, binary, a):
    cg = cgroup("szscale-" + name, a.limit_mib)
    gib = a.guest_gib
    r = {"pair": name, "binary": binary, "guest_gib": gib,
         "data_mib": a.data_mib, "limit_mib": a.limit_mib, "samples": []}
    shmem0 = meminfo_kb("Shmem")
    dp, dq = start(binary, name + "-dst", cg, gib, ["-incoming", "defer"])
    sp, sq = start(binary, name + "-src", cg, gib, [
        "-device", "loader,file=%s/blob,addr=0x%x,force-raw=on" % (RUN, a.addr)])
    peak = {"src_kib": 0, "dst_kib": 0, "cgroup_kib": 0, "shmem_kib": 0}
    last = {}
    try:
        for q in (sq, dq):
            q.cmd("migrate-set-parameters", **{"max-bandwidth": 64 << 30})
        uri = "unix:%s/mig.sock" % RUN
        dq.cmd("migrate-incoming", uri=uri)
        t0 = time.time()
        sq.cmd("migrate", uri=uri)
        status = "?"
        while True:
            now = round(time.time() - t0, 2)
            s = {"t": now}
            try:
                st = sq.cmd("query-migrate")
                status = st.get("status", "?")
                ram = st.get("ram", {})
                s.update(normal=ram.get("normal"), duplicate=ram.get("duplicate"),
                         transferred=ram.get("transferred"),
                         remaining=ram.get("remaining"))
                last = s
            except Exception as e:          # source killed
                status = "source died (%s)" % type(e).__name__
            s.update(src_kib=rss_shmem(sp.pid) if sp.poll() is None else None,
                     dst_kib=rss_shmem(dp.pid) if dp.poll() is None else None,
                     cgroup_kib=(cg_read(cg, "memory.current") or 0) // 1024,
                     shmem_kib=meminfo_kb("Shmem") - shmem0)
            for k in peak:
                peak[k] = max(peak[k], s[k] or 0)
            r["samples"].append(s)
            if dp.poll() is not None and not status.startswith("source died"):
                status = "destination died" if status != "completed" else status
            if status in ("completed", "failed", "cancelled") or \
                    "died" in status or now > a.timeout:
                break
            time.sleep(SAMPLE_S)
        if status == "completed":
            while dp.poll() is None and \
                    dq.cmd("query-status")["status"] == "inmigrate":
                time.sleep(0.1)
        r["seconds"] = round(time.time() - t0, 2)
        r["status"] = status if now <= a.timeout else "timeout"
        r["src_exit"], r["dst_exit"] = sp.poll(), dp.poll()
        if status == "completed":
            r["src_after_kib"], r["dst_after_kib"] = rss_shmem(sp.pid), rss_shmem(dp.pid)
    finally:
        stop(sp, sq)
        stop(dp, dq)
    r["peak"] = peak
    ev = cg_read(cg, "memory.events") or {}
    r["oom_kills"] = ev.get("oom_kill", 0)
    r["cgroup_peak_kib"] = (cg_read(cg, "memory.peak") or 0) // 1024
    pages = gib << 18
    done = (last.get("normal") or 0) + (last.get("duplicate") or 0)
    r["pages_total"], r["pages_done"] = pages, done
    r["gib_done"] = round(done / 262144, 3)
    r["fraction_done"] = round(done / pages, 4)
    os.rmdir(cg)
    print("%-8s %-28s %6.1f s  %7.2f of %d GiB  peak RssShmem src %d MiB dst %d MiB,"
          " cgroup %d MiB, oom kills %d" % (
              name, r["status"][:28], r["seconds"], r["gib_done"], gib,
              peak["src_kib"] >> 10, peak["dst_kib"] >> 10,
              r["cgroup_peak_kib"] >> 10, r["oom_kills"]), flush=True)
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stock", default="/usr/bin/qemu-system-x86_64")
    ap.add_argument("--patched", required=True)
    ap.add_argument("--guest-gib", type=int, default=32)
    ap.add_argument("--data-mib", type=int, default=64)
    ap.add_argument("--limit-mib", type=int, default=3072)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--addr", type=lambda s: int(s, 0), default=0x10000000)
    ap.add_argument("--json", required=True)
    a = ap.parse_args()
    os.makedirs(RUN, exist_ok=True)
    with open(RUN + "/blob", "wb") as f:     # every page non-zero
        f.write(os.urandom(a.data_mib << 20))
    out = {"mem_total_kib": meminfo_kb("MemTotal"),
           "module_loaded": os.path.exists("/dev/shmem_zero"), "pairs": []}
    for name, binary in (("stock", a.stock), ("patched", a.patched)):
        out["pairs"].append(pair(name, binary, a))
    with open(a.json, "w") as f:
        json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
