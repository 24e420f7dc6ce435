"""Exit statuses of `reins run` (run-contract: "Exit status")."""
import pytest

from conftest import one_error_line


@pytest.mark.parametrize("status", [0, 3, 42])
def test_exit_status_is_the_commands(caller, status):
    r = caller.sandbox(["sh", "-c", f"exit {status}"])
    assert r.returncode == status, r.stderr


@pytest.mark.parametrize("sig,name", [(15, "TERM"), (9, "KILL")])
def test_exit_status_128_plus_signal_when_command_kills_itself(caller, sig, name):
    r = caller.sandbox(["sh", "-c", f"kill -{name} $$; echo still-alive"])
    assert "still-alive" not in r.stdout, "the signal did not reach the command"
    assert r.returncode == 128 + sig, r.stderr


def test_exit_126_for_a_non_executable_file(caller):
    ws = caller.workspace()
    caller.write(ws / "script.sh", "#!/bin/sh\necho ran\n", 0o644)
    r = caller.sandbox([str(ws / "script.sh")], ws=ws)
    assert r.returncode == 126, r.stderr
    assert "ran" not in r.stdout


def test_exit_127_for_a_missing_command(caller):
    r = caller.sandbox(["no-such-command-reins-test"])
    assert r.returncode == 127, r.stderr


def test_exit_127_for_a_missing_absolute_path(caller):
    r = caller.sandbox(["/usr/bin/no-such-command-reins-test"])
    assert r.returncode == 127, r.stderr


@pytest.mark.parametrize("opts", [
    ["--no-such-option"],
    ["--memory", "lots"],
    ["--pids", "-3"],
    ["--cpus", "many"],
    ["--timeout", "soon"],
    ["--workspace-mode", "sideways"],
    ["-p", "no-such-preset-or-file"],
    ["-w", "/nonexistent/reins-test-workspace"],
], ids=lambda o: " ".join(o))
def test_exit_125_for_a_bad_option(caller, opts):
    ws = caller.workspace()
    r = caller.run(["run", "-w", ws, *opts, "--", "sh", "-c", "touch ran"], cwd=ws)
    assert r.returncode == 125, (r.stdout, r.stderr)
    one_error_line(r.stderr)
    assert not (ws / "ran").exists(), "the command ran despite the bad option"


def test_exit_125_without_a_command(caller):
    ws = caller.workspace()
    r = caller.run(["run", "-w", ws, "--"], cwd=ws)
    assert r.returncode == 125, (r.stdout, r.stderr)
    one_error_line(r.stderr)


def test_help_prints_usage_and_exits_0(caller):
    r = caller.run(["run", "--help"])
    assert r.returncode == 0, r.stderr
    assert "--policy" in r.stdout and "--workspace" in r.stdout
