#!/usr/bin/env bash
# A CI job that runs an agent's tool calls under reins, then reviews what
# they changed before anything lands (see github-actions.yml for the job).
#
#   examples/recipes/ci/run.sh [CHECKOUT]
#
# Without CHECKOUT it makes a small project with a bug, a test and a
# workflow file. The tool calls (tool-calls.jsonl) fix the bug and run the
# test, then try to plant a step in the workflow, read CI's token and reach
# the network. The job applies the session only when the tests passed, and
# verifies the session's audit trail.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../standin/lib.sh"
ws=${1:-}
if [[ -z $ws ]]; then
	ws=$SCRATCH/checkout
	mkdir -p "$ws/.github/workflows"
	printf 'def add(a, b):\n    return a - b\n' >"$ws/calc.py"
	printf 'from calc import add\nassert add(2, 2) == 4, "add is broken"\nprint("tests pass")\n' \
		>"$ws/test_calc.py"
	printf 'on: push\njobs: {}\n' >"$ws/.github/workflows/ci.yml"
fi
install -D -m 0755 "$here/replay.py" "$SCRATCH/bin/replay.py"
install -m 0644 "$here/tool-calls.jsonl" "$SCRATCH/bin/"

# CI's secrets are in the job's environment; the policy passes none of them
export GITHUB_TOKEN=ghs_standin_secret_token
status=0
"$REINS" run -q -p "$here/policy.yaml" -w "$ws" --ro "$SCRATCH/bin" \
	--events "$SCRATCH/events.jsonl" -- python3 "$SCRATCH/bin/replay.py" \
	"$SCRATCH/bin/tool-calls.jsonl" || status=$?

session=$(python3 -c 'import json,sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("session"):
        print(e["session"]); break' "$SCRATCH/events.jsonl")
"$REINS" diff "$session" --stat
if ((status != 0)); then
	echo "ci recipe: the tests failed in the sandbox: nothing applied" >&2
	"$REINS" discard -f "$session" >/dev/null
	exit 1
fi
# protected paths (.github here) are left out unless --include-protected
"$REINS" apply "$session"
"$REINS" audit verify "$session" >/dev/null
grep -q 'return a + b' "$ws/calc.py"
! grep -q evil "$ws/.github/workflows/ci.yml"
# what is left in the session (the protected change) is dropped
"$REINS" discard -f "$session" >/dev/null
echo "ci recipe: ok (the fix applied, the workflow untouched, the trail verified)"
