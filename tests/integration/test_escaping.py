"""Terminal injection into host tools (ESCAPES.md; issue 12 item 3): what the
agent writes — an approval request's reason and target, a file's name and
contents, an argv, a host name — reaches every human-facing output escaped
(util/text_escape.h). No CR, no LF inside a line, no ESC, BEL or other C0
control, no DEL, no C1 control (as a character or as a raw byte), no bidi
control and no invalid UTF-8 gets through; ordinary UTF-8 (café, 日本) is
kept. As root and as nobody.

The agent's aim in each case: redraw the line the human is reading (CR, ESC
[2K, ESC [1A), retitle the terminal (OSC), let a C1 CSI act on the screen,
reorder what is read (U+202E), or hand the terminal bytes it decodes on its
own."""
import json
import os
import re
import subprocess
import time
from pathlib import Path

from conftest import TIMEOUT

# Valid Unicode (JSON can carry it): C0, an OSC title, C1 as characters, bidi.
HOSTILE_TEXT = ("fetch\r\x1b[2K\x1b[1Aallow exfil.example.test? \x07\x1b]0;pwned\x07"
                "\u009b2J\u0085\u202eevil\u2066\u200f caf\u00e9 \u65e5\u672c")
# Bytes (file names, argv): the above plus LF, raw C1 bytes, invalid UTF-8, DEL.
HOSTILE_BYTES = HOSTILE_TEXT.encode() + b"\n\x9b2J\x85\xff\xfe\xc3(\x7f"
UTF8_KEPT = "caf\u00e9 \u65e5\u672c".encode()
# what the escaped forms look like, so a test also sees the text is there
ESCAPED_SIGNS = [b"\\x1b[2K", b"\\u202e", b"\\u009b"]

BIDI = {0x061C, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def assert_no_raw_control(out, where, pty=False):
    """Nothing in `out` (bytes) a terminal would act on but a line feed (and
    a tab); on a pty the line discipline's own CR LF is allowed."""
    if pty:
        out = out.replace(b"\r\n", b"\n")
    bad = sorted({b for b in out if (b < 0x20 and b not in (0x0A, 0x09)) or b == 0x7F})
    assert not bad, f"{where}: raw control bytes {[hex(b) for b in bad]} in {out[-3000:]!r}"
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AssertionError(f"{where}: invalid UTF-8 ({e}) in {out[-3000:]!r}")
    hidden = sorted({ord(c) for c in text if 0x80 <= ord(c) <= 0x9F or ord(c) in BIDI})
    assert not hidden, f"{where}: C1/bidi characters {[hex(c) for c in hidden]} in {text[-3000:]!r}"


def assert_shown_escaped(out, where, signs=ESCAPED_SIGNS, utf8=True):
    """The hostile text is there, escaped, and its ordinary UTF-8 intact."""
    for sign in signs:
        assert sign in out, f"{where}: {sign!r} not shown in {out[-3000:]!r}"
    if utf8:
        assert UTF8_KEPT in out, f"{where}: ordinary UTF-8 not kept in {out[-3000:]!r}"


def own_runtime(caller):
    """A runtime directory of the test's own (XDG_RUNTIME_DIR, private):
    `reins ps`, `pending` and `approve --watch` then see this test's sessions
    only, never those of other tests running as the same user."""
    d = caller.mkdtemp(prefix="reins-rt-")
    os.chmod(d, 0o700)
    caller.runtime_env = {"XDG_RUNTIME_DIR": str(d)}
    return caller.runtime_env


def env_of(caller):
    return caller.env(getattr(caller, "runtime_env", None))


def argv_bytes(caller, args):
    """caller.argv, but bytes arguments stay bytes."""
    return caller.prefix + [caller.reins] + [a if isinstance(a, bytes) else str(a) for a in args]


def run_bytes(caller, args, *, cwd=None, timeout=TIMEOUT):
    """`reins ARGS...` with stdout and stderr as bytes, as they would reach a terminal."""
    return subprocess.run(argv_bytes(caller, args), cwd=cwd or caller.home, env=env_of(caller),
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)


def check_output(caller, args, where, *, shown=True, signs=ESCAPED_SIGNS, utf8=True):
    r = run_bytes(caller, args)
    assert r.returncode == 0, f"{where}: {r.stderr!r}"
    assert_no_raw_control(r.stdout, where + " (stdout)")
    assert_no_raw_control(r.stderr, where + " (stderr)")
    if shown:
        assert_shown_escaped(r.stdout, where, signs, utf8)
    return r


def check_audit(caller, what):
    """audit show / tail / verify of the newest trail."""
    show = check_output(caller, ["audit", "show"], f"audit show ({what})")
    check_output(caller, ["audit", "tail", "-n", "100000"], f"audit tail ({what})")
    check_output(caller, ["audit", "show", "--findings"], f"audit show --findings ({what})",
                 shown=False)
    r = run_bytes(caller, ["audit", "verify"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert_no_raw_control(r.stdout + r.stderr, f"audit verify ({what})")
    return show


# --------------------------------------------------------------------------
# the agent's approval requests ($REINS_REQUEST_URL)

ASK_SCRIPT = r"""
import json, os, sys, time, urllib.request
reason = json.loads(sys.argv[1])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
for body in ({"kind": "destination", "target": "docs.example.test:443", "reason": reason},
             {"kind": "path", "target": "notes/\u009b31m\u202etxt\u0085.md\x7f", "reason": reason}):
    req = urllib.request.Request(os.environ["REINS_REQUEST_URL"], data=json.dumps(body).encode())
    print(opener.open(req).read().decode().strip(), flush=True)
deadline = time.time() + 120
while not os.path.exists("go") and time.time() < deadline:
    time.sleep(0.05)
"""


def pending_requests(caller, count, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = caller.run(["pending", "--json"], env=caller.runtime_env)
        assert r.returncode == 0, r.stderr
        found = [x for x in json.loads(r.stdout) if x.get("reason") == HOSTILE_TEXT]
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} pending requests")


def test_agent_requests_escaped_on_every_output(caller, pty_sessions):
    runtime = own_runtime(caller)
    ws = caller.workspace()
    caller.write(ws / "ask.py", ASK_SCRIPT)
    pol = caller.write(ws / "policy.yaml", "version: 1\nextends: default\n"
                       "network:\n  mode: proxy\napprovals: {timeout: 120s}\n")
    watch = pty_sessions(caller.pty(["approve", "--watch"], cols=400, env=runtime))
    watch.expect(rb"watching for approval requests", timeout=10)
    session = caller.popen(["run", "-p", pol, "-w", ws, "--", "python3", "ask.py",
                            json.dumps(HOSTILE_TEXT)], cwd=ws, env=runtime)
    try:
        requests = pending_requests(caller, 2)
        by_kind = {r["kind"]: r for r in requests}
        # the requests themselves are faithful: the escaping is for display only
        assert by_kind["destination"]["reason"] == HOSTILE_TEXT

        # reins pending, as a table and as JSON
        check_output(caller, ["pending"], "reins pending")
        r = check_output(caller, ["pending", "--json"], "reins pending --json", shown=False)
        assert json.loads(r.stdout)[0]["reason"] == HOSTILE_TEXT

        # the watch queue puts the first question; the reason is shown escaped
        watch.expect(rb"reason: [^\n]*caf", timeout=30)
        watch.expect(rb"allow\?", timeout=10)
        watch.send(b"n\n")
        watch.expect(rb"denied ", timeout=10)
        watch.expect(rb"allow\?", timeout=30)
        # the second (a path) answered from the command line: its target is the agent's
        path_id = by_kind["path"]["id"]
        r = check_output(caller, ["deny", path_id], "reins deny", signs=[b"\\u202e", b"\\x7f"],
                         utf8=False)
        assert r.stdout.startswith(b"denied " + path_id.encode())
    finally:
        caller.write(ws / "go", "")
        out, err = session.communicate(timeout=120)
    assert session.returncode == 0, err
    assert out.count(b'"status":"pending"') == 2, out
    # the watch saw both questions, escaped
    watch_out = watch.buf
    assert_no_raw_control(watch_out, "reins approve --watch", pty=True)
    assert_shown_escaped(watch_out, "reins approve --watch")
    assert b"asks for path notes/\\u009b31m\\u202etxt\\u0085.md\\x7f" in watch_out, watch_out
    # the run terminal's "approval needed" lines
    assert err.count(b"approval needed") == 2, err
    assert_no_raw_control(err, "reins run (approval needed)")
    assert_shown_escaped(err, "reins run (approval needed)")
    check_audit(caller, "approval requests")


# --------------------------------------------------------------------------
# file names and contents: reins diff / apply / ls on an overlay session

MAKE_FILES = r"""
import os, sys
name = bytes.fromhex(sys.argv[1])
os.mkdir(b"dir-" + name.replace(b"/", b"_"))
with open(name.replace(b"/", b"_"), "wb") as f:
    f.write(b"first line\n" + name + b"\nlast line\n")
with open(b"dir-" + name.replace(b"/", b"_") + b"/inner", "wb") as f:
    f.write(name)
os.symlink(name, b"link-" + name[:40].replace(b"/", b"_"))
with open("edit.txt", "ab") as f:
    f.write(name + b"\n")
"""


def test_file_names_and_contents_escaped_in_review(caller, pty_sessions):
    own_runtime(caller)
    name = HOSTILE_BYTES
    # in direct mode the trail's files.changed record names them
    direct = caller.workspace()
    caller.write(direct / "edit.txt", "one\ntwo\n")
    caller.write(direct / "make.py", MAKE_FILES)
    r = run_bytes(caller, ["run", "-w", direct, "--", "python3", "make.py", name.hex()],
                  cwd=direct)
    assert r.returncode == 0, r.stderr
    show = check_audit(caller, "file names")
    assert b"files changed" in show.stdout

    ws = caller.workspace()
    caller.write(ws / "edit.txt", "one\ntwo\n")
    caller.write(ws / "make.py", MAKE_FILES)
    r = run_bytes(caller, ["run", "--workspace-mode", "overlay", "-w", ws, "--", "python3",
                           "make.py", name.hex()], cwd=ws)
    assert r.returncode == 0, r.stderr
    assert_no_raw_control(r.stdout + r.stderr, "reins run (overlay)")
    sid = re.search(rb"changes kept in session ([0-9a-f]{24})", r.stderr).group(1).decode()

    check_output(caller, ["diff", sid], "reins diff")
    check_output(caller, ["diff", sid, "--stat"], "reins diff --stat")
    check_output(caller, ["ls"], "reins ls", shown=False)
    check_output(caller, ["apply", sid, "--dry-run"], "reins apply --dry-run")
    # --patch: exact when redirected (git apply takes it) ...
    r = run_bytes(caller, ["diff", sid, "--patch"])
    assert r.returncode == 0, r.stderr
    assert HOSTILE_TEXT.encode() in r.stdout  # a content line, byte for byte
    # ... escaped on a terminal
    patch = pty_sessions(caller.pty(["diff", sid, "--patch"], cols=400, env=caller.runtime_env))
    assert patch.wait() == 0, patch.output()
    assert_no_raw_control(patch.buf, "reins diff --patch on a terminal", pty=True)
    assert_shown_escaped(patch.buf, "reins diff --patch on a terminal")

    r = check_output(caller, ["apply", sid], "reins apply")
    # applied as they are
    host_name = name.replace(b"/", b"_")
    with open(os.path.join(os.fsencode(ws), host_name), "rb") as f:
        assert f.read().count(name) == 1


# --------------------------------------------------------------------------
# argv: audit show / tail, reins ps


EXEC_HOSTILE = r"""
import os, sys
arg = bytes.fromhex(sys.argv[1])
if os.fork() == 0:
    os.execv(b"/bin/true", [b"true", arg])
os.wait()
try:
    os.execv(b"/nonexistent/" + arg.replace(b"/", b"_"), [arg])
except OSError:
    pass
"""


def test_argv_escaped_in_audit_and_ps(caller):
    own_runtime(caller)
    ws = caller.workspace()
    caller.write(ws / "exec.py", EXEC_HOSTILE)
    r = run_bytes(caller, ["run", "-w", ws, "--", "python3", "exec.py", HOSTILE_BYTES.hex()],
                  cwd=ws)
    assert r.returncode == 0, r.stderr
    assert_no_raw_control(r.stdout + r.stderr, "reins run (exec)")
    show = check_audit(caller, "argv")
    assert b" exec " in show.stdout

    # reins ps shows a running session's command (here one with the same bytes)
    p = subprocess.Popen(argv_bytes(caller, ["run", "-w", ws, "--", "python3", "-c",
                                             "import time, sys; time.sleep(60)", HOSTILE_BYTES]),
                         cwd=ws, env=env_of(caller), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            r = run_bytes(caller, ["ps"])
            if b"time.sleep" in r.stdout:
                break
            time.sleep(0.1)
        assert_no_raw_control(r.stdout + r.stderr, "reins ps")
        assert_shown_escaped(r.stdout, "reins ps")
    finally:
        p.kill()
        p.communicate(timeout=TIMEOUT)


# --------------------------------------------------------------------------
# hosts the agent names to the proxy: SOCKS5 (any bytes), CONNECT, HTTP

PROXY_HOSTILE = r"""
import socket, struct, sys
host = bytes.fromhex(sys.argv[1])
def talk(data):
    s = socket.create_connection(("127.0.0.1", 3128))
    s.sendall(data)
    try:
        return s.recv(512)
    finally:
        s.close()
s = socket.create_connection(("127.0.0.1", 3128))
s.sendall(b"\x05\x01\x00")
s.recv(2)
s.sendall(b"\x05\x01\x00\x03" + bytes([len(host)]) + host + struct.pack(">H", 443))
print("socks", s.recv(64))
print("connect", talk(b"CONNECT " + host + b":443 HTTP/1.1\r\nHost: " + host + b"\r\n\r\n"))
print("http", talk(b"GET http://ok.example.test/ HTTP/1.1\r\nHost: " + host + b"\r\n\r\n"))
print("tls-ish", talk(b"CONNECT ok.example.test:443 HTTP/1.1\r\nHost: ok.example.test\r\n\r\n"))
"""


def test_proxy_hosts_escaped(caller):
    own_runtime(caller)
    ws = caller.workspace()
    caller.write(ws / "proxy.py", PROXY_HOSTILE)
    host = HOSTILE_BYTES.replace(b"\n", b"")[:200]
    r = run_bytes(caller, ["run", "-v", "--net", "proxy", "-w", ws, "--", "python3", "proxy.py",
                           host.hex()], cwd=ws)
    assert r.returncode == 0, r.stderr
    assert b"socks" in r.stdout and b"connect" in r.stdout, r.stdout
    assert b"net.decision" in r.stderr, r.stderr  # -v: every event is shown
    assert_no_raw_control(r.stderr, "reins run -v (proxy denials)")
    # without -v, each denied destination is one line
    r = run_bytes(caller, ["run", "--net", "proxy", "-w", ws, "--", "python3", "proxy.py",
                           host.hex()], cwd=ws)
    assert r.returncode == 0, r.stderr
    assert_no_raw_control(r.stderr, "reins run (proxy denials)")
    for args in (["audit", "show"], ["audit", "show", "--type", "net"],
                 ["audit", "tail", "-n", "100000"]):
        check_output(caller, args, " ".join(args) + " (proxy denials)", shown=False)
