"""ESCAPES.md "seccomp coverage", "nested user namespaces", "io_uring",
"threads before the filter"."""
import pytest

from conftest import WEAK_MODE, judge

SECCOMP_CHECKS = [
    "mount", "umount2", "fsopen", "fsmount", "open_tree", "move_mount", "mount_setattr",
    "pivot_root", "chroot", "setns", "unshare_newuser", "clone3", "bpf", "keyctl", "add_key",
    "perf_event_open", "userfaultfd", "open_by_handle_at", "init_module", "finit_module",
    "kexec_load", "x32_syscall", "int80", "nr1000_enosys", "filter_active",
]

_cache = {}


@pytest.fixture
def seccomp_results(sandbox, user):
    """The seccomp probe runs once per user; each syscall is its own test."""
    if user.name not in _cache:
        _cache[user.name] = sandbox.run_probe("seccomp", key="seccomp")[1]
    return _cache[user.name]


@pytest.mark.parametrize("check", SECCOMP_CHECKS)
def test_seccomp_denies(check, seccomp_results, user):
    """Each syscall of the row fails, also from a nested user namespace;
    x32 and int 0x80 fail; an unknown number answers ENOSYS; Seccomp: 2."""
    judge("seccomp", seccomp_results, user, only=check)


def test_nested_userns(sandbox, user):
    """unshare(CLONE_NEWUSER) and clone(CLONE_NEWUSER) fail."""
    r, checks = sandbox.run_probe("userns", key="userns")
    judge("userns", checks, user)


def test_io_uring(sandbox, user):
    """io_uring_setup fails."""
    r, checks = sandbox.run_probe("iouring", key="io_uring")
    judge("io_uring", checks, user)


def test_threads_filtered(sandbox, user):
    """A thread of the command is filtered (Seccomp: 2, NoNewPrivs: 1, mount
    fails) and so is every task visible in the sandbox, pid 1 included.

    What this can and cannot show: reins installs the filter in its sandbox
    child, which is single-threaded at that point (a plain clone of the
    single-threaded supervisor, before exec), so no thread can predate the
    filter; SECCOMP_FILTER_FLAG_TSYNC is the guard should one ever exist. From
    inside, the observable consequence is that no task in the sandbox is
    unfiltered, which is what is asserted."""
    r, checks = sandbox.run_probe("threads", key="threads")
    judge("threads", checks, user)
