"""Fixtures for the reins integration tests.

Every sandbox test gets a `caller`: the identity that runs `reins`. When pytest
runs as root the fixture is parametrized over "root" and "nobody" (uid 65534,
entered with setpriv before exec'ing reins); otherwise it is only the current
user ("self"). Each caller gets a HOME of its own with planted secrets, and
workspaces/dirs it owns, all under world-traversable temp dirs (pytest's
tmp_path lives under a 0700 root directory that nobody cannot enter).
"""
import fcntl
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import termios
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
HELPER_SOURCES = HERE / "helpers"
NOBODY_UID = 65534
NOBODY_GID = 65534
TIMEOUT = 30  # generous: these are correctness tests, not benchmarks

SECRET_SSH = "-----BEGIN OPENSSH PRIVATE KEY----- reins-test-ssh-secret"
SECRET_AWS = "aws_secret_access_key = reins-test-aws-secret"

IS_ROOT = os.geteuid() == 0
CALLERS = ["root", "nobody"] if IS_ROOT else ["self"]


def reins_path():
    path = os.environ.get("REINS_BIN") or str(REPO / "build" / "reins")
    return os.path.abspath(path)


# --------------------------------------------------------------------------
# session: the binary and the compiled helpers


@pytest.fixture(scope="session")
def reins_bin():
    path = reins_path()
    if not os.access(path, os.X_OK):
        pytest.fail(f"reins binary not found at {path} (set REINS_BIN or `make build/reins`)")
    if IS_ROOT and not _nobody_can_exec(path):
        # nobody must be able to exec the binary: copy it somewhere reachable
        d = tempfile.mkdtemp(prefix="reins-bin-", dir="/tmp")
        os.chmod(d, 0o755)
        copy = os.path.join(d, "reins")
        shutil.copy2(path, copy)
        os.chmod(copy, 0o755)
        yield copy
        shutil.rmtree(d, ignore_errors=True)
    else:
        yield path


def _nobody_can_exec(path):
    r = subprocess.run(
        ["setpriv", f"--reuid={NOBODY_UID}", f"--regid={NOBODY_GID}", "--clear-groups",
         "test", "-x", path],
        stdin=subprocess.DEVNULL, timeout=TIMEOUT)
    return r.returncode == 0


@pytest.fixture(scope="session")
def helpers():
    """Small C programs, compiled once: {name: path}. Copy them into a
    workspace with caller.install_helper()."""
    d = tempfile.mkdtemp(prefix="reins-helpers-", dir="/tmp")
    os.chmod(d, 0o755)
    built = {}
    for src in sorted(HELPER_SOURCES.glob("*.c")):
        out = os.path.join(d, src.stem)
        subprocess.run(["cc", "-O1", "-o", out, str(src)], check=True, timeout=120)
        os.chmod(out, 0o755)
        built[src.stem] = out
    yield built
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def default_preset(reins_bin):
    """The built-in default preset, parsed (for env.keep and filesystem.read)."""
    import yaml
    r = subprocess.run([reins_bin, "policy", "show", "default"], capture_output=True,
                       text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    return yaml.safe_load(r.stdout)


# --------------------------------------------------------------------------
# the caller


class Caller:
    """Runs reins as one identity, with a clean environment of its own."""

    def __init__(self, name, reins):
        self.name = name
        self.reins = reins
        if name == "nobody":
            self.uid, self.gid = NOBODY_UID, NOBODY_GID
            self.prefix = ["setpriv", f"--reuid={NOBODY_UID}", f"--regid={NOBODY_GID}",
                           "--clear-groups"]
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
            self.prefix = []
        self._cleanup = []
        self.home = self._make_home()

    # ---- files and directories owned by the caller

    def mkdtemp(self, prefix="reins-", base="/tmp"):
        d = tempfile.mkdtemp(prefix=prefix, dir=base)
        self._cleanup.append(d)
        self.own(d)
        return Path(d)

    def own(self, path):
        if IS_ROOT:
            os.lchown(path, self.uid, self.gid)

    def write(self, path, text="", mode=0o644):
        """Create a file (and missing parents) owned by the caller."""
        path = Path(path)
        missing = []
        p = path.parent
        while not p.exists():
            missing.append(p)
            p = p.parent
        for d in reversed(missing):
            d.mkdir(mode=0o755)
            self.own(d)
        path.write_text(text)
        os.chmod(path, mode)
        self.own(path)
        return path

    def mkdir(self, path, mode=0o755):
        path = Path(path)
        path.mkdir(mode=mode, parents=True, exist_ok=True)
        self.own(path)
        return path

    def workspace(self):
        return self.mkdtemp(prefix="reins-ws-")

    def install_helper(self, ws, path):
        """Copy a compiled helper into the workspace; returns its absolute path."""
        dst = Path(ws) / os.path.basename(path)
        shutil.copy(path, dst)
        os.chmod(dst, 0o755)
        self.own(dst)
        return str(dst)

    def _make_home(self):
        base = "/home" if IS_ROOT and os.path.isdir("/home") else "/tmp"
        home = self.mkdtemp(prefix=f"reins-home-{self.name}-", base=base)
        self.write(home / ".ssh" / "id_rsa", SECRET_SSH + "\n", 0o600)
        self.write(home / ".aws" / "credentials", "[default]\n" + SECRET_AWS + "\n", 0o600)
        self.write(home / "notes.txt", "plain notes\n")
        return home

    # ---- running reins

    def env(self, extra=None):
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
        }
        # only a weakened build (make weak) reads this: lets a test be seen failing
        if "REINS_WEAKEN" in os.environ:
            env["REINS_WEAKEN"] = os.environ["REINS_WEAKEN"]
        if extra:
            env.update(extra)
        return env

    def argv(self, args):
        return self.prefix + [self.reins] + [str(a) for a in args]

    def run(self, args, *, cwd=None, env=None, timeout=TIMEOUT, input=None, pass_fds=()):
        """Run `reins ARGS...` to completion; text output."""
        return subprocess.run(
            self.argv(args), cwd=cwd or self.home, env=self.env(env),
            input=input, stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True, text=True, errors="replace", timeout=timeout,
            pass_fds=pass_fds)

    def sandbox(self, cmd, *, ws=None, opts=(), cwd=None, **kw):
        """`reins run OPTS -w WS -- CMD...` (a fresh workspace unless given)."""
        ws = ws or self.workspace()
        return self.run(["run", *opts, "-w", ws, "--", *cmd], cwd=cwd or ws, **kw)

    def popen(self, args, *, cwd=None, env=None, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(self.argv(args), cwd=cwd or self.home, env=self.env(env), **kw)

    def pty(self, args, *, cwd=None, env=None, rows=24, cols=80):
        return PtySession(self.argv(args), cwd=cwd or self.home,
                          env=self.env({"TERM": "xterm", **(env or {})}), rows=rows, cols=cols)

    def close(self):
        for d in reversed(self._cleanup):
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(params=CALLERS)
def caller(request, reins_bin):
    c = Caller(request.param, reins_bin)
    yield c
    c.close()


# --------------------------------------------------------------------------
# shared assertions and helpers


def one_error_line(stderr):
    """reins reports a failure as exactly one line starting `reins: `."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert lines[0].startswith("reins: "), lines[0]
    return lines[0]


def has_location(line, path, lineno):
    """Does an error line name FILE:LINE (full path or base name)?"""
    names = [re.escape(str(path)), re.escape(os.path.basename(str(path)))]
    return re.search(rf"(?:{'|'.join(names)}):{lineno}(?!\d)", line) is not None


def read_until(stream, needle, timeout=TIMEOUT):
    """Read a pipe until `needle` (bytes) appears; returns what was read."""
    fd = stream.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    while needle not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {needle!r}; got {buf!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                raise AssertionError(f"EOF before {needle!r}; got {buf!r}")
            buf += chunk
    return buf


def pids_with_marker(marker, exclude=()):
    """Host pids whose command line contains `marker` (bytes)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in exclude:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != b"Z":
            found.append(int(entry))
    return found


def wait_gone(marker, exclude=(), timeout=5.0):
    """Poll until no live process carries the marker; returns the survivors."""
    deadline = time.monotonic() + timeout
    while True:
        left = pids_with_marker(marker, exclude)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


class PtySession:
    """reins with a pty as stdin/stdout/stderr and controlling terminal, the
    way an interactive shell would start it."""

    def __init__(self, argv, cwd, env, rows, cols, stdout=None):
        self.master, self.slave = os.openpty()
        self.resize(rows, cols)
        self.termios_before = termios.tcgetattr(self.slave)
        self.buf = b""
        self.pos = 0

        def make_controlling_tty():  # runs after setsid (start_new_session)
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=self.slave,
            stdout=self.slave if stdout is None else stdout, stderr=self.slave,
            start_new_session=True, preexec_fn=make_controlling_tty)

    def resize(self, rows, cols):
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def termios_now(self):
        return termios.tcgetattr(self.slave)

    def _pump(self, timeout):
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:
            return False
        self.buf += chunk
        return bool(chunk)

    def expect(self, pattern, timeout=TIMEOUT):
        """Wait for a regex (bytes) in output not yet consumed."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf, self.pos)
            if m:
                self.pos = m.end()
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {pattern!r}; output: {self.buf!r}")
            self._pump(min(left, 0.2))

    def send(self, data):
        os.write(self.master, data)

    def wait(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"reins did not exit; output: {self.buf!r}")
            self._pump(0.1)
        while self._pump(0.2):  # drain what is left
            pass
        return self.proc.returncode

    def output(self):
        return self.buf.decode(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def pty_sessions():
    """Collects PtySessions so they are closed even when a test fails."""
    sessions = []

    def track(session):
        sessions.append(session)
        return session

    yield track
    for s in sessions:
        s.close()
