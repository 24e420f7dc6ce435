"""The egress proxy (network.mode proxy), end to end: curl, git, openssl and a
raw client inside the sandbox; HTTP, TLS and echo servers on the host's
loopback; fake names pinned to them with network.hosts. Runs as root and as
an unprivileged caller (the `caller` fixture)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "proxy_helpers"))
import servers  # noqa: E402
from conftest import reins_path  # noqa: E402

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
    # these tests probe the proxy's own checks on purpose (metadata, private
    # addresses, malformed requests): the risk engine's tiers, which would
    # rightly turn egress off, are moved out of their way (test_risk.py
    # covers them)
    lines.append("risk: {tier1: 1000000, tier2: 2000000, tier3: 3000000}")
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


def test_egress_budget_stops_new_connections_and_cuts_open_ones(caller, srv):
    """Passing network.egress_budget closes the connections that are open (an
    open tunnel cannot go on sending) and refuses new ones; no more than the
    budget leaves the sandbox."""
    h = srv.http_port
    before = len(servers.uploads())
    script = f"""
head -c 300000 /dev/zero > upload.bin
echo first $(curl -sS --max-time 20 -o /dev/null -w '%{{http_code}}' --data-binary @upload.bin http://example.test:{h}/upload)
echo second $({CURL} http://example.test:{h}/hello)
"""
    r = sandboxed(caller, script, allow=[f"example.test:{h}"], hosts=pins("example.test"),
                  budget="100KiB")
    assert r.result_of("first") == "000", r.stdout + r.stderr  # cut mid-upload
    assert r.result_of("second") == "403", r.stdout
    budget = [x for x in r.events if x["type"] == "net.budget"]
    assert len(budget) == 1 and budget[0]["budget"] == 100 * 1024, budget
    assert "open connections closed" in budget[0]["action"]
    d = r.decisions(decision="denied", reason="budget")
    assert d and d[0]["rule"] == "egress_budget", d
    closes = [x for x in r.events if x["type"] == "net.close"]
    assert closes and closes[0]["reason"] == "network.egress_budget passed", closes
    assert sum(x["bytes_up"] for x in closes) <= 100 * 1024, closes
    summary = [x for x in r.events if x["type"] == "net.summary"][0]
    assert summary["bytes_up"] == 100 * 1024, summary
    # what reached the server: the request head and a part of the body
    time.sleep(0.2)
    assert max(servers.uploads()[before:] or [0]) < 100 * 1024, servers.uploads()


def test_egress_budget_closes_every_open_tunnel(caller, srv, harness_exe):
    import harness as hx
    e = srv.echo_port
    with start_harness(harness_exe, caller, srv, env={"REINS_HARNESS_BUDGET": "100000"}) as h:
        idle, line, _ = hx.connect(h.port, "echo.test", e)
        assert line.startswith("HTTP/1.1 200"), line
        busy, line, _ = hx.connect(h.port, "narrow.test", e)
        assert line.startswith("HTTP/1.1 200"), line
        try:
            busy.sendall(b"x" * 150000)
        except OSError:
            pass  # the proxy closed it with bytes unread: a reset
        echoed = b""
        try:
            while chunk := busy.recv(65536):
                echoed += chunk
        except ConnectionResetError:
            pass
        assert len(echoed) <= 100000, len(echoed)
        assert idle.recv(10) == b""  # cut although it sent nothing
        closes = h.events("net.close", reason="network.egress_budget passed")
        assert {c["host"] for c in closes} == {"echo.test", "narrow.test"}, closes
        assert sum(c["bytes_up"] for c in closes) == 100000, closes
        s, line, _ = hx.connect(h.port, "echo.test", e)
        assert line.startswith("HTTP/1.1 403"), line


# --------------------------------------------------------------------------
# package managers against a local registry stand-in


@pytest.fixture(scope="module")
def registry_srv():
    import registry
    server = registry.registry_server()
    yield server
    server.shutdown()
    server.server_close()


def tool_present(caller, *argv):
    """Is the tool there for the sandboxed command (same PATH)?"""
    r = subprocess.run(list(argv), env=caller.env(), capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=60)
    return r.returncode == 0


def test_pip_installs_from_a_registry_through_the_proxy(caller, registry_srv):
    import registry
    if not tool_present(caller, "python3", "-m", "pip", "--version"):
        pytest.skip("python3 -m pip is not installed")
    p = registry_srv.server_address[1]
    script = f"""
python3 -m pip install --no-cache-dir --disable-pip-version-check --target site \\
    --trusted-host pypi.test --index-url http://pypi.test:{p}/simple/ {registry.NAME} \\
    >pip.log 2>&1 || tail -5 pip.log
echo "pip $(PYTHONPATH=site python3 -c 'import reins_fake_pkg; print(reins_fake_pkg.GREETING)')"
"""
    before = len(registry.requests_seen())
    r = sandboxed(caller, script, allow=[f"pypi.test:{p}"], hosts=pins("pypi.test"),
                  timeout=180)
    assert r.result_of("pip") == registry.GREETING, r.stdout + r.stderr
    seen = registry.requests_seen()[before:]
    assert (f"pypi.test:{p}", f"/simple/{registry.NAME}/") in seen, seen
    assert any(path.startswith("/files/") for _, path in seen), seen
    d = r.decisions(decision="allowed", host="pypi.test")
    assert d and all(e["protocol"] == "http" for e in d), d


def test_npm_installs_from_a_registry_through_the_proxy(caller, registry_srv):
    import registry
    if not tool_present(caller, "sh", "-c", "command -v npm && command -v node"):
        pytest.skip("npm (and node) are not installed")
    p = registry_srv.server_address[1]
    script = f"""
export npm_config_cache=$PWD/.npm-cache npm_config_update_notifier=false
npm install --no-audit --no-fund --registry http://registry.test:{p}/ {registry.NAME} \
    >npm.log 2>&1 || tail -5 npm.log
echo "npm $(node -e 'console.log(require("{registry.NAME}"))')"
"""
    before = len(registry.requests_seen())
    r = sandboxed(caller, script, allow=[f"registry.test:{p}"], hosts=pins("registry.test"),
                  timeout=180)
    assert r.result_of("npm") == registry.GREETING, r.stdout + r.stderr
    seen = registry.requests_seen()[before:]
    assert (f"registry.test:{p}", f"/{registry.NAME}") in seen, seen
    assert any(path.endswith(".tgz") for _, path in seen), seen
    assert r.decisions(decision="allowed", host="registry.test")


# --------------------------------------------------------------------------
# the gate: held connections, answers, cuts and the plaintext scan hook,
# on the proxy run standalone by proxy_helpers/proxy_harness.c with a
# scripted gate (as the caller: root and nobody)


@pytest.fixture(scope="module")
def harness_exe():
    import harness
    d, exe = harness.build(reins_path())
    yield exe
    harness.remove(d)


def start_harness(exe, caller, srv, gate="", ask=(), env=None, allow=None):
    import harness
    names = ["held.test", "no.test", "echo.test", "open.test", "narrow.test", "wide.test",
             "example.test"]
    allow = allow if allow is not None else \
        [f"echo.test:{srv.echo_port}", f"narrow.test:{srv.echo_port}",
         f"open.test:{srv.http_port}", f"example.test:{srv.https_port}"]
    e = {"REINS_HARNESS_GATE": gate, "REINS_HARNESS_ASK": ",".join(ask), **(env or {})}
    return harness.Harness(exe, caller, allow=allow, hosts=pins(*names), env=e)


def test_gate_holds_a_connect_until_allowed(caller, srv, harness_exe):
    import harness as hx
    e = srv.echo_port
    with start_harness(harness_exe, caller, srv, gate="held.test=ask:allow:600",
                       ask=["held.test"]) as h:
        t0 = time.monotonic()
        s, line, _ = hx.connect(h.port, "held.test", e)
        waited = time.monotonic() - t0
        assert line.startswith("HTTP/1.1 200"), line
        assert waited >= 0.5, waited  # held until the answer
        assert hx.echo_roundtrip(s, b"after the yes") == b"after the yes"
        s.close()
        h.wait_for(r"net.close")
        asks = h.events("net.decision", host="held.test", decision="ask")
        allowed = h.events("net.decision", host="held.test", decision="allowed")
        assert len(asks) == 1 and len(allowed) == 1, h.text()
        assert asks[0]["lists"] == "ask" and asks[0]["rule"] == "held.test", asks
        assert asks[0]["gate_reason"] == "the harness asks a pretend human", asks
        assert allowed[0]["gate_reason"] == "the pretend human said yes", allowed
        assert allowed[0]["connection"] == asks[0]["connection"]
        assert "harness: decide" in h.text() and " connect ask held.test" in h.text()


def test_an_answer_from_inside_the_gate_hook(caller, srv, harness_exe):
    """The gate answers while the proxy is still inside decide(): the answer
    waits until the connection is held, then applies."""
    import harness as hx
    e = srv.echo_port
    gate = "held.test=ask:allow:now;no.test=ask:deny:now"
    with start_harness(harness_exe, caller, srv, gate=gate, ask=["held.test", "no.test"]) as h:
        s, line, _ = hx.connect(h.port, "held.test", e)
        assert line.startswith("HTTP/1.1 200"), line
        assert hx.echo_roundtrip(s) == b"ping"
        s.close()
        s, line, _ = hx.connect(h.port, "no.test", e)
        assert line.startswith("HTTP/1.1 403"), line
        s.close()
        for host, final in (("held.test", "allowed"), ("no.test", "denied")):
            decisions = [d["decision"] for d in h.events("net.decision", host=host)]
            assert decisions == ["ask", final], (host, decisions)
            assert h.events("net.decision", host=host, decision=final)[0]["gate_reason"] == \
                "answered inside the hook"


def test_gate_denials_for_connect_http_and_socks(caller, srv, harness_exe):
    import harness as hx
    e, hp = srv.echo_port, srv.http_port
    with start_harness(harness_exe, caller, srv, gate="no.test=ask:deny:300",
                       ask=["no.test"]) as h:
        s, line, _ = hx.connect(h.port, "no.test", e)
        assert line.startswith("HTTP/1.1 403"), line
        assert s.recv(100) == b""  # then closed
        s.close()
        status, body = hx.http_get(h.port, f"http://no.test:{hp}/hello")
        assert status.startswith("HTTP/1.1 403"), status
        assert b"the pretend human said no" in body, body
        s, code = hx.socks5(h.port, "no.test", e)
        assert code == 2, code
        s.close()
        denied = h.events("net.decision", host="no.test", decision="denied")
        assert {d["protocol"] for d in denied} == {"connect", "http", "socks5"}, denied
        assert all(d["reason"] == "gate" and d["lists"] == "ask" and
                   d["gate_reason"] == "the pretend human said no" for d in denied), denied
        assert len(h.events("net.decision", host="no.test", decision="ask")) == 3


def test_gate_narrows_and_widens_the_lists(caller, srv, harness_exe):
    """The gate may turn an allow into a deny and a default deny into an
    allow; an explicit deny never reaches it; ask without a gate is deny."""
    import harness as hx
    e = srv.echo_port
    gate = "narrow.test=deny;wide.test=allow;held.test=allow"
    with start_harness(harness_exe, caller, srv, gate=gate,
                       env={"REINS_HARNESS_DENY": "held.test"}) as h:
        s, line, _ = hx.connect(h.port, "narrow.test", e)
        assert line.startswith("HTTP/1.1 403"), line
        s, line, _ = hx.connect(h.port, "wide.test", e)
        assert line.startswith("HTTP/1.1 200"), line
        assert hx.echo_roundtrip(s) == b"ping"
        s.close()
        s, line, _ = hx.connect(h.port, "held.test", e)
        assert line.startswith("HTTP/1.1 403"), line
        d = h.events("net.decision", host="narrow.test")[0]
        assert (d["decision"], d["lists"], d["reason"]) == ("denied", "allow", "gate"), d
        assert d["gate_reason"] == "the harness refuses it"
        d = h.events("net.decision", host="wide.test")[0]
        assert (d["decision"], d["lists"], d["rule"]) == ("allowed", "deny", "default"), d
        d = h.events("net.decision", host="held.test")[0]
        assert (d["decision"], d["reason"]) == ("denied", "deny-rule"), d
        assert "decide" not in "".join(line for line in h.text().splitlines()
                                      if "held.test" in line and line.startswith("harness:"))
    with start_harness(harness_exe, caller, srv, ask=["echo.test"],
                       env={"REINS_HARNESS_NO_GATE": "1"}) as h:
        status, body = hx.http_get(h.port, f"http://echo.test:{e}/")
        assert status.startswith("HTTP/1.1 403") and b"no approver" in body, (status, body)
        d = h.events("net.decision", host="echo.test")[0]
        assert (d["decision"], d["lists"], d["reason"]) == ("denied", "ask", "no-approver"), d


def test_a_held_connection_blocks_nobody_and_its_client_can_leave(caller, srv, harness_exe):
    import harness as hx
    e = srv.echo_port
    with start_harness(harness_exe, caller, srv, gate="held.test=ask", ask=["held.test"]) as h:
        held = hx.connect_send(h.port, "held.test", e)
        held.sendall(b"early bytes stay in the proxy")
        h.wait_for(r'"decision":"ask"')
        # every other connection goes through while one is held (a proxy
        # that waited on it would leave these to the helpers' socket timeout)
        for _ in range(20):
            s, line, _ = hx.connect(h.port, "echo.test", e)
            assert line.startswith("HTTP/1.1 200"), line
            assert hx.echo_roundtrip(s) == b"ping"
            s.close()
        status, _ = hx.http_get(h.port, f"http://open.test:{srv.http_port}/hello")
        assert status.startswith("HTTP/1.1 200"), status
        conn = h.events("net.decision", host="held.test", decision="ask")[0]["connection"]
        held.close()
        h.wait_for(rf"harness: abandoned {conn}\b")
        closes = h.events("net.close", host="held.test")
        assert closes and closes[0]["reason"] == "client-gone", closes


def test_a_held_connection_idles_out(caller, srv, harness_exe):
    import harness as hx
    with start_harness(harness_exe, caller, srv, gate="held.test=ask", ask=["held.test"],
                       env={"REINS_HARNESS_IDLE_MS": "800"}) as h:
        t0 = time.monotonic()
        s, line, _ = hx.connect(h.port, "held.test", srv.echo_port)
        assert line.startswith("HTTP/1.1 403"), line
        assert 0.7 < time.monotonic() - t0 < 5
        h.wait_for(r"harness: abandoned \d+")
        d = h.events("net.decision", host="held.test", decision="denied")
        assert d and "idle timeout" in d[0]["gate_reason"], d


def test_held_connections_count_against_max_connections(caller, srv, harness_exe):
    import harness as hx
    e = srv.echo_port
    with start_harness(harness_exe, caller, srv, gate="held.test=ask:deny:1500",
                       ask=["held.test"], env={"REINS_HARNESS_MAX_CONN": "2"}) as h:
        a = hx.connect_send(h.port, "held.test", e)
        b = hx.connect_send(h.port, "held.test", e)
        h.wait_for(r'(?s)"decision":"ask".*"decision":"ask"')
        t0 = time.monotonic()
        s, line, _ = hx.connect(h.port, "echo.test", e)  # waits for a free slot
        assert line.startswith("HTTP/1.1 200"), line
        assert time.monotonic() - t0 > 0.8
        for x in (a, b, s):
            x.close()


def test_close_all_cuts_tunnels_and_held_connections(caller, srv, harness_exe):
    import harness as hx
    e = srv.echo_port
    with start_harness(harness_exe, caller, srv, gate="held.test=ask", ask=["held.test"]) as h:
        tunnel, line, _ = hx.connect(h.port, "echo.test", e)
        assert line.startswith("HTTP/1.1 200") and hx.echo_roundtrip(tunnel) == b"ping"
        held = hx.connect_send(h.port, "held.test", e)
        h.wait_for(r'"decision":"ask"')
        h.signal()
        h.wait_for(r"harness: egress off.*\n(?:.*\n)*.*harness: egress off")
        assert tunnel.recv(100) == b""
        assert hx._read_head(held).startswith(b"HTTP/1.1 403")
        closes = h.events("net.close", reason="harness: egress off")
        assert {c["host"] for c in closes} == {"echo.test", "held.test"}, closes
        # new requests still go through the gate
        s, line, _ = hx.connect(h.port, "echo.test", e)
        assert line.startswith("HTTP/1.1 200"), line
        s.close()


def test_plaintext_egress_is_shown_to_the_scan_hook(caller, srv, harness_exe):
    import harness as hx
    e, hp, tp = srv.echo_port, srv.http_port, srv.https_port
    env = {"REINS_HARNESS_SCAN": "1", "REINS_HARNESS_SCAN_STOP": "TOPSECRET"}
    with start_harness(harness_exe, caller, srv, env=env) as h:
        status, _ = hx.http_get(h.port, f"http://open.test:{hp}/upload", body=b"form=visible")
        assert status.startswith("HTTP/1.1 200"), status
        h.wait_for(r"harness: scan \d+ open.test \d+ POST./upload.HTTP/1.1")
        assert "form=visible" in h.text()
        # a plaintext CONNECT tunnel: its first bytes, then more, up to 64 KiB
        s, line, _ = hx.connect(h.port, "echo.test", e)
        assert hx.echo_roundtrip(s, b"plain words") == b"plain words"
        big = b"z" * 100000
        assert hx.echo_roundtrip(s, big) == big
        s.close()
        h.wait_for(r"harness: scan \d+ echo.test 11 plain.words")
        scanned = sum(int(m) for m in re.findall(r"harness: scan \d+ echo.test (\d+)", h.text()))
        assert scanned == 64 * 1024, scanned
        # TLS is not shown
        import ssl
        ctx = ssl.create_default_context(cafile=srv.cert)
        s, line, _ = hx.connect(h.port, "example.test", tp)
        with ctx.wrap_socket(s, server_hostname="example.test") as t:
            t.sendall(b"GET /hello HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
            assert t.recv(4096).startswith(b"HTTP/1.1 200")
        h.wait_for(r'"type":"net.close".*"host":"example.test"')
        assert not re.search(r"harness: scan \d+ example.test", h.text())
        # a secret in plaintext: the hook turns egress off before it leaves
        s, line, _ = hx.connect(h.port, "echo.test", e)
        s.sendall(b"here is TOPSECRET data")
        assert s.recv(100) == b""
        closes = h.events("net.close", reason="harness: a secret in plaintext egress")
        assert closes and closes[-1]["bytes_up"] == 0, closes


def test_at_the_cap_the_idlest_tunnel_makes_room(caller, srv, harness_exe):
    """Connection cap 3, three open tunnels that moved nothing for a second:
    a new request is not left waiting for their idle timeout (5 min); the
    tunnel idle for longest is closed ("evicted") and a `limit` event says
    the cap was hit. A tunnel that keeps moving bytes stays."""
    import harness as hx
    e = srv.echo_port
    with start_harness(harness_exe, caller, srv, env={"REINS_HARNESS_MAX_CONN": "3"}) as h:
        tunnels = []
        for _ in range(3):
            s, line, _ = hx.connect(h.port, "echo.test", e)
            assert line.startswith("HTTP/1.1 200"), line
            tunnels.append(s)
        time.sleep(1.2)  # PROXY_EVICT_IDLE_MS: the tunnels have gone idle
        assert hx.echo_roundtrip(tunnels[0]) == b"ping"  # the oldest is busy again
        s, line, _ = hx.connect(h.port, "echo.test", e, timeout=5)
        assert line.startswith("HTTP/1.1 200"), line
        assert hx.echo_roundtrip(s) == b"ping"
        h.wait_for(r'"reason":"evicted"')
        assert hx.echo_roundtrip(tunnels[0]) == b"ping"
        for x in (*tunnels, s):
            x.close()
        h.wait_for(r'"kind":"proxy_connections"')
