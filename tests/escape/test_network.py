"""ESCAPES.md, network bypass (relayed CONNECT, DNS leak, direct IP):

  * a direct connect() to any address fails: the host's loopback services,
    the host's own LAN address, a public address;
  * no resolver answers inside (UDP/TCP port 53 to the host's nameservers);
  * a CONNECT to an allowed name that resolves to a private or metadata
    address is denied, as is an allowed metadata literal;
  * a TLS ClientHello whose SNI differs from the CONNECT host is cut off.

Weak mode (`make escape-weak`): the proxy checks are switched off with
REINS_WEAKEN=net-address / net-sni, and the namespace checks run with
`--net host` (the one way to run without the network namespace); each test
then asserts that its attack succeeds, or skips saying why it cannot flip here.
"""
import socket
import sys
import threading
from pathlib import Path

import pytest

from conftest import WEAK_MODE, chown_tree, describe

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration" / "proxy_helpers"))
import servers  # noqa: E402

PROBE = r'''
import socket, ssl, sys

def check(name, escaped, detail):
    print(f"CHECK {name} {'escaped' if escaped else 'blocked'} {detail}", flush=True)

def direct(name, host, port):
    try:
        s = socket.create_connection((host, port), timeout=3)
        s.close()
        check(name, True, f"connected to {host}:{port}")
    except OSError as e:
        check(name, False, f"{host}:{port}: {e}")

def dns(name, server):
    q = bytes.fromhex("abcd01000001000000000000076578616d706c6503636f6d0000010001")
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(3)
        s.sendto(q, (server, 53))
        data = s.recv(512)
        check(name, data[:2] == q[:2], f"{server}: {len(data)} byte answer")
    except OSError as e:
        check(name, False, f"{server}: {e}")

def resolver_conf():
    try:
        return [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")]
    except OSError:
        return []

def proxy_status(target):
    try:
        s = socket.create_connection(("127.0.0.1", 3128), timeout=10)
        s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        line = s.recv(4096).split(b"\r\n")[0].decode(errors="replace")
        s.close()
        return line or "(closed)"
    except OSError as e:
        return f"(error {e})"

def sni(name, target, server_name):
    host, port = target.rsplit(":", 1)
    try:
        s = socket.create_connection(("127.0.0.1", 3128), timeout=10)
        s.sendall(f"CONNECT {target} HTTP/1.1\r\n\r\n".encode())
        if not s.recv(4096).startswith(b"HTTP/1.1 200"):
            check(name, False, "CONNECT refused")
            return
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        t = ctx.wrap_socket(s, server_hostname=server_name)
        check(name, True, f"TLS to {target} with SNI {server_name}: {t.version()}")
    except (OSError, ssl.SSLError) as e:
        check(name, False, f"SNI {server_name} via CONNECT {target}: {e}")

cmd = sys.argv[1]
if cmd == "direct":
    args = sys.argv[2:]
    for i in range(0, len(args), 3):
        direct(args[i], args[i + 1], int(args[i + 2]))
elif cmd == "dns":
    for i, server in enumerate(resolver_conf() + sys.argv[2:]):
        dns(f"dns_{i}", server)
elif cmd == "proxy":
    args = sys.argv[2:]
    for i in range(0, len(args), 2):
        st = proxy_status(args[i + 1])
        check(args[i], not st.startswith("HTTP/1.1 403"), f"CONNECT {args[i + 1]}: {st}")
elif cmd == "sni":
    sni("sni_mismatch", sys.argv[2], "other.test")
    sni("sni_absent", sys.argv[2], None)
print("DONE", flush=True)
'''


def host_address():
    """A non-loopback address of this host, or None."""
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("10.255.255.255", 1))
        addr = s.getsockname()[0]
        s.close()
        return None if addr.startswith("127.") else addr
    except OSError:
        return None


@pytest.fixture(scope="module")
def listener():
    """A TCP server on every host address: what a direct connect would reach."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", 0))
    srv.listen(64)

    def serve():
        while True:
            try:
                c, _ = srv.accept()
                c.close()
            except OSError:
                return

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1]
    srv.close()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    cert, key = servers.make_cert(str(d), ["allowed.test"])
    srv = servers.https_server(str(d), cert, key)
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def run(sandbox, args, *, allow=(), hosts=None, weaken=None, host_net=False):
    probe = sandbox.ws / "netprobe.py"
    probe.write_text(PROBE)
    policy = sandbox.ws / "policy.yaml"
    lines = ["version: 1", "extends: default", "network:",
             f"  mode: {'proxy' if not host_net else 'none'}"]
    if not host_net:
        lines.append(f"  allow: {list(allow)!r}".replace("'", '"'))
        if hosts:
            lines.append("  hosts: {" + ", ".join(f'"{k}": "{v}"' for k, v in hosts.items()) + "}")
    # the probe is about the proxy's own checks: the risk engine, a second
    # layer that would also turn egress off after a metadata attempt, stays
    # out of it (its rules are probed in tests/integration/test_risk.py)
    lines.append("risk: {engine: off}")
    policy.write_text("\n".join(lines) + "\n")
    chown_tree(sandbox.ws, sandbox.user)
    opts = ["-p", str(policy)] + (["--net", "host"] if host_net else [])
    env = {"REINS_WEAKEN": weaken} if weaken else None
    r = sandbox.run(["python3", str(probe), *args], opts=opts, env=env)
    if "DONE" not in r.stdout.split():
        pytest.fail(f"network probe did not finish: {describe(r)}")
    out = {}
    for line in r.stdout.splitlines():
        parts = line.split(" ", 3)
        if parts[0] == "CHECK":
            out[parts[1]] = (parts[2] == "escaped", parts[3] if len(parts) > 3 else "")
    return r, out


def verdict(results, expect_escaped, why_not=None):
    for k, (esc, d) in results.items():
        print(f"{k}: {'ESCAPED' if esc else 'blocked'}: {d}")
    if not WEAK_MODE:
        bad = {k: d for k, (esc, d) in results.items() if esc}
        assert not bad, f"network escape: {bad}"
        return
    flips = [k for k in expect_escaped if k in results]
    if not flips:
        pytest.skip(f"weak mode: nothing can flip here: {why_not}")
    still = {k: results[k][1] for k in flips if not results[k][0]}
    assert not still, f"weak mode: expected these attacks to succeed: {still}"


def test_direct_connect_fails(sandbox, listener):
    args = ["host_loopback", "127.0.0.1", str(listener), "public_dns", "8.8.8.8", "53",
            "public_https", "1.1.1.1", "443"]
    lan = host_address()
    if lan:
        args += ["host_lan", lan, str(listener)]
    r, results = run(sandbox, ["direct", *args], allow=["*"], host_net=WEAK_MODE)
    assert "host_loopback" in results, describe(r)
    # weak mode (--net host): the host's own services are right there
    verdict(results, ["host_loopback", "host_lan"])


def test_no_resolver_inside(sandbox):
    extra = ["127.0.0.53", "8.8.8.8"]
    r, results = run(sandbox, ["dns", *extra], allow=["*"], host_net=WEAK_MODE)
    assert results, describe(r)
    # only a resolver that answers on the host can answer with --net host
    answering = []
    for i, server in enumerate(_host_nameservers() + extra):
        if _host_dns_answers(server):
            answering.append(f"dns_{i}")
    verdict(results, answering, "no DNS server answers on this host either")


def _host_nameservers():
    try:
        return [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")]
    except OSError:
        return []


def _host_dns_answers(server):
    q = bytes.fromhex("abcd01000001000000000000076578616d706c6503636f6d0000010001")
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        s.sendto(q, (server, 53))
        return s.recv(512)[:2] == q[:2]
    except OSError:
        return False


def test_connect_to_private_or_metadata_is_denied(sandbox, listener):
    p = str(listener)
    args = ["private_name", f"localhost:{p}", "metadata_literal", "169.254.169.254:80",
            "private_literal", f"127.0.0.1:{p}", "mapped_literal", f"[::ffff:127.0.0.1]:{p}"]
    r, results = run(sandbox, ["proxy", *args],
                     allow=[f"localhost:{p}", "169.254.169.254:80", f"127.0.0.1:{p}",
                            f"[::ffff:127.0.0.1]:{p}"],
                     weaken="net-address" if WEAK_MODE else None)
    assert len(results) == 4, describe(r)
    verdict(results, ["private_name", "metadata_literal", "private_literal", "mapped_literal"])


def test_sni_other_than_the_connect_host_is_cut(sandbox, tls_server):
    target = f"allowed.test:{tls_server}"
    r, results = run(sandbox, ["sni", target], allow=[target],
                     hosts={"allowed.test": "127.0.0.1"},
                     weaken="net-sni" if WEAK_MODE else None)
    assert "sni_mismatch" in results, describe(r)
    verdict(results, ["sni_mismatch", "sni_absent"])
