"""Credential injection on HTTP/2: when the agent and the upstream both
negotiate h2 (ALPN) on a terminated connection, each stream's HEADERS go
through the same rules as an HTTP/1.1 head (the secret set, the agent's own
credential header stripped, a placeholder sent elsewhere refused), DATA is
relayed as it comes both ways; otherwise HTTP/1.1 as before. The upstream
is an HTTP/2-only TLS stand-in (python3-h2, its own test CA, the names
pinned with network.hosts); the client is curl --http2. Root and nobody."""
import hashlib
import http.server
import json
import re
import shutil
import socketserver
import ssl
import sys
import tempfile
import threading
import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "proxy_helpers"))
import servers  # noqa: E402

h2server = pytest.importorskip("h2server", reason="python3-h2 is not installed")

SECRET = "sk-reins-h2-SECRET-51c0de"
OTHER_SECRET = "other-h2-secret-9Z8Y"
PLACEHOLDER = re.compile(r"reins-cred-[A-Za-z0-9_-]+-[0-9a-f]{32}")


class _H1(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 only: the fallback when the upstream has no h2."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        out = json.dumps({"headers": [[k, v] for k, v in self.headers.items()]})
        out = out.replace(SECRET, "<SECRET>").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


class _H1Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture(scope="module")
def srv():
    root = tempfile.mkdtemp(prefix="reins-h2-srv-", dir="/tmp")
    os.chmod(root, 0o755)
    cert, key = servers.make_cert(root, ["api.test", "other.test", "old.test"])
    h2 = h2server.H2Server(cert, key, markers=((SECRET, "<SECRET>"),
                                               (OTHER_SECRET, "<OTHER_SECRET>")))
    h1 = _H1Server(("127.0.0.1", 0), _H1)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    h1.socket = ctx.wrap_socket(h1.socket, server_side=True)
    threading.Thread(target=h1.serve_forever, daemon=True).start()
    h2.cert = cert
    h2.h1_port = h1.server_address[1]
    yield h2
    h2.close()
    h1.shutdown()
    h1.server_close()
    shutil.rmtree(root, ignore_errors=True)


def run(caller, s, script, files=(), network_extra=""):
    p, q = s.port, s.h1_port
    ws = caller.workspace()
    for name, text in files:
        caller.write(ws / name, text)
    d = caller.mkdtemp(prefix="reins-h2-")
    pol = caller.write(ws / "policy.yaml", "\n".join([
        "version: 1",
        "extends: default",
        "network:",
        "  mode: proxy" + network_extra,
        f"  allow: [\"api.test:{p}\", \"other.test:{p}\", \"old.test:{q}\"]",
        "  hosts: {api.test: 127.0.0.1, other.test: 127.0.0.1, old.test: 127.0.0.1}",
        "credentials:",
        "  - name: api",
        "    source: {env: H2_SECRET}",
        f"    hosts: [\"api.test:{p}/v1/\", \"old.test:{q}/v1/\"]",
        "    how: bearer",
        "    env: API_TOKEN",
        "  - name: other",
        "    source: {env: H2_OTHER}",
        f"    hosts: [\"other.test:{p}\"]",
        "    how: header x-api-key",
        "    env: OTHER_KEY",
        "rules: {action: {credential-misuse: log}}",
    ]) + "\n")
    trail = d / "trail.jsonl"
    r = caller.run(["run", "-p", pol, "--audit", trail, "-w", ws, "--", "sh", "-c", script],
                   cwd=ws, env={"H2_SECRET": SECRET, "H2_OTHER": OTHER_SECRET,
                                "SSL_CERT_FILE": s.cert}, timeout=120)
    text = trail.read_text() if trail.exists() else ""
    assert SECRET not in text and OTHER_SECRET not in text, "a secret is in the trail"
    assert not PLACEHOLDER.search(text), "a placeholder is in the trail"
    assert SECRET not in r.stdout and OTHER_SECRET not in r.stdout
    return r, [json.loads(line) for line in text.splitlines() if line]


def out(r, name):
    for line in r.stdout.splitlines():
        if line.startswith(name + " "):
            return line[len(name) + 1:]
    raise AssertionError(f"no {name} line in {r.stdout!r} / {r.stderr!r}")


CURL = "curl -sS --http2 --max-time 20"


def test_h2_requests_get_the_secret_and_stream(caller, srv):
    srv.seen.clear()
    p, q = srv.port, srv.h1_port
    script = f"""
echo "get $({CURL} -w ' %{{http_version}}' https://api.test:{p}/v1/echo -H "Authorization: Bearer stolen")"
echo "two $({CURL} -o /dev/null -o /dev/null -w '%{{http_version}}/%{{num_connects}} ' https://api.test:{p}/v1/echo?a https://api.test:{p}/v1/echo?b)"
echo "post $({CURL} https://api.test:{p}/v1/echo --data-binary @big.txt 2>&1)"
echo "header $({CURL} https://other.test:{p}/x -H "x-api-key: $OTHER_KEY")"
echo "sse $({CURL} -N https://api.test:{p}/v1/stream | tr '\\n' ' ')"
{CURL} -N https://api.test:{p}/v1/paced | while read -r line; do
  case "$line" in "data: first"|"data: second") {CURL} -o /dev/null https://api.test:{p}/v1/ack;; esac
  [ -n "$line" ] && echo "paced $line"
done
echo "old $({CURL} -w ' %{{http_version}}' https://old.test:{q}/v1/echo)"
echo "trailer $({CURL} -D - https://api.test:{p}/v1/trailers | tr -d '\\r' | grep -i '^x-checksum')"
"""
    ws_file = ("x" * 1000 + "\n") * 300  # 300 KB: over one stream window of DATA frames
    r, events = run(caller, srv, script, files=[("big.txt", ws_file)])
    assert r.returncode == 0, r.stderr
    body, version = out(r, "get").rsplit(" ", 1)
    assert version == "2", r.stdout  # h2 end to end through termination
    auth = [v for k, v in json.loads(body)["headers"] if k == "authorization"]
    assert auth == ["Bearer <SECRET>"], body  # the agent's own value stripped
    assert out(r, "two").split() == ["2/1", "2/0"], r.stdout  # two streams, one connection
    post = json.loads(out(r, "post"))
    assert post["body_sha256"] == hashlib.sha256(ws_file.encode()).hexdigest(), post
    assert [v for k, v in json.loads(out(r, "header"))["headers"] if k == "x-api-key"] == [
        "<OTHER_SECRET>"]
    assert out(r, "sse").split("data: ")[1:] == ["event 0  ", "event 1  ", "event 2  "], r.stdout
    # each event reached the agent as it was sent: the first before the stream's end
    paced = [line for line in r.stdout.splitlines() if line.startswith("paced ")]
    assert paced == ["paced data: first", "paced data: second", "paced data: after-acks"], \
        r.stdout
    # an upstream without h2: the agent's h2 offer falls back to HTTP/1.1
    body, version = out(r, "old").rsplit(" ", 1)
    assert version == "1.1", r.stdout
    assert dict(json.loads(body)["headers"])["Authorization"] == "Bearer <SECRET>"
    assert "h2" in srv.alpn
    assert out(r, "trailer") == "x-checksum: trailer-value", r.stdout  # response trailers pass
    # the real value reached the server; a placeholder never did
    seen = {path: dict(h) for path, h, b in srv.seen}
    assert seen["/v1/echo"]["authorization"] == f"Bearer {SECRET}"
    for path, h, b in srv.seen:
        assert not PLACEHOLDER.search(json.dumps(h) + path + b.decode("latin-1"))
    injected = [e for e in events if e.get("type") == "net.inject"]
    assert {(e["credential"], e["host"], e["method"], e["path"]) for e in injected} >= {
        ("api", "api.test", "GET", "/v1/echo"), ("api", "api.test", "POST", "/v1/echo"),
        ("other", "other.test", "GET", "/x"), ("api", "old.test", "GET", "/v1/echo")}, injected
    assert not [e for e in events if e.get("type") == "net.credential_misuse"]


def test_h2_placeholder_to_a_wrong_path_is_refused(caller, srv):
    """Escape-style: on h2 the agent carries its placeholder outside the
    credential's path prefix, to another credential's host, in a body:
    each stream refused with 403 before it leaves, a misuse event."""
    srv.seen.clear()
    p = srv.port
    script = f"""
echo "prefix $({CURL} -o /dev/null -w '%{{http_code}} %{{http_version}}' https://api.test:{p}/admin -H "x-leak: $API_TOKEN")"
echo "other $({CURL} -o /dev/null -w '%{{http_code}}' https://other.test:{p}/x -H "x-leak: $API_TOKEN")"
echo "body $({CURL} -o /dev/null -w '%{{http_code}}' https://other.test:{p}/x --data "k=$API_TOKEN")"
echo "after $({CURL} -o /dev/null -w '%{{http_code}}' https://api.test:{p}/v1/echo)"
"""
    r, events = run(caller, srv, script)
    assert r.returncode == 0, r.stderr
    assert out(r, "prefix") == "403 2", r.stdout
    assert out(r, "other") == "403", r.stdout
    assert out(r, "body") == "403", r.stdout
    assert out(r, "after") == "200", r.stdout
    for path, h, b in srv.seen:
        assert not PLACEHOLDER.search(json.dumps(h) + path + b.decode("latin-1")), (path, h)
    misuse = [e for e in events if e.get("type") == "net.credential_misuse"]
    assert {(e["credential"], e["host"]) for e in misuse} >= {("api", "api.test"),
                                                              ("api", "other.test")}, misuse
    assert any(e.get("type") == "finding" and e.get("rule") == "credential-misuse"
               for e in events) or misuse


def test_h2_the_egress_budget_cuts_an_upload(caller, srv):
    """An h2 stream's DATA counts against network.egress_budget as it
    passes: a 4 MiB upload under a 512 KiB budget is cut while it runs."""
    srv.seen.clear()
    p = srv.port
    script = f"""
head -c 4194304 /dev/zero > big
echo "upload $({CURL} -o /dev/null -w '%{{http_code}} %{{http_version}}' --data-binary @big https://api.test:{p}/v1/echo 2>/dev/null)"
echo "small $({CURL} -o /dev/null -w '%{{http_version}}' https://api.test:{p}/v1/echo)"
"""
    r, events = run(caller, srv, script, network_extra="\n  egress_budget: 512KiB")
    assert r.returncode == 0, r.stderr
    assert not out(r, "upload").startswith("200"), r.stdout
    assert [len(b) for path, h, b in srv.seen if path == "/v1/echo" and len(b) >= 4194304] == []
    assert [e for e in events if e.get("type") == "net.budget"], [e["type"] for e in events]
    closed = [e for e in events if e.get("type") == "net.close" and e.get("host") == "api.test"]
    assert closed and sum(e.get("bytes_up", 0) for e in closed) < 2 * 1024 * 1024, closed
