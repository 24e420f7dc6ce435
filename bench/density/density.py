#!/usr/bin/env python3
"""Density (issue 14, item 7): N idle sessions (`reins run -q -- sleep 3600`)
at once, in a throw-away workspace and state of their own.

  density.py REINS N [--as nobody]

Measures, with the targets of DESIGN.md section 8:
  - the wall time from the first start until all N are registered as
    running (target < 20 s for 1 000), starts kept a few at a time in
    flight (4 per CPU) so the machine is never asked for 1 000 forks at once;
  - the PSS of each supervisor and of its sandbox's pid 1 (init), from
    /proc/PID/smaps_rollup, averaged per session (target <= 600 KiB);
  - `reins ps` with the N sessions up, median of several calls (< 200 ms);
then stops them all with SIGTERM to each supervisor, times that, and checks
that nothing is left: no process, no cgroup, no registry entry or socket.

Prints only; exits 0 whatever it measures (a benchmark never fails a build).
"""
import ctypes
import ctypes.util
import json
import os
import struct
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TARGET_START_S = 20.0
TARGET_PSS_KIB = 600
TARGET_PS_MS = 200
NOBODY_UID = NOBODY_GID = 65534
START_TIMEOUT_S = 180
# a session that has not registered after this long is counted as failed
PER_SESSION_TIMEOUT_S = 30


IN_CREATE, IN_MOVED_TO, IN_NONBLOCK, IN_CLOEXEC = 0x100, 0x80, 0o4000, 0o2000000


class DirWatch:
    """Names created in (or renamed into) a directory, from inotify: the
    bench learns of each registration without listing the registry, which
    at 1 000 entries cost 1 ms of the CPU the starts it measures need, every
    5 ms. None where inotify cannot be had (the caller lists instead)."""

    def __init__(self, path):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self.fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0 or libc.inotify_add_watch(self.fd, path.encode(),
                                                 IN_CREATE | IN_MOVED_TO) < 0:
            raise OSError(ctypes.get_errno(), "inotify")

    def names(self):
        found = []
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return found
            offset = 0
            while offset + 16 <= len(data):
                _, _, _, length = struct.unpack_from("iIII", data, offset)
                name = data[offset + 16:offset + 16 + length].rstrip(b"\0").decode()
                found.append(name)
                offset += 16 + length

    def close(self):
        os.close(self.fd)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def pss_kib(pid):
    text = read(f"/proc/{pid}/smaps_rollup")
    if text is None:
        return None
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return None


def start_ticks(pid):
    text = read(f"/proc/{pid}/stat")
    if text is None:
        return None
    return int(text[text.rindex(")") + 2:].split()[19])


def children(pid):
    text = read(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in text.split()] if text else []


def comm(pid):
    text = read(f"/proc/{pid}/comm")
    return text.strip() if text else None


def mem_available_kib():
    for line in read("/proc/meminfo").splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    return 0


def cgroup_dirs(pid):
    """The host paths of the cgroups `pid` is in, those reins made (reins-*)."""
    text = read(f"/proc/{pid}/cgroup") or ""
    dirs = []
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        if "/reins-" not in path:
            continue
        if controllers == "":
            roots = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        else:
            roots = [f"/sys/fs/cgroup/{c}" for c in (controllers, *controllers.split(","))]
        for root in roots:
            if os.path.isdir(root + path):
                dirs.append(root + path)
                break
    return dirs


class Bench:
    def __init__(self, reins, count, as_nobody):
        self.reins = reins
        self.count = count
        self.prefix = []
        if as_nobody:
            self.prefix = ["setpriv", f"--reuid={NOBODY_UID}", f"--regid={NOBODY_GID}",
                           "--clear-groups"]
        self.tmp = tempfile.mkdtemp(prefix="reins-bench-density-")
        dirs = {name: os.path.join(self.tmp, name)
                for name in ("home", "state", "config", "cache", "run", "ws", "log")}
        for d in [self.tmp, *dirs.values()]:
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o700)
            if as_nobody:
                os.chown(d, NOBODY_UID, NOBODY_GID)
        self.workspace = dirs["ws"]
        self.log = dirs["log"]
        self.registry = os.path.join(dirs["run"], "reins")
        # made here (as reins makes it: private, the caller's) to be watched
        os.mkdir(self.registry, 0o700)
        if as_nobody:
            os.chown(self.registry, NOBODY_UID, NOBODY_GID)
        try:
            self.watch = DirWatch(self.registry)
        except OSError:
            self.watch = None
        self.env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": dirs["home"],
            "XDG_STATE_HOME": dirs["state"],
            "XDG_CONFIG_HOME": dirs["config"],
            "XDG_CACHE_HOME": dirs["cache"],
            "XDG_RUNTIME_DIR": dirs["run"],
            "TMPDIR": self.tmp,
            "LANG": "C.UTF-8",
        }
        self.procs = {}       # supervisor pid -> Popen
        self.running = set()  # supervisor pids registered as running
        self.failed = []      # (pid, exit status, last stderr line)
        self.seen = set()     # registry file names already read
        self.unread = []      # named by the watch, not readable yet

    # ---- starting

    def _launch(self, i):
        err = open(os.path.join(self.log, f"{i}.err"), "wb")
        p = subprocess.Popen(
            [*self.prefix, self.reins, "run", "-q", "-w", self.workspace, "--", "sleep", "3600"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
            env=self.env, cwd=self.workspace, start_new_session=True)
        err.close()
        p.index = i
        p.launched = time.monotonic()
        self.procs[p.pid] = p
        return p

    def _scan_registry(self):
        """Supervisor pids of the sessions registered since the last scan."""
        try:
            names = self.watch.names() if self.watch else os.listdir(self.registry)
        except OSError:
            return
        # an entry not read yet is looked at again (a watch names it once)
        names, self.unread = list(dict.fromkeys([*self.unread, *names])), []
        for name in names:
            if not name.endswith(".json") or name.startswith(".") or name in self.seen:
                continue
            text = read(os.path.join(self.registry, name))
            if not text:
                self.unread.append(name)
                continue
            self.seen.add(name)
            try:
                pid = json.loads(text).get("pid")
            except ValueError:
                continue
            if pid in self.procs:
                self.running.add(pid)

    def _reap_failures(self, pending):
        for pid in list(pending):
            p = self.procs[pid]
            status = p.poll()
            late = time.monotonic() - p.launched > PER_SESSION_TIMEOUT_S
            if status is None and not late:
                continue
            if pid in self.running:
                pending.discard(pid)
                continue
            text = read(os.path.join(self.log, f"{p.index}.err")) or ""
            last = text.strip().splitlines()[-1] if text.strip() else ""
            self.failed.append((pid, status if status is not None else "no start", last))
            pending.discard(pid)
            if status is None:
                p.kill()

    def start_all(self):
        window = 4 * (os.cpu_count() or 1)
        pending = set()
        launched = 0
        t0 = time.monotonic()
        while len(self.running) + len(self.failed) < self.count:
            if time.monotonic() - t0 > START_TIMEOUT_S:
                break
            # a machine that cannot hold more says so with failures: stop there
            if len(self.failed) >= 10:
                break
            while launched < self.count and len(pending) < window:
                pending.add(self._launch(launched).pid)
                launched += 1
            time.sleep(0.005)
            self._scan_registry()
            pending -= self.running
            self._reap_failures(pending)
        return time.monotonic() - t0

    # ---- measuring

    def memory(self):
        """(supervisor PSS list, init PSS list) over the running sessions."""
        sup, init = [], []
        self.inits = {}
        self.cgroups = set()
        for pid in sorted(self.running):
            s = pss_kib(pid)
            kids = [k for k in children(pid) if comm(k) == "reins"]
            if s is None or not kids:
                continue
            i = sum(pss_kib(k) or 0 for k in kids)
            sup.append(s)
            init.append(i)
            self.inits[pid] = [(k, start_ticks(k)) for k in kids]
            for k in kids:
                self.cgroups.update(cgroup_dirs(k))
                for g in children(k):
                    self.inits[pid].append((g, start_ticks(g)))
        return sup, init

    def time_ps(self, args, calls):
        times, listed = [], None
        for _ in range(calls):
            t = time.monotonic()
            r = subprocess.run([*self.prefix, self.reins, "ps", *args], env=self.env,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True)
            times.append((time.monotonic() - t) * 1000)
            if r.returncode != 0:
                return None, r.stderr.strip()
            lines = [l for l in r.stdout.splitlines() if l.strip()]
            listed = len(lines) - (0 if "--json" in args else 1)
            # a slow answer is measured fewer times: the bench stays short
            if sum(times) > 10000:
                break
        return times, listed

    # ---- stopping

    def stop_all(self):
        t0 = time.monotonic()
        for pid, p in self.procs.items():
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = t0 + 120
        for p in self.procs.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        elapsed = time.monotonic() - t0
        # the last supervisors' children are reaped by the kernel right after
        time.sleep(0.2)
        left_procs = [pid for kids in getattr(self, "inits", {}).values() for pid, ticks in kids
                      if ticks is not None and start_ticks(pid) == ticks]
        left_cgroups = [d for d in getattr(self, "cgroups", set()) if os.path.isdir(d)]
        try:
            left_files = [n for n in os.listdir(self.registry) if not n.endswith(".lock")]
        except FileNotFoundError:
            left_files = []
        return elapsed, left_procs, left_cgroups, left_files

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def verdict(ok):
    return "PASS" if ok else "MISS"


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return
    reins, count = sys.argv[1], int(sys.argv[2])
    as_nobody = "--as" in sys.argv and sys.argv[sys.argv.index("--as") + 1] == "nobody"
    who = "as nobody (unprivileged)" if as_nobody else (
        "as root" if os.getuid() == 0 else f"as uid {os.getuid()} (unprivileged)")
    print(f"\ndensity: {count} idle sessions (reins run -q -- sleep 3600), {who}, "
          f"{os.cpu_count()} cpus, {mem_available_kib() // 1024} MiB available")
    bench = Bench(reins, count, as_nobody)
    try:
        start_s = bench.start_all()
        up = len(bench.running)
        if up < count:
            print(f"  reached {up} of {count} sessions ({len(bench.failed)} failed to start)")
        for pid, status, line in bench.failed[:3]:
            print(f"  a start failed (exit {status}): {line}")
        if up == 0:
            return
        time.sleep(1)  # let the last starts settle (their first ticks, lazy pages)
        hold = os.environ.get("REINS_BENCH_DENSITY_HOLD")
        if hold:
            # for profiling by hand: the environment, then wait for its removal
            with open(hold, "w") as f:
                f.writelines(f"export {k}={v}\n" for k, v in bench.env.items())
            while os.path.exists(hold):
                time.sleep(0.5)
        sup, init = bench.memory()
        ps_times, ps_listed = bench.time_ps([], 5)
        json_times, json_listed = bench.time_ps(["--json"], 3)
        stop_s, left_procs, left_cgroups, left_files = bench.stop_all()
    finally:
        for p in bench.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        bench.cleanup()

    rate = up / start_s if start_s > 0 else 0
    scaled = start_s * count / up if up else 0
    print(f"  {'what':<44} {'measured':>14}   {'target':<10} verdict")
    note = "" if up == count else f" ({scaled:.1f} s scaled to {count})"
    ok = up == count and start_s < TARGET_START_S * count / 1000
    target_s = TARGET_START_S * count / 1000
    print(f"  {f'{up} sessions started, wall time':<44} {start_s:>12.1f} s   "
          f"< {target_s:g} s{'':<4} {verdict(ok)}{note}")
    print(f"  {'  start rate':<44} {rate:>10.0f} /s")
    if sup:
        per = (sum(sup) + sum(init)) / len(sup)
        print(f"  {'supervisor + init PSS per session (mean)':<44} {per:>10.0f} KiB   "
              f"<= {TARGET_PSS_KIB} KiB  {verdict(per <= TARGET_PSS_KIB)}")
        print(f"  {'  supervisor mean / max':<44} {statistics.mean(sup):>10.0f} KiB"
              f"   (max {max(sup)} KiB)")
        print(f"  {'  init (sandbox pid 1) mean / max':<44} {statistics.mean(init):>10.0f} KiB"
              f"   (max {max(init)} KiB)")
    else:
        print("  supervisor + init PSS: could not read /proc/PID/smaps_rollup")
    if ps_times:
        med = statistics.median(ps_times)
        shown = "" if ps_listed == up else f" (listed {ps_listed} of {up})"
        print(f"  {f'reins ps, median of {len(ps_times)}':<44} {med:>11.0f} ms   "
              f"< {TARGET_PS_MS} ms{'':<3} {verdict(med < TARGET_PS_MS and ps_listed == up)}{shown}")
    else:
        print(f"  reins ps failed: {ps_listed}")
    if json_times:
        print(f"  {f'  reins ps --json, median of {len(json_times)}':<44} "
              f"{statistics.median(json_times):>11.0f} ms")
    print(f"  {'stop all (SIGTERM to each supervisor)':<44} {stop_s:>12.1f} s")
    clean = not (left_procs or left_cgroups or left_files)
    print(f"  {'left behind: processes / cgroups / registry':<44} "
          f"{len(left_procs):>5} / {len(left_cgroups)} / {len(left_files)}"
          f"{'':<8}none       {verdict(clean)}")


if __name__ == "__main__":
    main()
