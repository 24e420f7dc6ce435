#!/usr/bin/env python3
"""A stand-in for the Claude Code and Codex CLIs (installed as `claude` or
`codex`): it does what matters to the sandbox the way they do. It reads its
key and endpoint from the environment (ANTHROPIC_* or OPENAI_*), calls the
model through the proxy reins gives it (urllib honours HTTP_PROXY, as Node
and the real CLIs do), then runs the tool calls the model answered with in
the workspace, printing ALLOWED or BLOCKED for each. Exit status 0 when the
work landed and the secret stayed out of reach."""
import json
import os
import sys
import urllib.request

flavour = os.path.basename(sys.argv[0])
if flavour == "claude":
    url = os.environ["ANTHROPIC_BASE_URL"].rstrip("/") + "/v1/messages"
    headers = {"x-api-key": os.environ["ANTHROPIC_API_KEY"], "anthropic-version": "2023-06-01"}
else:
    url = os.environ["OPENAI_BASE_URL"].rstrip("/") + "/responses"
    headers = {"Authorization": "Bearer " + os.environ["OPENAI_API_KEY"]}
prompt = " ".join(sys.argv[1:]) or "say hello"
request = urllib.request.Request(
    url, data=json.dumps({"model": "stand-in", "max_tokens": 256,
                          "messages": [{"role": "user", "content": prompt}]}).encode(),
    headers={"Content-Type": "application/json", **headers}, method="POST")
with urllib.request.urlopen(request, timeout=20) as answer:
    reply = json.load(answer)

if flavour == "claude":
    calls = [(c["name"], c["input"]) for c in reply["content"] if c["type"] == "tool_use"]
else:
    calls = [(c["name"], json.loads(c["arguments"])) for c in reply["output"]
             if c["type"] == "function_call"]

wrote = leaked = False
for name, args in calls:
    path = os.path.expanduser(args["path"])
    try:
        if name == "write_file":
            with open(path, "w") as f:
                f.write(args["content"])
            wrote = True
        else:
            with open(path) as f:
                f.read()
            leaked = True
        print(f"{flavour}: tool {name} {args['path']}: ALLOWED")
    except OSError as e:
        print(f"{flavour}: tool {name} {args['path']}: BLOCKED ({e.strerror})")
sys.exit(0 if wrote and not leaked else 1)
