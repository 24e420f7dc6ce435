#!/usr/bin/env bash
# A team policy with approvals and delegation tokens.
#
#   examples/recipes/team/run.sh
#
# 1. A developer mints a token for one task (only the model API, 10 minutes)
#    and narrows it again (5 uses) before handing it over; the agent runs
#    with it and reaches the API, but not another destination the policy
#    itself would allow.
# 2. Without a token, the agent asks for a destination on the policy's ask
#    list: the connection waits until a human answers (here a loop playing
#    the human: reins pending, reins approve ID).
# The real API and GitHub are replaced by stand-ins on 127.0.0.1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../standin/lib.sh"
start_model_api
install -D -m 0755 "$here/fetch.py" "$SCRATCH/bin/fetch.py"
ws=$SCRATCH/ws
mkdir -p "$ws"
api=api.standin.test:$PORT other=other.standin.test:$PORT ask=ask.standin.test:$PORT
cat >"$SCRATCH/team.yaml" <<EOT
version: 1
extends: $here/policy.yaml
network:
  allow: ["$api", "$other"]
  ask: ["$ask"]
  hosts: {api.standin.test: 127.0.0.1, other.standin.test: 127.0.0.1, ask.standin.test: 127.0.0.1}
EOT
run() { "$REINS" run -q -p "$SCRATCH/team.yaml" -w "$ws" --ro "$SCRATCH/bin" "$@"; }

echo "== 1. a delegation token narrows the policy"
"$REINS" token mint --dest "$api" --expires 10m --agent team-agent -o "$SCRATCH/task.token"
"$REINS" token attenuate "$SCRATCH/task.token" --uses 5 -o "$SCRATCH/narrow.token"
"$REINS" token verify "$SCRATCH/narrow.token"
out=$(run --token "$SCRATCH/narrow.token" -- python3 "$SCRATCH/bin/fetch.py" \
	"http://$api/v1/messages" "http://$other/v1/messages")
echo "$out"
grep -q "fetch http://$api/v1/messages: ALLOWED" <<<"$out"
grep -q "fetch http://$other/v1/messages: BLOCKED" <<<"$out"

echo "== 2. an ask destination waits for a human"
run -- python3 "$SCRATCH/bin/fetch.py" "http://$ask/v1/messages" >"$SCRATCH/asked.out" &
agent=$!
answered=
for _ in $(seq 100); do
	id=$("$REINS" pending --json | python3 -c 'import json,sys
for r in json.load(sys.stdin):
    print(r["id"]); break')
	if [[ -n $id ]]; then
		"$REINS" approve "$id"
		answered=$id
		break
	fi
	sleep 0.2
done
wait "$agent"
cat "$SCRATCH/asked.out"
[[ -n $answered ]]
grep -q "fetch http://$ask/v1/messages: ALLOWED" "$SCRATCH/asked.out"
echo "team recipe: ok (the token narrowed the run, the ask waited for a yes)"
