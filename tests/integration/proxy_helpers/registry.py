"""A local stand-in for PyPI and the npm registry, on the host's loopback, for
the proxy tests: one made-up package for each, built at test time (a wheel
and an npm tarball), served over plain HTTP:

    /simple/NAME/                 PEP 503 index page with the wheel's link
    /files/WHEEL                  the wheel
    /NAME                         the npm packument (JSON)
    /NAME/-/NAME-VERSION.tgz      the npm tarball

Test names are pinned to 127.0.0.1 with network.hosts, so pip and npm inside
the sandbox reach it only through the reins proxy."""
import base64
import hashlib
import http.server
import io
import json
import socketserver
import tarfile
import threading
import zipfile

NAME = "reins-fake-pkg"
VERSION = "1.0.0"
GREETING = "installed through the reins proxy"


def _wheel():
    module = NAME.replace("-", "_")
    dist = f"{module}-{VERSION}.dist-info"
    files = {
        f"{module}/__init__.py": f'GREETING = "{GREETING}"\n'.encode(),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: reins-tests\nRoot-Is-Purelib: true\n"
                         b"Tag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files.items():
            z.writestr(path, data)
    return f"{module}-{VERSION}-py3-none-any.whl", buf.getvalue()


def _npm_tarball():
    files = {
        "package/package.json": json.dumps({"name": NAME, "version": VERSION,
                                            "main": "index.js"}).encode(),
        "package/index.js": f'module.exports = "{GREETING}";\n'.encode(),
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class _Registry(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wheel_name, wheel = _wheel()
    tarball = _npm_tarball()
    requests = []  # (Host header, path) of every request served

    def log_message(self, *args):
        pass

    def do_GET(self):
        host = self.headers.get("Host", "")
        _Registry.requests.append((host, self.path))
        wheel_sha = hashlib.sha256(self.wheel).hexdigest()
        tgz = f"/{NAME}/-/{NAME}-{VERSION}.tgz"
        if self.path.rstrip("/") == f"/simple/{NAME}":
            page = (f'<!DOCTYPE html><html><body><a href="/files/{self.wheel_name}'
                    f'#sha256={wheel_sha}">{self.wheel_name}</a></body></html>\n')
            return self._send(page.encode(), "text/html")
        if self.path == f"/files/{self.wheel_name}":
            return self._send(self.wheel, "application/octet-stream")
        if self.path == f"/{NAME}":
            integrity = "sha512-" + base64.b64encode(hashlib.sha512(self.tarball).digest()).decode()
            doc = {"name": NAME, "dist-tags": {"latest": VERSION},
                   "versions": {VERSION: {
                       "name": NAME, "version": VERSION,
                       "dist": {"tarball": f"http://{host}{tgz}",
                                "shasum": hashlib.sha1(self.tarball).hexdigest(),
                                "integrity": integrity}}}}
            return self._send(json.dumps(doc).encode(), "application/json")
        if self.path == tgz:
            return self._send(self.tarball, "application/octet-stream")
        self._send(b"not found\n", "text/plain", 404)

    def _send(self, body, kind, status=200):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def registry_server():
    """Start the stand-in on 127.0.0.1 (any port) in a daemon thread."""
    server = _Server(("127.0.0.1", 0), _Registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def requests_seen():
    return list(_Registry.requests)
