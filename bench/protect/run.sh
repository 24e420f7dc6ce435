#!/usr/bin/env bash
# Renames under protected paths (issue 13 item 10), called by bench/run.sh.
# With protected paths in the plan (direct mode: always, with the default
# preset), every rename of the sandbox goes to the supervisor, which answers
# EROFS for a protected path and lets every other rename go on
# (src/sandbox/protect_notify.c). Measured: 10 000 renames of a file back and
# forth, nanoseconds per rename, median of RUNS runs:
#   outside   no sandbox;
#   inside    `reins run -p default` in a git repository (names no protected
#             path has: the supervisor looks at the last name only);
#   config    inside, renaming sub/config.tmp <-> sub/config (named like
#             .git/config: both names are resolved in the sandbox's view);
#   overlay   inside with --workspace-mode overlay (no protected mounts, so
#             renames are not watched: the baseline of the sandbox itself).
#
#   bench/protect/run.sh [PATH_TO_REINS]     REINS_BENCH_RENAMES=10000 REINS_BENCH_RENAME_RUNS=5
#
# Only prints; exits 0 whatever it measures.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)
reins=${1:-$repo/build/reins}
count=${REINS_BENCH_RENAMES:-10000}
runs=${REINS_BENCH_RENAME_RUNS:-5}

echo
echo "renames: $count renames of one file, ns per rename (median of $runs runs)"
if [[ ! -x $reins ]]; then
	echo "  no reins binary at $reins"
	exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/reins-bench-rename.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
export XDG_STATE_HOME=$tmp/state
ws=$tmp/ws
mkdir -p "$ws/sub"
if ! cc -O2 -o "$ws/renames" "$here/renames.c"; then
	echo "  cannot compile bench/protect/renames.c"
	exit 0
fi
git -C "$ws" init -q . 2>/dev/null
cd "$ws" || exit 0

median() {
	sort -n | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]; else print "failed"}'
}

measure() { # COMMAND...: the median ns per rename
	for _ in $(seq "$runs"); do "$@" 2>/dev/null; done | median
}

outside=$(measure ./renames "$count" bench-a bench-b)
inside=$(measure "$reins" run -q -p default -w "$ws" -- ./renames "$count" bench-a bench-b)
config=$(measure "$reins" run -q -p default -w "$ws" -- ./renames "$count" sub/config.tmp sub/config)
overlay=$(measure "$reins" run -q -p default --workspace-mode overlay -w "$ws" -- \
	./renames "$count" bench-a bench-b)
printf '  %-8s %8s ns\n' outside "$outside" inside "$inside" config "$config" overlay "$overlay"
if [[ $outside =~ ^[0-9]+$ && $inside =~ ^[0-9]+$ && $config =~ ^[0-9]+$ ]]; then
	awk -v o="$outside" -v i="$inside" -v c="$config" 'BEGIN {
		printf "  inside/outside %.1fx (+%.1f us per rename), config/outside %.1fx (+%.1f us)\n",
			i / o, (i - o) / 1000, c / o, (c - o) / 1000 }'
fi
exit 0
