#!/usr/bin/env python3
"""GET /v1/sessions with many ended sessions, with and without the trail
summaries (issue 16's egress and counts in every entry).

A state, runtime and home directory of its own; S sessions started through
the daemon of the first binary, each running COMMAND (by default a shell
loop of 20 audited execs, a trail of ~25 records), waited until they end.
Then each binary in turn serves that state: the first GET /v1/sessions
(cold: every trail read once) and N more (warm: only appended bytes), the
median and p95 of the warm ones, the daemon's CPU per call and its RSS
after them, and the bytes of the answer.

  summary_bench.py BEFORE AFTER [--sessions 200] [--calls 30] [--command '...']

BEFORE: a reins without the summaries; AFTER: with them. Prints only.
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=120)
        self.path_ = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path_)


def call(sock, method, path, body=None):
    c = UnixHTTP(sock)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"} if body is not None else {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def start_daemon(binary, root, env):
    sock = os.path.join(root, "serve.sock")
    p = subprocess.Popen([binary, "serve", "--socket", sock, "--state",
                          os.path.join(root, "state")], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not os.path.exists(sock) and time.monotonic() < deadline:
        time.sleep(0.05)
    return p, sock


def stop_daemon(p):
    p.terminate()
    p.wait(timeout=30)


def cpu_seconds(pid):
    """The daemon's user + system CPU time so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(sock, calls, pid):
    t = time.monotonic()
    status, data = call(sock, "GET", "/v1/sessions")
    cold = time.monotonic() - t
    assert status == 200, data[:200]
    warm = []
    cpu = cpu_seconds(pid)
    for _ in range(calls):
        t = time.monotonic()
        status, data = call(sock, "GET", "/v1/sessions")
        warm.append(time.monotonic() - t)
    cpu = (cpu_seconds(pid) - cpu) / calls
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    listed = json.loads(data)
    return cold, warm, len(data), listed, (cpu, rss)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3, help="each binary in turn, this many times")
    ap.add_argument("--command", default="for i in $(seq 1 20); do /bin/true; done")
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="reins-summary-bench-", dir="/tmp")
    os.chmod(root, 0o755)
    for d in ("run", "home", "ws"):
        os.makedirs(os.path.join(root, d), mode=0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=os.path.join(root, "run"),
               HOME=os.path.join(root, "home"), XDG_STATE_HOME=os.path.join(root, "home", "state"))
    try:
        p, sock = start_daemon(args.after, root, env)
        ids = []
        t = time.monotonic()
        for _ in range(args.sessions):
            status, data = call(sock, "POST", "/v1/sessions",
                                {"workspace": os.path.join(root, "ws"),
                                 "command": ["sh", "-c", args.command]})
            assert status == 201, data
            ids.append(json.loads(data)["session"])
        while True:
            _, data = call(sock, "GET", "/v1/sessions")
            alive = [s for s in json.loads(data) if s["alive"]]
            if not alive:
                break
            time.sleep(0.5)
        print(f"{args.sessions} sessions started and ended in {time.monotonic() - t:.1f} s")
        stop_daemon(p)
        # in turn, several times: the machine's other load falls on both
        results = {"before": ([], [], [], []), "after": ([], [], [], [])}
        for _ in range(args.rounds):
            for name, binary in (("before", args.before), ("after", args.after)):
                p, sock = start_daemon(binary, root, env)
                cold, warm, size, listed, (cpu, rss) = measure(sock, args.calls, p.pid)
                stop_daemon(p)
                results[name][0].append(cold)
                results[name][1].extend(warm)
                results[name][2].append(cpu)
                results[name][3].append(rss)
                with_sums = sum(1 for s in listed if "egress" in s)
                shape = f"{len(listed)} sessions ({with_sums} with sums), {size} bytes"
        for name, (colds, warm, cpus, rsss) in results.items():
            print(f"{name:6}: first call median {statistics.median(colds) * 1000:.1f} ms; "
                  f"the {len(warm)} next: median {statistics.median(warm) * 1000:.1f} ms, p95 "
                  f"{sorted(warm)[int(len(warm) * 0.95) - 1] * 1000:.1f} ms; the daemon's CPU "
                  f"{statistics.median(cpus) * 1000:.1f} ms a call; RSS {max(rsss) // 1024} MiB")
        print(f"after: {shape}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
