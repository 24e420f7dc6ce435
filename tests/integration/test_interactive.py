"""A terminal on stdin: the sandbox gets its own pty, window size follows,
the caller's terminal mode is restored."""
import re
import signal

from conftest import PtySession


def test_inner_tty_is_a_private_pty_with_the_callers_size(caller, pty_sessions):
    ws = caller.workspace()
    s = pty_sessions(caller.pty(["run", "-w", ws, "--", "sh", "-c", "tty; stty size"],
                                cwd=ws, rows=33, cols=117))
    assert s.wait() == 0, s.output()
    assert re.search(rb"^/dev/pts/\d+\r?$", s.buf, re.M), s.output()
    assert re.search(rb"^33 117\r?$", s.buf, re.M), s.output()


def test_window_size_changes_follow(caller, pty_sessions):
    ws = caller.workspace()
    script = ('stty size; while [ "$(stty size)" != "40 100" ]; do sleep 0.1; done; '
              'echo resized; stty size')
    s = pty_sessions(caller.pty(["run", "-w", ws, "--", "sh", "-c", script],
                                cwd=ws, rows=20, cols=70))
    s.expect(rb"^20 70\r?$")
    s.resize(40, 100)
    s.expect(rb"^resized\r?\n40 100\r?$")
    assert s.wait() == 0, s.output()


def test_interactive_bash_through_the_pty(caller, pty_sessions):
    ws = caller.workspace()
    s = pty_sessions(caller.pty(["run", "-w", ws, "--", "bash", "--norc", "--noprofile", "-i"],
                                cwd=ws))
    s.expect(rb"[$#] $")
    s.send(b"echo hi-$((1+2))\r")
    s.expect(rb"hi-3\r?\n")
    s.expect(rb"[$#] $")
    s.send(b"exit 5\r")
    assert s.wait() == 5, s.output()
    assert s.termios_now() == s.termios_before, "caller's terminal mode was not restored"


def test_callers_terminal_mode_is_restored(caller, pty_sessions):
    ws = caller.workspace()
    s = pty_sessions(caller.pty(["run", "-w", ws, "--", "sh", "-c", "stty -echo raw; exit 0"],
                                cwd=ws))
    assert s.wait() == 0, s.output()
    assert s.termios_now() == s.termios_before


def test_callers_terminal_mode_is_restored_after_timeout(caller, pty_sessions):
    ws = caller.workspace()
    s = pty_sessions(caller.pty(["run", "-w", ws, "--timeout", "1s", "--", "sleep", "100"],
                                cwd=ws))
    assert s.wait() == 124, s.output()
    assert s.termios_now() == s.termios_before


def test_command_output_and_status_through_the_pty(caller, pty_sessions):
    ws = caller.workspace()
    s = pty_sessions(caller.pty(["run", "-w", ws, "--", "sh", "-c", "echo out; echo err >&2; exit 3"],
                                cwd=ws))
    assert s.wait() == 3, s.output()
    assert b"out" in s.buf and b"err" in s.buf


def test_ctrl_c_reaches_the_command(caller, pty_sessions):
    ws = caller.workspace()
    script = "trap 'echo got-int; exit 9' INT; echo ready; while :; do sleep 0.1; done"
    s = pty_sessions(caller.pty(["run", "-w", ws, "--", "sh", "-c", script], cwd=ws))
    s.expect(rb"ready\r?\n")
    s.send(b"\x03")
    s.expect(rb"got-int")
    assert s.wait() == 9, s.output()
    assert s.termios_now() == s.termios_before


def test_terminal_restored_after_sigterm_to_reins(caller, pty_sessions):
    ws = caller.workspace()
    s = pty_sessions(caller.pty(["run", "-w", ws, "--", "sh", "-c", "echo ready; exec sleep 100"],
                                cwd=ws))
    s.expect(rb"ready\r?\n")
    s.proc.send_signal(signal.SIGTERM)
    assert s.wait() == 128 + signal.SIGTERM, s.output()
    assert s.termios_now() == s.termios_before


def test_large_output_through_the_pty_is_complete(caller, pty_sessions):
    ws = caller.workspace()
    s = pty_sessions(caller.pty(["run", "-w", ws, "--", "seq", "1", "50000"], cwd=ws))
    assert s.wait(timeout=60) == 0
    lines = s.buf.replace(b"\r", b"").split(b"\n")
    numbers = [int(x) for x in lines if x.strip().isdigit()]
    assert numbers == list(range(1, 50001))


def test_stdout_redirect_is_kept_when_stdin_is_a_terminal(caller, pty_sessions):
    ws = caller.workspace()
    out = ws / "out.txt"
    caller.write(out, "")
    with open(out, "wb") as f:
        s = PtySession(caller.argv(["run", "-w", ws, "--", "sh", "-c", "echo to-file; tty"]),
                       cwd=ws, env=caller.env({"TERM": "xterm"}), rows=24, cols=80, stdout=f)
        pty_sessions(s)
        assert s.wait() == 0, s.output()
    text = out.read_text()
    assert text.startswith("to-file\n"), text
    assert re.search(r"^/dev/pts/\d+$", text, re.M), "stdin is not the private pty"
    assert b"to-file" not in s.buf
