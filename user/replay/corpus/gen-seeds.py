#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write small valid QEMU 7.2 migration streams as fuzzing seeds (seed-*).

They follow migration/savevm.c and ram.c byte for byte, with a made-up
VMDESCRIPTION; crash-* files next to them are regression inputs the fuzzer
found.  Usage: gen-seeds.py [DIR]
"""
import json
import struct
import sys

PAGE = 4096
ZERO, MEM_SIZE, PAGE_F, EOS, CONT = 0x02, 0x04, 0x08, 0x10, 0x20


def be32(v): return struct.pack(">I", v)
def be64(v): return struct.pack(">Q", v)
def name(s): return bytes([len(s)]) + s.encode()


def header(config=True, subsections=b""):
    out = be32(0x5145564D) + be32(3)
    if config:
        out += b"\x07" + be32(13) + b"pc-i440fx-7.2" + subsections
    return out


def start(sid, idstr, instance, version):
    return b"\x01" + be32(sid) + name(idstr) + be32(instance) + be32(version)


def full(sid, idstr, instance, version):
    return b"\x04" + be32(sid) + name(idstr) + be32(instance) + be32(version)


def footer(sid): return b"\x7e" + be32(sid)


def ram_setup(blocks, addrs=False):
    out = be64(sum(n for _, n in blocks) | MEM_SIZE)
    for b, n in blocks:
        out += name(b) + be64(n) + (be64(0) if addrs else b"")
    return out + be64(EOS)


def zero(block, off, ch=0):
    return be64(off | ZERO) + name(block) + bytes([ch])


def zero_cont(off, ch=0): return be64(off | ZERO | CONT) + bytes([ch])


def page(block, off, fill):
    return be64(off | PAGE_F) + name(block) + bytes([fill]) * PAGE


def page_cont(off, fill): return be64(off | PAGE_F | CONT) + bytes([fill]) * PAGE


def vmdesc(devices):
    text = json.dumps({"page_size": PAGE, "devices": devices},
                      separators=(",", ":")).encode()
    return b"\x06" + be32(len(text)) + text


TIMER = {"name": "timer", "instance_id": 0, "vmsd_name": "timer",
         "version": 2, "fields": [
             {"name": "cpu_ticks_offset", "type": "int64", "size": 8},
             {"name": "unused", "type": "unused_buffer", "size": 8},
             {"name": "cpu_clock_offset", "type": "int64", "size": 8}]}
DEV = {"name": "dev/with/subs", "instance_id": 3, "vmsd_name": "devsubs",
       "version": 1, "fields": [
           {"name": "regs", "array_len": 4, "type": "uint32", "size": 4},
           {"name": "inner", "type": "struct", "size": 7, "struct": {
               "vmsd_name": "inner", "version": 1, "fields": [
                   {"name": "a", "type": "uint8", "size": 1}],
               "subsections": [{"vmsd_name": "inner/x", "version": 1,
                                "fields": []}]}}],
       "subsections": [{"vmsd_name": "devsubs/extra", "version": 2,
                        "fields": [{"name": "b", "type": "bool",
                                    "size": 1}]}]}
OLD = {"name": "oldstyle", "instance_id": 0, "size": 5, "fields": [
    {"name": "data", "type": "buffer", "size": 5}]}


def seed_full():
    blocks = [("pc.ram", 16 * PAGE), ("/rom@etc/x", 2 * PAGE)]
    s = header()
    s += start(2, "ram", 0, 4) + ram_setup(blocks) + footer(2)
    s += b"\x02" + be32(2) + zero("pc.ram", 0) + zero_cont(PAGE)
    s += page_cont(2 * PAGE, 0x11) + zero_cont(3 * PAGE, 0xAA)
    s += page("/rom@etc/x", 0, 0x22) + zero("pc.ram", 2 * PAGE)
    s += be64(EOS) + footer(2)
    s += b"\x03" + be32(2) + zero("pc.ram", 15 * PAGE) + be64(EOS) + footer(2)
    s += full(0, "timer", 0, 2) + bytes(24) + footer(0)
    # "inner" (14 bytes): its field, then its subsection 0x05 len name ver
    dev = json.loads(json.dumps(DEV))
    dev["fields"][1]["size"] = 1 + 1 + 1 + 7 + 4
    body = bytes(16) + b"\x01" + b"\x05" + name("inner/x") + be32(1)
    body += b"\x05" + name("devsubs/extra") + be32(2) + b"\x01"
    s += full(5, "dev/with/subs", 3, 1) + body + footer(5)
    s += full(6, "oldstyle", 0, 1) + b"12345" + footer(6)
    s += b"\x00" + vmdesc([TIMER, dev, OLD])
    return s


def seed_bare():
    """No configuration, footers, devices or VMDESCRIPTION."""
    s = header(config=False)
    s += start(0, "ram", 0, 4) + ram_setup([("mem", 4 * PAGE)])
    s += b"\x02" + be32(0) + zero("mem", 0) + page_cont(PAGE, 0x33)
    s += zero_cont(2 * PAGE) + zero_cont(3 * PAGE) + be64(EOS)
    return s + b"\x00"


def seed_config():
    """Configuration subsections (x-ignore-shared adds block addresses)."""
    subs = (b"\x05" + name("configuration/target-page-bits") + be32(1) +
            be32(12))
    subs += (b"\x05" + name("configuration/capabilities") + be32(1) +
             be32(1) + name("x-ignore-shared"))
    subs += b"\x05" + name("configuration/uuid") + be32(1) + bytes(range(16))
    s = header(subsections=subs)
    s += b"\x08" + struct.pack(">HH", 1, 0)              # OPEN_RETURN_PATH
    s += b"\x08" + struct.pack(">HH", 2, 4) + be32(7)    # PING
    s += start(1, "ram", 0, 4) + ram_setup([("a", PAGE), ("b", PAGE)], True)
    s += footer(1) + b"\x03" + be32(1) + zero("b", 0) + zero("a", 0, 1)
    s += be64(EOS) + footer(1)
    s += b"\x00" + vmdesc([])
    return s


def seed_64k():
    """64 KiB target pages (target-page-bits 16): offsets and pages in them."""
    big = 1 << 16
    subs = b"\x05" + name("configuration/target-page-bits") + be32(1) + be32(16)
    s = header(subsections=subs)
    s += start(1, "ram", 0, 4) + be64(4 * big | MEM_SIZE) + name("pc.ram")
    s += be64(4 * big) + be64(EOS) + footer(1)
    s += b"\x02" + be32(1) + be64(ZERO) + name("pc.ram") + b"\x00"
    s += be64(big | PAGE_F | CONT) + b"\x44" * big
    s += be64(3 * big | ZERO | CONT) + b"\x00" + be64(EOS) + footer(1)
    return s + b"\x00"


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    for n, data in (("seed-full", seed_full()), ("seed-bare", seed_bare()),
                    ("seed-config", seed_config()), ("seed-64k", seed_64k())):
        with open(f"{out}/{n}", "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
