"""Claude Code through credential injection: the real client (npm
`@anthropic-ai/claude-code`) runs `claude -p` inside the sandbox holding only
the placeholder in ANTHROPIC_API_KEY; ANTHROPIC_BASE_URL points at a local
Messages API stand-in (TLS, its own test CA, the name pinned with
network.hosts); the proxy puts the real key into `x-api-key`. The package is
installed once into build/claude-code (reused by later runs; skipped, with
the reason, only when npm's registry cannot be reached). Root and nobody."""
import fcntl
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
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "proxy_helpers"))
import servers  # noqa: E402

REPO = HERE.parents[1]
CACHE = Path(os.environ.get("REINS_CLAUDE_CODE_DIR", REPO / "build" / "claude-code"))
PACKAGE = "@anthropic-ai/claude-code"
SECRET = "sk-ant-reins-test-SECRET-4d9e1b"
PLACEHOLDER = re.compile(r"reins-cred-[A-Za-z0-9_-]+-[0-9a-f]{32}")
ANSWER = "hi from the reins stand-in"


def _install():
    """The package under CACHE (npm install, once); the path of `claude`,
    or a skip reason."""
    claude = CACHE / "node_modules" / ".bin" / "claude"
    if not shutil.which("npm"):
        return None, "npm is not installed"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two pytest runs at once install once
        if not claude.exists():
            try:
                r = subprocess.run(["npm", "install", "--prefix", str(CACHE), "--no-audit",
                                    "--no-fund", "--loglevel=error", "--fetch-retries=1",
                                    "--fetch-timeout=30000", PACKAGE],
                                   capture_output=True, text=True, timeout=600)
            except subprocess.TimeoutExpired:
                return None, "npm's registry is unreachable: npm install timed out"
            if r.returncode != 0:
                reason = (r.stderr.strip().splitlines() or ["?"])[-1]
                if re.search(r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET|network",
                             r.stderr):
                    return None, f"npm's registry is unreachable: {reason}"
                pytest.fail(f"npm install {PACKAGE} failed: {r.stderr[-2000:]}")
    os.chmod(CACHE, 0o755)  # nobody reads it through filesystem.read
    return claude.resolve(), None


class _Messages(http.server.BaseHTTPRequestHandler):
    """A minimal Messages API: POST /v1/messages answers one text block, as
    server-sent events when the client asks for a stream."""
    protocol_version = "HTTP/1.1"
    seen = []  # (path, {header: value}) of every request

    def log_message(self, *args):
        pass

    def _send(self, status, obj):
        out = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self):
        _Messages.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        self._send(404, {"type": "error", "error": {"type": "not_found_error"}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        _Messages.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        if self.headers.get("x-api-key") != SECRET:
            return self._send(401, {"type": "error", "error": {
                "type": "authentication_error", "message": "invalid x-api-key"}})
        if not self.path.startswith("/v1/messages"):
            return self._send(404, {"type": "error", "error": {"type": "not_found_error"}})
        req = json.loads(body or b"{}")
        msg = {"id": "msg_reins", "type": "message", "role": "assistant",
               "model": req.get("model", "claude"),
               "content": [{"type": "text", "text": ANSWER}], "stop_reason": "end_turn",
               "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 5}}
        if not req.get("stream"):
            return self._send(200, msg)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        start = dict(msg, content=[], stop_reason=None)
        for kind, data in (
                ("message_start", {"message": start}),
                ("content_block_start", {"index": 0, "content_block": {"type": "text",
                                                                       "text": ""}}),
                ("content_block_delta", {"index": 0, "delta": {"type": "text_delta",
                                                               "text": ANSWER}}),
                ("content_block_stop", {"index": 0}),
                ("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                   "usage": {"output_tokens": 5}}),
                ("message_stop", {})):
            event = f"event: {kind}\ndata: {json.dumps(dict(data, type=kind))}\n\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        return None


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture(scope="module")
def claude():
    path, reason = _install()
    if reason:
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def api():
    root = tempfile.mkdtemp(prefix="reins-claude-api-", dir="/tmp")
    os.chmod(root, 0o755)
    cert, key = servers.make_cert(root, ["api.anthropic.test"])
    server = _Server(("127.0.0.1", 0), _Messages)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.cert = cert
    yield server
    server.shutdown()
    server.server_close()
    shutil.rmtree(root, ignore_errors=True)


def test_claude_code_runs_with_only_the_placeholder(caller, claude, api):
    _Messages.seen.clear()
    port = api.server_address[1]
    ws = caller.workspace()
    d = caller.mkdtemp(prefix="reins-claude-")
    pol = caller.write(ws / "policy.yaml", "\n".join([
        "version: 1",
        "extends: default",
        "network:",
        "  mode: proxy",
        f"  allow: [\"api.anthropic.test:{port}\"]",
        "  hosts: {api.anthropic.test: 127.0.0.1}",
        f"filesystem: {{read: [{json.dumps(str(CACHE))}]}}",
        "credentials:",
        "  - name: anthropic",
        "    source: {env: REINS_TEST_ANTHROPIC_KEY}",
        f"    hosts: [\"api.anthropic.test:{port}/v1/\"]",
        "    how: header x-api-key",
        "    env: ANTHROPIC_API_KEY",
    ]) + "\n")
    trail = d / "trail.jsonl"
    script = f"""
export HOME="$PWD/home" ANTHROPIC_BASE_URL=https://api.anthropic.test:{port}
export DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1
mkdir -p "$HOME"
echo "key $ANTHROPIC_API_KEY"
timeout 90 {claude} -p "say hi" </dev/null 2>&1
echo "rc $?"
env > env.txt
"""
    r = caller.run(["run", "-p", pol, "--audit", trail, "-w", ws, "--", "sh", "-c", script],
                   cwd=ws, env={"REINS_TEST_ANTHROPIC_KEY": SECRET,
                                "SSL_CERT_FILE": api.cert}, timeout=180)
    out = r.stdout
    assert r.returncode == 0, (out, r.stderr)
    key = re.search(r"^key (.*)$", out, re.M).group(1)
    assert PLACEHOLDER.fullmatch(key) and key.startswith("reins-cred-anthropic-"), out
    assert "rc 0" in out, (out, r.stderr)
    assert ANSWER in out, (out, r.stderr)
    # nothing in the sandbox held the key: its environment, what Claude Code wrote
    env = (ws / "env.txt").read_text()
    assert "ANTHROPIC_API_KEY=" + key in env and "REINS_TEST_ANTHROPIC_KEY" not in env
    for f in ws.rglob("*"):
        if f.is_file() and not f.is_symlink():
            assert SECRET.encode() not in f.read_bytes(), f
    # the stand-in saw the real key on every Messages call, never the placeholder
    calls = [(p, h) for p, h in _Messages.seen if p.startswith("/v1/messages")]
    assert calls, _Messages.seen
    assert all(h.get("x-api-key") == SECRET for p, h in calls), calls
    for p, h in _Messages.seen:
        assert not PLACEHOLDER.search(json.dumps(h) + p)
    # the sandbox never held the secret: not in its environment, not in its output
    assert SECRET not in out and SECRET not in r.stderr
    text = trail.read_text()
    events = [json.loads(line) for line in text.splitlines() if line]
    injected = [e for e in events if e.get("type") == "net.inject"]
    assert any(e["credential"] == "anthropic" and e["path"].startswith("/v1/messages")
               and e["method"] == "POST" for e in injected), injected
    assert not [e for e in events if e.get("type") == "net.credential_misuse"]
    assert SECRET not in text, "the secret is in the trail"
    assert not PLACEHOLDER.search(text), "a placeholder is in the trail"
