#!/usr/bin/env python3
"""reins serve's warm pool: time to the agent's first instruction (issue 15.6).

The agent is a tiny static program that prints CLOCK_MONOTONIC as its first
act (the sandbox shares the host's clock: no time namespace). Each round
measures, in alternating order:

  pool   POST /v1/sessions for the pooled policy and workspace, from just
         before the request is written to the agent's stamp (the daemon's
         HTTP handling, the take, session.start written, the exec);
  cold   `reins run -q -p POLICY -w WS -- AGENT`, from just before the fork
         of reins to the agent's stamp;
  api    POST /v1/sessions for the same policy in another workspace (the
         daemon's cold start), the same way as `pool`;
  exec   the floor: a small C program forks and execs the agent on the host,
         unsandboxed, from just before the fork to the agent's stamp (what an
         exec alone costs on this machine at that moment).

Two figures for each: the time to the execve call (the agent's exec
begins; only with a build made with `make BUILD=build-stamp
EXTRA_CPPFLAGS=-DREINS_BENCH_EXEC_STAMP`, whose command process writes
CLOCK_MONOTONIC to its stderr just before execve; the floor's child does the
same), and the time to the agent's first instruction. The floor also gives
the exec alone: from the execve call to the agent's first instruction.

Between rounds the pool refills (not timed: it happens in the background).
Prints p50 and p90 of each, and the pool's ratio to the cold `reins run`.
Budget (DESIGN section 8): pool p50 <= 2 ms.

  pool_bench.py REINS [--rounds N] [--size N]

Prints only; exits 0 whatever it measures.
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

AGENT_C = r"""
#include <stdio.h>
#include <time.h>
int main(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        printf("%lld\n", (long long)t.tv_sec * 1000000000LL + t.tv_nsec);
        return 0;
}
"""


FORK_EXEC_C = r"""
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
static long long now(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}
int main(int argc, char **argv)
{
        (void)argc;
        int p[2], q[2];
        char out[64] = {0};
        long long agent = 0, exec_at = 0;
        if (pipe(p) < 0 || pipe(q) < 0)
                return 1;
        long long t0 = now();
        pid_t pid = fork();
        if (pid == 0) {
                dup2(p[1], 1);
                long long e = now(); /* just before execve, as the stamped reins build */
                if (write(q[1], &e, sizeof(e)) != sizeof(e))
                        _exit(126);
                execl(argv[1], argv[1], (char *)NULL);
                _exit(127);
        }
        close(p[1]);
        close(q[1]);
        if (read(p[0], out, sizeof(out) - 1) <= 0 || sscanf(out, "%lld", &agent) != 1)
                return 1;
        if (read(q[0], &exec_at, sizeof(exec_at)) != sizeof(exec_at))
                return 1;
        waitpid(pid, NULL, 0);
        printf("%lld %lld\n", agent - t0, exec_at - t0);
        return 0;
}
"""

EXEC_STAMP = "reins-bench-exec "


def exec_stamp(stderr):
    """The stamped build's CLOCK_MONOTONIC just before execve, or None."""
    for line in (stderr or "").splitlines():
        if line.startswith(EXEC_STAMP):
            return int(line[len(EXEC_STAMP):])
    return None


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)


def call(sock, method, path, body=None):
    c = UnixHTTPConnection(sock)
    c.connect()  # connected before the clock starts: a client keeps its connection
    data = json.dumps(body) if body is not None else None
    t0 = time.monotonic_ns()
    c.request(method, path, body=data)
    r = c.getresponse()
    text = r.read()
    c.close()
    return r.status, json.loads(text) if text[:1] in (b"{", b"[") else text, t0


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def wait_ended(sock, session, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, entry, _ = call(sock, "GET", f"/v1/sessions/{session}")
        if status == 200 and not entry["alive"] and entry["serve"]["exit_status"] is not None:
            return entry
        time.sleep(0.01)
    raise RuntimeError(f"session {session} did not end")


def agent_stamp(sock, session):
    """(the agent's first instruction, the execve call or None)"""
    wait_ended(sock, session)
    status, out, _ = call(sock, "GET", f"/v1/sessions/{session}/output")
    return int(out["stdout"].split()[0]), exec_stamp(out.get("stderr"))


def record(times, name, agent, execve, t0):
    times[name].append((agent - t0) / 1e6)
    if execve is not None:
        times[name + "_execve"].append((execve - t0) / 1e6)


def pool_ready(sock, policy):
    status, policies, _ = call(sock, "GET", "/v1/policies")
    for p in policies:
        if p.get("kind") == "pool" and p["name"] == policy:
            return p["pool"]
    return None


def wait_pool(sock, policy, size, timeout=60):
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = pool_ready(sock, policy)
        if state and state["ready"] >= size:
            return state
        time.sleep(0.01)
    raise RuntimeError(f"the pool did not fill: {state}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reins")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--size", type=int, default=2)
    args = ap.parse_args()
    reins = os.path.abspath(args.reins)
    print(f"== warm pool: time to the agent's first instruction ({args.rounds} rounds, "
          "alternating; budget pool p50 <= 2 ms)")
    cc = shutil.which("cc")
    if not cc:
        print("   unavailable: no C compiler for the agent")
        return
    d = tempfile.mkdtemp(prefix="reins-pool-bench-")
    daemon = None
    try:
        ws = os.path.join(d, "ws")
        other = os.path.join(d, "other")
        os.mkdir(ws)
        os.mkdir(other)
        agent = os.path.join(d, "stamp")
        with open(agent + ".c", "w") as f:
            f.write(AGENT_C)
        r = subprocess.run([cc, "-static", "-O2", "-o", agent, agent + ".c"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            r = subprocess.run([cc, "-O2", "-o", agent, agent + ".c"], capture_output=True,
                               text=True)
        if r.returncode != 0:
            print("   unavailable: the agent does not build:", r.stderr.strip()[-200:])
            return
        for target in (ws, other):
            shutil.copy(agent, os.path.join(target, "stamp"))
        forkexec = os.path.join(d, "forkexec")
        with open(forkexec + ".c", "w") as f:
            f.write(FORK_EXEC_C)
        if subprocess.run([cc, "-O2", "-o", forkexec, forkexec + ".c"]).returncode != 0:
            forkexec = None
        policy = os.path.join(d, "pooled.yaml")
        with open(policy, "w") as f:
            f.write(f"version: 1\nname: pooled\nextends: default\npool: {args.size}\n")
        config = os.path.join(d, "serve.yaml")
        with open(config, "w") as f:
            f.write(f"version: 1\npool:\n  - policy: {policy}\n    workspace: {ws}\n")
        sock = os.path.join(d, "serve.sock")
        daemon = subprocess.Popen(
            [reins, "serve", "--socket", sock, "--state", os.path.join(d, "state"),
             "--config", config], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.01)
        wait_pool(sock, policy, args.size)
        command_ws = os.path.join(ws, "stamp")
        times = {k: [] for k in ("pool", "pool_execve", "cold", "cold_execve", "api",
                                  "api_execve", "exec", "exec_execve", "exec_only")}
        misses = 0

        def pool_round():
            nonlocal misses
            wait_pool(sock, policy, args.size)
            status, reply, t0 = call(sock, "POST", "/v1/sessions",
                                     {"policy": policy, "workspace": ws,
                                      "command": [command_ws]})
            if status != 201:
                raise RuntimeError(f"pool start: {status} {reply}")
            if not reply.get("pool"):
                misses += 1
                return
            record(times, "pool", *agent_stamp(sock, reply["session"]), t0)

        def cold_round():
            t0 = time.monotonic_ns()
            r = subprocess.run([reins, "run", "-q", "-p", policy, "-w", ws, "--", command_ws],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"reins run: {r.returncode} {r.stderr[-300:]}")
            record(times, "cold", int(r.stdout.split()[0]), exec_stamp(r.stderr), t0)

        def api_round():
            status, reply, t0 = call(sock, "POST", "/v1/sessions",
                                     {"policy": policy, "workspace": other,
                                      "command": [os.path.join(other, "stamp")]})
            if status != 201:
                raise RuntimeError(f"api start: {status} {reply}")
            record(times, "api", *agent_stamp(sock, reply["session"]), t0)

        def exec_round():
            if not forkexec:
                return
            r = subprocess.run([forkexec, command_ws], capture_output=True, text=True)
            if r.returncode == 0:
                agent, execve = (int(x) for x in r.stdout.split())
                times["exec"].append(agent / 1e6)
                times["exec_execve"].append(execve / 1e6)
                times["exec_only"].append((agent - execve) / 1e6)

        for _ in range(3):  # warm-up: caches, the deny-match cache, page cache
            cold_round()
            api_round()
            pool_round()
        times = {k: [] for k in times}
        misses = 0
        for i in range(args.rounds):
            rounds = [pool_round, cold_round, api_round, exec_round]
            if i % 2:
                rounds.reverse()
            for f in rounds:
                f()
        state = pool_ready(sock, policy)
        stamped = bool(times["pool_execve"])
        print("   to the execve call (time-to-exec)" + ("" if stamped else
              ": not measured (a build without -DREINS_BENCH_EXEC_STAMP; "
              "see the README's \"The warm pool's 2 ms\")"))
        rows = (("pool", "from the warm pool (POST /v1/sessions)"),
                ("cold", "cold `reins run`"),
                ("api", "cold through the daemon (POST, no pool)"),
                ("exec", "floor: fork + exec on the host, no sandbox"))
        for name, label in rows:
            v = times[name + "_execve"]
            if v:
                print(f"     {label:44s} p50 {pct(v, 50):7.2f} ms   p90 {pct(v, 90):7.2f} ms"
                      f"   (n={len(v)})")
        print("   to the agent's first instruction")
        for name, label in rows + (("exec_only",
                                    "floor: exec alone (execve call to the agent)"),):
            v = times[name]
            if v:
                print(f"     {label:44s} p50 {pct(v, 50):7.2f} ms   p90 {pct(v, 90):7.2f} ms"
                      f"   (n={len(v)})")
        if times["pool"] and times["cold"]:
            p50 = pct(times["pool"], 50)
            print(f"   pool / cold reins run (p50, first instruction): "
                  f"{p50 / pct(times['cold'], 50):.3f}; budget p50 <= 2 ms: "
                  f"{'met' if p50 <= 2 else 'over'}")
        if stamped:
            p50 = pct(times["pool_execve"], 50)
            print(f"   pool time-to-exec p50 {p50:.2f} ms against cold `reins run` "
                  f"{pct(times['cold_execve'], 50) if times['cold_execve'] else float('nan'):.2f}"
                  f" ms; budget p50 <= 2 ms: {'met' if p50 <= 2 else 'over'}")
        print(f"   pool misses (a cold start instead): {misses}; members built "
              f"{state['built'] if state else '?'}, retired {state['retired'] if state else '?'}")
    except Exception as e:  # a benchmark never fails the build
        print(f"   failed: {e}")
    finally:
        if daemon:
            daemon.terminate()
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
