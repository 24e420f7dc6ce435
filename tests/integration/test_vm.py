"""isolation: vm, end to end: the command runs in a QEMU microvm with reins'
guest kernel (make vm-kernel), inside reins' container sandbox in the guest,
with the workspace over virtio-9p and the network only through the session's
egress proxy (over a virtio-serial port). As root and as nobody.

TCG is slow (each test boots a VM): `make check` runs the tests below that
are not marked `long`; `make vm-check` runs them all (REINS_VM_LONG=1)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "proxy_helpers"))
import servers  # noqa: E402

TIMEOUT = 240
LONG = os.environ.get("REINS_VM_LONG") == "1"
long_only = pytest.mark.skipif(not LONG, reason="vm-check only (REINS_VM_LONG=1): TCG is slow")


def _kernel():
    given = os.environ.get("REINS_VM_KERNEL")
    if given:
        return Path(given)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(cache) / "reins" / "vm" / "bzImage"


@pytest.fixture(scope="module")
def kernel():
    """The guest kernel, copied where nobody can read it too."""
    if not shutil.which("qemu-system-x86_64"):
        pytest.skip("qemu-system-x86 is not installed (scripts/deps.sh)")
    source = _kernel()
    if not source.is_file():
        pytest.skip(f"no guest kernel at {source}: run `make vm-kernel`")
    d = tempfile.mkdtemp(prefix="reins-vm-kernel-", dir="/tmp")
    os.chmod(d, 0o755)
    copy = Path(d) / "bzImage"
    shutil.copy(source, copy)
    os.chmod(copy, 0o644)
    yield str(copy)
    shutil.rmtree(d, ignore_errors=True)


def vm_run(caller, kernel, cmd, *, ws=None, opts=(), policy=None, env=None):
    ws = ws or caller.workspace()
    args = ["run", "--isolation", "vm", "--memory", "256MiB", *opts]
    if policy:
        args += ["-p", policy]
    events = Path(ws).parent / f"events-{os.getpid()}-{len(str(ws))}.jsonl"
    args += ["--events", str(events), "-w", ws, "--", *cmd]
    r = caller.run(args, cwd=ws, env={"REINS_VM_KERNEL": kernel, **(env or {})}, timeout=TIMEOUT)
    r.events = []
    if events.exists():
        r.events = [json.loads(line) for line in events.read_text().splitlines() if line]
        events.unlink()
    return r


def test_exit_status_and_stdio_come_back_from_the_guest(caller, kernel):
    r = vm_run(caller, kernel, ["sh", "-c", "echo out; echo err >&2; exit 7"])
    assert r.returncode == 7, r.stderr
    assert r.stdout.splitlines()[-1] == "out", r.stdout
    assert "err" in r.stderr.splitlines(), r.stderr
    # one note: no usable KVM here, so TCG
    notes = [line for line in r.stderr.splitlines() if "isolation: vm" in line]
    assert len(notes) <= 1 and all(n.startswith("reins: note:") for n in notes), r.stderr


def test_the_command_runs_behind_its_own_kernel(caller, kernel):
    host = os.uname().release
    r = vm_run(caller, kernel, ["sh", "-c", "uname -r; cat /proc/1/comm; nproc"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    # the guest kernel is Debian's 6.1 source, not the host's kernel
    assert lines[0] != host and lines[0].startswith("6.1"), (lines, host)
    # and inside the guest, the agent is in reins' container sandbox (its pid 1)
    assert lines[1] == "reins", lines


def test_workspace_writes_reach_the_host_and_readonly_refuses(caller, kernel):
    ws = caller.workspace()
    caller.write(ws / "in.txt", "from the host\n")
    r = vm_run(caller, kernel, ["sh", "-c", "cat in.txt; echo made > out.txt"], ws=ws)
    assert r.returncode == 0, r.stderr
    assert "from the host" in r.stdout
    assert (ws / "out.txt").read_text() == "made\n"
    r = vm_run(caller, kernel, ["sh", "-c", "echo x > ro.txt"], ws=ws,
               opts=["--workspace-mode", "readonly"])
    assert r.returncode != 0
    assert not (ws / "ro.txt").exists()


def test_the_trail_records_the_vm_session_and_verifies(caller, kernel):
    r = vm_run(caller, kernel, ["true"])
    assert r.returncode == 0, r.stderr
    start = [e for e in r.events if e["type"] == "session.start"]
    assert start, r.events
    # the policy's hash names the kind: a vm session is not a container one
    assert start[0]["policy"]["sha256"] != _default_sha256(caller)
    execs = [e for e in r.events if e["type"] == "exec"]
    assert any("vm-host" in " ".join(e.get("argv", [])) for e in execs), execs
    sid = start[0]["session"]
    v = caller.run(["audit", "verify", sid])
    assert v.returncode == 0, v.stdout + v.stderr


def _default_sha256(caller):
    r = caller.run(["run", "--events", "1", "--", "true"], cwd=caller.workspace())
    for line in r.stdout.splitlines():
        if '"session.start"' in line:
            return json.loads(line)["policy"]["sha256"]
    raise AssertionError(r.stdout + r.stderr)


@pytest.fixture(scope="module")
def web():
    yield from servers.served_tmp_dir("reins-vm-web-")


def test_egress_goes_through_the_proxy_only(caller, kernel, web, tmp_path):
    policy = caller.write(caller.mkdtemp() / "net.yaml",
                          "version: 1\nextends: default\nnetwork:\n  mode: proxy\n"
                          f"  allow: [\"allowed.test:{web}\"]\n"
                          "  hosts: {allowed.test: 127.0.0.1, denied.test: 127.0.0.1}\n")
    script = (f"curl -sS -o /dev/null -w 'allowed %{{http_code}}\\n' --max-time 60 "
              f"http://allowed.test:{web}/; "
              f"curl -sS -o /dev/null -w 'denied %{{http_code}}\\n' --max-time 60 "
              f"http://denied.test:{web}/; "
              f"curl -sS --max-time 10 --noproxy '*' http://127.0.0.1:{web}/ >/dev/null 2>&1 "
              "&& echo direct ok || echo direct failed")
    r = vm_run(caller, kernel, ["sh", "-c", script], policy=str(policy))
    assert r.returncode == 0, r.stderr
    out = dict(line.split(" ", 1) for line in r.stdout.splitlines() if " " in line)
    assert out.get("allowed") == "404" or out.get("allowed") == "200", r.stdout
    assert out.get("denied") == "403", r.stdout
    # the guest has no NIC and no route to the host: only the proxy port
    assert out.get("direct") == "failed", r.stdout
    decisions = [e for e in r.events if e["type"] == "net.decision"]
    assert {e["host"]: e["decision"] for e in decisions} == {
        "allowed.test": "allowed", "denied.test": "denied"}, decisions


@long_only
def test_overlay_changes_land_with_apply(caller, kernel):
    ws = caller.workspace()
    caller.write(ws / "a.txt", "old\n")
    r = vm_run(caller, kernel, ["sh", "-c", "echo new > a.txt; echo b > b.txt"], ws=ws,
               opts=["--workspace-mode", "overlay"])
    assert r.returncode == 0, r.stderr
    assert (ws / "a.txt").read_text() == "old\n" and not (ws / "b.txt").exists()
    start = [e for e in r.events if e["type"] == "session.start"][0]
    a = caller.run(["apply", start["session"]], cwd=ws)
    assert a.returncode == 0, a.stdout + a.stderr
    assert (ws / "a.txt").read_text() == "new\n" and (ws / "b.txt").read_text() == "b\n"


def test_strict_refuses_software_emulation(caller, kernel):
    r = vm_run(caller, kernel, ["true"], opts=["--strict"])
    if "KVM" not in r.stderr and r.returncode == 0:
        pytest.skip("this host has a KVM that boots the guest")
    assert r.returncode == 125
    assert "--strict refuses software emulation" in r.stderr, r.stderr


@long_only
def test_timeout_ends_the_vm(caller, kernel):
    r = vm_run(caller, kernel, ["sleep", "1000"], opts=["--timeout", "20s"])
    assert r.returncode == 124, r.stderr


def test_a_missing_kernel_is_one_clear_line(caller, kernel, tmp_path):
    r = caller.run(["run", "--isolation", "vm", "--", "true"],
                   env={"REINS_VM_KERNEL": "/nonexistent/bzImage"})
    assert r.returncode == 125
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines == ["reins: isolation: vm: no guest kernel at /nonexistent/bzImage (build it "
                     "with `make vm-kernel`, or set REINS_VM_KERNEL)"], r.stderr


def test_qemu_dies_with_the_supervisor(caller, kernel):
    ws = caller.workspace()
    p = caller.popen(["run", "--isolation", "vm", "--memory", "256MiB", "-w", ws, "--",
                      "sleep", "1000"], cwd=ws, env={"REINS_VM_KERNEL": kernel})
    import time
    deadline = time.time() + 120
    qemu = []
    while time.time() < deadline and not qemu:
        time.sleep(0.5)
        qemu = _qemu_of(ws)
    assert qemu, "QEMU never started"
    p.kill()
    p.wait()
    deadline = time.time() + 10
    while time.time() < deadline and _qemu_of(ws):
        time.sleep(0.2)
    assert not _qemu_of(ws)


def _qemu_of(ws):
    """QEMU processes serving this workspace (found by their -fsdev path)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"qemu-system-x86_64") and any(
                f"path={ws},".encode() in a for a in argv):
            found.append(int(pid))
    return found


del subprocess
