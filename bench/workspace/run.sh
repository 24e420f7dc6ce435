#!/usr/bin/env bash
# Copy-on-write workspace benchmarks (issue 5), called by bench/run.sh:
#   1. `reins diff` on a 100 000-file tree with 100 changes. Budget: < 1 s.
#   2. `reins apply` of 1 000 changed files (4 KiB each), --force so each
#      round can restore the host tree first.
#   3. start-up (until the command runs) and the whole run, with the overlay
#      workspace (a resumed session; on disk, and capped in a tmpfs) against
#      direct mode. Budget: start-up at most 1 ms more.
#
#   bench/workspace/run.sh [PATH_TO_REINS]
#   REINS_BENCH_WS_FILES=100000 REINS_BENCH_WS_RUNS=10
#
# Everything lives in a temp dir with its own XDG_STATE_HOME; only prints,
# exits 0 whatever it measures.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)
reins=${1:-$repo/build/reins}
files=${REINS_BENCH_WS_FILES:-100000}
runs=${REINS_BENCH_WS_RUNS:-10}
diff_budget_ms=1000
startup_budget_ms=1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/reins-bench-ws.XXXXXX")
chmod 755 "$tmp"
trap 'chmod -R u+rwX "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
export XDG_STATE_HOME=$tmp/state

if [[ ! -x $reins ]]; then
	echo "workspace: no reins binary at $reins; nothing to measure"
	exit 0
fi

# median_ms COMMAND...: run RUNS times, print the median wall time in ms.
median_ms() {
	python3 - "$runs" "$@" <<'EOF'
import subprocess, sys, time
runs = int(sys.argv[1]); cmd = sys.argv[2:]
times = []
for _ in range(runs + 1):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    times.append((time.perf_counter() - t) * 1000)
    if r.returncode not in (0, 1):
        print(f"failed: {r.stderr.decode(errors='replace').strip()}", file=sys.stderr)
        sys.exit(1)
times = sorted(times[1:])
print(f"{times[len(times) // 2]:.1f}")
EOF
}

# make_session LOWER SCRIPT: an overlay session that ran SCRIPT; prints its id.
# Falls back to building the upper dir by hand when the sandbox cannot run here.
make_session() {
	local lower=$1 script=$2 out id
	out=$("$reins" run --workspace-mode overlay -w "$lower" -- sh -c "$script" 2>&1 >/dev/null)
	id=$(grep -o 'changes kept in session [0-9a-f]*' <<<"$out" | awk '{print $5}')
	if [[ -n $id ]]; then
		echo "$id"
		return 0
	fi
	echo "  (reins run --workspace-mode overlay failed: ${out##*$'\n'}; building the copy by hand)" >&2
	python3 - "$lower" "$script" <<'EOF'
import json, os, secrets, subprocess, sys, time, tempfile
lower, script = sys.argv[1], sys.argv[2]
sid = secrets.token_hex(12)
base = os.path.join(os.environ["XDG_STATE_HOME"], "reins", "workspaces")
os.makedirs(base, mode=0o700, exist_ok=True)
os.chmod(os.path.dirname(base), 0o700)
d = os.path.join(base, sid)
os.makedirs(os.path.join(d, "work"), mode=0o700)
os.makedirs(os.path.join(d, "upper"), mode=0o755)
# run the script on a scratch copy of only what it touches: here, a copy of
# the lower tree's structure is not needed, the scripts below only write files
subprocess.run(["sh", "-c", script], cwd=os.path.join(d, "upper"), check=True)
with open(os.path.join(d, "meta.json"), "w") as f:
    json.dump({"id": sid, "lower": os.path.realpath(lower), "created_ns": time.time_ns(),
               "state": "finished", "status": 0}, f)
print(sid)
EOF
}

echo
echo "workspace (copy-on-write): $files-file tree"

# --- 1. diff on a big tree with few changes ---------------------------------------------
big=$tmp/big
python3 - "$big" "$files" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
per = 100
for d in range((n + per - 1) // per):
    dp = os.path.join(root, f"d{d:04d}")
    os.makedirs(dp)
    for i in range(min(per, n - d * per)):
        with open(os.path.join(dp, f"f{i:03d}.txt"), "w") as f:
            f.write("".join(f"line {k} of file {d}/{i}\n" for k in range(20)))
EOF
# 100 changes: 80 edits (mkdir -p: a hand-built copy has no tree yet), 10 new, 10 deleted
edit_script='for d in $(seq -w 0 79); do mkdir -p d00$d; printf "line 0 of file $d\nEDITED\n" > d00$d/f000.txt; done;
for i in $(seq 0 9); do echo new > new$i.txt; done;
for d in $(seq -w 80 89); do rm -f d00$d/f001.txt 2>/dev/null || true; done'
id=$(make_session "$big" "$edit_script")
if [[ -z $id ]]; then
	echo "  could not create a session; skipped"
else
	changed=$("$reins" diff "$id" --stat 2>/dev/null | tail -n 1)
	echo "  session $id:$changed"
	for mode in "" --stat --json --patch; do
		ms=$(median_ms "$reins" diff "$id" $mode)
		verdict="within budget"
		[[ -n $ms ]] && python3 -c "import sys; sys.exit(0 if float('$ms') < $diff_budget_ms else 1)" ||
			verdict="OVER BUDGET"
		printf '  reins diff %-8s median %8s ms   budget < %s ms: %s\n' "${mode:-(text)}" "$ms" "$diff_budget_ms" "$verdict"
	done
	ms=$(median_ms "$reins" ls)
	printf '  reins ls            median %8s ms\n' "$ms"
fi

# --- 2. apply of 1 000 changed files -----------------------------------------------------
small=$tmp/small
mkdir -p "$small"
python3 - "$small" <<'EOF'
import os, sys
for d in range(10):
    os.makedirs(os.path.join(sys.argv[1], f"d{d}"))
    for i in range(100):
        with open(os.path.join(sys.argv[1], f"d{d}", f"f{i:03d}"), "w") as f:
            f.write("old " * 1024)
EOF
apply_script='for d in 0 1 2 3 4 5 6 7 8 9; do mkdir -p d$d; for i in $(seq -w 0 99); do head -c 4096 /dev/zero | tr "\0" n > d$d/f0$i; done; done'
# An applied session is closed (its base says what it wrote): each round
# applies a fresh session's 1 000 files onto the old host files, --force.
reset_small() {
	python3 - "$small" <<'EOF'
import os, sys
for d in range(10):
    for i in range(100):
        with open(os.path.join(sys.argv[1], f"d{d}", f"f{i:03d}"), "w") as f:
            f.write("old " * 1024)
EOF
}
apply_times=()
applied=""
for ((round = 0; round < (runs < 6 ? 3 : runs / 2); round++)); do
	reset_small
	id=$(make_session "$small" "$apply_script") || break
	[[ -n $id ]] || break
	reset_small
	start=$(date +%s%N)
	out=$("$reins" apply "$id" --force 2>&1) || {
		echo "  apply failed: ${out##*$'\n'}"
		break
	}
	apply_times+=($((($(date +%s%N) - start) / 1000)))
	applied=$(grep -m1 'applied' <<<"$out")
done
if ((${#apply_times[@]} > 0)); then
	python3 - "$applied" "${apply_times[@]}" <<'EOF'
import sys
applied, times = sys.argv[1], sorted(int(t) / 1000 for t in sys.argv[2:])
med = times[len(times) // 2]
print(f"  reins apply, 1000 changed files: median {med:.1f} ms ({1000 / med * 1000:.0f} files/s); {applied}")
EOF
fi

# --- 3. start-up: overlay against direct ----------------------------------------------
# Start-up is the time from `reins run` being started until the command runs
# (a static helper prints CLOCK_MONOTONIC as it starts); the whole run adds
# the teardown, where the kernel syncs an overlay's upper filesystem as the
# sandbox's mount namespace goes away. Three workspaces: direct, overlay with
# the copy on disk (a resumed session), overlay capped by
# limits.workspace_size (the copy in a tmpfs).
ws=$tmp/startup
mkdir -p "$ws"
echo bench >"$ws/README"
stamp=$ws/stamp # inside the workspace: the only host path the sandbox sees
if ! cc -O2 -static -o "$stamp" "$here/stamp.c" 2>/dev/null; then
	echo "  start-up: cannot build bench/workspace/stamp.c (cc, static libc); skipped"
	exit 0
fi
id=$("$reins" run --workspace-mode overlay -w "$ws" -- /bin/true 2>&1 >/dev/null |
	grep -o 'changes kept in session [0-9a-f]*' | awk '{print $5}')
if [[ -z $id ]]; then
	echo "  start-up: reins run --workspace-mode overlay does not run here; skipped"
	exit 0
fi
printf 'version: 1\nextends: default\nfilesystem: {workspace_mode: overlay}\nlimits: {workspace_size: 256MiB}\n' >"$tmp/capped.yaml"
python3 - "$reins" "$ws" "$id" "$stamp" "$tmp/capped.yaml" "$((runs * 3))" "$startup_budget_ms" <<'EOF'
import subprocess, sys, time
reins, ws, sid, stamp, capped = sys.argv[1:6]
runs, budget = int(sys.argv[6]), float(sys.argv[7])
modes = {
    "direct": [reins, "run", "-w", ws, "--", stamp],
    "overlay": [reins, "run", "--workspace-mode", "overlay", "--resume", sid, "-w", ws, "--", stamp],
    "capped": [reins, "run", "-p", capped, "--resume", sid, "-w", ws, "--", stamp],
}
start = {m: [] for m in modes}
whole = {m: [] for m in modes}
for i in range(runs + 1):
    for m, cmd in modes.items():  # interleaved: load on the machine hits all three alike
        t0 = time.monotonic_ns()
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        t1 = time.monotonic_ns()
        if r.returncode != 0:
            print(f"  start-up: {m} failed")
            sys.exit(0)
        if i:
            start[m].append((int(r.stdout) - t0) / 1e6)
            whole[m].append((t1 - t0) / 1e6)
med = lambda v: sorted(v)[len(v) // 2]
d_start, d_whole = med(start["direct"]), med(whole["direct"])
for m in modes:
    s, w = med(start[m]), med(whole[m])
    line = f"  {m:8s} start-up median {s:6.2f} ms, whole run {w:6.2f} ms"
    if m != "direct":
        verdict = "within budget" if s - d_start <= budget else "OVER BUDGET"
        line += (f"   start-up +{s - d_start:.2f} ms (budget <= +{budget:g} ms: {verdict}),"
                 f" whole run +{w - d_whole:.2f} ms")
    print(line)
EOF
exit 0
