"""reins serve: escalation to webhooks and command hooks (issue 15, item 4).

A webhook receiver in this process checks each body's HMAC-SHA256
signature with the shared secret; it fails the first attempts to see the
retries, or all of them to see the dead-letter file. Every attempt must be
an event of the daemon's own trail.
"""
import hashlib
import hmac
import http.server
import json
import os
import ssl
import threading
import time

import pytest

from conftest import TIMEOUT
from test_serve import Daemon, daemons, start_session  # noqa: F401 (fixture)
from test_serve_forward import make_ca

SECRET = "shared-secret-for-the-test"


class Hook:
    def __init__(self, fail_first=0, tls=None):
        self.fail_first, self.calls, self.good = fail_first, 0, []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.calls += 1
                sig = self.headers.get("X-Reins-Signature", "")
                want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                ok = hmac.compare_digest(sig, want)
                status = 503 if outer.calls <= outer.fail_first else (200 if ok else 401)
                if status == 200:
                    outer.good.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        if tls:  # HTTPS only; a client that refuses the certificate gets nothing
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            plain = self.server.get_request
            self.server.get_request = lambda: (lambda c: (ctx.wrap_socket(
                c[0], server_side=True), c[1]))(plain())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooks():
    made = []

    def make(**kw):
        h = Hook(**kw)
        made.append(h)
        return h
    yield make
    for h in made:
        h.close()


def wait_for(predicate, what, extra=None):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}: {extra() if extra else None}")


def webhook_config(port, **extra):
    items = {"name": "oncall", "type": "webhook", "url": f"http://127.0.0.1:{port}/hook",
             "secret": SECRET, "on": "[frozen]", **extra}
    return "version: 1\nnotify:\n  - " + "\n    ".join(f"{k}: {v}" for k, v in items.items()) + "\n"


def freeze(d, caller):
    session, _ = start_session(d, caller.workspace(), ["sleep", "60"])
    status, body = d.call("POST", f"/v1/sessions/{session}/freeze")
    assert status == 200, body
    return session


def attempts(d, session):
    return [e for e in d.trail_events()
            if e["type"] == "serve.notify.attempt" and e.get("about_session") == session]


def test_webhook_signed_and_retried(caller, daemons, hooks):
    """A frozen session: the webhook fails twice (503), the third attempt is
    taken, its body carries a valid HMAC-SHA256 signature, and the three
    attempts are in the daemon's trail."""
    hook = hooks(fail_first=2)
    d = Daemon(caller, config=webhook_config(hook.port, attempts=5))
    daemons.append(d)
    session = freeze(d, caller)
    wait_for(lambda: hook.good, "a signed delivery")
    [note] = hook.good
    assert note["kind"] == "frozen" and note["session"] == session
    assert note["record"]["type"] == "risk.playbook"
    assert note["record"]["action"] == "freeze"
    wait_for(lambda: len(attempts(d, session)) >= 3, "three attempts in the trail", extra=lambda: [e for e in d.trail_events() if "notify" in e["type"]])
    tried = attempts(d, session)
    assert [a["delivered"] for a in tried] == [False, False, True]
    assert [a["attempt"] for a in tried] == [1, 2, 3]
    assert tried[0]["result"] == "HTTP 503" and tried[2]["result"] == "HTTP 200"
    d.call("POST", f"/v1/sessions/{session}/stop")


def test_webhook_dead_letter_after_the_attempts(caller, daemons, hooks):
    hook = hooks(fail_first=1000)
    d = Daemon(caller, config=webhook_config(hook.port, attempts=2))
    daemons.append(d)
    session = freeze(d, caller)
    dead = d.state / "notify" / "oncall.dead"
    wait_for(lambda: dead.exists() and dead.read_text(), "the dead-letter file")
    [line] = dead.read_text().splitlines()
    assert json.loads(line)["session"] == session
    assert [a["delivered"] for a in attempts(d, session)] == [False, False]
    letters = [e for e in d.trail_events() if e["type"] == "serve.notify.dead_letter"]
    assert letters and letters[0]["about_session"] == session
    assert hook.calls == 2
    d.call("POST", f"/v1/sessions/{session}/stop")


def test_a_wrong_secret_is_not_accepted(caller, daemons, hooks):
    """The receiver's check is real: a daemon with another secret is refused."""
    hook = hooks()
    config = webhook_config(hook.port, attempts=1).replace(SECRET, "not-the-secret")
    d = Daemon(caller, config=config)
    daemons.append(d)
    session = freeze(d, caller)
    wait_for(lambda: attempts(d, session), "an attempt")
    assert attempts(d, session)[0]["result"] == "HTTP 401"
    assert hook.good == []
    d.call("POST", f"/v1/sessions/{session}/stop")


def test_command_hook_gets_the_json_on_stdin(caller, daemons):
    out = caller.mkdtemp(prefix="reins-hook-") / "got.json"
    config = ("version: 1\nnotify:\n"
              f"  - {{name: page, type: command, command: [/usr/bin/tee, '{out}'], on: [frozen]}}\n"
              "  - {name: slow, type: command, command: [/bin/sleep, '30'], timeout: 1,"
              " attempts: 1, on: [frozen]}\n")
    d = Daemon(caller, config=config)
    daemons.append(d)
    session = freeze(d, caller)
    wait_for(lambda: out.exists() and out.read_text(), "the hook's output")
    note = json.loads(out.read_text())
    assert note["kind"] == "frozen" and note["session"] == session
    wait_for(lambda: len(attempts(d, session)) == 2, "both hooks' attempts")
    by = {a["target"]: a for a in attempts(d, session)}
    assert by["page"]["delivered"] is True and by["page"]["result"] == "exit 0"
    assert by["slow"]["delivered"] is False and "timed out" in by["slow"]["result"]
    d.call("POST", f"/v1/sessions/{session}/stop")


def test_an_approval_waiting_too_long(caller, daemons, hooks):
    hook = hooks()
    d = Daemon(caller, config=webhook_config(hook.port, on="[approval]", approval_wait=1))
    daemons.append(d)
    assert caller.run(["id"]).returncode == 0
    ws = caller.workspace()
    pol = caller.write(ws / "policy.yaml", "version: 1\nextends: default\n"
                       "network:\n  mode: proxy\napprovals: {timeout: 60s}\n")
    ask = ("curl -sS --noproxy '*' \"$REINS_REQUEST_URL\" -d "
           "'{\"kind\":\"path\",\"target\":\"docs/notes.md\",\"reason\":\"notes\","
           "\"wait\":true}'")
    session, _ = start_session(d, ws, ["sh", "-c", ask], policy=str(pol))
    wait_for(lambda: hook.good, "the late-approval notification")
    [note] = hook.good
    assert note["kind"] == "approval" and note["session"] == session
    assert note["record"]["target"] == "docs/notes.md"
    assert note["waiting_s"] >= 1
    d.call("POST", f"/v1/sessions/{session}/stop")


@pytest.mark.parametrize("bad, why", [
    ("{name: x, type: webhook, url: 'http://127.0.0.1:1/h', on: [frozen]}", "needs secret"),
    ("{name: x, type: command, command: [sh, -c, x], on: [frozen]}", "absolute path"),
    ("{name: x, type: command, command: [/bin/true], on: [weather]}", "expected tier"),
    ("{name: x, type: command, command: [/bin/true], on: [finding], severity: dire}",
     "severity"),
])
def test_a_bad_notify_target_is_refused_at_start(caller, bad, why):
    d = Daemon(caller, config=f"version: 1\nnotify:\n  - {bad}\n", start=False)
    r = caller.run(d.args())
    assert r.returncode != 0
    assert why in r.stderr, r.stderr


def test_tier_change_and_findings_by_severity(caller, daemons, hooks):
    """A finding of severity high and the tier change it causes: a target
    for high and above gets both; one for critical only the tier change."""
    high, critical = hooks(), hooks()
    config = ("version: 1\nnotify:\n"
              f"  - {{name: high, type: webhook, url: 'http://127.0.0.1:{high.port}/h',"
              f" secret: {SECRET}, on: [tier, finding], severity: high}}\n"
              f"  - {{name: crit, type: webhook, url: 'http://127.0.0.1:{critical.port}/h',"
              f" secret: {SECRET}, on: [tier, finding], severity: critical}}\n")
    d = Daemon(caller, config=config)
    daemons.append(d)
    ws = caller.workspace()
    pol = caller.write(ws / "policy.yaml", "version: 1\nextends: default\nrules:\n"
                       "  severity: {drop-and-execute: high}\n"
                       "  action: {drop-and-execute: T1}\n")
    drop = f"/tmp/reins-drop-{os.getpid()}-{caller.uid}"
    session, _ = start_session(d, ws, ["sh", "-c", f"cp /bin/true {drop}; chmod +x {drop}; "
                                       f"{drop}; rm -f {drop}"], policy=str(pol))
    wait_for(lambda: {n["kind"] for n in high.good} == {"finding", "tier"},
             "the finding and the tier change", extra=lambda: high.good)
    finding = next(n for n in high.good if n["kind"] == "finding")
    assert finding["session"] == session
    assert finding["record"]["rule"] == "drop-and-execute"
    assert finding["record"]["severity"] == "high"
    tier = next(n for n in high.good if n["kind"] == "tier")
    assert (tier["record"]["from"], tier["record"]["to"]) == (0, 1)
    wait_for(lambda: critical.good, "the tier change at the critical-only target")
    time.sleep(0.5)
    assert [n["kind"] for n in critical.good] == ["tier"]


def test_webhook_over_https_and_a_refused_certificate(caller, daemons, hooks):
    """https:// webhooks: one whose receiver the configured CA signed gets
    the signed notification; one configured with another CA sends nothing
    (no clear-text retry), and each of its attempts is recorded with the
    certificate's refusal, then the dead-letter file."""
    pki = caller.mkdtemp(prefix="reins-pki-")
    ca, cert, key = make_ca(pki)
    other = caller.mkdtemp(prefix="reins-pki-other-")
    other_ca, _, _ = make_ca(other)
    for p in (ca, other_ca):
        os.chmod(p, 0o644)
    good, bad = hooks(tls=(cert, key)), hooks(tls=(cert, key))
    config = ("version: 1\nnotify:\n"
              f"  - {{name: good, type: webhook, url: 'https://localhost:{good.port}/h',"
              f" ca: '{ca}', secret: {SECRET}, on: [frozen]}}\n"
              f"  - {{name: bad, type: webhook, url: 'https://localhost:{bad.port}/h',"
              f" ca: '{other_ca}', secret: {SECRET}, on: [frozen], attempts: 2}}\n")
    d = Daemon(caller, config=config)
    daemons.append(d)
    session = freeze(d, caller)
    wait_for(lambda: good.good, "the notification over HTTPS")
    assert good.good[0]["kind"] == "frozen" and good.good[0]["session"] == session
    dead = d.state / "notify" / "bad.dead"
    wait_for(lambda: dead.exists() and dead.read_text(), "the dead-letter file")
    by = {}
    for a in attempts(d, session):
        by.setdefault(a["target"], []).append(a)
    assert [a["delivered"] for a in by["good"]] == [True]
    assert [a["delivered"] for a in by["bad"]] == [False, False]
    for a in by["bad"]:
        assert "certificate refused: not signed by a trusted CA" in a["result"], a
    assert bad.calls == 0
    d.call("POST", f"/v1/sessions/{session}/stop")
