#!/usr/bin/env bash
# Audit trail benchmark (issue 4): events appended and chained per second.
#   bench/audit/run.sh [PATH_TO_REINS] [EVENTS]      (default 200000 events)
# Drives the hidden `reins audit bench N`: N exec-like events into a fresh
# trail in a temporary directory (chain hash, Merkle leaf, a signed
# checkpoint every 1 000 records, batched write()s, final fsync), measured
# for the trail alone (budget >= 200 000 events/s) and through event_emit
# (building and stamping each event too), then the trail is verified.
# Runs in a throw-away HOME so the benchmark's signing key is not yours.
# Prints only; exits 0 whatever it measures.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
reins=${1:-$here/../../build/reins}
events=${2:-${REINS_BENCH_AUDIT_EVENTS:-200000}}
budget=200000

echo
echo "audit trail: $events events appended + chained (budget >= $budget events/s, trail alone)"
if [[ ! -x $reins ]]; then
	echo "  no reins binary at $reins"
	exit 0
fi
home=$(mktemp -d "${TMPDIR:-/tmp}/reins-bench-audit.XXXXXX")
trap 'rm -rf "$home"' EXIT
best=0
for run in 1 2 3; do
	if ! out=$(HOME=$home XDG_CONFIG_HOME=$home/config TMPDIR=$home "$reins" audit bench "$events" 2>&1); then
		echo "  reins audit bench failed: ${out##*$'\n'}"
		exit 0
	fi
	rate=$(sed -n 's/^append (trail): .* = \([0-9]*\) events\/s.*/\1/p' <<<"$out")
	printf '%s\n' "$out" | sed 's/^/  run '"$run"': /'
	((rate > best)) && best=$rate
done
verdict="within budget"
((best >= budget)) || verdict="UNDER BUDGET"
printf '  best of 3: %s events/s   budget >= %s: %s\n' "$best" "$budget" "$verdict"
exit 0
