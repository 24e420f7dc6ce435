"""Protected paths in a direct workspace (issue 12): git still commits,
branches, rebases and packs refs inside; the host's repository holds the
result and `git status` is clean; a supervisor killed mid-session leaves the
host's repository as it was (consistent); protected writes are recorded.
As root and unprivileged (the escape probes are tests/escape/test_protect.py)."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

GIT_ID = ["-c", "user.name=reins-test", "-c", "user.email=test@reins.invalid",
          "-c", "safe.directory=*", "-c", "init.defaultBranch=main",
          "-c", "maintenance.auto=false", "-c", "gc.auto=0"]
GIT_INSIDE = "git " + " ".join(a.replace("*", "'*'") for a in GIT_ID)


def host_git(caller, ws, *args, check=True):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(caller.home), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_CONFIG_GLOBAL": "/dev/null"}
    return subprocess.run([*caller.prefix, "git", *GIT_ID, *args], cwd=ws, env=env,
                          capture_output=True, text=True, check=check, timeout=60)


def make_repo(caller):
    ws = caller.workspace()
    caller.write(ws / "README", "hello\n")
    host_git(caller, ws, "init", "-q", ".")
    host_git(caller, ws, "add", "-A")
    host_git(caller, ws, "commit", "-qm", "init")
    return ws


def state_gitdirs(caller):
    state = Path(caller.home) / ".local" / "state" / "reins" / "workspaces"
    return sorted(state.glob("*.git")) if state.exists() else []


def test_git_works_inside_and_lands_on_the_host(caller):
    ws = make_repo(caller)
    script = (
        f"set -e; g=\"{GIT_INSIDE}\"; "
        "$g checkout -q -b topic; echo a > a.txt; $g add a.txt; $g commit -qm topic1; "
        "$g checkout -q main; echo b > b.txt; $g add b.txt; $g commit -qm main2; "
        "$g checkout -q topic; $g rebase -q main; $g branch -q spare; $g branch -q -D spare; "
        "$g pack-refs --all; $g tag v1; $g stash list; $g log --oneline | cat")
    r = caller.sandbox(["sh", "-c", script], ws=ws)
    assert r.returncode == 0, r.stderr
    assert host_git(caller, ws, "status", "--porcelain").stdout == ""
    assert host_git(caller, ws, "rev-parse", "--abbrev-ref", "HEAD").stdout.strip() == "topic"
    log = host_git(caller, ws, "log", "--format=%s", "topic").stdout.split()
    assert log == ["topic1", "main2", "init"], log
    assert host_git(caller, ws, "rev-parse", "-q", "--verify", "v1").returncode == 0
    assert "spare" not in host_git(caller, ws, "branch").stdout
    assert host_git(caller, ws, "fsck", "--no-dangling", check=False).returncode == 0
    # nothing left behind: the private layer, the placeholders
    assert state_gitdirs(caller) == []
    for d in (".claude", ".codex", ".cursor", ".gemini", ".vscode", ".reins"):
        assert not (ws / d).exists(), d
    # `git branch -D` rewrites .git/config with the same bytes: refused
    # (EROFS, said once), and no finding, so no tier change
    said = [line for line in r.stderr.splitlines() if "protected" in line]
    assert said == ["reins: .git/config is protected: read-only in the sandbox "
                    "(filesystem.protect; see reins policy show)"], r.stderr
    assert "risk tier" not in r.stderr, r.stderr


def test_protected_writes_are_recorded(caller):
    ws = make_repo(caller)
    events = caller.mkdtemp(prefix="reins-ev-") / "events.jsonl"
    caller.own(events.parent)
    # python writes the files: no shell redirect the exec rules could read
    script = ("import os\n"
              "open('.git/commondir','w').write('../x\\n')\n"
              "open('.git/config.worktree','w').write('[core]\\n')\n")
    r = caller.sandbox(["python3", "-c", script], ws=ws, opts=["--events", events])
    assert r.returncode == 0, r.stderr
    assert ".git/commondir" in r.stderr and "kept out" in r.stderr, r.stderr
    ev = [json.loads(line) for line in events.read_text().splitlines()]
    kept = sorted(e["path"] for e in ev if e.get("type") == "file.protected_write")
    assert kept == [".git/commondir", ".git/config.worktree"], kept
    rules = {e.get("rule") for e in ev if e.get("type") == "risk.finding"}
    assert "persistence-write" in rules, rules
    assert not (ws / ".git" / "commondir").exists()
    assert host_git(caller, ws, "status", "--porcelain").stdout == ""


def test_killed_supervisor_leaves_the_repository_consistent(caller):
    ws = make_repo(caller)
    head = host_git(caller, ws, "rev-parse", "HEAD").stdout.strip()
    script = (f"set -e; g=\"{GIT_INSIDE}\"; echo c > c.txt; $g add c.txt; $g commit -qm inside; "
              "$g pack-refs --all; touch committed; sleep 600")
    p = caller.popen(["run", "-w", ws, "--", "sh", "-c", script], cwd=ws)
    try:
        deadline = time.time() + 60
        while not (ws / "committed").exists() and time.time() < deadline:
            time.sleep(0.05)
        assert (ws / "committed").exists(), p.stderr.read() if p.poll() is not None else ""
        os.kill(p.pid, signal.SIGKILL)  # with setpriv in front: kills setpriv's exec'd reins
    finally:
        p.wait(timeout=30)
    # the host's .git is as it was: HEAD, refs and index untouched, objects extra
    assert host_git(caller, ws, "rev-parse", "HEAD").stdout.strip() == head
    assert host_git(caller, ws, "fsck", "--no-dangling", check=False).returncode == 0
    status = host_git(caller, ws, "status", "--porcelain").stdout.split("\n")
    assert "?? c.txt" in status, status  # the worktree file is the host's own (direct mode)


# --------------------------------------------------------------------------
# placeholders: missing protected directories (.claude, .vscode …)

PLACEHOLDERS = (".claude", ".codex", ".cursor", ".gemini", ".reins", ".vscode")


def spares(caller):
    d = Path(caller.home) / ".local" / "state" / "reins" / "spare-dirs"
    return sorted(x.name for x in d.iterdir()) if d.exists() else []


def test_placeholders_come_from_spares_and_go_back(caller):
    """A placeholder is renamed in from reins' spare directories and back:
    nothing is made or removed per run (on ext4 with `discard` a removed
    directory waits for the device)."""
    ws = caller.workspace()
    listing = "for d in .claude .codex .cursor .gemini .reins .vscode; do test -d $d; done; " \
              "touch .claude/x 2>/dev/null && echo WROTE; echo ok"
    rounds = []
    for _ in range(3):
        r = caller.sandbox(["sh", "-c", listing], ws=ws)
        assert r.returncode == 0 and r.stdout.strip() == "ok", (r.stdout, r.stderr)
        assert sorted(os.listdir(ws)) == [], os.listdir(ws)
        rounds.append(spares(caller))
    # the same spares, used again: none made, none piled up
    assert len(rounds[0]) >= len(PLACEHOLDERS), rounds[0]
    assert len(rounds[1]) == len(rounds[0]) and len(rounds[2]) == len(rounds[0]), rounds


def test_a_placeholder_the_host_wrote_into_stays(caller):
    ws = caller.workspace()
    p = caller.popen(["run", "-w", ws, "--", "sh", "-c", "touch started; sleep 600"], cwd=ws)
    try:
        deadline = time.time() + 60
        while not (ws / "started").exists() and time.time() < deadline:
            time.sleep(0.05)
        assert (ws / ".vscode").is_dir(), os.listdir(ws)
        # the host (not the sandbox: read-only there) writes into one
        caller.write(ws / ".vscode" / "notes.txt", "mine\n")
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert (ws / ".vscode" / "notes.txt").read_text() == "mine\n"
    assert sorted(os.listdir(ws)) == [".vscode", "started"], os.listdir(ws)
    assert all(not (Path(caller.home) / ".local/state/reins/spare-dirs" / s / "notes.txt").exists()
               for s in spares(caller))


def test_placeholders_on_another_filesystem_are_made_and_removed(caller):
    import pytest
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs for the workspace needs root")
    ws = caller.workspace()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(ws)],
                   check=True, timeout=30)
    try:
        caller.own(ws)
        assert os.stat(ws).st_dev != os.stat(caller.home).st_dev
        before = spares(caller)
        r = caller.sandbox(["sh", "-c", "test -d .claude && echo ok"], ws=ws)
        assert r.returncode == 0 and r.stdout.strip() == "ok", (r.stdout, r.stderr)
        assert sorted(os.listdir(ws)) == [], os.listdir(ws)
        assert spares(caller) == before
    finally:
        subprocess.run(["umount", "-l", str(ws)], check=False, timeout=30)
