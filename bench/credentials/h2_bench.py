#!/usr/bin/env python3
"""HTTP/2 through credential injection (issue 18): run by bench/run.sh, or by hand:

    bench/credentials/h2_bench.py [PATH_TO_REINS] [--mib 256] [--requests 200]

Two local TLS servers with one test CA serve the same files: nghttpd
(nghttp2-server, HTTP/2 only) and `openssl s_server -WWW` (HTTP/1.x). `reins
run` reaches each under a credential's host (terminated by the proxy, the
secret injected) and curl inside picks the protocol (--http2 / --http1.1).

1. Bulk: `--mib` MiB through termination, h2 and HTTP/1.1, each against the
   same download direct from the host (no proxy), medians of 3.
2. Requests: `--requests` sequential small GETs, one new connection each
   (CONNECT + the two handshakes + the request), time to the first byte
   p50/p99, h2 against HTTP/1.1 through termination.

Only prints; exits 0 whatever it measures.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reins", nargs="?", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "reins"))
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--requests", type=int, default=200)
    a = ap.parse_args()
    reins = os.path.abspath(a.reins)
    for tool in ("openssl", "curl", "nghttpd"):
        if not shutil.which(tool):
            print(f"credentials h2: peer unavailable: {tool} is needed (nghttp2-server)")
            return 0
    d = tempfile.mkdtemp(prefix="reins-h2-bench-", dir="/tmp")
    os.chmod(d, 0o755)
    servers = []
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{d}/key", "-out",
                        f"{d}/cert.crt", "-days", "2", "-subj", "/CN=h2.test", "-addext",
                        "subjectAltName=DNS:h2.test,DNS:h1.test"], check=True,
                       capture_output=True)
        with open(f"{d}/big", "wb") as f:
            chunk = os.urandom(1 << 20)
            for _ in range(a.mib):
                f.write(chunk)
        with open(f"{d}/small", "w") as f:
            f.write("ok\n")
        p2, p1 = free_port(), free_port()
        servers.append(subprocess.Popen(
            ["nghttpd", "-a", "127.0.0.1", "-d", d, str(p2), f"{d}/key", f"{d}/cert.crt"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        servers.append(subprocess.Popen(
            ["openssl", "s_server", "-quiet", "-accept", f"127.0.0.1:{p1}", "-cert",
             f"{d}/cert.crt", "-key", f"{d}/key", "-WWW"], cwd=d, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(0.5)
        with open(f"{d}/policy.yaml", "w") as f:
            f.write(f"""version: 1
extends: default
network:
  mode: proxy
  allow: ["h2.test:{p2}", "h1.test:{p1}"]
  hosts: {{h2.test: 127.0.0.1, h1.test: 127.0.0.1}}
credentials:
  - name: bench
    source: {{env: BENCH_SECRET}}
    hosts: ["h2.test:{p2}", "h1.test:{p1}"]
    env: BENCH_TOKEN
""")
        env = {**os.environ, "BENCH_SECRET": "bench-secret", "SSL_CERT_FILE": f"{d}/cert.crt"}
        target = {"h2": (f"h2.test:{p2}", "--http2"), "h1": (f"h1.test:{p1}", "--http1.1")}

        def direct(proto):
            host, flag = target[proto]
            out = subprocess.run(
                ["curl", "-sS", flag, "-o", "/dev/null", "-w", "%{time_total} %{http_version}",
                 "--noproxy", "*", "--cacert", f"{d}/cert.crt", "--resolve",
                 f"{host.split(':')[0]}:{host.split(':')[1]}:127.0.0.1", f"https://{host}/big"],
                capture_output=True, text=True, timeout=600).stdout.split()
            return float(out[0]) if out else None

        def sandboxed(proto):
            host, flag = target[proto]
            out = subprocess.run(
                [reins, "run", "-p", f"{d}/policy.yaml", "-w", d, "--", "curl", "-sS", flag,
                 "-o", "/dev/null", "-w", "%{time_total} %{size_download} %{http_version}",
                 f"https://{host}/big"], env=env, capture_output=True, text=True,
                timeout=600).stdout.split()
            ok = len(out) == 3 and int(out[1]) == a.mib << 20
            want = "2" if proto == "h2" else "1"  # s_server -WWW answers HTTP/1.0
            return float(out[0]) if ok and out[2].startswith(want) else None

        print("HTTP/2 through credential injection (TLS terminated by the proxy) vs HTTP/1.1, "
              "local servers (nghttpd h2, openssl s_server HTTP/1.x):")
        rows = {k: [] for k in ("h2 direct", "h2 terminated", "h1 direct", "h1 terminated")}
        for _ in range(3):
            for proto in ("h2", "h1"):
                for what, fn in (("direct", direct), ("terminated", sandboxed)):
                    t = fn(proto)
                    if t:
                        rows[f"{proto} {what}"].append(t)
        if not all(rows.values()):
            print("credentials h2: a bulk run failed:", {k: len(v) for k, v in rows.items()})
        else:
            rate = {k: a.mib / statistics.median(v) for k, v in rows.items()}
            for proto in ("h2", "h1"):
                print(f"  bulk {a.mib} MiB {proto}, medians of 3: direct "
                      f"{rate[proto + ' direct']:.0f} MiB/s, terminated "
                      f"{rate[proto + ' terminated']:.0f} MiB/s "
                      f"({rate[proto + ' terminated'] / rate[proto + ' direct']:.2f}x)")
        script = "; ".join(
            f"for i in $(seq {a.requests}); do curl -sS {target[p][1]} -o /dev/null -w "
            f"'{p} %{{time_starttransfer}} %{{http_version}}\\n' https://{target[p][0]}/small; done"
            for p in ("h2", "h1"))
        r = subprocess.run([reins, "run", "-p", f"{d}/policy.yaml", "-w", d, "--", "sh", "-c",
                            script], env=env, capture_output=True, text=True, timeout=600)
        first = {"h2": [], "h1": []}
        for line in r.stdout.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] in first:
                first[parts[0]].append(float(parts[1]) * 1000)
        for p, v in first.items():
            if v:
                print(f"  {p}: new connection to first byte through termination, {len(v)} "
                      f"requests: p50 {pct(v, .5):.2f} ms  p99 {pct(v, .99):.2f} ms")
    finally:
        for s in servers:
            s.terminate()
            s.wait()
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
