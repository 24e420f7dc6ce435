"""The web dashboard in a real browser (issue 16): Debian's chromium, headless,
driven by python3-selenium through chromium-driver (no browser download).

The daemon runs as the caller (root, and nobody) with an HTTPS listener; the
browser logs in with an API token like a person would, and every check is
made on what the page shows (the DOM), never on the daemon's JSON alone:

- a sandboxed agent asks for a destination; the request appears on the
  approvals page; clicking Approve lets the held connection through (the
  agent's curl gets its answer); the fleet page then shows the session
  with its tier;
- an overlay session's changes are reviewed (file list, flags, unified and
  side-by-side views) and applied from the page: the host file changes;
- an approver sees no stop/freeze buttons, an admin does; a POST the page's
  origin makes without the CSRF token (or with a wrong one) is refused 403,
  and a form on another origin cannot stop a session;
- what the agent wrote (a reason, a target, a file name, a command) holding
  <script>, <img onerror> and terminal escapes is shown as text: no such
  element in the DOM, no alert, the text visible;
- the login: a wrong token is told; the cookie is HttpOnly, Secure,
  SameSite=Strict and invisible to document.cookie;
- no page logs a Content-Security-Policy or Trusted Types violation.

Screenshots of each page go to build/screenshots/ (1280x800, and the fleet at
390x844). Waits are WebDriverWait with generous timeouts: nothing here
measures speed (bench/ does).
"""
import http.server
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest import REPO, TIMEOUT
from test_serve import daemons, start_session, wait_ended  # noqa: F401
from test_serve_web import Web, header

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "proxy_helpers"))
import servers  # noqa: E402

selenium = pytest.importorskip("selenium", reason="python3-selenium is not installed")
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (NoAlertPresentException,  # noqa: E402
                                        NoSuchElementException,
                                        StaleElementReferenceException)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = REPO / "build" / "screenshots"
WAIT = 45  # generous: a loaded 2-core machine, not a benchmark

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>\x1b[31mRED\x07"


# --------------------------------------------------------------------------
# the browser: one per module (a start costs seconds)


@pytest.fixture(scope="module")
def browser():
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip("chromium and chromium-driver are not installed (scripts/deps.sh)")
    profile = tempfile.mkdtemp(prefix="reins-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--ignore-certificate-errors", "--window-size=1280,800",
                f"--user-data-dir={profile}"]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def web(caller, daemons):  # noqa: F811
    return Web(caller, daemons)


@pytest.fixture(scope="module")
def http_site():
    """A plain web server on loopback that the sandbox reaches through its
    proxy (pinned by network.hosts): answers /hello."""
    root = tempfile.mkdtemp(prefix="reins-dash-srv-", dir="/tmp")
    os.chmod(root, 0o755)
    server = servers.http_server(root)
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    shutil.rmtree(root, ignore_errors=True)


def wait_for(driver, check, timeout=WAIT, message=""):
    """Poll check() until it returns something truthy (or fail). An element
    the page replaced meanwhile (a re-render) is looked up again."""
    return WebDriverWait(driver, timeout, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,
                                             NoSuchElementException)).until(lambda d: check(), message)


def login(driver, web, token):
    driver.get(web.origin + "/login")
    driver.delete_all_cookies()  # another test's daemon left one for 127.0.0.1
    driver.get(web.origin + "/login")
    field = driver.find_element(By.ID, "token")
    field.send_keys(token)
    field.send_keys(Keys.ENTER)
    wait_for(driver, lambda: "ready" in (driver.find_element(By.TAG_NAME, "body")
                                         .get_attribute("class") or ""),
             message="the dashboard did not start after the login")


def go(driver, web, route):
    driver.get(web.origin + "/#/" + route)
    wait_for(driver, lambda: "ready" in (driver.find_element(By.TAG_NAME, "body")
                                         .get_attribute("class") or ""))


def shot(driver, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def console_problems(driver):
    """What the browser logged that points at a broken page: CSP or Trusted
    Types refusals, script errors. (404s of optional API routes are not.)"""
    bad = []
    for entry in driver.get_log("browser"):
        text = entry.get("message", "")
        if any(s in text for s in ("Content Security Policy", "Content-Security-Policy",
                                   "TrustedHTML", "Trusted Type", "Refused to", "Uncaught")):
            bad.append(text)
    return bad


def no_alert(driver):
    try:
        alert = driver.switch_to.alert
    except NoAlertPresentException:
        return True
    text = alert.text
    alert.dismiss()
    raise AssertionError(f"an alert opened: {text!r}")


def text_of(driver, css):
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]


def in_page(driver, script, *args):
    """Run an async snippet in the page (its origin, its cookie)."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "(async () => {" + script + "})().then(done, (e) => done({thrown: String(e)}));", *args)


def session_entry(web, session):
    status, listed = web.d.call("GET", f"/v1/sessions/{session}")
    assert status == 200, listed
    return listed


def stop_session(web, session):
    web.d.call("POST", f"/v1/sessions/{session}/stop")


def ask_policy(caller, ws, port, extra=""):
    return caller.write(ws / "policy.yaml", (
        "version: 1\nextends: default\nagent: dash-agent\nnetwork:\n  mode: proxy\n"
        f"  ask: [\"ask.test:{port}\"]\n  hosts: {{\"ask.test\": \"127.0.0.1\"}}\n"
        "approvals: {timeout: 300s}\n" + extra))


# --------------------------------------------------------------------------
# login


def test_login_tells_a_wrong_token_and_keeps_the_cookie_from_scripts(caller, web, browser):
    admin = web.token("adm", "admin")
    browser.get(web.origin + "/")
    wait_for(browser, lambda: browser.current_url.startswith(web.origin + "/login"))
    assert not browser.find_element(By.ID, "login-message").is_displayed()
    label = browser.find_element(By.CSS_SELECTOR, "label[for=token]")
    assert label.text == "API token"
    shot(browser, "login")
    field = browser.find_element(By.ID, "token")
    field.send_keys("rst_" + "0" * 64)
    field.send_keys(Keys.ENTER)
    wait_for(browser, lambda: "failed=1" in browser.current_url)
    message = browser.find_element(By.ID, "login-message")
    wait_for(browser, message.is_displayed, message="no message for a wrong token")
    assert "not accepted" in message.text

    # the flags, as the daemon sets them (http.client sees Set-Cookie)
    status, pairs, _ = web.login(admin)
    assert status == 303
    [cookie] = header(pairs, "Set-Cookie")
    flags = [p.strip() for p in cookie.split(";")]
    for flag in ("HttpOnly", "Secure", "SameSite=Strict"):
        assert flag in flags, cookie

    login(browser, web, admin)
    assert "reins_token" not in browser.execute_script("return document.cookie")
    [stored] = [c for c in browser.get_cookies() if c["name"] == "reins_token"]
    assert stored["httpOnly"] and stored["secure"] and stored["sameSite"] == "Strict", stored
    who = browser.find_element(By.ID, "whoami").text
    assert "adm" in who and "admin" in who, who
    assert console_problems(browser) == []

    # log out: the cookie is cleared, the page goes back to the login
    browser.find_element(By.ID, "logout").click()
    wait_for(browser, lambda: browser.current_url.startswith(web.origin + "/login"))
    assert not [c for c in browser.get_cookies() if c["name"] == "reins_token"]
    browser.get(web.origin + "/")
    wait_for(browser, lambda: browser.current_url.startswith(web.origin + "/login"))


# --------------------------------------------------------------------------
# approvals, end to end


def test_approve_in_the_page_lets_the_held_connection_through(caller, web, browser, http_site):
    admin = web.token("adm", "admin")
    ws = caller.workspace()
    pol = ask_policy(caller, ws, http_site)
    script = (f"curl -sS --max-time 250 http://ask.test:{http_site}/hello; echo \"curl=$?\"; "
              "sleep 300")
    session, _ = start_session(web.d, ws, ["sh", "-c", script], policy=str(pol))
    try:
        login(browser, web, admin)
        go(browser, web, "approvals")
        card_css = f'li.approval[data-session="{session}"]'
        wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, card_css),
                 message="the request never appeared on the approvals page")
        card = browser.find_element(By.CSS_SELECTOR, card_css)
        assert card.find_element(By.CSS_SELECTOR, ".target").text == f"ask.test:{http_site}"
        wait_for(browser, lambda: card.find_element(By.CSS_SELECTOR, ".agent").text == "dash-agent")
        assert card.find_element(By.CSS_SELECTOR, ".rule").text.startswith("network.ask")
        wait_for(browser, lambda: card.find_element(By.CSS_SELECTOR, ".time-left").text[:1].isdigit())
        # the badge in the navigation bar counts it (aria-live)
        badge = browser.find_element(By.ID, "approval-count")
        assert badge.get_attribute("aria-live") == "polite"
        wait_for(browser, lambda: badge.text not in ("", "0"))
        shot(browser, "approvals")
        # the agent is still waiting: nothing came back yet
        status, out = web.d.call("GET", f"/v1/sessions/{session}/output")
        assert "curl=" not in out["stdout"], out
        wait_for(browser, lambda: card.find_elements(By.CSS_SELECTOR, "button[data-answer=allow]"))
        card.find_element(By.CSS_SELECTOR, "button[data-answer=allow]").click()
        wait_for(browser, lambda: not browser.find_elements(By.CSS_SELECTOR, card_css),
                 message="the card stayed after Approve")
        assert "Approved" in browser.find_element(By.ID, "approval-message").text

        def answered():
            status, out = web.d.call("GET", f"/v1/sessions/{session}/output")
            return "curl=" in out["stdout"] and out["stdout"]
        stdout = wait_for(browser, answered, message="the held connection never came back")
        assert f"hello from ask.test:{http_site}" in stdout and "curl=0" in stdout, stdout

        # the fleet page: the session, running, with its tier (and its
        # bytes when the daemon counts them)
        go(browser, web, "fleet")
        row_css = f'tr[data-session="{session}"]'
        wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, row_css))
        row = browser.find_element(By.CSS_SELECTOR, row_css)
        wait_for(browser, lambda: row.find_element(By.CSS_SELECTOR, "td.col-state").text == "running")
        tier = row.find_element(By.CSS_SELECTOR, "td.col-tier .tier")
        assert tier.text == "T0 low" and "tier-0" in tier.get_attribute("class")
        assert row.find_element(By.CSS_SELECTOR, "td.col-agent").text == "dash-agent"
        assert row.find_element(By.CSS_SELECTOR, "td.col-uid").text == str(caller.uid)
        entry = session_entry(web, session)
        egress = row.find_element(By.CSS_SELECTOR, "td.col-egress")
        if isinstance(entry.get("egress"), dict):
            wait_for(browser, lambda: egress.text not in ("", "—", "0 B"),
                     message="the fleet shows no egress bytes")
        else:
            assert egress.text == "—"
        assert int(browser.find_element(By.CSS_SELECTOR, "[data-count=running]").text) >= 1
        shot(browser, "fleet")
        # the session page: the approval in its live events, the destination
        go(browser, web, f"session/{session}")
        wait_for(browser, lambda: any("approval.answer" in t for t in text_of(browser, "#event-list .type")),
                 message="the answer is not among the session's events")
        wait_for(browser, lambda: any(f"ask.test:{http_site}" in t for t in text_of(browser, "#destinations td")))
        assert browser.find_elements(By.CSS_SELECTOR, "#session-controls [data-action=stop]")
        wait_for(browser, lambda: "trail" in browser.find_element(By.ID, "verify-badge").text)
        shot(browser, "session")
        assert console_problems(browser) == []
        no_alert(browser)
    finally:
        stop_session(web, session)


# --------------------------------------------------------------------------
# review and apply


def test_an_overlay_session_reviewed_and_applied_from_the_page(caller, web, browser):
    admin = web.token("adm", "admin")
    ws = caller.workspace()
    caller.write(ws / "a.txt", "hello\n")
    caller.write(ws / "b.txt", "one\ntwo\n")
    pol = caller.write(ws.parent / f"{ws.name}-overlay.yaml",
                       "version: 1\nextends: default\nfilesystem:\n  workspace_mode: overlay\n")
    evil = "<img src=x onerror=alert(3)>.txt"
    script = ("echo changed > a.txt; echo three >> b.txt; printf 'x\\0y' > bin.dat; "
              "ln -s /etc/passwd link; "
              f"printf '%s\\n' '<script>alert(4)</script>' > '{evil}'")
    session, _ = start_session(web.d, ws, ["sh", "-c", script], policy=str(pol))
    assert wait_ended(web.d, session)["serve"]["exit_status"] == 0
    login(browser, web, admin)
    go(browser, web, f"review/{session}")
    wait_for(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, "#review-files tr.file")) == 5,
             message="the review page does not list the 5 changes")

    def row(name):
        [r] = [r for r in browser.find_elements(By.CSS_SELECTOR, "#review-files tr.file")
               if r.find_element(By.CSS_SELECTOR, ".path").text == name]
        return r
    assert "binary" in row("bin.dat").find_element(By.CSS_SELECTOR, ".flags").text
    link_flags = row("link").find_element(By.CSS_SELECTOR, ".flags").text
    assert "/etc/passwd" in link_flags and "outside the workspace" in link_flags, link_flags
    row(evil)  # the agent's file name, as text
    assert browser.find_elements(By.CSS_SELECTOR, "main img") == []

    # a.txt: unified, then side by side
    row("a.txt").find_element(By.CSS_SELECTOR, ".path button").click()
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#diff-view table.unified"))
    assert text_of(browser, "#diff-view tr.del .code") == ["-hello"]
    assert text_of(browser, "#diff-view tr.add .code") == ["+changed"]
    browser.find_element(By.CSS_SELECTOR, "button[data-view=split]").click()
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#diff-view table.split"))
    assert text_of(browser, "#diff-view td.code.del") == ["hello"]
    assert text_of(browser, "#diff-view td.code.add") == ["changed"]
    # the evil file's content is text too
    row(evil).find_element(By.CSS_SELECTOR, ".path button").click()
    browser.find_element(By.CSS_SELECTOR, "button[data-view=unified]").click()
    wait_for(browser, lambda: "+<script>alert(4)</script>" in text_of(browser, "#diff-view tr.add .code"))
    assert browser.find_elements(By.CSS_SELECTOR, "main script, main img") == []
    shot(browser, "review")

    # apply the selected a.txt only, after the confirmation
    row("a.txt").find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
    button = browser.find_element(By.ID, "apply-selected")
    assert button.text == "Apply selected (1)"
    button.click()
    confirm = browser.find_element(By.ID, "confirm")
    assert confirm.is_displayed() and "1 selected path" in confirm.text
    assert (ws / "a.txt").read_text() == "hello\n"  # nothing before the confirmation
    browser.find_element(By.ID, "confirm-yes").click()
    wait_for(browser, lambda: "Applied 1" in browser.find_element(By.ID, "apply-result").text,
             message="no apply outcome shown")
    assert (ws / "a.txt").read_text() == "changed\n"
    assert not (ws / evil).exists() and (ws / "b.txt").read_text() == "one\ntwo\n"

    # the host changes b.txt: applying all is a conflict, shown with its why
    caller.write(ws / "b.txt", "one\ntwo\nhost\n")
    wait_for(browser, lambda: browser.find_elements(By.ID, "apply-all"))
    browser.find_element(By.ID, "apply-all").click()
    browser.find_element(By.ID, "confirm-yes").click()
    wait_for(browser, lambda: "Nothing applied" in browser.find_element(By.ID, "apply-result").text)
    conflicts = text_of(browser, "#apply-result .result-conflict")
    assert any(c.startswith("b.txt conflict") for c in conflicts), conflicts
    assert (ws / "b.txt").read_text() == "one\ntwo\nhost\n"
    assert not (ws / evil).exists()
    assert console_problems(browser) == []
    no_alert(browser)


# --------------------------------------------------------------------------
# roles and forged requests


class OtherSite:
    """A page on another origin (plain HTTP, another port) whose form posts
    to the daemon: what a malicious site would try."""

    def __init__(self, target):
        page = ("<!doctype html><form id=f method=post action='" + target + "'>"
                "<input name=csrf value=x></form><script>document.getElementById('f').submit()"
                "</script>").encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

        # threads: a browser's idle preconnection must not hold the one
        # handler (and shutdown()) until it gives up a minute later
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_buttons_follow_the_role_and_forged_posts_are_refused(caller, web, browser):
    admin = web.token("adm", "admin")
    approver = web.token("appr", "approver")
    ws = caller.workspace()
    session, _ = start_session(web.d, ws, ["sleep", "300"])
    overlay_ws = caller.workspace()
    pol = caller.write(overlay_ws.parent / f"{overlay_ws.name}-overlay.yaml",
                       "version: 1\nextends: default\nfilesystem:\n  workspace_mode: overlay\n")
    overlay, _ = start_session(web.d, overlay_ws, ["sh", "-c", "echo new > new.txt"],
                               policy=str(pol))
    wait_ended(web.d, overlay)
    try:
        # the approver: the review page says what it may not do, and has no
        # apply or discard button
        login(browser, web, approver)
        go(browser, web, f"review/{overlay}")
        wait_for(browser, lambda: browser.find_element(By.ID, "review-summary").text)
        assert browser.find_elements(By.CSS_SELECTOR, "#apply-all, #apply-selected, #discard") == []
        # the approver: the session, its state, and no stop/freeze button
        login(browser, web, approver)
        go(browser, web, f"session/{session}")
        wait_for(browser, lambda: browser.find_element(By.ID, "session-state").text == "running")
        assert browser.find_elements(By.CSS_SELECTOR, "#session-controls button") == []
        assert "approver" in browser.find_element(By.ID, "whoami").text
        shot(browser, "session-approver")
        # its own page's fetch, with its valid CSRF token: the role refuses
        got = in_page(browser, """
            const me = await (await fetch('/v1/whoami')).json();
            const r = await fetch('/v1/sessions/' + arguments[0] + '/stop',
                {method: 'POST', headers: {'X-CSRF-Token': me.csrf}});
            return r.status;""", session)
        assert got == 403, got

        # the admin sees the buttons
        login(browser, web, admin)
        go(browser, web, f"review/{overlay}")
        wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#apply-all"))
        assert browser.find_elements(By.CSS_SELECTOR, "#discard")
        go(browser, web, f"session/{session}")
        wait_for(browser, lambda: text_of(browser, "#session-controls button") == ["Stop", "Freeze"])
        # forged: no CSRF token, a wrong one (same origin, with the cookie)
        for headers in ({}, {"X-CSRF-Token": "0" * 64}):
            got = in_page(browser, """
                const r = await fetch('/v1/sessions/' + arguments[0] + '/stop',
                    {method: 'POST', headers: arguments[1]});
                return [r.status, await r.text()];""", session, headers)
            assert got[0] == 403 and "CSRF" in got[1], got
        # another site's form: the cookie is not sent (SameSite=Strict), and
        # it would carry no valid CSRF token anyway
        other = OtherSite(f"{web.origin}/v1/sessions/{session}/stop")
        try:
            browser.get(other.url)
            wait_for(browser, lambda: browser.current_url.startswith(web.origin + "/v1/"))
            body = browser.find_element(By.TAG_NAME, "body").text
            assert '"error"' in body, body
        finally:
            other.close()
        assert session_entry(web, session)["alive"] is True
        refused = [e for e in web.d.trail_events() if e["type"] == "serve.refused"]
        assert len(refused) >= 3, refused
        # the page's own button, with the page's token: done
        go(browser, web, f"session/{session}")
        wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#session-controls [data-action=freeze]"))
        browser.find_element(By.CSS_SELECTOR, "#session-controls [data-action=freeze]").click()
        wait_for(browser, lambda: browser.find_element(By.ID, "session-state").text == "frozen")
        wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#session-controls [data-action=thaw]"))
        browser.find_element(By.CSS_SELECTOR, "#session-controls [data-action=stop]").click()
        wait_for(browser, lambda: browser.find_element(By.ID, "session-state").text.startswith("ended"))
        assert console_problems(browser) == []
    finally:
        stop_session(web, session)


# --------------------------------------------------------------------------
# what the agent wrote is text


def test_agent_written_text_renders_as_text(caller, web, browser):
    admin = web.token("adm", "admin")
    ws = caller.workspace()
    pol = caller.write(ws / "policy.yaml", "version: 1\nextends: default\nnetwork:\n"
                       "  mode: proxy\napprovals: {timeout: 300s}\n")
    request = json.dumps({"kind": "path", "target": "docs/<b>bold</b>", "reason": HOSTILE,
                          "wait": False})
    caller.write(ws / "request.json", request)
    script = ("curl -sS --noproxy '*' \"$REINS_REQUEST_URL\" --data-binary @request.json; "
              f"echo '{HOSTILE}' > /dev/null; sleep 300")
    session, _ = start_session(web.d, ws, ["sh", "-c", script], policy=str(pol))
    try:
        login(browser, web, admin)
        browser.execute_script("document.title = 'reins'")
        go(browser, web, "approvals")
        card_css = f'li.approval[data-session="{session}"]'
        wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, card_css),
                 message="the agent's request never appeared")
        card = browser.find_element(By.CSS_SELECTOR, card_css)
        reason = card.find_element(By.CSS_SELECTOR, ".reason").text
        assert "<script>alert(1)</script><img src=x onerror=alert(2)>" in reason, reason
        # the escape and the bell are shown, not sent to anything
        assert "\\u{1b}[31mRED\\u{07}" in reason and "\x1b" not in reason, reason
        assert card.find_element(By.CSS_SELECTOR, ".target").text == "docs/<b>bold</b>"
        assert browser.find_elements(By.CSS_SELECTOR, "main script, main img, main b") == []
        # the command line, in the fleet and on the session page
        go(browser, web, "fleet")
        row_css = f'tr[data-session="{session}"] td.col-command'
        wait_for(browser, lambda: any("<script>alert(1)</script>" in c.get_attribute("textContent")
                                      for c in browser.find_elements(By.CSS_SELECTOR, row_css)),
                 message="the command is not shown in the fleet")
        go(browser, web, f"session/{session}")
        wait_for(browser, lambda: any("<img src=x onerror=alert(2)>" in t
                                      for t in text_of(browser, "#event-list .text")),
                 message="the exec event's text is not shown")
        assert browser.find_elements(By.CSS_SELECTOR, "main script, main img") == []
        assert browser.title != "pwned"
        no_alert(browser)
        assert console_problems(browser) == []
    finally:
        stop_session(web, session)


# --------------------------------------------------------------------------
# the audit page, the fleet's filter and sort, a phone


def test_audit_search_and_exports(caller, web, browser):
    admin = web.token("adm", "admin")
    ws = caller.workspace()
    session, _ = start_session(web.d, ws, ["sh", "-c", "echo audited-by-the-page"])
    wait_ended(web.d, session)
    login(browser, web, admin)
    go(browser, web, "audit")
    browser.find_element(By.ID, "audit-session").send_keys(session)
    since = browser.find_element(By.ID, "audit-since")
    since.clear()
    browser.find_element(By.ID, "audit-type").send_keys("exec")
    browser.find_element(By.CSS_SELECTOR, "#audit-form button[type=submit]").click()
    wait_for(browser, lambda: any("echo audited-by-the-page" in t
                                  for t in text_of(browser, "#audit-results td.text")),
             message="the search did not find the exec record")
    types = set(text_of(browser, "#audit-results td:nth-child(4)"))
    assert types == {"exec"}, types
    links = browser.find_elements(By.CSS_SELECTOR, f'#audit-exports li[data-session="{session}"] a')
    assert sorted(a.get_attribute("data-format") for a in links) == ["cef", "ocsf", "syslog"]
    for a in links:
        href = a.get_attribute("href")
        assert href.endswith(f"/v1/sessions/{session}/audit/export?format={a.get_attribute('data-format')}")
    got = in_page(browser, "const r = await fetch(arguments[0]); return [r.status, await r.text()];",
                  links[0].get_attribute("href"))
    assert got[0] == 200 and session in got[1], got
    shot(browser, "audit")
    assert console_problems(browser) == []


def test_fleet_filter_sort_keyboard_and_phone(caller, web, browser):
    admin = web.token("adm", "admin")
    ws = caller.workspace()
    # a root daemon also lists root's other sessions on this host: this
    # test's two are told apart by a word in their command lines
    mark = os.path.basename(ws).replace("reins-ws-", "w")
    first, _ = start_session(web.d, ws, ["sh", "-c", f"sleep 300; : {mark}-one"])
    second, _ = start_session(web.d, ws, ["sh", "-c", f"sleep 299; : {mark}-two"])
    try:
        login(browser, web, admin)
        go(browser, web, "fleet")
        for s in (first, second):
            wait_for(browser, lambda s=s: browser.find_elements(By.CSS_SELECTOR, f'tr[data-session="{s}"]'))
        rows = lambda: [r.get_attribute("data-session")  # noqa: E731
                        for r in browser.find_elements(By.CSS_SELECTOR, "#fleet-table tbody tr[data-session]")
                        if r.is_displayed()]
        # filter: by the command
        box = browser.find_element(By.ID, "fleet-filter")
        box.send_keys(f"{mark}-two")
        wait_for(browser, lambda: rows() == [second])
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.BACKSPACE)
        wait_for(browser, lambda: {first, second} <= set(rows()))
        box.send_keys(mark)
        wait_for(browser, lambda: sorted(rows()) == sorted([first, second]))
        # sort by session id, with the keyboard: Tab to the button, Enter
        button = browser.find_element(By.CSS_SELECTOR, "button[data-sort=session]")
        th = button.find_element(By.XPATH, "..")
        browser.execute_script("arguments[0].focus()", button)
        button.send_keys(Keys.ENTER)
        wait_for(browser, lambda: th.get_attribute("aria-sort") == "ascending")
        wait_for(browser, lambda: rows() == sorted([first, second]))
        button.send_keys(Keys.ENTER)
        wait_for(browser, lambda: th.get_attribute("aria-sort") == "descending")
        wait_for(browser, lambda: rows() == sorted([first, second], reverse=True))
        # the focus ring is visible on a focused control
        outline = browser.execute_script(
            "return getComputedStyle(document.activeElement).outlineStyle")
        assert outline not in ("", "none"), outline
        # the chart's window toggles; its totals are the daemon's (or a dash
        # where the daemon has no /v1/activity)
        day = browser.find_element(By.CSS_SELECTOR, "button[data-window=day]")
        day.click()
        assert day.get_attribute("aria-pressed") == "true"
        assert browser.find_element(By.CSS_SELECTOR, "svg.chart-svg")
        status, activity = web.d.call("GET", "/v1/activity?window=day")
        totals = lambda: text_of(browser, ".chart-totals li")  # noqa: E731
        if status == 200:
            expect = [f"{label}: {activity['totals'][k]}" for k, label in
                      (("denials", "Denials"), ("findings", "Findings"), ("approvals", "Approvals"))]
            wait_for(browser, lambda: [t.split(":")[0] for t in totals()] == ["Denials", "Findings", "Approvals"]
                     and all(t.split(": ")[1].isdigit() for t in totals()),
                     message=f"chart totals {totals()} (the daemon: {expect})")
        else:
            wait_for(browser, lambda: totals() == ["Denials: —", "Findings: —", "Approvals: —"])
        # a phone: no sideways scrolling of the page itself
        # (a desktop window cannot be made that narrow: the phone's metrics
        # are emulated, as the browser's device toolbar does)
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        try:
            go(browser, web, "fleet")
            wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, f'tr[data-session="{first}"]'))
            inner = browser.execute_script("return window.innerWidth")
            assert inner == 390, inner
            width = browser.execute_script("return document.documentElement.scrollWidth")
            assert width <= inner, (width, inner)
            shot(browser, "fleet-phone")
        finally:
            browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        assert console_problems(browser) == []
    finally:
        stop_session(web, first)
        stop_session(web, second)


# --------------------------------------------------------------------------
# streaming events move nothing on screen


LAYOUT_SHIFTS = """
window.__shifts = [];
new PerformanceObserver(function (list) {
  for (const e of list.getEntries())
    if (!e.hadRecentInput)
      window.__shifts.push([e.value, e.sources.map((s) => s.node ? s.node.nodeName + '.' + s.node.className : '?')]);
}).observe({type: 'layout-shift'});
"""


def test_streaming_events_shift_no_row(caller, web, browser):
    """The fleet and a session's page while a session's events stream in:
    Chrome's layout-shift entries (what moved on screen without the user
    asking) stay empty. Rows are updated in place with fixed heights, and
    the session's event box grows at the bottom like a log."""
    admin = web.token("adm", "admin")
    ws = caller.workspace()
    generator, _ = start_session(web.d, ws, ["sh", "-c", "while :; do /bin/true; sleep 0.02; done"])
    quiet, _ = start_session(web.d, ws, ["sleep", "300"])
    try:
        login(browser, web, admin)
        go(browser, web, "fleet")
        for s in (generator, quiet):
            wait_for(browser, lambda s=s: browser.find_elements(By.CSS_SELECTOR, f'tr[data-session="{s}"]'))
        sessions = browser.find_element(By.ID, "sessions")
        wait_for(browser, lambda: int(sessions.get_attribute("data-events") or 0) > 20)
        browser.execute_script(LAYOUT_SHIFTS)
        start = int(sessions.get_attribute("data-events"))
        wait_for(browser, lambda: int(sessions.get_attribute("data-events")) > start + 150,
                 message="the fleet page takes in no events")
        assert browser.execute_script("return window.__shifts") == []

        go(browser, web, f"session/{generator}")
        count = browser.find_element(By.ID, "event-count")
        wait_for(browser, lambda: int(count.get_attribute("data-records") or 0) > 600)
        browser.execute_script(LAYOUT_SHIFTS)
        start = int(count.get_attribute("data-records"))
        wait_for(browser, lambda: int(count.get_attribute("data-records")) > start + 150,
                 message="the session page takes in no events")
        assert browser.execute_script("return window.__shifts") == []
        assert len(browser.find_elements(By.CSS_SELECTOR, "#event-list li")) <= 500
        assert console_problems(browser) == []
    finally:
        stop_session(web, generator)
        stop_session(web, quiet)
