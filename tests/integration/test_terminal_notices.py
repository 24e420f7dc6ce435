"""reins' own notices on an interactive terminal (issue 13 item 5), seen the
way a person sees them: `reins run` typed into a shell in tmux, the screen
read back with capture-pane. While the session runs the terminal is raw, so
a notice must start at column 0 and end with "\\r\\n" (no staircase after
it), keep the program's partial line, and leave a full-screen program's
screen as it was (a status line on the bottom row, cursor put back). As
root and as nobody."""
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import TIMEOUT

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux is not installed (scripts/deps.sh installs it)")

COLS, ROWS = 120, 24

AGENT = r"""
import json, os, sys, time, urllib.request

def ask(reason):
    # an approval request on the agent channel: reins prints "approval needed"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    body = {"kind": "destination", "target": "docs.example.test:443", "reason": reason}
    req = urllib.request.Request(os.environ["REINS_REQUEST_URL"], data=json.dumps(body).encode())
    opener.open(req).read()
    time.sleep(0.3)  # let the notice reach the terminal before what follows

def denied():
    # a destination the policy does not allow: reins says "denied" on the terminal
    try:
        urllib.request.urlopen("http://denied.example.test/", timeout=20).read()
    except Exception:
        pass
    time.sleep(0.3)

out = sys.stdout
if sys.argv[1] == "denied":
    out.write("partial")
    out.flush()
    denied()
    out.write("after1\nafter2\n")
    out.flush()
elif sys.argv[1] == "lines":
    out.write("partial")  # a line not finished when the notice comes
    out.flush()
    ask("lines")
    out.write("after1\nafter2\n")
    out.flush()
else:
    cols, rows = os.get_terminal_size()
    out.write("\x1b[?1049h\x1b[2J")  # a full-screen program: the alternate screen
    for r in range(1, rows + 1):
        out.write(f"\x1b[{r};1H" + (f"row {r:02d} " + "." * cols)[:cols])
    out.write("\x1b[5;10H")  # its cursor, where it goes on drawing
    out.flush()
    ask("tui")
    out.write("X")
    out.flush()
while not os.path.exists("go"):
    time.sleep(0.05)
if sys.argv[1] == "tui":
    out.write("\x1b[?1049l")
print("agent-done")
"""


class Tmux:
    """A tmux server of the caller's own (its socket in a directory of the
    caller), one window of COLS x ROWS running sh."""

    def __init__(self, caller, env):
        self.caller = caller
        self.socket = str(caller.mkdtemp(prefix="reins-tmux-") / "sock")
        self.env = env
        self.cmd(["new-session", "-d", "-s", "t", "-x", str(COLS), "-y", str(ROWS), "sh"])

    def cmd(self, args, check=True):
        r = subprocess.run(self.caller.prefix + ["tmux", "-S", self.socket, "-f", "/dev/null",
                                                    *args],
                           env=self.env, cwd=self.caller.home, capture_output=True, text=True,
                           timeout=TIMEOUT,
                              check=False, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError(f"tmux {args}: {r.stderr}")
        return r

    def type(self, line):
        self.cmd(["send-keys", "-t", "t", line, "Enter"])

    def screen(self):
        return self.cmd(["capture-pane", "-p", "-t", "t"]).stdout.split("\n")[:ROWS]

    def cursor(self):
        x, y = self.cmd(["display-message", "-p", "-t", "t",
                         "#{cursor_x} #{cursor_y}"]).stdout.split()
        return int(x), int(y)

    def wait_until(self, ready, what, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            screen = self.screen()
            if ready(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{what} never shown; screen:\n" + "\n".join(self.screen()))

    def wait_for(self, text, timeout=60):
        return self.wait_until(lambda screen: any(text in line for line in screen), repr(text),
                               timeout)

    def close(self):
        self.cmd(["kill-server"], check=False)


def start(caller, mode):
    runtime = caller.mkdtemp(prefix="reins-rt-")
    os.chmod(runtime, 0o700)
    # SHELL: tmux runs its panes with it (nobody's login shell is nologin)
    env = caller.env({"XDG_RUNTIME_DIR": str(runtime), "TERM": "xterm-256color",
                      "SHELL": "/bin/sh"})
    ws = caller.workspace()
    caller.write(ws / "agent.py", AGENT)
    caller.write(ws / "policy.yaml", "version: 1\nextends: default\nnetwork:\n  mode: proxy\n"
                 "approvals: {timeout: 120s}\n")
    tmux = Tmux(caller, env)
    tmux.type(f"cd {ws} && {caller.reins} run -p policy.yaml -w {ws} -- python3 agent.py {mode}")
    return tmux, ws


def finish(tmux, ws):
    (ws / "go").write_text("")
    tmux.wait_for("agent-done")


def test_notice_starts_at_column_0_and_ends_the_line(caller):
    tmux, ws = start(caller, "lines")
    try:
        screen = [line.rstrip() for line in tmux.wait_for("after2")]
        finish(tmux, ws)
    finally:
        tmux.close()
    notice = [i for i, line in enumerate(screen) if "approval needed" in line]
    assert len(notice) == 1, "\n".join(screen)
    i = notice[0]
    # the notice is a line of its own, from column 0; the partial line is kept
    assert screen[i].startswith("reins: approval needed: "), "\n".join(screen)
    assert screen[i - 1] == "partial", "\n".join(screen)
    # it ends with "\r\n": what the program prints next starts at column 0
    rest = [line for line in screen[i + 1:] if line]
    assert rest[:2] == ["after1", "after2"], "\n".join(screen)


def test_denial_line_starts_at_column_0_and_ends_the_line(caller):
    tmux, ws = start(caller, "denied")
    try:
        screen = [line.rstrip() for line in tmux.wait_for("after2")]
        finish(tmux, ws)
    finally:
        tmux.close()
    notice = [i for i, line in enumerate(screen) if "denied denied.example.test" in line]
    assert len(notice) == 1, "\n".join(screen)
    i = notice[0]
    assert screen[i].startswith("reins: denied "), "\n".join(screen)
    assert screen[i - 1] == "partial", "\n".join(screen)
    rest = [line for line in screen[i + 1:] if line]
    assert rest[:2] == ["after1", "after2"], "\n".join(screen)


def test_notice_leaves_a_full_screen_program_intact(caller):
    tmux, ws = start(caller, "tui")
    try:
        # the notice, then the program's next character
        screen = tmux.wait_until(lambda s: "approval needed" in "".join(s) and "X" in "".join(s),
                                 "the notice and the program's X")
        cursor = tmux.cursor()
        finish(tmux, ws)
    finally:
        tmux.close()
    shown = "\n".join(screen)
    # every row the program drew is as it drew it (nothing scrolled, nothing
    # written into it), but the bottom one, which holds the notice
    for r in range(1, ROWS):
        want = (f"row {r:02d} " + "." * COLS)[:COLS]
        if r == 5:
            want = want[:9] + "X" + want[10:]
        assert screen[r - 1] == want, f"row {r} changed:\n{shown}"
    assert screen[ROWS - 1].startswith("reins: approval needed: "), shown
    # the program's cursor was put back: its X landed where it was drawing
    assert cursor == (10, 4), (cursor, shown)
