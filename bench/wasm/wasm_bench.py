#!/usr/bin/env python3
"""isolation: wasm against the container sandbox (issue 21.7), called by
bench/run.sh:

  wasm_bench.py REINS [PAIRS]

1. start-up: `reins run -- hello.wasm` (a cached module) against
   `reins run -- hello` (the same C program, native), alternating pairs,
   wall and CPU time of the whole process tree; and the first run of a
   module (cold: wasm2c + cc + link) for hello and for the SHA-256 program.
   Budget: a cached module starts in <= 10 ms end to end.
2. throughput: SHA-256 over 100 MiB (bench/wasm/sha256_bench.c, the same
   file compiled natively and to wasm32-wasi), both under `reins run`.
   Budget: wasm <= 2x native. And what an interpreter gives: wabt's
   wasm-interp on 1 MiB of the same work (Debian's wasm-interp has no
   WASI, so the import-free BENCH_CORE build of the same file).
3. code size: the engine archive reins carries, the engine executables.

Only prints; exits 0 whatever it measures."""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HELLO = "int main(void) { return 0; }\n"
SHA_1MIB = "3dbac2f942957e365de60b4316ada461206b725f9446456bc85be911fb542ce8"


def timed(command, cwd, env):
    """(wall ms, cpu ms of the process tree, stdout)."""
    started = time.perf_counter()
    before = os.times()
    r = subprocess.run(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True)
    after = os.times()
    wall = (time.perf_counter() - started) * 1e3
    cpu = ((after.children_user - before.children_user)
           + (after.children_system - before.children_system)) * 1e3
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({r.returncode}): {r.stderr.strip()}")
    return wall, cpu, r.stdout


def build(tmp):
    ws = tmp / "ws"
    ws.mkdir()
    (tmp / "hello.c").write_text(HELLO)
    wasm = ["clang", "--target=wasm32-wasi", "--sysroot=/usr", "-O2"]
    native = ["clang", "-O2"]
    subprocess.run(wasm + ["-o", ws / "hello.wasm", tmp / "hello.c"], check=True)
    subprocess.run(native + ["-o", ws / "hello", tmp / "hello.c"], check=True)
    sha = HERE / "sha256_bench.c"
    subprocess.run(wasm + ["-o", ws / "sha.wasm", sha], check=True)
    subprocess.run(native + ["-o", ws / "sha", sha], check=True)
    subprocess.run(wasm + ["-DBENCH_CORE", "-nostartfiles", "-Wl,--no-entry", "-o",
                           tmp / "core.wasm", sha], check=True)
    return ws


def main(argv):
    reins = argv[1]
    pairs = int(argv[2]) if len(argv) > 2 else 100
    for tool in ("clang", "wasm2c", "wasm-ld"):
        if not shutil.which(tool):
            print(f"wasm bench: {tool} unavailable (make deps)")
            return 0
    tmp = Path(tempfile.mkdtemp(prefix="reins-wasm-bench-"))
    try:
        ws = build(tmp)
        cache = tmp / "cache"
        cache.mkdir(mode=0o700)
        env = {**os.environ, "REINS_WASM_CACHE": str(cache)}
        run = [reins, "run", "-q", "-w", str(ws), "--"]

        print("== wasm: start-up (reins run, the whole process tree)")
        for name in ("hello.wasm", "sha.wasm"):
            wall, cpu, _ = timed(run + [f"./{name}", "1"], ws, env)
            print(f"  cold {name:<11} (wasm2c + cc + link, then run): {wall:8.0f} ms wall")
        for _ in range(3):
            timed(run + ["./hello.wasm"], ws, env)
            timed(run + ["./hello"], ws, env)
        w_wall, w_cpu, n_wall, n_cpu = [], [], [], []
        for i in range(pairs):
            order = [("w", "./hello.wasm"), ("n", "./hello")]
            for kind, cmd in (order if i % 2 == 0 else order[::-1]):
                wall, cpu, _ = timed(run + [cmd], ws, env)
                (w_wall if kind == "w" else n_wall).append(wall)
                (w_cpu if kind == "w" else n_cpu).append(cpu)
        wm, nm = statistics.median(w_wall), statistics.median(n_wall)
        print(f"  cached hello.wasm: {wm:6.2f} ms wall (p90 "
              f"{statistics.quantiles(w_wall, n=10)[-1]:.2f}), "
              f"{statistics.median(w_cpu):.2f} ms cpu  [{pairs} runs]")
        print(f"  native hello     : {nm:6.2f} ms wall (p90 "
              f"{statistics.quantiles(n_wall, n=10)[-1]:.2f}), "
              f"{statistics.median(n_cpu):.2f} ms cpu")
        print(f"  wasm/native wall {wm / nm:.2f}; budget cached start <= 10 ms: "
              f"{'within budget' if wm <= 10 else 'OVER BUDGET'}")

        print("== wasm: throughput, SHA-256 over 100 MiB (under reins run)")
        _, _, out = timed(run + ["./sha.wasm", "1"], ws, env)
        _, _, out2 = timed(run + ["./sha", "1"], ws, env)
        ok = out.strip() == SHA_1MIB == out2.strip()
        print(f"  digests of 1 MiB agree with hashlib: {ok}")
        results = {}
        for name in ("sha", "sha.wasm"):
            runs = [timed(run + [f"./{name}", "100"], ws, env) for _ in range(3)]
            results[name] = (statistics.median(r[0] for r in runs),
                             statistics.median(r[1] for r in runs))
            print(f"  {name:<9} {results[name][0]:8.0f} ms wall {results[name][1]:8.0f} ms cpu")
        ratio = results["sha.wasm"][1] / results["sha"][1]
        print(f"  wasm/native cpu {ratio:.2f} (wall "
              f"{results['sha.wasm'][0] / results['sha'][0]:.2f}); budget <= 2.0: "
              f"{'within budget' if ratio <= 2.0 else 'OVER BUDGET'}")
        if shutil.which("wasm-interp"):
            _, cpu, out = timed(["wasm-interp", str(tmp / "core.wasm"), "--run-all-exports"],
                                tmp, env)
            _, ncpu, _ = timed([str(ws / "sha"), "1"], tmp, env)
            per_mib_native = results["sha"][1] / 100
            print(f"  wabt's interpreter (wasm-interp), 1 MiB: {cpu:.0f} ms cpu = "
                  f"{cpu / per_mib_native:.0f}x native (a 100 MiB run: ~{cpu * 100 / 1e3:.0f} s)")

        print("== wasm: code size")
        build_dir = Path(reins).resolve().parent
        archive = build_dir / "wasm" / "engine.a"
        if archive.exists():
            print(f"  engine archive in reins: {archive.stat().st_size / 1024:.0f} KiB")
        for entry in sorted(p for p in cache.iterdir() if p.is_dir()):
            exe = entry / "engine"
            print(f"  engine for a {entry.name[:12]}... module: "
                  f"{exe.stat().st_size / 1024:.0f} KiB (static)")
        for name in ("hello.wasm", "sha.wasm"):
            print(f"  {name}: {(ws / name).stat().st_size / 1024:.0f} KiB")
    except (RuntimeError, subprocess.CalledProcessError) as e:
        print(f"wasm bench: {e}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
