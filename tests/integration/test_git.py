"""git inside the sandbox (issue 13 items 2 and 10).

Identity: commits made inside carry the caller's user.name and user.email,
taken from the caller's git config; nothing else of that file (credential
helpers, tokens) reaches the sandbox.

Hidden files never corrupt git.

A file that filesystem.deny hides inside the workspace is a "stat twin":
same type, size and mtime, no readable content. git inside sees it
unchanged, commits made inside never record a stand-in, the host
repository is untouched, and the content never reaches the sandbox."""
import os
import subprocess

import pytest

SECRET = "-----BEGIN PRIVATE KEY----- reins-hidden-cert"

GIT_ID = ["-c", "user.name=Agent", "-c", "user.email=agent@example.test"]


def host_git(caller, ws, *args):
    r = subprocess.run(caller.prefix + ["git", "-C", str(ws), *GIT_ID, *args],
                       capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin", "HOME": str(caller.home)})
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture
def repo(caller):
    if subprocess.run(["sh", "-c", "command -v git"], capture_output=True).returncode != 0:
        pytest.fail("git is not installed (scripts/deps.sh installs it)")
    ws = caller.workspace()
    caller.write(ws / "certs" / "dev.pem", SECRET + "\n")
    caller.write(ws / "src" / "main.c", "int main(void) { return 0; }\n")
    # files older than the index, as in any repository worked in for a while:
    # an entry written in the same second as its file is "racily clean" and
    # git re-reads it, which a hidden file refuses (README: not protected)
    old = os.stat(ws).st_mtime - 3600
    for p in (ws / "certs" / "dev.pem", ws / "src" / "main.c"):
        os.utime(p, (old, old))
    host_git(caller, ws, "init", "-q")
    host_git(caller, ws, "add", "-A")
    host_git(caller, ws, "commit", "-qm", "initial")
    caller.write(ws / ".env", "API_KEY=reins-hidden-env\n")  # untracked, not ignored
    return ws


def inside(caller, ws, script):
    return caller.sandbox(["sh", "-c", script], ws=ws, opts=["-p", "default"])


def test_git_status_inside_equals_outside_for_a_hidden_tracked_file(caller, repo):
    before = host_git(caller, repo, "status", "--porcelain", "--untracked-files=no")
    r = inside(caller, repo, "git status --porcelain --untracked-files=no; echo END; "
                             "cat certs/dev.pem; echo rc=$?")
    assert r.returncode == 0, r.stderr
    status, _, rest = r.stdout.partition("END\n")
    assert status == before == "", status
    assert SECRET not in r.stdout
    assert "rc=1" in rest and "Permission denied" in r.stderr


def test_commits_inside_never_record_a_stand_in(caller, repo):
    r = inside(caller, repo, "echo change >> src/main.c && git add -A && "
                             f"git {' '.join(GIT_ID)} commit -qam 'agent work' && echo OK")
    assert r.returncode == 0 and "OK" in r.stdout, r.stderr
    shown = host_git(caller, repo, "show", "HEAD:certs/dev.pem")
    assert shown == SECRET + "\n"
    tree = host_git(caller, repo, "ls-tree", "-r", "HEAD")
    assert "120000" not in tree  # no symlink entered history
    assert ".env" not in host_git(caller, repo, "show", "--stat", "--format=", "HEAD")
    # the host sees its files as they were: only the untracked .env is listed
    assert host_git(caller, repo, "status", "--porcelain") == "?? .env\n"


def test_hidden_files_stay_unreadable_and_host_status_is_unchanged(caller, repo):
    before = host_git(caller, repo, "status", "--porcelain")
    r = inside(caller, repo, "git status >/dev/null; stat -c '%s %Y' certs/dev.pem; "
                             "cat .env certs/dev.pem 2>&1; head -c 10 certs/dev.pem 2>&1; true")
    assert "reins-hidden" not in r.stdout
    st = os.stat(repo / "certs" / "dev.pem")
    assert f"{st.st_size} {int(st.st_mtime)}" in r.stdout, r.stdout
    assert host_git(caller, repo, "status", "--porcelain") == before


def test_a_hidden_tracked_file_is_noted_once(caller, repo):
    r = inside(caller, repo, "true")
    assert r.returncode == 0, r.stderr
    notes = [l for l in r.stderr.splitlines() if "tracked by git" in l]
    assert len(notes) == 1 and "certs/dev.pem" in notes[0], r.stderr
    host_git(caller, repo, "update-index", "--index-version", "4")
    r = inside(caller, repo, "true")
    assert "certs/dev.pem is hidden by filesystem.deny but tracked by git" in r.stderr
    r = caller.sandbox(["true"], ws=repo, opts=["-p", "default", "-q"])
    assert "tracked by git" not in r.stderr


def test_commits_inside_carry_the_callers_identity_and_no_credentials(caller, repo):
    caller.write(caller.home / ".gitconfig",
                 '[user]\n\tname = "Ada \\"Q\\" Lovelace" # comment\n\temail = ada@example.test\n'
                 '[credential]\n\thelper = store\n'
                 '[url "https://x-token:reins-git-token@github.example"]\n'
                 '\tinsteadOf = https://github.example\n')
    r = inside(caller, repo, "echo more >> src/main.c && git commit -qam work && "
                             "git log -1 --format='%an|%ae|%cn'; git config --list --show-origin")
    assert r.returncode == 0, r.stderr
    assert 'Ada "Q" Lovelace|ada@example.test|Ada "Q" Lovelace' in r.stdout
    assert "reins-git-token" not in r.stdout and "helper=store" not in r.stdout
    # a repository's own identity wins over the caller's
    host_git(caller, repo, "config", "user.name", "Repo Bot")
    r = inside(caller, repo, "git config user.name")
    assert r.stdout.strip() == "Repo Bot"
