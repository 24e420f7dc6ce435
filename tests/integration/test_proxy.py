"""The egress proxy (network.mode proxy), end to end: curl, git, openssl and a
raw client inside the sandbox; HTTP, TLS and echo servers on the host's
loopback; fake names pinned to them with network.hosts. Runs as root and as
an unprivileged caller (the `caller` fixture)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "proxy_helpers"))
import servers  # noqa: E402

CLIENT = HERE / "proxy_helpers" / "client.py"
IS_ROOT = os.geteuid() == 0


# --------------------------------------------------------------------------
# host-side servers, once per module


class Servers:
    pass


@pytest.fixture(scope="module")
def srv():
    root = tempfile.mkdtemp(prefix="reins-proxy-srv-", dir="/tmp")
    os.chmod(root, 0o755)
    s = Servers()
    s.root = Path(root)
    (s.root / "index.html").write_text("index\n")
    servers.git_repo(root)
    s.cert, s.key = servers.make_cert(root, ["example.test", "other.test"])
    s.http = servers.http_server(root)
    s.https = servers.https_server(root, s.cert, s.key)
    s.echo = servers.echo_server()
    s.http_port = s.http.server_address[1]
    s.https_port = s.https.server_address[1]
    s.echo_port = s.echo.server_address[1]
    s.closed_port = servers.closed_port()
    yield s
    for server in (s.http, s.https, s.echo):
        server.shutdown()
        server.server_close()
    shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------
# running a command in a proxied sandbox


class Run:
    def __init__(self, result, events_path):
        self.r = result
        self.stdout = result.stdout
        self.stderr = result.stderr
        self.returncode = result.returncode
        self.events = []
        if os.path.exists(events_path):
            for line in Path(events_path).read_text().splitlines():
                try:
                    self.events.append(json.loads(line))
                except ValueError:
                    pass

    def decisions(self, **match):
        return [e for e in self.events if e.get("type") == "net.decision"
                and all(e.get(k) == v for k, v in match.items())]

    def lines(self, prefix):
        return {line.split()[0]: " ".join(line.split()[1:])
                for line in self.stdout.splitlines() if line.startswith(prefix)}

    def result_of(self, name):
        for line in self.stdout.splitlines():
            parts = line.split(None, 1)
            if parts and parts[0] == name:
                return parts[1] if len(parts) > 1 else ""
        raise AssertionError(f"no line for {name} in {self.stdout!r} / {self.stderr!r}")


def policy_text(allow=(), deny=(), hosts=None, budget=None):
    lines = ["version: 1", "extends: default", "network:", "  mode: proxy",
             f"  allow: {json.dumps(list(allow))}", f"  deny: {json.dumps(list(deny))}"]
    if hosts:
        lines.append("  hosts: " + json.dumps(hosts))
    if budget:
        lines.append(f"  egress_budget: {budget}")
    return "\n".join(lines) + "\n"


def sandboxed(caller, script, *, allow=(), deny=(), hosts=None, budget=None, opts=(),
              timeout=120, prefix=None, files=()):
    """Run `sh -c script` in a proxy-mode sandbox; the workspace holds
    client.py and `files`. Returns a Run with the events."""
    ws = caller.workspace()
    for f in (CLIENT, *files):
        shutil.copy(f, ws / os.path.basename(f))
        caller.own(ws / os.path.basename(f))
    pol = caller.write(ws / "policy.yaml", policy_text(allow, deny, hosts, budget))
    evdir = caller.mkdtemp(prefix="reins-proxy-ev-")
    events = evdir / "events.jsonl"
    args = ["run", "-p", pol, "--events", events, *opts, "-w", ws, "--", "sh", "-c", script]
    if prefix:
        r = subprocess.run(prefix + caller.argv(args), cwd=ws, env=caller.env(),
                           capture_output=True, text=True, errors="replace", timeout=timeout,
                           stdin=subprocess.DEVNULL)
    else:
        r = caller.run(args, cwd=ws, timeout=timeout)
    return Run(r, events)


def pins(*names):
    return {n: "127.0.0.1" for n in names}


CURL = "curl -sS --max-time 20 -o /dev/null -w '%{http_code}'"


# --------------------------------------------------------------------------
# allowed traffic


def test_http_https_socks_and_git_through_the_proxy(caller, srv):
    h, t = srv.http_port, srv.https_port
    script = f"""
echo "http $(curl -sS --max-time 20 http://example.test:{h}/hello)"
echo "https $(curl -sS --max-time 20 --cacert $PWD/cert.crt https://example.test:{t}/hello)"
echo "socks $(curl -sS --max-time 20 --socks5-hostname 127.0.0.1:3128 http://example.test:{h}/hello)"
echo "socks_tls $(curl -sS --max-time 20 --cacert $PWD/cert.crt --proxy socks5h://127.0.0.1:3128 https://example.test:{t}/hello)"
echo "headers $(curl -sS --max-time 20 -H 'Proxy-Authorization: Basic c2VjcmV0' -H 'Connection: X-Hop' -H 'X-Hop: 1' http://example.test:{h}/headers | tr '\\n' '|')"
git clone -q http://example.test:{h}/repo.git cloned 2>&1 && echo "git $(cat cloned/README)"
"""
    r = sandboxed(caller, script, allow=[f"example.test:{h}", f"example.test:{t}"],
                  hosts=pins("example.test"), files=[srv.cert])
    assert r.returncode == 0, r.stderr
    out = r.lines("")
    assert out.get("http") == f"hello from example.test:{h}", r.stdout
    assert out.get("https") == f"hello from example.test:{t}", r.stdout
    assert out.get("socks") == f"hello from example.test:{h}", r.stdout
    assert out.get("socks_tls") == f"hello from example.test:{t}", r.stdout
    # hop-by-hop and proxy credentials never reach the server
    headers = out.get("headers", "").lower()
    assert "proxy-authorization" not in headers and "x-hop" not in headers, headers
    assert f"host: example.test:{h}" in headers, headers
    assert out.get("git") == "cloned through the reins proxy", r.stdout + r.stderr
    allowed = r.decisions(decision="allowed", host="example.test")
    assert {e["protocol"] for e in allowed} >= {"http", "connect", "socks5"}, allowed
    assert all(e["rule"].startswith("example.test:") and e["address"] == "127.0.0.1"
               for e in allowed)
    closes = [e for e in r.events if e["type"] == "net.close"]
    assert closes and all(e["bytes_down"] > 0 for e in closes), closes
    summary = [e for e in r.events if e["type"] == "net.summary"]
    assert summary and summary[0]["bytes_down"] >= sum(e["bytes_down"] for e in closes)


# --------------------------------------------------------------------------
# decisions on names


def test_denied_wildcard_edges_and_ports(caller, srv):
    h, other = srv.http_port, srv.echo_port
    names = ["api.allowed.test", "a.b.allowed.test", "allowed.test", "evilallowed.test",
             "bad.allowed.test", "exact.test", "API.Allowed.TEST."]
    checks = [("sub", f"http://api.allowed.test:{h}/hello"),
              ("deep", f"http://a.b.allowed.test:{h}/hello"),
              ("apex", f"http://allowed.test:{h}/hello"),
              ("lookalike", f"http://evilallowed.test:{h}/hello"),
              ("denied", f"http://bad.allowed.test:{h}/hello"),
              ("exact", f"http://exact.test:{h}/hello"),
              ("other_port", f"http://exact.test:{other}/hello"),
              ("case_dot", f"http://API.Allowed.TEST.:{h}/hello"),
              ("unlisted", f"http://unlisted.test:{h}/hello")]
    script = "\n".join(f"echo {name} $({CURL} {url})" for name, url in checks)
    script += f"\necho body \"$(curl -sS http://bad.allowed.test:{h}/hello)\""
    r = sandboxed(caller, script, allow=[f"*.allowed.test:{h}", f"exact.test:{h}"],
                  deny=["bad.allowed.test"], hosts=pins(*names, "unlisted.test"))
    assert r.returncode == 0, r.stderr
    want = {"sub": "200", "deep": "200", "apex": "403", "lookalike": "403", "denied": "403",
            "exact": "200", "other_port": "403", "case_dot": "200", "unlisted": "403"}
    got = {name: r.result_of(name) for name in want}
    assert got == want, r.stdout
    assert "bad.allowed.test" in r.result_of("body") and "deny-rule" in r.result_of("body")
    d = r.decisions(decision="denied", host="bad.allowed.test")
    assert d and d[0]["reason"] == "deny-rule" and d[0]["rule"] == "bad.allowed.test", d
    d = r.decisions(decision="denied", host="allowed.test")
    assert d and d[0]["reason"] == "not-allowed", d
    d = r.decisions(decision="denied", host="exact.test", port=other)
    assert d and d[0]["reason"] == "not-allowed", d
    assert r.decisions(decision="allowed", host="api.allowed.test")[0]["rule"] == \
        f"*.allowed.test:{h}"


def test_default_ports_without_a_port_in_the_pattern(caller, srv):
    h = srv.http_port
    script = f"echo custom $({CURL} http://plain.test:{h}/hello)\n" \
             f"echo deny_all_ports $({CURL} http://blocked.test:{h}/hello)"
    r = sandboxed(caller, script, allow=["plain.test", f"blocked.test:{h}"],
                  deny=["blocked.test"], hosts=pins("plain.test", "blocked.test"))
    # "plain.test" means ports 80 and 443; a deny without a port covers all
    assert r.result_of("custom") == "403", r.stdout
    assert r.result_of("deny_all_ports") == "403", r.stdout


# --------------------------------------------------------------------------
# addresses


def test_private_metadata_and_literal_addresses(caller, srv):
    h = srv.http_port
    script = f"""
echo localhost $({CURL} http://localhost:{h}/hello)
echo literal_not_allowed $({CURL} http://127.0.0.1:{h}/hello)
echo literal_allowed_private $({CURL} http://127.0.0.2:{h}/hello)
echo metadata $({CURL} http://169.254.169.254/latest/meta-data/)
echo pinned_literal $({CURL} http://127.0.0.3:{h}/hello)
python3 client.py socks socks_metadata 1 169.254.169.254 80
python3 client.py socks socks_v6_mapped 4 ::ffff:127.0.0.1 {h}
python3 client.py socks socks_name_private 3 localhost {h}
python3 client.py socks socks_udp 1 127.0.0.1 {h} 3
python3 client.py socks socks_bind 1 127.0.0.1 {h} 2
"""
    r = sandboxed(caller, script,
                  allow=[f"localhost:{h}", f"127.0.0.2:{h}", f"127.0.0.3:{h}", "169.254.169.254",
                         f"[::ffff:127.0.0.1]:{h}", f"127.0.0.1:{h}"],
                  hosts={"127.0.0.3": "127.0.0.1"})
    assert r.returncode == 0, r.stderr
    assert r.result_of("localhost") == "403", r.stdout
    assert r.result_of("literal_allowed_private") == "403", r.stdout
    assert r.result_of("metadata") == "403", r.stdout
    assert r.result_of("pinned_literal") == "200", r.stdout
    assert r.result_of("socks_metadata") == "2", r.stdout  # not allowed by ruleset
    assert r.result_of("socks_v6_mapped") == "2", r.stdout
    assert r.result_of("socks_name_private") == "2", r.stdout
    assert r.result_of("socks_udp") == "7", r.stdout  # command not supported
    assert r.result_of("socks_bind") == "7", r.stdout
    reasons = {(e["host"], e["reason"]) for e in r.decisions(decision="denied") if "host" in e}
    assert ("localhost", "private-address") in reasons, reasons
    assert ("169.254.169.254", "metadata") in reasons, reasons
    assert ("::ffff:127.0.0.1", "private-address") in reasons, reasons


def test_ip_literal_only_when_the_literal_is_allowed(caller, srv):
    h = srv.http_port
    script = f"echo by_name $({CURL} http://example.test:{h}/hello)\n" \
             f"echo by_address $({CURL} http://127.0.0.1:{h}/hello)\n" \
             f"python3 client.py socks socks_literal 1 127.0.0.1 {h}"
    r = sandboxed(caller, script, allow=[f"example.test:{h}"], hosts=pins("example.test"))
    assert r.result_of("by_name") == "200", r.stdout
    assert r.result_of("by_address") == "403", r.stdout
    assert r.result_of("socks_literal") == "2", r.stdout
    d = r.decisions(decision="denied", host="127.0.0.1")
    assert d and all(e["reason"] == "not-allowed" for e in d), d


@pytest.mark.skipif(not IS_ROOT, reason="needs a private /etc/hosts (mount namespace, root)")
def test_names_resolving_to_private_addresses(caller, srv, tmp_path):
    """The proxy's own resolver (c-ares: /etc/hosts, then DNS) answers with
    a metadata, private, CGNAT or IPv4-mapped address: refused, whatever the
    allow list says. /etc/hosts is replaced in a private mount namespace of
    the reins process, standing in for a hostile DNS answer."""
    hosts = tmp_path / "hosts"
    hosts.write_text("169.254.169.254 metadata.evil.test\n10.1.2.3 lan.evil.test\n"
                     "100.64.1.1 cgnat.evil.test\n::ffff:127.0.0.1 mapped.evil.test\n"
                     "127.0.0.1 rebind.evil.test\n8.8.8.8 rebind.evil.test\n")
    os.chmod(tmp_path, 0o755)
    os.chmod(hosts, 0o644)
    names = ["metadata", "lan", "cgnat", "mapped", "rebind"]
    script = "\n".join(f"echo {n} $({CURL} http://{n}.evil.test/)" for n in names)
    prefix = ["unshare", "-m", "--propagation", "private", "sh", "-c",
              f'mount --bind {hosts} /etc/hosts && exec "$@"', "sh"]
    r = sandboxed(caller, script, allow=["*.evil.test"], prefix=prefix)
    assert r.returncode == 0, r.stderr
    for n in names:
        assert r.result_of(n) == "403", r.stdout
    reasons = {e["host"]: e["reason"] for e in r.decisions(decision="denied")}
    assert reasons["metadata.evil.test"] == "metadata", reasons
    for n in ("lan", "cgnat", "mapped", "rebind"):
        assert reasons[f"{n}.evil.test"] == "private-address", reasons


def test_upstream_failure_is_502(caller, srv):
    p = srv.closed_port
    script = f"echo refused $({CURL} http://down.test:{p}/)\n" \
             f"echo refused_connect $({CURL} --cacert cert.crt https://down.test:{p}/)\n" \
             f"python3 client.py socks socks_refused 3 down.test {p}"
    r = sandboxed(caller, script, allow=[f"down.test:{p}"], hosts=pins("down.test"),
                  files=[srv.cert])
    assert r.result_of("refused") == "502", r.stdout
    assert r.result_of("socks_refused") == "5", r.stdout  # connection refused


# --------------------------------------------------------------------------
# TLS server name


def test_sni_must_match_the_connect_host(caller, srv):
    t = srv.https_port
    sc = "openssl s_client -brief -proxy 127.0.0.1:3128 -CAfile cert.crt"
    script = f"""
echo matching $(echo Q | {sc} -connect example.test:{t} -servername example.test 2>&1 | grep -c 'Verification: OK')
echo mismatch $(echo Q | {sc} -connect example.test:{t} -servername other.test 2>&1 | grep -c 'Verification: OK')
echo no_sni $(echo Q | {sc} -connect example.test:{t} -noservername 2>&1 | grep -c 'Verification: OK')
echo curl_resolve $({CURL} --cacert cert.crt --connect-to other.test:{t}:example.test:{t} https://other.test:{t}/hello)
"""
    r = sandboxed(caller, script, allow=[f"example.test:{t}"], hosts=pins("example.test"),
                  files=[srv.cert])
    assert r.result_of("matching") == "1", r.stdout + r.stderr
    assert r.result_of("mismatch") == "0", r.stdout
    assert r.result_of("no_sni") == "0", r.stdout
    assert r.result_of("curl_resolve") != "200", r.stdout
    sni = r.decisions(decision="denied", reason="sni-mismatch")
    assert len(sni) >= 3, r.events
    assert any("other.test" in e.get("detail", "") for e in sni), sni


# --------------------------------------------------------------------------
# no other way out


def test_direct_connections_and_dns_fail(caller, srv):
    script = f"""
python3 client.py direct 127.0.0.1 {srv.http_port} 8.8.8.8 53 1.1.1.1 443
python3 client.py dns example.com localhost.localdomain.invalid
getent hosts example.com >/dev/null && echo getent resolved || echo getent failed
echo noproxy $(curl -sS --max-time 5 --noproxy '*' -o /dev/null -w '%{{http_code}}' http://example.test:{srv.http_port}/ 2>/dev/null)
"""
    r = sandboxed(caller, script, allow=["*"], hosts=pins("example.test"))
    assert "connected" not in r.stdout, r.stdout
    assert r.stdout.count("direct ") == 3, r.stdout
    assert "dns example.com failed" in r.stdout, r.stdout
    assert "getent failed" in r.stdout, r.stdout
    assert r.result_of("noproxy") in ("", "000"), r.stdout


# --------------------------------------------------------------------------
# robustness


def test_malformed_and_oversized_requests(caller, srv):
    h = srv.http_port
    script = f"python3 client.py malformed example.test:{h}\n" \
             f"echo after $({CURL} http://example.test:{h}/hello)"
    r = sandboxed(caller, script, allow=[f"example.test:{h}"], hosts=pins("example.test"))
    assert r.returncode == 0, r.stderr
    want = {"long_line": "414", "big_header": "431", "many_headers": "431", "huge_head": "431",
            "garbage": "400", "tls_to_proxy": "400", "bad_host": "400", "bad_host2": "400",
            "long_host": "400", "no_port": "400", "origin_form": "400", "smuggle": "400",
            "userinfo": "400"}
    for name, status in want.items():
        line = r.result_of(name)
        assert line.startswith(f"HTTP/1.1 {status}"), (name, line)
    assert r.result_of("after") == "200", r.stdout  # the proxy is still up
    malformed = r.decisions(decision="denied", reason="malformed")
    assert len(malformed) >= len(want), malformed


def test_200_concurrent_tunnels(caller, srv):
    e = srv.echo_port
    r = sandboxed(caller, f"python3 client.py many 200 echo.test {e}",
                  allow=[f"echo.test:{e}"], hosts=pins("echo.test"), timeout=180)
    assert "open_at_once 200 echoed 200" in r.stdout, r.stdout + r.stderr


def test_a_stalled_client_blocks_nobody(caller, srv):
    h, e = srv.http_port, srv.echo_port
    r = sandboxed(caller, f"python3 client.py stall big.test {h} echo.test {e}",
                  allow=[f"big.test:{h}", f"echo.test:{e}"], hosts=pins("big.test", "echo.test"),
                  timeout=180)
    assert "quick_tunnels 20" in r.stdout, r.stdout + r.stderr
    worst = int(r.stdout.split("worst_ms")[1].split()[0])
    assert worst < 2000, r.stdout


def test_egress_budget_stops_new_connections(caller, srv):
    h = srv.http_port
    script = f"""
head -c 300000 /dev/zero > upload.bin
echo first $(curl -sS --max-time 20 --data-binary @upload.bin http://example.test:{h}/upload)
echo second $({CURL} http://example.test:{h}/hello)
"""
    r = sandboxed(caller, script, allow=[f"example.test:{h}"], hosts=pins("example.test"),
                  budget="100KiB")
    assert r.result_of("first") == "received 300000", r.stdout + r.stderr
    assert r.result_of("second") == "403", r.stdout
    budget = [x for x in r.events if x["type"] == "net.budget"]
    assert len(budget) == 1 and budget[0]["budget"] == 100 * 1024, budget
    d = r.decisions(decision="denied", reason="budget")
    assert d and d[0]["rule"] == "egress_budget", d
