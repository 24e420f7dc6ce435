#!/usr/bin/env bash
# Exec-heavy workload (issue 4): 1 000 short processes, unsandboxed, then in
# reins (exec auditing is always on: every execve goes to the supervisor and
# into the trail) with the risk engine on and off. Budget: reins <= 1.3x
# unsandboxed. Medians of several runs.
set -euo pipefail
reins=${1:?usage: exec_heavy.sh PATH_TO_REINS}
runs=${REINS_BENCH_EXEC_RUNS:-7}
ws=$(mktemp -d "${TMPDIR:-/tmp}/reins-exec-bench.XXXXXX")
trap 'rm -rf "$ws"' EXIT
loop='i=0; while [ $i -lt 1000 ]; do /bin/true; i=$((i+1)); done'

median_ms() { # command...
	local samples=()
	for ((n = 0; n < runs; n++)); do
		local t0 t1
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1
		t1=$(date +%s%N)
		samples+=($(((t1 - t0) / 1000000)))
	done
	printf '%s\n' "${samples[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

plain=$(median_ms sh -c "$loop")
mkdir -p "$ws/work" "$ws/state"
printf 'version: 1\nextends: default\nrisk: {engine: off}\n' >"$ws/no-risk.yaml"
audited=$(median_ms env XDG_STATE_HOME="$ws/state" "$reins" run -q -w "$ws/work" -- sh -c "$loop")
no_risk=$(median_ms env XDG_STATE_HOME="$ws/state" "$reins" run -q -p "$ws/no-risk.yaml" \
	-w "$ws/work" -- sh -c "$loop")
if ! env XDG_STATE_HOME="$ws/state" "$reins" run -q -w "$ws/work" -- true; then
	echo "  reins run failed: figures above are not valid"
fi
echo "exec-heavy workload: 1000 execs, median of $runs runs"
printf '  unsandboxed            %6s ms\n' "$plain"
printf '  reins (exec auditing)  %6s ms   ratio %s (budget <= 1.3)\n' "$audited" \
	"$(awk -v a="$audited" -v p="$plain" 'BEGIN { printf "%.2f", a / p }')"
printf '  reins, risk engine off %6s ms   risk engine on/off %s\n' "$no_risk" \
	"$(awk -v a="$audited" -v p="$no_risk" 'BEGIN { printf "%.2f", a / p }')"
