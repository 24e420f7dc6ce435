"""Resource limits, --timeout, the rlimit fallback note and --strict."""
import re
import uuid

from conftest import one_error_line, wait_gone


def test_pids_limit_stops_a_fork_loop(caller, helpers):
    ws = caller.workspace()
    forker = caller.install_helper(ws, helpers["forker"])
    r = caller.sandbox([forker, "200"], ws=ws, opts=["--pids", "32"])
    assert r.returncode == 0, f"supervisor or helper failed: {r.returncode} {r.stderr!r}"
    m = re.search(r"forked (\d+)", r.stdout)
    assert m, r.stdout
    assert 1 <= int(m.group(1)) < 32, r.stdout


def test_memory_limit_stops_an_allocation_hog(caller, helpers):
    ws = caller.workspace()
    hog = caller.install_helper(ws, helpers["memhog"])
    r = caller.sandbox([hog, "1024"], ws=ws, opts=["--memory", "64MiB"], timeout=120)
    assert "ALLOCATED-ALL" not in r.stdout, "1 GiB allocated under a 64 MiB limit"
    # the hog is OOM-killed (128+9) or its malloc fails (3); reins itself survives
    assert r.returncode in (3, 137), (r.returncode, r.stdout, r.stderr)
    # and the supervisor still works afterwards
    again = caller.sandbox(["true"], ws=ws)
    assert again.returncode == 0, again.stderr


def test_timeout_kills_the_command_and_exits_124(caller):
    r = caller.sandbox(["sleep", "100"], opts=["--timeout", "1s"])
    assert r.returncode == 124, (r.stdout, r.stderr)
    assert "reins: timeout" in r.stderr


def test_timeout_kills_the_whole_sandbox(caller):
    marker = f"100000.{uuid.uuid4().int % 10**9:09d}"
    script = f"sleep {marker} & (setsid sleep {marker} &); sleep {marker}"
    r = caller.sandbox(["sh", "-c", script], opts=["--timeout", "500ms"])
    assert r.returncode == 124, (r.stdout, r.stderr)
    left = wait_gone(marker.encode(), timeout=5)
    assert left == [], f"sandbox processes survived the timeout: {left}"


def _expects_rlimit_fallback(caller):
    # root has cgroup v1 here; an unprivileged caller has no delegated cgroup
    return caller.uid != 0


def test_rlimit_fallback_note(caller):
    r = caller.sandbox(["true"], opts=["--pids", "64", "--memory", "512MiB"])
    assert r.returncode == 0, r.stderr
    notes = [line for line in r.stderr.splitlines() if line.startswith("reins: note:")]
    if _expects_rlimit_fallback(caller):
        assert len(notes) == 1, r.stderr
    else:
        assert notes == [], r.stderr


def test_quiet_suppresses_the_rlimit_note(caller):
    r = caller.sandbox(["true"], opts=["-q", "--pids", "64", "--memory", "512MiB"])
    assert r.returncode == 0, r.stderr
    assert "reins: note:" not in r.stderr
    assert r.stderr == ""


def test_strict_refuses_without_cgroups(caller):
    ws = caller.workspace()
    r = caller.sandbox(["sh", "-c", "touch ran"], ws=ws,
                       opts=["--strict", "--pids", "64", "--memory", "512MiB"])
    if _expects_rlimit_fallback(caller):
        assert r.returncode == 125, (r.stdout, r.stderr)
        one_error_line(r.stderr)
        assert not (ws / "ran").exists(), "the command ran under --strict"
    else:
        assert r.returncode == 0, r.stderr
        assert (ws / "ran").exists()


def test_cpus_option_is_accepted(caller):
    r = caller.sandbox(["sh", "-c", "echo ok"], opts=["--cpus", "0.5"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok\n"


def test_open_files_limit_from_policy(caller):
    d = caller.mkdtemp(prefix="reins-pol-")
    policy = caller.write(d / "nofile.yaml", "version: 1\nextends: default\nlimits:\n  open_files: 100\n")
    r = caller.sandbox(["sh", "-c", "ulimit -n"], opts=["-p", policy])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "100"


def test_quiet_still_reports_errors(caller):
    r = caller.sandbox(["true"], opts=["-q", "--memory", "lots"])
    assert r.returncode == 125
    one_error_line(r.stderr)
