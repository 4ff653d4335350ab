#!/bin/bash
# shmemzerod(8) in the VM (module loaded, as root, no systemd): a TAP plan,
# then one line per check.  A holder (tests/holder, run as "sz-vm-holder" so
# that the exe selector finds it) keeps 256 MiB of memfd populated, writes
# data to a quarter of it and keeps writing to, reading back and zeroing
# pages of its first 16th until it is stopped: after the daemon has run for
# at least 60 s and returned half of the file (on a debug kernel, RECLAIM's
# first pass takes minutes), then exits.  Three holders of 64 MiB: one
# selected by cgroup (/sz-test.slice) and started after the daemon, one
# selected by name but paused by its pause file until that is removed, and
# one in /sz-test.slice-b, not selected.  At the end two more of 64 MiB,
# selected by name, let go of their memfd as QEMU does of an unplugged
# memory backend while they live on: one unmaps it and closes its fd (every
# page holds data; it runs in a memory cgroup of its own, /sz-test.drop), so
# the daemon must close its copy, and the file's memory comes back; the
# other closes its fd but keeps the mapping, so the daemon keeps the file
# and reclaims it still.
# Usage: user/tool/tests/daemon.sh (from the repository root).
set -uo pipefail
daemon=${SHMEMZEROD:-user/tool/shmemzerod}
tool=${SHMEMZERO:-user/tool/shmemzero}
holder=user/tool/tests/holder
plan=23
echo "1..$plan"
t() {	# t NAME CMD...: pass when CMD succeeds
	local name=$1
	shift
	if "$@"; then echo "ok - shmemzerod: $name"; else echo "not ok - shmemzerod: $name"; fi
}
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
kb() { echo $(($(stat -L -c %b "$1") / 2)); }	# a file's 512-byte blocks
blocks_kb() { kb "/proc/$1/fd/$2"; }
wait_below() {	# wait_below FILE KB: up to 5 minutes for fewer blocks; prints them
	local _
	for _ in $(seq 3000); do
		[ "$(kb "$1")" -lt "$2" ] && break
		sleep 0.1
	done
	kb "$1"
}
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }	# utime + stime
metric() { awk -v m="$1" '$1 == m { print $2 }' "$w/metrics.prom"; }
logged() {	# logged PATTERN: up to 2 minutes for the daemon's line
	local _
	for _ in $(seq 1200); do grep -q "$1" "$w/log" && return 0; sleep 0.1; done
	return 1
}
until_pass() {	# until_pass N [PATTERN]: up to 2 minutes for N passes (or the line)
	local _
	for _ in $(seq 1200); do
		[ -n "${2:-}" ] && grep -q "$2" "$w/log" && return
		[ "$(metric shmemzerod_passes_total)" -ge "$1" ] 2>/dev/null && return
		sleep 0.1
	done
}
w=$(mktemp -d /tmp/szd.XXXXXX)
chmod 755 "$w"
cp "$holder" "$w/sz-vm-holder"
cg=/sys/fs/cgroup
cg_kb() { local b; b=$(cat "$cg/$1/memory.current") || b=0; echo $((b / 1024)); }
cleanup() {
	kill -9 ${hpid:-} ${bpid:-} ${cpid:-} ${gpid:-} ${upid:-} ${kpid:-} ${dpid:-} 2>/dev/null
	sleep 0.2
	rmdir "$cg/sz-test.slice/vm" "$cg/sz-test.slice" "$cg/sz-test.slice-b" \
		"$cg/sz-test.drop" 2>/dev/null
	rm -rf "$w"
}
trap cleanup EXIT
printed() {	# printed OUT [PATTERN]: up to 30 s for a holder's line in OUT
	for _ in $(seq 300); do grep -q "${2:-.}" "$1" 2>/dev/null && break; sleep 0.1; done
}
start_holder() {	# start_holder OUT CMD...: pid and fd of the memfd in OUT
	local out=$1
	shift
	"$@" >"$out" &
	printed "$out"
}

# The module is required: refused with a message (no /dev/shmem_zero in a
# mount namespace of its own).
printf 'exe = sz-vm-*\n' >"$w/conf"
unshare -m sh -c "mount -t tmpfs none /dev && exec $daemon --config $w/conf --once" 2>"$w/err"
rc=$?
t "refuses to start without the module: exit 3 and a message" \
	sh -c "[ $rc = 3 ] && grep -q 'module shmem_zero not loaded' $w/err"
printf 'exe = sz-vm-*\nwindow = 3K\n' >"$w/bad"
$daemon --config "$w/bad" --once 2>"$w/err"
rc=$?
t "a bad setting: exit 2 and the line" sh -c "[ $rc = 2 ] && grep -q 'bad:2: bad setting' $w/err"

# cgroups: /sz-test.slice/vm is selected; /sz-test.slice-b is not (a
# prefix of the path's components, not of its characters)
mountpoint -q $cg || mount -t cgroup2 none $cg
mkdir -p $cg/sz-test.slice/vm $cg/sz-test.slice-b
cp "$holder" "$w/sz-vm-\"paused\""	# a quote in a label value
start_holder "$w/a" "$w/sz-vm-holder" 256 100000 1
hpid=$!
start_holder "$w/b" "$holder" 64 100000
bpid=$!
start_holder "$w/c" "$w/sz-vm-\"paused\"" 64 100000
cpid=$!
read -r apid afd <"$w/a"
read -r bpid_ bfd <"$w/b"
read -r cpid_ cfd <"$w/c"
echo "$bpid_" >$cg/sz-test.slice-b/cgroup.procs
touch "$w/pause.$cpid_"
a0=$(blocks_kb "$apid" "$afd") b0=$(blocks_kb "$bpid_" "$bfd")
c0=$(blocks_kb "$cpid_" "$cfd")
echo "# holders: pid $apid ($a0 kB), pid $bpid_ ($b0 kB, not selected)," \
	"pid $cpid_ ($c0 kB, paused)"

# An unprivileged daemon cannot take root's fds: a pass frees nothing.
printf 'pid = %s\n' "$apid" >"$w/nobody.conf"
nobody $daemon --config "$w/nobody.conf" --once 2>"$w/err"
rc=$?
a1=$(blocks_kb "$apid" "$afd")
echo "# unprivileged: exit $rc, $(tr '\n' ' ' <"$w/err")"
t "unprivileged: root's process is not touched, and it says why" \
	sh -c "[ $rc = 0 ] && [ $a1 -ge $((a0 - 4096)) ] && grep -Eq 'pid $apid .*(Permission denied|not permitted)' $w/err"

# The daemon: 20 % of a core, a pass a second; a back-off of at most 3
# passes, so that the holder's written windows are reclaimed (raced) often.
cat >"$w/conf" <<EOF
# the test's daemon
exe = sz-vm-*
cgroup = /sz-test.slice
cpu_percent = 20
pages_per_second = 1000000
window = 2M
interval = 1
backoff_max = 2
metrics = $w/metrics.prom
pause_file = $w/pause
EOF
$daemon --config "$w/conf" 2>"$w/log" &
dpid=$!
# a VM that starts while the daemon runs, in the selected cgroup, as a
# launcher starts one: the daemon selects its shell (comm "sh"), which
# execs only then; the daemon must follow the new name ("holder", below)
sh -c "echo \$\$ >$cg/sz-test.slice/vm/cgroup.procs &&
	while [ ! -e $w/go ]; do sleep 0.1; done && exec $holder 64 100000" >"$w/g" &
gpid=$!
logged "pid $gpid (sh): selected"
touch "$w/go"
printed "$w/g"
read -r gpid_ gfd <"$w/g"
g0=$((64 * 1024))	# populated whole before it printed; the daemon may be at it
echo "# holder started after the daemon: pid $gpid_ ($(blocks_kb "$gpid_" "$gfd") kB now, by cgroup)"
t0=$(date +%s.%N) s0=$SECONDS
# 3/4 of the pages are zero, a 16th of them churned: about 80 MiB stay.
# At least 60 s of writes against the daemon; at most 15 minutes.
while :; do
	sleep 1
	a2=$(blocks_kb "$apid" "$afd")
	(( (SECONDS - s0 >= 60 && a2 < a0 / 2) || SECONDS - s0 >= 900 )) && break
done
el_a=$((SECONDS - s0))
echo "# holder's memfd after $el_a s: $a2 kB of $a0"
t "the selected process's zero pages are returned (under half left)" \
	test "$a2" -lt $((a0 / 2))
# the metrics, written every 10 s and after each pass, while it runs
series="shmemzerod_pages_freed_total{pid=\"$apid\",comm=\"sz-vm-holder\"}"
for _ in $(seq 30); do
	sleep 1
	[ -e "$w/metrics.prom" ] && [ "$(metric "$series")" -ge $(((a0 - a2) / 4)) ] 2>/dev/null && break
done
freed=$(metric "$series")
echo "# daemon: freed ${freed:-?} pages of the holder, $(metric shmemzerod_passes_total) passes"
t "metrics count them: pages freed >= what the file lost" \
	test "${freed:-0}" -ge $(((a0 - a2) / 4))
t "metrics: a per-VM series for the holder, written by rename" \
	sh -c "[ -n '$freed' ] && [ ! -e $w/metrics.prom.tmp ]"
# the holder's first 16th is allocated into all the time, the cgroup
# holder's zero pages never are
skipped=$(metric "shmemzerod_pages_skipped_total{pid=\"$apid\",comm=\"sz-vm-holder\"}")
written=$(metric "shmemzerod_windows_written_total{pid=\"$apid\",comm=\"sz-vm-holder\"}")
gwritten=$(metric "shmemzerod_windows_written_total{pid=\"$gpid_\",comm=\"holder\"}")
echo "# back-off: the holder's ${skipped:-?} pages skipped, ${written:-?} windows found written; the cgroup holder's ${gwritten:-?}"
t "a process selected before its exec is known by its new name" \
	grep -q "pid $gpid (sh): now holder" "$w/log"
t "back-off: QUERY finds the windows written since their last look, and only those" \
	sh -c "[ ${written:-0} -gt 0 ] && [ '$gwritten' = 0 ]"
"$tool" stat --json --metrics "$w/metrics.prom" >"$w/stat.json"
t "shmemzero stat shows the daemon's metrics: the holder, pages freed, a quoted comm" \
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))["daemon"]
vm = {v["pid"]: v for v in d["vms"]}
a, c = vm.get(int(sys.argv[2]), {}), vm.get(int(sys.argv[4]), {})
sys.exit(not (a.get("comm") == "sz-vm-holder" and c.get("comm") == "sz-vm-\"paused\"" and
	      a["pages_freed_total"] >= int(sys.argv[3]) and d["total"]["vms"] == 3))' \
	"$w/stat.json" "$apid" "$freed" "$cpid_"
g1=$(blocks_kb "$gpid_" "$gfd")
t "the process selected by cgroup is reclaimed ($g0 -> $g1 kB)" test "$g1" -lt $((g0 / 2))
c1=$(blocks_kb "$cpid_" "$cfd")
t "the paused process is untouched ($c0 -> $c1 kB)" test "$c1" -ge "$c0"
rm "$w/pause.$cpid_"
c2=$(wait_below "/proc/$cpid_/fd/$cfd" $((c0 / 2)))
t "its pause file removed, it is reclaimed ($c0 -> $c2 kB)" test "$c2" -lt $((c0 / 2))
kill -TERM "$hpid"
wait "$hpid"
hrc=$?
echo "# holder: $(tail -n1 "$w/a")"
t "the holder's checks: 0 lost writes, 0 wrong pages over $el_a s" test "$hrc" = 0
b1=$(blocks_kb "$bpid_" "$bfd")
t "the process not selected is untouched ($b0 -> $b1 kB)" test "$b1" -ge "$b0"
for _ in $(seq 300); do	# 30 s
	grep -q "pid $apid (sz-vm-holder): exited" "$w/log" &&
		[ "$(metric shmemzerod_vms)" = 2 ] && break
	sleep 0.1
done
t "an exited process is dropped: logged, 2 VMs left in the metrics" \
	sh -c "grep -q 'pid $apid (sz-vm-holder): exited' $w/log && [ '$(metric shmemzerod_vms)' = 2 ]"

# CPU: the daemon's utime + stime against its budget, plus 10 %.
cpu=$(ticks "$dpid") hz=$(getconf CLK_TCK)
el=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
echo "# daemon CPU: $(awk -v c="$cpu" -v h="$hz" 'BEGIN { printf "%.2f", c / h }') s in $el s (budget 20 %)"
t "CPU within its budget + 10 %" \
	awk -v c="$cpu" -v h="$hz" -v e="$el" 'BEGIN { exit !(c / h <= e * 0.20 * 1.1) }'

# SIGHUP: the process selected by pid now, the daemon goes on.
printf 'pid = %s\n' "$bpid_" >>"$w/conf"
kill -HUP "$dpid"
b2=$(wait_below "/proc/$bpid_/fd/$bfd" $((b0 / 2)))
t "SIGHUP rereads the file: the newly selected process is reclaimed ($b0 -> $b2 kB)" \
	sh -c "[ $b2 -lt $((b0 / 2)) ] && grep -q 'reloaded' $w/log && kill -0 $dpid"
printf 'window = 3K\n' >>"$w/conf"
kill -HUP "$dpid"
sleep 2
t "SIGHUP with a bad file keeps the old settings and runs on" \
	sh -c "grep -q 'not reloaded' $w/log && kill -0 $dpid"

# Letting go of a file (QEMU unplugging a memory backend), the process
# living on: unmapped and closed, the file is the daemon's alone, which must
# close it within a few passes, or its memory stays until the process
# exits.  Every page of it holds data (the daemon frees none): its cgroup's
# memory.current falls by the file's size.  Closed but mapped, it is still
# the process's: watched and reclaimed on.
cp "$holder" "$w/sz-vm-unplug"
cp "$holder" "$w/sz-vm-close"
echo +memory >$cg/cgroup.subtree_control
mkdir -p $cg/sz-test.drop
sh -c "echo \$\$ >$cg/sz-test.drop/cgroup.procs && exec $w/sz-vm-unplug 64 100000 unplug" >"$w/u" &
upid=$!
start_holder "$w/k" "$w/sz-vm-close" 64 100000 close
kpid=$!
printed "$w/u"
logged "pid $upid (sz-vm-unplug): watching"
read -r _ kfd <"$w/k"
k0=$(wait_below "/proc/$kpid/fd/$kfd" $((65536 / 2)))	# reclaimed once
m0=$(cg_kb sz-test.drop)
s0=$(awk '$1 == "Shmem:" { print $2 }' /proc/meminfo)
kill -USR1 "$upid" "$kpid"
printed "$w/u" '^unplugged'
printed "$w/k" '^closed'
p0=$(metric shmemzerod_passes_total)
until_pass $((p0 + 5)) "pid $upid (sz-vm-unplug): dropped"
m1=$(cg_kb sz-test.drop)
s1=$(awk '$1 == "Shmem:" { print $2 }' /proc/meminfo)
echo "# unplugged: cgroup memory.current $m0 -> $m1 kB, Shmem $s0 -> $s1 kB," \
	"$(($(metric shmemzerod_passes_total) - p0)) passes"
t "a file unmapped and closed by its process is dropped (logged)" \
	grep -q "pid $upid (sz-vm-unplug): dropped" "$w/log"
t "its memory comes back: the process's cgroup $m0 -> $m1 kB (file 65536 kB)" \
	test $((m0 - m1)) -ge $((65536 * 15 / 16))
# the holder read in again every page the daemon had freed: those must be
# freed again, through the daemon's copy of the fd
read -r _ range again _ < <(grep '^closed' "$w/k")
k1=$(wait_below "/proc/$kpid/map_files/${range%,}" $((65536 / 2)))
until_pass $((p0 + 5))
echo "# closed, still mapped: $k0 kB, ${again:-?} pages read in again, -> $k1 kB"
t "a file closed but still mapped stays watched: reclaimed again, not dropped" \
	sh -c "[ ${again:-0} -gt 0 ] && [ $k1 -lt $((65536 / 2)) ] && ! grep -q 'pid $kpid .*dropped' $w/log"

# SIGTERM: a clean exit, soon, with the last metrics.
kill -TERM "$dpid"
for _ in $(seq 100); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
wait "$dpid"
drc=$?
dpid=
t "SIGTERM: exit 0 within 10 s, final metrics written" \
	sh -c "[ $drc = 0 ] && grep -q stopped $w/log && grep -q '^shmemzerod_vms ' $w/metrics.prom"
hrc=0
for p in "$bpid" "$cpid" "$gpid" "$upid" "$kpid"; do
	kill -TERM "$p"
	wait "$p" || hrc=1
done
t "the other holders' data is intact" test $hrc = 0
sed 's/^/# log: /' "$w/log" | head -20
grep -E 'sz-vm-(unplug|close)' "$w/log" | sed 's/^/# log: /'
