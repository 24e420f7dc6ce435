"""Credential injection (policy `credentials:`), end to end: the agent holds
only a placeholder; the proxy terminates TLS for the credential's hosts and
puts the real secret into the request. Real clients (curl, Python's urllib,
Node's https, git) inside the sandbox against a local TLS server with its own
test CA (trusted by reins through SSL_CERT_FILE in its own environment; the
names pinned with network.hosts). A placeholder sent anywhere else is refused
and is a critical finding; neither a secret nor a placeholder reaches the
trail. Runs as root and as nobody (the `caller` fixture)."""
import http.server
import json
import os
import re
import shutil
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "proxy_helpers"))
import servers  # noqa: E402

SECRET = "sk-reins-test-SECRET-7f3a9c"
FILE_SECRET = "file-secret-Q2W3E4"
PLACEHOLDER = re.compile(r"reins-cred-[A-Za-z0-9_-]+-[0-9a-f]{32}")


class _Handler(http.server.SimpleHTTPRequestHandler):
    """/echo: the request as JSON; /v1/stream: server-sent events, one at a
    time; anything else: files (a dumb git repository), but only with the
    right bearer token under /repo.git."""
    protocol_version = "HTTP/1.1"
    seen = []  # (host, path, headers) of every request

    def log_message(self, *args):
        pass

    def _record(self, body=b""):
        _Handler.seen.append((self.headers.get("Host"), self.path,
                              [[k, v] for k, v in self.headers.items()], body))

    def _json(self, obj, status=200):
        # what the server saw, the secrets replaced by markers: a real API
        # does not hand its key back, and the agent's output must not hold it
        out = json.dumps(obj).replace(SECRET, "<SECRET>").replace(FILE_SECRET, "<FILE_SECRET>")
        out = out.replace(NPM_SECRET, "<NPM_SECRET>").replace(JWT_SIGNATURE, "<JWT_SIGNATURE>")
        out = out.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self):
        self._record()
        if "/echo" in self.path:
            return self._json({"path": self.path,
                               "headers": [[k, v] for k, v in self.headers.items()]})
        if self.path.startswith("/v1/stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(3):
                data = f"data: event {i}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
                time.sleep(0.1)
            self.wfile.write(b"0\r\n\r\n")
            return None
        if self.path.startswith("/repo.git"):
            if self.headers.get("Authorization") != f"Bearer {SECRET}":
                return self._json({"error": "unauthorized"}, 401)
        return super().do_GET()

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        self._record(body)
        return self._json({"path": self.path, "body": body.decode("latin-1"),
                           "headers": [[k, v] for k, v in self.headers.items()]})


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _start(root, tls=None):
    server = _Server(("127.0.0.1", 0), lambda *a, **kw: _Handler(*a, directory=str(root), **kw))
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*tls)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Srv:
    pass


@pytest.fixture(scope="module")
def srv():
    root = tempfile.mkdtemp(prefix="reins-cred-srv-", dir="/tmp")
    os.chmod(root, 0o755)
    s = Srv()
    s.root = Path(root)
    servers.git_repo(root)
    s.cert, s.key = servers.make_cert(root, ["api.test", "other.test"])
    s.https = _start(root, (s.cert, s.key))
    s.http = _start(root)
    s.port = s.https.server_address[1]
    s.http_port = s.http.server_address[1]
    yield s
    for server in (s.https, s.http):
        server.shutdown()
        server.server_close()
    shutil.rmtree(root, ignore_errors=True)


def policy(s, secret_file, extra=()):
    p = s.port
    allow = [f"api.test:{p}", f"other.test:{p}", f"wrong.test:{p}", f"plain.test:{s.http_port}"]
    return "\n".join([
        "version: 1",
        "extends: default",
        "network:",
        "  mode: proxy",
        f"  allow: {json.dumps(allow)}",
        "  hosts: " + json.dumps({n: "127.0.0.1" for n in
                                  ("api.test", "other.test", "wrong.test", "plain.test")}),
        # the secret's source variable kept on purpose: it must not pass
        "env: {keep: [API_SECRET]}",
        "credentials:",
        "  - name: api",
        "    source: {env: API_SECRET}",
        f"    hosts: [\"api.test:{p}/v1/\", \"api.test:{p}/repo.git\", \"api.test:{p}/echo\"]",
        "    how: bearer",
        "    env: API_TOKEN",
        "  - name: other",
        f"    source: {{file: {secret_file}}}",
        f"    hosts: [\"other.test:{p}\"]",
        "    how: header x-api-key",
        "    env: OTHER_KEY",
        "  - name: plain",
        "    source: {env: API_SECRET}",
        f"    hosts: [\"plain.test:{s.http_port}/plain/\"]",
        "    how: header x-plain",
        "    env: PLAIN_KEY",
        "    plaintext: true",
        "  - name: wrong",
        "    source: {env: API_SECRET}",
        f"    hosts: [\"wrong.test:{p}\"]",
        "    env: WRONG_KEY",
        # a critical finding freezes the sandbox (T3): recorded only here,
        # so that every probe runs
        "rules: {action: {credential-misuse: log}}",
        *extra,
    ]) + "\n"


class Run:
    def __init__(self, result, trail):
        self.r = result
        self.stdout = result.stdout
        self.trail_text = trail.read_text() if trail.exists() else ""
        self.events = [json.loads(line) for line in self.trail_text.splitlines() if line]

    def of(self, kind):
        return [e for e in self.events if e.get("type") == kind]

    def out(self, name):
        for line in self.stdout.splitlines():
            if line.startswith(name + " "):
                return line[len(name) + 1:]
        raise AssertionError(f"no {name} line in {self.stdout!r} / {self.r.stderr!r}")


def run_with_credentials(caller, s, script, *, files=(), trust=True, extra=()):
    ws = caller.workspace()
    for name, text in files:
        caller.write(ws / name, text)
    d = caller.mkdtemp(prefix="reins-cred-")
    secret_file = caller.write(d / "other.key", FILE_SECRET + "\n", 0o600)
    pol = caller.write(ws / "policy.yaml", policy(s, secret_file, extra))
    trail = d / "trail.jsonl"
    env = {"API_SECRET": SECRET}
    if trust:
        env["SSL_CERT_FILE"] = s.cert  # reins trusts the test CA for the upstream
    r = caller.run(["run", "-p", pol, "--audit", trail, "-w", ws, "--", "sh", "-c", script],
                   cwd=ws, env=env, timeout=120)
    return Run(r, trail)


def assert_no_secret_or_placeholder(run):
    for text, what in ((run.trail_text, "trail"), (run.stdout, "stdout")):
        assert SECRET not in text, f"the secret is in the {what}"
        assert FILE_SECRET not in text, f"the file secret is in the {what}"
    assert not PLACEHOLDER.search(run.trail_text), "a placeholder is in the trail"


PY_CLIENT = """\
import json, os, urllib.request
req = urllib.request.Request("https://api.test:%d/v1/echo?via=python",
                             headers={"Authorization": "Bearer " + os.environ["API_TOKEN"]})
body = json.load(urllib.request.urlopen(req, timeout=20))
print("python", dict(body["headers"]).get("Authorization"))
"""

# Node 20's fetch does not follow HTTPS_PROXY: a CONNECT through the proxy,
# then Node's own TLS (trusting NODE_EXTRA_CA_CERTS) and https.request
NODE_CLIENT = """\
const http = require('http'), https = require('https'), tls = require('tls');
const proxy = new URL(process.env.HTTPS_PROXY);
const target = 'api.test:%d';
http.request({host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: target})
  .on('connect', (res, socket) => {
    const s = tls.connect({socket, servername: 'api.test'});
    https.get({host: 'api.test', port: %d, path: '/v1/echo?via=node', createConnection: () => s,
               headers: {'x-api-key': 'none', authorization: 'Bearer ' + process.env.API_TOKEN}},
      r => { let b = ''; r.on('data', d => b += d); r.on('end', () => {
        const h = Object.fromEntries(JSON.parse(b).headers);
        console.log('node', r.statusCode, h.Authorization);
        s.destroy(); }); });
  }).on('error', e => console.log('node error', e.message)).end();
"""


def test_clients_reach_the_api_with_the_secret_they_never_hold(caller, srv):
    _Handler.seen.clear()
    p = srv.port
    script = f"""
echo "token $API_TOKEN"
echo "source ${{API_SECRET:-absent}}"
echo "other $OTHER_KEY"
echo "bundle $SSL_CERT_FILE $NODE_EXTRA_CA_CERTS $REQUESTS_CA_BUNDLE $CURL_CA_BUNDLE $GIT_SSL_CAINFO"
echo "curl $(curl -sS --max-time 20 https://api.test:{p}/v1/echo -H "Authorization: Bearer stolen-by-agent")"
echo "header $(curl -sS --max-time 20 https://other.test:{p}/echo -H "x-api-key: $OTHER_KEY")"
echo "sse $(curl -sS -N --max-time 20 https://api.test:{p}/v1/stream | tr '\\n' ' ')"
echo "socks $(curl -sS --max-time 20 --proxy socks5h://127.0.0.1:3128 https://api.test:{p}/v1/echo?via=socks)"
echo "plainhttp $(curl -sS --max-time 20 http://plain.test:{srv.http_port}/plain/echo)"
python3 py_client.py 2>&1
if command -v node >/dev/null; then node node_client.js 2>&1; else echo "node absent"; fi
git clone -q https://api.test:{p}/repo.git clone 2>&1 && echo "git $(cat clone/README)"
"""
    r = run_with_credentials(caller, srv, script, files=[
        ("py_client.py", PY_CLIENT % p), ("node_client.js", NODE_CLIENT % (p, p))])
    assert r.r.returncode == 0, r.r.stderr
    # inside: only placeholders, and the session CA bundle announced to every client
    assert PLACEHOLDER.fullmatch(r.out("token")), r.stdout
    assert r.out("token").startswith("reins-cred-api-")
    assert r.out("source") == "absent", r.stdout  # env.keep cannot pass the source variable
    assert PLACEHOLDER.fullmatch(r.out("other"))
    assert r.out("bundle").split() == ["/.reins/ca-bundle.pem"] * 5
    # curl: the agent's own Authorization never left; the secret did
    assert r.out("curl").startswith("{"), (r.stdout, r.r.stderr)
    seen = json.loads(r.out("curl"))
    auth = [v for k, v in seen["headers"] if k.lower() == "authorization"]
    assert auth == ["Bearer <SECRET>"], seen
    seen = json.loads(r.out("header"))
    assert [v for k, v in seen["headers"] if k.lower() == "x-api-key"] == ["<FILE_SECRET>"]
    # SOCKS5 is terminated like CONNECT; plaintext: true injects into http://
    seen = json.loads(r.out("socks"))
    assert dict(seen["headers"])["Authorization"] == "Bearer <SECRET>", seen
    seen = json.loads(r.out("plainhttp"))
    assert dict(seen["headers"])["x-plain"] == "<SECRET>", seen
    # a streamed response passes event by event
    assert r.out("sse").split("data: ") [1:] == ["event 0  ", "event 1  ", "event 2  "], r.stdout
    assert "git cloned through the reins proxy" in r.stdout, r.stdout
    assert r.out("python") == "Bearer <SECRET>", r.stdout
    if "node absent" not in r.stdout:
        assert r.out("node") == "200 Bearer <SECRET>", r.stdout
    # and on the host side, the server had the real value
    by_path = {path: dict(h) for host, path, h, body in _Handler.seen}
    assert by_path["/v1/echo?via=python"]["Authorization"] == f"Bearer {SECRET}"
    if "node absent" not in r.stdout:
        assert by_path["/v1/echo?via=node"]["Authorization"] == f"Bearer {SECRET}"
        assert by_path["/v1/echo?via=node"]["x-api-key"] == "none"  # not the other's host
    # the trail says which credential went where, never its value
    injected = r.of("net.inject")
    assert {(e["credential"], e["host"], e["path"]) for e in injected} >= {
        ("api", "api.test", "/v1/echo"), ("other", "other.test", "/echo"),
        ("api", "api.test", "/repo.git/info/refs")}, injected
    assert all(e["method"] == "GET" for e in injected)
    assert not r.of("net.credential_misuse")
    assert_no_secret_or_placeholder(r)


def test_a_placeholder_sent_elsewhere_is_refused_and_critical(caller, srv):
    """Escape-style: the agent tries to carry its placeholder to a host (or
    path) the credential is not for: a terminated host of another
    credential, a path outside the prefix, plain HTTP. Each is refused before
    it leaves, a net.credential_misuse event, a critical finding."""
    _Handler.seen.clear()
    p = srv.port
    script = f"""
echo "other $(curl -sS --max-time 20 -o /dev/null -w '%{{http_code}}' https://other.test:{p}/echo -H "x-leak: $API_TOKEN")"
echo "prefix $(curl -sS --max-time 20 -o /dev/null -w '%{{http_code}}' https://api.test:{p}/admin -H "x-leak: $API_TOKEN")"
echo "dots $(curl -sS --max-time 20 -o /dev/null -w '%{{http_code}}' --path-as-is "https://api.test:{p}/v1/../admin?k=$API_TOKEN")"
echo "plain $(curl -sS --max-time 20 -o /dev/null -w '%{{http_code}}' http://plain.test:{srv.http_port}/echo -H "x-leak: $API_TOKEN")"
echo "body $(curl -sS --max-time 20 -o /dev/null -w '%{{http_code}}' http://plain.test:{srv.http_port}/echo --data "k=$OTHER_KEY")"
"""
    r = run_with_credentials(caller, srv, script)
    assert r.r.returncode == 0, r.r.stderr
    assert r.out("other") == "403", r.stdout
    assert r.out("prefix") == "403", r.stdout
    assert r.out("dots") == "403", r.stdout
    assert r.out("plain") == "403", r.stdout
    assert r.out("body") in ("000", "403"), r.stdout  # refused before a byte of it left
    # no request that carried a placeholder reached a server
    for host, path, headers, body in _Handler.seen:
        assert not PLACEHOLDER.search(json.dumps(headers) + path + body.decode("latin-1"))
    misuse = r.of("net.credential_misuse")
    hosts = sorted((e["credential"], e["host"]) for e in misuse)
    assert hosts == [("api", "api.test"), ("api", "api.test"), ("api", "other.test"),
                     ("api", "plain.test"), ("other", "plain.test")], misuse
    findings = [e for e in r.events if e.get("type") == "risk.finding"
                and e.get("rule") == "credential-misuse"]
    assert findings and all(f["severity"] == "critical" for f in findings), \
        [e for e in r.events if e.get("type", "").startswith("risk")]
    assert_no_secret_or_placeholder(r)


def test_an_upstream_certificate_for_another_name_is_refused(caller, srv):
    """wrong.test is pinned to the test server, whose certificate (trusted)
    does not name it: the proxy refuses to send the secret there."""
    _Handler.seen.clear()
    p = srv.port
    script = f"""
echo "wrong $(curl -sS --max-time 20 https://wrong.test:{p}/echo -H "x: $WRONG_KEY" -w '\ncode %{{http_code}}')"
"""
    r = run_with_credentials(caller, srv, script)
    assert r.r.returncode == 0, r.r.stderr
    assert r.out("code") == "502", r.stdout
    assert "the certificate of wrong.test" in r.stdout and "hostname mismatch" in r.stdout, r.stdout
    assert not [x for x in _Handler.seen if x[0] and x[0].startswith("wrong.test")]
    assert_no_secret_or_placeholder(r)


def test_upstream_verification_failure_is_a_502(caller, srv):
    """reins without the test CA in its trust store: the real host's
    certificate cannot be verified, so nothing is sent."""
    _Handler.seen.clear()
    p = srv.port
    script = f"""
echo "verify $(curl -sS --max-time 20 https://api.test:{p}/v1/echo -H "Authorization: Bearer $API_TOKEN" -w '\ncode %{{http_code}}')"
"""
    r = run_with_credentials(caller, srv, script, trust=False)
    assert r.r.returncode == 0, r.r.stderr
    assert r.out("code") == "502", r.stdout
    assert "the certificate of api.test" in r.stdout and "not trusted" in r.stdout, r.stdout
    assert not [s for s in _Handler.seen if s[1].startswith("/v1/echo")]
    upstream = [e for e in r.of("net.upstream") if e.get("error") == "tls-verify"]
    assert upstream and upstream[0]["host"] == "api.test", r.of("net.upstream")
    assert_no_secret_or_placeholder(r)


def test_credentials_need_the_proxy_and_their_source(caller, srv, tmp_path):
    ws = caller.workspace()
    pol = caller.write(ws / "p.yaml", "version: 1\nextends: default\ncredentials:\n"
                       "  - name: a\n    source: {env: NOPE_UNSET}\n    hosts: [x.test]\n"
                       "    env: A\n")
    r = caller.run(["run", "-p", pol, "-w", ws, "--", "true"], cwd=ws)
    assert r.returncode == 125
    assert "NOPE_UNSET is not set" in r.stderr, r.stderr
    r = caller.run(["run", "-p", pol, "-w", ws, "--", "true"], cwd=ws,
                   env={"NOPE_UNSET": "v"})
    assert r.returncode == 125
    assert "credentials need network.mode: proxy" in r.stderr, r.stderr


def _b64(obj):
    import base64
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


JWT_SIGNATURE = "c2lnbmF0dXJlLW9mLXRoZS1yZWFsLXRva2Vu"
JWT = (_b64({"alg": "HS256", "typ": "JWT"}) + "." + _b64({"sub": "agent-7", "exp": 4102444800})
       + "." + JWT_SIGNATURE)
NPM_SECRET = "npm_REAL_0123456789"

JWT_CLIENT = """\
import base64, json, os, urllib.request
conf = json.load(open(os.path.expanduser("~/.docker/config.json")))
token = conf["auths"]["api.test"]["auth"]
claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
print("claims", claims["sub"], claims["exp"])
req = urllib.request.Request("https://api.test:%d/echo?via=jwt",
                             headers={"Authorization": "Bearer " + token})
print("jwt", dict(json.load(urllib.request.urlopen(req, timeout=20))["headers"])["Authorization"])
"""


def test_secrets_inside_files_and_jwt_claims(caller, srv):
    """A credential may be spans of a host file: the sandbox sees the file at
    its path with each span a placeholder (the rest intact), a JWT keeps its
    header and claims readable, and the proxy swaps them back for the file's
    hosts only."""
    _Handler.seen.clear()
    p = srv.port
    caller.write(caller.home / ".npmrc",
                 f"registry=https://api.test:{p}/npm/\n//api.test:{p}/npm/:_authToken={NPM_SECRET}\n"
                 "always-auth=true\n", 0o600)
    caller.write(caller.home / ".docker" / "config.json",
                 json.dumps({"auths": {"api.test": {"auth": JWT}}, "credsStore": ""}, indent=2),
                 0o600)
    extra = [
        "  - name: npm",
        "    file: ~/.npmrc",
        "    pattern: '_authToken=([^[:space:]]+)'",
        f"    hosts: [\"api.test:{p}/npm/\"]",
        "  - name: docker",
        "    file: ~/.docker/config.json",
        "    json: /auths/api.test/auth",
        f"    hosts: [\"api.test:{p}/echo\"]",
        "    how: bearer",
    ]
    # credentials: is a list already: the extra entries go under it
    script = f"""
echo "npmrc $(grep -c always-auth ~/.npmrc) $(sed -n 's/.*_authToken=//p' ~/.npmrc)"
tok=$(sed -n 's/.*_authToken=//p' ~/.npmrc)
echo "npm $(curl -sS --max-time 20 https://api.test:{p}/npm/echo -H "Authorization: Bearer $tok")"
python3 jwt_client.py 2>&1
"""
    ws = caller.workspace()
    caller.write(ws / "jwt_client.py", JWT_CLIENT % p)
    d = caller.mkdtemp(prefix="reins-cred-")
    secret_file = caller.write(d / "other.key", FILE_SECRET + "\n", 0o600)
    text = policy(srv, secret_file).replace("rules: {action:", "\n".join(extra) + "\nrules: {action:")
    pol = caller.write(ws / "policy.yaml", text)
    trail = d / "trail.jsonl"
    res = caller.run(["run", "-p", pol, "--audit", trail, "-w", ws, "--", "sh", "-c", script],
                     cwd=ws, env={"API_SECRET": SECRET, "SSL_CERT_FILE": srv.cert}, timeout=120)
    r = Run(res, trail)
    assert res.returncode == 0, res.stderr
    count, shown = r.out("npmrc").split()
    assert count == "1" and PLACEHOLDER.fullmatch(shown), r.stdout  # the rest intact
    seen = json.loads(r.out("npm"))
    assert dict(seen["headers"])["Authorization"] == "Bearer <NPM_SECRET>", seen
    assert r.out("claims") == "agent-7 4102444800", r.stdout
    by_path = {path: dict(h) for host, path, h, body in _Handler.seen}
    assert by_path["/echo?via=jwt"]["Authorization"] == f"Bearer {JWT}"
    assert r.out("jwt") == "Bearer " + JWT.rsplit(".", 1)[0] + ".<JWT_SIGNATURE>", r.stdout
    for text in (r.stdout, r.trail_text):
        assert NPM_SECRET not in text and JWT_SIGNATURE not in text
    assert not PLACEHOLDER.search(r.trail_text)


def test_identity_assertions_verify_offline(caller, srv):
    """identity.hosts: each request there carries Reins-Agent-Assertion, a
    JWS (EdDSA) by the session's key, with the session certificate the
    user's key signed. `reins identity verify` checks it offline against the
    user's key; an agent-sent header of that name never leaves; a changed
    byte, another user's key or another destination fail."""
    _Handler.seen.clear()
    p = srv.port
    extra = ["identity:", f"  hosts: [\"api.test:{p}/v1/\"]"]
    script = f"""
echo "code $(curl -sS --max-time 20 -o /dev/null -w '%{{http_code}}' https://api.test:{p}/v1/echo?id=1 -H "Reins-Agent-Assertion: forged")"
echo "plain $(curl -sS --max-time 20 -o /dev/null -w '%{{http_code}}' https://api.test:{p}/other/echo)"
"""
    r = run_with_credentials(caller, srv, script, extra=extra)
    assert r.r.returncode == 0, r.r.stderr
    assert r.out("code") == "200" and r.out("plain") == "200", r.stdout
    by_path = {path: h for host, path, h, body in _Handler.seen}
    sent = [v for k, v in by_path["/v1/echo?id=1"] if k.lower() == "reins-agent-assertion"]
    assert len(sent) == 1 and sent[0] != "forged", sent
    assert not [k for k, v in by_path["/other/echo"] if k.lower() == "reins-agent-assertion"]
    token = sent[0]
    ident = json.loads(caller.run(["id", "--json"]).stdout)
    v = caller.run(["identity", "verify", "--user-key", ident["public_key"], "--host",
                    f"api.test:{p}", token])
    assert v.returncode == 0, v.stderr
    claims = json.loads(v.stdout)
    start = [e for e in r.events if e.get("type") == "session.start"][0]
    assert claims["sid"] == start["session"]
    assert claims["agt"] == start["agent_fingerprint"]
    assert claims["usr"] == ident["fingerprint"]
    assert claims["pol"] == start["policy"]["sha256"]
    # the path without its query
    assert (claims["htm"], claims["htu"], claims["aud"]) == ("GET", "/v1/echo", f"api.test:{p}")
    assert [e for e in r.events if e.get("type") == "net.identity"]
    # the documented offline check, independently: Ed25519 over "HEADER.CLAIMS"
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    import base64
    h, c, s = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(header["kid"])).verify(
        base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), f"{h}.{c}".encode())
    assert header["reins_cert"]["session_key"] == header["kid"]
    assert header["reins_cert"]["user_key"] == ident["public_key"]
    # tampered, another user, another destination
    forged_claims = base64.urlsafe_b64encode(json.dumps(
        {**claims, "htu": "/v1/admin"}).encode()).rstrip(b"=").decode()
    for args, why in ((["--user-key", ident["public_key"], f"{h}.{forged_claims}.{s}"],
                       "signature"),
                      (["--user-key", "00" * 32, token], "another user"),
                      (["--host", "evil.test:443", token], "another destination")):
        bad = caller.run(["identity", "verify", *args])
        assert bad.returncode == 1 and why in bad.stderr, (args, bad.stderr)


def test_the_egress_budget_holds_on_terminated_connections(caller, srv):
    """A terminated connection reports its bytes as they pass 64 KiB: an
    upload bigger than network.egress_budget through termination is cut
    while it runs, not counted after it went out."""
    _Handler.seen.clear()
    p = srv.port
    script = f"""
head -c 4194304 /dev/zero > big
echo "upload $(curl -sS --max-time 30 -o /dev/null -w '%{{http_code}}' --data-binary @big https://api.test:{p}/v1/echo 2>/dev/null)"
"""
    # the policy's network section, with a budget
    ws = caller.workspace()
    d = caller.mkdtemp(prefix="reins-cred-")
    secret_file = caller.write(d / "other.key", FILE_SECRET + "\n", 0o600)
    text = policy(srv, secret_file).replace("network:\n  mode: proxy\n",
                                            "network:\n  mode: proxy\n  egress_budget: 512KiB\n")
    pol = caller.write(ws / "policy.yaml", text)
    trail = d / "trail.jsonl"
    res = caller.run(["run", "-p", pol, "--audit", trail, "-w", ws, "--", "sh", "-c", script],
                     cwd=ws, env={"API_SECRET": SECRET, "SSL_CERT_FILE": srv.cert}, timeout=120)
    r = Run(res, trail)
    assert res.returncode == 0, res.stderr
    assert r.out("upload") != "200", r.stdout
    got = [len(body) for host, path, h, body in _Handler.seen if path == "/v1/echo"]
    assert not got or max(got) < 4194304, got
    assert r.of("net.budget"), [e["type"] for e in r.events]
    closed = [e for e in r.of("net.close") if e.get("host") == "api.test"]
    assert closed and sum(e.get("bytes_up", 0) for e in closed) < 2 * 1024 * 1024, closed


def test_the_session_ca_is_read_only_and_name_constrained(caller, srv):
    """The CA the agent must trust can vouch only for the credentials' hosts
    (X.509 name constraints), and its bundle cannot be changed inside."""
    script = """
awk '/BEGIN CERT/{n++} {c[n]=c[n] $0 "\\n"} END{printf "%s", c[n]}' /.reins/ca-bundle.pem > last.crt
openssl x509 -in last.crt -noout -text | grep -A12 'Name Constraints' | grep -v 'Key Identifier' | grep -v Signature | tr -s ' \\n' ' ' | sed 's/^/nc /'; echo
openssl x509 -in last.crt -noout -subject | sed 's/^/subject /'
if echo x >> /.reins/ca-bundle.pem 2>/dev/null; then echo "write ok"; else echo "write refused"; fi
"""
    r = run_with_credentials(caller, srv, script)
    assert r.r.returncode == 0, r.r.stderr
    assert "reins session CA" in r.out("subject"), r.stdout
    nc = r.out("nc")
    assert "Permitted" in nc and f"DNS:api.test" in nc and "DNS:other.test" in nc, nc
    assert "DNS:example.com" not in nc
    assert r.out("write") == "refused", r.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="reads another process's memory: root only")
def test_the_secret_is_in_the_supervisor_only(caller, srv):
    """The sandbox's pid 1 is a fork of the supervisor that stays resident:
    the secret's pages are not inherited (MADV_DONTFORK), so its memory holds
    no copy, while the supervisor's does (which shows the search works)."""
    with open(caller.reins, "rb") as f:
        if b"__asan_init" in f.read():
            # ASan's runtime keeps its own copy of the environment it read
            # from /proc/self/environ: in every process, pid 1 included
            pytest.skip("an ASan build: its runtime copies the environment")
    ws = caller.workspace()
    marker = str(ws)
    d = caller.mkdtemp(prefix="reins-cred-")
    secret_file = caller.write(d / "other.key", FILE_SECRET + "\n", 0o600)
    pol = caller.write(ws / "policy.yaml", policy(srv, secret_file))
    proc = caller.popen(["run", "-p", pol, "-w", ws, "--", "sleep", "30"], cwd=ws,
                        env={"API_SECRET": SECRET, "SSL_CERT_FILE": srv.cert})
    try:
        deadline = time.monotonic() + 20
        pids = []
        while time.monotonic() < deadline:
            pids = _pids_with(marker.encode())
            if len(pids) >= 2:
                break
            time.sleep(0.1)
        parents = {p: _ppid(p) for p in pids}
        supervisor = [p for p in pids if parents[p] not in pids]
        init = [p for p in pids if parents[p] in pids]
        assert supervisor and init, parents
        assert _memory_holds(supervisor[0], SECRET.encode()), "the search finds nothing at all"
        for pid in init:
            assert not _memory_holds(pid, SECRET.encode()), "pid 1 holds the secret"
            assert not _memory_holds(pid, FILE_SECRET.encode())
    finally:
        proc.kill()
        proc.wait()


def _pids_with(marker):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if marker in f.read() and b"reins" in open(f"/proc/{entry}/comm", "rb").read():
                    found.append(int(entry))
        except OSError:
            pass
    return found


def _ppid(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        return int(f.read().rsplit(b")", 1)[1].split()[1])


def _memory_holds(pid, needle):
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            addresses, perms = line.split()[:2]
            if not perms.startswith("r"):
                continue
            start, end = (int(x, 16) for x in addresses.split("-"))
            if end - start > 1 << 30:
                continue
            try:
                mem.seek(start)
                if needle in mem.read(end - start):
                    return True
            except (OSError, ValueError, OverflowError):
                pass
    return False
