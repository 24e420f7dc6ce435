#!/usr/bin/env bash
# Codex CLI in a reins sandbox.
#
#   examples/recipes/codex/run.sh [PROMPT]
#
# With REINS_RECIPE_REAL=1, `codex` on PATH and OPENAI_API_KEY set:
#   reins run -p policy.yaml -- codex exec PROMPT
# Otherwise a stand-in CLI calls a local stand-in of the Responses API
# through the proxy and runs the function calls it answers with.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../standin/lib.sh"
prompt=${1:-"add a hello.txt"}

if [[ ${REINS_RECIPE_REAL:-} == 1 ]] && command -v codex >/dev/null && [[ -n ${OPENAI_API_KEY:-} ]]; then
	exec "$REINS" run -p "$here/policy.yaml" -- codex exec "$prompt"
fi

start_model_api
install_standin codex
ws=$SCRATCH/ws
mkdir -p "$ws"
"$REINS" run -q -p "$(standin_policy "$here/policy.yaml")" -w "$ws" --ro "$SCRATCH/bin" \
	--env PATH="$SCRATCH/bin:/usr/bin:/bin" \
	--env OPENAI_BASE_URL="http://api.standin.test:$PORT/v1" \
	--env OPENAI_API_KEY=sk-standin-key \
	-- codex exec "$prompt"
test "$(cat "$ws/hello.txt")" = "written by the agent"
grep -q '"path": "/v1/responses", "key": "Bearer sk-standin-key"' "$LOG"
echo "codex recipe: ok (the work landed, the key stayed home)"
