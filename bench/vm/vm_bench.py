"""isolation: vm start-up, side by side with the container (make bench).

  boot-to-exec  `reins run --isolation vm -- sh -c 'echo ready'`: from the
                start of reins to the command's first output line, median of
                N, beside the same under the container backend.
  kernel boot   QEMU alone with reins' guest kernel and initramfs, in the
                accelerator's probe mode (init reports at once and stops the
                guest): from QEMU's start to its exit.

Under TCG on a 2-core machine; KVM figures are not measured here (see the
README: they are an expectation, unverified on this host).

  vm_bench.py REINS [--runs N]"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def first_line_time(argv, cwd, env):
    start = time.monotonic()
    p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline()
    took = time.monotonic() - start
    p.stdout.read()
    p.wait()
    if line.strip() != b"ready":
        raise RuntimeError(f"{argv}: no 'ready' (exit {p.returncode})")
    return took


def kernel_boot(kernel, initrd, runs):
    times = []
    status = tempfile.mktemp(prefix="reins-vm-bench-", dir="/tmp")
    for _ in range(runs):
        start = time.monotonic()
        subprocess.run(["qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none",
                        "-no-reboot", "-M", "microvm,acpi=off,x-option-roms=off,rtc=off,isa-serial=off",
                        "-accel", "tcg,tb-size=64", "-cpu", "max", "-m", "256M", "-kernel",
                        kernel, "-initrd", initrd, "-device", "virtio-serial-device",
                        "-chardev", f"file,id=status,path={status}", "-device",
                        "virtserialport,chardev=status,name=reins.status", "-append",
                        "quiet loglevel=0 panic=-1 reboot=t rdinit=/init reins.probe=1"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)
        took = time.monotonic() - start
        ok = Path(status).exists() and Path(status).read_text().startswith("probe")
        if ok:
            times.append(took)
    if os.path.exists(status):
        os.unlink(status)
    return times


def ms(values):
    return f"median {statistics.median(values) * 1000:7.0f} ms  min {min(values) * 1000:7.0f} ms" \
        f"  (n={len(values)})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reins")
    ap.add_argument("--runs", type=int, default=int(os.environ.get("REINS_BENCH_VM_RUNS", "7")))
    a = ap.parse_args()
    if not shutil.which("qemu-system-x86_64"):
        print("vm: peer unavailable: qemu-system-x86 is not installed")
        return
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "reins" / "vm"
    kernel = os.environ.get("REINS_VM_KERNEL") or str(cache / "bzImage")
    if not os.path.isfile(kernel):
        print(f"vm: unavailable: no guest kernel at {kernel} (make vm-kernel)")
        return
    ws = tempfile.mkdtemp(prefix="reins-vm-bench-ws-", dir="/tmp")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(Path.home()),
           "REINS_VM_KERNEL": kernel}
    cmd = ["sh", "-c", "echo ready"]
    try:
        # the first vm run builds the initramfs: not measured
        first_line_time([a.reins, "run", "-q", "--isolation", "vm", "--memory", "256MiB",
                         "-w", ws, "--", *cmd], ws, env)
        vm, container = [], []
        for _ in range(a.runs):
            vm.append(first_line_time([a.reins, "run", "-q", "--isolation", "vm", "--memory",
                                       "256MiB", "-w", ws, "--", *cmd], ws, env))
            container.append(first_line_time([a.reins, "run", "-q", "-w", ws, "--", *cmd],
                                             ws, env))
        initrd = sorted(cache.glob("initramfs-*.cpio"), key=lambda p: p.stat().st_mtime)[-1]
        boot = kernel_boot(kernel, str(initrd), a.runs)
    finally:
        shutil.rmtree(ws, ignore_errors=True)
    print("vm start-up under TCG (boot-to-exec: reins start to the command's first line)")
    print(f"  vm         {ms(vm)}")
    print(f"  container  {ms(container)}")
    print(f"  ratio vm/container {statistics.median(vm) / statistics.median(container):.0f}x;"
          f" budget (DESIGN §8): vm <= 1000 ms under TCG")
    if boot:
        print(f"  guest kernel boot to init's marker (QEMU start to exit): {ms(boot)}")
    print("  KVM (unverified here: this host's /dev/kvm cannot boot a guest): microvm "
          "boots of such a kernel are reported at ~100-150 ms with KVM")


if __name__ == "__main__":
    sys.exit(main())
