"""The sandbox's view of the filesystem (run-contract: "Inside the sandbox")."""
import os
import subprocess
import uuid
from pathlib import Path

import yaml

from conftest import SECRET_AWS, SECRET_SSH


def test_command_starts_in_the_workspace(caller):
    ws = caller.workspace()
    r = caller.sandbox(["pwd"], ws=ws, cwd=caller.home)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == os.path.realpath(ws)


def test_workspace_defaults_to_the_current_directory(caller):
    ws = caller.workspace()
    r = caller.run(["run", "--", "sh", "-c", "pwd; echo made > here.txt"], cwd=ws)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == os.path.realpath(ws)
    assert (ws / "here.txt").read_text() == "made\n"


def test_workspace_symlink_is_resolved(caller):
    ws = caller.workspace()
    link = Path(caller.mkdtemp(prefix="reins-link-")) / "ws-link"
    link.symlink_to(ws)
    caller.own(link)
    r = caller.sandbox(["sh", "-c", "pwd -P; echo hi > via-link.txt"], ws=link, cwd=ws)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == os.path.realpath(ws)
    assert (ws / "via-link.txt").read_text() == "hi\n"


def test_workspace_write_appears_on_host_with_callers_uid(caller):
    ws = caller.workspace()
    r = caller.sandbox(["sh", "-c", "echo hello > out.txt && mkdir -p sub/dir && echo deep > sub/dir/f"],
                       ws=ws)
    assert r.returncode == 0, r.stderr
    out = ws / "out.txt"
    assert out.read_text() == "hello\n"
    st = out.stat()
    assert (st.st_uid, st.st_gid) == (caller.uid, caller.gid)
    assert (ws / "sub" / "dir" / "f").stat().st_uid == caller.uid


def test_workspace_host_files_are_readable_and_editable(caller):
    ws = caller.workspace()
    caller.write(ws / "in.txt", "from host\n")
    r = caller.sandbox(["sh", "-c", "cat in.txt && echo appended >> in.txt"], ws=ws)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "from host\n"
    assert (ws / "in.txt").read_text() == "from host\nappended\n"


def _readonly_check(caller, opts):
    ws = caller.workspace()
    caller.write(ws / "in.txt", "original\n")
    script = ("cat in.txt; "
              "echo x > new.txt && echo WROTE-NEW; "
              "echo x >> in.txt && echo WROTE-OLD; "
              "rm -f in.txt && echo REMOVED; "
              "mkdir d && echo MKDIR; true")
    r = caller.sandbox(["sh", "-c", script], ws=ws, opts=opts)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("original\n"), "workspace not readable in readonly mode"
    for word in ("WROTE-NEW", "WROTE-OLD", "REMOVED", "MKDIR"):
        assert word not in r.stdout
    assert not (ws / "new.txt").exists() and not (ws / "d").exists()
    assert (ws / "in.txt").read_text() == "original\n"


def test_workspace_mode_readonly_option_blocks_writes(caller):
    _readonly_check(caller, ["--workspace-mode", "readonly"])


def test_readonly_preset_blocks_workspace_writes(caller):
    _readonly_check(caller, ["-p", "readonly"])


def test_ro_option_binds_read_only(caller):
    extra = caller.mkdtemp(prefix="reins-ro-", base="/var/tmp")
    caller.write(extra / "data.txt", "ro data\n")
    script = f"cat {extra}/data.txt; echo x > {extra}/new && echo WROTE; echo x >> {extra}/data.txt && echo APPENDED; true"
    r = caller.sandbox(["sh", "-c", script], opts=["--ro", extra])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ro data\n")
    assert "WROTE" not in r.stdout and "APPENDED" not in r.stdout
    assert not (extra / "new").exists()
    assert (extra / "data.txt").read_text() == "ro data\n"


def test_rw_option_binds_read_write(caller):
    extra = caller.mkdtemp(prefix="reins-rw-", base="/var/tmp")
    caller.write(extra / "data.txt", "rw data\n")
    r = caller.sandbox(["sh", "-c", f"cat {extra}/data.txt && echo made > {extra}/new"],
                       opts=["--rw", extra])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "rw data\n"
    assert (extra / "new").read_text() == "made\n"
    assert (extra / "new").stat().st_uid == caller.uid


def test_ro_and_rw_paths_under_tmp_are_visible(caller):
    ro = caller.mkdtemp(prefix="reins-ro-")
    rw = caller.mkdtemp(prefix="reins-rw-")
    caller.write(ro / "r.txt", "r\n")
    r = caller.sandbox(["sh", "-c", f"cat {ro}/r.txt && echo w > {rw}/w.txt"],
                       opts=["--ro", ro, "--rw", rw])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "r\n"
    assert (rw / "w.txt").read_text() == "w\n"


def test_paths_outside_the_view_are_absent(caller):
    home = caller.home
    paths = [home, home / ".ssh", home / ".ssh" / "id_rsa", home / ".aws", "/root", "/home",
             "/var/log", "/var", "/sys", "/boot", "/run", "/srv", "/mnt", "/work", "/media"]
    script = 'for p; do if [ -e "$p" ] || [ -L "$p" ]; then echo "PRESENT $p"; fi; done; echo done'
    r = caller.sandbox(["sh", "-c", script, "sh", *map(str, paths)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "done"
    present = [line for line in r.stdout.splitlines() if line.startswith("PRESENT")]
    assert present == []


def test_home_secrets_cannot_be_read(caller):
    script = "cat ~/.ssh/id_rsa ~/.aws/credentials $HOME/.ssh/id_rsa 2>/dev/null; ls -a ~ 2>/dev/null; true"
    r = caller.sandbox(["sh", "-c", script])
    assert SECRET_SSH not in r.stdout and SECRET_AWS not in r.stdout
    assert ".ssh" not in r.stdout and ".aws" not in r.stdout


def test_deny_hides_secret_files_inside_the_workspace(caller):
    ws = caller.workspace()
    caller.write(ws / ".env", "API_KEY=topsecret-env\n")
    caller.write(ws / "x.pem", "topsecret-pem-top\n")
    caller.write(ws / "sub" / "deep" / "y.pem", "topsecret-pem-deep\n")
    caller.write(ws / "ok.txt", "fine\n")
    script = ("cat ok.txt; "
              "for f in .env x.pem sub/deep/y.pem; do cat $f; "
              "  echo tamper >> $f && echo WROTE-$f; done; true")
    r = caller.sandbox(["sh", "-c", script], ws=ws)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("fine\n")
    assert "topsecret" not in r.stdout
    assert "WROTE" not in r.stdout
    assert (ws / ".env").read_text() == "API_KEY=topsecret-env\n"
    assert (ws / "x.pem").read_text() == "topsecret-pem-top\n"
    assert (ws / "sub" / "deep" / "y.pem").read_text() == "topsecret-pem-deep\n"


def test_deny_in_a_policy_hides_home_secrets_inside_a_bound_home(caller, default_preset):
    ws = caller.workspace()
    read = list(default_preset["filesystem"]["read"]) + [str(caller.home)]
    policy = caller.write(caller.mkdtemp(prefix="reins-pol-") / "home.yaml", yaml.safe_dump({
        "version": 1, "name": "home-with-deny", "extends": "default",
        "filesystem": {"read": read, "deny": ["~/.ssh", "~/.aws"]},
    }))
    script = "cat ~/notes.txt; cat ~/.ssh/id_rsa ~/.aws/credentials; true"
    r = caller.sandbox(["sh", "-c", script], ws=ws, opts=["-p", policy])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("plain notes\n"), "the bound home is not readable"
    assert SECRET_SSH not in r.stdout and SECRET_AWS not in r.stdout


def test_etc_shadow_is_unreadable(caller):
    r = caller.sandbox(["sh", "-c", "cat /etc/shadow; echo rc=$?"])
    assert "root:" not in r.stdout
    assert "rc=0" not in r.stdout


def test_etc_is_readable_but_not_writable(caller):
    r = caller.sandbox(["sh", "-c", "cat /etc/hostname >/dev/null && echo READ; "
                                    "echo x >> /etc/passwd && echo WROTE; true"])
    assert "READ" in r.stdout and "WROTE" not in r.stdout


def test_system_dirs_are_read_only(caller):
    r = caller.sandbox(["sh", "-c", "for d in /usr /usr/bin /usr/lib /etc; do "
                                    "touch $d/reins-probe-$$ 2>/dev/null && echo WROTE-$d; done; true"])
    assert r.returncode == 0, r.stderr
    assert "WROTE" not in r.stdout


def test_protect_paths_are_read_only_and_the_rest_is_writable(caller):
    ws = caller.workspace()
    caller.write(ws / ".git" / "hooks" / "pre-commit", "#!/bin/sh\necho original\n", 0o755)
    caller.write(ws / ".git" / "config", "[core]\n")
    caller.write(ws / ".git" / "HEAD", "ref: refs/heads/main\n")
    caller.write(ws / ".reins" / "policy.yaml", "version: 1\n")
    script = ("echo evil > .git/hooks/pre-commit && echo W1; "
              "touch .git/hooks/post-checkout && echo W2; "
              "echo evil >> .git/config && echo W3; "
              "rm -f .git/hooks/pre-commit && echo W4; "
              "mv .git/hooks .git/hooks-moved && echo W5; "
              "mv .git/config .git/config-moved && echo W6; "
              "echo evil > .reins/policy.yaml && echo W7; "
              "echo fine > other.txt && echo OK1; "
              "mkdir -p src && echo code > src/a.c && echo OK2; "
              "echo ref > .git/HEAD && echo OK3; true")
    r = caller.sandbox(["sh", "-c", script], ws=ws)
    assert r.returncode == 0, r.stderr
    for w in ("W1", "W2", "W3", "W4", "W5", "W6", "W7"):
        assert w not in r.stdout, f"protected path was modified ({w}): {r.stdout!r}"
    for ok in ("OK1", "OK2"):
        assert ok in r.stdout, f"ordinary workspace write failed ({ok}): {r.stderr!r}"
    assert (ws / ".git" / "hooks" / "pre-commit").read_text() == "#!/bin/sh\necho original\n"
    assert not (ws / ".git" / "hooks" / "post-checkout").exists()
    assert (ws / ".git" / "config").read_text() == "[core]\n"
    assert (ws / ".reins" / "policy.yaml").read_text() == "version: 1\n"
    assert (ws / "other.txt").read_text() == "fine\n"


def test_tmp_is_private_and_writable(caller):
    marker = f"reins-hostmark-{uuid.uuid4().hex}"
    inside = f"reins-inside-{uuid.uuid4().hex}"
    host_file = Path("/tmp") / marker
    host_file.write_text("host\n")
    try:
        script = (f"test -e /tmp/{marker} && echo SEES-HOST; "
                  f"ls -a /tmp | grep -q {marker} && echo LISTS-HOST; "
                  f"echo inside > /tmp/{inside} && cat /tmp/{inside}")
        r = caller.sandbox(["sh", "-c", script])
        assert r.returncode == 0, r.stderr
        assert "SEES-HOST" not in r.stdout and "LISTS-HOST" not in r.stdout
        assert r.stdout == "inside\n"
        assert not (Path("/tmp") / inside).exists(), "sandbox /tmp write reached the host"
    finally:
        host_file.unlink()


def test_dev_is_minimal(caller):
    script = ("for d in null zero full random urandom tty ptmx pts shm; do "
              "  [ -e /dev/$d ] || echo MISSING-$d; done; "
              "find /dev -type b 2>/dev/null | sed 's/^/BLOCK /'; "
              "for d in sda vda nvme0 nvme0n1 kmsg mem port loop0 fuse kvm; do "
              "  [ -e /dev/$d ] && echo EXTRA-$d; done; "
              "echo data > /dev/null && head -c 4 /dev/zero | wc -c")
    r = caller.sandbox(["sh", "-c", script])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "4", r.stdout


def test_sys_is_absent(caller):
    r = caller.sandbox(["sh", "-c", "ls /sys/fs/cgroup /sys/kernel 2>&1; [ -e /sys ] && echo PRESENT; true"])
    assert "PRESENT" not in r.stdout


def test_sys_is_never_bound_writable(caller):
    """A writable cgroupfs would let a root sandbox move itself out of its
    limits and the risk engine's freezer: refused, from options and policies;
    read-only is allowed."""
    r = caller.sandbox(["true"], opts=["--rw", "/sys/fs/cgroup"])
    assert r.returncode == 125
    assert "/sys cannot be bound writable" in r.stderr, r.stderr
    ws = caller.workspace()
    pol = caller.write(ws / "p.yaml", "version: 1\nextends: default\nfilesystem: {write: [/sys]}\n")
    r = caller.sandbox(["true"], ws=ws, opts=["-p", pol])
    assert r.returncode == 125 and "filesystem.write /sys" in r.stderr, r.stderr
    r = caller.sandbox(["sh", "-c", "test -d /sys/fs/cgroup && ! touch /sys/fs/cgroup/x"],
                       opts=["--ro", "/sys/fs/cgroup"])
    assert r.returncode == 0, r.stderr


def test_proc_sensitive_entries_are_masked(caller):
    script = ("echo 1 > /proc/sysrq-trigger 2>/dev/null && echo W-SYSRQ; "
              "echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo W-SYS; "
              "echo reins > /proc/sys/kernel/hostname 2>/dev/null && echo W-HOSTNAME; "
              "head -c 16 /proc/kcore 2>/dev/null | wc -c | grep -qv '^0$' && echo R-KCORE; true")
    r = caller.sandbox(["sh", "-c", script])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "", r.stdout


def test_home_bound_read_only_still_hides_ssh_and_aws(caller):
    r = caller.sandbox(["sh", "-c", "cat ~/notes.txt; cat ~/.ssh/id_rsa ~/.aws/credentials; "
                                    "ls -a ~/.ssh ~/.aws; true"],
                       opts=["--ro", caller.home])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("plain notes\n"), "--ro $HOME did not bind the home"
    assert SECRET_SSH not in r.stdout and SECRET_AWS not in r.stdout
    assert "id_rsa" not in r.stdout and "credentials" not in r.stdout


def test_deny_applies_inside_extra_binds(caller):
    extra = caller.mkdtemp(prefix="reins-ro-", base="/var/tmp")
    caller.write(extra / "readme.txt", "visible\n")
    caller.write(extra / "server.pem", "topsecret-ro-pem\n")
    caller.write(extra / "app" / ".env", "topsecret-ro-env\n")
    r = caller.sandbox(["sh", "-c", f"cd {extra} && cat readme.txt server.pem app/.env; true"],
                       opts=["--ro", extra])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("visible\n")
    assert "topsecret" not in r.stdout


def test_workspace_path_with_spaces(caller):
    parent = caller.mkdtemp(prefix="reins-sp-")
    ws = caller.mkdir(parent / "my work space")
    r = caller.sandbox(["sh", "-c", "pwd; echo ok > 'a file.txt'"], ws=ws)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == os.path.realpath(ws)
    assert (ws / "a file.txt").read_text() == "ok\n"


def test_relative_workspace_option(caller):
    parent = caller.mkdtemp(prefix="reins-rel-")
    ws = caller.mkdir(parent / "proj")
    r = caller.run(["run", "-w", "proj", "--", "sh", "-c", "pwd; echo ok > made"], cwd=parent)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == os.path.realpath(ws)
    assert (ws / "made").read_text() == "ok\n"


def test_tmp_size_limit_from_policy(caller):
    d = caller.mkdtemp(prefix="reins-pol-")
    policy = caller.write(d / "tmp.yaml", "version: 1\nextends: default\nlimits:\n  tmp_size: 1MiB\n")
    r = caller.sandbox(["sh", "-c", "head -c 4194304 /dev/zero > /tmp/big && echo FILLED; "
                                    "rm -f /tmp/big; echo small > /tmp/small && echo SMALL; true"],
                       opts=["-p", policy])
    assert r.returncode == 0, r.stderr
    assert "FILLED" not in r.stdout
    assert "SMALL" in r.stdout


def test_reins_own_state_is_hidden_when_the_workspace_holds_home(caller):
    """A workspace that contains reins' state and config (the home directory)
    must not expose the audit trails or the signing key to the agent."""
    ws = caller.workspace()
    home = ws  # the agent's workspace is the caller's home
    r = caller.sandbox(["sh", "-c", "true"], ws=ws, env={"HOME": str(home)})
    assert r.returncode == 0, r.stderr
    r = caller.sandbox(
        ["sh", "-c",
         "cat .config/reins/* 2>/dev/null && echo KEY-READ; "
         "ls .local/state/reins/trails 2>/dev/null | grep -q jsonl && echo TRAILS-LISTED; "
         "touch .local/state/reins/trails/forged 2>/dev/null && echo TRAIL-WRITTEN; true"],
        ws=ws, env={"HOME": str(home)})
    assert r.returncode == 0, r.stderr
    for leak in ("KEY-READ", "TRAILS-LISTED", "TRAIL-WRITTEN"):
        assert leak not in r.stdout, r.stdout


def test_dev_stdout_and_proc_fd_work_when_stdio_is_a_file(caller):
    """`cmd >/dev/stdout`, `tee /dev/stderr` and /proc/self/fd/N re-open the
    caller's redirected files (issue 13 item 3), and only those: a sibling of
    the log file stays out of reach."""
    ws = caller.workspace()
    logs = caller.mkdtemp(prefix="reins-logs-")
    out, err, inp = logs / "out.txt", logs / "err.txt", logs / "in.txt"
    caller.write(inp, "from stdin file\n")
    caller.write(out, "")  # the caller's own files, as a shell redirection makes them
    caller.write(err, "")
    caller.write(logs / "sibling.txt", "not for the sandbox\n")
    script = ("echo via-dev-stdout >>/dev/stdout; echo via-tee | tee /dev/stderr >/dev/null; "
              "echo via-proc >>/proc/self/fd/1; cat /dev/stdin; cat /proc/self/fd/0; "
              f"cat {logs}/sibling.txt 2>/dev/null && echo SIBLING-READ; true")
    # append mode: the re-opened descriptions share the end of the file
    with open(out, "ab") as o, open(err, "ab") as e, open(inp, "rb") as i:
        r = subprocess.run(caller.argv(["run", "-w", str(ws), "--", "sh", "-c", script]),
                           stdin=i, stdout=o, stderr=e, env=caller.env(), cwd=ws,
                           timeout=60)
    text, errs = out.read_text(), err.read_text()
    assert r.returncode == 0, errs
    assert "via-dev-stdout" in text and "via-proc" in text, text + errs
    assert "from stdin file" in text, text + errs
    assert "via-tee" in errs, errs
    assert "SIBLING-READ" not in text
    assert "Permission denied" not in errs, errs



def test_policy_reading_only_usr_runs_programs_on_a_merged_usr_host(caller):
    """/bin, /lib, /lib64 are symlinks into /usr on a merged-/usr host: a
    policy that reads /usr gets them mirrored (issue 13 item 4)."""
    if not os.path.islink("/bin") or not os.path.islink("/lib64"):
        import pytest
        pytest.skip("this host has no merged /usr")
    ws = caller.workspace()
    caller.write(ws / "p.yaml", "version: 1\nfilesystem:\n  read: [/usr]\n")
    r = caller.sandbox(["/bin/sh", "-c", "echo ran; readlink /bin"], ws=ws,
                       opts=["-p", str(ws / "p.yaml")])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ran", "usr/bin"]


def test_exec_enoent_says_what_is_missing(caller):
    """ENOENT from exec names the cause: the program outside the view, or its
    interpreter (ELF loader, #! line) outside it."""
    ws = caller.workspace()
    caller.write(ws / "p.yaml", "version: 1\nfilesystem:\n  read: [/usr/bin]\n")
    r = caller.sandbox(["/usr/bin/true"], ws=ws, opts=["-p", str(ws / "p.yaml")])
    assert r.returncode == 127
    assert "its interpreter /lib64/ld-linux" in r.stderr or "its interpreter /lib/" in r.stderr, \
        r.stderr
    caller.write(ws / "s.sh", "#!/opt/reins-absent/python\n", mode=0o755)
    r = caller.sandbox(["./s.sh"], ws=ws)
    assert r.returncode == 127
    assert "its interpreter /opt/reins-absent/python is not in the sandbox's view" in r.stderr
    r = caller.sandbox(["reins-no-such-program"], ws=ws)
    assert r.returncode == 127
    assert "not in the sandbox's view" in r.stderr and "not on the host either" in r.stderr
