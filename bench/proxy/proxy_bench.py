#!/usr/bin/env python3
"""Egress proxy benchmark (issue 3): run by bench/run.sh, or by hand:

    bench/proxy/proxy_bench.py [PATH_TO_REINS] [--gib 1] [--parallel 50] [--latency 500]
                               [--rounds 5]

1. throughput: 1 GiB from a server on the host's loopback to a client,
   through one CONNECT tunnel of `reins run --net proxy` and through 50
   parallel tunnels, against the same transfer direct over loopback. Both
   ends are bench/proxy/endpoint.c (compiled here), the same program for the
   direct and the proxied transfer, so the ratio measures the proxy and not
   the client. Direct and proxied runs alternate, `--rounds` times; the
   figures are medians. Budget: proxied >= 0.8x direct.
2. connection set-up latency, p50/p99: connect + CONNECT + first echoed byte
   through the proxy, against connect + first echoed byte direct.
3. sandbox-runtime: its HTTP proxy (createHttpProxyServer, what `srt` runs
   on the host for a sandbox) standalone on the host, on the same transfer,
   when it is installed under bench/.npm; otherwise "peer unavailable: why".

Only prints; exits 0 whatever it measures. The machine matters: on a 2-CPU
host both ends of a direct transfer already use both CPUs, and the proxy is
a third process competing for them (see the note printed at the end).
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUDGET = 0.8
SRT_PACKAGE = os.path.join(REPO, "bench", ".npm", "node_modules", "@anthropic-ai",
                           "sandbox-runtime")


def parse(out):
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return dict(kv.split("=") for kv in line.split()[1:])
    return None


def mib_s(res):
    return int(res["bytes"]) / float(res["seconds"]) / (1 << 20)


class Bench:
    def __init__(self, reins, work, total):
        self.reins = reins
        self.work = work
        self.total = total
        self.endpoint = os.path.join(work, "endpoint")
        self.server = None
        self.port = None

    def build(self):
        r = subprocess.run(["cc", "-O2", "-pthread", "-o", self.endpoint,
                            os.path.join(HERE, "endpoint.c")], capture_output=True, text=True)
        if r.returncode != 0:
            return f"cannot compile bench/proxy/endpoint.c: {r.stderr.strip()[-200:]}"
        os.chmod(self.endpoint, 0o755)
        return None

    def serve(self):
        self.server = subprocess.Popen([self.endpoint, "serve"], stdout=subprocess.PIPE,
                                       stdin=subprocess.DEVNULL, text=True)
        self.port = int(self.server.stdout.readline().split()[1])

    def stop(self):
        if self.server:
            self.server.kill()
            self.server.wait()

    def direct(self, args, env=None, timeout=600):
        r = subprocess.run([self.endpoint, *map(str, args)], capture_output=True, text=True,
                           timeout=timeout, env={**os.environ, **(env or {})})
        return parse(r.stdout), (r.stderr.strip().splitlines() or [""])[-1]

    def reins_run(self, args, timeout=600):
        policy = os.path.join(self.work, "policy.yaml")
        with open(policy, "w") as f:
            f.write("version: 1\nextends: default\nnetwork:\n  mode: proxy\n"
                    f"  allow: [\"bench.test:{self.port}\"]\n"
                    "  hosts: {bench.test: 127.0.0.1}\n")
        r = subprocess.run([self.reins, "run", "-q", "-p", policy, "-w", self.work, "--",
                            self.endpoint, *map(str, args)], capture_output=True, text=True,
                           timeout=timeout, cwd=self.work, stdin=subprocess.DEVNULL)
        return parse(r.stdout), (r.stderr.strip().splitlines() or [""])[-1]

    def pull_direct(self, conns):
        return self.direct(["pull", "direct", "127.0.0.1", self.port, self.total, conns])

    def pull_reins(self, conns):
        return self.reins_run(["pull", "proxy", "bench.test", self.port, self.total, conns])


def start_srt_proxy():
    """sandbox-runtime's proxy on the host: (process, port) or (None, why)."""
    if not os.path.isdir(SRT_PACKAGE):
        return None, "not installed under bench/.npm (bench/run.sh installs it)"
    node = shutil.which("node")
    if not node:
        return None, "node is missing"
    p = subprocess.Popen([node, os.path.join(HERE, "srt_proxy.mjs"), SRT_PACKAGE],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL)
    line = p.stdout.readline()
    if not line.startswith("PORT "):
        p.kill()
        return None, ("its proxy module did not start: " +
                      (p.stderr.read().strip().splitlines() or ["no output"])[-1])
    return p, int(line.split()[1])


def throughput(b, conns, rounds, srt_port):
    """Alternate direct, reins (and srt) runs; print medians and ratios."""
    direct, reins, srt = [], [], []
    for _ in range(rounds):
        for name, fn, out in (("direct", lambda: b.pull_direct(conns), direct),
                              ("reins", lambda: b.pull_reins(conns), reins)):
            res, err = fn()
            if not res:
                print(f"throughput x{conns}: {name} failed ({err})")
                return
            out.append(mib_s(res))
        if srt_port:
            res, err = b.direct(["pull", "proxy", "127.0.0.1", b.port, b.total, conns],
                                env={"REINS_BENCH_PROXY": str(srt_port)})
            srt.append(mib_s(res) if res else 0.0)
    d, r = statistics.median(direct), statistics.median(reins)
    ratio = r / d
    ok = "ok" if ratio >= BUDGET else "OVER BUDGET"
    print(f"throughput, {conns:>2} tunnel(s): direct {d:6.0f} MiB/s   reins proxy {r:6.0f} MiB/s"
          f"   ratio {ratio:.2f} (budget >= {BUDGET}) {ok}   "
          f"[rounds: {' '.join(f'{x / y:.2f}' for x, y in zip(reins, direct))}]")
    if srt:
        s = statistics.median(srt)
        if s > 0:
            print(f"                     sandbox-runtime proxy {s:6.0f} MiB/s   ratio to direct "
                  f"{s / d:.2f}   reins/sandbox-runtime {r / s:.2f}")
        else:
            print("                     sandbox-runtime proxy: the transfer failed")


def main():
    argv = sys.argv[1:]
    reins = argv[0] if argv and not argv[0].startswith("--") else os.path.join(REPO, "build",
                                                                               "reins")
    rest = argv[1:] if argv and not argv[0].startswith("--") else argv
    opt = dict(zip(rest[0::2], rest[1::2]))
    gib = float(opt.get("--gib", os.environ.get("REINS_BENCH_PROXY_GIB", "1")))
    parallel = int(opt.get("--parallel", "50"))
    lat_n = int(opt.get("--latency", "500"))
    rounds = int(opt.get("--rounds", os.environ.get("REINS_BENCH_PROXY_ROUNDS", "5")))
    total = int(gib * (1 << 30))
    print(f"\n== egress proxy: {gib:g} GiB through CONNECT tunnels ({rounds} alternating rounds, "
          f"medians), set-up latency; {os.cpu_count()} cpus")
    if not os.access(reins, os.X_OK):
        print(f"no reins binary at {reins}; nothing to measure")
        return
    work = tempfile.mkdtemp(prefix="reins-proxy-bench-")
    os.chmod(work, 0o755)
    b = Bench(reins, work, total)
    srt_proc = None
    try:
        err = b.build()
        if err:
            print(err)
            return
        b.serve()
        srt_proc, srt_port = start_srt_proxy()
        if not srt_proc:
            print(f"peer unavailable: sandbox-runtime: {srt_port}")
            srt_port = None
        for conns in (1, parallel):
            throughput(b, conns, rounds, srt_port)
        d, derr = b.direct(["latency", "direct", "127.0.0.1", b.port, lat_n])
        p, perr = b.reins_run(["latency", "proxy", "bench.test", b.port, lat_n])
        if d and p:
            print(f"set-up latency ({lat_n} connections): direct p50 {d['p50_us']} us, "
                  f"p99 {d['p99_us']} us   reins proxy p50 {p['p50_us']} us, p99 "
                  f"{p['p99_us']} us")
        else:
            print(f"set-up latency: failed ({derr or perr})")
        if srt_port:
            print("note: sandbox-runtime's proxy runs standalone on the host here (no sandbox, "
                  "no socat bridge in front of it, every host allowed); reins' proxy serves a "
                  "real sandbox")
        if (os.cpu_count() or 0) <= 2:
            print("note: with 2 CPUs, a direct transfer keeps both busy (sender and receiver "
                  "copy); a proxy is a third process on the same two, so the ratio here is "
                  "bounded by its share of them (see README, network)")
    finally:
        b.stop()
        if srt_proc:
            srt_proc.kill()
            srt_proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a benchmark never fails the build
        print(f"proxy benchmark failed: {e}")
