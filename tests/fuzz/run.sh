#!/usr/bin/env bash
# Run the libFuzzer targets one after the other (the machine's cores are
# shared): BUILD SECONDS [NAME...]. Each target first replays its committed
# corpus (tests/fuzz/corpus/NAME: seeds and the inputs of crashes already
# fixed), then mutates for SECONDS. New inputs go to BUILD/corpus/NAME, so a
# long run continues where the last one stopped; a crash leaves its input in
# BUILD/artifacts/ and fails the run. Prints executions per target.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$1
seconds=$2
shift 2
names=("$@")
if ((${#names[@]} == 0)); then
	for source in tests/fuzz/fuzz_*.c; do
		name=${source#tests/fuzz/fuzz_}
		names+=("${name%.c}")
	done
fi
mkdir -p "$build/artifacts" "$build/logs"
# A small ASan quarantine: with the default 256 MiB, recycling freed memory
# dominates and targets run 5 to 10 times slower; use-after-free is still
# caught within the last 16 MiB of frees, which covers one input.
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
passed=0
failed=0
for name in "${names[@]}"; do
	binary=$build/fuzz/fuzz_$name
	seeds=tests/fuzz/corpus/$name
	work=$build/corpus/$name
	log=$build/logs/$name.log
	mkdir -p "$work"
	options=(-max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$build/artifacts/$name-")
	[[ -f tests/fuzz/$name.dict ]] && options+=(-dict="tests/fuzz/$name.dict")
	start=$SECONDS
	if "$binary" "${options[@]}" "$work" "$seeds" >"$log" 2>&1; then
		status=0
	else
		status=$?
	fi
	executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	elapsed=$((SECONDS - start))
	rate=$((${executions:-0} / (elapsed > 0 ? elapsed : 1)))
	corpus=$(find "$work" -type f | wc -l)
	if ((status == 0)); then
		echo "fuzz $name: ${executions:-0} executions in ${elapsed} s (${rate}/s), corpus $corpus, no crash"
		passed=$((passed + 1))
	else
		echo "fuzz $name: FAILED (exit $status) after ${executions:-?} executions; log $log" >&2
		grep -E '^(INFO: Seed|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written|.*runtime error|.*property does not hold)' "$log" |
			head -n 20 >&2 || tail -n 40 "$log" >&2
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
((failed == 0))
