"""Session keys and checkpoint anchors (issue 12, item 9).

- A session's checkpoints are signed by a key of its own, certified by the
  user key in session.start; `reins audit verify` checks the chain.
- The supervisor does not hold the user's seed once the session runs: its
  memory is scanned for it (as root, through /proc/PID/mem).
- The same-user forgery (read the key, drop a record, re-chain, re-sign) makes
  a trail that plain `verify` calls intact; `verify --anchor` catches it, and
  a deleted trail, against the checkpoints anchored while the session ran
  (a file, syslog over UDP and a unix socket, HTTP; servers on 127.0.0.1
  started here).
"""
import hashlib
import http.server
import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from conftest import IS_ROOT, TIMEOUT

ed25519 = pytest.importorskip(
    "cryptography.hazmat.primitives.asymmetric.ed25519",
    reason="the forger needs python3-cryptography")
from cryptography.hazmat.primitives import serialization  # noqa: E402

INTACT, ANCHOR_MISMATCH, CERTIFICATE = 0, 10, 9


# --------------------------------------------------------------------------
# helpers


def run_session(caller, cmd, *opts, ws=None):
    ws = ws or caller.workspace()
    r = caller.sandbox(cmd, ws=ws, opts=["-q", *opts])
    return r


def records(trail):
    return [json.loads(line) for line in Path(trail).read_bytes().splitlines()]


def user_seed(caller):
    return (Path(caller.home) / ".config/reins/audit-ed25519.key").read_bytes()


def raw_public(private):
    return private.public_key().public_bytes(serialization.Encoding.Raw,
                                             serialization.PublicFormat.Raw)


def trail_dir(caller):
    return Path(caller.home) / ".local/state/reins/trails"


# ---- the forger: what any process of the user can do with the key file


def merkle_root(leaves):
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + merkle_root(leaves[:k]) + merkle_root(leaves[k:])).digest()


def checkpoint_message(c):
    return ("reins-checkpoint-v1\n"
            f"session={len(c['session'])}:{c['session']}\n"
            f"time={len(c['time'])}:{c['time']}\n"
            f"seq={c['seq']}\nmono={c['mono']}\ntree_size={c['tree_size']}\n"
            f"root={c['root']}\nprev={c['prev']}\nfinal={1 if c['final'] else 0}\n"
            f"key={c['key']}\n").encode()


def cert_message(c):
    def s(name):
        return f"{name}={len(c[name])}:{c[name]}\n"
    return ("reins-session-cert-v1\n" + s("session") +
            f"session_key={c['session_key']}\nuser_key={c['user_key']}\n" +
            s("not_before") + s("not_after") + s("policy_sha256") + s("purpose")).encode()


def forge(trail, drop, user_private=None, signing_private=None, legacy=False,
          cert_session=None):
    """Drop the records `drop(record)` selects, re-chain, re-checkpoint
    (one final checkpoint) and re-sign: with `signing_private` under a fresh
    certificate signed by `user_private`, or (legacy) with the user key
    directly and no certificate. Returns the forged bytes."""
    old = [r for r in records(trail) if r["type"] != "checkpoint" and not drop(r)]
    final = [r for r in records(trail) if r["type"] == "checkpoint"][-1]
    lines = []
    prev = "0" * 64
    for seq, r in enumerate(old):
        r = dict(r, seq=seq, prev=prev)
        if "session_cert" in r:
            if legacy:
                del r["session_cert"]
            else:
                cert = dict(r["session_cert"])
                cert["session_key"] = raw_public(signing_private).hex()
                cert["user_key"] = raw_public(user_private).hex()
                if cert_session:
                    cert["session"] = cert_session
                cert["signature"] = user_private.sign(cert_message(cert)).hex()
                r["session_cert"] = cert
        line = json.dumps(r, separators=(",", ":"), sort_keys=True).encode()
        lines.append(line)
        prev = hashlib.sha256(line).hexdigest()
    signer = user_private if legacy else signing_private
    c = dict(final, seq=len(lines), prev=prev, tree_size=len(lines), final=True,
             root=merkle_root([hashlib.sha256(b"\x00" + l).digest() for l in lines]).hex(),
             key=raw_public(signer).hex())
    c["signature"] = signer.sign(checkpoint_message(c)).hex()
    lines.append(json.dumps(c, separators=(",", ":"), sort_keys=True).encode())
    return b"".join(line + b"\n" for line in lines)


def save(caller, path, data):
    Path(path).write_bytes(data)
    os.chmod(path, 0o600)
    caller.own(path)


# ---- collectors on 127.0.0.1


class Collector(http.server.BaseHTTPRequestHandler):
    entries = None  # set per server

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.entries.append(body)
        self.send_response(204)
        self.end_headers()

    def do_GET(self):
        body = b"".join(e + b"\n" for e in self.server.entries)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_collector():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    server.entries = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class Datagrams:
    def __init__(self, sock):
        self.sock, self.lines = sock, []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            self.lines.append(data)


# --------------------------------------------------------------------------
# the chain


def test_checkpoints_signed_by_a_certified_session_key(caller):
    d = caller.mkdtemp()
    trail = d / "trail.jsonl"
    r = run_session(caller, ["/bin/sh", "-c", "/bin/true; /bin/true"], "--audit", trail)
    assert r.returncode == 0, r.stderr
    v = caller.run(["audit", "verify", trail])
    assert v.returncode == INTACT, v.stdout + v.stderr
    assert "older trail" not in v.stdout
    recs = records(trail)
    start = next(x for x in recs if x["type"] == "session.start")
    cert = start["session_cert"]
    assert cert["session"] == start["session"]
    assert cert["user_key"] == start["user_key"]
    user = ed25519.Ed25519PrivateKey.from_private_bytes(user_seed(caller))
    assert cert["user_key"] == raw_public(user).hex()
    checkpoints = [x for x in recs if x["type"] == "checkpoint"]
    assert checkpoints and all(c["key"] == cert["session_key"] for c in checkpoints)
    assert cert["session_key"] != cert["user_key"]  # the user key signs no checkpoint


def test_checkpoint_by_an_uncertified_key_is_rejected(caller):
    """A trail re-signed with a fresh key of the forger's, the certificate
    left alone: the chain breaks at the checkpoint."""
    d = caller.mkdtemp()
    trail = d / "trail.jsonl"
    r = run_session(caller, ["/bin/true"], "--audit", trail)
    assert r.returncode == 0, r.stderr
    fresh = ed25519.Ed25519PrivateKey.generate()
    recs = records(trail)
    final = recs[-1]
    final["key"] = raw_public(fresh).hex()
    final["signature"] = fresh.sign(checkpoint_message(final)).hex()
    lines = Path(trail).read_bytes().splitlines()[:-1]
    lines.append(json.dumps(final, separators=(",", ":"), sort_keys=True).encode())
    save(caller, trail, b"".join(x + b"\n" for x in lines))
    v = caller.run(["audit", "verify", trail])
    assert v.returncode == CERTIFICATE, v.stdout + v.stderr
    assert "no certificate vouches" in v.stdout


def test_certificate_for_another_session_is_rejected(caller):
    """The user key certified a key for another session: it vouches for
    nothing here, even re-chained and re-signed throughout."""
    d = caller.mkdtemp()
    trail = d / "trail.jsonl"
    r = run_session(caller, ["/bin/true"], "--audit", trail)
    assert r.returncode == 0, r.stderr
    user = ed25519.Ed25519PrivateKey.from_private_bytes(user_seed(caller))
    fresh = ed25519.Ed25519PrivateKey.generate()
    save(caller, trail, forge(trail, lambda r: False, user_private=user, signing_private=fresh,
                              cert_session="ffffffffffffffffffffffff"))
    v = caller.run(["audit", "verify", trail])
    assert v.returncode == CERTIFICATE, v.stdout + v.stderr
    assert "is for session ffffffffffffffffffffffff" in v.stdout


# --------------------------------------------------------------------------
# the supervisor's memory


def _memory_holds(pid, needle):
    found = False
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if "r" not in fields[1] or (len(fields) > 5 and fields[5] in ("[vvar]", "[vsyscall]")):
                continue
            if end - start > 1 << 30:
                continue  # a sanitizer's shadow, not the supervisor's data
            try:
                mem.seek(start)
                chunk = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            if needle in chunk:
                found = True
    return found


@pytest.mark.skipif(not IS_ROOT, reason="reads the supervisor's memory through /proc/PID/mem")
def test_supervisor_memory_holds_no_user_seed(caller):
    ws = caller.workspace()
    proc = caller.popen(["run", "-q", "-w", ws, "--", "/bin/sh", "-c",
                         "echo up > started; exec sleep 60"], cwd=ws)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not (ws / "started").exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the session did not start"
            time.sleep(0.05)
        seed = user_seed(caller)
        public = raw_public(ed25519.Ed25519PrivateKey.from_private_bytes(seed))
        # the scan sees the supervisor's memory: the certificate (with the
        # user's public key, raw) is there
        assert _memory_holds(proc.pid, public), "scan found not even the public key"
        assert not _memory_holds(proc.pid, seed), "the user's seed is in the supervisor"
        # nor its expansion (SHA-512 of the seed: the scalar and the nonce
        # prefix, which sign as well as the seed does)
        expanded = hashlib.sha512(seed).digest()
        scalar = bytearray(expanded[:32])
        scalar[0] &= 248
        scalar[31] &= 127
        scalar[31] |= 64
        for needle in (bytes(scalar), expanded[32:]):
            assert not _memory_holds(proc.pid, needle), "the expanded user key is there"
        # and it cannot ask the kernel keyring for it again: a seccomp
        # filter of its own refuses keyctl (checked in the unit of the
        # filter below; here: it is in force)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        assert "\nSeccomp:\t2" in status, status
    finally:
        proc.kill()
        proc.wait()


# --------------------------------------------------------------------------
# anchors


def _anchored_session(caller, *opts, audit=None):
    ws = caller.workspace()
    args = ["/bin/sh", "-c", "/bin/echo harmless; /bin/echo secret-step; /bin/true"]
    extra = ["--audit", audit] if audit else []
    r = run_session(caller, args, *extra, *opts, ws=ws)
    assert r.returncode == 0, r.stderr
    return r


@pytest.mark.parametrize("how", ["user-key-and-new-session-key", "user-key-directly",
                                 "fresh-key-only"])
def test_resigned_trail_fails_against_the_anchor(caller, how):
    d = caller.mkdtemp()
    trail, anchor = d / "trail.jsonl", d / "anchor.jsonl"
    _anchored_session(caller, "--anchor", anchor, audit=trail)
    v = caller.run(["audit", "verify", trail, "--anchor", anchor])
    assert v.returncode == INTACT, v.stdout + v.stderr
    assert "matches the anchor" in v.stdout

    user = ed25519.Ed25519PrivateKey.from_private_bytes(user_seed(caller))
    fresh = ed25519.Ed25519PrivateKey.generate()

    def drop(r):
        return r["type"] == "exec" and "secret-step" in json.dumps(r)

    if how == "user-key-and-new-session-key":
        forged = forge(trail, drop, user_private=user, signing_private=fresh)
    elif how == "user-key-directly":
        forged = forge(trail, drop, user_private=user, legacy=True)
    else:
        forged = forge(trail, drop, user_private=fresh, signing_private=fresh)
    assert any(drop(r) for r in records(trail)), "no exec record to drop"
    save(caller, trail, forged)
    assert not any(drop(r) for r in records(trail))
    plain = caller.run(["audit", "verify", trail])
    if how != "fresh-key-only":
        # the limit the anchor is for: with the user's key, a forgery verifies
        assert plain.returncode == INTACT, plain.stdout + plain.stderr
    if how == "user-key-directly":
        # how a trail from before session keys looks: it verifies, and says so
        assert "older trail" in plain.stdout, plain.stdout
    v = caller.run(["audit", "verify", trail, "--anchor", anchor])
    assert v.returncode != INTACT, v.stdout + v.stderr
    if how != "fresh-key-only":
        assert v.returncode == ANCHOR_MISMATCH, v.stdout + v.stderr
        assert "re-signed" in v.stdout or "rewritten" in v.stdout, v.stdout


def test_deleted_and_cut_trails_are_detected(caller):
    d = caller.mkdtemp()
    anchor = d / "anchor.jsonl"
    _anchored_session(caller, "--anchor", anchor)
    session = json.loads(anchor.read_text().splitlines()[0])["session"]
    path = trail_dir(caller) / f"{session}.jsonl"
    assert path.exists()
    v = caller.run(["audit", "verify", "--anchor", anchor])
    assert v.returncode == INTACT, v.stdout + v.stderr

    # cut: the records after the first two are gone, what is left re-sealed is
    # not needed to see it: the anchored final checkpoint is missing
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"".join(x + b"\n" for x in lines[:2]))
    v = caller.run(["audit", "verify", "--anchor", anchor])
    assert v.returncode != INTACT
    assert "records were cut" in v.stdout, v.stdout

    path.unlink()
    v = caller.run(["audit", "verify", "--anchor", anchor])
    assert v.returncode == ANCHOR_MISMATCH, v.stdout + v.stderr
    assert f"session {session} deleted" in v.stdout
    v = caller.run(["audit", "verify", session[:10], "--anchor", anchor])
    assert v.returncode == ANCHOR_MISMATCH, v.stdout + v.stderr
    assert "deleted" in v.stdout


def test_http_anchor(caller, http_collector):
    url = f"http://127.0.0.1:{http_collector.server_address[1]}/anchor"
    d = caller.mkdtemp()
    trail = d / "trail.jsonl"
    _anchored_session(caller, "--anchor", url, audit=trail)
    kinds = [json.loads(e)["type"] for e in http_collector.entries]
    assert kinds[0] == "anchor.cert" and kinds[-1] == "checkpoint", kinds
    v = caller.run(["audit", "verify", trail, "--anchor", url])
    assert v.returncode == INTACT, v.stdout + v.stderr
    assert "matches the anchor" in v.stdout
    trail.unlink()
    session = json.loads(http_collector.entries[0])["session"]
    v = caller.run(["audit", "verify", session, "--anchor", url])
    assert v.returncode == ANCHOR_MISMATCH, v.stdout + v.stderr


def test_syslog_anchors(caller):
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    d = caller.mkdtemp()
    os.chmod(d, 0o755)
    path = str(d / "log.sock")
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    unix.bind(path)
    os.chmod(path, 0o777)
    try:
        got_udp, got_unix = Datagrams(udp), Datagrams(unix)
        trail = d / "trail.jsonl"
        _anchored_session(caller, "--anchor", f"syslog:udp:127.0.0.1:{udp.getsockname()[1]}",
                          "--anchor", f"syslog:unix:{path}", audit=trail)
        deadline = time.monotonic() + TIMEOUT
        while len(got_udp.lines) < 2 or len(got_unix.lines) < 2:
            assert time.monotonic() < deadline, (got_udp.lines, got_unix.lines)
            time.sleep(0.05)
        for lines in (got_udp.lines, got_unix.lines):
            assert all(x.startswith(b"<86>1 ") for x in lines), lines
            assert b" reins " in lines[0] and b" cert - {" in lines[0], lines[0]
            # what a syslog daemon would have written
            log = d / "syslog.log"
            save(caller, log, b"".join(x + b"\n" for x in lines))
            v = caller.run(["audit", "verify", trail, "--anchor", log])
            assert v.returncode == INTACT, v.stdout + v.stderr
    finally:
        udp.close()
        unix.close()


def test_policy_anchor(caller):
    d = caller.mkdtemp()
    anchor, trail = d / "anchor.jsonl", d / "trail.jsonl"
    policy = caller.write(d / "policy.yaml",
                          f"version: 1\nextends: default\naudit:\n  anchor: [{anchor}]\n")
    r = run_session(caller, ["/bin/true"], "-p", policy, "--audit", trail)
    assert r.returncode == 0, r.stderr
    v = caller.run(["audit", "verify", trail, "--anchor", anchor])
    assert v.returncode == INTACT, v.stdout + v.stderr
    assert "matches the anchor" in v.stdout


def test_unreachable_anchor_refuses_to_start(caller):
    ws = caller.workspace()
    # a port nothing listens on: bind one, close it
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = caller.sandbox(["/bin/sh", "-c", "touch ran"], ws=ws,
                       opts=["--anchor", f"http://127.0.0.1:{port}/x"])
    assert r.returncode == 125, r.stderr
    assert "refusing to start unanchored" in r.stderr
    assert not (ws / "ran").exists()


# --------------------------------------------------------------------------
# the key at rest: locked on disk, unlocked in the kernel keyring


def _keyring_works():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    KEYCTL_GET_PERSISTENT, SYS_KEYCTL = 22, 250  # x86_64
    if os.uname().machine != "x86_64":
        return True  # let the test find out
    return libc.syscall(SYS_KEYCTL, KEYCTL_GET_PERSISTENT, -1, -2) >= 0


@pytest.mark.skipif(not _keyring_works(), reason="no persistent kernel keyring on this host")
def test_locked_key_lives_in_the_kernel_keyring(caller):
    caller.run(["id"])  # creates the key
    seed = user_seed(caller)
    assert len(seed) == 32
    ident = caller.run(["id", "--json"])
    public = json.loads(ident.stdout)["public_key"]
    r = caller.run(["id", "lock", "--passphrase-fd", "0"], input="correct horse\n")
    assert r.returncode == 0, r.stderr
    try:
        on_disk = (Path(caller.home) / ".config/reins/audit-ed25519.key").read_bytes()
        assert seed not in on_disk and len(on_disk) != 32  # the file holds no seed in clear
        assert json.loads(caller.run(["id", "--json"]).stdout)["public_key"] == public
        # unlocked in the keyring: sessions sign as before, under the same key
        d = caller.mkdtemp()
        r = run_session(caller, ["/bin/true"], "--audit", d / "a.jsonl")
        assert r.returncode == 0, r.stderr
        v = caller.run(["audit", "verify", d / "a.jsonl"])
        assert v.returncode == INTACT, v.stdout + v.stderr
        assert records(d / "a.jsonl")[0]["session_cert"]["user_key"] == public
        # forgotten: nothing can sign, and the run says how to fix it
        assert caller.run(["id", "forget"]).returncode == 0
        ws = caller.workspace()
        r = caller.sandbox(["/bin/sh", "-c", "touch ran"], ws=ws)
        assert r.returncode == 125
        assert "is locked: run 'reins id unlock'" in r.stderr
        assert not (ws / "ran").exists()
        # a wrong passphrase unlocks nothing; the right one does
        r = caller.run(["id", "unlock", "--passphrase-fd", "0"], input="wrong\n")
        assert r.returncode != 0 and "wrong passphrase" in r.stderr
        r = caller.run(["id", "unlock", "--passphrase-fd", "0"], input="correct horse\n")
        assert r.returncode == 0, r.stderr
        r = run_session(caller, ["/bin/true"], "--audit", d / "b.jsonl")
        assert r.returncode == 0, r.stderr
        v = caller.run(["audit", "verify", d / "b.jsonl"])
        assert v.returncode == INTACT, v.stdout + v.stderr
    finally:
        caller.run(["id", "forget"])
