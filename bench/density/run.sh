#!/usr/bin/env bash
# Density benchmark (issue 14, item 7; DESIGN.md section 8): N idle sessions
# (`reins run -q -- sleep 3600`) at once, in a temporary workspace, state and
# runtime directory of their own (the caller's sessions and trails are not
# touched). Targets for 1 000 sessions on 2 cores: all running in < 20 s,
# supervisor + init PSS <= 600 KiB per session, `reins ps` < 200 ms.
#   bench/density/run.sh [PATH_TO_REINS] [N]     (default build/reins, 1000)
#   REINS_BENCH_DENSITY=N                        N from make bench
#   REINS_BENCH_DENSITY_NOBODY=N                 as root: also N sessions as
#                                                nobody (default N/10; 0: skip)
# Prints only; exits 0 whatever it measures.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
reins=${1:-$here/../../build/reins}
count=${2:-${REINS_BENCH_DENSITY:-1000}}
nobody=${REINS_BENCH_DENSITY_NOBODY:-$((count / 10))}

if [[ ! -x $reins ]]; then
	echo "density: no reins binary at $reins"
	exit 0
fi
reins=$(cd "$(dirname "$reins")" && pwd -P)/$(basename "$reins")
((count > 0)) && python3 "$here/density.py" "$reins" "$count"

# unprivileged (user namespaces, no cgroups: rlimits stand in), when this
# shell is root and nobody can reach the binary
if [[ $(id -u) -eq 0 ]] && ((nobody > 0)); then
	bin=$reins
	copy=""
	if ! setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$reins" 2>/dev/null; then
		copy=$(mktemp -d "${TMPDIR:-/tmp}/reins-bench-bin.XXXXXX")
		chmod 755 "$copy"
		cp "$reins" "$copy/reins" && chmod 755 "$copy/reins"
		bin=$copy/reins
	fi
	python3 "$here/density.py" "$bin" "$nobody" --as nobody
	[[ -n $copy ]] && rm -rf "$copy"
fi
exit 0
