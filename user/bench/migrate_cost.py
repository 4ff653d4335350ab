#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""What a migration costs end to end, stock against patched QEMU (in the VM).

Three guests, each migrated over a unix socket by:
  stock           the stock binary on both sides, precopy
  patched         the patched binary on both sides, /dev/shmem_zero loaded
  patched-fb      the same with the module unloaded (libshmemzero's
                  fallocate/SEEK_DATA path)
  stock-multifd   stock, multifd with 2 channels (10.0 only)
  patched-multifd patched, multifd with 2 channels, module loaded (10.0)
and, with --sides, which side a difference comes from (multifd, 10.0):
  src-patched-multifd   patched source, stock destination
  dst-patched-multifd   stock source, patched destination
The guests:
  (a) empty       4 GiB, 1 % of its pages data, the rest never touched;
                  paused (-S)
  (b) populated   1 GiB, 75 % data, 15 % zero but allocated, 10 % holes,
                  scattered page by page; paused (-S)
  (c) running     user/qemu/tests/guest/writer.S, 256 MiB, writing while
                  it migrates (as migrate.py's running-guest cases)
(a) and (b) are files on /dev/shm written page by page before the source
starts (a memory-backend-file keeps what the file holds).  Per run: total time and
downtime (query-migrate), CPU seconds of each QEMU during the migration
(utime + stime from /proc/PID/stat), peak and final RssShmem of each side,
bytes sent, and wrong pages (both files read and compared; for (c) also
every page against the guest's pattern).  Benchmarks, not tests: nothing
fails on a figure; a wrong page fails the run.

Repeats are interleaved (each variant once, then again), so a drift of
the VM over the runs does not land on one variant.

  migrate_cost.py --target 10.0 --stock Q --patched Q --json FILE [--only REGEX]
                  [--repeats N] [--sides]
  migrate_cost.py --markdown FILE.json      the table with the goals
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "qemu", "tests"))
import migrate as m  # noqa: E402  (one copy of the QEMU helpers)

PAGE = 4096
RUN = "/run/szcost"
SRC = "/dev/shm/szcost-src"
GUESTS = {
    "empty": dict(gib=4, data=1, zero=0),
    "populated": dict(gib=1, data=75, zero=15),
    "running": dict(mib=256),
}


def page_kind(i, g):
    """'d'ata, 'z'ero (allocated) or 'h'ole for page i of guest g."""
    x = (i * 2654435761) % 100
    return "d" if x < g["data"] else "z" if x < g["data"] + g["zero"] else "h"


def make_source(guest, g):
    """The source's RAM file: data pages (non-zero, distinct), allocated
    zero pages and holes (never written).  Written once per guest into a
    template, then its allocated extents are copied (a stock source
    allocates the holes of its file: every run needs a fresh copy)."""
    tpl = "%s-%s" % (SRC, guest)
    size = g["gib"] << 30
    if not os.path.exists(tpl):
        zero = bytes(PAGE)
        fd = os.open(tpl + ".tmp", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, size)
            for i in range(size // PAGE):
                k = page_kind(i, g)
                if k != "h":
                    os.pwrite(fd, i.to_bytes(8, "little") * (PAGE // 8)
                              if k == "d" else zero, i * PAGE)
        finally:
            os.close(fd)
        os.rename(tpl + ".tmp", tpl)
    with open(tpl, "rb") as fi:
        fo = os.open(SRC, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fo, size)
            for lo, hi in m.data_extents(fi):
                while lo < hi:
                    lo += os.copy_file_range(fi.fileno(), fo, hi - lo, lo, lo)
        finally:
            os.close(fo)
    return ["-object", "memory-backend-file,id=mem,size=%dG,share=on,"
            "mem-path=%s" % (g["gib"], SRC)]


def one(guest, variant, binaries, multifd, target):
    g = GUESTS[guest]
    live = guest == "running"
    mem = "%dM" % g["mib"] if live else "%dG" % g["gib"]
    r = {"guest": guest, "variant": variant, "target": target,
         "module": os.path.exists("/dev/shmem_zero"), "status": "not run"}
    procs = []
    try:
        if live:
            src_mem = ["-object", "memory-backend-memfd,id=mem,size=%s,"
                       "share=on" % mem, "-bios", m.WRITER]
            dst_mem = list(src_mem)
        else:
            src_mem = make_source(guest, g)
            dst_mem = ["-object", "memory-backend-memfd,id=mem,size=%s,"
                       "share=on" % mem]
        dp, dq, _ = m.start(binaries[1], "dst", dst_mem + ["-accel", "tcg",
                            "-incoming", "defer"], False, mem=mem)
        procs.append((dp, dq))
        sp, sq, _ = m.start(binaries[0], "src", src_mem + ["-accel", "tcg"], False,
                            mem=mem, paused=not live)
        procs.append((sp, sq))
        sfile = m.ram_fd(sp.pid, "memfd:" if live else SRC)
        dfile = m.ram_fd(dp.pid, "memfd:")
        if live:
            m.wait_state(sfile, lambda st: st["step"] >= st["pages"],
                         "second pass")
        for q in (sq, dq):
            q.cmd("migrate-set-parameters", **{"max-bandwidth": 8 << 30})
            if multifd:
                m.set_multifd(q)
        if live:        # several rounds while it writes, as migrate.py
            sq.cmd("migrate-set-parameters", **m.LIVE_ROUNDS)
        r["src_before_kib"] = m.rss_shmem(sp.pid)
        uri = "unix:%s/mig.sock" % m.RUN
        dq.cmd("migrate-incoming", uri=uri)
        c0 = (m.cpu_s(sp.pid), m.cpu_s(dp.pid))
        peak = [0, 0]

        def sample():
            peak[0] = max(peak[0], m.rss_shmem(sp.pid))
            peak[1] = max(peak[1], m.rss_shmem(dp.pid))
        sq.cmd("migrate", uri=uri)
        st = m.wait_migration(sq, dq, live, poll=sample)
        c1 = (m.cpu_s(sp.pid), m.cpu_s(dp.pid))
        r.update(status=st["status"], total_ms=st.get("total-time"),
                 downtime_ms=st.get("downtime"),
                 bytes=st.get("ram", {}).get("transferred"),
                 src_cpu_s=round(c1[0] - c0[0], 2),
                 dst_cpu_s=round(c1[1] - c0[1], 2),
                 src_peak_kib=peak[0], dst_peak_kib=peak[1],
                 src_final_kib=m.rss_shmem(sp.pid),
                 dst_final_kib=m.rss_shmem(dp.pid))
        wrong, _, nonzero = m.compare(sfile, dfile)
        r["wrong_pages"] = wrong
        r["data_kib"] = nonzero * PAGE // 1024
        if live:
            bad, _ = m.writer_check(dfile, m.writer_state(dfile))
            r["wrong_pages"] += bad
    except Exception as e:
        r["status"] = "error: %s" % e
    finally:
        for p, q in reversed(procs):
            m.stop(p, q)
        if os.path.exists(SRC):
            os.unlink(SRC)
    print("# %-10s %-16s %s: %s s, downtime %s ms, cpu %s/%s s, peak %s/%s "
          "MiB, wrong %s" % (
              guest, variant, r["status"], (r.get("total_ms") or 0) / 1000,
              r.get("downtime_ms"), r.get("src_cpu_s"), r.get("dst_cpu_s"),
              (r.get("src_peak_kib") or 0) >> 10,
              (r.get("dst_peak_kib") or 0) >> 10, r.get("wrong_pages")),
          flush=True)
    return r


def run(a):
    s, p = a.stock, a.patched
    variants = [("stock", (s, s), False), ("patched", (p, p), False)]
    if a.target != "7.2":
        variants += [("stock-multifd", (s, s), True),
                     ("patched-multifd", (p, p), True)]
        if a.sides:
            variants += [("src-patched-multifd", (p, s), True),
                         ("dst-patched-multifd", (s, p), True)]
    wanted = lambda guest, name: not a.only or re.search(a.only,
                                                         guest + " " + name)
    runs, fb = [], []
    for _ in range(a.repeats):
        for guest in GUESTS:
            runs += [(guest, name, b, mf) for name, b, mf in variants
                     if wanted(guest, name)]
            # the fallback last: the module is unloaded for it
            if wanted(guest, "patched-fb"):
                fb += [(guest, "patched-fb", (p, p), False)]
    out = []
    for guest, name, binaries, multifd in runs + fb:
        if name == "patched-fb" and os.path.exists("/dev/shmem_zero"):
            subprocess.run(["rmmod", "shmem_zero"], check=True)
        out.append(one(guest, name, binaries, multifd, a.target))
        with open(a.json, "w") as f:
            json.dump({"target": a.target, "runs": out}, f, indent=1)
    for guest in GUESTS:
        if os.path.exists("%s-%s" % (SRC, guest)):
            os.unlink("%s-%s" % (SRC, guest))
    return 0 if all(r["status"] == "completed" and r["wrong_pages"] == 0
                    for r in out) else 1


KEYS = ("total_ms", "downtime_ms", "src_cpu_s", "dst_cpu_s", "src_peak_kib",
        "src_final_kib", "dst_peak_kib", "dst_final_kib", "bytes")


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] +
                                              v[len(v) // 2]) / 2


def markdown(path):
    """One row per guest and variant: the median of each figure over the
    completed runs, the sum of wrong pages over all of them."""
    d = json.load(open(path))
    rows = {}
    for r in d["runs"]:
        rows.setdefault((r["guest"], r["variant"]), []).append(r)
    runs, by = [], {}
    for key, rs in rows.items():
        ok = [r for r in rs if r["status"] == "completed"]
        row = {"guest": key[0], "variant": key[1], "runs": len(rs),
               "status": "completed" if len(ok) == len(rs) else
               "%d of %d completed" % (len(ok), len(rs)),
               "wrong_pages": sum(r.get("wrong_pages") or 0 for r in rs)}
        for k in KEYS:
            vals = [r[k] for r in ok if r.get(k) is not None]
            row[k] = median(vals) if vals else None
        runs.append(row)
        by[key] = row
    mib = lambda k: "%.0f" % (k / 1024) if k is not None else "-"
    print("| guest | variant | runs | status | total s | downtime ms | "
          "src CPU s | dst CPU s | src peak MiB | src final | dst peak MiB | "
          "dst final | MiB sent | wrong pages |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        print("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | "
              "%s | %s |" % (
                  r["guest"], r["variant"], r["runs"], r["status"],
                  (r.get("total_ms") or 0) / 1000, r.get("downtime_ms", "-"),
                  round(r["src_cpu_s"], 2) if r["src_cpu_s"] is not None else "-",
                  round(r["dst_cpu_s"], 2) if r["dst_cpu_s"] is not None else "-",
                  mib(r.get("src_peak_kib")), mib(r.get("src_final_kib")),
                  mib(r.get("dst_peak_kib")), mib(r.get("dst_final_kib")),
                  mib((r.get("bytes") or 0) // 1024),
                  r.get("wrong_pages", "-")))
    print()
    print("Goals (issue 15), QEMU %s:" % d["target"])
    s, p = by.get(("empty", "stock")), by.get(("empty", "patched"))
    if s and p and s["total_ms"] and p["total_ms"]:
        speed = s["total_ms"] / max(p["total_ms"], 1)
        cpu_s = s["src_cpu_s"] + s["dst_cpu_s"]
        cpu_p = p["src_cpu_s"] + p["dst_cpu_s"]
        print("- (a) patched >= 5x faster than stock: %.1fx, %s" % (
            speed, "met" if speed >= 5 else "missed"))
        print("- (a) patched CPU <= 1/5 of stock: %.2f s against %.2f s "
              "(%.2f), %s" % (cpu_p, cpu_s, cpu_p / max(cpu_s, 0.01),
                              "met" if cpu_p * 5 <= cpu_s else "missed"))
    for sv, pv in (("stock", "patched"), ("stock-multifd", "patched-multifd")):
        s, p = by.get(("populated", sv)), by.get(("populated", pv))
        if not (s and p and s["downtime_ms"] is not None and
                p["downtime_ms"] is not None):
            continue
        for what, ks in (("downtime", ("downtime_ms",)),
                         ("CPU", ("src_cpu_s", "dst_cpu_s"))):
            vs, vp = sum(s[k] for k in ks), sum(p[k] for k in ks)
            ratio = vp / vs if vs else float("inf")
            print("- (b) %s %s no worse than %s (+5 %%): %s against %s "
                  "(%+.0f %%), %s" % (pv, what, sv, round(vp, 2), round(vs, 2),
                                      (ratio - 1) * 100,
                                      "met" if ratio <= 1.05 else "missed"))
    wrong = sum(r["wrong_pages"] for r in runs)
    bad = [r for r in d["runs"] if r["status"] != "completed"]
    print("- 0 wrong pages everywhere: %d wrong pages, %d runs not completed, "
          "%s" % (wrong, len(bad), "met" if not wrong and not bad else "missed"))
    return 0


def main():
    if sys.argv[1:2] == ["--markdown"]:
        return markdown(sys.argv[2])
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default="10.0")
    ap.add_argument("--stock", required=True)
    ap.add_argument("--patched", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--repeats", type=int, default=1,
                    help="runs of each guest and variant (medians reported)")
    ap.add_argument("--only", metavar="REGEX",
                    help="only the runs whose 'guest variant' matches REGEX")
    ap.add_argument("--sides", action="store_true",
                    help="also patched on one side only (multifd)")
    a = ap.parse_args()
    os.makedirs(m.RUN, exist_ok=True)
    return run(a)


if __name__ == "__main__":
    sys.exit(main())
