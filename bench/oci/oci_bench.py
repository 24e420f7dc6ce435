#!/usr/bin/env python3
"""reins as an OCI runtime against runc, in alternating pairs (issue 17.5),
called by bench/run.sh.

  oci_bench.py [PATH_TO_REINS]        (default: build/reins)
  REINS_BENCH_OCI_PAIRS=20 REINS_BENCH_OCI_BUNDLE_PAIRS=50

1. `podman run --rm --network none --runtime R IMAGE true`, R = runc and
   reins-oci (the reins binary under that name), one after the other, the
   order swapped from pair to pair so both see the same load. podman has a
   storage, runroot and containers.conf of its own under a temp dir; the
   image is the offline busybox one of tests/integration/oci_images.py.
   Budget: median of the per-pair ratios reins/runc <= 1.0.
2. The runtime alone on one bundle (busybox, `true`):
   `R create --bundle B ID`, `R start ID`, wait for the process to end,
   `R delete ID`. Timed: create+start, and the whole cycle.
   Budget: median per-pair ratio of create+start <= 1.0.

Only prints; exits 0 whatever it measures. A peer that is missing is
reported as "peer unavailable: why".
"""
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import oci_images  # noqa: E402

CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


def unavailable(why):
    print(f"peer unavailable: {why}")


def verdict(value, budget):
    return "within budget" if value <= budget else "OVER BUDGET"


def ms(seconds):
    return f"{seconds * 1e3:7.1f} ms"


def report(title, runs, budget=None):
    """runs: {"runc": [s...], "reins": [s...]} of the same length, paired."""
    ratios = [r / c for r, c in zip(runs["reins"], runs["runc"]) if c > 0]
    print(f"  {title}")
    for name in ("runc", "reins"):
        v = sorted(runs[name])
        p90 = v[int(0.9 * (len(v) - 1))]
        print(f"    {name:6s} median {ms(statistics.median(v))}  p90 {ms(p90)}  (n={len(v)})")
    med = statistics.median(ratios)
    line = f"    reins/runc median per-pair ratio {med:.3f}"
    if budget is not None:
        line += f"  (budget <= {budget:.1f}: {verdict(med, budget)})"
    print(line)


def alternate(pairs, one, names=("runc", "reins")):
    """Run one(name) for both names, PAIRS times, swapping the order."""
    runs = {n: [] for n in names}
    for i in range(pairs):
        order = names if i % 2 == 0 else tuple(reversed(names))
        for n in order:
            runs[n].append(one(n))
    return runs


# --------------------------------------------------------------------------
# 1. podman run --rm


def bench_podman(runtimes, pairs, tmp):
    print(f"\npodman run --rm --network none --runtime R IMAGE true, {pairs} alternating pairs")
    if shutil.which("podman") is None or shutil.which("conmon") is None:
        unavailable("podman: not installed (Debian packages podman, conmon)")
        return
    base = tmp / "podman"
    for d in ("root", "runroot", "tmp"):
        (base / d).mkdir(parents=True)
    # conmon gives the runtime conmon_env_vars only: reins' trails and key
    # go to the bench's temp dir, not to root's home
    passed = [f"PATH={os.environ.get('PATH', '/usr/bin:/bin')}"] + [
        f"{k}={os.environ[k]}" for k in ("XDG_STATE_HOME", "XDG_CONFIG_HOME")]
    (base / "containers.conf").write_text(CONTAINERS_CONF.replace(
        "[engine]\n", "[engine]\nconmon_env_vars = " + json.dumps(passed) + "\n"))
    (base / "storage.conf").write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{base}/root"\nrunroot = "{base}/runroot"\n')
    env = dict(os.environ, CONTAINERS_CONF=str(base / "containers.conf"),
               CONTAINERS_STORAGE_CONF=str(base / "storage.conf"))
    prefix = ["podman", "--root", str(base / "root"), "--runroot", str(base / "runroot"),
              "--tmpdir", str(base / "tmp"), "--storage-driver", "overlay",
              "--cgroup-manager", "cgroupfs"]

    def podman(*args):
        return subprocess.run(prefix + list(args), env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=120)

    try:
        r = podman("import", str(oci_images.images() / "rootfs.tar"), oci_images.PODMAN_TAG)
        if r.returncode != 0:
            unavailable(f"podman cannot import the image: {r.stderr.strip()[-200:]}")
            return
        cmd = {n: prefix + ["--runtime", p, "run", "--rm", "--network", "none",
                            oci_images.PODMAN_TAG, "true"] for n, p in runtimes.items()}

        def one(n):
            t = time.perf_counter()
            r = subprocess.run(cmd[n], env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
            if r.returncode != 0:
                raise RuntimeError(f"{n}: {r.stderr.decode(errors='replace').strip()[-300:]}")
            return time.perf_counter() - t

        for n in runtimes:
            try:
                one(n)
                one(n)
            except RuntimeError as e:
                unavailable(f"podman with {e}")
                return
        report("podman run --rm IMAGE true", alternate(pairs, one), budget=1.0)
    except RuntimeError as e:
        print(f"  failed: {e}")
    finally:
        podman("rm", "--all", "--force", "--time", "0")
        podman("system", "reset", "--force")


# --------------------------------------------------------------------------
# 2. the runtime alone: create + start (+ wait + delete)


def wait_pid(pid, timeout=30):
    """Wait for a process that is not our child to end (pidfd)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        select.select([fd], [], [], timeout)
    finally:
        os.close(fd)


def bench_bundle(runtimes, pairs, tmp):
    print(f"\nR create --bundle B ID; R start ID; wait; R delete ID, {pairs} alternating pairs")
    bundle = oci_images.bundle(tmp / "bundle", ["true"])
    seq = [0]

    def one(n, split):
        seq[0] += 1
        cid = f"bench-{os.getpid()}-{seq[0]}"
        root = tmp / f"state-{n}"
        pidfile = tmp / f"{cid}.pid"
        errors_file = tmp / "runtime.err"
        rt = [runtimes[n], "--root", str(root)]

        def call(*args):
            # stderr to a file, not a pipe: the container's process inherits
            # it and would hold a pipe open past create
            with open(errors_file, "w+b") as err:
                r = subprocess.run(rt + list(args), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=err, timeout=60)
                if r.returncode != 0:
                    subprocess.run(rt + ["delete", "--force", cid], capture_output=True)
                    err.seek(0)
                    text = err.read().decode(errors="replace").strip()[-300:]
                    raise RuntimeError(f"{n} {args[0]}: {text}")

        t0 = time.perf_counter()
        call("create", "--bundle", str(bundle), "--pid-file", str(pidfile), cid)
        call("start", cid)
        t1 = time.perf_counter()
        wait_pid(int(pidfile.read_text()))
        call("delete", cid)
        t2 = time.perf_counter()
        pidfile.unlink()
        split[n].append(t2 - t0)
        return t1 - t0

    whole = {n: [] for n in runtimes}
    for n in runtimes:
        try:
            one(n, {k: [] for k in runtimes})
            one(n, {k: [] for k in runtimes})
        except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as e:
            unavailable(f"the bundle with {e}")
            return
    try:
        starts = alternate(pairs, lambda n: one(n, whole))
    except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as e:
        print(f"  failed: {e}")
        return
    report("create + start", starts, budget=1.0)
    report("create + start + wait + delete", whole)


def main(argv):
    reins = os.path.abspath(argv[1] if len(argv) > 1 else REPO / "build" / "reins")
    print("OCI runtime: reins oci against runc")
    if os.geteuid() != 0:
        unavailable("podman and runc as root: this bench needs root")
        return 0
    if not os.access(reins, os.X_OK):
        print(f"  no reins binary at {reins}; nothing to measure")
        return 0
    runc = shutil.which("runc")
    if runc is None:
        unavailable("runc: not installed (Debian package runc)")
        return 0
    try:
        oci_images.images()
    except (RuntimeError, subprocess.SubprocessError) as e:
        unavailable(f"no test image: {e}")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="reins-oci-bench-"))
    try:
        os.environ["XDG_STATE_HOME"] = str(tmp / "xdg-state")
        os.environ["XDG_CONFIG_HOME"] = str(tmp / "xdg-config")
        link = tmp / "reins-oci"
        os.symlink(reins, link)
        runtimes = {"runc": runc, "reins": str(link)}
        print(f"  runc   {runc} ({subprocess.run([runc, '--version'], capture_output=True, text=True).stdout.splitlines()[0]})")
        print(f"  reins  {link} -> {reins}")
        bench_podman(runtimes, int(os.environ.get("REINS_BENCH_OCI_PAIRS", "20")), tmp)
        bench_bundle(runtimes, int(os.environ.get("REINS_BENCH_OCI_BUNDLE_PAIRS", "50")), tmp)
    finally:
        subprocess.run(["umount", "-R", "--lazy", str(tmp / "podman" / "root")],
                       capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception as e:  # a benchmark never fails a build
        print(f"oci bench failed: {e}")
        sys.exit(0)
