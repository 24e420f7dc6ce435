"""reins oci: the OCI runtime's command line, run for real.

Each test makes a bundle (a busybox-static rootfs and a config.json written
here, in runc's shape: root, or rootless for nobody with the caller's uid
mapped to 0) and drives `reins oci` through a small driver that runs as the
caller and is a child subreaper, as conmon and the containerd shim are: the
pid in --pid-file is reparented to it when `create` exits, and its exit
status is the container's.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

BUSYBOX = shutil.which("busybox")
APPLETS = ["sh", "echo", "true", "false", "cat", "sleep", "id", "hostname", "ls", "touch",
           "mkdir", "test", "grep"]

pytestmark = pytest.mark.skipif(
    not BUSYBOX or "ELF" not in subprocess.run(["file", "-L", BUSYBOX], capture_output=True,
                                               text=True).stdout
    or "statically linked" not in subprocess.run(["file", "-L", BUSYBOX], capture_output=True,
                                                 text=True).stdout,
    reason="needs busybox-static (apt-get install busybox-static)")

# Runs as the caller: each step is [verb, args...]; "wait" waits for the
# pid in the pid file (reparented to us, a subreaper) and gives its status.
DRIVER = r'''
import ctypes, json, os, subprocess, sys, tempfile
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
reins, steps = sys.argv[1], json.loads(sys.argv[2])
out, files, consoles = [], [], []
def console(s, result):
    import array, socket
    c, _ = s.accept()
    msg, anc, _, _ = c.recvmsg(64, socket.CMSG_SPACE(4))
    fds = array.array("i")
    fds.frombytes(anc[0][2][:4])
    data = b""
    while True:
        try:
            chunk = os.read(fds[0], 4096)
        except OSError:  # EIO: every slave is closed
            break
        if not chunk:
            break
        data += chunk
    result["console"] = data.decode(errors="replace")
for step in steps:
    if step[0] == "console":
        import socket, threading
        out.append({})
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(step[1])  # before create runs: it connects at once
        listener.listen(1)
        listener.settimeout(30)
        t = threading.Thread(target=console, args=(listener, out[-1]), daemon=True)
        t.start()
        consoles.append(t)
        continue
    if step[0] == "wait":
        if not os.path.exists(step[1]):
            out.append({"exit": None})
            continue
        pid = int(open(step[1]).read())
        _, status = os.waitpid(pid, 0)
        out.append({"exit": os.waitstatus_to_exitcode(status)})
        continue
    if step[0] == "piped":  # stdout and stderr pipes, read to their end (as the shim does)
        try:
            p = subprocess.run([reins] + step[1:], capture_output=True, timeout=30,
                               stdin=subprocess.DEVNULL)
            out.append({"rc": p.returncode, "out": p.stdout.decode(errors="replace"),
                        "err": p.stderr.decode(errors="replace")})
        except subprocess.TimeoutExpired:
            out.append({"rc": None, "out": "", "err": "pipes still open after 30 s"})
        continue
    argv = [reins] + step if step[0] != "@" else step[1:]
    # files, not pipes: a created container keeps create's stdout and
    # stderr (they are its own), so nobody would read them to EOF
    o, e = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    p = subprocess.run(argv, stdout=o, stderr=e, timeout=60, stdin=subprocess.DEVNULL)
    out.append({"rc": p.returncode})
    files.append((out[-1], o, e))
for t in consoles:
    t.join(30)
for result, o, e in files:
    o.seek(0), e.seek(0)
    result["out"] = o.read().decode(errors="replace")
    result["err"] = e.read().decode(errors="replace")
print(json.dumps(out))
'''


class Oci:
    """One caller's state root and bundles."""

    def __init__(self, caller):
        self.caller = caller
        self.base = caller.mkdtemp(prefix="reins-oci-")
        self.root = self.base / "state"
        self.log = self.base / "log.json"

    def bundle(self, args, name="b", mutate=None, terminal=False):
        c = self.caller
        b = c.mkdir(self.base / name)
        rootfs = c.mkdir(b / "rootfs")
        for d in ("bin", "proc", "dev", "etc", "tmp", "sys"):
            c.mkdir(rootfs / d)
        shutil.copy(BUSYBOX, rootfs / "bin" / "busybox")
        c.own(rootfs / "bin" / "busybox")
        for a in APPLETS:
            os.symlink("busybox", rootfs / "bin" / a)
            c.own(rootfs / "bin" / a)
        c.write(rootfs / "etc" / "secret.txt", "image-secret-42\n")
        config = {
            "ociVersion": "1.0.2",
            "process": {"terminal": terminal, "user": {"uid": 0, "gid": 0}, "args": args,
                        "env": ["PATH=/bin", "TERM=xterm"], "cwd": "/",
                        "noNewPrivileges": True,
                        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]},
            "root": {"path": "rootfs", "readonly": False},
            "hostname": "oci-test",
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts"},
                {"destination": "/sys", "type": "none", "source": "/sys",
                 "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]},
                {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "nodev", "size=1m"]},
            ],
            "linux": {
                "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
                "maskedPaths": ["/proc/kcore", "/proc/timer_list", "/sys/firmware"],
                "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
            },
        }
        if c.uid != 0:  # rootless, as `runc spec --rootless` writes it
            config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": c.uid, "size": 1}]
            config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": c.gid, "size": 1}]
            config["linux"]["namespaces"].append({"type": "user"})
        if mutate:
            mutate(config)
        c.write(b / "config.json", json.dumps(config))
        return b

    def drive(self, steps, glob=()):
        """Run the steps as the caller; returns one result per step."""
        full = []
        for s in steps:
            if s[0] in ("wait", "@", "console"):
                full.append(s)
            elif s[0] == "piped":
                full.append(["piped", "--root", str(self.root), *s[1:]])
            else:
                full.append(["--root", str(self.root), "--log", str(self.log),
                             "--log-format", "json", *glob, *s])
        p = subprocess.run(self.caller.prefix + [sys.executable, "-c", DRIVER,
                                                 self.caller.reins, json.dumps(full)],
                           capture_output=True, text=True, env=self.caller.env(),
                           cwd=self.base, timeout=120)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    def log_lines(self):
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def trail_with(self, session):
        for path in Path(self.caller.home).rglob("*.jsonl"):
            text = path.read_text(errors="replace")
            if session in text:
                return [json.loads(line) for line in text.splitlines() if line.strip()]
        return None


@pytest.fixture
def oci(caller):
    o = Oci(caller)
    yield o
    # a test that failed half-way leaves no supervisor behind
    if o.root.is_dir():
        for cid in os.listdir(o.root):
            subprocess.run(caller.prefix + [caller.reins, "oci", "--root", str(o.root), "delete",
                                            "--force", cid], capture_output=True, timeout=60,
                           stdin=subprocess.DEVNULL, env=caller.env())


def ok(result):
    assert result["rc"] == 0, result
    return result


def test_lifecycle_create_start_state_delete(oci):
    b = oci.bundle(["/bin/sh", "-c", "echo hello-oci; hostname; exit 3"])
    pid_file = oci.base / "pid"
    r = oci.drive([
        ["create", "--bundle", str(b), "--pid-file", str(pid_file), "c1"],
        ["state", "c1"],
        ["@", "sh", "-c", f'p=$(cat {pid_file}); echo $p; cat /proc/$p/task/$p/children'],
        ["start", "c1"],
        ["wait", str(pid_file)],
        ["state", "c1"],
        ["kill", "c1", "9"],
        ["delete", "c1"],
        ["state", "c1"],
    ])
    ok(r[0])
    created = json.loads(ok(r[1])["out"])
    assert created["status"] == "created"
    assert created["id"] == "c1" and created["bundle"] == str(b)
    # the pid file holds the supervisor (engines wait for it); the state
    # names the container's process, the sandbox's pid 1, its child
    supervisor, *children = r[2]["out"].split()
    assert created["pid"] != int(supervisor) and str(created["pid"]) in children, r[2]
    ok(r[3])
    assert r[4]["exit"] == 3  # the supervisor's status is the container's
    stopped = json.loads(ok(r[5])["out"])
    assert stopped["status"] == "stopped"
    # runc's words: containerd takes "container not running" for "already ended"
    assert r[6]["rc"] != 0 and "container not running" in r[6]["err"], r[6]
    ok(r[7])
    assert r[8]["rc"] != 0 and "does not exist" in r[8]["err"]


def test_root_with_missing_parents_is_made(oci):
    """The containerd shim passes Root/NAMESPACE, never made on a node
    that has not run runc: made (0700), as runc does."""
    root = oci.base / "shim-root" / "k8s.io"
    r = oci.caller.run(["oci", "--root", str(root), "state", "nothing"])
    assert r.returncode != 0 and "does not exist" in r.stderr, r.stderr
    assert root.is_dir() and (root.stat().st_mode & 0o777) == 0o700


def test_container_sees_its_rootfs_and_config(oci):
    b = oci.bundle(["/bin/sh", "-c", "hostname; id -u; ls /; cat /etc/secret.txt; "
                                     "echo w > /tmp/x && cat /tmp/x; echo $TERM"])
    pid_file = oci.base / "pid"
    out = oci.base / "out"
    oci.caller.write(out, "")
    r = oci.drive([
        ["create", "--bundle", str(b), "--pid-file", str(pid_file), "c2"],
        ["start", "c2"],
        ["wait", str(pid_file)],
    ])
    # stdout of the container is create's: the driver captured it
    text = r[0]["out"]
    assert r[2]["exit"] == 0, r
    lines = text.split()
    assert lines[0] == "oci-test"  # config.json's hostname
    assert lines[1] == "0"  # process.user.uid, mapped
    assert "busybox" not in lines and "bin" in lines  # the rootfs's /, not the host's
    assert "usr" not in lines
    assert "image-secret-42" in text and "w" in lines and "xterm" in lines


def test_mounts_show_their_config_sources_in_order(oci):
    """mountinfo names each filesystem as config.json's source (what
    runtime-tools' runtimetest compares), and /dev/mqueue is given when
    listed."""
    def mutate(config):
        config["mounts"][0]["source"] = "proc-of-c"
        config["mounts"].insert(3, {"destination": "/dev/shm", "type": "tmpfs",
                                    "source": "shm"})
        config["mounts"].insert(4, {"destination": "/dev/mqueue", "type": "mqueue",
                                    "source": "mqueue"})

    b = oci.bundle(["/bin/sh", "-c", "cat /proc/self/mountinfo"], mutate=mutate)
    pid_file = oci.base / "pid"
    r = oci.drive([
        ["create", "--bundle", str(b), "--pid-file", str(pid_file), "cm"],
        ["start", "cm"],
        ["wait", str(pid_file)],
    ])
    assert r[2]["exit"] == 0, r
    seen = []
    for line in r[0]["out"].splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        sep = fields.index("-")
        seen.append((fields[4], fields[sep + 1], fields[sep + 2]))
    wanted = [("/proc", "proc", "proc-of-c"), ("/dev", "tmpfs", "tmpfs"),
              ("/dev/pts", "devpts", "devpts"), ("/dev/shm", "tmpfs", "shm"),
              ("/dev/mqueue", "mqueue", "mqueue"), ("/tmp", "tmpfs", "tmpfs")]
    places = [seen.index(w) for w in wanted]  # ValueError: missing or wrong source
    assert places == sorted(places), seen


def test_mqueue_outside_dev_is_refused(oci):
    b = oci.bundle(["/bin/true"], mutate=lambda c: c["mounts"].append(
        {"destination": "/mq", "type": "mqueue", "source": "mqueue"}))
    r = oci.drive([["create", "--bundle", str(b), "cq"]])
    assert r[0]["rc"] != 0
    assert any("mqueue is only given at /dev/mqueue" in line.get("msg", "")
               for line in oci.log_lines()), oci.log_lines()


def test_console_socket_gets_a_pty_of_the_container(oci):
    b = oci.bundle(["/bin/sh", "-c", "tty; echo on-the-console"], terminal=True)
    sock = oci.base / "console.sock"
    pid_file = oci.base / "pid"
    r = oci.drive([
        ["console", str(sock)],
        # create's own stdio are pipes the engine reads to their end: with a
        # console they are not the container's, so they close when create exits
        ["piped", "create", "--bundle", str(b), "--pid-file", str(pid_file), "--console-socket",
         str(sock), "t1"],
        ["start", "t1"],
        ["wait", str(pid_file)],
        ["delete", "t1"],
    ])
    ok(r[1]), ok(r[2]), ok(r[4])
    assert r[3]["exit"] == 0
    # the pty is the container's own (its devpts names it), the output went there
    assert "/dev/pts/0" in r[0]["console"] and "on-the-console" in r[0]["console"], r[0]
    assert "on-the-console" not in r[1]["out"]


def test_terminal_without_console_socket_is_refused(oci):
    b = oci.bundle(["/bin/true"], terminal=True)
    r = oci.drive([["create", "--bundle", str(b), "t2"]])
    assert r[0]["rc"] != 0 and "process.terminal needs --console-socket" in r[0]["err"]


def test_kill_relays_and_status_is_128_plus_signal(oci):
    b = oci.bundle(["/bin/sleep", "100"])
    pid_file = oci.base / "pid"
    r = oci.drive([
        ["create", "--bundle", str(b), "--pid-file", str(pid_file), "k1"],
        ["start", "k1"],
        ["state", "k1"],
        ["kill", "k1", "TERM"],
        ["wait", str(pid_file)],
        ["kill", "k1", "KILL"],
        ["delete", "k1"],
    ])
    ok(r[0]), ok(r[1])
    assert json.loads(r[2]["out"])["status"] == "running"
    ok(r[3])
    assert r[4]["exit"] == 128 + 15
    assert r[5]["rc"] != 0 and "not running" in r[5]["err"]
    ok(r[6])


def test_signal_right_after_start_reaches_the_handler_being_set(oci):
    """`start` returns once the command's execve succeeded, and a signal in
    the container's first instants waits (briefly) for the command to set
    its handler: runtime-tools' killsig sends one right after start."""
    b = oci.bundle(["/bin/sh", "-c", "sleep 0.1; trap 'touch /caught; exit 0' USR1; "
                                     "while :; do sleep 1; done"])
    pid_file = oci.base / "pid"
    r = oci.drive([
        ["create", "--bundle", str(b), "--pid-file", str(pid_file), "ks"],
        ["start", "ks"],
        ["kill", "ks", "USR1"],
        ["wait", str(pid_file)],
    ])
    ok(r[1]), ok(r[2])
    assert r[3]["exit"] == 0, r  # the trap ran: not killed by USR1's default action
    assert (b / "rootfs" / "caught").exists()


def test_capabilities_granted_only_inside_what_reins_allows(oci):
    """process.capabilities are kept where they act only inside the
    container's namespaces (runc's default set); the others are withheld and
    the log names them. Without the key the command keeps none."""
    def caps(c):
        names = ["CAP_CHOWN", "CAP_SETUID", "CAP_SYS_ADMIN", "CAP_NET_ADMIN"]
        c["process"]["capabilities"] = {k: names for k in
                                        ("bounding", "effective", "permitted", "inheritable")}
    show = ["/bin/sh", "-c", "grep -E '^Cap(Eff|Bnd|Prm)' /proc/self/status"]
    with_caps = oci.bundle(show, name="bc", mutate=caps)
    without = oci.bundle(show, name="bn")
    r = oci.drive([
        ["create", "--bundle", str(with_caps), "--pid-file", str(oci.base / "p1"), "cc"],
        ["start", "cc"], ["wait", str(oci.base / "p1")],
        ["create", "--bundle", str(without), "--pid-file", str(oci.base / "p2"), "cn"],
        ["start", "cn"], ["wait", str(oci.base / "p2")],
    ])
    assert r[2]["exit"] == 0 and r[5]["exit"] == 0, r
    granted = (1 << 0) | (1 << 7)  # CAP_CHOWN, CAP_SETUID
    for line in r[0]["out"].split("\n"):
        if line.startswith("Cap"):
            assert int(line.split()[1], 16) == granted, r[0]["out"]
    for line in r[3]["out"].split("\n"):
        if line.startswith("Cap"):
            assert int(line.split()[1], 16) == 0, r[3]["out"]
    assert any("CAP_SYS_ADMIN" in line.get("msg", "").upper() and "withheld" in line["msg"]
               for line in oci.log_lines()), oci.log_lines()


def test_kill_9_and_delete_force(oci):
    b = oci.bundle(["/bin/sleep", "100"])
    pid_file = oci.base / "pid"
    r = oci.drive([
        ["create", "--bundle", str(b), "--pid-file", str(pid_file), "k2"],
        ["start", "k2"],
        ["delete", "k2"],
        ["kill", "--all", "k2", "9"],
        ["wait", str(pid_file)],
        ["delete", "--force", "k2"],
    ])
    ok(r[0]), ok(r[1])
    assert r[2]["rc"] != 0 and "running" in r[2]["err"]
    ok(r[3])
    assert r[4]["exit"] == -9  # the supervisor killed: conmon reports 137
    ok(r[5])


def test_delete_force_of_a_running_container(oci):
    b = oci.bundle(["/bin/sleep", "100"])
    r = oci.drive([
        ["create", "--bundle", str(b), "f1"],
        ["start", "f1"],
        ["delete", "--force", "f1"],
        ["state", "f1"],
    ])
    ok(r[0]), ok(r[1]), ok(r[2])
    assert "does not exist" in r[3]["err"]


def test_pause_resume_ps(oci):
    b = oci.bundle(["/bin/sleep", "100"])
    r = oci.drive([
        ["create", "--bundle", str(b), "p1"],
        ["start", "p1"],
        ["ps", "--format", "json", "p1"],
        ["pause", "p1"],
        ["state", "p1"],
        ["resume", "p1"],
        ["state", "p1"],
        ["delete", "--force", "p1"],
    ])
    ok(r[0]), ok(r[1])
    pids = json.loads(ok(r[2])["out"])
    assert len(pids) == 1 and pids[0] > 1
    if r[3]["rc"] != 0:
        assert "freezer" in r[3]["err"]
        pytest.skip("no freezer cgroup for this caller here: " + r[3]["err"].strip())
    assert json.loads(r[4]["out"])["status"] == "paused"
    ok(r[5])
    assert json.loads(r[6]["out"])["status"] == "running"
    ok(r[7])


def test_features(oci):
    r = oci.drive([["features"]])
    f = json.loads(ok(r[0])["out"])
    assert f["ociVersionMax"].startswith("1.")
    assert f["linux"]["seccomp"]["enabled"] is True
    assert "org.reins.policy" in f["annotations"]


def test_bad_config_names_its_key_in_the_json_log(oci):
    def bad(c):
        c["mounts"].append({"destination": "/x", "type": "overlay", "source": "overlay"})
    b = oci.bundle(["/bin/true"], mutate=bad)
    r = oci.drive([["create", "--bundle", str(b), "bad1"], ["state", "bad1"]])
    assert r[0]["rc"] != 0
    assert "mounts[5].type 'overlay'" in r[0]["err"]
    errors = [line for line in oci.log_lines() if line.get("level") == "error"]
    assert errors and "mounts[5].type" in errors[0]["msg"] and "time" in errors[0]
    assert "does not exist" in r[1]["err"]  # nothing left behind


def test_missing_args_named(oci):
    def bad(c):
        del c["process"]["args"]
    b = oci.bundle(["/bin/true"], mutate=bad)
    r = oci.drive([["create", "--bundle", str(b), "bad2"]])
    assert r[0]["rc"] != 0 and "process.args" in r[0]["err"]


def test_policy_annotation_hides_a_denied_path_inside(oci):
    policy = oci.caller.write(oci.base / "policy.yaml",
                              "version: 1\nname: oci-deny\nextends: default\n"
                              "filesystem:\n  deny: [/etc/secret.txt]\n")
    cmd = ["/bin/sh", "-c", "cat /etc/secret.txt; echo rc=$?"]
    plain = oci.bundle(cmd, name="plain")
    denied = oci.bundle(cmd, name="denied", mutate=lambda c: c.update(
        {"annotations": {"org.reins.policy": str(policy)}}))
    pid_a, pid_b = oci.base / "pa", oci.base / "pb"
    r = oci.drive([
        ["create", "--bundle", str(plain), "--pid-file", str(pid_a), "a1"],
        ["start", "a1"], ["wait", str(pid_a)],
        ["create", "--bundle", str(denied), "--pid-file", str(pid_b), "a2"],
        ["start", "a2"], ["wait", str(pid_b)],
        ["state", "a2"],
    ])
    assert "image-secret-42" in r[0]["out"]  # the attack works without the policy
    assert "image-secret-42" not in r[3]["out"] and "rc=1" in r[3]["out"], r[3]
    assert json.loads(r[6]["out"])["annotations"]["org.reins.policy"] == str(policy)


def test_bind_of_a_denied_host_path_is_refused(oci):
    secret = oci.caller.mkdir(oci.base / "hostsecret")
    oci.caller.write(secret / "key", "host-secret-77\n")
    policy = oci.caller.write(oci.base / "policy.yaml",
                              f"version: 1\nname: oci-deny\nextends: default\n"
                              f"filesystem:\n  deny: [{secret}]\n")

    def mount(c):
        c["mounts"].append({"destination": "/mnt", "type": "bind", "source": str(secret),
                            "options": ["rbind", "ro"]})
        c["annotations"] = {"org.reins.policy": str(policy)}
    b = oci.bundle(["/bin/cat", "/mnt/key"], mutate=mount)
    r = oci.drive([["create", "--bundle", str(b), "d1"]])
    assert r[0]["rc"] != 0
    assert "mounts[5].source" in r[0]["err"] and "denied" in r[0]["err"]
    assert "host-secret-77" not in r[0]["out"]


def test_trail_records_the_container_id(oci):
    b = oci.bundle(["/bin/true"])
    pid_file = oci.base / "pid"
    state_file = oci.root / "t1" / "state.json"
    r = oci.drive([
        ["create", "--bundle", str(b), "--pid-file", str(pid_file), "t1"],
        ["@", "cat", str(state_file)],
        ["start", "t1"],
        ["wait", str(pid_file)],
        ["delete", "t1"],
    ])
    ok(r[0])
    session = json.loads(r[1]["out"])["reins"]["session"]
    assert r[3]["exit"] == 0
    records = oci.trail_with(session)
    assert records, "no trail holds the container's session"
    start = [x for x in records if x.get("type") == "session.start"]
    assert start and start[0].get("container") == "t1"
    assert all(x.get("session") == session for x in records)
    # every record names the container, checkpoints too, where it is signed
    assert all(x.get("container") == "t1" for x in records), \
        [x.get("type") for x in records if x.get("container") != "t1"]
    path = next(p for p in Path(oci.caller.home).rglob("*.jsonl")
                if session in p.read_text(errors="replace"))
    verify = oci.caller.run(["audit", "verify", str(path)])
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # the final checkpoint's container is covered by its signature alone
    lines = path.read_text().splitlines()
    last = json.loads(lines[-1])
    assert last["type"] == "checkpoint" and last["final"] is True
    last["container"] = "t2"
    forged = oci.base / "forged.jsonl"
    forged.write_text("\n".join(lines[:-1] + [json.dumps(last)]) + "\n")
    os.chmod(forged, 0o644)
    verify = oci.caller.run(["audit", "verify", str(forged)])
    assert verify.returncode != 0, verify.stdout


def test_seccomp_profile_narrows(oci):
    def profile(c):
        c["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                          "errnoRet": 1}]}
    cmd = ["/bin/sh", "-c", "mkdir /tmp/d && echo made"]
    plain = oci.bundle(cmd, name="plain")
    narrowed = oci.bundle(cmd, name="narrow", mutate=profile)
    pa, pb = oci.base / "pa", oci.base / "pb"
    r = oci.drive([
        ["create", "--bundle", str(plain), "--pid-file", str(pa), "s1"],
        ["start", "s1"], ["wait", str(pa)],
        ["create", "--bundle", str(narrowed), "--pid-file", str(pb), "s2"],
        ["start", "s2"], ["wait", str(pb)],
    ])
    assert "made" in r[0]["out"] and r[2]["exit"] == 0
    assert "made" not in r[3]["out"] and r[5]["exit"] != 0


def test_readonly_root(oci):
    b = oci.bundle(["/bin/sh", "-c", "touch /newfile && echo wrote"],
                   mutate=lambda c: c["root"].update({"readonly": True}))
    pid_file = oci.base / "pid"
    r = oci.drive([["create", "--bundle", str(b), "--pid-file", str(pid_file), "r1"],
                   ["start", "r1"], ["wait", str(pid_file)]])
    assert "wrote" not in r[0]["out"] and r[2]["exit"] != 0
    assert not (b / "rootfs" / "newfile").exists()


def test_exec_joins_with_every_protection(oci):
    policy = oci.caller.write(oci.base / "policy.yaml",
                              "version: 1\nname: oci-exec\nextends: default\n"
                              "filesystem:\n  deny: [/etc/secret.txt]\n")
    b = oci.bundle(["/bin/sleep", "100"], mutate=lambda c: c.update(
        {"annotations": {"org.reins.policy": str(policy)}}))
    state_file = oci.root / "x1" / "state.json"
    probe = ("hostname; id -u; grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; "
             "cat /etc/secret.txt; echo cat=$?; echo fds=$(ls /proc/self/fd | grep -c .); "
             "ls /proc | grep -c '^[0-9]'; exit 6")
    detach_pid = oci.base / "exec.pid"
    pid_file = oci.base / "pid"
    r = oci.drive([
        ["create", "--bundle", str(b), "--pid-file", str(pid_file), "x1"],
        ["start", "x1"],
        ["@", "cat", str(state_file)],
        ["exec", "x1", "/bin/sh", "-c", probe],
        ["exec", "--detach", "--pid-file", str(detach_pid), "x1", "/bin/sh", "-c", "exit 9"],
        ["wait", str(detach_pid)],
        ["kill", "x1", "TERM"],
        ["wait", str(pid_file)],  # the supervisor ends and closes the trail
    ])
    ok(r[0]), ok(r[1])
    assert r[3]["rc"] == 6, r[3]  # the exec'd process's status
    out = r[3]["out"]
    lines = out.split("\n")
    assert lines[0] == "oci-test" and lines[1] == "0"
    assert "CapEff:\t0000000000000000" in out and "CapBnd:\t0000000000000000" in out
    assert "NoNewPrivs:\t1" in out and "Seccomp:\t2" in out
    assert "image-secret-42" not in out and "cat=1" in out  # the policy's deny, inside
    assert "fds=4" in out  # 0-2 and ls's own: nothing of reins' leaked (CVE-2024-21626)
    assert int(lines[-2]) <= 6  # only the container's processes: init, sleep, sh, ls, grep
    ok(r[4])
    assert r[5]["exit"] == 9  # --detach: reparented to us, as to conmon
    ok(r[6])
    session = json.loads(r[2]["out"])["reins"]["session"]
    records = oci.trail_with(session) or []
    execs = [x for x in records if x.get("type") == "exec"]
    assert any("exit 9" in json.dumps(x) for x in execs), execs  # audited as the command's


def test_exec_of_a_created_container_is_refused(oci):
    b = oci.bundle(["/bin/sleep", "100"])
    r = oci.drive([["create", "--bundle", str(b), "x2"], ["exec", "x2", "true"],
                   ["delete", "--force", "x2"]])
    ok(r[0])
    assert r[1]["rc"] != 0 and "exec needs a running one" in r[1]["err"]
    ok(r[2])


def test_hooks_run_on_the_host_with_the_state(oci):
    out = oci.base / "hooks"
    oci.caller.mkdir(out)

    def hook(name):
        return {"path": "/bin/sh", "args": ["sh", "-c", f"cat > {out}/{name}"]}

    def hooks(c):
        c["hooks"] = {"createRuntime": [hook("createRuntime")], "prestart": [hook("prestart")],
                      "poststart": [hook("poststart")], "poststop": [hook("poststop")]}
    b = oci.bundle(["/bin/true"], mutate=hooks)
    pid_file = oci.base / "pid"
    r = oci.drive([
        ["create", "--bundle", str(b), "--pid-file", str(pid_file), "hk1"],
        ["@", "ls", str(out)],
        ["start", "hk1"], ["wait", str(pid_file)],
        ["delete", "hk1"],
    ])
    ok(r[0])
    assert r[1]["out"].split() == ["createRuntime", "prestart"]  # before start
    assert r[3]["exit"] == 0
    ok(r[4])
    for name in ("createRuntime", "prestart", "poststart", "poststop"):
        state = json.loads((out / name).read_text())
        assert state["id"] == "hk1" and state["bundle"] == str(b), name
    assert json.loads((out / "poststop").read_text())["status"] == "stopped"


def test_failing_prestart_hook_fails_create(oci):
    b = oci.bundle(["/bin/true"], mutate=lambda c: c.update(
        {"hooks": {"prestart": [{"path": "/bin/false"}]}}))
    r = oci.drive([["create", "--bundle", str(b), "hk2"], ["state", "hk2"]])
    assert r[0]["rc"] != 0 and "hooks.prestart[0] /bin/false failed" in r[0]["err"]
    assert "does not exist" in r[1]["err"]


def test_hooks_inside_the_container_are_refused(oci):
    b = oci.bundle(["/bin/true"], mutate=lambda c: c.update(
        {"hooks": {"createContainer": [{"path": "/bin/true"}]}}))
    r = oci.drive([["create", "--bundle", str(b), "hk3"]])
    assert r[0]["rc"] != 0 and "hooks.createContainer" in r[0]["err"]


def test_runc_style_invocations(oci):
    """An engine pointed at the binary: `reins --root ...` and a reins-oci link."""
    link = oci.base / "reins-oci"
    os.symlink(oci.caller.reins, link)
    b = oci.bundle(["/bin/true"])
    r = oci.drive([
        ["@", oci.caller.reins, "--root", str(oci.root), "create", "--bundle", str(b), "x1"],
        ["@", str(link), "--root", str(oci.root), "state", "x1"],
        ["@", oci.caller.reins, "--policy=default", "--root", str(oci.root), "state", "x1"],
        ["@", str(link), "--root", str(oci.root), "delete", "--force", "x1"],
    ])
    ok(r[0])
    assert json.loads(ok(r[1])["out"])["status"] == "created"
    # an engine's runtime flag (podman --runtime-flag policy=NAME) comes first
    assert json.loads(ok(r[2])["out"])["status"] == "created"
    ok(r[3])


def test_root_of_a_user_namespace_of_its_own(oci):
    """Rootless podman runs the runtime as uid 0 of a namespace mapping only
    the user's ids: the container's map is the identity of exactly those."""
    if not shutil.which("unshare"):
        pytest.skip("no unshare(1)")
    def no_maps(c):  # as root's config.json: the runtime's own namespace
        c["linux"].pop("uidMappings", None)
        c["linux"].pop("gidMappings", None)
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "user"]
    b = oci.bundle(["/bin/sh", "-c", "id -u; echo nested-ok"], mutate=no_maps)
    pid_file = oci.base / "pid"
    r = oci.drive([
        ["@", "unshare", "--user", "--map-root-user", oci.caller.reins, "oci", "--root",
         str(oci.root), "create", "--bundle", str(b), "--pid-file", str(pid_file), "n1"],
        ["start", "n1"],
        ["wait", str(pid_file)],
        ["delete", "n1"],
    ])
    ok(r[0]), ok(r[1])
    assert r[2]["exit"] == 0 and "nested-ok" in r[0]["out"], r
    ok(r[3])


def test_a_pods_ipc_and_uts_namespaces_are_joined_by_path(oci):
    """CRI gives a pod's containers the paths of its sandbox's ipc, uts and
    network namespaces: ipc and uts are joined (the hostname set in the
    joined one, /dev/mqueue of its queues); the network one is not (the
    policy's network stays the container's), and the log says so."""
    if oci.caller.uid != 0:
        pytest.skip("joining a namespace by path needs CAP_SYS_ADMIN (root)")
    pod = subprocess.Popen(["unshare", "--ipc", "--uts", "--net", "--fork", "sleep", "60"])
    try:
        for _ in range(100):  # until unshare has forked sleep in the new namespaces
            kids = Path(f"/proc/{pod.pid}/task/{pod.pid}/children").read_text().split()
            if kids:
                break
            time.sleep(0.05)
        holder = int(kids[0])

        def join(c):
            c["linux"]["namespaces"] = [
                {"type": "pid"}, {"type": "mount"},
                {"type": "ipc", "path": f"/proc/{holder}/ns/ipc"},
                {"type": "uts", "path": f"/proc/{holder}/ns/uts"},
                {"type": "network", "path": f"/proc/{holder}/ns/net"}]
            c["hostname"] = "pod-name"
            c["mounts"].insert(3, {"destination": "/dev/mqueue", "type": "mqueue",
                                   "source": "mqueue"})
        b = oci.bundle(["/bin/sh", "-c", "hostname; ls -d /dev/mqueue; sleep 30"], mutate=join)
        r = oci.drive([["create", "--bundle", str(b), "j1"], ["start", "j1"], ["state", "j1"]])
        ok(r[0]), ok(r[1])
        init = json.loads(r[2]["out"])["pid"]  # the sandbox's pid 1, as the host sees it
        for ns in ("ipc", "uts"):
            assert os.readlink(f"/proc/{init}/ns/{ns}") == os.readlink(f"/proc/{holder}/ns/{ns}")
        assert os.readlink(f"/proc/{init}/ns/net") != os.readlink(f"/proc/{holder}/ns/net")
        assert subprocess.run(["nsenter", "-t", str(holder), "--uts", "hostname"],
                              capture_output=True, text=True).stdout.strip() == "pod-name"
        assert any("network namespace" in line.get("msg", "") and "not joined" in line["msg"]
                   for line in oci.log_lines()), oci.log_lines()
        oci.drive([["delete", "--force", "j1"]])
    finally:
        pod.kill()
        pod.wait()


def test_joining_the_hosts_own_ipc_or_uts_namespace_is_refused(oci):
    """Not even by path: the container would share the host's System V IPC,
    or set the host's name."""
    for ns, proc in (("ipc", "ipc"), ("uts", "uts")):
        def join(c, ns=ns, proc=proc):
            c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != ns]
            c["linux"]["namespaces"].append({"type": ns, "path": f"/proc/1/ns/{proc}"})
        b = oci.bundle(["/bin/true"], name="h-" + ns, mutate=join)
        r = oci.drive([["create", "--bundle", str(b), "h-" + ns]])
        assert r[0]["rc"] != 0
        assert any(f"host's own {ns} namespace" in line.get("msg", "")
                   or "Permission denied" in line.get("msg", "")  # nobody: not theirs
                   for line in oci.log_lines()), oci.log_lines()
    assert os.uname().nodename != "oci-test"


def test_joining_a_mount_or_pid_namespace_is_refused(oci):
    for ns in ("mount", "pid"):
        def join(c, ns=ns):
            c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != ns]
            c["linux"]["namespaces"].append({"type": ns, "path": f"/proc/self/ns/{ns[:3]}"})
        b = oci.bundle(["/bin/true"], name="b-" + ns, mutate=join)
        r = oci.drive([["create", "--bundle", str(b), "r-" + ns]])
        assert r[0]["rc"] != 0
        assert any(f"joining an existing {ns} namespace" in line.get("msg", "")
                   for line in oci.log_lines()), oci.log_lines()


def test_cgroups_path_and_cpu_resources_are_honoured(oci):
    """linux.cgroupsPath places the container's cgroups (absolute: from each
    hierarchy's root), with pids, cpu shares, quota and period as written;
    delete removes them."""
    if oci.caller.uid != 0 or not os.path.isdir("/sys/fs/cgroup/pids"):
        pytest.skip("cgroup v1 hierarchies, writable as root only, hold the limits here")
    path = f"/reins-test-{os.getpid()}-{oci.base.name}"

    def resources(c):
        c["linux"]["cgroupsPath"] = path
        c["linux"]["resources"] = {"pids": {"limit": 321},
                                   "cpu": {"shares": 512, "quota": 20000, "period": 50000}}
    b = oci.bundle(["/bin/sleep", "30"], mutate=resources)
    r = oci.drive([["create", "--bundle", str(b), "cg"], ["start", "cg"]])
    ok(r[0]), ok(r[1])
    try:
        pids = Path("/sys/fs/cgroup/pids" + path)
        cpu = Path("/sys/fs/cgroup/cpu" + path)
        assert (pids / "pids.max").read_text().strip() == "321"
        assert (cpu / "cpu.shares").read_text().strip() == "512"
        assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "20000"
        assert (cpu / "cpu.cfs_period_us").read_text().strip() == "50000"
        assert (pids / "tasks").read_text().split(), "the container is in it"
    finally:
        ok(oci.drive([["delete", "--force", "cg"]])[0])
    assert not pids.exists() and not cpu.exists()


def test_device_pass_through_is_refused(oci):
    b = oci.bundle(["/bin/true"], mutate=lambda c: c["linux"].update(devices=[
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]))
    r = oci.drive([["create", "--bundle", str(b), "dv"]])
    assert r[0]["rc"] != 0
    assert any("linux.devices" in line.get("msg", "") for line in oci.log_lines())


def test_cgroups_path_with_dot_dot_is_refused(oci):
    b = oci.bundle(["/bin/true"], mutate=lambda c: c["linux"].update(cgroupsPath="/a/../../b"))
    r = oci.drive([["create", "--bundle", str(b), "cd"]])
    assert r[0]["rc"] != 0
    assert any("cgroupsPath" in line.get("msg", "") for line in oci.log_lines())


def test_systemd_cgroup_refused_without_systemd(oci):
    if os.path.isdir("/run/systemd/system"):
        pytest.skip("systemd runs here")
    b = oci.bundle(["/bin/true"])
    r = oci.drive([["create", "--bundle", str(b), "y1"]], glob=["--systemd-cgroup"])
    assert r[0]["rc"] != 0 and "systemd is not running" in r[0]["err"]


def test_same_states_as_runc(oci):
    """runc is the reference: the same bundle, the same states and status."""
    if oci.caller.uid != 0 or not shutil.which("runc"):
        pytest.skip("runc as root only here")
    b = oci.bundle(["/bin/sh", "-c", "exit 7"])
    seen = {}
    for name, argv in (("runc", ["@", "runc"]), ("reins", ["@", oci.caller.reins, "oci"])):
        root = str(oci.base / f"root-{name}")
        pid_file = oci.base / f"pid-{name}"
        r = oci.drive([
            argv + ["--root", root, "create", "--bundle", str(b), "--pid-file", str(pid_file),
                    "cmp"],
            argv + ["--root", root, "state", "cmp"],
            argv + ["--root", root, "start", "cmp"],
            ["wait", str(pid_file)],
            argv + ["--root", root, "state", "cmp"],
            argv + ["--root", root, "delete", "cmp"],
        ])
        assert r[0]["rc"] == 0, (name, r[0])
        seen[name] = (json.loads(r[1]["out"])["status"], r[3]["exit"],
                      json.loads(r[4]["out"])["status"], r[5]["rc"],
                      sorted(json.loads(r[1]["out"]).keys()))
    assert seen["reins"][:4] == seen["runc"][:4]
    assert set(seen["runc"][4]) <= set(seen["reins"][4]) | {"created", "owner", "rootless", "rootfs"}
