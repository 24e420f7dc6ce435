#!/usr/bin/env python3
"""The web dashboard in a real browser (issue 16, item 5).

A daemon with an HTTPS listener (a self-signed certificate made here), an
admin token, S sessions started through the API (`sleep 600`: the fleet's
rows) and G sessions that run execs in a loop, whose events stream to the
page (about 200 a second in all; the rate reached is measured on
GET /v1/events and printed). Debian's Chromium, headless, driven by
python3-selenium through chromedriver:
  1. the fleet page with S sessions: from navigation start to every row in
     the table (tr[data-session]), the median and worst of several loads;
     budget < 1 s;
  2. while the events stream: on the fleet page and on one generator's
     session page, for 5 s each, the main thread's lag (a 50 ms timer's
     lateness: p95 and max), frame gaps (requestAnimationFrame: p95, max),
     long tasks (> 50 ms: count and longest), and the time from typing in
     the fleet's filter to the next frame with the table filtered.
There is no peer dashboard to run beside it here: the figures stand against
the issue's budgets. Prints only; exits 0 whatever it measures.

  dashboard_bench.py REINS [--sessions 500] [--generators 4] [--loads 5]
"""
import argparse
import datetime
import http.client
import http.server
import json
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load_bench import Bench, on_signal, pct  # noqa: E402

ROWS = "tr[data-session]"
# ~25 execs a second per generator (the exec of `true` and of `sleep`)
GENERATOR = ["sh", "-c", "while :; do /bin/true; sleep 0.07; done"]
BUDGET_RENDER_MS = 1000.0


class DashboardBench(Bench):
    def start_daemon(self):
        key, cert = (os.path.join(self.tmp, n) for n in ("key.pem", "cert.pem"))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=reins-bench",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        self.cert = cert
        port = free_port()
        self.origin = f"https://127.0.0.1:{port}"
        self.extra = ["--listen", f"127.0.0.1:{port}", "--tls-cert", cert, "--tls-key", key]
        self.proc = subprocess.Popen(
            [self.reins, "serve", "--socket", self.sock, "--state", self.state, *self.extra],
            env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.tmp, "serve.err"), "wb"), start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not os.path.exists(self.sock):
            time.sleep(0.01)
        r = subprocess.run([self.reins, "serve", "token", "create", "--state", self.state,
                            "--name", "bench", "--role", "admin", "--user", str(os.getuid())],
                           env=self.env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"token: {r.stderr.strip()}")
        self.token = r.stdout.strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EventRate(threading.Thread):
    """Counts what GET /v1/events delivers (over TLS, with the token)."""

    def __init__(self, bench):
        super().__init__(daemon=True)
        self.bench = bench
        self.count = 0
        self.stop = threading.Event()

    def run(self):
        ctx = ssl.create_default_context(cafile=self.bench.cert)
        port = int(self.bench.origin.rsplit(":", 1)[1])
        try:
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                                server_hostname="127.0.0.1")
            s.sendall(f"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Authorization: Bearer {self.bench.token}\r\n\r\n".encode())
            while not self.stop.is_set():
                data = s.recv(65536)
                if not data:
                    return
                self.count += data.count(b"\ndata: ")
        except OSError:
            return

    def rate(self, seconds=3.0):
        c0 = self.count
        time.sleep(seconds)
        return (self.count - c0) / seconds


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--ignore-certificate-errors",
                "--window-size=1280,800"]:
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def login(driver, bench):
    driver.get(bench.origin + "/login")
    driver.find_element("name", "token").send_keys(bench.token)
    driver.find_element("css selector", "form").submit()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if urllib.parse.urlparse(driver.current_url).path == "/":
            return
        time.sleep(0.05)
    raise RuntimeError(f"login did not reach / ({driver.current_url})")


# in the page: the fleet page's mark "reins:fleet-drawn" (the frame after
# the one that drew its rows, ms since navigation start), once it is there
WAIT_DRAWN = """
const done = arguments[0];
function check() {
  const m = performance.getEntriesByName("reins:fleet-drawn");
  if (m.length) done(m[0].startTime);
  else requestAnimationFrame(check);
}
check();
"""

# in the page: resolve with the time (ms since navigation start) at which
# the table first holds `n` rows, checked at every frame
WAIT_ROWS = """
const [selector, n, done] = arguments;
function check() {
  if (document.querySelectorAll(selector).length >= n) done(performance.now());
  else requestAnimationFrame(check);
}
check();
"""

# in the page, for `ms`: a 50 ms timer's lateness, frame gaps, long tasks
MEASURE = """
const [ms, done] = arguments;
const lags = [], gaps = [], longs = [];
let obs = null;
try {
  obs = new PerformanceObserver(l => l.getEntries().forEach(e => longs.push(e.duration)));
  obs.observe({type: "longtask"});
} catch (e) {}
let last = performance.now();
function frame(t) { gaps.push(t - last); last = t; if (!over) requestAnimationFrame(frame); }
let over = false;
requestAnimationFrame(frame);
let expected = performance.now() + 50;
function tick() {
  const now = performance.now();
  lags.push(Math.max(0, now - expected));
  expected = now + 50;
  if (!over) setTimeout(tick, 50);
}
setTimeout(tick, 50);
setTimeout(() => { over = true; if (obs) obs.disconnect(); done({lags, gaps, longs}); }, ms);
"""

# in the page: type into the fleet's filter, resolve at the first frame
# where the visible rows are `expect` (ms from the input event)
FILTER = """
const [text, expect, done] = arguments;
const input = document.getElementById("fleet-filter");
const t0 = performance.now();
input.value = text;
input.dispatchEvent(new Event("input", {bubbles: true}));
function visible() {
  return Array.from(document.querySelectorAll("tr[data-session]")).filter(r => !r.hidden).length;
}
function check() {
  if (visible() === expect) done(performance.now() - t0);
  else if (performance.now() - t0 > 10000) done(-1);
  else requestAnimationFrame(check);
}
requestAnimationFrame(check);
"""


# in the page: resolve with the wall-clock ms at which a card for a
# request of `session` first shows
WAIT_CARD = """
const [session, done] = arguments;
function check() {
  const card = document.querySelector('li[data-request][data-session="' + session + '"]');
  if (card) done(performance.timeOrigin + performance.now());
  else requestAnimationFrame(check);
}
check();
"""

# in the page: click the card's Approve, resolve with the click's wall ms
CLICK_APPROVE = """
const [session, done] = arguments;
const card = document.querySelector('li[data-request][data-session="' + session + '"]');
const button = card.querySelector('button[data-answer="allow"]');
const t = performance.timeOrigin + performance.now();
button.click();
done(t);
"""


class Upstream(http.server.ThreadingHTTPServer):
    """The destination the agent asks for: notes when each request arrives."""

    def __init__(self):
        self.arrived = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(handler):
                self.arrived.append(time.time() * 1000)
                handler.send_response(200)
                handler.send_header("Content-Length", "2")
                handler.end_headers()
                handler.wfile.write(b"ok")

            def log_message(handler, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def record_ms(bench, session, type_):
    """The wall-clock ms of the session's first record of `type_`."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, body = http_get(bench, f"/v1/audit?session={session}&type={type_}&limit=1")
        records = body.get("records") if status == 200 else None
        if records:
            t = records[0]["record"]["time"].replace("Z", "+00:00")
            return datetime.datetime.fromisoformat(t).timestamp() * 1000
        time.sleep(0.1)
    raise RuntimeError(f"no {type_} record in session {session}")


def http_get(bench, path):
    ctx = ssl.create_default_context(cafile=bench.cert)
    port = int(bench.origin.rsplit(":", 1)[1])
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
    conn.request("GET", path, headers={"Authorization": f"Bearer {bench.token}"})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, json.loads(body or b"{}")


def approvals(driver, bench, rounds):
    upstream = Upstream()
    port = upstream.server_address[1]
    policy = os.path.join(bench.tmp, "ask.yaml")
    with open(policy, "w") as f:
        f.write("version: 1\nextends: default\nnetwork:\n  mode: proxy\n"
                f"  ask: [\"ask.test:{port}\"]\n  hosts: {{ask.test: 127.0.0.1}}\n"
                "approvals: {timeout: 120s}\n")
    shown, released = [], []
    driver.get(bench.origin + "/#/approvals")
    time.sleep(1)
    for _ in range(rounds):
        status, body = call_json(bench, "POST", "/v1/sessions", {
            "workspace": bench.ws, "policy": policy,
            "command": ["curl", "-s", "-o", "/dev/null", f"http://ask.test:{port}/"]})
        if status != 201:
            raise RuntimeError(f"start: {status} {body}")
        session = body["session"]
        with bench.lock:
            bench.started[session] = body["pid"]
        seen = driver.execute_async_script(WAIT_CARD, session)
        shown.append(seen - record_ms(bench, session, "approval.request"))
        before = len(upstream.arrived)
        clicked = driver.execute_async_script(CLICK_APPROVE, session)
        deadline = time.monotonic() + 30
        while len(upstream.arrived) == before and time.monotonic() < deadline:
            time.sleep(0.001)
        if len(upstream.arrived) > before:
            released.append(upstream.arrived[before] - clicked)
    upstream.shutdown()
    return shown, released


def call_json(bench, method, path, body):
    from load_bench import call
    status, text = call(bench.sock, method, path, body)
    return status, json.loads(text or "{}")


def summary(name, m):
    lag, gap = m["lags"] or [0], m["gaps"] or [0]
    longs = m["longs"]
    print(f"    {name:<34} timer lag p95 {pct(lag, 95):6.1f} ms max {max(lag):6.1f} ms;"
          f" frame gap p95 {pct(gap, 95):6.1f} ms max {max(gap):6.1f} ms;"
          f" long tasks {len(longs)}" + (f" (longest {max(longs):.0f} ms)" if longs else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("reins")
    ap.add_argument("--sessions", type=int, default=500)
    ap.add_argument("--generators", type=int, default=8)
    ap.add_argument("--loads", type=int, default=5)
    a = ap.parse_args()
    a.reins = os.path.abspath(a.reins)
    a.as_user = None
    a.command = ["sleep", "600"]
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    if not (os.path.exists("/usr/bin/chromium") and os.path.exists("/usr/bin/chromedriver")):
        print("\ndashboard: peer unavailable: Debian's chromium and chromium-driver are not "
              "installed (scripts/deps.sh installs them)")
        return
    print(f"\ndashboard in headless Chromium: {a.sessions} sessions, "
          f"{a.generators} sessions running execs in a loop")
    bench = DashboardBench(a)
    driver = rate = None
    try:
        bench.start_daemon()
        ids, errors, start_s = bench.start_all()
        print(f"  {len(ids)} sessions started in {start_s:.1f} s"
              + (f" ({len(errors)} failed: {errors[0]})" if errors else ""))
        driver = browser()
        login(driver, bench)
        driver.set_script_timeout(60)
        times = []
        for _ in range(a.loads):
            # a real navigation each time (the same URL with a hash would
            # not reload the page), timed by the page's own marks: the
            # script below only runs once get() has returned
            driver.get("about:blank")
            driver.get(bench.origin + "/#/fleet")
            driver.execute_async_script(WAIT_ROWS, ROWS, len(ids))
            times.append(driver.execute_async_script(WAIT_DRAWN))
        verdict = "within" if statistics.median(times) < BUDGET_RENDER_MS else "OVER"
        print(f"  fleet page, {len(ids)} rows: median {statistics.median(times):.0f} ms, "
              f"worst {max(times):.0f} ms from navigation start ({a.loads} loads); "
              f"budget < {BUDGET_RENDER_MS:.0f} ms: {verdict}")
        quiet = driver.execute_async_script(MEASURE, 3000)
        gens = []
        for _ in range(a.generators):
            session, error = bench.start_session(GENERATOR)
            if session:
                gens.append(session)
        rate = EventRate(bench)
        rate.start()
        time.sleep(2)
        print(f"  events streaming: {rate.rate():.0f} a second on GET /v1/events "
              f"({len(gens)} generator sessions)")
        print("  the page's main thread (5 s each):")
        summary("fleet, idle", quiet)
        driver.get(bench.origin + "/#/fleet")
        driver.execute_async_script(WAIT_ROWS, ROWS, len(ids))
        summary("fleet, events streaming", driver.execute_async_script(MEASURE, 5000))
        typed = [driver.execute_async_script(FILTER, ids[i][:10], 1) for i in range(5)]
        driver.execute_async_script(FILTER, "", len(ids) + len(gens))
        print(f"    {'fleet filter, typed to filtered':<34} median "
              f"{statistics.median(typed):.0f} ms, worst {max(typed):.0f} ms (5 filters, "
              f"{len(ids) + len(gens)} rows, events streaming)")
        if gens:
            driver.get(bench.origin + f"/#/session/{gens[0]}")
            time.sleep(1)
            summary("session page, its events streaming",
                    driver.execute_async_script(MEASURE, 5000))
        shown, released = approvals(driver, bench, 5)
        print(f"  approvals ({len(shown)} requests, events streaming): request recorded -> card "
              f"on the page median {statistics.median(shown):.0f} ms, worst {max(shown):.0f} ms "
              f"(budget < 1000 ms: {'within' if max(shown) < 1000 else 'OVER'}); click on "
              f"Approve -> the held request at the server median "
              f"{statistics.median(released):.0f} ms, worst {max(released):.0f} ms")
    except KeyboardInterrupt:
        print("  interrupted")
    except Exception as e:  # a bench prints, never fails the build
        print(f"  dashboard bench failed: {type(e).__name__}: {e}")
    finally:
        if rate:
            rate.stop.set()
        if driver:
            driver.quit()
        bench.cleanup()


if __name__ == "__main__":
    main()
