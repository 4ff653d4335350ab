#!/bin/bash
# shmemzero(8) in the VM (module loaded, as root): a TAP plan, then one
# "ok - "/"not ok - " line per check.  Usage: user/tool/tests/run.sh (from the
# repository root).
set -uo pipefail
tool=${SHMEMZERO_TOOL:-user/tool/shmemzero}
holder=user/tool/tests/holder
# The checks below, one t call each: the plan, printed first, so a check that
# never reports counts as a failure.  Keep it equal to the number of t calls.
plan=26
echo "1..$plan"
fails=0 ran=0
t() {	# t NAME CMD...: pass when CMD succeeds
	local name=$1
	shift
	ran=$((ran + 1))
	if "$@"; then echo "ok - shmemzero: $name"; else echo "not ok - shmemzero: $name"; fails=$((fails + 1)); fi
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
kb() { awk -v k="$1:" '$1 == k { print $2 }' "${2:-/proc/meminfo}"; }
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

# Counters move by exactly what known operations did.
$tool reset
f=/dev/shm/sz-tool-test
rm -f $f
head -c $((4 << 20)) /dev/urandom >$f		# 1024 data pages
truncate -s $((16 << 20)) $f				# + 3072 holes
s=$($tool stat --json)
t "stat --json parses, zero after reset" test "$(json "d['modes']['query']['calls'] + d['pages']['data_pages']" <<<"$s")" = 0
q=$($tool query $f --json)
t "query --json parses and counts the file" test "$(json "(d['data'], d['hole'], d['zero'])" <<<"$q")" = "(1024, 3072, 0)"
s=$($tool stat --json)
# Two calls: libshmemzero probes the device with an empty vector first.
t "counters moved by exactly one QUERY of 16 MiB" test "$(json "(d['modes']['query']['calls'], d['modes']['query']['ranges'], d['modes']['query']['bytes'], d['pages']['data_pages'], d['pages']['hole_pages'])" <<<"$s")" = "(2, 1, 16777216, 1024, 3072)"
$tool discard $f --offset 0 --length 1M >/dev/null
s=$($tool stat --json)
t "discard of 1 MiB frees 256 pages, counted" test "$(json "(d['pages']['freed_pages'], d['modes']['discard']['bytes'])" <<<"$s")" = "(256, 1048576)"
t "stat table prints" sh -c "$tool stat | grep -q '^reclaim'"
# --watch 2: reads two lines as they come (a hang fails after 30 s, no retry).
# sleep(2) between them means >= 2 s from the start and, unless this reader
# stalls a whole second, >= 1 s between their arrivals; and it keeps going.
watch_check() {
	python3 - "$tool" <<'PY'
import json, signal, subprocess, sys, time
def hang(*_):
    raise TimeoutError("no second line within 30 s")
signal.signal(signal.SIGALRM, hang)
signal.alarm(30)
t0 = time.monotonic()
p = subprocess.Popen([sys.argv[1], "stat", "--json", "--watch", "2"],
                     stdout=subprocess.PIPE, text=True)
why = []
try:
    l1 = p.stdout.readline(); t1 = time.monotonic()
    l2 = p.stdout.readline(); t2 = time.monotonic()
    signal.alarm(0)
    for n, l in (1, l1), (2, l2):
        try:
            if "modes" not in json.loads(l):
                why.append(f"line {n} has no counters: {l!r}")
        except ValueError:
            why.append(f"line {n} is not JSON: {l!r}")
    if t2 - t1 < 1.0 or t2 - t0 < 2.0:
        why.append(f"second line {t2 - t1:.2f} s after the first, "
                   f"{t2 - t0:.2f} s after the start: not every 2 s")
    try:
        p.wait(timeout=0.5)
        why.append(f"exited ({p.returncode}) after two lines")
    except subprocess.TimeoutExpired:
        pass
except TimeoutError as e:
    why.append(str(e))
finally:
    p.kill()
    p.wait()
for w in why:
    print(f"# stat --watch: {w}")
sys.exit(1 if why else 0)
PY
}
t "stat --json --watch 2 repeats: JSON lines 2 s apart, still running" watch_check

# RESET and GET need CAP_NET_ADMIN (in the initial user namespace).
nobody $tool reset 2>/tmp/err; rc=$?
t "reset without CAP_NET_ADMIN: exit 4 and a message" sh -c "[ $rc = 4 ] && grep -q 'permission denied (needs CAP_NET_ADMIN)' /tmp/err"
nobody $tool stat 2>/tmp/err; rc=$?
t "stat without CAP_NET_ADMIN: exit 4 and a message" sh -c "[ $rc = 4 ] && grep -q 'permission denied (needs CAP_NET_ADMIN)' /tmp/err"

# Reclaim a live process's read-faulted zero pages while it writes.
$holder 64 120 >/tmp/holder.out &
hpid=$!
for _ in $(seq 300); do [ -s /tmp/holder.out ] && break; sleep 0.1; done
read -r pid fd </tmp/holder.out
rss0=$(kb RssShmem /proc/$pid/status) shm0=$(kb Shmem)
qf=$($tool query --pid $pid --fd $fd --json)
qd=$($tool query /proc/$pid/fd/$fd --json 2>/dev/null || echo '{}')
t "query --pid matches QUERY on the file" sh -c "[ '$(json "(d['zero'], d['data'], d['hole'])" <<<"$qf")' = '(12288, 4096, 0)' ] && [ '$(json "(d['zero'], d['data'], d['hole'])" <<<"$qd")' = '(12288, 4096, 0)' ]"
t "query --pid lists the memfd" sh -c "$tool query --pid $pid | grep -q 'memfd:guest-ram'"
dry=$($tool reclaim --pid $pid --fd $fd --dry-run --json)
t "reclaim --dry-run frees nothing, reports 12288 candidates" sh -c "[ \"$(json "d['would_free']" <<<"$dry")\" = 12288 ] && [ $(kb RssShmem /proc/$pid/status) -ge $((rss0 - 1024)) ]"
r=$($tool reclaim --pid $pid --fd $fd --json)
freed=$(json "d['freed']" <<<"$r")
rss1=$(kb RssShmem /proc/$pid/status) shm1=$(kb Shmem)
echo "# reclaim freed $freed pages; RssShmem $rss0 -> $rss1 kB, Shmem $shm0 -> $shm1 kB"
t "reclaim frees the zero pages of a writing process" test "$freed" -ge $((12288 - 64))
t "its RssShmem and the system's Shmem drop by as much" sh -c "[ $((rss0 - rss1)) -ge $((freed * 4 - 1024)) ] && [ $((shm0 - shm1)) -ge $((freed * 4 - 4096)) ]"
kill -TERM $hpid
wait $hpid; hrc=$?
echo "# holder: $(tail -n1 /tmp/holder.out)"
t "the process's data is intact (0 wrong pages)" test $hrc = 0

# Long work shows a progress bar on stderr when stderr is a terminal
# (script(1) gives a pty), and never on stdout, which stays parseable.
g=/dev/shm/sz-tool-big
truncate -s 512M $g
script -qec "$tool reclaim $g >/dev/null" /dev/null >/tmp/tty.out
t "reclaim with stderr on a TTY shows a progress bar to 100%" grep -q 'reclaim \[#*\] 100%' /tmp/tty.out
script -qec "$tool reclaim $g --json 2>/dev/null" /dev/null >/tmp/tty-json.out
t "no progress bar on stdout, even on a TTY: --json parses" sh -c "! grep -q '%' /tmp/tty-json.out && tr -d '\\r' </tmp/tty-json.out | python3 -c 'import json, sys; json.load(sys.stdin)'"
$tool reclaim $g 2>/tmp/notty.err >/dev/null
t "no progress bar when stderr is not a TTY" sh -c "! grep -q '%' /tmp/notty.err"
rm -f $g

# Permissions and bad arguments: message and exit code each.
$holder 4 120 >/tmp/holder2.out &
h2=$!
for _ in $(seq 300); do [ -s /tmp/holder2.out ] && break; sleep 0.1; done
read -r pid2 fd2 </tmp/holder2.out
nobody $tool query --pid $pid2 --fd $fd2 2>/tmp/err; rc=$?
t "non-root against root's process: exit 4" sh -c "[ $rc = 4 ] && grep -q 'not permitted' /tmp/err"
nobody $tool query --pid $pid2 2>/tmp/err; rc=$?
t "non-root listing root's process's memfds: exit 4, not 1" sh -c "[ $rc = 4 ] && grep -q 'denied' /tmp/err"
kill -TERM $h2
wait $h2
$tool query --pid 999999 --fd 3 2>/tmp/err; rc=$?
t "no such process: exit 5" sh -c "[ $rc = 5 ] && grep -q 'No such process' /tmp/err"
$tool query --pid $$ --fd 999 2>/tmp/err; rc=$?
t "no such fd: exit 5" sh -c "[ $rc = 5 ] && grep -q 'Bad file descriptor' /tmp/err"
echo x >/var/tmp/sz-not-tmpfs
$tool reclaim /var/tmp/sz-not-tmpfs 2>/tmp/err; rc=$?
t "file not on tmpfs: exit 6" sh -c "[ $rc = 6 ] && grep -q 'not a tmpfs file' /tmp/err"
$tool query 2>/tmp/err; rc=$?
t "missing FILE/--pid: exit 2" sh -c "[ $rc = 2 ] && grep -q 'needs a FILE' /tmp/err"
$tool reclaim $f --length 0 2>/tmp/err; rc=$?
t "bad option value: exit 2" sh -c "[ $rc = 2 ] && grep -q 'bad value' /tmp/err"
$tool frobnicate $f 2>/tmp/err; rc=$?
t "unknown command: exit 2" sh -c "[ $rc = 2 ] && grep -q 'usage' /tmp/err"
rmmod shmem_zero
$tool stat 2>/tmp/err; rc1=$?
$tool reclaim $f 2>/tmp/err2; rc2=$?
insmod "$SHMEM_ZERO_KO"
t "module not loaded: exit 3 (stat and reclaim)" sh -c "[ $rc1 = 3 ] && [ $rc2 = 3 ] && grep -q 'not loaded' /tmp/err && grep -q 'not loaded' /tmp/err2"
rm -f $f /var/tmp/sz-not-tmpfs
if [ $ran != $plan ]; then
	echo "# run.sh: plan $plan but $ran checks ran: fix plan="
	fails=$((fails + 1))
fi
exit $((fails > 0))
