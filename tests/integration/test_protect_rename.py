"""Writing a protected path fails clearly (issue 13 item 10): a rename onto a
protected file (git's config.lock -> config, an editor's or agent's
write-temp-then-rename) answers EROFS, "Read-only file system", instead of the
mount point's EBUSY; reins says once per path that it is protected, and the
trail records the attempt. Renames onto anything else still work. Direct
mode, as root and unprivileged (the escape probes are tests/escape/test_protect.py)."""
import json
import subprocess

GIT_ID = ["-c", "user.name=reins-test", "-c", "user.email=test@reins.invalid",
          "-c", "safe.directory=*", "-c", "init.defaultBranch=main"]
GIT_INSIDE = "git " + " ".join(a.replace("*", "'*'") for a in GIT_ID)
NOTE = ("reins: {} is protected: read-only in the sandbox "
        "(filesystem.protect; see reins policy show)")


def host_git(caller, ws, *args):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(caller.home), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_CONFIG_GLOBAL": "/dev/null"}
    return subprocess.run([*caller.prefix, "git", *GIT_ID, *args], cwd=ws, env=env,
                          capture_output=True, text=True, check=True, timeout=60)


def make_repo(caller):
    ws = caller.workspace()
    caller.write(ws / "README", "hello\n")
    host_git(caller, ws, "init", "-q", ".")
    host_git(caller, ws, "add", "-A")
    host_git(caller, ws, "commit", "-qm", "init")
    return ws


def events_file(caller):
    d = caller.mkdtemp(prefix="reins-ev-")
    return d / "events.jsonl"


def read_events(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def notes(stderr):
    return [line for line in stderr.splitlines() if "is protected: read-only" in line]


# python's os.rename: renameat(2) with AT_FDCWD or with directory fds, and
# errno printed by name so the test reads the answer, not a message
RENAME = """
import errno, os, sys
def attempt(src, dst, **kw):
    try:
        os.rename(src, dst, **kw)
        print("ok", dst)
    except OSError as e:
        print(errno.errorcode[e.errno], dst)
"""


def test_git_config_fails_read_only_and_is_noted_once(caller):
    ws = make_repo(caller)
    before = (ws / ".git" / "config").read_bytes()
    events = events_file(caller)
    script = f"{GIT_INSIDE} config foo.bar 1; {GIT_INSIDE} config foo.baz 2; true"
    r = caller.sandbox(["sh", "-c", script], ws=ws, opts=["--events", events])
    assert r.returncode == 0, r.stderr
    assert "Read-only file system" in r.stderr, r.stderr
    assert "Device or resource busy" not in r.stderr, r.stderr
    assert notes(r.stderr) == [NOTE.format(".git/config")], r.stderr
    assert (ws / ".git" / "config").read_bytes() == before
    ev = read_events(events)
    refused = [e for e in ev
               if e.get("type") == "file.protected_write" and e.get("action") == "refused"]
    assert [(e["path"], e["result"]) for e in refused] == [(".git/config", "EROFS")], refused
    summary = [e for e in ev if e.get("type") == "file.protected_refused"]
    assert [(s["refused"], s["not_recorded"]) for s in summary] == [
        ([{"path": ".git/config", "count": 2}], 1)], summary
    # an attempt to change a protected path is a persistence-write finding
    findings = [e["detail"] for e in ev if e.get("type") == "risk.finding"]
    assert "refused .git/config" in findings, findings


def test_a_same_bytes_rewrite_is_refused_without_a_finding(caller):
    """git rewrites .git/config whole to delete a branch, section or not: the
    rename is refused like any other, recorded, and scores nothing."""
    ws = make_repo(caller)
    host_git(caller, ws, "branch", "spare")
    events = events_file(caller)
    r = caller.sandbox(["sh", "-c", f"{GIT_INSIDE} branch -D spare"], ws=ws,
                       opts=["--events", events])
    assert r.returncode == 0, r.stderr
    assert "Read-only file system" in r.stderr, r.stderr
    assert notes(r.stderr) == [NOTE.format(".git/config")], r.stderr
    ev = read_events(events)
    same = [e for e in ev if e.get("type") == "file.protected_refused" and not e.get("summary")]
    assert [(e["path"], e["unchanged"]) for e in same] == [(".git/config", True)], same
    assert not [e for e in ev if e.get("type") == "file.protected_write"], ev
    assert not [e for e in ev if e.get("type") in ("risk.finding", "risk.tier")], ev
    assert "risk tier" not in r.stderr, r.stderr


def test_quiet_keeps_the_error_and_drops_the_note(caller):
    ws = make_repo(caller)
    r = caller.sandbox(["sh", "-c", f"{GIT_INSIDE} config foo.bar 1"], ws=ws, opts=["-q"])
    assert r.returncode != 0
    assert "Read-only file system" in r.stderr, r.stderr
    assert notes(r.stderr) == [], r.stderr


def test_rename_onto_claude_settings_is_read_only(caller):
    ws = make_repo(caller)
    # both settings files exist: .claude itself stays writable (only pinned),
    # so a temporary file can be written beside them
    caller.write(ws / ".claude" / "settings.json", '{"permissions": {}}\n')
    caller.write(ws / ".claude" / "settings.local.json", "{}\n")
    caller.write(ws / "sub" / "keep", "")
    before = (ws / ".claude" / "settings.json").read_bytes()
    script = RENAME + """
open('.claude/new.json', 'w').write('{"hooks": "x"}')
attempt('.claude/new.json', '.claude/settings.json')
attempt('.claude/new.json', os.path.abspath('.claude/settings.json'))
os.symlink('.claude', 'cl')
attempt('.claude/new.json', 'cl/settings.json')
os.chdir('sub')
attempt('../.claude/new.json', '../.claude/settings.json')
d = os.open('..', os.O_RDONLY | os.O_DIRECTORY)
attempt('.claude/new.json', '.claude/settings.json', src_dir_fd=d, dst_dir_fd=d)
attempt('../.claude/settings.json', '../moved.json')
os.chdir('..')
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
for flags, label in ((0, 'renameat2'), (2, 'exchange')):  # 2: RENAME_EXCHANGE
    r = libc.renameat2(-100, b'.claude/new.json', -100, b'.claude/settings.json', flags)
    print(label, 'ok' if r == 0 else errno.errorcode[ctypes.get_errno()])
"""
    r = caller.sandbox(["python3", "-c", script], ws=ws)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:-1] == [
        "EROFS .claude/settings.json",
        "EROFS " + str(ws / ".claude" / "settings.json"),
        "EROFS cl/settings.json",
        "EROFS ../.claude/settings.json",
        "EROFS .claude/settings.json",
        "EROFS ../moved.json",  # the protected file as the source: EROFS too
        "renameat2 EROFS",
        "exchange EROFS",
    ], r.stdout + r.stderr
    assert notes(r.stderr) == [NOTE.format(".claude/settings.json")], r.stderr
    assert (ws / ".claude" / "settings.json").read_bytes() == before
    assert not (ws / "moved.json").exists()


def test_renames_onto_other_files_still_work(caller):
    ws = make_repo(caller)
    caller.write(ws / "a.txt", "old\n")
    caller.write(ws / "sub" / "config", "old\n")  # named like a protected file
    caller.write(ws / "sub" / "settings.json", "old\n")
    script = RENAME + """
for dst in ('a.txt', 'sub/config', 'sub/settings.json'):
    open(dst + '.tmp', 'w').write('new\\n')
    attempt(dst + '.tmp', dst)
d = os.open('sub', os.O_RDONLY | os.O_DIRECTORY)
open('sub/b.tmp', 'w').write('new\\n')
attempt('b.tmp', 'b.txt', src_dir_fd=d, dst_dir_fd=d)
"""
    git = f"{GIT_INSIDE} add -A && {GIT_INSIDE} commit -qm inside"
    r = caller.sandbox(["sh", "-c", f"python3 -c \"$0\" && {git}", script], ws=ws)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:-1] == ["ok a.txt", "ok sub/config", "ok sub/settings.json",
                                         "ok b.txt"], r.stdout + r.stderr
    for f in ("a.txt", "sub/config", "sub/settings.json", "sub/b.txt"):
        assert (ws / f).read_text() == "new\n", f
    # git's own renames (index.lock, HEAD, refs) landed
    assert host_git(caller, ws, "log", "--format=%s").stdout.split("\n")[0] == "inside"
    assert notes(r.stderr) == [], r.stderr


def test_an_agent_chosen_protected_name_is_escaped(caller):
    ws = make_repo(caller)
    name = "evil\x1b[31m.cfg"
    caller.write(ws / name, "x\n")
    pol = caller.write(ws.parent / (ws.name + "-policy.yaml"),
                       "version: 1\nextends: default\nfilesystem:\n  protect: [\"evil*.cfg\"]\n")
    script = RENAME + f"""
open('n.tmp', 'w').write('y')
attempt('n.tmp', {name!r})
"""
    r = caller.sandbox(["python3", "-c", script], ws=ws, opts=["-p", pol])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("EROFS "), r.stdout + r.stderr
    assert "\x1b" not in r.stderr, repr(r.stderr)
    assert notes(r.stderr) == [NOTE.format("evil\\x1b[31m.cfg")], repr(r.stderr)
