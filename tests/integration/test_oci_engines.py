"""Engines driving reins as their OCI runtime: podman (through conmon) and
containerd 1.6 (through its runc v2 shim), end to end.

Every engine test runs twice: with runc, which proves the harness works on
this machine, and with reins (`reins-oci`, the argv[0] alias of `reins oci`),
the product. Engines run as root; rootless podman is tried as nobody at the
end. Each test session has its own podman storage (root, runroot, tmpdir,
containers.conf, storage.conf) and its own containerd (root, state, socket),
all under a temp dir: the tests never touch the machine's engines and can
run beside other sessions.

Host facts this is built around (issue 17): cgroups v1 hybrid, so podman
uses the cgroupfs manager; root lacks CAP_SYS_RESOURCE, so podman's default
rlimits (raised to the hard limit) fail in the runtime: containers.conf sets
`default_ulimits` to values root may set.

Images are busybox-static made offline (oci_images.py).
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

import oci_images
from conftest import NOBODY_GID, NOBODY_UID, REPO, PtySession

TIMEOUT = 60

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the engines run as root here")

CONTAINERS_CONF = """\
[containers]
# root has no CAP_SYS_RESOURCE on the test machines: podman's default
# (nofile and nproc at the hard limit) makes every runtime fail in setrlimit
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


def _tempdir(prefix):
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    return Path(d)


# --------------------------------------------------------------------------
# the runtimes


@pytest.fixture(scope="session")
def images_dir():
    try:
        return oci_images.images()
    except RuntimeError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def reins_oci(reins_bin):
    """A `reins-oci` link to the binary under test: engines are given one
    path and run it as the runtime, so reins must see argv[0] reins-oci."""
    d = _tempdir("reins-oci-bin-")
    link = d / "reins-oci"
    os.symlink(reins_bin, link)
    yield str(link)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def state_home():
    """XDG dirs for what reins writes as root (trails, keys), private to the
    session; engines pass their environment down to the runtime."""
    d = _tempdir("reins-oci-state-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def runtime_env(state_home):
    env = dict(os.environ)
    env["XDG_STATE_HOME"] = str(state_home / "state")
    env["XDG_CONFIG_HOME"] = str(state_home / "config")
    return env


@pytest.fixture(params=["runc", "reins"])
def runtime(request, reins_oci):
    if request.param == "runc":
        path = shutil.which("runc")
        if path is None:
            pytest.skip("runc is not installed (Debian package runc)")
        return path
    return reins_oci


# --------------------------------------------------------------------------
# podman


class Podman:
    """podman with storage, runtime state and configuration of its own."""

    def __init__(self, base, env):
        self.base = base
        for d in ("root", "runroot", "tmp"):
            (base / d).mkdir()
        # conmon runs the runtime with conmon_env_vars alone (default: PATH):
        # the XDG dirs go there, or reins would write to root's home
        passed = [f"{k}={env[k]}" for k in ("PATH", "XDG_STATE_HOME", "XDG_CONFIG_HOME")]
        conf = CONTAINERS_CONF.replace("[engine]\n", "[engine]\nconmon_env_vars = "
                                       + json.dumps(passed) + "\n")
        (base / "containers.conf").write_text(conf)
        (base / "storage.conf").write_text(
            f'[storage]\ndriver = "vfs"\ngraphroot = "{base}/root"\n'
            f'runroot = "{base}/runroot"\n')
        self.env = dict(env)
        self.env["CONTAINERS_CONF"] = str(base / "containers.conf")
        self.env["CONTAINERS_STORAGE_CONF"] = str(base / "storage.conf")
        # vfs: no mounts left behind; a busybox image is 2 MB a copy
        self.prefix = ["podman", "--root", str(base / "root"), "--runroot",
                       str(base / "runroot"), "--tmpdir", str(base / "tmp"),
                       "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"]

    def argv(self, runtime, *args):
        # podman stores the runtime by name with the container: every call
        # on it must name the same runtime again
        return self.prefix + (["--runtime", runtime] if runtime else []) + list(args)

    def __call__(self, runtime, *args, check=False, timeout=TIMEOUT, input=None):
        r = subprocess.run(self.argv(runtime, *args), env=self.env, capture_output=True,
                           text=True, timeout=timeout, input=input,
                           stdin=None if input is not None else subprocess.DEVNULL)
        if check:
            assert r.returncode == 0, f"podman {' '.join(args)}: {r.returncode}\n{r.stderr}"
        return r

    def status(self, runtime, name):
        return self(runtime, "inspect", "--format", "{{.State.Status}}", name,
                    check=True).stdout.strip()


@pytest.fixture(scope="session")
def podman(images_dir, state_home):
    if shutil.which("podman") is None or shutil.which("conmon") is None:
        pytest.skip("podman or conmon is not installed (Debian packages podman, conmon)")
    base = _tempdir("reins-podman-")
    p = Podman(base, runtime_env(state_home))
    p(None, "import", str(images_dir / "rootfs.tar"), oci_images.PODMAN_TAG, check=True)
    yield p
    p(None, "rm", "--all", "--force", "--time", "0", timeout=120)
    p(None, "system", "reset", "--force", timeout=120)
    shutil.rmtree(base, ignore_errors=True)


def name():
    return "t-" + uuid.uuid4().hex[:12]


RUN = ("run", "--network", "none")


def test_podman_run_rm_true(podman, runtime):
    r = podman(runtime, *RUN, "--rm", oci_images.PODMAN_TAG, "true")
    assert r.returncode == 0, r.stderr


def test_podman_run_output_and_exit_status(podman, runtime):
    r = podman(runtime, *RUN, "--rm", oci_images.PODMAN_TAG, "sh", "-c",
               "echo out-$((6*7)); echo err >&2; exit 7")
    assert r.returncode == 7, r.stderr
    assert r.stdout == "out-42\n"
    assert "err" in r.stderr


def test_podman_run_killed_by_signal(podman, runtime):
    """A container killed from outside exits 128+signal (pid 1 cannot be
    killed from inside its own pid namespace)."""
    n = name()
    podman(runtime, *RUN, "-d", "--name", n, oci_images.PODMAN_TAG, "sleep", "1000",
           check=True)
    try:
        podman(runtime, "kill", "--signal", "KILL", n, check=True)
        r = podman(runtime, "wait", n, check=True)
        assert r.stdout.strip() == str(128 + signal.SIGKILL)
    finally:
        podman(runtime, "rm", "--force", "--time", "0", n)


def test_podman_command_not_found(podman, runtime):
    r = podman(runtime, *RUN, "--rm", oci_images.PODMAN_TAG, "/no/such/command")
    # podman's convention: 127 when the command does not exist
    assert r.returncode in (126, 127), (r.returncode, r.stderr)


def test_podman_sees_the_spec(podman, runtime):
    """The container gets what podman's config.json asks for: hostname,
    user, env, working directory, rlimits, a pid namespace of its own."""
    me = os.getpid()  # a host process: the container must not see it
    r = podman(runtime, *RUN, "--rm", "--hostname", "agent-7", "--user", "65534:65534",
               "--env", "GREETING=hello", "--workdir", "/tmp", oci_images.PODMAN_TAG,
               "sh", "-c", 'hostname; id -u; id -g; echo "$GREETING"; pwd; ulimit -n; '
               f'test -e /proc/{me} && echo host-pid-visible; [ $$ -lt 10 ] && echo own-pid-ns')
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["agent-7", "65534", "65534", "hello", "/tmp", "1024",
                                "own-pid-ns"]


def test_podman_default_rlimits(podman, runtime, tmp_path):
    """Without default_ulimits podman asks for nofile and nproc at the
    host's hard limit. runc needs CAP_SYS_RESOURCE for that; reins lowers
    what it cannot set to the policy's open_files instead of failing."""
    conf = tmp_path / "containers.conf"
    text = (podman.base / "containers.conf").read_text()
    conf.write_text("\n".join(line for line in text.splitlines()
                              if not line.startswith("default_ulimits")) + "\n")
    env = dict(podman.env, CONTAINERS_CONF=str(conf))
    r = subprocess.run(podman.argv(runtime, *RUN, "--rm", oci_images.PODMAN_TAG, "sh", "-c",
                                   "ulimit -n"),
                       env=env, capture_output=True, text=True, timeout=TIMEOUT,
                       stdin=subprocess.DEVNULL)
    if os.path.basename(runtime) != "reins-oci" and r.returncode != 0:
        assert "rlimit" in r.stderr, r.stderr
        pytest.skip("runc cannot set podman's default rlimits here (no CAP_SYS_RESOURCE)")
    assert r.returncode == 0, r.stderr
    if os.path.basename(runtime) == "reins-oci":
        # the default preset's limits.open_files
        assert r.stdout.strip() == "4096", r.stdout


def test_podman_lifecycle(podman, runtime):
    """create, start, pause, unpause, stop, rm: the calls conmon makes."""
    n = name()
    podman(runtime, "create", "--network", "none", "--name", n, oci_images.PODMAN_TAG,
           "sleep", "1000", check=True)
    try:
        assert podman.status(runtime, n) == "created"
        podman(runtime, "start", n, check=True)
        assert podman.status(runtime, n) == "running"
        podman(runtime, "pause", n, check=True)
        assert podman.status(runtime, n) == "paused"
        podman(runtime, "unpause", n, check=True)
        assert podman.status(runtime, n) == "running"
        # sleep has no SIGTERM handler and ignores it as pid 1: stop must
        # escalate to SIGKILL
        podman(runtime, "stop", "--time", "1", n, check=True)
        assert podman.status(runtime, n) == "exited"
        code = podman(runtime, "inspect", "--format", "{{.State.ExitCode}}", n,
                      check=True).stdout.strip()
        assert code in (str(128 + signal.SIGKILL), str(128 + signal.SIGTERM)), code
    finally:
        podman(runtime, "rm", "--force", "--time", "0", n)
    r = podman(runtime, "container", "exists", n)
    assert r.returncode == 1


def test_podman_exec(podman, runtime):
    """exec into a running container: exit status, output, same pid namespace,
    and again after pause/unpause."""
    n = name()
    podman(runtime, "run", "-d", "--network", "none", "--name", n, oci_images.PODMAN_TAG,
           "sleep", "1000", check=True)
    try:
        r = podman(runtime, "exec", n, "sh", "-c", "echo in-$(hostname); exit 4")
        assert r.returncode == 4, r.stderr
        assert r.stdout.startswith("in-")
        r = podman(runtime, "exec", n, "ps", "-o", "args")
        assert "sleep 1000" in r.stdout.splitlines(), r.stdout
        podman(runtime, "pause", n, check=True)
        podman(runtime, "unpause", n, check=True)
        r = podman(runtime, "exec", "--user", "65534", n, "id", "-u")
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "65534"
    finally:
        podman(runtime, "rm", "--force", "--time", "0", n)


def test_podman_kill_delivers_the_signal(podman, runtime):
    n = name()
    podman(runtime, "run", "-d", "--network", "none", "--name", n, oci_images.PODMAN_TAG,
           "sh", "-c", "trap 'exit 42' USR1; while :; do sleep 0.1; done", check=True)
    try:
        podman(runtime, "kill", "--signal", "USR1", n, check=True)
        r = podman(runtime, "wait", n, check=True)
        assert r.stdout.strip() == "42"
    finally:
        podman(runtime, "rm", "--force", "--time", "0", n)


def test_podman_attach_with_a_terminal(podman, runtime, pty_sessions):
    """`run -it`: conmon hands the runtime a console socket and relays the pty."""
    s = pty_sessions(PtySession(podman.argv(runtime, *RUN, "-it", "--rm",
                                            oci_images.PODMAN_TAG, "sh"),
                                cwd="/", env=podman.env, rows=24, cols=80))
    s.send(b"tty; echo sum-$((40+2))\r")
    s.expect(rb"/dev/pts/\d+")
    s.expect(rb"sum-42")
    s.send(b"exit 5\r")
    assert s.wait(TIMEOUT) == 5, s.output()


def test_podman_exec_with_a_terminal(podman, runtime, pty_sessions):
    n = name()
    podman(runtime, "run", "-d", "--network", "none", "--name", n, oci_images.PODMAN_TAG,
           "sleep", "1000", check=True)
    try:
        s = pty_sessions(PtySession(podman.argv(runtime, "exec", "-it", n, "sh", "-c",
                                                "tty; exit 3"),
                                    cwd="/", env=podman.env, rows=24, cols=80))
        assert s.wait(TIMEOUT) == 3, s.output()
        assert b"/dev/pts/" in s.buf, s.output()
    finally:
        podman(runtime, "rm", "--force", "--time", "0", n)


# --------------------------------------------------------------------------
# containerd 1.6, through the runc v2 shim


class Containerd:
    """A containerd of our own: its root, state and socket under a temp dir.
    The CRI plugin is off (nothing here speaks CRI; see
    test_containerd_takes_the_example_cri_config)."""

    def __init__(self, base, env):
        self.base = base
        self.sock = base / "containerd.sock"
        self.config = base / "config.toml"
        self.config.write_text(
            "version = 2\n"
            f'root = "{base}/root"\nstate = "{base}/state"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f'[grpc]\n  address = "{self.sock}"\n'
            f'[ttrpc]\n  address = "{self.sock}.ttrpc"\n'
            '[debug]\n  address = ""\n[metrics]\n  address = ""\n')
        self.env = env
        self.log = open(base / "containerd.log", "wb")
        self.proc = subprocess.Popen(["containerd", "--config", str(self.config)],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, env=env)
        deadline = time.monotonic() + TIMEOUT
        while self.ctr("version").returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("containerd did not start: "
                                     + (base / "containerd.log").read_text()[-2000:])
            time.sleep(0.1)

    def ctr(self, *args, check=False, timeout=TIMEOUT):
        r = subprocess.run(["ctr", "--address", str(self.sock), "--namespace", "reins-test",
                            *args], env=self.env, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if check:
            assert r.returncode == 0, f"ctr {' '.join(args)}: {r.returncode}\n{r.stderr}"
        return r

    def stop(self):
        for c in self.ctr("containers", "list", "--quiet").stdout.split():
            self.ctr("task", "kill", "--signal", "KILL", c)
            self.ctr("task", "delete", "--force", c)
            self.ctr("containers", "delete", c)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        # a runtime call that hung (a failing test) leaves its shim and the
        # runtime's processes behind: ours name our directory on their
        # command line
        for pid in pids_naming(str(self.base)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # snapshots and task roots are mounts under base: deepest first
        for mnt in sorted(mounts_under(str(self.base)), key=len, reverse=True):
            subprocess.run(["umount", "--lazy", mnt], capture_output=True)


def errors_in(log_path, count=5):
    lines = [line for line in log_path.read_text(errors="replace").splitlines()
             if "level=error" in line]
    return lines[-count:]


def pids_naming(text):
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(int(d))
        except OSError:
            pass
    return found


def mounts_under(prefix):
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4]
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return found


@pytest.fixture(scope="session")
def containerd(images_dir, state_home):
    if shutil.which("containerd") is None or shutil.which("ctr") is None:
        pytest.skip("containerd is not installed (Debian package containerd)")
    if not (images_dir / "busybox-oci.tar").exists():
        pytest.skip("no OCI image archive: umoci is not installed (Debian package umoci)")
    base = _tempdir("reins-containerd-")
    c = Containerd(base, runtime_env(state_home))
    try:
        c.ctr("images", "import", "--base-name", "localhost/reins-busybox",
              str(images_dir / "busybox-oci.tar"), check=True, timeout=120)
        yield c
    finally:
        c.stop()
        shutil.rmtree(base, ignore_errors=True)


CTR_IMAGE = f"localhost/reins-busybox:{oci_images.OCI_TAG}"


def ctr_run(containerd, runtime, *flags):
    # --runc-binary is the shim's BinaryName option: the runc v2 shim runs
    # that path instead of runc for every runtime call; --runc-root keeps
    # the runtime's state under our directory
    return ["run", *flags, "--runtime", "io.containerd.runc.v2", "--runc-binary", runtime,
            "--runc-root", str(containerd.base / "runtime-state")]


def test_containerd_run_exit_status(containerd, runtime):
    r = containerd.ctr(*ctr_run(containerd, runtime, "--rm"), CTR_IMAGE, name(), "sh", "-c",
                       "echo out-$((6*7)); exit 3")
    assert r.returncode == 3, r.stderr
    assert r.stdout.strip() == "out-42"


def test_containerd_run_with_a_terminal(containerd, runtime, pty_sessions):
    """`ctr run -t`: the shim hands the runtime a console socket."""
    argv = ["ctr", "--address", str(containerd.sock), "--namespace", "reins-test",
            *ctr_run(containerd, runtime, "--rm", "-t"), CTR_IMAGE, name(), "sh", "-c", "tty; exit 5"]
    s = pty_sessions(PtySession(argv, cwd="/", env=containerd.env, rows=24, cols=80))
    assert s.wait(TIMEOUT) == 5, s.output()
    assert b"/dev/pts/" in s.buf, s.output()


def test_containerd_task_lifecycle(containerd, runtime):
    """The shim's calls: create, start, pause, resume, kill, delete."""
    n = name()
    containerd.ctr(*ctr_run(containerd, runtime, "-d"), CTR_IMAGE, n, "sleep", "1000",
                   check=True)
    try:
        assert task_status(containerd, n) == "RUNNING"
        containerd.ctr("task", "pause", n, check=True)
        assert task_status(containerd, n) == "PAUSED"
        containerd.ctr("task", "resume", n, check=True)
        assert task_status(containerd, n) == "RUNNING"
        containerd.ctr("task", "kill", "--signal", "KILL", n, check=True)
        deadline = time.monotonic() + TIMEOUT
        while task_status(containerd, n) != "STOPPED":
            assert time.monotonic() < deadline, task_status(containerd, n)
            time.sleep(0.1)
        containerd.ctr("task", "delete", n, check=True)
        assert task_status(containerd, n) == ""
    finally:
        containerd.ctr("task", "delete", "--force", n)
        containerd.ctr("containers", "delete", n)


def test_containerd_task_exec(containerd, runtime):
    n = name()
    containerd.ctr(*ctr_run(containerd, runtime, "-d"), CTR_IMAGE, n, "sleep", "1000",
                   check=True)
    try:
        r = containerd.ctr("task", "exec", "--exec-id", "e1", n, "sh", "-c", "echo in; exit 6")
        assert r.returncode == 6, r.stderr
        assert r.stdout.strip() == "in"
    finally:
        containerd.ctr("task", "kill", "--signal", "KILL", n)
        containerd.ctr("task", "delete", "--force", n)
        containerd.ctr("containers", "delete", n)


def task_status(containerd, n):
    for line in containerd.ctr("task", "list").stdout.splitlines():
        f = line.split()
        if f and f[0] == n:
            return f[-1]
    return ""


def test_containerd_takes_the_example_cri_config():
    """examples/kubernetes/containerd-config.toml: containerd parses it and
    the CRI runtime `reins` comes out as a runc v2 runtime whose BinaryName
    is reins-oci. (kubelet is not installable here: this is as far as the
    RuntimeClass goes on this machine.)"""
    if shutil.which("containerd") is None:
        pytest.skip("containerd is not installed (Debian package containerd)")
    example = REPO / "examples" / "kubernetes" / "containerd-config.toml"
    r = subprocess.run(["containerd", "--config", str(example), "config", "dump"],
                       capture_output=True, text=True, timeout=TIMEOUT,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    import tomllib
    dump = tomllib.loads(r.stdout)
    rt = dump["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["reins"]
    assert rt["runtime_type"] == "io.containerd.runc.v2"
    assert rt["options"]["BinaryName"] == "/usr/local/bin/reins-oci"


def test_cri_runtime_class_reins(images_dir, runtime, state_home, tmp_path):
    """What kubelet does for a pod with runtimeClassName: reins, without
    kubelet: a containerd with the CRI plugin and the runtime `reins` of
    examples/kubernetes/containerd-config.toml (BinaryName pointed at the
    runtime under test), driven over CRI gRPC: RunPodSandbox with handler
    reins, CreateContainer, StartContainer, ContainerStatus. The pod runs on
    the host's network (no CNI here). With reins, a container annotation
    org.reins.policy (passed through by container_annotations) hides a file
    of the image that its sibling without the annotation reads."""
    is_reins = os.path.basename(runtime) == "reins-oci"
    pytest.importorskip("grpc", reason="python3-grpcio is not installed")
    import cri_client
    if shutil.which("containerd") is None:
        pytest.skip("containerd is not installed (Debian package containerd)")
    if not (images_dir / "busybox-oci.tar").exists():
        pytest.skip("no OCI image archive: umoci is not installed (Debian package umoci)")
    base = _tempdir("reins-cri-")
    example = (REPO / "examples" / "kubernetes" / "containerd-config.toml").read_text()
    assert 'BinaryName = "/usr/local/bin/reins-oci"' in example
    runtimes = example[example.index("\n[plugins.") + 1:].replace(
        'BinaryName = "/usr/local/bin/reins-oci"',
        f'BinaryName = "{runtime}"\n  Root = "{base}/runtime-state"')
    sock = base / "containerd.sock"
    # reins creates its --root but not missing parents (runc does: reported)
    for d in ("cni-bin", "cni-conf", "logs", "runtime-state"):
        (base / d).mkdir()
    (base / "config.toml").write_text(
        "version = 2\n"
        f'root = "{base}/root"\nstate = "{base}/state"\n'
        f'[grpc]\n  address = "{sock}"\n[ttrpc]\n  address = "{sock}.ttrpc"\n'
        '[debug]\n  address = ""\n[metrics]\n  address = ""\n'
        '[plugins."io.containerd.grpc.v1.cri"]\n'
        f'  sandbox_image = "localhost/reins-busybox:{oci_images.PAUSE_TAG}"\n'
        '  stream_server_address = "127.0.0.1"\n  stream_server_port = "0"\n'
        "  restrict_oom_score_adj = true\n"
        '[plugins."io.containerd.grpc.v1.cri".cni]\n'
        f'  bin_dir = "{base}/cni-bin"\n  conf_dir = "{base}/cni-conf"\n'
        + runtimes)
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nname: cri-test\nextends: default\n"
                      'filesystem:\n  deny: ["/etc/group"]\n')
    os.chmod(tmp_path, 0o755)
    os.chmod(policy, 0o644)
    env = runtime_env(state_home)
    log = open(base / "containerd.log", "wb")
    proc = subprocess.Popen(["containerd", "--config", str(base / "config.toml")],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
    rs = None
    pod = None
    try:
        def ctr(*args):
            return subprocess.run(["ctr", "--address", str(sock), "--namespace", "k8s.io", *args],
                                  capture_output=True, text=True, timeout=120, env=env,
                                  stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + TIMEOUT
        while ctr("version").returncode != 0:
            assert proc.poll() is None and time.monotonic() < deadline, \
                (base / "containerd.log").read_text()[-2000:]
            time.sleep(0.1)
        r = ctr("images", "import", "--base-name", "localhost/reins-busybox",
                str(images_dir / "busybox-oci.tar"))
        assert r.returncode == 0, r.stderr
        rs = cri_client.RuntimeService(str(sock))
        rs.ready(TIMEOUT)
        config = cri_client.sandbox_config("agent", uuid.uuid4().hex, {}, str(base / "logs"))
        pod = cri_client.run_pod_sandbox(rs, config, "reins")
        script = "cat /etc/group 2>/dev/null || echo no-group; echo done"
        ids = {}
        for cname, annotations in (("plain", {}), ("denied", {"org.reins.policy": str(policy)})):
            cid = cri_client.create_container(rs, pod, config, cname,
                                              f"localhost/reins-busybox:{oci_images.OCI_TAG}",
                                              ["sh", "-c", script], f"{cname}.log", annotations)
            cri_client.start_container(rs, cid)
            ids[cname] = cid
        for cname, cid in ids.items():
            deadline = time.monotonic() + 30
            while cri_client.container_status(rs, cid)[0] != "EXITED":
                if time.monotonic() > deadline:
                    logf = base / "logs" / f"{cname}.log"
                    raise AssertionError(
                        f"{cname}: {cri_client.container_status(rs, cid)}; tasks: "
                        f"{ctr('task', 'list').stdout!r}; statuses: "
                        f"{[cri_client.container_status(rs, i) for i in ids.values()]}; "
                        f"containerd: {errors_in(base / 'containerd.log')}; log: "
                        f"{logf.read_text() if logf.exists() else None!r}; processes: "
                        + repr([open(f"/proc/{p}/cmdline").read().replace(chr(0), " ")[:160]
                                for p in pids_naming(str(base))]))
                time.sleep(0.2)
            assert cri_client.container_status(rs, cid)[1] == 0
        # CRI log lines: TIME STREAM TAG TEXT
        out = {c: [line.split(" ", 3)[3] for line in
                   (base / "logs" / f"{c}.log").read_text().splitlines()] for c in ids}
        assert out["plain"][0].startswith("root:x:0:"), out
        if is_reins:
            assert out["denied"] == ["no-group", "done"], out
            # both ran under reins: their trails name them
            for cid in ids.values():
                assert trails_naming(state_home, cid), f"no reins trail names {cid}"
        else:
            assert out["denied"] == out["plain"], out
    finally:
        if rs is not None:
            if pod is not None:
                cri_client.stop_and_remove_pod(rs, pod)
            rs.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        for pid in pids_naming(str(base)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for mnt in sorted(mounts_under(str(base)), key=len, reverse=True):
            subprocess.run(["umount", "--lazy", mnt], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------
# reins' own part: policy by annotation, trail with the container id


@pytest.fixture
def reins_only(reins_oci):
    """The reins runtime alone: these tests are about reins' own additions."""
    return reins_oci


def trails_naming(state_home, container_id):
    """Trail files under the session's private state dir that mention the
    container id (reins writes root's trails under XDG_STATE_HOME)."""
    found = []
    for p in (state_home / "state").rglob("*"):
        if p.is_file() and not p.is_symlink():
            try:
                if container_id.encode() in p.read_bytes():
                    found.append(p)
            except OSError:
                pass
    return found


def container_trail(podman, runtime, state_home):
    """Run a container through podman and reins; (container id, its trail's records)."""
    n = name()
    r = podman(runtime, *RUN, "--name", n, oci_images.PODMAN_TAG, "sh", "-c", "echo x")
    try:
        assert r.returncode == 0, r.stderr
        cid = podman(runtime, "inspect", "--format", "{{.Id}}", n, check=True).stdout.strip()
    finally:
        podman(runtime, "rm", "--force", "--time", "0", n)
    trails = [p for p in trails_naming(state_home, cid) if p.suffix == ".jsonl"]
    assert trails, f"no trail under {state_home} names container {cid}"
    assert len(trails) == 1, trails
    return cid, [json.loads(line) for line in trails[0].read_text().splitlines() if line.strip()]


def test_reins_trail_names_the_container(podman, reins_only, state_home):
    cid, records = container_trail(podman, reins_only, state_home)
    start = [rec for rec in records if rec.get("type") == "session.start"]
    assert start and start[0].get("container") == cid, start
    assert start[0].get("command") == ["sh", "-c", "echo x"]
    assert any(rec.get("type") == "session.end" for rec in records)
    assert len({rec.get("session") for rec in records}) == 1


def test_reins_every_record_carries_the_container_id(podman, reins_only, state_home):
    """Issue 17.2: "audit trail ... per container with the container id in
    every record": a SIEM that receives one record must know its container."""
    cid, records = container_trail(podman, reins_only, state_home)
    missing = [rec.get("type") for rec in records if rec.get("container") != cid]
    assert not missing, f"records without the container id: {missing}"


def secret_volume(tmp_path):
    """A volume with a public and a secret file, and a policy denying the
    secret at its path inside the container."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "secret.txt").write_text("s3cr3t\n")
    (data / "public.txt").write_text("hello\n")
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nname: engines-test\nextends: default\n"
                      'filesystem:\n  deny: ["/data/secret.txt"]\n')
    for p in (tmp_path, data):
        os.chmod(p, 0o755)
    for p in (policy, data / "secret.txt", data / "public.txt"):
        os.chmod(p, 0o644)
    return ("--volume", f"{data}:/data:ro"), policy


SECRET_SCRIPT = ("cat /data/public.txt; cat /data/secret.txt 2>/dev/null || echo no-secret; "
                 "ls /data")


def test_reins_policy_by_annotation_hides_a_denied_path(podman, reins_only, tmp_path):
    """`podman run --annotation org.reins.policy=FILE`: the policy's deny
    rules apply inside the container's root, so a denied file of a volume
    is unreadable; the same run without the annotation reads it."""
    vol, policy = secret_volume(tmp_path)
    plain = podman(reins_only, *RUN, "--rm", *vol, oci_images.PODMAN_TAG, "sh", "-c",
                   SECRET_SCRIPT)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.split() == ["hello", "s3cr3t", "public.txt", "secret.txt"]
    r = podman(reins_only, *RUN, "--rm", *vol, "--annotation", f"org.reins.policy={policy}",
               oci_images.PODMAN_TAG, "sh", "-c", SECRET_SCRIPT)
    assert r.returncode == 0, r.stderr
    assert "s3cr3t" not in r.stdout, r.stdout
    # its bytes are gone; its name may stay, as with `reins run` ("absent or hidden")
    assert r.stdout.split()[:3] == ["hello", "no-secret", "public.txt"], r.stdout


def test_reins_policy_by_runtime_flag(podman, reins_only, tmp_path):
    """The engine's default for reins: `podman --runtime-flag policy=FILE`
    (conmon passes it as reins' global --policy)."""
    vol, policy = secret_volume(tmp_path)
    argv_flag = ("--runtime-flag", f"policy={policy}")
    r = subprocess.run(podman.prefix + ["--runtime", reins_only, *argv_flag, *RUN, "--rm",
                                        *vol, oci_images.PODMAN_TAG, "sh", "-c", SECRET_SCRIPT],
                       env=podman.env, capture_output=True, text=True, timeout=TIMEOUT,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert "s3cr3t" not in r.stdout, r.stdout
    assert r.stdout.split()[:2] == ["hello", "no-secret"], r.stdout


def test_reins_refuses_an_unknown_policy_annotation(podman, reins_only):
    """Fail closed: a policy that cannot be loaded means no container."""
    r = podman(reins_only, *RUN, "--rm", "--annotation",
               "org.reins.policy=no-such-preset-or-file", oci_images.PODMAN_TAG, "true")
    assert r.returncode != 0
    assert "no-such-preset-or-file" in r.stderr, r.stderr


# --------------------------------------------------------------------------
# rootless podman


def test_rootless_podman(images_dir, runtime, tmp_path):
    """Rootless podman as nobody needs: a writable HOME and XDG_RUNTIME_DIR,
    newuidmap/newgidmap (package uidmap) and a range in /etc/subuid and
    /etc/subgid for the user (without one, podman maps only the user's own
    uid, enough for an image owned by root alone). Under cgroups v1 it
    puts the container in no cgroup of its own, so no resource limits."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    home = _tempdir("reins-rootless-")
    try:
        os.chown(home, NOBODY_UID, NOBODY_GID)
        run_dir = home / "run"
        run_dir.mkdir(mode=0o700)
        os.chown(run_dir, NOBODY_UID, NOBODY_GID)
        conf = home / "containers.conf"
        conf.write_text(CONTAINERS_CONF)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
               "XDG_RUNTIME_DIR": str(run_dir), "CONTAINERS_CONF": str(conf)}
        tar = home / "rootfs.tar"
        shutil.copy(images_dir / "rootfs.tar", tar)
        os.chmod(tar, 0o644)
        # the runtime must be reachable by nobody
        rt = home / os.path.basename(runtime)
        os.symlink(os.path.realpath(runtime), rt)
        pfx = ["setpriv", f"--reuid={NOBODY_UID}", f"--regid={NOBODY_GID}", "--clear-groups",
               "podman", "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
               "--runtime", str(rt)]

        def pod(*args):
            return subprocess.run(pfx + list(args), env=env, capture_output=True, text=True,
                                  timeout=TIMEOUT, stdin=subprocess.DEVNULL, cwd=str(home))

        r = pod("import", str(tar), oci_images.PODMAN_TAG)
        if r.returncode != 0:
            pytest.skip(f"rootless podman cannot import an image here: {r.stderr.strip()[-300:]}")
        r = pod("run", "--rm", "--network", "none",
                oci_images.PODMAN_TAG, "sh", "-c", "id -u; exit 9")
        if os.path.basename(runtime) == "runc" and r.returncode not in (9,):
            pytest.skip(f"rootless podman with runc does not work here: {r.stderr.strip()[-300:]}")
        assert r.returncode == 9, r.stderr
        assert r.stdout.strip() == "0"
    finally:
        subprocess.run(["setpriv", f"--reuid={NOBODY_UID}", f"--regid={NOBODY_GID}",
                        "--clear-groups", "podman", "system", "reset", "--force"],
                       env={"HOME": str(home), "XDG_RUNTIME_DIR": str(home / "run"),
                            "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                       capture_output=True, timeout=TIMEOUT, cwd=str(home))
        shutil.rmtree(home, ignore_errors=True)
