#!/usr/bin/env python3
"""reins serve under load (issue 15, item 7).

A daemon with a state, runtime and home directory of its own:
  1. S sessions started through POST /v1/sessions, all at once (each a
     `reins run` supervisor running COMMAND, by default a shell loop that
     writes a line and runs `sleep 10`, an audited exec, so the event
     streams carry events): the wall time until every start is answered;
  2. E server-sent-event subscribers: GET /v1/events (one stream for every
     session) when the daemon answers it with 200, else GET
     /v1/sessions/{id}/events spread over the sessions (--events chooses);
  3. while all of them run: C clients call a mix of GET /v1/sessions, GET
     /v1/sessions/{id}, GET /v1/approvals, GET /v1/metrics and, every few
     rounds, POST /v1/sessions + POST /v1/sessions/{id}/stop, R calls a
     second together (--rate 0: back to back, a saturation test); p50/p99
     per call, and of the reads together; the daemon's CPU per call;
  4. the daemon's RSS (peak and now), PSS (/proc/PID/smaps_rollup) and
     threads, sampled throughout.
Budgets (issue 15.7): API p99 < 50 ms, the daemon's RSS < 64 MiB.

  load_bench.py REINS [--sessions 200] [--subscribers 100] [--rounds 50]
                      [--clients 4] [--rate 20] [--start-every 5]
                      [--events auto|global|session]
                      [--command 'ARGV ...'] [--as nobody] [--hold FILE]

Every session it starts is stopped before it exits, on Ctrl-C too (through
the API, then by signal to any supervisor its records still name). Prints
only; exits 0 whatever it measures.
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import selectors
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BUDGET_P99_MS = 50.0
BUDGET_RSS_KIB = 64 * 1024
NOBODY_UID = NOBODY_GID = 65534
TICK = ["sh", "-c", "while :; do echo tick; sleep 10; done"]


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def call(sock, method, path, body=None, timeout=60):
    """One request on a connection of its own: (status, bytes)."""
    c = UnixHTTPConnection(sock, timeout)
    try:
        data = json.dumps(body) if body is not None else None
        c.request(method, path, body=data,
                  headers={"Content-Type": "application/json"} if data else {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def proc_fields(pid):
    """VmRSS, VmHWM (KiB), Threads and Pss (KiB) of `pid`, or None."""
    status = read(f"/proc/{pid}/status")
    if status is None:
        return None
    out = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            out[key] = int(value.split()[0])
    for line in (read(f"/proc/{pid}/smaps_rollup") or "").splitlines():
        if line.startswith("Pss:"):
            out["Pss"] = int(line.split()[1])
    return out


def cpu_ms(pid):
    """CPU time (user + system) `pid` has used so far, its ended threads
    included, in ms."""
    text = read(f"/proc/{pid}/stat") or ""
    fields = text[text.rfind(")") + 2:].split()
    if len(fields) < 13:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def machine_busy():
    """(busy, total) jiffies of all cpus so far (/proc/stat)."""
    fields = [int(x) for x in (read("/proc/stat") or "cpu 0").splitlines()[0].split()[1:]]
    idle = sum(fields[3:5])
    return sum(fields) - idle, sum(fields)


class Sampler(threading.Thread):
    """The daemon's memory and threads every 50 ms: the peaks, and the last."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = {}
        self.last = {}
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            self.sample()
            self.done.wait(0.05)

    def sample(self):
        f = proc_fields(self.pid)
        if f:
            self.last = f
            for k, v in f.items():
                self.peak[k] = max(self.peak.get(k, 0), v)


class Subscribers(threading.Thread):
    """E event streams read by one thread (selectors): bytes and events
    each, and which ended early or were refused."""

    def __init__(self, sock, paths):
        super().__init__(daemon=True)
        self.sel = selectors.DefaultSelector()
        self.streams = []
        self.stop = threading.Event()
        for path in paths:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sock)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: reins\r\nAccept: text/event-stream\r\n"
                      "\r\n".encode())
            s.setblocking(False)
            st = {"sock": s, "head": b"", "status": None, "bytes": 0, "events": 0,
                  "open": True}
            self.streams.append(st)
            self.sel.register(s, selectors.EVENT_READ, st)

    def run(self):
        while not self.stop.is_set() and any(st["open"] for st in self.streams):
            for key, _ in self.sel.select(timeout=0.2):
                st = key.data
                try:
                    data = st["sock"].recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    st["open"] = False
                    self.sel.unregister(st["sock"])
                    continue
                if st["status"] is None:
                    st["head"] += data
                    if b"\r\n" not in st["head"]:
                        continue
                    try:
                        st["status"] = int(st["head"].split(b" ", 2)[1])
                    except (IndexError, ValueError):
                        st["status"] = 0
                    data = st["head"]
                st["bytes"] += len(data)
                st["events"] += data.count(b"\nid: ") + data.startswith(b"id: ")

    def close(self):
        self.stop.set()
        self.join(timeout=5)
        for st in self.streams:
            st["sock"].close()
        self.sel.close()


def events_route(sock, choice):
    """'global' when GET /v1/events answers 200 (and `choice` allows it)."""
    if choice == "session":
        return "session"
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(sock)
        s.sendall(b"GET /v1/events HTTP/1.1\r\nHost: reins\r\n\r\n")
        line = s.recv(64)
        s.close()
        ok = line.split(b" ")[1:2] == [b"200"]
    except (OSError, IndexError):
        ok = False
    if choice == "global" and not ok:
        print("  load: GET /v1/events does not answer 200: per-session streams instead")
    return "global" if ok else "session"


class Bench:
    def __init__(self, a):
        self.a = a
        self.prefix = []
        if a.as_user == "nobody":
            self.prefix = ["setpriv", f"--reuid={NOBODY_UID}", f"--regid={NOBODY_GID}",
                           "--clear-groups"]
        self.tmp = tempfile.mkdtemp(prefix="reins-bench-load-")
        dirs = {n: os.path.join(self.tmp, n)
                for n in ("home", "xdg-state", "config", "cache", "run", "ws")}
        for d in [self.tmp, *dirs.values()]:
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o700)
            if self.prefix:
                os.chown(d, NOBODY_UID, NOBODY_GID)
        self.ws = dirs["ws"]
        self.reins = a.reins
        if self.prefix and subprocess.run([*self.prefix, "test", "-x", a.reins]).returncode != 0:
            # nobody cannot reach the build tree: a copy it can run
            self.reins = os.path.join(self.tmp, "reins")
            shutil.copy(a.reins, self.reins)
            os.chmod(self.reins, 0o755)
        self.state = os.path.join(self.tmp, "state")
        self.sock = os.path.join(self.tmp, "serve.sock")
        # the daemon's sessions inherit these (the daemon's own user): their
        # registry, trails and keys stay in this directory, away from the
        # caller's and from other reins sessions on the machine
        self.env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": dirs["home"],
            "XDG_STATE_HOME": dirs["xdg-state"], "XDG_CONFIG_HOME": dirs["config"],
            "XDG_CACHE_HOME": dirs["cache"], "XDG_RUNTIME_DIR": dirs["run"],
            "TMPDIR": self.tmp, "LANG": "C.UTF-8",
        }
        self.proc = None
        self.lock = threading.Lock()
        self.started = {}  # session id -> supervisor pid
        self.stopping = threading.Event()  # Ctrl-C: clients start nothing more

    # ---- the daemon

    def start_daemon(self):
        self.proc = subprocess.Popen(
            [*self.prefix, self.reins, "serve", "--socket", self.sock, "--state", self.state],
            env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.tmp, "serve.err"), "wb"), start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = (read(os.path.join(self.tmp, "serve.err")) or "").strip()
                raise RuntimeError(f"reins serve exited {self.proc.returncode}: {err[-300:]}")
            try:
                if call(self.sock, "GET", "/v1/policies", timeout=5)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.005)
        raise RuntimeError("reins serve did not answer within 10 s")

    def daemon_pid(self):
        """The daemon's pid (under setpriv: setpriv execs it, same pid)."""
        return self.proc.pid

    # ---- sessions

    def start_session(self, command):
        try:
            status, body = call(self.sock, "POST", "/v1/sessions",
                                {"workspace": self.ws, "command": command})
        except OSError as e:
            # counted as a failed start; the session, if any, is found
            # again by its record at cleanup
            return None, f"no answer: {e}"
        if status != 201:
            return None, f"{status} {body[:200]!r}"
        reply = json.loads(body)
        with self.lock:
            self.started[reply["session"]] = reply["pid"]
        return reply["session"], None

    def stop_session(self, session):
        status, body = call(self.sock, "POST", f"/v1/sessions/{session}/stop")
        if status in (200, 409):
            with self.lock:
                self.started.pop(session, None)
        return status

    def start_all(self):
        t0 = time.perf_counter()
        ids, errors = [], []
        with concurrent.futures.ThreadPoolExecutor(self.a.sessions) as pool:
            for session, error in pool.map(lambda _: self.start_session(self.a.command),
                                           range(self.a.sessions)):
                (ids.append(session) if session else errors.append(error))
        return ids, errors, time.perf_counter() - t0

    def cleanup(self):
        """Stop every session this bench started: through the API while the
        daemon answers, then SIGTERM/SIGKILL to any supervisor its records
        still name (a start answered after Ctrl-C included)."""
        with self.lock:
            left = list(self.started)
        if left and self.proc and self.proc.poll() is None:
            with concurrent.futures.ThreadPoolExecutor(32) as pool:
                list(pool.map(lambda s: self._quiet(self.stop_session, s), left))
        pids = []
        sessions_dir = os.path.join(self.state, "sessions")
        for name in (os.listdir(sessions_dir) if os.path.isdir(sessions_dir) else []):
            try:
                record = json.loads(read(os.path.join(sessions_dir, name, "record.json")) or "")
            except ValueError:
                continue
            pid = record.get("pid")
            cmdline = (read(f"/proc/{pid}/cmdline") or "") if pid else ""
            if name in cmdline.split("\0"):
                pids.append(pid)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            deadline = time.monotonic() + 5
            while pids and time.monotonic() < deadline:
                pids = [p for p in pids if read(f"/proc/{p}/stat") and
                        read(f"/proc/{p}/stat").rsplit(")", 1)[1].split()[0] != "Z"]
                time.sleep(0.05)
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @staticmethod
    def _quiet(fn, *args):
        try:
            return fn(*args)
        except OSError:
            return None

    # ---- the mix

    def client(self, index, ids, rounds, lat, errors):
        """One client: `rounds` rounds of the reads, every --start-every'th
        with a start and a stop of a session of its own; paced so that all
        clients together make --rate calls a second (0: back to back)."""
        period = self.a.clients / self.a.rate if self.a.rate > 0 else 0.0
        next_at = time.perf_counter() + index * period / max(1, self.a.clients)

        def timed(name, fn):
            nonlocal next_at
            if period:
                delay = next_at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                # late: the next call keeps its slot, no burst to catch up
                next_at = max(next_at + period, time.perf_counter())
            t = time.perf_counter()
            result = fn()
            lat.setdefault(name, []).append((time.perf_counter() - t) * 1000)
            return result

        for r in range(rounds):
            if self.stopping.is_set():
                return
            session = ids[(index * 7919 + r) % len(ids)]
            calls = [("GET /v1/sessions", "/v1/sessions"),
                     ("GET /v1/sessions/{id}", f"/v1/sessions/{session}"),
                     ("GET /v1/approvals", "/v1/approvals"),
                     ("GET /v1/metrics", "/v1/metrics")]
            for name, path in calls:
                status, _ = timed(name, lambda: call(self.sock, "GET", path))
                if status != 200:
                    errors.append(f"{name}: {status}")
            every = self.a.start_every
            if every and r % every == index % every:
                extra, error = timed("POST /v1/sessions",
                                     lambda: self.start_session(["sleep", "600"]))
                if not extra:
                    errors.append(f"POST /v1/sessions: {error}")
                    continue
                status = timed("POST /v1/sessions/{id}/stop", lambda: self.stop_session(extra))
                if status != 200:
                    errors.append(f"POST .../stop: {status}")


def daemon_cpu_per_call(bench, path, calls=50):
    """The daemon's CPU time per call of `path`, its idle use (the event
    streams' polling) taken out."""
    pid = bench.daemon_pid()
    c0, t0 = cpu_ms(pid), time.perf_counter()
    time.sleep(1)
    idle_rate = (cpu_ms(pid) - c0) / (time.perf_counter() - t0)
    c0, t0 = cpu_ms(pid), time.perf_counter()
    for _ in range(calls):
        call(bench.sock, "GET", path)
    used = cpu_ms(pid) - c0 - idle_rate * (time.perf_counter() - t0)
    return max(0.0, used / calls)


def report_line(name, values, budget=None):
    p50, p99 = pct(values, 50), pct(values, 99)
    verdict = ""
    if budget is not None:
        verdict = f"  budget p99 < {budget:g} ms: " + ("within" if p99 < budget else "OVER")
    print(f"    {name:<32} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   max {max(values):7.1f} ms"
          f"   ({len(values)} calls){verdict}")


def on_signal(signum, frame):
    raise KeyboardInterrupt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("reins")
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--subscribers", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=50, help="rounds of the mix per client")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rate", type=float, default=20,
                    help="API calls a second, all clients together (0: back to back)")
    ap.add_argument("--start-every", type=int, default=5,
                    help="a start and a stop every N rounds of each client (0: none)")
    ap.add_argument("--events", choices=("auto", "global", "session"), default="auto")
    ap.add_argument("--command", type=shlex.split, default=TICK)
    ap.add_argument("--as", dest="as_user", choices=("nobody",))
    ap.add_argument("--hold", metavar="FILE",
                    help="once all run, write SOCK and PID to FILE and wait for its removal")
    a = ap.parse_args()
    a.reins = os.path.abspath(a.reins)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    who = ("as nobody (unprivileged)" if a.as_user else
           "as root" if os.getuid() == 0 else f"as uid {os.getuid()} (unprivileged)")
    print(f"\nserve under load: {a.sessions} sessions ({shlex.join(a.command)}), "
          f"{a.subscribers} event subscribers, {a.clients} API clients, {who}")
    bench = Bench(a)
    sampler = subs = None
    try:
        bench.start_daemon()
        sampler = Sampler(bench.daemon_pid())
        sampler.start()
        idle = proc_fields(bench.daemon_pid()) or {}
        ids, errors, start_s = bench.start_all()
        print(f"  {len(ids)} sessions started through the API at once in {start_s:.2f} s "
              f"({start_s / max(1, len(ids)) * 1000:.1f} ms each, until each is registered)")
        for e in errors[:3]:
            print(f"  a start failed: {e}")
        if not ids:
            return
        route = events_route(bench.sock, a.events)
        paths = (["/v1/events"] * a.subscribers if route == "global" else
                 [f"/v1/sessions/{ids[i % len(ids)]}/events" for i in range(a.subscribers)])
        subs = Subscribers(bench.sock, paths)
        subs.start()
        time.sleep(1)  # the streams open, the sessions tick
        if a.hold:
            # for profiling by hand: the socket and pid, then wait for its removal
            with open(a.hold, "w") as f:
                f.write(f"export SOCK={bench.sock} PID={bench.daemon_pid()}\n")
            while os.path.exists(a.hold):
                time.sleep(0.5)
        quiet0 = machine_busy()
        time.sleep(2)
        quiet1 = machine_busy()
        quiet = (quiet1[0] - quiet0[0]) / max(1, quiet1[1] - quiet0[1]) * 100
        lat, errs = {}, []
        busy0, cpu0 = machine_busy(), cpu_ms(bench.daemon_pid())
        t0 = time.perf_counter()
        threads = [threading.Thread(target=bench.client, args=(i, ids, a.rounds, lat, errs))
                   for i in range(a.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        mix_s = time.perf_counter() - t0
        busy1, cpu1 = machine_busy(), cpu_ms(bench.daemon_pid())
        sampler.sample()
        under_load = dict(sampler.last)
        streams = subs.streams
        refused = sum(1 for st in streams if st["status"] not in (None, 200))
        ended = sum(1 for st in streams if not st["open"])
        print(f"  {a.subscribers} subscribers on "
              f"{'GET /v1/events' if route == 'global' else 'GET /v1/sessions/{id}/events'}: "
              f"{sum(st['events'] for st in streams)} events, "
              f"{sum(st['bytes'] for st in streams) // 1024} KiB received; "
              f"{refused} refused, {ended} ended early")
        made = sum(len(v) for v in lat.values())
        pace = f"paced at {a.rate:g} calls/s" if a.rate > 0 else "back to back"
        print(f"  API latency while they run ({a.clients} clients, {pace}: {made} calls in "
              f"{mix_s:.1f} s, {made / mix_s:.0f}/s; each call on a new connection):")
        reads = []
        for name in ("GET /v1/sessions", "GET /v1/sessions/{id}", "GET /v1/approvals",
                     "GET /v1/metrics"):
            if name in lat:
                report_line(name, lat[name])
                reads += lat[name]
        if reads:
            report_line("all reads", reads, BUDGET_P99_MS)
        for name in ("POST /v1/sessions", "POST /v1/sessions/{id}/stop"):
            if name in lat:
                report_line(name, lat[name], BUDGET_P99_MS)
        print("    (a start answers once the session is registered: a sandbox's start-up; "
              "a stop once its supervisor has exited)")
        for e in errs[:3]:
            print(f"  a call failed: {e}")
        busy = (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]) * 100
        print(f"  during the mix: the daemon used {(cpu1 - cpu0) / mix_s / 10:.0f}% of one cpu; "
              f"all {os.cpu_count()} cpus were {busy:.0f}% busy (sessions, this client, "
              f"anything else on the machine; {quiet:.0f}% in the 2 s before the mix)")
        print("  the daemon's own CPU per call, one call at a time (independent of the machine's "
              "other load):")
        for name, path in (("GET /v1/sessions", "/v1/sessions"),
                           ("GET /v1/sessions/{id}", f"/v1/sessions/{ids[0]}"),
                           ("GET /v1/approvals", "/v1/approvals"),
                           ("GET /v1/metrics", "/v1/metrics")):
            print(f"    {name:<32} {daemon_cpu_per_call(bench, path):6.2f} ms")
        rss, hwm = under_load.get("VmRSS", 0), sampler.peak.get("VmHWM", 0)
        print(f"  daemon memory: RSS {rss / 1024:.1f} MiB under load, peak {hwm / 1024:.1f} MiB "
              f"(budget < {BUDGET_RSS_KIB // 1024} MiB: "
              f"{'within' if hwm < BUDGET_RSS_KIB else 'OVER'}); "
              f"PSS {under_load.get('Pss', 0) / 1024:.1f} MiB; idle RSS "
              f"{idle.get('VmRSS', 0) / 1024:.1f} MiB")
        print(f"  daemon threads: {under_load.get('Threads', 0)} under load, peak "
              f"{sampler.peak.get('Threads', 0)}, idle {idle.get('Threads', 0)}")
        t0 = time.perf_counter()
        with bench.lock:
            left = list(bench.started)
        with concurrent.futures.ThreadPoolExecutor(len(left) or 1) as pool:
            stops = list(pool.map(lambda s: bench._quiet(bench.stop_session, s), left))
        answers = {}
        for status in stops:
            answers[status] = answers.get(status, 0) + 1
        print(f"  {len(left)} sessions stopped through the API at once in "
              f"{time.perf_counter() - t0:.2f} s (answers: "
              + ", ".join(f"{n} x {s or 'no answer'}" for s, n in sorted(
                  answers.items(), key=lambda kv: str(kv[0]))) + ")")
    except KeyboardInterrupt:
        print("  load: interrupted; stopping the sessions it started")
    except (OSError, RuntimeError) as e:
        print(f"  load: {e}")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        bench.stopping.set()
        if subs:
            subs.close()
        if sampler:
            sampler.done.set()
        bench.cleanup()


if __name__ == "__main__":
    main()
