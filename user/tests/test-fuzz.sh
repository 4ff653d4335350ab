#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The stream parser's libFuzzer target: the kept corpus (seeds and crashers
# found earlier) replays cleanly, then FUZZ_SECONDS (default 45) of fuzzing
# find no crash.  A crash leaves build/fuzz/artifacts/crash-*: fix the
# parser, then keep the input as user/replay/corpus/crash-<what>.
# TAP: the plan first, then one "ok - "/"not ok - " line per check.
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-45}
out=build/fuzz
# The checks below, one result call each (a check that never reports counts
# as a failure against this plan).
plan=4
echo "1..$plan"
mkdir -p "$out/corpus" "$out/artifacts"
rc=0 ran=0
result() {	# result STATUS NAME [LOG]
	ran=$((ran + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok - $2"
	else
		[ -n "${3:-}" ] && tail -n 30 "$3" | sed 's/^/# /'
		echo "not ok - $2"
		rc=1
	fi
}

make -s -C user/replay fuzz >"$out/build.log" 2>&1
result $? "fuzz: libFuzzer target builds (clang -fsanitize=fuzzer,address,undefined)" \
	"$out/build.log" || true
if ! [ -x user/replay/fuzz_stream ]; then	# the rest cannot run
	echo "# no user/replay/fuzz_stream: the checks that need it fail"
	for name in "kept inputs (seeds, crashers) replay without a crash" \
		"sz-replay --info on every kept input exits 0 or 1" \
		"stream parser fuzzed ${secs} s, no crash, leak or hang"; do
		result 1 "fuzz: $name"
	done
	exit 1
fi

corpus=(user/replay/corpus/seed-* user/replay/corpus/crash-*)
corpus=($(ls -d "${corpus[@]}" 2>/dev/null))
user/replay/fuzz_stream "${corpus[@]}" >"$out/regress.log" 2>&1
result $? "fuzz: ${#corpus[@]} kept inputs (seeds, crashers) replay without a crash" \
	"$out/regress.log"

bad=0
for f in "${corpus[@]}"; do
	user/replay/sz-replay --info "$f" >/dev/null 2>"$out/info.err"
	s=$?
	if [ $s -gt 1 ]; then
		echo "# sz-replay --info $f: exit $s"
		bad=1
	fi
done
result $bad "fuzz: sz-replay --info on every kept input exits 0 or 1"

rm -f "$out"/artifacts/*
user/replay/fuzz_stream -max_total_time="$secs" -max_len=16384 -timeout=10 \
	-rss_limit_mb=1024 -artifact_prefix="$out/artifacts/" -print_final_stats=1 \
	"$out/corpus" user/replay/corpus >"$out/fuzz.log" 2>&1
s=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz.log")
if ls "$out"/artifacts/* >/dev/null 2>&1; then
	ls "$out"/artifacts/ | sed 's/^/# found: /'
	s=1
fi
result $s "fuzz: stream parser fuzzed ${secs} s (${runs:-?} inputs), no crash, leak or hang" \
	"$out/fuzz.log"
if [ $ran != $plan ]; then
	echo "# test-fuzz.sh: plan $plan but $ran checks ran: fix plan="
	rc=1
fi
exit $rc
