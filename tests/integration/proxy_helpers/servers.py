"""Local servers for the proxy tests, on 127.0.0.1 of the host: an HTTP
server (small pages, a large body, a dumb git repository, an upload sink), a
TLS server with a self-signed certificate made by `openssl req` at test time,
and a TCP echo server. Each runs in a daemon thread of the pytest process."""
import http.server
import os
import socket
import socketserver
import ssl
import subprocess
import threading


class _Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/hello"):
            body = b"hello from " + self.headers.get("Host", "?").encode() + b"\n"
            return self._send(body)
        if self.path.startswith("/headers"):
            body = "".join(f"{k}: {v}\n" for k, v in self.headers.items()).encode()
            return self._send(body)
        if self.path.startswith("/big/"):
            size = int(self.path.split("/")[2])
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b"x" * 65536
            left = size
            try:
                while left > 0:
                    n = min(left, len(chunk))
                    self.wfile.write(chunk[:n])
                    left -= n
            except OSError:
                pass
            return None
        return super().do_GET()

    uploads = []  # bytes each POST delivered, complete or cut

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        got = 0
        try:
            while got < length:
                data = self.rfile.read(min(65536, length - got))
                if not data:
                    break
                got += len(data)
        finally:
            _Handler.uploads.append(got)
        return self._send(f"received {got}\n".encode())

    def _send(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _ThreadingHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512


def _serve(server):
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    return server


def uploads():
    """What each POST so far delivered to the HTTP servers, in order."""
    return list(_Handler.uploads)


def http_server(root):
    handler = lambda *a, **kw: _Handler(*a, directory=str(root), **kw)  # noqa: E731
    return _serve(_ThreadingHTTPServer(("127.0.0.1", 0), handler))


def served_tmp_dir(prefix):
    """For a module fixture: an HTTP server of a fresh directory in /tmp
    (0755: sandboxes of any uid reach it); yields its port, then stops the
    server and removes the directory."""
    import shutil
    import tempfile
    root = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(root, 0o755)
    server = http_server(root)
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(root, ignore_errors=True)


def make_cert(directory, names):
    """A self-signed certificate for `names` (first is the CN)."""
    key = os.path.join(directory, "key.pem")
    cert = os.path.join(directory, "cert.crt")  # *.pem is hidden by the default policy
    san = ",".join(f"DNS:{n}" for n in names)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", f"/CN={names[0]}",
                    "-addext", f"subjectAltName={san}"],
                   check=True, capture_output=True, timeout=60)
    os.chmod(cert, 0o644)
    return cert, key


def https_server(root, cert, key):
    server = _ThreadingHTTPServer(("127.0.0.1", 0),
                                  lambda *a, **kw: _Handler(*a, directory=str(root), **kw))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    return _serve(server)


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            while True:
                data = self.request.recv(65536)
                if not data:
                    break
                self.request.sendall(data)
        except OSError:
            pass


class _ThreadingTCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512


def echo_server():
    return _serve(_ThreadingTCPServer(("127.0.0.1", 0), _Echo))


def closed_port():
    """A loopback port nothing listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def git_repo(root):
    """A bare repository served over dumb HTTP at /repo.git."""
    src = os.path.join(root, "src")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(root)}
    subprocess.run(["git", "init", "-q", "-b", "main", src], check=True, env=env)
    with open(os.path.join(src, "README"), "w") as f:
        f.write("cloned through the reins proxy\n")
    subprocess.run(["git", "-C", src, "add", "README"], check=True, env=env)
    subprocess.run(["git", "-C", src, "commit", "-q", "-m", "one"], check=True, env=env)
    bare = os.path.join(root, "repo.git")
    subprocess.run(["git", "clone", "-q", "--bare", src, bare], check=True, env=env)
    subprocess.run(["git", "-C", bare, "update-server-info"], check=True, env=env)
    return bare
