"""ESCAPES.md "host binary overwrite via /proc", "leaked file descriptors",
"ptrace / cross-process", "capabilities", "environment leak", "argument injection"."""
import os
import shutil
import subprocess

import pytest

from conftest import WEAK_MODE, judge, kill_all, new_dir, rm_tree, demote, is_root


def test_proc_exe(sandbox, user):
    """Only sandbox pids are visible; no /proc/PID/exe opens for writing or is
    writable once idle (the host marker's binary is writable by the user)."""
    hexid = os.urandom(5).hex()
    token = "reins-marker-" + hexid
    mdir = new_dir(user, prefix="reins-marker-")
    sleep = mdir / "sleep"
    shutil.copy("/bin/sleep", sleep)
    if is_root():
        os.chown(sleep, user.uid, user.gid)
    os.chmod(sleep, 0o755)
    marker = subprocess.Popen([token, "60"], executable=str(sleep), preexec_fn=demote(user))
    try:
        r, checks = sandbox.run_probe("procexe", hexid, key="proc_exe")
    finally:
        marker.kill()
        marker.wait()
        rm_tree(mdir)
    judge("proc_exe", checks, user)


def test_leaked_fds(sandbox, user):
    """Extra fds of the caller (a host directory O_PATH, / O_RDONLY, a file)
    do not reach the command; chdir through /proc/self/fd/N fails for all N."""
    secret = new_dir(user, prefix="reins-fdsecret-")
    (secret / "secret").write_text("host secret\n")
    fds = [
        os.open(secret, os.O_PATH | os.O_DIRECTORY),
        os.open("/", os.O_RDONLY | os.O_DIRECTORY),
        os.open(secret / "secret", os.O_RDONLY),
    ]
    try:
        r, checks = sandbox.run_probe("fds", key="fds", pass_fds=fds)
    finally:
        for fd in fds:
            os.close(fd)
        rm_tree(secret)
    judge("fds", checks, user)


def test_ptrace(sandbox, user):
    """PTRACE_ATTACH on pid 1, a child and a sibling; process_vm_readv/writev;
    /proc/1/environ and /proc/1/mem: all fail."""
    r, checks = sandbox.run_probe("ptrace", key="ptrace")
    judge("ptrace", checks, user)


def test_capabilities(sandbox, user, ws):
    """Cap* all 0, NoNewPrivs 1; exec of a plain binary and of a setuid-root
    binary (planted in the workspace by root on the host) gains nothing."""
    args = [f"plain={sandbox.probe('capdump')}"]
    if is_root():
        suid = ws / "capdump-suid"
        shutil.copy(sandbox.probe("capdump"), suid)
        os.chown(suid, 0, 0)
        os.chmod(suid, 0o4755)
        args.append(f"setuid={suid}")
    r, checks = sandbox.run_probe("caps", *args, key="caps")
    if is_root():
        assert "setuid_caps" in checks, r.stdout
    judge("caps", checks, user)


SECRETS = {"AWS_SECRET_ACCESS_KEY": "AKIAESCAPEPROBE/secret", "ANTHROPIC_API_KEY": "sk-ant-probe"}


def test_environment(sandbox, user):
    """Host secrets are absent from the command's environment and from every
    /proc/PID/environ it can read."""
    r, checks = sandbox.run_probe("env", *SECRETS, key="env", env=SECRETS)
    judge("env", checks, user)


INJECT = ["--bind", "/", "/", "-p", "x", "$(touch /tmp/pwn)", ";", "touch", "/tmp/pwn2", "--",
          "-w", "/", "`id`", "a b", "", "--timeout=0", "|", "&&"]


def test_argument_injection(sandbox, user):
    """Arguments that look like reins options or shell syntax reach the
    command verbatim, and nothing is run on the host."""
    for f in ("/tmp/pwn", "/tmp/pwn2"):
        if os.path.exists(f):
            os.unlink(f)
    r = sandbox.run([sandbox.probe("argv"), *INJECT], key="argv")
    if "DONE" not in r.stdout and not WEAK_MODE:
        pytest.fail(f"argv probe did not run: exit {r.returncode} {r.stderr}")
    got = []
    for line in r.stdout.splitlines():
        if line.startswith("ARG "):
            parts = line.split(" ", 2)
            got.append(bytes.fromhex(parts[2] if len(parts) > 2 else "").decode())
    host_files = [f for f in ("/tmp/pwn", "/tmp/pwn2") if os.path.exists(f)]
    ok = got == INJECT and not host_files
    judge("argv", {"argv_verbatim": (not ok, f"argv inside {got!r}, host files {host_files}, "
                                               f"exit {r.returncode}")}, user)
