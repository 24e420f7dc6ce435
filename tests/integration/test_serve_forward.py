"""reins serve: live SIEM forwarding (issue 15, item 5).

Real receivers on the loopback: a syslog receiver (TCP, and TLS with a CA
made here) run as a process of its own so that the test can kill it with
-9 mid-stream and start it again; HTTP receivers for Splunk HEC and
Elasticsearch bulk in this process. Each checks what arrived by (session,
seq) against the session's own trail: every record once, none twice.
"""
import http.server
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import TIMEOUT
from test_serve import Daemon, daemons, start_session, wait_ended  # noqa: F401 (fixture)

SYSLOG_RECEIVER = r"""
import json, os, re, socket, ssl, sys
port, out = int(sys.argv[1]), sys.argv[2]
ctx = None
if len(sys.argv) > 3:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(8)
print("ready", flush=True)
sd = re.compile(rb'^<(\d+)>1 \S+ \S+ reins - (\S+) \[reins@32473 session="([0-9a-f]{24})" seq="(\d+)"\] (.*)$', re.S)
with open(out, "a") as log:
    while True:
        c, _ = s.accept()
        if ctx:
            try:
                c = ctx.wrap_socket(c, server_side=True)
            except (ssl.SSLError, OSError):
                c.close()
                continue
        buf = b""
        while True:
            try:
                d = c.recv(1 << 20)
            except OSError:
                break
            if not d:
                break
            buf += d
            while True:  # RFC 5425 octet counting: LEN SP MSG
                sp = buf.find(b" ")
                if sp < 0:
                    break
                n = int(buf[:sp])
                if len(buf) < sp + 1 + n:
                    break
                frame, buf = buf[sp + 1:sp + 1 + n], buf[sp + 1 + n:]
                m = sd.match(frame)
                rec = json.loads(m.group(5))
                log.write(json.dumps({"pri": int(m.group(1)), "msgid": m.group(2).decode(),
                                      "session": m.group(3).decode(), "seq": int(m.group(4)),
                                      "record": rec}) + "\n")
                log.flush()
        c.close()
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class SyslogReceiver:
    def __init__(self, tmp, port, tls=None):
        self.port, self.tls = port, tls
        self.out = tmp / f"syslog-{port}.jsonl"
        self.out.touch()
        self.proc = None

    def start(self):
        args = [sys.executable, "-c", SYSLOG_RECEIVER, str(self.port), str(self.out)]
        if self.tls:
            args += [str(self.tls[0]), str(self.tls[1])]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        assert self.proc.stdout.readline().strip() == b"ready"

    def kill9(self):
        self.proc.kill()
        self.proc.wait(timeout=TIMEOUT)

    def records(self):
        return [json.loads(line) for line in self.out.read_text().splitlines() if line]


@pytest.fixture
def receivers():
    started = []
    yield started
    for r in started:
        if r.proc and r.proc.poll() is None:
            r.kill9()


def trail_seqs(daemon, session):
    status, body = daemon.call("GET", f"/v1/sessions/{session}/audit?limit=10000")
    assert status == 200, body
    records = body["records"] if isinstance(body, dict) else body
    return sorted(r["seq"] for r in records)


def wait_for(predicate, what, timeout=TIMEOUT, why=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}" + (f": {why()}" if why else ""))


def forward_config(target):
    lines = ["version: 1", "forward:", "  - " + "\n    ".join(
        f"{k}: {v}" for k, v in target.items())]
    return "\n".join(lines) + "\n"


def assert_exactly_once(got, session, seqs):
    mine = [(g["session"], g["seq"]) for g in got if g["session"] == session]
    dups = {k for k in mine if mine.count(k) > 1}
    assert not dups, f"sent twice: {sorted(dups)[:10]}"
    assert sorted(s for _, s in mine) == seqs, \
        f"missing: {sorted(set(seqs) - {s for _, s in mine})[:20]}"


# a session that writes records in three bursts with quiet between them
BURSTS = ("for i in $(seq 60); do /bin/true; done; sleep 2; "
          "for i in $(seq 60); do /bin/true; done; sleep 2; "
          "for i in $(seq 60); do /bin/true; done")


def test_syslog_receiver_killed_mid_stream_and_daemon_restarted(caller, daemons, receivers,
                                                                  tmp_path):
    """kill -9 of the receiver during a burst, kill -9 of the daemon while
    the receiver is down (records spool in the trail), both back: every
    record arrives exactly once by (session, seq)."""
    port = free_port()
    rx = SyslogReceiver(tmp_path, port)
    receivers.append(rx)
    rx.start()
    d = Daemon(caller, config=forward_config({
        "name": "siem", "type": "syslog-tcp", "address": f"127.0.0.1:{port}",
        "batch": 10, "backoff_max": 1}))
    daemons.append(d)
    ws = caller.workspace()
    session, pid = start_session(d, ws, ["sh", "-c", BURSTS])
    wait_for(lambda: len([g for g in rx.records() if g["session"] == session]) >= 15,
             "the first records at the receiver")
    rx.kill9()  # mid-stream: the first burst is still being sent
    got_before = len([g for g in rx.records() if g["session"] == session])
    time.sleep(2.5)  # the second burst spools while the receiver is down
    d.kill9()
    d.start()
    rx.start()
    wait_ended(d, session)
    seqs = trail_seqs(d, session)
    assert len(seqs) > 180
    wait_for(lambda: len({g["seq"] for g in rx.records() if g["session"] == session})
             >= len(seqs), "every record at the receiver",
             why=lambda: (len(seqs), len(rx.records()), [
                 e for e in d.trail_events() if e["type"].startswith("serve.forward")]))
    time.sleep(0.5)  # anything sent twice would come now
    got = rx.records()
    assert got_before < len(seqs)
    assert_exactly_once(got, session, seqs)
    # RFC 5424 content: the record itself, its type as MSGID
    first = next(g for g in got if g["session"] == session and g["seq"] == 0)
    assert first["msgid"] == "session.start" and first["record"]["type"] == "session.start"
    assert first["pri"] == 16 * 8 + 6
    # the outage is in the daemon's own trail, and its end
    types = [e["type"] for e in d.trail_events()]
    assert "serve.forward.down" in types and "serve.forward.up" in types
    # the daemon's own trails are forwarded too (who started the session)
    wait_for(lambda: any(g["record"]["type"] == "serve.session.start"
                         and g["record"].get("pid") == pid for g in rx.records()),
             "the daemon's serve.session.start at the receiver")
    # (other `reins run` sessions of this user may be forwarded too: only
    # those of the daemon's own trails are checked here)
    daemon_ids = {f.name[6:30] for f in (d.state / "trails").glob("serve-*.jsonl")}
    own = [g for g in rx.records() if g["session"] in daemon_ids]
    assert own and all(g["msgid"].startswith("serve.") for g in own)
    assert len(own) == len({(g["session"], g["seq"]) for g in own})
    d.stop()
    # the cursor: the last seq taken, persisted
    cursor = json.loads((d.state / "forward" / "siem.json").read_text())
    assert cursor[session] == seqs[-1]


def make_ca(tmp, name="localhost"):
    """A test CA and a server certificate for `name`, signed by it."""
    def ssl_(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp)
    ssl_("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
         "-days", "2", "-subj", "/CN=reins test CA")
    ssl_("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
         "-subj", f"/CN={name}")
    (tmp / "ext").write_text(f"subjectAltName=DNS:{name}\n")
    ssl_("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext")
    return tmp / "ca.pem", tmp / "server.pem", tmp / "server.key"


def test_syslog_over_tls_with_a_test_ca(caller, daemons, receivers, tmp_path):
    """RFC 5425 over TLS: the receiver's certificate verified against the
    configured CA; a receiver the CA did not sign gets nothing."""
    pki = caller.mkdtemp(prefix="reins-pki-")
    ca, cert, key = make_ca(pki)
    other = caller.mkdtemp(prefix="reins-pki-other-")
    other_ca, _, _ = make_ca(other)
    for p in (ca, other_ca):
        os.chmod(p, 0o644)
    good, bad = free_port(), free_port()
    rx = SyslogReceiver(tmp_path, good, tls=(cert, key))
    rx_bad = SyslogReceiver(tmp_path, bad, tls=(cert, key))
    receivers += [rx, rx_bad]
    rx.start()
    rx_bad.start()
    config = ("version: 1\nforward:\n"
              f"  - {{name: tls, type: syslog-tls, address: '127.0.0.1:{good}', ca: '{ca}',"
              " server_name: localhost, backoff_max: 1}\n"
              f"  - {{name: wrongca, type: syslog-tls, address: '127.0.0.1:{bad}', "
              f"ca: '{other_ca}', server_name: localhost, backoff_max: 1}}\n")
    d = Daemon(caller, config=config)
    daemons.append(d)
    session, _ = start_session(d, caller.workspace(), ["sh", "-c", "/bin/true; /bin/true"])
    wait_ended(d, session)
    seqs = trail_seqs(d, session)
    wait_for(lambda: len([g for g in rx.records() if g["session"] == session]) >= len(seqs),
             "every record over TLS")
    assert_exactly_once(rx.records(), session, seqs)
    assert rx_bad.records() == []
    downs = [e for e in d.trail_events()
             if e["type"] == "serve.forward.down" and e["target"] == "wrongca"]
    assert downs and "TLS" in downs[0]["error"], downs


class HTTPReceiver:
    """An HTTP server in a thread: answers `fail_first` requests with 503,
    then 200; keeps every request it answered 200. With `tls` (certificate,
    key) it speaks HTTPS only; `port` 0: any free one."""

    def __init__(self, fail_first=0, tls=None, port=0):
        self.requests, self.refused = [], 0
        self.fail_first = fail_first
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.refused < outer.fail_first:
                    outer.refused += 1
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                outer.requests.append((self.path, dict(self.headers), body))
                reply = b'{"text":"Success","code":0}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.handshake_failures = 0
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            plain = self.server.get_request

            def get_request():
                sock, addr = plain()
                try:  # a client that refuses the certificate: nothing served
                    return ctx.wrap_socket(sock, server_side=True), addr
                except (ssl.SSLError, OSError):
                    self.handshake_failures += 1
                    sock.close()
                    raise
            self.server.get_request = get_request
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_receiver():
    made = []

    def make(**kw):
        r = HTTPReceiver(**kw)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()


def hec_events(requests):
    dec = json.JSONDecoder()
    out = []
    for _, _, body in requests:
        text, i = body.decode(), 0
        while i < len(text):
            while i < len(text) and text[i].isspace():
                i += 1
            if i == len(text):
                break
            obj, i = dec.raw_decode(text, i)
            out.append(obj)
    return out


def test_splunk_hec_batches_with_retries(caller, daemons, http_receiver):
    """POST /services/collector/event with Authorization: Splunk TOKEN;
    the receiver refuses the first two batches (503): they are sent again,
    and every record is taken once."""
    rx = http_receiver(fail_first=2)
    d = Daemon(caller, config=forward_config({
        "name": "hec", "type": "splunk-hec", "token": "s3cret-token",
        "url": f"http://127.0.0.1:{rx.port}/services/collector/event",
        "batch": 5, "backoff_max": 1}))
    daemons.append(d)
    session, _ = start_session(d, caller.workspace(),
                               ["sh", "-c", "for i in $(seq 12); do /bin/true; done"])
    wait_ended(d, session)
    seqs = trail_seqs(d, session)
    wait_for(lambda: len([e for e in hec_events(rx.requests)
                          if e["event"].get("session") == session]) >= len(seqs),
             "every record at the HEC")
    time.sleep(0.5)
    assert rx.refused == 2
    for path, headers, _ in rx.requests:
        assert path == "/services/collector/event"
        assert headers["Authorization"] == "Splunk s3cret-token"
    events = hec_events(rx.requests)
    assert all(e["sourcetype"] == "reins:audit" and "event" in e for e in events)
    got = [{"session": e["event"]["session"], "seq": e["event"]["seq"]} for e in events]
    assert_exactly_once(got, session, seqs)
    assert max(len(hec_events([r])) for r in rx.requests) <= 5  # batch: 5


def test_elasticsearch_bulk(caller, daemons, http_receiver):
    """NDJSON bulk: a `create` action with _id SESSION-SEQ before each record."""
    rx = http_receiver()
    d = Daemon(caller, config=forward_config({
        "name": "es", "type": "elasticsearch", "url": f"http://127.0.0.1:{rx.port}/_bulk"}))
    daemons.append(d)
    session, _ = start_session(d, caller.workspace(), ["sh", "-c", "/bin/true"])
    wait_ended(d, session)
    seqs = trail_seqs(d, session)

    def docs():
        out = []
        for path, headers, body in rx.requests:
            assert path == "/_bulk"
            assert headers["Content-Type"] == "application/x-ndjson"
            lines = body.decode().splitlines()
            for action, doc in zip(lines[::2], lines[1::2]):
                a, r = json.loads(action), json.loads(doc)
                assert a["create"]["_id"] == f"{r['session']}-{r['seq']}"
                out.append({"session": r["session"], "seq": r["seq"]})
        return out
    wait_for(lambda: len([g for g in docs() if g["session"] == session]) >= len(seqs),
             "every record in the bulk requests")
    assert_exactly_once(docs(), session, seqs)


@pytest.mark.parametrize("bad, why", [
    ({"type": "syslog-udp", "address": "127.0.0.1:514"}, "type: expected"),
    ({"type": "splunk-hec", "url": "ftp://127.0.0.1:8088/services/collector/event",
      "token": "x"}, "url: expected http(s)://"),
    ({"type": "elasticsearch", "url": "http://127.0.0.1:9200/_bulk", "ca": "/etc/ca.pem"},
     "ca and server_name are for syslog-tls and https:// only"),
    ({"type": "elasticsearch", "url": "https://user@127.0.0.1:9200/_bulk"},
     "url: expected http(s)://"),
    ({"type": "splunk-hec", "url": "http://127.0.0.1:8088/services/collector/event"},
     "needs token"),
    ({"type": "syslog-tls", "address": "127.0.0.1:6514"}, "needs ca"),
    ({"type": "syslog-tcp", "address": "127.0.0.1:6514", "colour": "red"}, "unknown key"),
])
def test_a_bad_forward_target_is_refused_at_start(caller, bad, why):
    d = Daemon(caller, config=forward_config({"name": "x", **bad}), start=False)
    r = caller.run(d.args())
    assert r.returncode != 0
    assert why in r.stderr, r.stderr
    assert "serve.yaml:" in r.stderr, r.stderr


def hec_target(name, url, **extra):
    return {"name": name, "type": "splunk-hec", "token": "s3cret-token", "url": url,
            "backoff_max": 1, **extra}


def forward_configs(*targets):
    return "version: 1\nforward:\n" + "".join(
        "  - {" + ", ".join(f"{k}: '{v}'" for k, v in t.items()) + "}\n" for t in targets)


def test_splunk_hec_over_https_outage_and_restart(caller, daemons, http_receiver, tmp_path):
    """HEC over HTTPS, the receiver's certificate verified against `ca:`
    for the URL's host; the receiver goes away mid-stream, the daemon is
    killed with -9 during the outage, both come back (the receiver on the
    same port): every record arrived once by (session, seq)."""
    pki = caller.mkdtemp(prefix="reins-pki-")
    ca, cert, key = make_ca(pki)
    os.chmod(ca, 0o644)
    rx = http_receiver(tls=(cert, key))
    port = rx.port
    d = Daemon(caller, config=forward_configs(hec_target(
        "hec", f"https://localhost:{port}/services/collector/event", ca=ca, batch=10)))
    daemons.append(d)
    session, _ = start_session(d, caller.workspace(), ["sh", "-c", BURSTS])
    wait_for(lambda: len([e for e in hec_events(rx.requests)
                          if e["event"].get("session") == session]) >= 15,
             "the first records over HTTPS")
    rx.close()  # the outage, mid-stream
    time.sleep(2.5)  # records spool in the trail meanwhile
    d.kill9()
    d.start()
    rx2 = http_receiver(tls=(cert, key), port=port)
    wait_ended(d, session)
    seqs = trail_seqs(d, session)
    assert len(seqs) > 180

    def got():
        return [{"session": e["event"]["session"], "seq": e["event"]["seq"]}
                for e in hec_events(rx.requests + rx2.requests)
                if e["event"].get("session") == session]
    wait_for(lambda: len({(g["session"], g["seq"]) for g in got()}) >= len(seqs),
             "every record at the HEC after the outage",
             why=lambda: [e for e in d.trail_events() if e["type"].startswith("serve.forward")])
    time.sleep(0.5)  # anything sent twice would come now
    assert rx.requests and rx2.requests
    assert_exactly_once(got(), session, seqs)
    assert all(h["Authorization"] == "Splunk s3cret-token" for _, h, _ in rx2.requests)
    # the outage is recorded (its end only when the restarted daemon met it)
    assert "serve.forward.down" in [e["type"] for e in d.trail_events()]


def test_https_receiver_not_verified_gets_nothing(caller, daemons, http_receiver):
    """Three HTTPS targets the daemon must refuse: a CA that did not sign
    the receiver, no `ca:` (the system's trust store does not hold the test
    CA), and the right CA with a name the certificate does not hold. Each
    refusal is a recorded delivery error naming the certificate; nothing is
    sent in clear text instead (the plain receiver gets no request)."""
    pki = caller.mkdtemp(prefix="reins-pki-")
    ca, cert, key = make_ca(pki)
    other = caller.mkdtemp(prefix="reins-pki-other-")
    other_ca, _, _ = make_ca(other)
    for p in (ca, other_ca):
        os.chmod(p, 0o644)
    rx = http_receiver(tls=(cert, key))
    plain = http_receiver()  # an https:// URL to a plain-HTTP port
    url = "/services/collector/event"
    d = Daemon(caller, config=forward_configs(
        hec_target("wrongca", f"https://localhost:{rx.port}{url}", ca=other_ca),
        hec_target("system", f"https://localhost:{rx.port}{url}"),
        hec_target("wrongname", f"https://127.0.0.1:{rx.port}{url}", ca=ca),
        hec_target("plain", f"https://localhost:{plain.port}{url}", ca=ca)))
    daemons.append(d)
    session, _ = start_session(d, caller.workspace(), ["sh", "-c", "/bin/true"])
    wait_ended(d, session)

    def downs():
        return {e["target"]: e["error"] for e in d.trail_events()
                if e["type"] == "serve.forward.down"}
    wait_for(lambda: len(downs()) == 4, "four recorded delivery errors", why=downs)
    errors = downs()
    assert "certificate refused: not signed by a trusted CA" in errors["wrongca"], errors
    assert "certificate refused: not signed by a trusted CA" in errors["system"], errors
    assert "certificate refused: it is not for this name" in errors["wrongname"], errors
    assert "TLS with localhost" in errors["plain"], errors
    assert rx.requests == [] and plain.requests == []
    assert rx.handshake_failures >= 3


def trail_file_seqs(path):
    return sorted(json.loads(line)["seq"] for line in Path(path).read_text().splitlines()
                  if line.strip())


def test_reins_run_sessions_outside_the_daemon_are_forwarded(caller, daemons, http_receiver):
    """Sessions the daemon did not start -- `reins run` by its user while it
    runs, one short (its trail in the user's trail directory) and one with
    `--audit PATH` elsewhere (found through its registry entry) -- are
    forwarded, every record once by (session, seq), and still once after
    the daemon is killed with -9 and started again."""
    rx = http_receiver()
    d = Daemon(caller, config=forward_config({
        "name": "es", "type": "elasticsearch", "url": f"http://127.0.0.1:{rx.port}/_bulk",
        "batch": 7}))
    daemons.append(d)
    ws = caller.workspace()
    r = caller.run(["run", "-q", "-w", ws, "--", "sh", "-c",
                    "for i in $(seq 20); do /bin/true; done"], cwd=ws)
    assert r.returncode == 0, r.stderr
    trails = caller.home / ".local" / "state" / "reins" / "trails"
    [short] = list(trails.glob("*.jsonl"))
    elsewhere = caller.mkdtemp(prefix="reins-trail-") / "long.jsonl"
    r = caller.run(["run", "-q", "--audit", elsewhere, "-w", ws, "--", "sh", "-c",
                    "for i in $(seq 20); do /bin/true; done; sleep 3; /bin/true"], cwd=ws)
    assert r.returncode == 0, r.stderr

    def docs():
        out = []
        for _, _, body in rx.requests:
            lines = body.decode().splitlines()
            out += [json.loads(doc) for doc in lines[1::2]]
        return [{"session": r["session"], "seq": r["seq"]} for r in out]
    sessions = {short.stem: trail_file_seqs(short),
                json.loads(elsewhere.read_text().splitlines()[0])["session"]:
                trail_file_seqs(elsewhere)}
    for session, seqs in sessions.items():
        assert len(seqs) > 20
        wait_for(lambda: {g["seq"] for g in docs() if g["session"] == session} >= set(seqs),
                 f"every record of {session}", why=lambda: len(docs()))
    d.kill9()
    d.start()
    time.sleep(2.5)  # a restarted daemon resending anything would do it now
    for session, seqs in sessions.items():
        assert_exactly_once(docs(), session, seqs)


def proc_start_ticks(pid):
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[19])


def test_a_fifo_named_by_a_registry_entry_does_not_stop_forwarding(caller, daemons,
                                                                     http_receiver):
    """A registry entry is its user's file and may name any trail: one that
    names a FIFO of the user's must not hold the forwarder (open() of a FIFO
    waits for a writer); the other sessions' records keep arriving."""
    rx = http_receiver()
    d = Daemon(caller, config=forward_config({
        "name": "es", "type": "elasticsearch", "url": f"http://127.0.0.1:{rx.port}/_bulk"}))
    daemons.append(d)
    ws = caller.workspace()
    session, _ = start_session(d, ws, ["sh", "-c", "/bin/true; sleep 3; "
                                       "for i in $(seq 30); do /bin/true; done"])
    registry = None
    deadline = time.monotonic() + TIMEOUT
    while registry is None and time.monotonic() < deadline:
        for cand in (Path(f"/run/user/{caller.uid}/reins"), Path(f"/tmp/reins-{caller.uid}")):
            if (cand / f"{session}.json").exists():
                registry = cand
        time.sleep(0.05)
    assert registry, "the session's registry entry"
    fifo = caller.mkdtemp(prefix="reins-fifo-") / "trail.jsonl"
    os.mkfifo(fifo)
    os.chown(fifo, caller.uid, caller.gid)
    fake = "f1f0" + os.urandom(10).hex()
    entry = caller.write(registry / f"{fake}.json", json.dumps({
        "session": fake, "pid": os.getpid(), "pid_start": proc_start_ticks(os.getpid()),
        "started": "2026-01-01T00:00:00Z", "trail": str(fifo)}), 0o600)
    try:
        wait_ended(d, session)
        seqs = trail_seqs(d, session)
        assert len(seqs) > 30

        def docs():
            out = []
            for _, _, body in rx.requests:
                out += [json.loads(doc) for doc in body.decode().splitlines()[1::2]]
            return [{"session": r["session"], "seq": r["seq"]} for r in out]
        wait_for(lambda: {g["seq"] for g in docs() if g["session"] == session} >= set(seqs),
                 "every record past the FIFO")
        assert_exactly_once(docs(), session, seqs)
    finally:
        entry.unlink()
        # a forwarder waiting in open() (the bug) is released and finds an
        # empty file there next time, so that the daemon can stop
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader waits, as it should be
            writer = None
        fifo.unlink()
        fifo.write_text("")
        if writer is not None:
            os.close(writer)
