"""isolation: wasm — WASI preview 1 modules run by `reins run -- tool.wasm`.

The modules are built here (tests/wasm, clang --target=wasm32-wasi and
wat2wasm). Each caller gets one private module cache for the whole run
(REINS_WASM_CACHE), so each module is compiled once per caller."""
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import IS_ROOT, REPO, SECRET_SSH

sys.path.insert(0, str(REPO / "tests" / "wasm"))
import build as wasm_build  # noqa: E402

_CACHES = {}


@pytest.fixture(scope="session")
def modules():
    missing = wasm_build.missing_tools()
    if missing:
        pytest.fail(f"cannot build the WASI test modules: missing {missing} (make deps)")
    d = tempfile.mkdtemp(prefix="reins-wasm-modules-", dir="/tmp")
    built = wasm_build.build_all(d)
    yield built
    shutil.rmtree(d, ignore_errors=True)
    for c in _CACHES.values():
        shutil.rmtree(c, ignore_errors=True)


@pytest.fixture
def wasm(caller, modules):
    """Run a module: wasm(name, *args, ws=None, opts=(), events=True)."""
    if caller.name not in _CACHES:
        d = tempfile.mkdtemp(prefix=f"reins-wasm-cache-{caller.name}-", dir="/tmp")
        os.chmod(d, 0o700)
        if IS_ROOT:
            os.chown(d, caller.uid, caller.gid)
        _CACHES[caller.name] = d
    cache = _CACHES[caller.name]

    def run(name, *args, ws=None, opts=(), env=None, timeout=120):
        ws = ws or caller.workspace()
        module = Path(ws) / (name + ".wasm")
        if not module.exists():
            shutil.copy(modules[name], module)
            caller.own(module)
        events = Path(ws).parent / f"{Path(ws).name}.events.jsonl"
        r = caller.run(["run", "-q", *opts, "--events", events, "-w", ws, "--",
                        f"./{name}.wasm", *args], cwd=ws, timeout=timeout,
                       env={"REINS_WASM_CACHE": cache, **(env or {})})
        r.events = []
        if events.exists():
            r.events = [json.loads(line) for line in events.read_text().splitlines() if line]
            events.unlink()
        r.ws = Path(ws)
        return r

    run.modules = modules
    return run


def of_type(r, kind):
    return [e for e in r.events if e.get("type") == kind]


def test_args_reach_the_module_verbatim(wasm):
    args = ["plain", "two words", "--bind", "/", "/", "-p", "x", "$(id)", "a;b", "ünï"]
    r = wasm("wasi_conformance", "args", *args)
    assert r.returncode == 0, r.stderr
    got = [line[4:] for line in r.stdout.splitlines() if line.startswith("arg:")]
    assert got == ["./wasi_conformance.wasm", "args", *args]


def test_environment_is_the_policys(wasm):
    r = wasm("wasi_conformance", "env", opts=["--env", "REINS_WASM_SET=given"],
             env={"AWS_SECRET_ACCESS_KEY": "reins-wasm-secret"})
    assert r.returncode == 0, r.stderr
    env = dict(line[4:].split("=", 1) for line in r.stdout.splitlines()
               if line.startswith("env:"))
    assert env.get("REINS_WASM_SET") == "given"
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert "reins-wasm-secret" not in r.stdout


def test_clocks_and_random(wasm):
    ws = None
    for what in ("clock", "random"):
        r = wasm("wasi_conformance", what, ws=ws)
        ws = r.ws
        assert r.returncode == 0, r.stdout + r.stderr
        assert "FAIL" not in r.stdout


def test_exit_status_is_the_modules(wasm):
    r = wasm("wasi_conformance", "exit", "7")
    assert r.returncode == 7, r.stderr
    assert [e["status"] for e in of_type(r, "wasm.exit")] == [7]
    r = wasm("exit_code", ws=r.ws)
    assert r.returncode == 42, r.stderr
    r = wasm("wasi_conformance", "clock", ws=r.ws)
    assert r.returncode == 0, r.stderr


def test_files_conformance(wasm):
    """open/read/write/seek/stat/readdir/rename/unlink/symlinks/links/times,
    and the errors each gives, in the workspace."""
    r = wasm("wasi_conformance", "files")
    failed = [line for line in r.stdout.splitlines() if line.startswith("FAIL")]
    assert not failed, r.stdout + r.stderr
    assert "files done 0" in r.stdout and r.returncode == 0, r.stdout + r.stderr
    assert sorted(os.listdir(r.ws)) == ["wasi_conformance.wasm"]


def test_reopening_the_workspace_as_wasi_programs_do(wasm):
    """path_open(".") with every right, with none, and O_DIRECTORY with the
    write right (EISDIR), as the WASI test suite's path_open_preopen."""
    r = wasm("wasi_conformance", "reopen")
    assert "reopen done 0" in r.stdout and r.returncode == 0, r.stdout + r.stderr


def test_start_event_names_the_module(wasm):
    r = wasm("wasi_conformance", "args")
    assert r.returncode == 0, r.stderr
    start = of_type(r, "wasm.start")
    assert len(start) == 1, r.events
    digest = hashlib.sha256((r.ws / "wasi_conformance.wasm").read_bytes()).hexdigest()
    assert start[0]["sha256"] == digest
    assert "wasi_snapshot_preview1.fd_write" in start[0]["imports"]
    assert start[0]["engine"] == "wasm2c"
    # the second run of the same module starts from the cache
    r = wasm("wasi_conformance", "args", ws=r.ws)
    assert of_type(r, "wasm.start")[0]["cached"] is True
    # the risk engine's input: a session with wasm events ends normally
    assert of_type(r, "session.end"), [e["type"] for e in r.events]


def test_preopens_are_the_workspace_and_the_policys_paths(wasm, caller):
    r = wasm("wasi_conformance", "preopens")
    assert r.returncode == 0, r.stderr
    pre = [line[8:] for line in r.stdout.splitlines() if line.startswith("preopen ")]
    assert pre[0] == "." and str(r.ws) in pre and "/usr" in pre, pre
    assert not any(p == str(caller.home) or p.startswith(str(caller.home) + "/") for p in pre)
    assert not any(p.startswith("/.reins") or p in ("/", "/proc", "/dev") for p in pre), pre
    r = wasm("wasi_conformance", "open", f"{caller.home}/.ssh/id_rsa", ws=r.ws)
    assert "OK" not in r.stdout.split() and SECRET_SSH not in r.stdout, r.stdout


def test_deny_is_enforced_on_every_open(wasm, caller):
    ws = caller.workspace()
    caller.write(ws / ".env", "TOKEN=reins-wasm-denied\n")
    (ws / "notes").symlink_to(".env")
    r = wasm("wasi_conformance", "open", ".env", ws=ws)
    assert "open .env: EACCES" in r.stdout, r.stdout + r.stderr
    r = wasm("wasi_conformance", "open", "notes", ws=ws)
    assert "reins-wasm-denied" not in r.stdout
    assert "open notes: OK" not in r.stdout, r.stdout
    r = wasm("wasi_conformance", "open", "/etc/shadow", ws=ws)
    assert "open /etc/shadow: EACCES" in r.stdout, r.stdout + r.stderr
    denied = of_type(r, "wasm.denied")
    assert denied and denied[0]["path"] == "/etc/shadow" and denied[0]["op"] == "open", r.events


def test_protected_paths_stay_read_only(wasm, caller):
    ws = caller.workspace()
    caller.write(ws / ".git" / "config", "[core]\n")
    r = wasm("wasi_conformance", "write", ".git/config", ws=ws)
    assert "write .git/config: OK" not in r.stdout, r.stdout
    assert (ws / ".git" / "config").read_text() == "[core]\n"
    r = wasm("wasi_conformance", "write", "ordinary.txt", ws=ws)
    assert "write ordinary.txt: OK" in r.stdout, r.stdout + r.stderr
    assert (ws / "ordinary.txt").read_text() == "written by wasm\n"


def test_readonly_workspace(wasm, caller):
    ws = caller.workspace()
    caller.write(ws / "existing.txt", "kept\n")
    r = wasm("wasi_conformance", "readonly", ws=ws, opts=["--workspace-mode", "readonly"])
    assert r.returncode == 0, r.stderr
    assert "create EROFS" in r.stdout and "mkdir EROFS" in r.stdout, r.stdout
    assert "unlink EROFS" in r.stdout and "read OK" in r.stdout, r.stdout
    assert sorted(os.listdir(ws)) == ["existing.txt", "wasi_conformance.wasm"]


def test_overlay_workspace_keeps_the_host_unchanged(wasm, caller):
    ws = caller.workspace()
    r = wasm("wasi_conformance", "write", "made.txt", ws=ws,
             opts=["--workspace-mode", "overlay"])
    assert "write made.txt: OK" in r.stdout, r.stdout + r.stderr
    assert not (ws / "made.txt").exists()


def test_escape_attempts_fail(wasm, caller):
    """Absolute paths, `..` above the preopen, symlinks out of it (planted on
    the host): all refused, whatever the sandbox around shows."""
    ws = caller.workspace()
    (ws / "sub").mkdir()
    (ws / "link_root").symlink_to("/")
    (ws / "link_mem").symlink_to("/proc/self/mem")
    (ws / "link_up").symlink_to("../../../../../..")
    r = wasm("wasi_conformance", "escape", ws=ws)
    checks = re.findall(r"^CHECK (\S+) (\S+)", r.stdout, re.M)
    assert len(checks) == 8 and "DONE" in r.stdout, r.stdout + r.stderr
    assert all(v == "blocked" for _, v in checks), r.stdout
    ops = {(e["op"], e["rule"]) for e in of_type(r, "wasm.denied")}
    assert ("open", "absolute path") in ops and ("open", "outside") in ops, r.events
    # the risk engine sees them like the container's refused escape syscalls
    findings = [e.get("rule") for e in of_type(r, "risk.finding")]
    assert "escape-primitive" in findings, [e["type"] for e in r.events]


def test_forged_descriptors_are_ebadf(wasm):
    r = wasm("wasi_conformance", "forge")
    assert "CHECK forged_fds blocked" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("module,trap,function", [
    ("trap_unreachable", "unreachable executed", "explode"),
    ("trap_recursion", "call stack exhausted", "deeper"),
    ("trap_oob", "out of bounds memory access", None),
])
def test_a_trap_is_named_and_exits_134(wasm, module, trap, function):
    r = wasm(module)
    assert r.returncode == 134, r.stderr
    assert f"reins: wasm trap: {trap}" in r.stderr, r.stderr
    if function:
        assert f'in function "{function}"' in r.stderr, r.stderr
    traps = of_type(r, "wasm.trap")
    assert traps and traps[0]["trap"] == trap, r.events


@pytest.mark.parametrize("module,why", [
    ("bad_import", "imports fd_write with the signature (I:i), not WASI's (iiii:i)"),
    ("foreign_import", "imports env.system, which WASI preview 1 does not have"),
])
def test_modules_importing_what_wasi_does_not_give_are_refused(wasm, module, why):
    r = wasm(module)
    assert r.returncode == 125, r.stdout + r.stderr
    assert why in r.stderr, r.stderr


def test_linear_memory_is_capped_by_the_memory_limit(wasm):
    r = wasm("wasi_conformance", "memory", "48", opts=["--memory", "256MiB"])
    assert r.returncode == 0 and "allocated 48 MiB" in r.stdout, r.stdout + r.stderr
    r = wasm("wasi_conformance", "memory", "400", ws=r.ws, opts=["--memory", "128MiB"])
    got = re.search(r"allocated (\d+) MiB", r.stdout)
    assert r.returncode == 3 and got and int(got.group(1)) < 128, r.stdout + r.stderr


def test_timeout_ends_a_module_that_never_returns(wasm):
    r = wasm("loop", opts=["--timeout", "1s"])
    assert r.returncode == 124, r.stderr


def test_the_engine_runs_inside_the_container_sandbox(wasm, caller):
    """The engine process has reins' namespaces, no_new_privs and seccomp."""
    import subprocess
    ws = caller.workspace()
    shutil.copy(wasm.modules["wasi_conformance"], ws / "wasi_conformance.wasm")
    caller.own(ws / "wasi_conformance.wasm")
    cache = _CACHES[caller.name]
    p = caller.popen(["run", "-q", "-w", ws, "--", "./wasi_conformance.wasm", "sleep", "20000"],
                     cwd=ws, env={"REINS_WASM_CACHE": cache})
    try:
        assert p.stdout.readline() == b"sleeping\n"
        engine = None
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmd[0] == b"/.reins-wasm/engine" and str(ws).encode() in cmd:
                engine = pid
        assert engine, "the engine process was not found"
        status = Path(f"/proc/{engine}/status").read_text()
        assert re.search(r"^NoNewPrivs:\s+1$", status, re.M), status
        assert re.search(r"^Seccomp:\s+2$", status, re.M), status
        assert re.search(r"^CapEff:\s+0+$", status, re.M), status
        for ns in ("mnt", "pid", "net", "user"):
            assert os.readlink(f"/proc/{engine}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}")
    finally:
        p.kill()
        p.wait(timeout=10)
        subprocess.run(["true"])


def test_policy_isolation_wasm(wasm, caller):
    """isolation: wasm in a policy: a module runs; anything else is refused
    in one line, before anything runs."""
    d = caller.mkdtemp(prefix="reins-wasm-policy-")
    policy = caller.write(d / "wasm.yaml", "version: 1\nextends: default\nisolation: wasm\n")
    r = wasm("wasi_conformance", "exit", "5", opts=["-p", policy])
    assert r.returncode == 5, r.stderr
    assert of_type(r, "wasm.start"), r.events
    r = caller.sandbox(["/bin/true"], opts=["-p", policy])
    assert r.returncode == 125
    assert "isolation wasm: '/bin/true' is not a WebAssembly module" in r.stderr, r.stderr
    bad = caller.write(d / "bad.yaml", "version: 1\nisolation: wasmtime\n")
    r = caller.sandbox(["/bin/true"], opts=["-p", bad])
    assert r.returncode == 125 and "isolation: unknown value 'wasmtime'" in r.stderr, r.stderr


def test_events_reach_the_trail_while_the_module_runs(wasm, caller):
    """The engine's report is read as it grows: a denied open is an event
    before the module ends (the risk engine can act on a running module)."""
    ws = caller.workspace()
    shutil.copy(wasm.modules["wasi_conformance"], ws / "wasi_conformance.wasm")
    caller.own(ws / "wasi_conformance.wasm")
    events = ws.parent / f"{ws.name}.live.jsonl"
    p = caller.popen(["run", "-q", "--events", events, "-w", ws, "--", "./wasi_conformance.wasm",
                      "open-sleep", "/etc/shadow", "60000"],
                     cwd=ws, env={"REINS_WASM_CACHE": _CACHES[caller.name]})
    try:
        assert p.stdout.readline() == b"open /etc/shadow: EACCES\n"
        seen = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and p.poll() is None:
            if events.exists():
                seen = [json.loads(x) for x in events.read_text().splitlines() if x.endswith("}")]
                if any(e.get("type") == "wasm.denied" for e in seen):
                    break
            time.sleep(0.1)
        assert p.poll() is None, "the module ended early"
        assert any(e.get("type") == "wasm.denied" and e.get("path") == "/etc/shadow"
                   for e in seen), [e.get("type") for e in seen]
    finally:
        p.kill()
        p.wait(timeout=10)
        events.unlink(missing_ok=True)


def test_a_relative_rw_directory_is_preopened_by_its_name(wasm, caller):
    """`--rw fs-tests.dir` (how wasi-testsuite's adapters name a directory):
    the module finds a preopen of that name, and its files through it."""
    ws = caller.workspace()
    caller.write(ws / "fs-tests.dir" / "f", "named\n")
    r = wasm("wasi_conformance", "preopens", ws=ws, opts=["--rw", "fs-tests.dir"])
    pre = [line[8:] for line in r.stdout.splitlines() if line.startswith("preopen ")]
    assert "fs-tests.dir" in pre, r.stdout + r.stderr
    r = wasm("wasi_conformance", "open", "fs-tests.dir/f", ws=ws, opts=["--rw", "fs-tests.dir"])
    assert "content: named" in r.stdout, r.stdout + r.stderr


def test_the_compile_step_writes_only_its_build_directory(wasm, caller):
    """wasm2c and cc read a module an agent may have written: they run
    confined to their build directory (Landlock). A compiler that tries to
    write elsewhere (here on purpose: REINS_WASM_CC) cannot, and the module
    is still built."""
    import subprocess
    d = caller.mkdtemp(prefix="reins-wasm-cc-")
    canary = d / "written-by-the-compiler"
    cc = caller.write(d / "cc.sh", f"#!/bin/sh\ntouch '{canary}' 2>/dev/null\nexec cc \"$@\"\n",
                      mode=0o755)
    cache = caller.mkdtemp(prefix="reins-wasm-cache-cc-")
    os.chmod(cache, 0o700)
    landlock = subprocess.run([caller.reins, "doctor"], capture_output=True, text=True)
    if "landlock" not in landlock.stdout.lower():
        pytest.skip("no Landlock on this kernel: the compile step is bounded by rlimits only")
    r = wasm("exit_code", env={"REINS_WASM_CACHE": str(cache), "REINS_WASM_CC": str(cc)})
    assert r.returncode == 42, r.stderr
    assert not canary.exists(), "the compiler wrote outside its build directory"
