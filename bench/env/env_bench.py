#!/usr/bin/env python3
"""Declarative environments (issue 20.5), called by bench/run.sh:

  env_bench.py REINS [--pairs N]

1. the build of an OCI environment (the offline busybox layout of the tests),
   then `reins env build` again: a cache hit, which must cost no build;
2. `reins run -p ENV-POLICY -- /bin/true` against `reins run -p HOST-POLICY --
   /bin/true` (the same policy without `environment:`), in alternating pairs
   after warm-up runs: wall and CPU time of each, and the median of the
   per-pair differences (budget: the environment adds <= 1 ms).

Everything lives in a temporary directory (its own XDG_STATE_HOME, so the
cache starts empty). Only prints; exits 0 whatever it measures."""
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "integration"))
import oci_images  # noqa: E402


def once(command, cwd, env):
    """(wall ms, cpu ms) of one run of the whole process tree."""
    null = os.open(os.devnull, os.O_RDWR)
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(cwd)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.execvpe(command[0], command, env)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = (time.perf_counter() - started) * 1e3
    os.close(null)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed (wait status {status})")
    return wall, (usage.ru_utime + usage.ru_stime) * 1e3


def main(argv):
    reins = argv[1]
    pairs = int(argv[argv.index("--pairs") + 1]) if "--pairs" in argv else 40
    print("\ndeclarative environments: an OCI image as the root (issue 20.5)")
    if shutil.which("umoci") is None:
        print("  skipped: umoci is not installed")
        return 0
    try:
        images = oci_images.images()
    except RuntimeError as e:
        print(f"  skipped: {e}")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="reins-env-bench-"))
    try:
        layout, ws = tmp / "layout", tmp / "ws"
        layout.mkdir()
        ws.mkdir()
        with tarfile.open(images / "busybox-oci.tar") as t:
            t.extractall(layout)
        env_policy = tmp / "env.yaml"
        env_policy.write_text("version: 1\nextends: default\nenvironment:\n"
                              f"  image: oci:{layout}:busybox\n")
        host_policy = tmp / "host.yaml"
        host_policy.write_text("version: 1\nextends: default\n")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp),
               "XDG_STATE_HOME": str(tmp / "state"), "LANG": "C.UTF-8"}
        started = time.perf_counter()
        first = subprocess.run([reins, "env", "build", "-p", str(env_policy)], env=env,
                               capture_output=True, text=True)
        build_ms = (time.perf_counter() - started) * 1e3
        started = time.perf_counter()
        second = subprocess.run([reins, "env", "build", "-p", str(env_policy)], env=env,
                                capture_output=True, text=True)
        hit_ms = (time.perf_counter() - started) * 1e3
        if first.returncode != 0 or second.returncode != 0:
            print(f"  skipped: reins env build failed: {(first.stderr or second.stderr).strip()}")
            return 0
        hit = second.stdout.strip().endswith("cached (no build)")
        print(f"  build (verify 1 layer, umoci unpack): {build_ms:.0f} ms; again: {hit_ms:.1f} ms, "
              f"{'a cache hit, no build' if hit else 'REBUILT (budget: a hit costs no build)'}")
        commands = {
            "environment": [reins, "run", "-q", "-p", str(env_policy), "-w", str(ws), "--",
                            "/bin/true"],
            "host root": [reins, "run", "-q", "-p", str(host_policy), "-w", str(ws), "--",
                          "/bin/true"],
        }
        for _ in range(3):
            for command in commands.values():
                once(command, ws, env)
        runs = {name: [] for name in commands}
        names = list(commands)
        for i in range(pairs):
            for name in names if i % 2 == 0 else reversed(names):
                runs[name].append(once(commands[name], ws, env))
        print(f"  reins run -- /bin/true, {pairs} alternating pairs:")
        print(f"  {'':<12} {'wall ms':>8} {'cpu ms':>8}")
        for name in names:
            print(f"  {name:<12} {statistics.median(w for w, _ in runs[name]):>8.2f} "
                  f"{statistics.median(c for _, c in runs[name]):>8.2f}")
        wall = statistics.median(e[0] - h[0] for e, h in zip(runs["environment"],
                                                               runs["host root"]))
        cpu = statistics.median(e[1] - h[1] for e, h in zip(runs["environment"],
                                                              runs["host root"]))
        verdict = "within budget" if wall <= 1.0 else "OVER BUDGET"
        print(f"  environment - host root, median of the per-pair differences: wall "
              f"{wall:+.2f} ms (budget <= +1 ms: {verdict}), cpu {cpu:+.2f} ms")
    except RuntimeError as e:
        print(f"  failed: {e}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except KeyboardInterrupt:
        sys.exit(0)
