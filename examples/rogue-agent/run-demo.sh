#!/usr/bin/env bash
# The reins demo (`make demo`): a scripted "rogue agent" (agent.sh) runs inside
# `reins run`. It does legitimate work in a workspace, then tries to read an SSH
# key, read a secret from the environment, write outside the workspace, plant a
# git hook, kill a host process, open a user namespace and fork-bomb.
# Afterwards this script checks from the host what really happened.
#
#   examples/rogue-agent/run-demo.sh [PATH_TO_REINS]    (default: build/reins)
#
# Works as root and as an unprivileged user. Nothing outside a temporary
# directory is touched; the temporary directory is removed at the end.
# Exit status: 0 when reins let the work through and stopped every attack.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)
reins=${1:-$repo/build/reins}
if [[ ! -x $reins ]]; then
	echo "run-demo: no reins binary at $reins (build it with 'make')" >&2
	exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/reins-demo.XXXXXX")
home=$tmp/home
workspace=$tmp/workspace
host_pid=
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	if [[ -n $host_pid ]]; then
		kill "$host_pid" 2>/dev/null || true
		wait "$host_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# --- the scene ---------------------------------------------------------------------
# A fake home with a fake SSH key: the agent's first target.
mkdir -p "$home/.ssh"
chmod 700 "$home/.ssh"
printf '%s\n' '-----BEGIN OPENSSH PRIVATE KEY-----' \
	'ZmFrZSBrZXkgbWFkZSBieSB0aGUgcmVpbnMgZGVtbywgbm90IGEgcmVhbCBzZWNyZXQ=' \
	'-----END OPENSSH PRIVATE KEY-----' >"$home/.ssh/id_ed25519"
chmod 600 "$home/.ssh/id_ed25519"
cp "$home/.ssh/id_ed25519" "$tmp/key.copy"

# A tiny project: the agent's task is to make test.sh pass.
mkdir -p "$workspace/.git/hooks"
cat >"$workspace/README.md" <<'EOF'
# greet

Task for the agent: greet.sh must say "Hello, reins". Check with ./test.sh.
EOF
cat >"$workspace/greet.sh" <<'EOF'
#!/bin/sh
echo "Hello, world"
EOF
cat >"$workspace/test.sh" <<'EOF'
#!/bin/sh
./greet.sh | grep -q "Hello, reins" && echo "test passed"
EOF
chmod +x "$workspace/greet.sh" "$workspace/test.sh"
# A secret inside the workspace: the default preset's "**/.env" rule hides it.
echo "API_TOKEN=demo-fake-token-not-real" >"$workspace/.env"
cp -a "$workspace" "$tmp/before"

# A harmless host process the agent will try to kill.
sleep 300 &
host_pid=$!

if [[ $(id -u) -eq 0 ]]; then
	who="root"
else
	who="$(id -un 2>/dev/null || id -u), unprivileged"
fi

cat <<EOF
reins demo: a scripted "rogue agent" in a default-deny sandbox
  reins          $reins (running as $who)
  policy         examples/rogue-agent/policy.yaml: the 'default' preset + pids 64, wall_time 20s
  workspace      $workspace (task: make test.sh pass; holds a .env)
  fake home      $home (holds .ssh/id_ed25519)
  host process   sleep, pid $host_pid
  secret         AWS_SECRET_ACCESS_KEY is set in the caller's environment

\$ reins run -p policy.yaml -w WORKSPACE --ro examples/rogue-agent -- bash agent.sh $host_pid
---- inside the sandbox ----------------------------------------------------------
EOF

# --- the run -------------------------------------------------------------------------
# --ro binds this directory read-only so the sandbox can read agent.sh;
# HOME points at the fake home, and a fake secret sits in the environment.
start=$(date +%s%N)
set +e
HOME=$home AWS_SECRET_ACCESS_KEY=demo-fake-secret-not-real \
	"$reins" run -p "$here/policy.yaml" -w "$workspace" --ro "$here" -- \
	bash "$here/agent.sh" "$host_pid"
status=$?
set -e
elapsed_ms=$((($(date +%s%N) - start) / 1000000))

echo "---- back on the host ------------------------------------------------------------"
echo "reins run exited with status $status after $((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000))) s" \
	"(the agent's exit status: its count of surprises)"

# --- what really happened, seen from the host ------------------------------------------
failures=0
check() { # OK? DESCRIPTION
	if [[ $1 == yes ]]; then
		printf '  ok      %s\n' "$2"
	else
		printf '  FAILED  %s\n' "$2"
		failures=$((failures + 1))
	fi
}

echo
echo "What changed in the workspace (diff -ruN before after):"
(cd "$tmp" && diff -ruN before workspace | sed -E -e '/^(---|\+\+\+) /s/\t.*//' -e 's/^/    /') || true

echo
echo "Checks made on the host:"
grep -q "Hello, reins" "$workspace/greet.sh" 2>/dev/null && landed=yes || landed=no
[[ -s $workspace/NOTES.md && -s $workspace/build/lines.txt ]] || landed=no
check "$landed" "the legitimate work landed: greet.sh edited, NOTES.md and build/lines.txt written"

kill -0 "$host_pid" 2>/dev/null && alive=yes || alive=no
check "$alive" "host process $host_pid (sleep) is still alive"

outside=()
for path in "$home/pwned" /etc/pwned /usr/bin/pwned "$workspace/.git/hooks/pre-commit"; do
	[[ -e $path ]] && outside+=("$path")
done
if ((${#outside[@]} == 0)); then
	check yes "nothing was created outside the workspace (~/pwned, /etc/pwned, /usr/bin/pwned, .git/hooks/pre-commit)"
else
	check no "created despite the sandbox: ${outside[*]}"
fi

cmp -s "$home/.ssh/id_ed25519" "$tmp/key.copy" && same=yes || same=no
# shellcheck disable=SC2088 # a label, not a path
check "$same" "~/.ssh/id_ed25519 is unchanged"

[[ $status -eq 0 ]] && clean=yes || clean=no
check "$clean" "the agent saw no surprise: every attack blocked, no legitimate step refused (exit status 0)"

echo
if ((failures == 0)); then
	echo "demo passed: reins let the agent do its job and stopped every attack."
	exit 0
fi
echo "demo FAILED: $failures check(s) above did not hold."
exit 1
