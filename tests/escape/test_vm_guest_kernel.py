"""isolation: vm -- attacks on the kernel stay inside the guest's kernel.

The same probes as for the container (syswrite, the module-loading checks of
the seccomp probe) run inside the VM: the agent is in reins' container
sandbox there too, so they are blocked as in a container; and whatever the
guest's sandbox lets through (a weakened build weakens it: make escape-weak)
reaches the guest's kernel, not the host's: the host's sysctls are compared
before and after. Skipped without QEMU or the guest kernel (make vm-kernel)."""
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import judge

HOST_SYSCTLS = ["/proc/sys/kernel/hostname", "/proc/sys/kernel/core_pattern",
                "/proc/sys/kernel/modprobe"]


def _kernel():
    given = os.environ.get("REINS_VM_KERNEL")
    if given:
        return Path(given)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(cache) / "reins" / "vm" / "bzImage"


@pytest.fixture(scope="module")
def kernel():
    if not shutil.which("qemu-system-x86_64"):
        pytest.skip("qemu-system-x86 is not installed (scripts/deps.sh)")
    if not _kernel().is_file():
        pytest.skip(f"no guest kernel at {_kernel()}: run `make vm-kernel`")
    d = tempfile.mkdtemp(prefix="reins-vm-kernel-", dir="/tmp")
    os.chmod(d, 0o755)
    copy = Path(d) / "bzImage"
    shutil.copy(_kernel(), copy)
    os.chmod(copy, 0o644)
    yield str(copy)
    shutil.rmtree(d, ignore_errors=True)


def _host_sysctls():
    return {p: Path(p).read_text() for p in HOST_SYSCTLS if os.path.exists(p)}


VM = ["--isolation", "vm", "--memory", "256MiB"]


def test_proc_sys_writes_stay_in_the_guest(sandbox, user, kernel):
    before = _host_sysctls()
    r, checks = sandbox.run_probe("syswrite", key="vm_sys_writes", opts=VM, timeout=300,
                                  env={"REINS_VM_KERNEL": kernel})
    assert "DONE" in r.stdout, r.stdout + r.stderr
    judge("vm_sys_writes", checks, user)
    # whatever the guest's sandbox let through, the host's kernel is untouched
    assert _host_sysctls() == before


def test_no_module_reaches_any_kernel(sandbox, user, kernel):
    r, checks = sandbox.run_probe("seccomp", key="vm_modules", opts=VM, timeout=300,
                                  env={"REINS_VM_KERNEL": kernel})
    assert "DONE" in r.stdout, r.stdout + r.stderr
    modules = {k: v for k, v in checks.items() if k in ("init_module", "finit_module")}
    assert set(modules) == {"init_module", "finit_module"}, checks
    judge("vm_modules", modules, user)
