#!/usr/bin/env python3
"""Start-up, reins against bwrap in alternating pairs: wall time and CPU time
(issue 14.6), called by bench/run.sh.

  startup_pairs.py PAIRS WORKSPACE :: REINS_COMMAND... :: BWRAP_COMMAND...

Runs the two commands one after the other, PAIRS times, the order swapped
from pair to pair so both see the same machine load, after two warm-up runs
each. For every run it records the wall time and the CPU time of the whole
process tree: user + system time from wait4(), which includes every
descendant the command reaped (reins' supervisor reaps the sandbox's pid 1,
which reaps the command), the same count as `perf stat -e task-clock`
following children. Printed: each one's median wall and CPU time, and the
medians of the per-pair ratios reins/bwrap with the budget (<= 1.0 for
both). Only prints; exits 0 whatever it measures.
"""
import os
import statistics
import sys
import time


def once(command, cwd):
    """(wall ms, cpu ms) of one run, or raises RuntimeError on failure."""
    null = os.open(os.devnull, os.O_RDWR)
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(cwd)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = (time.perf_counter() - started) * 1e3
    os.close(null)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        raise RuntimeError(f"{command[0]} failed (wait status {status})")
    return wall, (usage.ru_utime + usage.ru_stime) * 1e3


def verdict(value, budget):
    return "within budget" if value <= budget else "OVER BUDGET"


def main(argv):
    pairs = int(argv[1])
    workspace = argv[2]
    rest = argv[3:]
    first = rest.index("::")
    second = rest.index("::", first + 1)
    reins, bwrap = rest[first + 1:second], rest[second + 1:]
    try:
        for _ in range(2):
            once(reins, workspace)
            once(bwrap, workspace)
        runs = {"reins": [], "bwrap": []}
        for i in range(pairs):
            order = (("reins", reins), ("bwrap", bwrap))
            for name, command in order if i % 2 == 0 else reversed(order):
                runs[name].append(once(command, workspace))
    except RuntimeError as e:
        print(f"  pairs: {e}")
        return 0
    print(f"\nstart-up side by side: {pairs} alternating pairs, wall and CPU time of the "
          f"whole process tree (wait4: user + system of every reaped descendant)")
    print(f"  {'':<6} {'wall ms':>8} {'cpu ms':>8}")
    for name in ("reins", "bwrap"):
        wall = statistics.median(w for w, _ in runs[name])
        cpu = statistics.median(c for _, c in runs[name])
        print(f"  {name:<6} {wall:>8.2f} {cpu:>8.2f}")
    wall_ratio = statistics.median(
        r[0] / b[0] for r, b in zip(runs["reins"], runs["bwrap"]))
    cpu_ratio = statistics.median(
        r[1] / b[1] for r, b in zip(runs["reins"], runs["bwrap"]) if b[1] > 0)
    print(f"  reins/bwrap, median of the per-pair ratios: wall {wall_ratio:.2f} "
          f"(budget <= 1.0: {verdict(wall_ratio, 1.0)}), cpu {cpu_ratio:.2f} "
          f"(budget <= 1.0: {verdict(cpu_ratio, 1.0)})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except KeyboardInterrupt:
        sys.exit(0)
