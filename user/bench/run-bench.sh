#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Every benchmark of make bench, in one VM (scripts/vm-run --mem 4096 --
# user/bench/run-bench.sh STREAM_DIR PATCHED_QEMU [REPEATS]).  Raw results,
# one JSON object per line and per run, go to $SZ_OUT/*.jsonl (scale.json
# for the migration); user/bench/report.py turns them into the report.
set -u
cd "$(dirname "$0")/../.." || exit 1
streams=${1:?stream dir}
qemu=${2:?patched qemu}
reps=${3:-3}
out=${SZ_OUT:?run me under scripts/vm-run}
replay=user/replay/sz-replay
thp=/sys/kernel/mm/transparent_hugepage/shmem_enabled
status=0

step() { echo "bench: $* ($(cut -d' ' -f1 /proc/uptime) s)"; }

# run NAME CMD...: CMD's JSON lines, tagged with the scenario, to zero.jsonl
run() {
	name=$1
	shift
	step "$name"
	"$@" --json | sed "s/^{/{\"scenario\":\"$name\",/" >>"$out/zero.jsonl"
}

rm -f "$out"/*.jsonl "$out/scale.json"
dmesg -n 1	# the scale step's cgroup OOM kills are expected: dmesg only
{
	printf '{"kernel":"%s","cpus":%s,"mem_total_kb":%s,' "$(uname -r)" \
		"$(nproc)" "$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
	printf '"cpu":"%s","clocksource":"%s","shmem_thp_default":"%s",' \
		"$(sed -n 's/^model name\t: //p' /proc/cpuinfo | head -n1)" \
		"$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)" \
		"$(sed 's/.*\[\(.*\)\].*/\1/' $thp)"
	printf '"repeats":%s,"module_loaded":%s}\n' "$reps" \
		"$([ -e /dev/shmem_zero ] && echo true || echo false)"
} >"$out/env.json"

step "physical limit"
user/bench/sz_limit_bench --json 5 >"$out/limit.jsonl" || status=1

# Zero-page handling: synthetic 256 MiB streams with random data pages (so
# zero runs are fragmented), empty and pre-filled destinations.
for pct in 1 50; do
	run "empty-$pct" $replay --synthetic 256M,$pct --repeat "$reps" \
		--prefill none || status=1
	run "prefilled-$pct" $replay --synthetic 256M,$pct --repeat "$reps" \
		--prefill 0xaa || status=1
done
# shmem THP on for every shmem mapping and write (not the default "never").
old=$(sed 's/.*\[\(.*\)\].*/\1/' $thp)
echo always >$thp
run thp-empty-1 $replay --synthetic 256M,1 --repeat "$reps" --prefill none ||
	status=1
run thp-prefilled-1 $replay --synthetic 256M,1 --repeat "$reps" \
	--prefill 0xaa || status=1
echo "$old" >$thp
# 1 TiB, 0.01 % data: 268 M zero page records.  stock would allocate 1 TiB,
# madvise-dontneed make 268 M syscalls, mincore look up 268 M pages (its
# per-page cost is in limit.jsonl): not run.  One repetition.
run sparse-1t $replay --synthetic 1T,0.01 --prefill none \
	--strategy punch,madv-remove,seek-data,lib,lib-fallback,lib-runs,skip ||
	status=1
# The stream recorded from Debian's QEMU (user/tests/record-stream.py).
run recorded $replay --repeat "$reps" --prefill none --prefill 0xaa \
	--source "$streams/source.img" "$streams/stream" || status=1

step "DISCARD vectors"
for step in 2 0; do
	user/bench/sz_frag_bench --json 100000 "$reps" $step >>"$out/frag.jsonl" ||
		status=1
done
step "RECLAIM"
user/bench/sz_reclaim_bench --json 1024 "$reps" >"$out/reclaim.jsonl" || status=1
step "QUERY"
user/bench/sz_query_bench --json 256 "$reps" >"$out/query.jsonl" || status=1
step "scale"
python3 user/bench/scale.py --patched "$qemu" --json "$out/scale.json" || status=1
step "done (status $status)"
exit $status
