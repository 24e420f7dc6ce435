#!/usr/bin/env bash
# Claude Code in a reins sandbox.
#
#   examples/recipes/claude-code/run.sh [PROMPT]
#
# With REINS_RECIPE_REAL=1, `claude` on PATH and ANTHROPIC_API_KEY set, it
# runs the real CLI in the current directory:
#   reins run -p policy.yaml -- claude -p PROMPT
# Otherwise (make check, no network) a stand-in CLI calls a local stand-in of
# the Messages API through the same proxy, then asks to write a file (lands)
# and to read ~/.ssh/id_ed25519 (does not: no home in the sandbox).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../standin/lib.sh"
prompt=${1:-"add a hello.txt"}

if [[ ${REINS_RECIPE_REAL:-} == 1 ]] && command -v claude >/dev/null && [[ -n ${ANTHROPIC_API_KEY:-} ]]; then
	exec "$REINS" run -p "$here/policy.yaml" -- claude -p "$prompt"
fi

start_model_api
install_standin claude
ws=$SCRATCH/ws
mkdir -p "$ws"
"$REINS" run -q -p "$(standin_policy "$here/policy.yaml")" -w "$ws" --ro "$SCRATCH/bin" \
	--env PATH="$SCRATCH/bin:/usr/bin:/bin" \
	--env ANTHROPIC_BASE_URL="http://api.standin.test:$PORT" \
	--env ANTHROPIC_API_KEY=sk-ant-standin-key \
	-- claude -p "$prompt"
# from the host: the file landed, the API saw the key the sandbox was given
test "$(cat "$ws/hello.txt")" = "written by the agent"
grep -q '"key": "sk-ant-standin-key"' "$LOG"
echo "claude-code recipe: ok (the work landed, the key stayed home)"
