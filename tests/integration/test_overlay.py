"""Copy-on-write workspaces (issue 5): reins ls / diff / apply / discard on
sessions made by `reins run --workspace-mode overlay` and on sessions built by
hand (upper dirs with whiteouts and opaque markers in the xattr form an
unprivileged overlay mount uses), as root and unprivileged."""
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from conftest import SECRET_SSH, TIMEOUT

SESSION_RE = re.compile(r"changes kept in session ([0-9a-f]{24})")


# --------------------------------------------------------------------------
# helpers


def state_dir(caller):
    return Path(caller.home) / ".local" / "state" / "reins" / "workspaces"


def overlay_run(caller, ws, script, opts=()):
    """Run a shell script in an overlay session; returns its id."""
    r = caller.sandbox(["sh", "-c", script], ws=ws, opts=["--workspace-mode", "overlay", *opts])
    assert r.returncode == 0, r.stderr
    m = SESSION_RE.search(r.stderr)
    assert m, r.stderr
    return m.group(1)


def own_tree(caller, path):
    for root, dirs, files in os.walk(path):
        caller.own(root)
        for name in dirs + files:
            caller.own(os.path.join(root, name))


def hand_session(caller, ws, build_upper, started=None, protect=()):
    """A session built by hand: meta.json plus an upper dir made by
    build_upper(upper). `started` (ns, CLOCK_REALTIME_COARSE-like) defaults to
    now."""
    sid = os.urandom(12).hex()
    base = state_dir(caller)
    for p in (base.parent.parent.parent, base.parent.parent, base.parent, base):
        p.mkdir(mode=0o700, exist_ok=True)
        caller.own(p)
    d = base / sid
    (d / "upper").mkdir(parents=True)
    (d / "work").mkdir()
    os.chmod(d, 0o700)
    os.chmod(d / "upper", os.stat(ws).st_mode & 0o7777)  # as workspace_session_create does
    build_upper(d / "upper")
    meta = {
        "id": sid, "lower": os.path.realpath(ws), "created": "x",
        "created_ns": started if started is not None else time.time_ns(),
        "state": "finished", "status": 0, "agent": "hand", "protect": list(protect),
    }
    (d / "meta.json").write_text(json.dumps(meta))
    own_tree(caller, d)
    return sid


def whiteout(path):
    """A whiteout in the xattr form (what the kernel also reads in a userxattr
    mount's layers), usable unprivileged."""
    Path(path).write_bytes(b"")
    os.setxattr(path, "user.overlay.whiteout", b"")


def reins(caller, *args, **kw):
    return caller.run([*args], **kw)


def diff_json(caller, sid, *extra):
    r = reins(caller, "diff", sid, "--json", *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def kinds(doc):
    out = {}
    for c in doc["changes"]:
        p = c["path"]
        if isinstance(p, dict):
            import base64
            p = base64.b64decode(p["base64"]).decode("utf-8", "surrogateescape")
        out[p] = c["kind"]
    return out


def snapshot(root):
    """{relative path: ("f", bytes, mode) | ("l", target) | ("d", mode)}."""
    out = {}
    root = os.fsencode(root)
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            if os.path.islink(full):
                out[rel] = ("l", os.readlink(full))
            elif os.path.isdir(full):
                out[rel] = ("d", st.st_mode & 0o7777)
            else:
                with open(full, "rb") as f:
                    out[rel] = ("f", f.read(), st.st_mode & 0o7777)
    return out


# --------------------------------------------------------------------------
# a real overlay run: everything an agent does stays in the copy until apply


AGENT_SCRIPT = r"""
set -e
sed -i 's/two/TWO/' edit.txt
echo created > new.txt
rm gone.txt
mv before.txt after.txt
rm -rf tree && mkdir tree && echo fresh > tree/fresh
chmod 755 tool.sh
ln -s "$HOME/.ssh" sshlink
ln -s / rootlink
echo linked > hard1 && ln hard1 hard2
printf 'x' > "$(printf 'new\nline')"
printf 'y' > ./-rf
printf 'z' > "$(printf 'bad\377name')"
mkdir -p .git/hooks && printf '#!/bin/sh\necho pwned\n' > .git/hooks/pre-commit
printf '\000\001\002' > blob.bin
"""


def make_workspace(caller):
    ws = caller.workspace()
    caller.write(ws / "edit.txt", "one\ntwo\nthree\n")
    caller.write(ws / "gone.txt", "bye\n")
    caller.write(ws / "before.txt", "moving\n")
    caller.write(ws / "tree" / "old1", "o1\n")
    caller.write(ws / "tree" / "sub" / "old2", "o2\n")
    caller.write(ws / "tool.sh", "echo hi\n")
    caller.write(ws / "keep.txt", "untouched\n")
    return ws


def test_overlay_run_leaves_host_untouched_and_diff_lists_everything(caller):
    ws = make_workspace(caller)
    before = snapshot(ws)
    sid = overlay_run(caller, ws, AGENT_SCRIPT)
    assert snapshot(ws) == before, "the host workspace changed during an overlay run"

    doc = diff_json(caller, sid)
    k = kinds(doc)
    assert k["edit.txt"] == "modified"
    assert k["new.txt"] == "created"
    assert k["gone.txt"] == "deleted"
    assert k["before.txt"] == "deleted" and k["after.txt"] == "created"  # a rename
    assert k["tree/old1"] == "deleted" and k["tree/sub/old2"] == "deleted"
    assert k["tree/fresh"] == "created"
    assert k["tool.sh"] == "mode-changed"
    assert k["sshlink"] == "created" and k["rootlink"] == "created"
    assert k["new\nline"] == "created" and k["-rf"] == "created"
    assert k["bad\udcffname"] == "created"
    assert "keep.txt" not in k
    by_path = {c["path"] if isinstance(c["path"], str) else None: c for c in doc["changes"]}
    assert by_path["sshlink"]["new"]["target"] == f"{caller.home}/.ssh"
    assert by_path["sshlink"]["outside_workspace"] is True
    assert by_path[".git/hooks/pre-commit"]["protected"] is True
    assert by_path["blob.bin"]["binary"] is True
    assert by_path["hard2"].get("hardlink") == "hard1" or by_path["hard1"].get("hardlink") == "hard2"

    # the listing for a person: names escaped, protected flagged, binary named
    r = reins(caller, "diff", sid)
    assert r.returncode == 0, r.stderr
    assert "created      new\\nline (file 0644)" in r.stdout
    assert "PROTECTED" in r.stdout and ".git/hooks/pre-commit" in r.stdout
    assert "Binary file" in r.stdout and "\x00" not in r.stdout
    assert "-two\n+TWO" in r.stdout
    stat = reins(caller, "diff", sid, "--stat")
    assert "files changed" in stat.stdout

    # a path filter, with a name that looks like an option
    r = reins(caller, "diff", sid, "--json", "--", "-rf")
    assert [c["path"] for c in json.loads(r.stdout)["changes"]] == ["-rf"]

    # reins ls knows it
    r = reins(caller, "ls", "--json")
    assert r.returncode == 0, r.stderr
    entry = [e for e in json.loads(r.stdout) if e["id"] == sid][0]
    assert entry["state"] == "finished" and entry["status"] == 0
    assert entry["lower"] == os.path.realpath(ws)
    assert entry["changed_files"] >= 15
    assert sid in reins(caller, "ls").stdout


def test_apply_merges_everything_but_protected(caller):
    ws = make_workspace(caller)
    sid = overlay_run(caller, ws, AGENT_SCRIPT)
    dry = reins(caller, "apply", sid, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would modify  edit.txt" in dry.stdout
    assert not (ws / "new.txt").exists(), "--dry-run changed the workspace"

    r = reins(caller, "apply", sid)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (ws / "edit.txt").read_text() == "one\nTWO\nthree\n"
    assert (ws / "new.txt").read_text() == "created\n"
    assert not (ws / "gone.txt").exists()
    assert not (ws / "before.txt").exists() and (ws / "after.txt").read_text() == "moving\n"
    assert sorted(os.listdir(ws / "tree")) == ["fresh"]
    assert os.stat(ws / "tool.sh").st_mode & 0o777 == 0o755
    # symlinks reproduced as links, never followed
    assert os.readlink(ws / "sshlink") == f"{caller.home}/.ssh"
    assert os.readlink(ws / "rootlink") == "/"
    assert (Path(caller.home) / ".ssh" / "id_rsa").read_text() == SECRET_SSH + "\n"
    # hard links stay hard links
    assert os.stat(ws / "hard1").st_ino == os.stat(ws / "hard2").st_ino
    # hostile names arrive byte for byte
    assert (ws / "new\nline").read_text() == "x"
    assert (ws / "-rf").read_text() == "y"
    assert open(os.path.join(os.fsencode(ws), b"bad\xffname"), "rb").read() == b"z"
    assert (ws / "blob.bin").read_bytes() == b"\0\1\2"
    # protected: skipped and said so; the session stays open
    assert not (ws / ".git" / "hooks" / "pre-commit").exists()
    assert "skipped" in r.stdout and "--include-protected" in r.stdout
    assert "stays open" in r.stdout
    # no temp files left behind
    assert not [n for n in os.listdir(ws) if n.startswith(".reins-apply")]

    r = reins(caller, "apply", sid, "--include-protected")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (ws / ".git" / "hooks" / "pre-commit").exists()
    assert 'closed (state "applied")' in r.stdout
    entry = [e for e in json.loads(reins(caller, "ls", "--json").stdout) if e["id"] == sid][0]
    assert entry["state"] == "applied"


def test_apply_never_follows_symlinks_on_the_host(caller):
    """A host-side symlink where the copy has a directory or a file below it
    must not carry a write to ~/.ssh."""
    ws = caller.workspace()
    ssh = Path(caller.home) / ".ssh"
    os.symlink(ssh, ws / "evil")
    caller.own(ws / "evil")
    caller.mkdir(ws / "inner")
    caller.write(ws / "inner" / "x", "old\n")

    def upper(u):
        (u / "evil").mkdir()
        (u / "evil" / "authorized_keys").write_text("ssh-ed25519 ATTACKER\n")
        (u / "inner").mkdir()
        (u / "inner" / "x").write_text("new\n")

    sid = hand_session(caller, ws, upper, started=time.time_ns() + 10**9)
    # the host replaces a directory with a symlink to ~/.ssh after the scan
    # would have seen it: apply must notice, not write through it
    os.rename(ws / "inner", ws / "inner-moved")
    os.symlink(ssh, ws / "inner")
    caller.own(ws / "inner")
    r = reins(caller, "apply", sid, "--force")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (ssh / "authorized_keys").exists()
    assert not (ssh / "x").exists()
    assert (ssh / "id_rsa").read_text() == SECRET_SSH + "\n"
    # the symlinks themselves were replaced by real directories
    assert not os.path.islink(ws / "evil") and not os.path.islink(ws / "inner")
    assert (ws / "evil" / "authorized_keys").read_text() == "ssh-ed25519 ATTACKER\n"
    assert (ws / "inner" / "x").read_text() == "new\n"


def test_conflict_blocks_apply_until_force(caller):
    ws = caller.workspace()
    caller.write(ws / "a.txt", "host v1\n")
    caller.write(ws / "b.txt", "b\n")
    sid = overlay_run(caller, ws, "echo agent > a.txt; echo agent > b.txt; echo n > c.txt")
    time.sleep(0.05)
    caller.write(ws / "a.txt", "host v2\n")  # the user edits it meanwhile
    r = reins(caller, "apply", sid)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "CONFLICT" in r.stdout and "a.txt" in r.stdout and "--force" in r.stdout
    assert (ws / "a.txt").read_text() == "host v2\n"
    assert (ws / "b.txt").read_text() == "b\n", "a conflict must block the whole apply"
    assert not (ws / "c.txt").exists()
    r = reins(caller, "apply", sid, "--force")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (ws / "a.txt").read_text() == "agent\n"
    assert (ws / "c.txt").read_text() == "n\n"


def test_conflict_on_host_deletion_of_an_edited_file(caller):
    ws = caller.workspace()
    caller.write(ws / "a.txt", "v1\n")
    sid = overlay_run(caller, ws, "echo agent >> a.txt")
    os.unlink(ws / "a.txt")
    r = reins(caller, "apply", sid)
    assert r.returncode == 1, r.stdout
    assert "deleted on the host" in r.stdout
    assert not (ws / "a.txt").exists()


def test_hand_built_session_whiteouts_and_opaque_dirs(caller):
    ws = caller.workspace()
    caller.write(ws / "gone", "g\n")
    caller.write(ws / "d" / "old", "o\n")
    caller.write(ws / "d" / "kept", "k\n")
    caller.write(ws / "ro" / "f", "f\n")

    def upper(u):
        whiteout(u / "gone")
        (u / "d").mkdir()
        os.setxattr(u / "d", "user.overlay.opaque", b"y")
        (u / "d" / "kept").write_text("k2\n")
        (u / "ro").mkdir(mode=0o755)
        (u / "ro" / "new").write_text("n\n")
        os.chmod(u / "ro", 0o555)  # a read-only directory in the copy

    sid = hand_session(caller, ws, upper)
    k = kinds(diff_json(caller, sid))
    assert k == {"gone": "deleted", "d": "replaced", "d/kept": "modified", "d/old": "deleted",
                 "ro": "mode-changed", "ro/new": "created"}
    r = reins(caller, "apply", sid)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (ws / "gone").exists()
    assert sorted(os.listdir(ws / "d")) == ["kept"]
    assert (ws / "ro" / "new").read_text() == "n\n"
    assert os.stat(ws / "ro").st_mode & 0o777 == 0o555
    # discard copes with the read-only directory in the copy
    r = reins(caller, "discard", sid)
    assert r.returncode == 0, r.stderr
    assert not (state_dir(caller) / sid).exists()
    os.chmod(ws / "ro", 0o755)


def test_sigkill_during_apply_leaves_every_file_old_or_new(caller):
    ws = caller.workspace()
    count, size = 200, 64 * 1024
    old = {f"f{i:03d}": bytes([65 + i % 26]) * size for i in range(count)}
    for name, data in old.items():
        (ws / name).write_bytes(data)
        caller.own(ws / name)
    new = {name: bytes([97 + i % 26]) * (size + 7) for i, name in enumerate(old)}

    def upper(u):
        for name, data in new.items():
            (u / name).write_bytes(data)

    sid = hand_session(caller, ws, upper, started=time.time_ns() + 10**9)
    for delay in (0.005, 0.02, 0.05):
        p = caller.popen(["apply", sid])
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=TIMEOUT)
        for name in old:
            data = (ws / name).read_bytes()
            assert data in (old[name], new[name]), f"{name} is torn ({len(data)} bytes)"
    r = reins(caller, "apply", sid, "--force")
    assert r.returncode == 0, r.stdout + r.stderr
    for name in old:
        assert (ws / name).read_bytes() == new[name]


def test_parallel_sessions_do_not_see_each_other(caller):
    ws = caller.workspace()
    caller.write(ws / "base", "b\n")
    script = ('n=$(cat /proc/sys/kernel/random/uuid); echo mine > "own-$n"; sleep 1; '
              'ls > listing; echo "out of $n"; echo "err of $n" >&2')
    r = caller.sandbox(["sh", "-c", script], ws=ws,
                       opts=["--workspace-mode", "overlay", "--parallel", "2"])
    assert r.returncode == 0, r.stderr
    started = re.findall(r"^\[(\d)\] ([0-9a-f]{24})$", r.stdout, re.M)
    assert sorted(k for k, _ in started) == ["1", "2"], r.stdout
    ids = sorted(sid for _, sid in started)
    # every line of a run is labelled with its number; the end of each is said
    for k, sid in started:
        assert re.search(rf"^\[{k}\] out of \S+$", r.stdout, re.M), r.stdout
        assert re.search(rf"^\[{k}\] err of \S+$", r.stderr, re.M), r.stderr
        assert f"[{k}] {sid} exited 0" in r.stdout, r.stdout
    assert not [n for n in os.listdir(ws) if n.startswith("own-")]
    for sid in ids:
        k = kinds(diff_json(caller, sid))
        own = [p for p in k if p.startswith("own-")]
        assert len(own) == 1, k
        listing = subprocess.run(["cat", state_dir(caller) / sid / "upper" / "listing"],
                                 capture_output=True, text=True).stdout.split()
        assert [n for n in listing if n.startswith("own-")] == own
    # --against: the two results differ by exactly their own files
    a, b = ids
    doc = diff_json(caller, a, "--against", b)
    k = kinds(doc)
    assert sorted(v for p, v in k.items() if p.startswith("own-")) == ["created", "deleted"]


def test_parallel_exit_status_is_the_first_failure(caller):
    ws = caller.workspace()
    r = caller.sandbox(["sh", "-c", "exit 3"], ws=ws,
                       opts=["--workspace-mode", "overlay", "--parallel", "2"])
    assert r.returncode == 3, r.stdout + r.stderr
    assert len(re.findall(r"^\[\d\] [0-9a-f]{24} exited 3$", r.stdout, re.M)) == 2, r.stdout


def test_patch_applies_with_git_on_a_fresh_checkout(caller):
    ws = caller.workspace()
    caller.write(ws / "src" / "main.c", "".join(f"line {i}\n" for i in range(40)))
    caller.write(ws / "old.txt", "old\n")
    caller.write(ws / "run.sh", "echo\n")
    caller.write(ws / "img.bin", "")
    (ws / "img.bin").write_bytes(bytes(range(256)) * 4)
    caller.write(ws / "no-eol", "a\nb")
    def git(*args, check=True):
        # as the caller: git refuses repositories owned by someone else
        return subprocess.run(caller.prefix + ["git", "-c", "user.email=t@e", "-c", "user.name=t",
                                               *map(str, args)],
                              env=caller.env(), capture_output=True, text=True, check=check,
                              timeout=TIMEOUT)

    git("init", "-q", ws)
    git("-C", ws, "add", "-A")
    git("-C", ws, "commit", "-qm", "base")
    script = r"""
sed -i 's/line 5$/LINE FIVE/; s/line 30$/LINE THIRTY/' src/main.c
echo extra >> src/main.c
rm old.txt
chmod 755 run.sh
printf '\377\376binary' > img.bin
printf 'a\nb\nc' > no-eol
echo new > "with space.txt"
echo u > "$(printf 'caf\303\251')"
ln -s src/main.c link
printf '#!/bin/sh\n' > .git/hooks/pre-commit
: > empty
"""
    sid = overlay_run(caller, ws, script)
    r = reins(caller, "diff", sid, "--patch")
    assert r.returncode == 0, r.stderr
    patch = caller.run(["diff", sid, "--patch"]).stdout
    assert "PROTECTED path changed: .git/hooks/pre-commit" in patch
    fresh = caller.mkdtemp(prefix="reins-fresh-")
    git("clone", "-q", ws, fresh / "c")
    raw = subprocess.run(caller.argv(["diff", sid, "--patch"]), env=caller.env(),
                         capture_output=True, cwd=caller.home).stdout
    (fresh / "p.patch").write_bytes(raw)
    caller.own(fresh / "p.patch")
    g = git("-C", fresh / "c", "apply", "--check", "-v", fresh / "p.patch", check=False)
    assert g.returncode == 0, g.stderr
    git("-C", fresh / "c", "apply", fresh / "p.patch")
    # the checkout now matches the session's result (reins apply on the original)
    r = reins(caller, "apply", sid)
    assert r.returncode == 0, r.stdout + r.stderr
    got = {k: v for k, v in snapshot(fresh / "c").items() if not k.startswith(b".git")}
    want = {k: v for k, v in snapshot(ws).items() if not k.startswith(b".git")}
    assert got.keys() == want.keys()
    for k in want:
        assert got[k][:2] == want[k][:2], k  # type and bytes / target
        if want[k][0] == "f":
            assert (got[k][2] & 0o111 != 0) == (want[k][2] & 0o111 != 0), k


def test_binary_patch_is_compressed_and_applies_both_ways(caller):
    """Binary files in `reins diff --patch` are zlib-deflated literals, as git
    writes them: a compressible 300 KB binary costs a few KB of patch (stored
    blocks would cost 5/4 of the file, twice: forward and reverse), and the
    patch applies with the host's git, forward and reversed."""
    ws = caller.workspace()
    caller.write(ws / "big.bin", "")
    (ws / "big.bin").write_bytes(b"\0\1" + b"reins" * 60000)
    caller.write(ws / "gone.bin", "")
    (ws / "gone.bin").write_bytes(b"\0" * 70000 + b"tail")

    def git(*args, check=True):
        return subprocess.run(caller.prefix + ["git", "-c", "user.email=t@e", "-c", "user.name=t",
                                               *map(str, args)],
                              env=caller.env(), capture_output=True, text=True, check=check,
                              timeout=TIMEOUT)

    git("init", "-q", ws)
    git("-C", ws, "add", "-A")
    git("-C", ws, "commit", "-qm", "base")
    before = {k: v for k, v in snapshot(ws).items() if not k.startswith(b".git")}
    sid = overlay_run(caller, ws, r"""
{ printf '\000\002'; head -c 300000 /dev/zero | tr '\000' 'r'; } > big.bin
{ printf '\000new'; head -c 200000 /dev/zero; } > new.bin
rm gone.bin
""")
    raw = subprocess.run(caller.argv(["diff", sid, "--patch"]), env=caller.env(),
                         capture_output=True, cwd=caller.home, timeout=TIMEOUT)
    assert raw.returncode == 0, raw.stderr
    patch = raw.stdout
    assert patch.count(b"GIT binary patch") == 3, patch[:2000]
    assert len(patch) < 20000, len(patch)
    fresh = caller.mkdtemp(prefix="reins-fresh-")
    git("clone", "-q", ws, fresh / "c")
    (fresh / "p.patch").write_bytes(patch)
    caller.own(fresh / "p.patch")
    g = git("-C", fresh / "c", "apply", "--check", "-v", fresh / "p.patch", check=False)
    assert g.returncode == 0, g.stderr
    git("-C", fresh / "c", "apply", fresh / "p.patch")
    got = snapshot(fresh / "c")
    assert got[b"big.bin"][1] == b"\0\2" + b"r" * 300000
    assert got[b"new.bin"][1] == b"\0new" + b"\0" * 200000
    assert b"gone.bin" not in got
    # the reverse literals take the checkout back to the commit
    git("-C", fresh / "c", "apply", "-R", fresh / "p.patch")
    again = {k: v for k, v in snapshot(fresh / "c").items() if not k.startswith(b".git")}
    assert again == before


def test_discard_and_unknown_sessions(caller):
    ws = caller.workspace()
    caller.write(ws / "a", "a\n")
    sid = overlay_run(caller, ws, "mkdir -p deep/er && echo x > deep/er/f && chmod 0 deep/er && "
                                  "ln -s / deep/root")
    assert (state_dir(caller) / sid).exists()
    r = reins(caller, "discard", sid[:8])  # a unique prefix is enough
    assert r.returncode == 0, r.stderr
    assert not (state_dir(caller) / sid).exists()
    assert os.path.exists("/etc/passwd")
    r = reins(caller, "diff", sid)
    assert r.returncode != 0 and "no workspace session" in r.stderr
    r = reins(caller, "diff", "../../etc")
    assert r.returncode != 0 and "bad session id" in r.stderr


def test_discard_all_and_older_than_skip_running_sessions(caller):
    ws = caller.workspace()
    caller.write(ws / "a", "a\n")
    done1 = overlay_run(caller, ws, "echo 1 > b")
    done2 = overlay_run(caller, ws, "echo 2 > c")
    running = caller.popen(["run", "-w", ws, "--workspace-mode", "overlay", "--", "sleep",
                            "30"], cwd=ws)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and len(list(state_dir(caller).iterdir())) < 3:
            time.sleep(0.1)
        r = reins(caller, "discard", "--older-than", "1h")
        assert r.returncode == 0 and "no session to discard" in r.stdout, r.stdout + r.stderr
        r = reins(caller, "discard", "--older-than", "x1")
        assert r.returncode == 2 and "not a duration" in r.stderr
        r = reins(caller, "discard", "--all")
        assert r.returncode == 0, r.stderr
        assert f"discarded session {done1}" in r.stdout and f"discarded session {done2}" in r.stdout
        kept = re.search(r"kept session (\w+): it is running", r.stdout)
        assert kept and (state_dir(caller) / kept.group(1)).exists(), r.stdout
        assert not (state_dir(caller) / done1).exists()
        ls = reins(caller, "ls")
        assert "sleep 30" in ls.stdout and "COMMAND" in ls.stdout, ls.stdout
    finally:
        running.send_signal(signal.SIGTERM)
        running.communicate(timeout=30)


def test_state_dir_refused_when_others_can_write_it(caller):
    ws = caller.workspace()
    caller.write(ws / "a", "a\n")
    sid = hand_session(caller, ws, lambda u: (u / "n").write_text("n\n"))
    base = state_dir(caller)
    os.chmod(base, 0o777)
    try:
        r = reins(caller, "diff", sid)
        assert r.returncode != 0 and "writable by group or others" in r.stderr
    finally:
        os.chmod(base, 0o700)


def test_resume_continues_in_the_same_copy(caller):
    ws = caller.workspace()
    caller.write(ws / "a", "a\n")
    sid = overlay_run(caller, ws, "echo first > one")
    r = caller.sandbox(["sh", "-c", "cat one && echo second > two"], ws=ws,
                       opts=["--workspace-mode", "overlay", "--resume", sid])
    assert r.returncode == 0, r.stderr
    assert "first" in r.stdout
    k = kinds(diff_json(caller, sid))
    assert k.get("one") == "created" and k.get("two") == "created"
    assert not (ws / "one").exists()


def test_apply_and_discard_are_in_the_audit_trail(caller):
    ws = caller.workspace()
    caller.write(ws / "a", "a\n")
    sid = overlay_run(caller, ws, "echo b > a")
    assert reins(caller, "apply", sid).returncode == 0
    assert reins(caller, "discard", sid).returncode == 0
    trails = Path(caller.home) / ".local" / "state" / "reins" / "trails"
    for action in ("apply", "discard"):
        found = sorted(trails.glob(f"{sid}-{action}-*.jsonl"))
        assert len(found) == 1, sorted(os.listdir(trails))
        records = [json.loads(line) for line in found[0].read_text().splitlines()]
        assert any(r.get("type") == f"workspace.{action}" and r.get("id") == sid for r in records)
        v = reins(caller, "audit", "verify", found[0])
        assert v.returncode == 0 and "intact" in v.stdout, v.stdout + v.stderr
    # no trail, nothing done: an unwritable --audit path refuses the apply
    sid = overlay_run(caller, ws, "echo c > a")
    r = reins(caller, "apply", sid, "--audit", "/nonexistent-dir/x.jsonl")
    assert r.returncode != 0 and "audit trail" in r.stderr
    assert (ws / "a").read_text() == "b\n"


# --------------------------------------------------------------------------
# limits.workspace_size: the copy lives in a tmpfs of that size while the
# session runs, and is written back to the session directory at the end


def capped_policy(caller, size, extra=""):
    d = caller.mkdtemp(prefix="reins-cap-")
    return caller.write(d / "policy.yaml",
                        "version: 1\nextends: default\nfilesystem: {workspace_mode: overlay}\n"
                        f"limits: {{workspace_size: {size}{extra}}}\n")


def comparable(doc):
    """A diff without what differs between two sessions (ids, times)."""
    out = []
    for c in doc["changes"]:
        c = dict(c)
        for side in ("old", "new"):
            if isinstance(c.get(side), dict):
                c[side] = {k: v for k, v in c[side].items() if k not in ("mtime", "ctime", "ino")}
        out.append(c)
    return sorted(out, key=lambda c: json.dumps(c, sort_keys=True))


def test_capped_copy_reads_back_exactly_like_a_disk_copy(caller):
    """Every kind of change (whiteouts, an opaque directory, a rename, hard
    links, symlinks to ~/.ssh and /, hostile names, modes) survives the trip
    through memory and back: the diff equals the uncapped session's."""
    ws = make_workspace(caller)
    plain = overlay_run(caller, ws, AGENT_SCRIPT)
    ws2 = make_workspace(caller)
    capped = overlay_run(caller, ws2, AGENT_SCRIPT, opts=["-p", capped_policy(caller, "64MiB")])
    a, b = diff_json(caller, plain), diff_json(caller, capped)
    assert comparable(a) == comparable(b)
    # and the resumed copy goes back into memory whole
    r = caller.sandbox(["sh", "-c", "cat tree/fresh after.txt hard2; test ! -e gone.txt; "
                        "test ! -e tree/old1; echo more > more.txt"], ws=ws2,
                       opts=["-p", capped_policy(caller, "64MiB"), "--resume", capped])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "fresh\nmoving\nlinked\n"
    k = kinds(diff_json(caller, capped))
    assert k["more.txt"] == "created" and k["gone.txt"] == "deleted"


def test_workspace_size_gives_enospc_in_the_copy_not_on_the_host(caller):
    ws = caller.workspace()
    caller.write(ws / "a.txt", "a\n")
    evdir = caller.mkdtemp(prefix="reins-cap-ev-")
    script = ("dd if=/dev/zero of=big bs=1M count=20 2>&1 | grep -c 'No space left'; "
              "echo still > small.txt || echo small-failed")
    r = caller.sandbox(["sh", "-c", script], ws=ws,
                       opts=["-p", capped_policy(caller, "4MiB"), "--events",
                             evdir / "events.jsonl"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["1", "small-failed"], r.stdout  # ENOSPC, both times
    assert not (ws / "big").exists()
    events = [json.loads(line) for line in (evdir / "events.jsonl").read_text().splitlines()]
    limits = [e for e in events if e["type"] == "limit" and e["limit"] == "workspace_size"]
    assert len(limits) == 1 and limits[0]["bytes"] == 4 << 20 and limits[0]["result"] == "ENOSPC"
    stored = [e for e in events if e["type"] == "workspace.session" and e["action"] == "store"]
    assert stored and stored[0]["ok"] is True
    sid = SESSION_RE.search(r.stderr).group(1)
    doc = diff_json(caller, sid)
    big = [c for c in doc["changes"] if c["path"] == "big"][0]
    assert big["kind"] == "created" and 3 << 20 < big["new"]["size"] <= 4 << 20
    # the copy on disk is the session's, and nothing is left in memory
    assert (state_dir(caller) / sid / "upper" / "big").stat().st_size == big["new"]["size"]
    assert not (state_dir(caller) / sid / "upper.new").exists()


def test_workspace_size_refusals(caller):
    ws = caller.workspace()
    r = caller.sandbox(["true"], ws=ws, opts=["-p", capped_policy(caller, "4MiB"),
                                               "--workspace-mode", "direct"])
    assert r.returncode == 125
    assert "limits.workspace_size: only the copy of an overlay session can be capped" in r.stderr
    r = caller.sandbox(["true"], ws=ws, opts=["-p", capped_policy(caller, "2GiB", ", memory: 1GiB")])
    assert r.returncode == 125
    assert "must be below limits.memory" in r.stderr
    # a resumed copy already larger than the cap: refused, the copy kept
    sid = overlay_run(caller, ws, "head -c 3000000 /dev/zero > big")
    r = caller.sandbox(["true"], ws=ws, opts=["-p", capped_policy(caller, "1MiB"), "--resume", sid])
    assert r.returncode == 125
    assert "already larger than the limit" in r.stderr
    assert (state_dir(caller) / sid / "upper" / "big").stat().st_size == 3000000


def test_a_running_capped_session_says_its_copy_is_in_memory(caller):
    ws = caller.workspace()
    caller.write(ws / "a.txt", "a\n")
    p = caller.popen(["run", "-p", capped_policy(caller, "8MiB"), "-w", ws, "--", "sh", "-c",
                      "echo new > f.txt; sleep 3"], cwd=ws)
    try:
        sid = None
        deadline = time.monotonic() + 20
        while not sid and time.monotonic() < deadline:
            r = reins(caller, "ls", "--json")
            running = [e for e in json.loads(r.stdout or "[]")
                       if e["lower"] == os.path.realpath(ws) and e["state"] == "running"]
            sid = running[0]["id"] if running else None
            time.sleep(0.05)
        assert sid, "the session never showed as running"
        r = reins(caller, "diff", sid, "--json")
        assert r.returncode == 0, r.stderr
        assert "copy is in memory until it ends" in r.stderr
        assert "f.txt" not in kinds(json.loads(r.stdout))
    finally:
        out, err = p.communicate(timeout=TIMEOUT)
    assert p.returncode == 0, err
    r = reins(caller, "diff", sid, "--json")
    assert "in memory" not in r.stderr
    assert kinds(json.loads(r.stdout))["f.txt"] == "created"


def test_workspace_size_caps_the_number_of_files_too(caller):
    """Empty files use no blocks: a 1 MiB cap also means at most 1024 files
    and directories in the copy."""
    ws = caller.workspace()
    evdir = caller.mkdtemp(prefix="reins-cap-ev-")
    r = caller.sandbox(["sh", "-c", "i=0; while touch f$i 2>/dev/null; do i=$((i+1)); done; echo $i"],
                       ws=ws, opts=["-p", capped_policy(caller, "1MiB"), "--events",
                                    evdir / "events.jsonl"])
    assert r.returncode == 0, r.stderr
    assert 900 < int(r.stdout) < 1024, r.stdout
    events = [json.loads(line) for line in (evdir / "events.jsonl").read_text().splitlines()]
    limit = [e for e in events if e["type"] == "limit" and e["limit"] == "workspace_size"]
    assert limit and limit[0]["files_used"] == 1024, limit
    sid = SESSION_RE.search(r.stderr).group(1)
    assert len(os.listdir(state_dir(caller) / sid / "upper")) == int(r.stdout)
