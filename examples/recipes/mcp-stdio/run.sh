#!/usr/bin/env bash
# An MCP server over stdio in a reins sandbox.
#
#   examples/recipes/mcp-stdio/run.sh
#
# In an MCP client's configuration, the server's command becomes
#   reins run -q -p policy.yaml -w PROJECT -- python3 server.py
# stdin and stdout pass through unchanged; reins' own messages go to stderr
# (and -q keeps them to errors). Here client.py plays the client.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../standin/lib.sh"
ws=$SCRATCH/ws
mkdir -p "$ws" "$SCRATCH/bin"
echo "# notes the server may serve" >"$ws/notes.md"
install -m 0755 "$here/server.py" "$SCRATCH/bin/server.py"
cd "$ws"
python3 "$here/client.py" "$REINS" run -q -p "$here/policy.yaml" -w "$ws" \
	--ro "$SCRATCH/bin" -- python3 "$SCRATCH/bin/server.py"
echo "mcp-stdio recipe: ok (the workspace is served, the secrets are not)"
