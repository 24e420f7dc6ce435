"""Runs proxy_harness (the egress proxy outside a sandbox, with a scripted
gate: see proxy_harness.c) as the test's caller, and talks to it from the
pytest process: CONNECT, HTTP forward and SOCKS5 conversations that can be
held, answered and cut."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
PKGS = ["jansson", "libcares", "openssl", "libsodium", "libnghttp2"]  # openssl, libsodium, nghttp2: net/terminate.c, net/inject.c
OTHER_OBJECTS = ["audit/event.o"]


def build(reins_path):
    """Compile proxy_harness against the objects of the build that made
    `reins_path` (build/, build-asan/...). Returns (directory, executable)."""
    build_dir = Path(reins_path).resolve().parent / "src"
    sources = sorted((REPO / "src" / "net").glob("*.c"))
    objects = [build_dir / "net" / (c.stem + ".o") for c in sources]
    objects += [build_dir / o for o in OTHER_OBJECTS]
    missing = [str(o) for o in objects if not o.exists()]
    util = sorted((build_dir / "util").glob("*.o"))
    if missing or not util:
        raise RuntimeError(f"build reins first (make all): missing {missing[:3] or 'util'}")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", *PKGS], capture_output=True,
                           text=True, check=True).stdout.split()
    if "asan" in str(build_dir):
        flags += ["-fsanitize=address,undefined"]
    d = tempfile.mkdtemp(prefix="reins-harness-", dir="/tmp")
    os.chmod(d, 0o755)
    exe = os.path.join(d, "proxy_harness")
    # the util layer as an archive: the linker takes the members the proxy
    # needs, whatever util's files are today
    archive = os.path.join(d, "libreins_util.a")
    subprocess.run(["ar", "rcs", archive, *map(str, util)], check=True, timeout=60)
    subprocess.run(["cc", "-D_GNU_SOURCE", f"-I{REPO / 'src'}", "-std=c11", "-O1", "-g", "-o", exe,
                    str(HERE / "proxy_harness.c"), *map(str, objects), archive, *flags],
                   check=True, timeout=120)
    os.chmod(exe, 0o755)
    return d, exe


class Harness:
    """One proxy_harness process; its stderr (events and "harness:" lines)
    goes to a file the test reads."""

    def __init__(self, exe, caller, allow=(), hosts=None, env=None, seconds=120):
        self.log = tempfile.NamedTemporaryFile(prefix="reins-harness-", suffix=".log",
                                               delete=False)
        pins = [f"{k}={v}" for k, v in (hosts or {}).items()]
        full_env = {"PATH": "/usr/bin:/bin", **(env or {})}
        self.proc = subprocess.Popen(caller.prefix + [exe, "0", str(seconds), *allow, "--", *pins],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log, env=full_env)
        self.port = int(self.wait_for(r"harness: listening (\d+)").group(1))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def text(self):
        return Path(self.log.name).read_text(errors="replace")

    def wait_for(self, pattern, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.text())
            if m:
                return m
            if self.proc.poll() is not None:
                raise AssertionError(f"harness exited {self.proc.returncode}: {self.text()}")
            time.sleep(0.02)
        raise AssertionError(f"no {pattern!r} in the harness log:\n{self.text()}")

    def events(self, kind, **match):
        out = []
        for line in self.text().splitlines():
            if line.startswith("reins: event "):
                e = json.loads(line[len("reins: event "):])
                if e.get("type") == kind and all(e.get(k) == v for k, v in match.items()):
                    out.append(e)
        return out

    def signal(self, sig=signal.SIGUSR1):
        self.proc.send_signal(sig)

    def stop(self):
        """SIGTERM: the harness frees everything and exits 0; anything else
        (a crash, a sanitizer report in an ASan build) fails the test."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        text = self.text()
        self.log.close()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass
        bad = self.proc.returncode != 0 or "Sanitizer" in text or "runtime error:" in text
        assert not bad, f"harness exited {self.proc.returncode}:\n{text[-4000:]}"


def remove(directory):
    shutil.rmtree(directory, ignore_errors=True)


# ------------------------------------------------------------------ clients

def _read_head(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf


def connect(port, host, hport, timeout=10):
    """CONNECT; returns (socket, status line, bytes after the head)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(f"CONNECT {host}:{hport} HTTP/1.1\r\nHost: {host}:{hport}\r\n\r\n".encode())
    head = _read_head(s)
    line = head.split(b"\r\n")[0].decode(errors="replace") or "(closed)"
    return s, line, head.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in head else b""


def connect_send(port, host, hport, timeout=10):
    """CONNECT without waiting for the answer: the socket."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(f"CONNECT {host}:{hport} HTTP/1.1\r\nHost: {host}:{hport}\r\n\r\n".encode())
    return s


def http_get(port, url, body=None, timeout=10):
    """A forward request; returns (status line, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    host = url.split("/")[2]
    method = "POST" if body is not None else "GET"
    req = f"{method} {url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
    if body is not None:
        req += f"Content-Length: {len(body)}\r\n"
    s.sendall(req.encode() + b"\r\n" + (body or b""))
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(errors="replace") or "(closed)", rest


def socks5(port, host, hport, timeout=10):
    """SOCKS5 CONNECT by name; returns (socket, reply code)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(b"\x05\x01\x00")
    if s.recv(2) != b"\x05\x00":
        return s, None
    name = host.encode()
    s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + hport.to_bytes(2, "big"))
    reply = b""
    while len(reply) < 10:
        chunk = s.recv(10 - len(reply))
        if not chunk:
            break
        reply += chunk
    return s, reply[1] if len(reply) > 1 else None


def echo_roundtrip(s, data=b"ping"):
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    return got
