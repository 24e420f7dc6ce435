#!/usr/bin/env python3
"""A stand-in for a model API (Anthropic Messages, OpenAI Responses), so the
recipes run without the network or a key: `model_api.py LOG` listens on
127.0.0.1 (a free port, printed on the first line of stdout), records each
request in LOG and answers every one with the same two tool calls: write
hello.txt in the workspace, read ~/.ssh/id_ed25519."""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CALLS = [("write_file", {"path": "hello.txt", "content": "written by the agent\n"}),
         ("read_file", {"path": "~/.ssh/id_ed25519"})]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[1], "a") as log:
            log.write(json.dumps({"path": self.path,
                                  "key": self.headers.get("x-api-key") or
                                  self.headers.get("Authorization", ""),
                                  "model": json.loads(body or b"{}").get("model")}) + "\n")
        if self.path.endswith("/messages"):  # Anthropic
            reply = {"type": "message", "role": "assistant", "stop_reason": "tool_use",
                     "content": [{"type": "tool_use", "id": f"toolu_{i}", "name": name,
                                  "input": args} for i, (name, args) in enumerate(CALLS)]}
        else:  # OpenAI Responses
            reply = {"object": "response",
                     "output": [{"type": "function_call", "call_id": f"call_{i}", "name": name,
                                 "arguments": json.dumps(args)}
                                for i, (name, args) in enumerate(CALLS)]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
