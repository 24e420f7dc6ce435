"""reins serve: the dashboard's side of the HTTPS listener, without a browser
(issue 16.1): the login that turns a token into a cookie, the cookie's
flags, CSRF and origin checks on every state-changing request that the
cookie authenticates, the headers (CSP with Trusted Types), the files
compiled into the binary, /v1/whoami, the per-session `actions`, and the
`text` of events. The browser's own view is tests/integration/test_dashboard.py.
"""
import http.client
import json
import os
import re
import ssl
import time
import urllib.parse

import pytest

from conftest import TIMEOUT
from test_serve import (Daemon, daemons, make_certificate, start_session,  # noqa: F401
                        wait_ended)


class Web:
    """A daemon with an HTTPS listener, and tokens on it."""

    def __init__(self, caller, daemons):
        self.caller = caller
        self.d = Daemon(caller, start=False)
        daemons.append(self.d)
        self.cert, key = make_certificate(caller, self.d.dir)
        self.d.extra = ["--listen", "127.0.0.1:0", "--tls-cert", str(self.cert), "--tls-key",
                        str(key)]
        self.d.start()
        self.port = int(re.search(r"https://127\.0\.0\.1:(\d+)", self.d.banner).group(1))
        self.origin = f"https://127.0.0.1:{self.port}"

    def token(self, name, role, *args):
        r = self.caller.run(["serve", "token", "create", "--state", self.d.state, "--name", name,
                             "--role", role, *args, "--user", str(self.caller.uid)])
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def request(self, method, path, headers=None, body=None):
        """(status, headers as a list of pairs, body text)"""
        ctx = ssl.create_default_context(cafile=str(self.cert))
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=TIMEOUT)
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        text = r.read().decode(errors="replace")
        pairs = r.getheaders()
        conn.close()
        return r.status, pairs, text

    def login(self, token, origin=True):
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if origin:
            headers["Origin"] = self.origin
        return self.request("POST", "/login", headers,
                            urllib.parse.urlencode({"token": token}))

    def cookie_call(self, method, path, token, csrf=None, origin=None, body=None):
        headers = {"Cookie": f"reins_token={token}"}
        if csrf is not None:
            headers["X-CSRF-Token"] = csrf
        if origin is not None:
            headers["Origin"] = origin
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body)
        status, _, text = self.request(method, path, headers, body)
        return status, (json.loads(text) if text.startswith(("{", "[")) else text)


def header(pairs, name):
    return [v for k, v in pairs if k.lower() == name.lower()]


@pytest.fixture
def web(caller, daemons):
    return Web(caller, daemons)


def test_login_sets_a_strict_cookie_and_a_bad_token_is_told(caller, web):
    admin = web.token("adm", "admin")
    status, pairs, _ = web.request("GET", "/")
    assert status == 303 and header(pairs, "Location") == ["/login"]
    status, pairs, text = web.request("GET", "/login")
    assert status == 200, text
    assert header(pairs, "Content-Type")[0].startswith("text/html")

    status, pairs, _ = web.login("rst_" + "0" * 64)
    assert status == 303 and header(pairs, "Location") == ["/login?failed=1"]
    assert header(pairs, "Set-Cookie") == []

    status, pairs, _ = web.login(admin)
    assert status == 303 and header(pairs, "Location") == ["/"]
    [cookie] = header(pairs, "Set-Cookie")
    parts = [p.strip() for p in cookie.split(";")]
    assert parts[0] == f"reins_token={admin}"
    for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
        assert flag in parts, cookie
    # the cookie opens the page and the API
    status, pairs, text = web.request("GET", "/", {"Cookie": parts[0]})
    assert status == 200 and header(pairs, "Content-Type")[0].startswith("text/html"), text
    status, me = web.cookie_call("GET", "/v1/whoami", admin)
    assert status == 200 and me["role"] == "admin" and me["token"] == "adm", me
    assert re.fullmatch(r"[0-9a-f]{64}", me["csrf"]), me
    # a login posted by another site's page is refused (login CSRF)
    status, pairs, _ = web.request("POST", "/login", {
        "Origin": "https://evil.example", "Content-Type": "application/x-www-form-urlencoded"},
        urllib.parse.urlencode({"token": admin}))
    assert status == 403 and header(pairs, "Set-Cookie") == []
    # "Origin: null" (a page with referrer policy no-referrer) counts as
    # the page's own only when the browser says so (Sec-Fetch-Site)
    form = {"Origin": "null", "Content-Type": "application/x-www-form-urlencoded"}
    status, pairs, _ = web.request("POST", "/login", form, urllib.parse.urlencode({"token": admin}))
    assert status == 403
    status, pairs, _ = web.request("POST", "/login", {**form, "Sec-Fetch-Site": "cross-site"},
                                   urllib.parse.urlencode({"token": admin}))
    assert status == 403
    status, pairs, _ = web.request("POST", "/login", {**form, "Sec-Fetch-Site": "same-origin"},
                                   urllib.parse.urlencode({"token": admin}))
    assert status == 303 and header(pairs, "Location") == ["/"]
    logins = [e for e in web.d.trail_events() if e["type"] == "serve.login"]
    assert [e["ok"] for e in logins] == [False, True, True], logins
    assert admin not in json.dumps(web.d.trail_events())


def test_every_answer_carries_a_strict_csp(caller, web):
    admin = web.token("adm", "admin")
    for method, path, headers in [("GET", "/login", {}), ("GET", "/", {}),
                                  ("GET", "/v1/whoami", {"Cookie": f"reins_token={admin}"}),
                                  ("GET", "/static/no-such-file.js", {})]:
        _, pairs, _ = web.request(method, path, headers)
        [csp] = header(pairs, "Content-Security-Policy")
        rules = dict((r.strip().split(" ", 1) + [""])[:2] for r in csp.split(";"))
        assert rules["default-src"] == "'none'" and rules["script-src"] == "'self'", csp
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, csp
        assert rules["require-trusted-types-for"] == "'script'", csp
        assert rules["frame-ancestors"] == "'none'", csp
        assert header(pairs, "X-Content-Type-Options") == ["nosniff"]


def test_state_changes_by_cookie_need_the_csrf_token(caller, web):
    admin = web.token("adm", "admin")
    ws = caller.workspace()
    session, _ = start_session(web.d, ws, ["sleep", "60"])
    _, me = web.cookie_call("GET", "/v1/whoami", admin)
    csrf = me["csrf"]
    stop = f"/v1/sessions/{session}/stop"
    # no token, a wrong one, the right one from another origin: refused
    for given, origin in [(None, None), ("0" * 64, None), (csrf, "https://evil.example"),
                          (csrf, "null")]:
        status, body = web.cookie_call("POST", stop, admin, csrf=given, origin=origin)
        assert status == 403 and "CSRF" in body["error"], (given, origin, body)
    [entry] = [s for s in web.d.call("GET", "/v1/sessions")[1] if s["session"] == session]
    assert entry["alive"] is True
    # the header the page sends, same origin: done
    status, body = web.cookie_call("POST", stop, admin, csrf=csrf, origin=web.origin)
    assert status == 200 and body["stopped"] is True, body
    wait_ended(web.d, session)
    # a bearer token needs no CSRF token: no browser sends it by itself
    status, _, text = web.request("POST", stop, {"Authorization": f"Bearer {admin}"})
    assert status == 409, text
    refused = [e for e in web.d.trail_events()
               if e["type"] == "serve.refused" and "CSRF" in e.get("reason", "")]
    assert len(refused) == 4 and all(e["token"] == "adm" for e in refused), refused
    # logout needs it too, and clears the cookie
    status, _ = web.cookie_call("POST", "/logout", admin)
    assert status == 403
    status, pairs, _ = web.request("POST", "/logout", {
        "Cookie": f"reins_token={admin}", "X-CSRF-Token": csrf, "Origin": web.origin})
    assert status == 303 and header(pairs, "Location") == ["/login"]
    assert "Max-Age=0" in header(pairs, "Set-Cookie")[0]


def test_a_revoked_token_in_a_cookie_stops_at_once(caller, web):
    admin = web.token("adm", "admin")
    web.token("other", "admin")
    assert web.cookie_call("GET", "/v1/sessions", admin)[0] == 200
    r = caller.run(["serve", "token", "revoke", "adm", "--state", web.d.state])
    assert r.returncode == 0, r.stderr
    assert web.cookie_call("GET", "/v1/sessions", admin)[0] == 401
    status, pairs, _ = web.request("GET", "/", {"Cookie": f"reins_token={admin}"})
    assert status == 303 and header(pairs, "Location") == ["/login"]


def test_whoami_and_actions_follow_the_role(caller, web):
    approver = web.token("appr", "approver")
    operator = web.token("op", "operator", "--policy", "default")
    ws = caller.workspace()
    session, _ = start_session(web.d, ws, ["sleep", "60"])
    status, me = web.cookie_call("GET", "/v1/whoami", approver)
    assert status == 200 and me["role"] == "approver", me
    assert "control" not in me["rights"] and "approve" in me["rights"], me
    [entry] = [s for s in web.cookie_call("GET", "/v1/sessions", approver)[1]
               if s["session"] == session]
    assert entry["actions"]["control"] is False and entry["actions"]["approve"] is True, entry
    [entry] = [s for s in web.cookie_call("GET", "/v1/sessions", operator)[1]
               if s["session"] == session]
    assert entry["actions"]["control"] is True and entry["actions"]["approve"] is False, entry
    status, one = web.cookie_call("GET", f"/v1/sessions/{session}", operator)
    assert status == 200 and one["actions"] == entry["actions"], one
    # an approver's forged stop, with a valid CSRF token of its own: the role decides
    status, body = web.cookie_call("POST", f"/v1/sessions/{session}/stop", approver,
                                   csrf=me["csrf"], origin=web.origin)
    assert status == 403 and "role" in body["error"], body
    # on the unix socket: who the kernel says, no csrf
    status, me = web.d.call("GET", "/v1/whoami")
    assert status == 200 and me["role"] == "admin" and "csrf" not in me, me
    assert me["uid"] == os.getuid()  # the test process calls


def test_static_files_are_compiled_in_and_nothing_else_is_served(caller, web):
    status, pairs, text = web.request("GET", "/static/login.html")
    assert status == 200 and "<form" in text
    for path in ["/static/../serve.sock", "/static/", "/static/%2e%2e/state/tokens.json",
                 "/state/tokens.json", "/static/tokens.json"]:
        status, _, text = web.request("GET", path)
        assert status == 404, (path, text)
    # the unix socket serves the API only
    status, body = web.d.call("GET", "/")
    assert status == 404, body


def test_events_and_audit_carry_text_for_people(caller, web):
    """The line `reins audit show` prints, agent bytes escaped: a page can
    show it without formatting records itself."""
    admin = web.token("adm", "admin")
    ws = caller.workspace()
    import socket as socketlib
    sock = socketlib.create_connection(("127.0.0.1", web.port), timeout=TIMEOUT)
    ctx = ssl.create_default_context(cafile=str(web.cert))
    stream = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
    stream.sendall(f"GET /v1/events?type=exec HTTP/1.1\r\nHost: x\r\n"
                   f"Cookie: reins_token={admin}\r\n\r\n".encode())
    time.sleep(0.3)
    session, _ = start_session(web.d, ws, ["sh", "-c", "printf '\\033[31m<b>x</b>' > /dev/null"])
    wait_ended(web.d, session)
    # a root daemon streams every user's sessions: wait for this one's
    seen = b""
    mine = []
    deadline = time.monotonic() + TIMEOUT
    while not mine:
        assert time.monotonic() < deadline, seen[-2000:]
        seen += stream.recv(65536)
        complete = seen[:seen.rfind(b"\n\n") + 1].decode()
        data = [json.loads(line[5:]) for line in complete.splitlines()
                if line.startswith("data:")]
        mine = [e for e in data if e["session"] == session]
    stream.close()
    assert mine and all(e["text"].startswith("exec ") for e in mine), data
    assert any("\\033" in e["text"] or "\\x1b" in e["text"] or "\\e" in e["text"]
               for e in mine), mine
    assert not any("\x1b" in e["text"] for e in mine)
    status, found = web.cookie_call("GET", f"/v1/audit?session={session}&type=exec", admin)
    assert status == 200 and found["records"], found
    assert all(r["text"].startswith("exec ") for r in found["records"]), found
