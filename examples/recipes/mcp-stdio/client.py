#!/usr/bin/env python3
"""The MCP client's side (what Claude Desktop or an agent does): start the
server with the command line given, speak JSON-RPC over its stdin/stdout,
call read_file on a workspace file and on two secrets. Exit 0 when the
workspace file is read and neither secret is."""
import json
import os
import subprocess
import sys

server = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True)


def call(id_, method, params=None):
    server.stdin.write(json.dumps({"jsonrpc": "2.0", "id": id_, "method": method,
                                   "params": params or {}}) + "\n")
    server.stdin.flush()
    return json.loads(server.stdout.readline())


assert call(1, "initialize", {"protocolVersion": "2024-11-05", "capabilities": {},
                              "clientInfo": {"name": "recipe", "version": "1"}})["result"]
server.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
assert call(2, "tools/list")["result"]["tools"][0]["name"] == "read_file"
ok = True
for i, (path, want) in enumerate([("notes.md", True),
                                  (os.path.expanduser("~/.aws/credentials"), False),
                                  ("/etc/shadow", False)], start=3):
    result = call(i, "tools/call", {"name": "read_file", "arguments": {"path": path}})["result"]
    allowed = not result["isError"]
    print(f"mcp: read_file {path}: {'ALLOWED' if allowed else 'BLOCKED'}"
          f" ({result['content'][0]['text'][:40].strip()})")
    ok = ok and allowed == want
server.stdin.close()
server.wait(timeout=20)
sys.exit(0 if ok else 1)
