#!/usr/bin/env python3
"""Inside the sandbox: run each tool call of a JSON-lines file with sh -c,
as the agent's harness would, and say what each did. Exit 1 when the tests
(the second call) fail."""
import json
import subprocess
import sys

status = 0
for n, line in enumerate(open(sys.argv[1]), start=1):
    call = json.loads(line)
    r = subprocess.run(["sh", "-c", call["command"]], capture_output=True, text=True)
    out = (r.stdout + r.stderr).strip().splitlines()
    print(f"tool call {n}: exit {r.returncode}: {call['command'][:60]}"
          + (f"  -> {out[-1][:70]}" if out else ""))
    if n == 2 and r.returncode != 0:
        status = 1
sys.exit(status)
