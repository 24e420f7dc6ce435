#!/usr/bin/env python3
"""Egress proxy benchmark (issue 3): run by bench/run.sh, or by hand:

    bench/proxy/proxy_bench.py [PATH_TO_REINS] [--gib 1] [--parallel 50] [--latency 500]

1. throughput: 1 GiB from a server on the host's loopback to a client, through
   one CONNECT tunnel of `reins run --net proxy` and through 50 parallel
   tunnels, against the same transfer direct over loopback (client on the
   host). Budget: proxied >= 0.8x direct.
2. connection set-up latency, p50/p99: connect + CONNECT + first echoed byte
   through the proxy, against connect + first echoed byte direct.
3. sandbox-runtime (srt) on the same single-tunnel transfer when it is
   installed under bench/.npm; otherwise "peer unavailable: why".

Only prints; exits 0 whatever it measures.
"""
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PROXY = ("127.0.0.1", 3128)
BUDGET = 0.8

# ---------------------------------------------------------------- the client
# (runs inside the sandbox for the proxied numbers, on the host for direct)
CLIENT = r'''
import os, socket, sys, threading, time
PROXY = ("127.0.0.1", 3128)

def open_stream(mode, host, port):
    if mode == "direct":
        return socket.create_connection(("127.0.0.1", port))
    s = socket.create_connection(PROXY)
    s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("proxy closed the tunnel: " + repr(buf))
        buf += chunk
    if not buf.startswith(b"HTTP/1.1 200"):
        raise SystemExit("proxy refused: " + buf.split(b"\r\n")[0].decode())
    return s

def pull(mode, host, port, size, out, i):
    s = open_stream(mode, host, port)
    s.sendall(size.to_bytes(8, "big"))
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = s.recv_into(view)
        if n == 0:
            break
        got += n
    s.close()
    out[i] = got

def throughput(mode, host, port, total, conns):
    per = total // conns
    out = [0] * conns
    threads = [threading.Thread(target=pull, args=(mode, host, port, per, out, i))
               for i in range(conns)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.perf_counter() - t0
    print(f"RESULT bytes={sum(out)} seconds={dt:.4f}", flush=True)

def latency(mode, host, port, n):
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        s = open_stream(mode, host, port)
        s.sendall(b"x")
        s.recv(1)
        samples.append(time.perf_counter() - t0)
        s.close()
    samples.sort()
    p50 = samples[len(samples) // 2] * 1e6
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1e6
    print(f"RESULT p50_us={p50:.0f} p99_us={p99:.0f}", flush=True)

cmd, mode, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if cmd == "throughput":
    throughput(mode, host, port, int(sys.argv[5]), int(sys.argv[6]))
else:
    latency(mode, host, port, int(sys.argv[5]))
'''


# ---------------------------------------------------------------- host servers
class _Source(socketserver.BaseRequestHandler):
    block = memoryview(b"\0" * (1 << 20))

    def handle(self):
        size = int.from_bytes(self.request.recv(8), "big")
        left = size
        try:
            while left > 0:
                n = min(left, len(self.block))
                self.request.sendall(self.block[:n])
                left -= n
        except OSError:
            pass


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            while True:
                data = self.request.recv(4096)
                if not data:
                    return
                self.request.sendall(data)
        except OSError:
            pass


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def start(handler):
    srv = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def parse(out):
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return dict(kv.split("=") for kv in line.split()[1:])
    return None


def run_direct(args, timeout=600):
    r = subprocess.run([sys.executable, "-c", CLIENT, *map(str, args)], capture_output=True,
                       text=True, timeout=timeout)
    return parse(r.stdout), r.stderr.strip()


def run_reins(reins, work, ports, args, timeout=600):
    client = os.path.join(work, "client.py")
    policy = os.path.join(work, "policy.yaml")
    allow = ", ".join(f'"bench.test:{p}"' for p in ports)
    with open(policy, "w") as f:
        f.write("version: 1\nextends: default\nnetwork:\n  mode: proxy\n"
                f"  allow: [{allow}]\n  hosts: {{bench.test: 127.0.0.1}}\n")
    r = subprocess.run([reins, "run", "-q", "-p", policy, "-w", work, "--", "python3", client,
                        *map(str, args)], capture_output=True, text=True, timeout=timeout,
                       cwd=work, stdin=subprocess.DEVNULL)
    return parse(r.stdout), (r.stderr.strip().splitlines() or [""])[-1]


def mib_s(res):
    return int(res["bytes"]) / float(res["seconds"]) / (1 << 20)


def srt_command():
    srt = os.path.join(REPO, "bench", ".npm", "node_modules", ".bin", "srt")
    return srt if os.access(srt, os.X_OK) else None


def main():
    argv = sys.argv[1:]
    reins = argv[0] if argv and not argv[0].startswith("--") else os.path.join(REPO, "build",
                                                                               "reins")
    opt = dict(zip(argv[1::2], argv[2::2])) if argv and not argv[0].startswith("--") else \
        dict(zip(argv[0::2], argv[1::2]))
    gib = float(opt.get("--gib", os.environ.get("REINS_BENCH_PROXY_GIB", "1")))
    parallel = int(opt.get("--parallel", "50"))
    lat_n = int(opt.get("--latency", "500"))
    total = int(gib * (1 << 30))
    print(f"\n== egress proxy: {gib:g} GiB through CONNECT tunnels, set-up latency")
    if not os.access(reins, os.X_OK):
        print(f"no reins binary at {reins}; nothing to measure")
        return
    work = tempfile.mkdtemp(prefix="reins-proxy-bench-")
    os.chmod(work, 0o755)
    with open(os.path.join(work, "client.py"), "w") as f:
        f.write(CLIENT)
    src, echo = start(_Source), start(_Echo)
    sp, ep = src.server_address[1], echo.server_address[1]
    try:
        for conns in (1, parallel):
            d, derr = run_direct(["throughput", "direct", "127.0.0.1", sp, total, conns])
            p, perr = run_reins(reins, work, [sp, ep],
                                ["throughput", "proxy", "bench.test", sp, total, conns])
            if not d or not p:
                print(f"throughput x{conns}: failed ({derr or perr})")
                continue
            ratio = mib_s(p) / mib_s(d)
            ok = "ok" if ratio >= BUDGET else "OVER BUDGET"
            print(f"throughput, {conns:>2} tunnel(s): direct {mib_s(d):8.0f} MiB/s   reins proxy "
                  f"{mib_s(p):8.0f} MiB/s   ratio {ratio:.2f} (budget >= {BUDGET}) {ok}")
        d, derr = run_direct(["latency", "direct", "127.0.0.1", ep, lat_n])
        p, perr = run_reins(reins, work, [sp, ep], ["latency", "proxy", "bench.test", ep, lat_n])
        if d and p:
            print(f"set-up latency ({lat_n} connections): direct p50 {d['p50_us']} us, "
                  f"p99 {d['p99_us']} us   reins proxy p50 {p['p50_us']} us, p99 "
                  f"{p['p99_us']} us")
        else:
            print(f"set-up latency: failed ({derr or perr})")
        if srt_command():
            print("peer unavailable: sandbox-runtime: its proxy only admits names from its own "
                  "settings file and needs its allowlist format; not wired into this benchmark "
                  "yet")
        else:
            print("peer unavailable: sandbox-runtime: not installed under bench/.npm "
                  "(bench/run.sh installs it)")
    finally:
        src.shutdown()
        echo.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a benchmark never fails the build
        print(f"proxy benchmark failed: {e}")
