"""Audit trail (issue 4): real `reins run --audit FILE` sessions, then
`reins audit verify | show | export | tail`, `reins ps` and `reins stop`.

Tampering is done the way an attacker would: by editing the trail file.
Every check asserts both the exit status of its class and that the message
names the right record."""
import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

TIMEOUT = 60

# `reins audit verify` exit statuses (reins audit --help)
INTACT, ALTERED, DELETED, REORDERED, APPENDED, UNSEALED, SIGNATURE = 0, 1, 3, 4, 5, 6, 7


@pytest.fixture
def env(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    # short: a control socket's path must fit sun_path (108 bytes), and
    # parallel workers' tmp_path is longer (.../popen-gw0/...)
    runtime = Path(tempfile.mkdtemp(prefix="rr-", dir="/tmp"))
    os.chmod(runtime, 0o700)
    yield {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "XDG_RUNTIME_DIR": str(runtime),
    }
    shutil.rmtree(runtime, ignore_errors=True)


def reins(reins_bin, env, *args, **kw):
    args = [a if isinstance(a, bytes) else str(a) for a in args]
    return subprocess.run([reins_bin, *args], env=env, capture_output=True,
                          timeout=kw.pop("timeout", TIMEOUT), stdin=subprocess.DEVNULL, **kw)


def session(reins_bin, env, tmp_path, cmd, name="trail.jsonl", opts=()):
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    trail = tmp_path / name
    r = reins(reins_bin, env, "run", "-q", "--audit", trail, *opts, "-w", ws, "--", *cmd, cwd=ws)
    return r, trail


def verify(reins_bin, env, trail, *extra):
    r = reins(reins_bin, env, "audit", "verify", trail, *extra)
    return r.returncode, r.stdout.decode() + r.stderr.decode()


def lines_of(trail):
    data = Path(trail).read_bytes()
    assert data.endswith(b"\n")
    return data[:-1].split(b"\n")


def write_lines(trail, lines):
    Path(trail).write_bytes(b"".join(line + b"\n" for line in lines))


@pytest.fixture
def sealed(reins_bin, env, tmp_path):
    """A finished session's trail: several exec records and a final checkpoint."""
    r, trail = session(reins_bin, env, tmp_path,
                       ["/bin/sh", "-c", "/bin/true; /bin/echo one; /bin/echo two; /bin/true"])
    assert r.returncode == 0, r.stderr
    return trail


def test_untouched_trail_verifies(reins_bin, env, sealed):
    status, out = verify(reins_bin, env, sealed)
    assert status == INTACT, out
    records = [json.loads(line) for line in lines_of(sealed)]
    assert f"intact: {len(records)} records, 1 checkpoint" in out
    types = [r["type"] for r in records]
    assert types[0] == "session.start" and types[-1] == "checkpoint"
    assert "session.end" in types
    execs = [r for r in records if r["type"] == "exec"]
    assert any(r["argv"] == ["/bin/echo", "one"] for r in execs), execs
    for i, r in enumerate(records):
        assert r["seq"] == i
        assert len(r["prev"]) == 64
    assert records[-1]["final"] is True
    assert oct(os.stat(sealed).st_mode & 0o777) == "0o600"


def test_one_byte_changed(reins_bin, env, sealed):
    lines = lines_of(sealed)
    target = next(i for i, l in enumerate(lines) if b'"/bin/echo","one"' in l)
    lines[target] = lines[target].replace(b'"one"', b'"onE"')
    write_lines(sealed, lines)
    status, out = verify(reins_bin, env, sealed)
    assert status == ALTERED, out
    assert f"record {target} altered" in out


def test_record_deleted(reins_bin, env, sealed):
    lines = lines_of(sealed)
    del lines[2]
    write_lines(sealed, lines)
    status, out = verify(reins_bin, env, sealed)
    assert status == DELETED, out
    assert "record 2 deleted" in out


def test_records_swapped(reins_bin, env, sealed):
    lines = lines_of(sealed)
    lines[2], lines[3] = lines[3], lines[2]
    write_lines(sealed, lines)
    status, out = verify(reins_bin, env, sealed)
    assert status == REORDERED, out
    assert "record 2 reordered" in out


def test_record_appended(reins_bin, env, sealed):
    lines = lines_of(sealed)
    forged = json.loads(lines[1])
    forged["seq"] = len(lines)
    write_lines(sealed, lines + [json.dumps(forged, separators=(",", ":")).encode()])
    status, out = verify(reins_bin, env, sealed)
    assert status == APPENDED, out
    assert f"record {len(lines)} appended after the final checkpoint" in out


def test_checkpoint_signature_altered(reins_bin, env, sealed):
    lines = lines_of(sealed)
    checkpoint = json.loads(lines[-1])
    signature = checkpoint["signature"]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    lines[-1] = lines[-1].replace(signature.encode(), flipped.encode())
    write_lines(sealed, lines)
    status, out = verify(reins_bin, env, sealed)
    assert status == SIGNATURE, out
    assert f"record {len(lines) - 1}: checkpoint signature invalid" in out


def test_other_key_is_not_trusted(reins_bin, env, sealed):
    other = "ab" * 32
    status, out = verify(reins_bin, env, sealed, "--key", other)
    assert status == 8, out
    status, out = verify(reins_bin, env, sealed, "--any-key")
    assert status == INTACT, out


def test_kill_9_leaves_a_verifiable_trail(reins_bin, env, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    trail = tmp_path / "killed.jsonl"
    p = subprocess.Popen(
        [reins_bin, "run", "-q", "--audit", str(trail), "-w", str(ws), "--", "/bin/sh", "-c",
         "i=0; while [ $i -lt 40 ]; do /bin/true; i=$((i+1)); done; /bin/sleep 30"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        cwd=ws)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if trail.exists() and trail.read_bytes().count(b'"/bin/sleep"') > 0:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the trail never showed the sleep")
        os.kill(p.pid, signal.SIGKILL)
    finally:
        p.wait(timeout=TIMEOUT)
    count = len(lines_of(trail))
    status, out = verify(reins_bin, env, trail)
    assert status == UNSEALED, out
    assert f"intact up to record {count - 1}" in out
    # a write torn by kill -9: the half line is ignored, the rest still verifies
    with open(trail, "ab") as f:
        f.write(b'{"argv":["/bin/tr')
    status, out = verify(reins_bin, env, trail)
    assert status == UNSEALED, out
    assert f"intact up to record {count - 1}" in out and "torn tail ignored" in out


HOSTILE = [b"line\nbreak", b'q"uote\\back', b"\xff\xfe not utf-8", b"tab\there ]|=", b"x" * 3000]  # long, under the 4 KiB field cap


def test_hostile_argv_faithful_in_every_format(reins_bin, env, tmp_path):
    # long arguments, each under the trail's 4 KiB field cap (longer ones are cut
    # with their length and SHA-256: test_trail_bounds.py)
    big = [bytes([0x41 + i]) * 3000 for i in range(8)]
    r, trail = session(reins_bin, env, tmp_path, [b"/bin/true", *HOSTILE, *big])
    assert r.returncode == 0, r.stderr
    status, out = verify(reins_bin, env, trail)
    assert status == INTACT, out
    records = [json.loads(line) for line in lines_of(trail)]
    execs = [r for r in records if r["type"] == "exec" and r.get("result") == "ok"]
    assert execs, records

    def decode(v):
        return base64.b64decode(v["base64"]) if isinstance(v, dict) else v.encode()

    argv = [decode(a) for a in execs[0]["argv"]]
    assert argv == [b"/bin/true", *HOSTILE, *big]
    for line in Path(trail).read_bytes().split(b"\n"):
        assert all(0x20 <= b < 0x80 for b in line)

    for fmt in ("ocsf", "syslog", "cef"):
        r = reins(reins_bin, env, "audit", "export", "--format", fmt, trail)
        assert r.returncode == 0, r.stderr
        out = r.stdout
        assert out.count(b"\n") == len(records), fmt  # one line per record, none split
        assert all(0x20 <= b < 0x80 for b in out.replace(b"\n", b"")), fmt
        # the shell-quoted argv carries every byte (decoded by bash itself below);
        # as is in syslog's MSG, its backslashes escaped in JSON and in CEF
        words = b"$'\\xff\\xfe not utf-8'"
        assert (words if fmt == "syslog" else words.replace(b"\\", b"\\\\")) in out, fmt
    ocsf = [json.loads(l) for l in reins(reins_bin, env, "audit", "export", "--format", "ocsf",
                                         trail).stdout.splitlines()]
    launch = next(e for e in ocsf if e["class_uid"] == 1007 and e["unmapped"]["argv"][0] == "/bin/true")
    assert launch["type_uid"] == 100701
    script = 'printf "%s\\0" ' + launch["process"]["cmd_line"] + "\n"
    words = subprocess.run(["bash", "-s"], input=script.encode(), capture_output=True,
                           timeout=TIMEOUT).stdout.split(b"\0")[:-1]
    assert words == argv

    show = reins(reins_bin, env, "audit", "show", trail, "--type", "exec")
    assert show.returncode == 0
    assert all(l.count(b" exec ") >= 1 for l in show.stdout.splitlines())
    assert b"\x1b[" not in show.stdout  # no colour on a pipe


def test_show_filters_and_json(reins_bin, env, sealed):
    r = reins(reins_bin, env, "audit", "show", sealed, "--json", "--type", "session")
    assert r.returncode == 0
    types = [json.loads(l)["type"] for l in r.stdout.splitlines()]
    assert types == ["session.start", "session.end"]
    r = reins(reins_bin, env, "audit", "show", sealed, "--since", "2999-01-01")
    assert r.returncode == 0 and r.stdout == b""
    r = reins(reins_bin, env, "audit", "show", sealed, "--since", "1h")
    assert len(r.stdout.splitlines()) == len(lines_of(sealed))


def test_default_trail_dir_and_tail_follow(reins_bin, env, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    follower = subprocess.Popen([reins_bin, "audit", "tail", "-f", "-n", "0"], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        r = reins(reins_bin, env, "run", "-q", "-w", ws, "--", "/bin/echo", "followed", cwd=ws)
        assert r.returncode == 0, r.stderr
        out = b""
        deadline = time.monotonic() + 10
        os.set_blocking(follower.stdout.fileno(), False)
        while b"checkpoint" not in out and time.monotonic() < deadline:
            chunk = follower.stdout.read()
            out += chunk or b""
            time.sleep(0.05)
        assert b"session start" in out and b"followed" in out, out
    finally:
        follower.kill()
        follower.wait()
    trails = list((Path(env["HOME"]) / ".local/state/reins/trails").glob("*.jsonl"))
    assert len(trails) == 1
    status, out = verify(reins_bin, env, trails[0].stem[:8])
    assert status == INTACT, out
    r = reins(reins_bin, env, "audit", "verify")  # the newest
    assert r.returncode == 0, r.stdout


def test_ps_and_stop(reins_bin, env, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    trail = tmp_path / "stopped.jsonl"
    p = subprocess.Popen([reins_bin, "run", "-q", "--audit", str(trail), "-w", str(ws), "--",
                          "/bin/sleep", "60"], env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ws)
    try:
        entry = None
        deadline = time.monotonic() + 10
        while entry is None and time.monotonic() < deadline:
            out = reins(reins_bin, env, "ps", "--json").stdout.splitlines()
            entry = next((json.loads(l) for l in out if json.loads(l)["pid"] == p.pid), None)
            time.sleep(0.05)
        assert entry, "reins ps never listed the session"
        table = reins(reins_bin, env, "ps").stdout.decode()
        assert entry["session"] in table and "sleep 60" in table
        r = reins(reins_bin, env, "stop", entry["session"][:10])
        assert r.returncode == 0, r.stderr
        assert p.wait(timeout=10) != 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert entry["session"] not in reins(reins_bin, env, "ps").stdout.decode()
    status, out = verify(reins_bin, env, trail)
    assert status == INTACT, out
    r = reins(reins_bin, env, "stop", "ffffffffffff")
    assert r.returncode == 1 and b"no running session" in r.stderr


def test_stale_entry_swept_never_shown_gone(reins_bin, env, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    p = subprocess.Popen([reins_bin, "run", "-q", "-w", str(ws), "--", "/bin/sleep", "60"],
                         env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, cwd=ws)
    runtime = Path(env["XDG_RUNTIME_DIR"])
    deadline = time.monotonic() + 60  # a loaded machine (parallel test workers)
    # listed, and its control socket made (a moment after the listing)
    while time.monotonic() < deadline and not (
            b"sleep 60" in reins(reins_bin, env, "ps").stdout and list(runtime.rglob("*.sock"))):
        time.sleep(0.05)
    sockets = list(runtime.rglob("*.sock"))
    assert sockets, "no control socket while the session runs"
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert all(s.exists() for s in sockets)  # nobody removed them yet
    first = reins(reins_bin, env, "ps").stdout.decode()
    # swept before listing: no "(gone)" row, ever
    assert "(gone)" not in first and "sleep 60" not in first, first
    # the dead session's control socket went with its entry
    assert not any(s.exists() for s in sockets), sockets


def test_runtime_dir_must_be_private(reins_bin, env, tmp_path):
    loose = tmp_path / "loose"
    loose.mkdir()
    os.chmod(loose, 0o755)
    r = reins(reins_bin, {**env, "XDG_RUNTIME_DIR": str(loose)}, "ps")
    assert r.returncode != 0
    assert b"mode 0755" in r.stderr and b"refusing" in r.stderr
    if os.geteuid() == 0:
        # someone else's reins/ inside our runtime dir (CVE-2019-12439 class)
        theirs = Path(env["XDG_RUNTIME_DIR"]) / "reins"
        theirs.mkdir(mode=0o700)
        os.chown(theirs, 4242, 4242)
        r = reins(reins_bin, env, "ps")
        assert r.returncode != 0 and b"owned by uid 4242" in r.stderr


def test_group_readable_key_refused(reins_bin, env, sealed):
    key = Path(env["HOME"]) / ".config/reins/audit-ed25519.key"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert oct(key.parent.stat().st_mode & 0o777) == "0o700"
    os.chmod(key, 0o640)
    status, out = verify(reins_bin, env, sealed)
    assert status == 125
    assert "group or others" in out and "chmod 600" in out


def _trail_records(caller, ws, cmd):
    """Run cmd in ws with the trail at a known place; its records as dicts."""
    d = caller.mkdtemp(prefix="reins-trail-")
    trail = os.path.join(d, "trail.jsonl")
    r = caller.sandbox(cmd, ws=ws, opts=["-q", "--audit", trail])
    assert r.returncode == 0, r.stderr
    with open(trail, "rb") as f:
        return [json.loads(line) for line in f.read().splitlines()], trail, d


def test_files_changed_at_session_end(caller):
    """As root and unprivileged: the trail lists what the session created,
    modified and deleted in the workspace, and verifies."""
    ws = caller.workspace()
    caller.write(ws / "keep.txt", "a\n")
    caller.write(ws / "gone.txt", "b\n")
    caller.write(ws / "same.txt", "c\n")
    records, trail, _ = _trail_records(
        caller, ws, ["sh", "-c", "echo more >> keep.txt; rm gone.txt; echo n > new.txt"])
    changed = [r for r in records if r.get("type") == "files.changed"]
    assert len(changed) == 1, records
    c = changed[0]
    assert c["created"] == ["new.txt"], c
    assert c["modified"] == ["keep.txt"], c
    assert c["deleted"] == ["gone.txt"], c
    r = caller.run(["audit", "verify", trail])
    assert r.returncode == 0, r.stdout + r.stderr


def test_exec_events_as_every_user(caller):
    """Every exec inside the sandbox is recorded with its argv, as root and
    unprivileged, and the trail is sealed by a checkpoint."""
    ws = caller.workspace()
    records, _, _ = _trail_records(caller, ws, ["sh", "-c", "/bin/true 'a b' c"])
    execs = [r for r in records if r.get("type") == "exec"]
    assert any(e.get("argv") == ["/bin/true", "a b", "c"] and e.get("result") == "ok"
               for e in execs), execs
    assert records[-1].get("type") == "checkpoint", records[-1]


def test_runs_with_an_inherited_home_of_another_user(caller):
    """`setpriv --reuid=65534` keeps root's HOME: reins must still run (its
    state then goes to a private directory of the caller's own) and never
    write into a home that is not the caller's."""
    ws = caller.workspace()
    before = set(os.listdir("/root")) if os.path.isdir("/root") else set()
    r = caller.sandbox(["sh", "-c", "echo ran"], ws=ws, env={"HOME": "/root", "XDG_STATE_HOME": "",
                                                            "XDG_CONFIG_HOME": ""})
    assert r.returncode == 0, r.stderr
    assert "ran" in r.stdout
    if caller.name != "root":
        assert set(os.listdir("/root")) == before, "reins wrote into another user's home"
    v = caller.run(["audit", "verify"], env={"HOME": "/root", "XDG_STATE_HOME": "",
                                             "XDG_CONFIG_HOME": ""})
    assert v.returncode == 0, v.stdout + v.stderr


def test_kill_9_as_every_user(caller):
    """As root and unprivileged: kill -9 of the supervisor leaves a trail that
    verifies up to its last complete record."""
    ws = caller.workspace()
    d = caller.mkdtemp(prefix="reins-killed-")
    trail = Path(d) / "killed.jsonl"
    p = caller.popen(["run", "-q", "--audit", trail, "-w", ws, "--", "/bin/sh", "-c",
                      "/bin/true; /bin/true; /bin/sleep 30"], cwd=ws)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if trail.exists() and b'"/bin/sleep"' in trail.read_bytes():
                break
            time.sleep(0.05)
        else:
            pytest.fail("the trail never showed the sleep")
        os.kill(p.pid, signal.SIGKILL)
    finally:
        p.wait(timeout=TIMEOUT)
    r = caller.run(["audit", "verify", trail])
    assert r.returncode == UNSEALED, r.stdout + r.stderr
    assert "intact up to record" in r.stdout + r.stderr


def test_files_changed_is_exact_in_new_deep_directories_and_renames(caller):
    """The record is exact whatever the tree does during the session: a file
    made in a directory created during the session (several levels down), a
    file renamed over an existing one (modified, not created), a directory
    renamed (its old entries deleted, its new ones created) — and in a
    second run in the same workspace too (the deny cache made by the first
    must not change what the record sees)."""
    ws = caller.workspace()
    caller.write(ws / "target.txt", "old\n")
    caller.write(ws / "olddir" / "inside.txt", "i\n")
    script = ("mkdir -p new/a/b/c && echo x > new/a/b/c/deep.txt && "
              "echo n > tmp.txt && mv tmp.txt target.txt && mv olddir newdir")
    records, _, _ = _trail_records(caller, ws, ["sh", "-c", script])
    (c,) = [r for r in records if r.get("type") == "files.changed"]
    assert "new/a/b/c/deep.txt" in c["created"], c
    assert {"new", "new/a", "new/a/b", "new/a/b/c", "newdir", "newdir/inside.txt"} <= set(
        c["created"]), c
    assert "target.txt" in c["modified"] and "target.txt" not in c["created"], c
    assert {"olddir", "olddir/inside.txt"} <= set(c["deleted"]), c
    records, _, _ = _trail_records(caller, ws, ["sh", "-c", "echo y > new/a/b/c/d2.txt"])
    (c,) = [r for r in records if r.get("type") == "files.changed"]
    assert c["created"] == ["new/a/b/c/d2.txt"] and c["deleted"] == [], c
