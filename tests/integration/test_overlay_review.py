"""Overlay review after apply (issue 13, item 9): a session's changes are
reviewed three-way (base, host now, agent). A partial apply moves the base of
what it wrote, so a resumed session reports no false conflict; a host edit is
shown as the host's, never as the agent's deletion or reversion; commits made
inside the session are listed as commits and `reins apply --git` lands them
on a branch of the host repository, leaving its working tree alone. As root
and unprivileged (the `caller` fixture)."""
import json
import os
import subprocess

import pytest

from conftest import NOBODY_GID, NOBODY_UID, TIMEOUT
from test_overlay import overlay_run, reins

GIT_ID = ["-c", "user.name=Agent", "-c", "user.email=agent@example.com"]


def diff_doc(caller, sid):
    r = reins(caller, "diff", sid, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def by_path(doc):
    return {c["path"]: c for c in doc["changes"]}


def resume(caller, ws, sid, script):
    r = caller.sandbox(["sh", "-c", script], ws=ws,
                       opts=["--workspace-mode", "overlay", "--resume", sid])
    assert r.returncode == 0, r.stderr


def host_git(caller, ws, *args, check=True):
    # as the caller: git refuses repositories owned by someone else
    return subprocess.run(caller.prefix + ["git", *GIT_ID, "-C", str(ws), *map(str, args)],
                          env=caller.env(), capture_output=True, text=True, check=check,
                          timeout=TIMEOUT)


def test_partial_apply_then_resume_reports_no_false_conflict(caller):
    ws = caller.workspace()
    caller.write(ws / "a.txt", "a\n")
    caller.write(ws / "b.txt", "b\n")
    caller.write(ws / "c.txt", "c\n")
    sid = overlay_run(caller, ws, "echo A1 > a.txt; echo B > b.txt; mv c.txt c2.txt")
    r = reins(caller, "apply", sid, "a.txt", "c.txt")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (ws / "a.txt").read_text() == "A1\n" and not (ws / "c.txt").exists()
    # the agent goes on in the same copy and edits the applied file again
    resume(caller, ws, sid, "echo A2 > a.txt")
    dry = reins(caller, "apply", sid, "--dry-run")
    assert dry.returncode == 0 and "CONFLICT" not in dry.stdout, dry.stdout + dry.stderr
    doc = diff_doc(caller, sid)
    changes = by_path(doc)
    assert changes["a.txt"]["conflict"] is False, changes["a.txt"]
    assert changes["c2.txt"]["conflict"] is False, changes["c2.txt"]  # renamed, not host-deleted
    assert doc["conflicts"] == 0
    r = reins(caller, "apply", sid)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "CONFLICT" not in r.stdout
    assert (ws / "a.txt").read_text() == "A2\n"
    assert (ws / "b.txt").read_text() == "B\n"
    assert (ws / "c2.txt").read_text() == "c\n"


def test_host_edit_after_an_apply_is_the_hosts_not_the_agents(caller):
    ws = caller.workspace()
    caller.write(ws / "a.txt", "a\n")
    caller.write(ws / "b.txt", "b\n")
    sid = overlay_run(caller, ws, "echo agent > a.txt; echo agent > b.txt")
    r = reins(caller, "apply", sid, "a.txt")
    assert r.returncode == 0, r.stdout + r.stderr
    caller.write(ws / "a.txt", "the user's own edit\n")
    dry = reins(caller, "apply", sid, "--dry-run")
    assert dry.returncode == 0 and "a.txt" not in dry.stdout, dry.stdout + dry.stderr
    doc = diff_doc(caller, sid)
    # the copy still holds what was applied: the difference is the host's
    assert "a.txt" not in by_path(doc), doc["changes"]
    r = reins(caller, "diff", sid)
    assert "a.txt" not in r.stdout, r.stdout
    r = reins(caller, "apply", sid)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (ws / "a.txt").read_text() == "the user's own edit\n", "apply reverted a host edit"
    assert (ws / "b.txt").read_text() == "agent\n"


def test_host_edit_during_the_session_is_a_conflict_not_an_agent_deletion(caller):
    ws = caller.workspace()
    caller.write(ws / "d" / "old.txt", "old\n")
    caller.write(ws / "f.txt", "one\ntwo\n")
    caller.write(ws / "g.txt", "g\n")
    sid = overlay_run(caller, ws, "rm -rf d; echo agent >> f.txt; echo agent > g.txt")
    # the user keeps working in the host workspace
    caller.write(ws / "d" / "new.txt", "written by the user\n")
    caller.write(ws / "f.txt", "one\ntwo\nthe user's line\n")
    text = reins(caller, "diff", sid).stdout
    lines = {line.split()[1]: line for line in text.splitlines()
             if line and not line.startswith((" ", "@", "+", "-", "git:"))}
    assert lines["d/new.txt"].startswith("CONFLICT"), lines["d/new.txt"]
    assert lines["f.txt"].startswith("CONFLICT"), lines["f.txt"]
    assert lines["d/old.txt"].startswith("deleted"), lines["d/old.txt"]
    changes = by_path(diff_doc(caller, sid))
    new = changes["d/new.txt"]
    assert new["host_changed"] is True and new["conflict"] is True, new
    assert "host" in new["host"]
    assert changes["f.txt"]["conflict"] is True
    assert changes["g.txt"]["conflict"] is False and changes["g.txt"]["host_changed"] is False
    assert changes["d/old.txt"]["conflict"] is False  # the agent's own deletion
    r = reins(caller, "apply", sid)
    assert r.returncode == 1, r.stdout + r.stderr
    assert (ws / "d" / "new.txt").read_text() == "written by the user\n"
    assert (ws / "f.txt").read_text() == "one\ntwo\nthe user's line\n"


HOSTILE_SUBJECT = "evil\x1b]0;pwned\x07\x1b[2J\rcommit"

AGENT_COMMITS = r"""
set -e
echo two >> f.txt
git {id} commit -qam "$(printf 'evil\033]0;pwned\007\033[2J\rcommit')"
echo new > g.txt
git {id} add g.txt
git {id} commit -qm second
printf '[core]\n\tfsmonitor = "touch /tmp/reins-pwned"\n' >> .git/config
echo untracked > u.txt
"""


def make_repo(caller):
    ws = caller.workspace()
    caller.write(ws / "f.txt", "one\n")
    host_git(caller, ws, "init", "-q", "-b", "main")
    host_git(caller, ws, "add", "-A")
    host_git(caller, ws, "commit", "-qm", "base")
    return ws


def agent_commits(caller, ws):
    return overlay_run(caller, ws, AGENT_COMMITS.replace("{id}", " ".join(GIT_ID)))


def test_commits_made_inside_are_listed_as_commits_escaped(caller):
    ws = make_repo(caller)
    sid = agent_commits(caller, ws)
    doc = diff_doc(caller, sid)
    paths = [c["path"] for c in doc["changes"]]
    # git's own data is not shown as files; its protected config still is
    assert ".git/config" in paths and by_path(doc)[".git/config"]["protected"] is True
    assert not [p for p in paths if p.startswith(".git/") and p != ".git/config"], paths
    assert "f.txt" in paths and "u.txt" in paths
    git = doc["git"]
    assert [c["subject"] for c in git["commits"]] == ["second", HOSTILE_SUBJECT]
    assert all(c["author"] == "Agent <agent@example.com>" for c in git["commits"])
    assert git["head_ref"] == "refs/heads/main" and git["head"] == git["commits"][0]["hash"]
    assert git["internal_changes"] > 0
    text = reins(caller, "diff", sid)
    assert text.returncode == 0, text.stderr
    assert "2 commits made in the session" in text.stdout
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\rcommit" in text.stdout
    assert "\x1b" not in text.stdout and "\r" not in text.stdout and "\x07" not in text.stdout
    assert ".git/objects" not in text.stdout and ".git/index" not in text.stdout


def test_apply_git_lands_the_commits_on_a_branch_and_leaves_the_worktree(caller):
    ws = make_repo(caller)
    head_before = host_git(caller, ws, "rev-parse", "HEAD").stdout
    config_before = (ws / ".git" / "config").read_bytes()
    sid = agent_commits(caller, ws)
    status_before = host_git(caller, ws, "status", "--porcelain").stdout
    files_before = {p: (ws / p).read_bytes() for p in ("f.txt",)}
    # plain apply: the files, never git's data; the session stays open
    r = reins(caller, "apply", sid, "--dry-run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 commits made in the session" in r.stdout and "--git" in r.stdout

    listed = [c["hash"] for c in diff_doc(caller, sid)["git"]["commits"]]
    assert len(listed) == 2
    r = reins(caller, "apply", sid, "--git")
    assert r.returncode == 0, r.stdout + r.stderr
    branch = f"reins/{sid}"
    assert branch in r.stdout
    log = host_git(caller, ws, "log", "--format=%H", branch).stdout.split()
    assert log == listed + [head_before.strip()], (log, listed)
    assert host_git(caller, ws, "log", "-1", "--format=%s", branch).stdout == "second\n"
    assert host_git(caller, ws, "show", f"{branch}:g.txt").stdout == "new\n"
    # the host's working tree, HEAD, index and config are untouched
    assert host_git(caller, ws, "rev-parse", "HEAD").stdout == head_before
    assert host_git(caller, ws, "status", "--porcelain").stdout == status_before
    assert {p: (ws / p).read_bytes() for p in files_before} == files_before
    assert not (ws / "g.txt").exists()
    assert (ws / ".git" / "config").read_bytes() == config_before
    assert host_git(caller, ws, "fsck", "--no-dangling").returncode == 0
    # owned by the repository's owner (root lands as the owner)
    owner = os.stat(ws / ".git").st_uid
    for root, dirs, files in os.walk(ws / ".git"):
        for name in dirs + files:
            assert os.lstat(os.path.join(root, name)).st_uid == owner, os.path.join(root, name)
    # landed: nothing more to land, and diff says the host has them
    r = reins(caller, "apply", sid, "--git")
    assert r.returncode == 0 and "nothing to land" in r.stdout, r.stdout + r.stderr
    assert diff_doc(caller, sid)["git"]["commits"] == []


def test_apply_git_refuses_an_existing_branch(caller):
    ws = make_repo(caller)
    sid = agent_commits(caller, ws)
    host_git(caller, ws, "branch", f"reins/{sid}")
    before = host_git(caller, ws, "rev-parse", f"reins/{sid}").stdout
    r = reins(caller, "apply", sid, "--git")
    assert r.returncode != 0, r.stdout + r.stderr
    assert "exists" in r.stderr
    assert host_git(caller, ws, "rev-parse", f"reins/{sid}").stdout == before


def test_host_edit_after_the_session_shows_the_agents_change_against_its_base(caller):
    ws = caller.workspace()
    caller.write(ws / "f.txt", "one\ntwo\nthree\n")
    caller.write(ws / "t.txt", "same\n")
    # t.txt is copied up and written back unchanged: no change of the agent's
    sid = overlay_run(caller, ws, "sed -i 's/two/TWO/' f.txt; echo more >> t.txt; "
                                  "echo same > t.txt")
    caller.write(ws / "f.txt", "the user's first line\none\ntwo\nthree\n")
    caller.write(ws / "t.txt", "the user's edit\n")
    r = reins(caller, "diff", sid)
    assert r.returncode == 0, r.stderr
    assert "-two\n+TWO" in r.stdout, r.stdout
    # the host's line is not shown as removed by the agent
    assert "-the user's first line" not in r.stdout, r.stdout
    assert "t.txt" not in r.stdout, r.stdout
    changes = by_path(diff_doc(caller, sid))
    assert set(changes) == {"f.txt"}, changes
    f = changes["f.txt"]
    assert f["conflict"] is True and f["base_kept"] is True
    assert f["insertions"] == 1 and f["deletions"] == 1
    r = reins(caller, "apply", sid)
    assert r.returncode == 1 and "CONFLICT" in r.stdout, r.stdout
    assert (ws / "t.txt").read_text() == "the user's edit\n"


def test_root_lands_commits_in_another_users_repository_as_that_user(caller):
    """git writes the fetched objects and the branch as the repository's
    owner: a root apply must not leave root-owned files in a user's .git."""
    if caller.name != "root":
        pytest.skip("only root can review another user's repository")
    ws = make_repo(caller)
    sid = agent_commits(caller, ws)
    # the repository is (now) another user's
    uid, gid = NOBODY_UID, NOBODY_GID
    for root, dirs, files in os.walk(ws):
        for name in [root] + [os.path.join(root, n) for n in dirs + files]:
            os.lchown(name, uid, gid)
    r = reins(caller, "apply", sid, "--git")
    assert r.returncode == 0, r.stdout + r.stderr
    for root, dirs, files in os.walk(ws / ".git"):
        for name in dirs + files:
            st = os.lstat(os.path.join(root, name))
            assert (st.st_uid, st.st_gid) == (uid, gid), os.path.join(root, name)
    as_owner = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                               "git", "-C", str(ws), "log", "--format=%s", "-1", f"reins/{sid}"],
                              capture_output=True, text=True, timeout=TIMEOUT)
    assert as_owner.stdout == "second\n", as_owner.stderr


def test_commits_never_come_from_a_repository_the_agent_points_at(caller):
    """The copy's objects/info/alternates is never honoured: a ref the agent
    points at another repository's commit lists nothing from it, lands
    nothing from it, and hides none of the session's own commits."""
    secret = caller.workspace()
    caller.write(secret / "s.txt", "secret\n")
    host_git(caller, secret, "init", "-q", "-b", "main")
    host_git(caller, secret, "add", "-A")
    host_git(caller, secret, "commit", "-qm", "the secret subject")
    secret_head = host_git(caller, secret, "rev-parse", "HEAD").stdout.strip()
    ws = make_repo(caller)
    script = AGENT_COMMITS.replace("{id}", " ".join(GIT_ID)) + (
        f"mkdir -p .git/objects/info && echo {secret}/.git/objects > .git/objects/info/alternates\n"
        f"echo {secret_head} > .git/refs/heads/leak\n")
    sid = overlay_run(caller, ws, script)
    doc = diff_doc(caller, sid)
    subjects = [c["subject"] for c in doc["git"]["commits"]]
    assert subjects == ["second", HOSTILE_SUBJECT], doc["git"]
    assert "error" not in doc["git"]
    r = reins(caller, "apply", sid, "--git")
    assert r.returncode == 0, r.stdout + r.stderr
    assert host_git(caller, ws, "cat-file", "-e", secret_head, check=False).returncode != 0
    assert host_git(caller, ws, "fsck", "--no-dangling").returncode == 0


def test_resume_bases_new_changes_on_what_the_host_has_then(caller):
    """Between two runs of a session the user edits files. A file the agent
    first touches in the resumed run was seen by it as the user left it: no
    conflict. What the first run changed keeps its base, so a host edit to
    it, or a file the host added below a directory the agent removed, is
    still a conflict."""
    ws = caller.workspace()
    caller.write(ws / "f.txt", "f\n")
    caller.write(ws / "g.txt", "g\n")
    caller.write(ws / "d" / "old.txt", "old\n")
    sid = overlay_run(caller, ws, "echo agent >> f.txt; rm -rf d")
    caller.write(ws / "f.txt", "f\nthe user's line\n")
    caller.write(ws / "g.txt", "g\nthe user's line\n")
    caller.write(ws / "d" / "new.txt", "the user's file\n")
    resume(caller, ws, sid, "echo agent >> g.txt")
    dry = reins(caller, "apply", sid, "g.txt", "--dry-run")
    assert dry.returncode == 0 and "CONFLICT" not in dry.stdout, dry.stdout + dry.stderr
    changes = by_path(diff_doc(caller, sid))
    assert changes["g.txt"]["conflict"] is False, changes["g.txt"]
    assert changes["g.txt"]["insertions"] == 1 and changes["g.txt"]["deletions"] == 0
    assert changes["f.txt"]["conflict"] is True
    assert changes["d/new.txt"]["conflict"] is True
    r = reins(caller, "apply", sid, "g.txt")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (ws / "g.txt").read_text() == "g\nthe user's line\nagent\n"
