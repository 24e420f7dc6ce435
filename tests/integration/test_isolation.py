"""Namespaces, identity, environment, fds and privileges inside the sandbox."""
import os
import socket
import socketserver
import threading

import pytest


def test_uid_and_gid_inside_equal_the_callers(caller):
    r = caller.sandbox(["sh", "-c", "id -u; id -g"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(caller.uid), str(caller.gid)]


def test_proc_shows_only_sandbox_processes(caller):
    r = caller.sandbox(["ps", "-e", "-o", "pid=,comm="])
    assert r.returncode == 0, r.stderr
    procs = [line.split(None, 1) for line in r.stdout.splitlines() if line.strip()]
    comms = [c for _, c in procs]
    assert len(procs) <= 4, f"more processes visible than the sandbox has: {procs}"
    assert "ps" in comms
    for pid, comm in procs:
        assert int(pid) < 100, procs
        assert not any(host in comm for host in ("python", "pytest", "systemd", "init", "sshd")), procs


def test_proc_does_not_list_host_pids(caller):
    me = os.getpid()
    r = caller.sandbox(["sh", "-c", f"ls /proc; test -e /proc/{me} && echo SEES-PYTEST; true"])
    assert r.returncode == 0, r.stderr
    assert "SEES-PYTEST" not in r.stdout or me < 10
    pids = sorted(int(e) for e in r.stdout.split() if e.isdigit())
    assert pids and len(pids) <= 4, pids
    assert max(pids) < 100, pids


def test_command_pid_is_small(caller):
    r = caller.sandbox(["sh", "-c", "echo $$"])
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) in (1, 2)


def test_hostname_is_reins_not_the_hosts(caller):
    r = caller.sandbox(["sh", "-c", "uname -n; cat /proc/sys/kernel/hostname"])
    assert r.returncode == 0, r.stderr
    names = r.stdout.split()
    assert names == ["reins", "reins"]
    assert socket.gethostname() not in names or socket.gethostname() == "reins"


def test_network_has_only_loopback(caller):
    r = caller.sandbox(["cat", "/proc/net/dev"])
    assert r.returncode == 0, r.stderr
    ifaces = [line.split(":")[0].strip() for line in r.stdout.splitlines()[2:] if ":" in line]
    assert ifaces == ["lo"]


def _host_addresses():
    addrs = ["127.0.0.1"]
    try:  # the host's outward address, if it has one (no packet is sent)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            addrs.append(s.getsockname()[0])
    except OSError:
        pass
    return addrs


class _Recorder(socketserver.BaseRequestHandler):
    def handle(self):
        self.server.connections.append(self.client_address)
        try:
            self.request.sendall(b"HOST-SERVER-BANNER\n")
        except OSError:
            pass


@pytest.fixture
def host_tcp_server():
    server = socketserver.ThreadingTCPServer(("0.0.0.0", 0), _Recorder)
    server.daemon_threads = True
    server.connections = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_host_tcp_server_is_unreachable(caller, host_tcp_server):
    port = host_tcp_server.server_address[1]
    # sanity: the server answers on the host
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        assert s.recv(64).startswith(b"HOST-SERVER-BANNER")
    host_tcp_server.connections.clear()
    # a plain client (a shell's /dev/tcp would rightly look like a reverse
    # shell to the risk engine)
    script = ("import socket, sys\n"
              "for a in sys.argv[1:]:\n"
              "    try:\n"
              f"        s = socket.create_connection((a, {port}), 10)\n"
              "        print('CONNECTED-' + a, s.recv(64))\n"
              "    except OSError:\n"
              "        pass\n"
              "print('done')\n")
    r = caller.sandbox(["python3", "-c", script, *_host_addresses()])
    assert r.returncode == 0, r.stderr
    assert "CONNECTED" not in r.stdout and "HOST-SERVER-BANNER" not in r.stdout
    assert r.stdout.strip().endswith("done")
    assert host_tcp_server.connections == []


def _env_names(text):
    return {line.split("=", 1)[0] for line in text.splitlines() if "=" in line}


SECRETS = {"FOO_SECRET": "foo-secret-value", "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
           "ANTHROPIC_API_KEY": "sk-ant-secret-value", "GITHUB_TOKEN": "ghp-secret-value"}


def _kept(name, keep):
    return any(name == k or (k.endswith("*") and name.startswith(k[:-1])) for k in keep)


def test_environment_passes_only_kept_names(caller, default_preset):
    env = dict(SECRETS, TERM="dumb", TZ="UTC", LD_PRELOAD="")
    r = caller.sandbox(["env"], env=env)
    assert r.returncode == 0, r.stderr
    names = _env_names(r.stdout)
    for secret in SECRETS:
        assert secret not in names
    for value in SECRETS.values():
        assert value not in r.stdout
    keep = (default_preset.get("env") or {}).get("keep") or []
    extra = set(((default_preset.get("env") or {}).get("set") or {}).keys())
    # REINS_REQUEST_URL (where the agent may ask a human) only comes with approvals
    unexpected = {n for n in names if not _kept(n, keep) and n not in extra}
    assert unexpected == set(), f"names not in env.keep passed: {unexpected}"
    assert "PATH" in names
    assert f"HOME={caller.home}" in r.stdout.splitlines()


def test_env_option_passes_a_name_from_the_caller(caller):
    r = caller.sandbox(["env"], opts=["--env", "FOO_SECRET"], env=SECRETS)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "FOO_SECRET=foo-secret-value" in lines
    assert "AWS_SECRET_ACCESS_KEY" not in _env_names(r.stdout)


def test_env_option_sets_a_value(caller):
    r = caller.sandbox(["env"], opts=["--env", "BAR=a b=c", "--env", "EMPTY="])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "BAR=a b=c" in lines
    assert "EMPTY=" in lines


def test_policy_env_set_adds_variables(caller):
    d = caller.mkdtemp(prefix="reins-pol-")
    policy = caller.write(d / "env.yaml", "version: 1\nname: env-set\nextends: default\n"
                                          "env:\n  set:\n    GREETING: hello world\n")
    r = caller.sandbox(["env"], opts=["-p", policy], env=SECRETS)
    assert r.returncode == 0, r.stderr
    assert "GREETING=hello world" in r.stdout.splitlines()
    assert "FOO_SECRET" not in _env_names(r.stdout)


def test_only_fds_0_1_2_are_open(caller):
    r_pipe, w_pipe = os.pipe()
    f = os.open("/etc/hostname", os.O_RDONLY)
    high = os.dup2(f, 57)
    d = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        r = caller.sandbox(["ls", "/proc/self/fd"], pass_fds=(r_pipe, w_pipe, f, high, d))
    finally:
        for fd in (r_pipe, w_pipe, f, high, d):
            os.close(fd)
    assert r.returncode == 0, r.stderr
    fds = set(r.stdout.split())
    # ls holds one directory fd of its own (3)
    assert {"0", "1", "2"} <= fds <= {"0", "1", "2", "3"}, fds


def test_no_capabilities_no_new_privs_and_seccomp(caller):
    r = caller.sandbox(["cat", "/proc/self/status"])
    assert r.returncode == 0, r.stderr
    status = dict(line.split(":", 1) for line in r.stdout.splitlines() if ":" in line)
    status = {k: v.strip() for k, v in status.items()}
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[cap], 16) == 0, f"{cap} = {status[cap]}"
    assert status["NoNewPrivs"] == "1"
    assert status["Seccomp"] == "2"


def test_new_user_namespace_cannot_be_created(caller):
    r = caller.sandbox(["sh", "-c", "unshare -U true && echo UNSHARED; unshare -Ur true && echo UNSHARED-R; true"])
    assert r.returncode == 0, r.stderr
    assert "UNSHARED" not in r.stdout


def test_stdin_stdout_stderr_pass_through_without_a_terminal(caller):
    data = "line\n" * 200000  # ~1 MiB
    r = caller.sandbox(["sh", "-c", "wc -c; echo to-err >&2"], input=data)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(len(data))
    assert "to-err" in r.stderr and "to-err" not in r.stdout
