"""Runs INSIDE the sandbox: raw conversations with the proxy at
127.0.0.1:3128 that curl cannot have. Prints one result line per check."""
import selectors
import socket
import sys
import time

PROXY = ("127.0.0.1", 3128)


def status_of(data, timeout=10):
    s = socket.create_connection(PROXY, timeout=timeout)
    try:
        s.sendall(data)
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        return buf.split(b"\r\n")[0].decode(errors="replace") or "(closed)"
    except OSError as e:
        return f"(error {e})"
    finally:
        s.close()


def cmd_raw(args):
    """raw NAME HEXBYTES...: send, print 'NAME status-line'."""
    for i in range(0, len(args), 2):
        print(args[i], status_of(bytes.fromhex(args[i + 1])), flush=True)


def cmd_malformed(args):
    host = args[0]
    big = b"a" * 10000
    checks = {
        "long_line": b"GET http://" + host.encode() + b"/" + big + b" HTTP/1.1\r\n\r\n",
        "big_header": b"GET http://" + host.encode() + b"/ HTTP/1.1\r\nX: " + big + b"\r\n\r\n",
        "many_headers": b"GET http://" + host.encode() + b"/ HTTP/1.1\r\n"
        + b"".join(b"X-%d: y\r\n" % i for i in range(200)) + b"\r\n",
        "huge_head": b"GET http://" + host.encode() + b"/ HTTP/1.1\r\n"
        + b"".join(b"X-Header-%05d: %s\r\n" % (i, b"z" * 60) for i in range(600)) + b"\r\n",
        "garbage": b"\x00\x01\x02\xff garbage\r\n\r\n",
        "tls_to_proxy": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        "bad_host": b"CONNECT exa mple.test:443 HTTP/1.1\r\n\r\n",
        "bad_host2": b"CONNECT -bad-.test:443 HTTP/1.1\r\n\r\n",
        "long_host": b"CONNECT " + b"a" * 300 + b".test:443 HTTP/1.1\r\n\r\n",
        "no_port": b"CONNECT example.test HTTP/1.1\r\n\r\n",
        "origin_form": b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n",
        "smuggle": b"POST http://" + host.encode() + b"/ HTTP/1.1\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "userinfo": b"GET http://user@" + host.encode() + b"/ HTTP/1.1\r\n\r\n",
    }
    for name, data in checks.items():
        print(name, status_of(data), flush=True)


def cmd_socks(args):
    """socks NAME ATYP HOST PORT [CMD]: print 'NAME reply-code'."""
    name, atyp, host, port = args[0], int(args[1]), args[2], int(args[3])
    cmd = int(args[4]) if len(args) > 4 else 1
    s = socket.create_connection(PROXY, timeout=10)
    try:
        s.sendall(b"\x05\x01\x00")
        if s.recv(2) != b"\x05\x00":
            print(name, "no-method", flush=True)
            return
        if atyp == 3:
            addr = bytes([len(host)]) + host.encode()
        else:
            addr = socket.inet_pton(socket.AF_INET if atyp == 1 else socket.AF_INET6, host)
        s.sendall(bytes([5, cmd, 0, atyp]) + addr + port.to_bytes(2, "big"))
        reply = s.recv(10)
        print(name, reply[1] if len(reply) >= 2 else "closed", flush=True)
    except OSError as e:
        print(name, f"error {e}", flush=True)
    finally:
        s.close()


def connect_tunnel(host, port, timeout=20):
    s = socket.create_connection(PROXY, timeout=timeout)
    s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise OSError("closed before the CONNECT reply")
        buf += chunk
    if not buf.startswith(b"HTTP/1.1 200"):
        raise OSError(buf.split(b"\r\n")[0].decode())
    return s


def cmd_many(args):
    """many N HOST PORT: N tunnels open at once, each echoes its own line."""
    n, host, port = int(args[0]), args[1], int(args[2])
    socks = []
    for i in range(n):
        socks.append(connect_tunnel(host, port))
    sel = selectors.DefaultSelector()
    want = {}
    for i, s in enumerate(socks):
        msg = f"tunnel {i} says hello\n".encode()
        s.sendall(msg)
        want[s] = (msg, b"")
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + 30
    ok = 0
    while want and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            data = s.recv(4096)
            msg, got = want[s]
            got += data
            if got == msg:
                ok += 1
                sel.unregister(s)
                del want[s]
            elif not data or not msg.startswith(got):
                sel.unregister(s)
                del want[s]
            else:
                want[s] = (msg, got)
    print("open_at_once", n, "echoed", ok, flush=True)
    for s in socks:
        s.close()


def cmd_stall(args):
    """stall HOST PORT ECHOHOST ECHOPORT: a tunnel pulling a big body that is
    never read, and a half-sent request head; then timed quick tunnels."""
    host, port, ehost, eport = args[0], int(args[1]), args[2], int(args[3])
    stalled = connect_tunnel(host, port)
    stalled.sendall(f"GET /big/{512 * 1024 * 1024} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    half = socket.create_connection(PROXY, timeout=10)
    half.sendall(b"CONNECT example.te")  # and nothing more
    time.sleep(0.5)  # let the big body fill every buffer on the way
    worst = 0.0
    for i in range(20):
        t0 = time.monotonic()
        s = connect_tunnel(ehost, eport, timeout=5)
        s.sendall(b"ping\n")
        assert s.recv(16) == b"ping\n"
        s.close()
        worst = max(worst, time.monotonic() - t0)
    print("quick_tunnels 20 worst_ms", int(worst * 1000), flush=True)
    stalled.close()
    half.close()


def cmd_direct(args):
    """direct HOST PORT...: plain connect() without the proxy."""
    for i in range(0, len(args), 2):
        host, port = args[i], int(args[i + 1])
        try:
            s = socket.create_connection((host, port), timeout=3)
            s.close()
            print("direct", host, port, "connected", flush=True)
        except OSError as e:
            print("direct", host, port, "failed", e.errno, flush=True)


def cmd_dns(args):
    for name in args:
        try:
            addrs = socket.getaddrinfo(name, 443)
            print("dns", name, "resolved", addrs[0][4][0], flush=True)
        except OSError:
            print("dns", name, "failed", flush=True)


if __name__ == "__main__":
    globals()["cmd_" + sys.argv[1]](sys.argv[2:])
