#!/usr/bin/env python3
"""A small MCP server over stdio (JSON-RPC 2.0, one message a line) with one
tool, read_file. It trusts its input on purpose: it reads any path it is
asked for. Keeping it to the workspace is reins' job, not the server's."""
import json
import sys


def reply(id_, result=None, error=None):
    msg = {"jsonrpc": "2.0", "id": id_}
    msg.update({"error": error} if error else {"result": result})
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


TOOLS = [{"name": "read_file", "description": "read a file",
          "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}},
                          "required": ["path"]}}]

for line in sys.stdin:
    msg = json.loads(line)
    method, id_ = msg.get("method"), msg.get("id")
    if id_ is None:  # a notification
        continue
    if method == "initialize":
        reply(id_, {"protocolVersion": "2024-11-05", "capabilities": {"tools": {}},
                    "serverInfo": {"name": "files", "version": "1"}})
    elif method == "tools/list":
        reply(id_, {"tools": TOOLS})
    elif method == "tools/call":
        path = msg["params"]["arguments"]["path"]
        try:
            with open(path) as f:
                text = f.read(4096)
            reply(id_, {"content": [{"type": "text", "text": text}], "isError": False})
        except OSError as e:
            reply(id_, {"content": [{"type": "text", "text": e.strerror}], "isError": True})
    else:
        reply(id_, error={"code": -32601, "message": "no such method"})
