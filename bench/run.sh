#!/usr/bin/env bash
# reins benchmarks (`make bench`), side by side with peers on this machine:
#   1. start-up: `/bin/true` in a sandbox, reins against bubblewrap and against
#      Anthropic's sandbox-runtime (srt); medians, p90 and ratios.
#      Budget (DESIGN §8): reins/bwrap <= 1.0, reins median <= 5 ms.
#   1b. the same side by side: alternating pairs, wall and CPU time of the
#      whole process tree (bench/startup_pairs.py). Budget: both ratios <= 1.0.
#   2. workspace size: the same in workspaces of 0, 50 000 and 500 000 files,
#      direct, readonly and overlay, in alternating pairs with bwrap.
#      Budget: +2 ms at 50 000 files, +5 ms at 500 000 (issue 14.6).
#   3. memory: PSS of the reins supervisor while the command sleeps, beside the
#      PSS of bwrap's outer process. Budget: <= 1024 KiB.
#
#   bench/run.sh [PATH_TO_REINS]          (default: build/reins)
#   REINS_BENCH_RUNS=200 REINS_BENCH_SRT_RUNS=20   measured runs per command
#
# Missing peers are installed when possible (Debian packages as root; srt from
# npm into bench/.npm). A peer that cannot be had is reported as
# "peer unavailable: why" and the rest goes on. This script only prints: it
# exits 0 whatever it measures, so a benchmark never fails a build.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
repo=$(cd "$here/.." && pwd -P)
reins=${1:-$repo/build/reins}
runs=${REINS_BENCH_RUNS:-200}
srt_runs=${REINS_BENCH_SRT_RUNS:-20}
warmup=10
srt_warmup=2
pss_budget_kib=1024
median_budget_ms=5

tmp=$(mktemp -d "${TMPDIR:-/tmp}/reins-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

unavailable() {
	printf 'peer unavailable: %s\n' "$*"
}

# apt_install PACKAGE...: install Debian packages when running as root.
apt_install() {
	[[ $(id -u) -eq 0 ]] || return 1
	command -v apt-get >/dev/null || return 1
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 && return 0
	apt-get update -qq >/dev/null 2>&1
	apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1
}

# need COMMAND PACKAGE: make COMMAND available, installing PACKAGE if needed.
need() {
	command -v "$1" >/dev/null && return 0
	apt_install "$2" && command -v "$1" >/dev/null
}

# check_runs COMMAND...: run it once; on failure print its last stderr line.
check_runs() {
	local err
	if err=$("$@" </dev/null 2>&1 >/dev/null); then
		return 0
	fi
	printf '%s' "${err##*$'\n'}"
	return 1
}

echo "reins benchmarks: $(nproc) cpus, kernel $(uname -r), running as $( [[ $(id -u) -eq 0 ]] && echo root || echo "uid $(id -u) (unprivileged)")"

if [[ ! -x $reins ]]; then
	echo "no reins binary at $reins (build it with 'make'); nothing to measure"
	exit 0
fi

# --- peers -------------------------------------------------------------------------
have_bwrap=no
if need bwrap bubblewrap; then
	have_bwrap=yes
else
	unavailable "bwrap: not installed and cannot install the Debian package bubblewrap (needs root and the Debian mirror)"
fi

timer=python
if need hyperfine hyperfine; then
	timer=hyperfine
else
	echo "note: hyperfine unavailable; timing with bench/timing.py (same medians, Python's fork/exec overhead included)"
fi

srt=$here/.npm/node_modules/.bin/srt
have_srt=no
if [[ ! -x $srt ]]; then
	if need npm npm; then
		npm install --prefix "$here/.npm" --no-audit --no-fund --loglevel=error \
			@anthropic-ai/sandbox-runtime >"$tmp/npm.log" 2>&1 ||
			unavailable "srt: npm install @anthropic-ai/sandbox-runtime failed: $(tail -n 1 "$tmp/npm.log")"
	else
		unavailable "srt: npm is missing and cannot be installed (needs root and the Debian mirror)"
	fi
fi
if [[ -x $srt ]]; then
	# srt on Linux drives bubblewrap, and needs socat (proxy bridge) and ripgrep.
	if ! need socat socat || ! need rg ripgrep || [[ $have_bwrap != yes ]]; then
		unavailable "srt: needs bwrap, socat and ripgrep (Debian: bubblewrap socat ripgrep)"
	else
		have_srt=yes
	fi
fi

# --- the commands ------------------------------------------------------------------
# A small workspace, the current directory of every command.
workspace=$tmp/workspace
mkdir -p "$workspace"
echo "bench" >"$workspace/README"
cd "$workspace" || exit 0

reins_cmd=("$reins" run -p default -w "$workspace" -- /bin/true)
# bwrap with what reins' default preset grants: the system read-only, fresh
# /proc and /dev, a private /tmp, the workspace read-write, every namespace.
bwrap_args=(--unshare-all --die-with-parent --new-session
	--ro-bind /usr /usr --ro-bind /bin /bin --ro-bind-try /sbin /sbin
	--ro-bind /lib /lib --ro-bind-try /lib64 /lib64 --ro-bind /etc /etc
	--ro-bind-try /opt /opt --proc /proc --dev /dev --tmpfs /tmp
	--bind "$workspace" "$workspace" --chdir "$workspace")
bwrap_cmd=(bwrap "${bwrap_args[@]}" /bin/true)
# srt with a settings file of its own (never the caller's ~/.srt-settings.json):
# no network, writes only in the workspace.
printf '%s\n' '{"filesystem": {"denyRead": [], "allowWrite": ["."], "denyWrite": []},' \
	' "network": {"allowedDomains": [], "deniedDomains": []}}' >"$tmp/srt-settings.json"
srt_cmd=("$srt" --settings "$tmp/srt-settings.json" /bin/true)

# measure NAME RUNS WARMUP COMMAND...: time COMMAND into $tmp/NAME.json.
measure() {
	local name=$1 count=$2 warm=$3 line
	shift 3
	if [[ $timer == hyperfine ]]; then
		printf -v line '%q ' "$@"
		hyperfine -N --style none --warmup "$warm" --runs "$count" \
			--export-json "$tmp/$name.json" "$line" >/dev/null 2>"$tmp/$name.err"
	else
		python3 "$here/timing.py" measure "$tmp/$name.json" "$count" "$warm" -- "$@" 2>"$tmp/$name.err"
	fi
}

echo
echo "start-up: /bin/true in a sandbox (timer: $timer)"
echo "  reins  $(printf '%s ' "${reins_cmd[@]}")"
table=()
if err=$(check_runs "${reins_cmd[@]}"); then
	measure reins "$runs" "$warmup" "${reins_cmd[@]}" && table+=("reins=$tmp/reins.json")
else
	echo "  reins run -- /bin/true failed: $err"
fi
if [[ $have_bwrap == yes ]]; then
	echo "  bwrap  bwrap $(printf '%s ' "${bwrap_args[@]}")/bin/true  ($(bwrap --version 2>/dev/null))"
	if err=$(check_runs "${bwrap_cmd[@]}"); then
		measure bwrap "$runs" "$warmup" "${bwrap_cmd[@]}" && table+=("bwrap=$tmp/bwrap.json")
	else
		unavailable "bwrap fails here: $err"
	fi
fi
if [[ $have_srt == yes ]]; then
	echo "  srt    srt --settings SETTINGS /bin/true  (sandbox-runtime $("$srt" --version 2>/dev/null))"
	if err=$(check_runs "${srt_cmd[@]}"); then
		measure srt "$srt_runs" "$srt_warmup" "${srt_cmd[@]}" && table+=("srt=$tmp/srt.json")
	else
		unavailable "srt fails here: $err"
	fi
fi
if ((${#table[@]} > 0)); then
	budgets=()
	[[ ${table[0]} == reins=* ]] &&
		budgets=(--ratio-budget bwrap=1.0 --median-budget-ms "$median_budget_ms")
	python3 "$here/timing.py" table "${budgets[@]}" "${table[@]}"
fi

# --- side by side: alternating pairs, wall and CPU time (issue 14.6) ----------------------
if [[ $have_bwrap == yes ]]; then
	python3 "$here/startup_pairs.py" "${REINS_BENCH_PAIRS:-40}" "$workspace" \
		:: "${reins_cmd[@]}" :: "${bwrap_cmd[@]}"
fi

# --- workspace size (issue 14.6; bench/workspace_startup.py) ----------------------------
# `reins run -p default -- /bin/true` in workspaces of 0, 50 000 and 500 000
# files, in each workspace mode, against bwrap with the same binds: alternating
# pairs (REINS_BENCH_WS_PAIRS, default 30), the per-pair ratio and what the
# files add over the empty workspace (budget: +2 ms at 50 000, +5 ms at
# 500 000). The workspaces are made once and kept under $TMPDIR.
python3 "$here/workspace_startup.py" "$reins"

# --- memory ---------------------------------------------------------------------------
# pss_while_sleeping NAME COMMAND...: start COMMAND (which sleeps 3 s) from this
# shell, so the process whose parent is this shell is the supervisor (reins) or
# bwrap's outer process; read its PSS once the sandbox is up.
pss_while_sleeping() {
	local name=$1 pid pss=""
	shift
	"$@" </dev/null >/dev/null 2>&1 &
	pid=$!
	sleep 1
	if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]]; then
		pss=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null)
	fi
	wait "$pid" 2>/dev/null
	printf '%s' "$pss"
}

echo
echo "memory: PSS while the sandboxed command sleeps (from /proc/PID/smaps_rollup)"
reins_pss=$(pss_while_sleeping reins "$reins" run -p default -w "$workspace" -- sleep 3)
if [[ -n $reins_pss ]]; then
	verdict="within budget"
	((reins_pss <= pss_budget_kib)) || verdict="OVER BUDGET"
	printf '  reins supervisor     %6s KiB   budget <= %s KiB: %s\n' "$reins_pss" "$pss_budget_kib" "$verdict"
else
	echo "  reins supervisor: could not read its PSS (did 'reins run -- sleep 3' start?)"
fi
if [[ $have_bwrap == yes ]]; then
	bwrap_pss=$(pss_while_sleeping bwrap bwrap "${bwrap_args[@]}" sleep 3)
	if [[ -n $bwrap_pss ]]; then
		printf '  bwrap outer process  %6s KiB\n' "$bwrap_pss"
	else
		echo "  bwrap outer process: could not read its PSS"
	fi
fi

# --- egress proxy (issue 3; bench/proxy/) ----------------
# 1 GiB through one CONNECT tunnel and through 50, against direct loopback
# (budget >= 0.8x), with C endpoints (bench/proxy/endpoint.c) at both ends,
# direct and proxied runs alternating; sandbox-runtime's proxy on the same
# transfer (bench/proxy/srt_proxy.mjs); connection set-up latency p50/p99.
# REINS_BENCH_PROXY_GIB=0.25 makes it quicker, REINS_BENCH_PROXY_ROUNDS=N
# steadier (default 5).
python3 "$here/proxy/proxy_bench.py" "$reins" --gib "${REINS_BENCH_PROXY_GIB:-1}" --parallel 50 \
	--latency 500 --rounds "${REINS_BENCH_PROXY_ROUNDS:-5}"

# --- credential injection (issue 18; bench/credentials/) ------------------------------
# TLS handshake p50/p99 through the terminating proxy (curl, and the handshake alone from
# Python: budget p50 < 3 ms) and
# through a plain tunnel; bulk download terminated and tunnelled against direct
# TLS (budget terminated >= 0.5x). REINS_BENCH_CRED_MIB sets the size (256).
python3 "$here/credentials/cred_bench.py" "$reins" --mib "${REINS_BENCH_CRED_MIB:-256}" \
	--handshakes 200
# HTTP/2 through termination against HTTP/1.1 (bulk vs direct, first byte of a new
# connection); needs nghttpd (nghttp2-server).
python3 "$here/credentials/h2_bench.py" "$reins" --mib "${REINS_BENCH_CRED_MIB:-256}" \
	--requests 100
# --- end of credential injection -------------------------------------------------------

# --- copy-on-write workspaces (issue 5; owned by the workspace module) -----------------
# reins diff on a 100 000-file tree with 100 changes (budget < 1 s), apply of
# 1 000 changed files, overlay start-up against direct (budget +1 ms).
"$here/workspace/run.sh" "$reins"
# --- end of copy-on-write workspaces ----------------------------------------------------

# --- renames under protected paths (issue 13; bench/protect/) ------------------------------
# 10 000 renames outside and inside reins (direct mode watches renames to answer
# EROFS on protected paths; overlay mode does not).
"$here/protect/run.sh" "$reins"
# --- end of renames -------------------------------------------------------------------------

# --- audit trail (issue 4; bench/audit/) -------------------------------------------------
# Events appended and chained per second through the trail writer (budget
# >= 200 000/s); REINS_BENCH_AUDIT_EVENTS=N changes the count.
"$here/audit/run.sh" "$reins"
"$here/audit/exec_heavy.sh" "$reins"
# --- end of audit trail -------------------------------------------------------------------

# --- risk engine (issue 7) ------------------------------------------------------------------
# Rule evaluation per event with every rule on (budget: median < 2 us); the
# exec-heavy workload above also runs with the risk engine off for comparison.
make -s -C "$here/.." build/tests/test_risk >/dev/null
"$here/../build/tests/test_risk" 2>&1 | grep '^risk engine:' || echo "risk engine bench failed"
# --- end of risk engine ---------------------------------------------------------------------

# --- density (issue 14, item 7; bench/density/) ---------------------------------------------
# 1 000 idle sessions at once: time until all run (target < 20 s), supervisor +
# init PSS per session (<= 600 KiB), `reins ps` (< 200 ms), then all stopped and
# nothing left; as root also a tenth of them as nobody. REINS_BENCH_DENSITY=N
# changes the count.
"$here/density/run.sh" "$reins" "${REINS_BENCH_DENSITY:-1000}"
# --- end of density ---------------------------------------------------------------------------

# --- the daemon (issue 15; bench/serve/) ------------------------------------------------------
# reins serve: exec to first answered API call (budget < 50 ms), and GET
# /v1/sessions latency with 50 sessions started through the API.
python3 "$here/serve/serve_bench.py" "$reins"
# Under load (issue 15.7): 200 sessions started through the API at once, 100
# event subscribers, then p50/p99 of a mix of API calls while they run
# (budget p99 < 50 ms) and the daemon's RSS (budget < 64 MiB), PSS and
# threads. REINS_BENCH_LOAD_SESSIONS / _SUBSCRIBERS change the counts.
python3 "$here/serve/load_bench.py" "$reins" --sessions "${REINS_BENCH_LOAD_SESSIONS:-200}" \
	--subscribers "${REINS_BENCH_LOAD_SUBSCRIBERS:-100}"
# and, as root, a smaller run of an unprivileged daemon (nobody)
[[ $(id -u) -eq 0 ]] && python3 "$here/serve/load_bench.py" "$reins" --as nobody --sessions 20 \
	--subscribers 10 --rounds 10
# The warm pool (issue 15.6): time to the execve call and to the agent's first
# instruction from the pool against a cold `reins run`, alternating (budget:
# pool p50 <= 2 ms). The time to the execve call needs the stamped build
# (`make bench` makes it: build-stamp/reins, REINS_BENCH_STAMPED).
python3 "$here/serve/pool_bench.py" "${REINS_BENCH_STAMPED:-$reins}" --rounds "${REINS_BENCH_POOL_ROUNDS:-30}"
# The web dashboard (issue 16.5) in headless Chromium: the fleet page with 500
# sessions (budget < 1 s to every row), and the page's main thread while
# about 200 events a second stream in. REINS_BENCH_DASHBOARD_SESSIONS changes the count.
/usr/bin/python3 "$here/serve/dashboard_bench.py" "$reins" --sessions "${REINS_BENCH_DASHBOARD_SESSIONS:-500}"
# --- end of the daemon ------------------------------------------------------------------------

# --- declarative environments (issue 20.5; bench/env/) -----------------------------------------
# An OCI environment's build, then a cache hit (no build), and `reins run --
# /bin/true` with the environment as the root against the host's root, in
# alternating pairs (budget: the environment adds <= 1 ms, median of the
# per-pair differences). REINS_BENCH_ENV_PAIRS changes the count.
/usr/bin/python3 "$here/env/env_bench.py" "$reins" --pairs "${REINS_BENCH_ENV_PAIRS:-40}"
# --- end of the environments -------------------------------------------------------------------

# --- the OCI runtime (issue 17.5; bench/oci/) --------------------------------------------------
# reins oci against runc, alternating pairs: `podman run --rm --runtime R IMAGE
# true` (budget: median per-pair ratio reins/runc <= 1.0), and the runtime alone
# on one bundle, create + start (budget <= 1.0) and the whole create, start,
# wait, delete cycle. As root; the offline busybox image of the tests.
# REINS_BENCH_OCI_PAIRS / REINS_BENCH_OCI_BUNDLE_PAIRS change the counts.
/usr/bin/python3 "$here/oci/oci_bench.py" "$reins"
# --- end of the OCI runtime -------------------------------------------------------------------

# --- isolation: wasm (issue 21.7; bench/wasm/) ------------------------------------------------
# A cached WASI module's start against the same program native, both under
# reins run, alternating pairs (budget: <= 10 ms); the first (compiling) run;
# SHA-256 over 100 MiB compiled to wasm and native (budget: wasm <= 2x) and
# what wabt's interpreter gives; code sizes. REINS_BENCH_WASM_PAIRS changes the count.
/usr/bin/python3 "$here/wasm/wasm_bench.py" "$reins" "${REINS_BENCH_WASM_PAIRS:-100}"
# --- end of isolation: wasm -------------------------------------------------------------------

# --- isolation: vm (bench/vm/vm_bench.py) ---------------------------------------------
# boot-to-exec under TCG beside the container start; the guest kernel's own boot.
echo
/usr/bin/python3 "$here/vm/vm_bench.py" "$reins"

exit 0
