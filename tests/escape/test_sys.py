"""ESCAPES.md "cgroup / sys writes" (CVE-2023-25809)."""
import os

from conftest import judge


def test_sys_writes(sandbox, user):
    """/sys/fs/cgroup, /proc/sys and /proc/sysrq-trigger do not open for
    writing (nothing is ever written) and no cgroup directory can be made."""
    r, checks = sandbox.run_probe("syswrite", key="sys_writes")
    unavailable = {}
    if not os.path.exists("/proc/sysrq-trigger"):
        unavailable["sysrq_trigger"] = "kernel built without CONFIG_MAGIC_SYSRQ"
    judge("sys_writes", checks, user, unavailable=unavailable)
