#!/usr/bin/env python3
"""What the workspace's size adds to a run (issue 14.6), called by bench/run.sh.

  workspace_startup.py REINS
  REINS_BENCH_WS_PAIRS=30 REINS_BENCH_WS_SIZES=0,50000,500000
  REINS_BENCH_WS_MODES=direct,readonly,overlay

For each workspace size (directories of 100 files, plus a small node_modules)
and each workspace mode, `reins run -p default -- /bin/true` and bwrap
(`--unshare-all --die-with-parent`, the binds reins' default preset makes)
run in rotating rounds together with reins in an empty workspace (same mode),
N rounds, so all see the same machine load; printed: each one's median, the
median of the per-round ratios reins/bwrap, and the median of the per-round
differences between reins in this workspace and in the empty one (what the
files add).
Budget: +2 ms at 50 000 files, +5 ms at 500 000, in every mode.

Workspaces are made once and kept in $TMPDIR/reins-bench-workspaces/ (a
500 000-file tree takes a minute or two to create); REINS_BENCH_WS_KEEP=0
removes them afterwards. reins' state (trails, overlay copies, the deny cache)
goes to a temporary XDG_STATE_HOME. Only prints; exits 0 whatever it measures.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BUDGET_MS = {50000: 2.0, 500000: 5.0}
SLOW_ROUNDS = 8  # rounds when one reins run takes over a second


def make_workspace(root, files):
    """files/100 directories of 100 one-byte files, plus (unless empty) a
    node_modules of 20 packages of 10 files; made once, marked complete by a
    stamp file."""
    stamp = os.path.join(root, ".complete")
    if os.path.exists(stamp):
        return root
    if os.path.isdir(root):
        shutil.rmtree(root)
    os.makedirs(root)
    started = time.monotonic()
    for d in range(files // 100):
        path = os.path.join(root, f"d{d:05d}")
        os.mkdir(path)
        for f in range(100):
            fd = os.open(os.path.join(path, f"f{f:03d}.txt"), os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, b"x")
            os.close(fd)
    for pkg in range(20 if files else 0):
        path = os.path.join(root, "node_modules", f"pkg{pkg}", "lib")
        os.makedirs(path)
        for f in range(10):
            with open(os.path.join(path, f"m{f}.js"), "w") as out:
                out.write("module.exports = 1;\n")
    with open(stamp, "w") as out:
        out.write("ok\n")
    print(f"  (made a {files}-file workspace in {time.monotonic() - started:.0f} s: {root})",
          flush=True)
    return root


def bwrap_command(ws, readonly):
    binds = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/opt"):
        if os.path.exists(top):
            binds += ["--ro-bind", top, top]
    return ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", *binds,
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
            "--ro-bind" if readonly else "--bind", ws, ws, "--chdir", ws, "/bin/true"]


def once(cmd, env):
    started = time.perf_counter()
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, env=env)
    elapsed = (time.perf_counter() - started) * 1e3
    if r.returncode != 0:
        raise RuntimeError(r.stderr.decode(errors="replace").strip().splitlines()[-1:]
                           or f"exit {r.returncode}")
    return elapsed


def rounds(commands, count, env):
    """`count` rounds of every command, the order rotating from round to round
    so that each sees the same machine load; one warm-up each, two for the
    first (the first run in a workspace makes reins' deny cache, a walk).
    Returns each command's times in ms."""
    once(commands[0], env)  # the first run in a workspace makes its deny cache
    warm = [once(cmd, env) for cmd in commands]
    if warm[0] > 1000 and count > SLOW_ROUNDS:
        count = SLOW_ROUNDS  # a walk of the workspace: enough to see it, not 30 of them
    times = [[] for _ in commands]
    for i in range(count):
        for k in range(len(commands)):
            j = (i + k) % len(commands)
            times[j].append(once(commands[j], env))
    return times


def main(argv):
    reins = argv[1] if len(argv) > 1 else "build/reins"
    count = int(os.environ.get("REINS_BENCH_WS_PAIRS", "30"))
    sizes = [int(s) for s in os.environ.get("REINS_BENCH_WS_SIZES", "0,50000,500000").split(",")]
    modes = os.environ.get("REINS_BENCH_WS_MODES", "direct,readonly,overlay").split(",")
    have_bwrap = shutil.which("bwrap") is not None
    base = os.path.join(tempfile.gettempdir(), "reins-bench-workspaces")
    os.makedirs(base, exist_ok=True)
    os.chmod(base, 0o755)
    state = tempfile.mkdtemp(prefix="reins-bench-state-")
    env = dict(os.environ, XDG_STATE_HOME=state)
    print(f"\nworkspace size: `reins run -p default -- /bin/true` by workspace mode and size, "
          f"{count} rotating rounds with bwrap{'' if have_bwrap else ' (bwrap unavailable)'} "
          f"and with reins in an empty workspace")
    print(f"  {'files':>7} {'mode':>9} {'reins ms':>9} {'bwrap ms':>9} {'ratio':>6} "
          f"{'added ms':>9}  budget")
    try:
        empty_ws = make_workspace(os.path.join(base, "ws-0"), 0)
        for files in sizes:
            ws = make_workspace(os.path.join(base, f"ws-{files}"), files)
            for mode in modes:
                def reins_in(where):
                    return [reins, "run", "-q", "-p", "default", "--workspace-mode", mode,
                            "-w", where, "--", "/bin/true"]
                commands = [reins_in(ws)]
                if have_bwrap:
                    commands.append(bwrap_command(ws, mode == "readonly"))
                if files:  # the same mode in the empty workspace, in the same rounds
                    commands.append(reins_in(empty_ws))
                try:
                    times = rounds(commands, count, env)
                except RuntimeError as e:
                    print(f"  {files:>7} {mode:>9}  failed: {e}")
                    continue
                a = times[0]
                b = times[1] if have_bwrap else []
                med = statistics.median(a)
                bmed = statistics.median(b) if b else float("nan")
                ratio = statistics.median([x / y for x, y in zip(a, b)]) if b else float("nan")
                added = 0.0
                if files:
                    added = statistics.median([x - y for x, y in zip(a, times[-1])])
                budget = BUDGET_MS.get(files)
                verdict = ""
                if budget is not None:
                    verdict = (f"+{budget:g} ms: "
                               f"{'within budget' if added <= budget else 'OVER BUDGET'}")
                rounds_note = f" ({len(a)} rounds)" if len(a) != count else ""
                print(f"  {files:>7} {mode:>9} {med:>9.2f} {bmed:>9.2f} {ratio:>6.2f} "
                      f"{added:>+9.2f}  {verdict}{rounds_note}", flush=True)
    finally:
        shutil.rmtree(state, ignore_errors=True)
        if os.environ.get("REINS_BENCH_WS_KEEP", "1") == "0":
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except KeyboardInterrupt:
        sys.exit(0)
