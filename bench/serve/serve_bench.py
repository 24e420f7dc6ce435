#!/usr/bin/env python3
"""reins serve: the daemon's start-up and its API latency (issue 15).

  start-up   from exec of `reins serve` to its first answered API call
             (GET /v1/policies over the socket), median and p90 of N starts.
             Budget: < 50 ms.
  latency    GET /v1/sessions with S sessions started through the API
             (`sleep`), p50 and p99 of R calls; the daemon's RSS.

  serve_bench.py REINS [--starts N] [--sessions S] [--calls R]

Prints only; exits 0 whatever it measures.
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)


def call(sock, method, path, body=None):
    c = UnixHTTPConnection(sock)
    c.request(method, path, body=json.dumps(body) if body is not None else None)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def start_daemon(reins, d):
    sock = os.path.join(d, "serve.sock")
    t0 = time.perf_counter()
    proc = subprocess.Popen([reins, "serve", "--socket", sock, "--state", os.path.join(d, "state")],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    while True:
        try:
            status, _ = call(sock, "GET", "/v1/policies")
            if status == 200:
                return proc, sock, (time.perf_counter() - t0) * 1000
        except (FileNotFoundError, ConnectionRefusedError):
            pass
        if proc.poll() is not None:
            raise SystemExit(f"reins serve exited {proc.returncode}")
        time.sleep(0.0005)


def stop(proc):
    proc.terminate()
    proc.wait(timeout=30)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reins")
    ap.add_argument("--starts", type=int, default=20)
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--calls", type=int, default=200)
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="reins-bench-serve-")
    try:
        times = []
        for _ in range(a.starts):
            proc, _, ms = start_daemon(a.reins, d)
            times.append(ms)
            stop(proc)
        print(f"serve start-up to first answer: median {statistics.median(times):.1f} ms, "
              f"p90 {pct(times, 90):.1f} ms over {a.starts} starts (budget < 50 ms)")
        proc, sock, _ = start_daemon(a.reins, d)
        ws = os.path.join(d, "ws")
        os.makedirs(ws, exist_ok=True)
        ids = []
        t0 = time.perf_counter()
        for _ in range(a.sessions):
            status, body = call(sock, "POST", "/v1/sessions",
                                {"workspace": ws, "command": ["sleep", "600"]})
            if status != 201:
                print(f"serve: a session did not start: {status} {body[:200]!r}")
                break
            ids.append(json.loads(body)["session"])
        started = time.perf_counter() - t0
        lat = []
        for _ in range(a.calls):
            t = time.perf_counter()
            status, body = call(sock, "GET", "/v1/sessions")
            lat.append((time.perf_counter() - t) * 1000)
        listed = len(json.loads(body))
        print(f"serve: {len(ids)} sessions started through the API in {started:.2f} s "
              f"({started / max(1, len(ids)) * 1000:.0f} ms each, until registered)")
        print(f"serve: GET /v1/sessions with {listed} sessions: p50 {pct(lat, 50):.1f} ms, "
              f"p99 {pct(lat, 99):.1f} ms over {a.calls} calls; daemon RSS "
              f"{rss_kib(proc.pid)} KiB")
        for i in ids:
            call(sock, "POST", f"/v1/sessions/{i}/stop")
        stop(proc)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
