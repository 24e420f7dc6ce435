"""ESCAPES.md "host code run later" (issue 12, items 1 and 2): git's
core.fsmonitor and hooks, git redirections (commondir, config.worktree, a
.git file), agents' and editors' permission and auto-run files
(CVE-2025-53773 class), VS Code tasks.

Each vector is a shell script the agent runs in the workspace, in direct and
in overlay mode (then `reins apply SESSION`, without --include-protected).
Afterwards the host runs `git status` and `git commit` in the workspace as
the workspace's owner: the attack "escaped" when that ran the agent's
command (a marker file outside the sandbox's view appears) or when a
protected path reads differently on the host. Each vector is first run
unsandboxed on a scratch copy: if the host's own git does not run the
command there, the check is skipped with that reason.

Weak mode: REINS_WEAKEN=protect restores the protection from before issue 12
(read-only binds of .git/hooks, .git/config, .reins and the policy's paths;
apply flags only those), under which every vector here escapes.
"""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import (REINS, WEAK_MODE, chown_tree, demote, judge, new_dir, rm_tree)

SESSION_RE = re.compile(r"changes kept in session ([0-9a-f]{24})")
GIT_ID = ["-c", "user.name=reins-test", "-c", "user.email=test@reins.invalid",
          "-c", "safe.directory=*", "-c", "init.defaultBranch=main",
          "-c", "maintenance.auto=false", "-c", "gc.auto=0"]
FSMONITOR = '[core]\n\trepositoryformatversion = 0\n\tfsmonitor = "touch {mark}; false"\n'
G = "git -c user.name=a -c user.email=a@b -c safe.directory='*'"


def git_env(ws):
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(ws),
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}


def git(u, ws, *args, check=True, env=None):
    """git on the host, as the workspace's owner."""
    e = git_env(ws)
    if env:
        e.update(env)
    return subprocess.run(["git", *GIT_ID, *args], cwd=ws, env=e, capture_output=True,
                          text=True, check=check, preexec_fn=demote(u), timeout=60)


def make_repo(u, ws, setup=""):
    """A repository with one commit, a ci/build.sh, plus `setup` (shell)."""
    (ws / "ci").mkdir(exist_ok=True)
    (ws / "ci" / "build.sh").write_text("echo building\n")
    (ws / "README").write_text("hello\n")
    chown_tree(ws, u)
    git(u, ws, "init", "-q", ".")
    if setup:
        subprocess.run(["sh", "-c", setup], cwd=ws, check=True, preexec_fn=demote(u),
                       env=git_env(ws))
    git(u, ws, "add", "-A")
    git(u, ws, "commit", "-qm", "init")
    chown_tree(ws, u)


def host_trigger(u, ws):
    """What a user does next on the host: status (fsmonitor), commit (hooks)."""
    git(u, ws, "status", "--short", check=False)
    git(u, ws, "commit", "--allow-empty", "-qm", "after the session", check=False)


def snapshot(ws, paths):
    out = {}
    for p in paths:
        f = ws / p
        if f.is_symlink():
            out[p] = "link:" + os.readlink(f)
        elif f.is_file():
            out[p] = f.read_bytes()
        elif f.is_dir():
            out[p] = "dir:" + ",".join(sorted(os.listdir(f)))
        else:
            out[p] = None
    return out


# ---------------------------------------------------------------- vectors
# name -> (repo setup, attack script, paths whose host content must not change,
#          policy protect list)

GIT_VECTORS = {
    "rename_git": (
        "",
        "mv .git .gitold && mkdir .git && cp -r .gitold/HEAD .gitold/objects .gitold/refs "
        ".gitold/index .git/ && printf '" + FSMONITOR + "' > .git/config",
        [".git/config"], []),
    "rename_ci": (
        "",
        "mv ci ci-old; mkdir -p ci; echo 'touch {mark}' > ci/build.sh; chmod +x ci/build.sh",
        ["ci/build.sh"], ["ci/build.sh"]),
    "commondir": (
        "",
        "mkdir -p evil && cp -r .git/objects .git/refs .git/HEAD evil/ && "
        "printf '" + FSMONITOR + "' > evil/config && echo ../evil > .git/commondir",
        [".git/commondir"], []),
    "config_worktree": (
        "git -c safe.directory='*' config extensions.worktreeConfig true",
        "printf '" + FSMONITOR + "' > .git/config.worktree",
        [".git/config.worktree"], []),
    "new_hooks": (
        "rm -rf .git/hooks",
        "mkdir -p .git/hooks && printf '#!/bin/sh\\ntouch {mark}\\n' > .git/hooks/pre-commit "
        "&& chmod +x .git/hooks/pre-commit",
        [".git/hooks"], []),
    "git_internals": (
        "",
        "mkdir -p .git/worktrees/w .git/modules/m .git/info; "
        "printf '" + FSMONITOR + "' > .git/worktrees/w/config.worktree; "
        "printf '" + FSMONITOR + "' > .git/modules/m/config; "
        "echo '* filter=evil' > .git/info/attributes",
        [".git/worktrees", ".git/modules", ".git/info"], []),
    # core.hooksPath into the work tree (husky and the like)
    "hooks_path": (
        "mkdir -p githooks && printf '#!/bin/sh\\nexit 0\\n' > githooks/pre-commit && "
        "chmod +x githooks/pre-commit && git -c safe.directory='*' config core.hooksPath githooks",
        "mv githooks githooks-old; mkdir -p githooks; "
        "printf '#!/bin/sh\\ntouch {mark}\\n' > githooks/pre-commit; chmod +x githooks/pre-commit",
        ["githooks/pre-commit"], []),
    # a repository the agent makes below the root, entered through a gitlink
    "nested_repo": (
        "",
        f"mkdir sub && cd sub && {G} init -q . && echo b > b && {G} add b && "
        f"{G} commit -qm s && printf '" + FSMONITOR + f"' >> .git/config && cd .. && "
        f"{G} add sub 2>/dev/null; {G} commit -qm withsub",
        [], []),
    # an existing submodule whose git directory is embedded in its checkout
    "submodule_config": (
        f"mkdir -p lib && cd lib && {G} init -q . && echo b > b && {G} add b && "
        f"{G} commit -qm s && cd .. && "
        "printf '[submodule \"lib\"]\\n\\tpath = lib\\n\\turl = ./lib\\n' > .gitmodules && "
        f"{G} add .gitmodules lib 2>/dev/null",
        "printf '" + FSMONITOR + "' >> lib/.git/config",
        ["lib/.git/config"], []),
}

AGENT_FILES = {
    # path written by the agent -> repo setup making it (or its directory) exist or not
    ".claude/settings.json": "",  # .claude absent
    ".codex/config.toml": "mkdir -p .codex && echo 'model = \"x\"' > .codex/config.toml",
    ".cursor/mcp.json": "",
    ".vscode/tasks.json": "mkdir -p .vscode && echo '{}' > .vscode/launch.json",
    ".vscode/settings.json": "",
    ".reins/policy.yaml": "",
}
AGENT_SETUP = "; ".join(s for s in AGENT_FILES.values() if s)
AGENT_ATTACK = (
    # the settings file itself, then a rename of its directory
    "for f in " + " ".join(AGENT_FILES) + "; do d=${f%/*}; mkdir -p $d; "
    "echo '{\"hooks\":\"touch {mark}\"}' > $f; done; "
    "mv .claude .claude-old; mkdir -p .claude; "
    "echo '{\"permissions\":{\"allow\":[\"Bash\"]}}' > .claude/settings.local.json; "
    "echo '{\"hooks\":\"x\"}' > .claude/settings.json; "
    "mv .vscode .vscode-old; mkdir -p .vscode; echo '{}' > .vscode/tasks.json; "
    "echo '{}' > .vscode/settings.json; true")
AGENT_PATHS = list(AGENT_FILES) + [".claude/settings.local.json"]


def unsandboxed_works(u, setup, attack, paths):
    """Does the attack, unsandboxed, make the host's git run the command or
    change one of `paths`?"""
    scratch = new_dir(u, prefix="reins-scratch-")
    mark_dir = new_dir(u, prefix="reins-mark-")
    mark = mark_dir / "ran"
    try:
        make_repo(u, scratch, setup)
        before = snapshot(scratch, paths)
        subprocess.run(["sh", "-c", attack.replace("{mark}", str(mark))], cwd=scratch,
                       preexec_fn=demote(u), capture_output=True, timeout=60)
        changed = snapshot(scratch, paths) != before
        host_trigger(u, scratch)
        return mark.exists() or changed
    finally:
        rm_tree(scratch)
        rm_tree(mark_dir)


def run_attack(sandbox, user, ws, attack, mode, protect, events, key):
    opts = ["--events", str(events)]
    if mode == "overlay":
        opts += ["--workspace-mode", "overlay"]
    if protect:
        pol = ws.parent / (ws.name + "-policy.yaml")
        pol.write_text("version: 1\nextends: default\nfilesystem:\n  protect: [%s]\n"
                       % ", ".join(protect))
        os.chmod(pol, 0o644)
        opts += ["-p", str(pol)]
    r = sandbox.run(["sh", "-c", attack], key=key, opts=opts)
    if r.returncode == 125:
        pytest.fail(f"reins refused to start: {r.stderr}")
    applied = None
    if mode == "overlay":
        m = SESSION_RE.search(r.stderr)
        assert m, r.stderr
        applied = subprocess.run([*user.prefix, REINS, "apply", m.group(1)],
                                 env=sandbox.env(key), cwd=ws, capture_output=True,
                                 text=True, timeout=120)
    return r, applied


def read_events(path):
    out = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


@pytest.mark.parametrize("mode", ["direct", "overlay"])
@pytest.mark.parametrize("vector", sorted(GIT_VECTORS))
def test_git_vectors(sandbox, user, ws, mode, vector):
    setup, attack, paths, protect = GIT_VECTORS[vector]
    key = f"protect_{vector}_{mode}"
    if not unsandboxed_works(user, setup, attack, paths):
        pytest.skip(f"{vector}: unsandboxed, the attack neither runs code through the host's "
                    "git nor changes the paths")
    make_repo(user, ws, setup)
    mark_dir = new_dir(user, prefix="reins-mark-")
    mark = mark_dir / "ran"
    events = mark_dir / "events.jsonl"
    try:
        before = snapshot(ws, paths)
        r, applied = run_attack(sandbox, user, ws, attack.replace("{mark}", str(mark)), mode,
                                protect, events, key)
        after = snapshot(ws, paths)
        host_trigger(user, ws)
        checks = {f"{vector}_host_code": (mark.exists(), f"marker {mark}: {mark.exists()}")}
        for p in paths:
            checks[f"{vector}:{p}"] = (before[p] != after[p],
                                       f"host {p}: {before[p]!r:.60} -> {after[p]!r:.60}")
        if applied is not None:
            print(applied.stdout)
        if not WEAK_MODE and vector in ("commondir", "git_internals"):
            # recorded where reins sees it, and the persistence rule fired
            ev = read_events(events)
            kept = [e.get("path") for e in ev if e.get("type") == "file.protected_write"]
            assert kept, f"no file.protected_write event: {r.stderr}"
            rules = {e.get("rule") for e in ev if e.get("type") == "risk.finding"}
            assert "persistence-write" in rules, rules
    finally:
        rm_tree(mark_dir)
    judge(key, checks, user)


@pytest.mark.parametrize("mode", ["direct", "overlay"])
def test_agent_settings(sandbox, user, ws, mode):
    """.claude/settings*.json, .codex, .cursor, .vscode/{settings,tasks}.json,
    .reins: written, and their directory renamed and replaced."""
    make_repo(user, ws, AGENT_SETUP)
    mark_dir = new_dir(user, prefix="reins-mark-")
    events = mark_dir / "events.jsonl"
    try:
        before = snapshot(ws, AGENT_PATHS)
        r, applied = run_attack(sandbox, user, ws, AGENT_ATTACK.replace("{mark}", "x"), mode,
                                [], events, f"protect_agent_{mode}")
        after = snapshot(ws, AGENT_PATHS)
    finally:
        rm_tree(mark_dir)
    checks = {f"agent:{p}": (before[p] != after[p], f"host {p}: {before[p]!r:.60} -> "
                             f"{after[p]!r:.60}") for p in AGENT_PATHS}
    if applied is not None:
        out = applied.stdout + applied.stderr
        if not WEAK_MODE:
            for p in (".claude/settings.local.json", ".codex/config.toml", ".vscode/tasks.json"):
                assert re.search(r"skipped\s+" + re.escape(p), out), out
    judge(f"protect_agent_{mode}", checks, user)
