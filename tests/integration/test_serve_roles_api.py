"""reins serve, roles and signatures (issue 15, items 2 and 3): the daemon's
own key signs the answers and thaws it gives, and the sessions it starts
take that key besides their user's, so a root daemon answers for a session
running as nobody; the signed payload names the approver and the session's
own trail records it; a key the session was not given is refused by the
supervisor. Agents map to the policies they may run under (`agents:`), and
operators and approvers may be limited to agents as well as policies.

The daemon runs as the caller (root, or nobody for its own sessions); other
uids call through setpriv (test_serve.call_as). Each test finds its own
sessions by the ids the API returned.
"""
import json
import os
import sys
import time
from pathlib import Path

import pytest

from conftest import NOBODY_GID, NOBODY_UID, TIMEOUT
from test_serve import Daemon, call_as, daemons, start_session, wait_ended  # noqa: F401

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "proxy_helpers"))
import servers  # noqa: E402

# uids with a passwd entry on any Debian system, for approvers of their own
APPROVER_UID, OTHER_APPROVER_UID = 1, 2  # daemon, bin
KEY_FILE = "daemon-ed25519.key"
ASK = "curl -sS --max-time 60 -w ' %{{http_code}}' http://ask.test:{port}/hello"


@pytest.fixture(scope="module")
def web():
    yield from servers.served_tmp_dir("reins-roles-srv-")


def root_daemon_only(caller):
    if caller.name != "root":
        pytest.skip("sessions of other users need a daemon running as root")


def asking_policy(caller, d, port, agent=None, uid=None):
    """A policy whose one destination (ask.test) needs a human's yes."""
    text = ("version: 1\nextends: default\n" + (f"agent: {agent}\n" if agent else "") +
            "network:\n  mode: proxy\n"
            f"  ask: [\"ask.test:{port}\"]\n  hosts: {{ask.test: 127.0.0.1}}\n"
            "approvals: {timeout: 60s}\n")
    path = caller.write(Path(d) / f"ask-{agent or 'none'}.yaml", text)
    if uid is not None:
        os.chown(path, uid, uid)
    return path


def nobody_dir(caller, prefix):
    """A directory nobody owns (its workspace, its policies)."""
    d = caller.mkdtemp(prefix=prefix)
    os.chown(d, NOBODY_UID, NOBODY_GID)
    return d


def waiting(call, session, timeout=TIMEOUT):
    """The requests of `session` the caller sees waiting, once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, listed = call("GET", "/v1/approvals")
        assert status == 200, listed
        mine = [a for a in listed if a["session"] == session]
        if mine:
            return mine
        time.sleep(0.1)
    raise AssertionError(f"no request of {session} showed up")


def session_records(daemon, session, prefix=""):
    status, body = daemon.call("GET", f"/v1/sessions/{session}/audit?type={prefix}")
    assert status == 200, body
    return body["records"]


def serve_start_key(daemon):
    [start] = [e for e in daemon.trail_events() if e["type"] == "serve.start"][-1:]
    return start["daemon_key"]


# --------------------------------------------------------------------------
# the daemon's key


def test_root_daemon_answers_for_a_session_of_nobody(caller, daemons, web):
    """A nobody operator's session waits for a human; an approver answers
    through the root daemon; the connection goes through, and nobody's own
    trail says who answered, under the daemon's signature."""
    root_daemon_only(caller)
    d_ws = nobody_dir(caller, "reins-ws-nobody-")
    pol = asking_policy(caller, d_ws, web, uid=NOBODY_UID)
    d = Daemon(caller, config=f"version: 1\nusers:\n  {NOBODY_UID}:\n    role: operator\n"
                              f"    policies: [{pol}]\n  {APPROVER_UID}: {{role: approver}}\n")
    daemons.append(d)
    status, body = call_as(NOBODY_UID, NOBODY_GID, d.sock, "POST", "/v1/sessions",
                           {"workspace": str(d_ws), "policy": str(pol),
                            "command": ["sh", "-c", ASK.format(port=web)]})
    assert status == 201, body
    session = body["session"]

    def approver(method, path, body=None):
        return call_as(APPROVER_UID, APPROVER_UID, d.sock, method, path, body)

    [req] = waiting(approver, session)
    assert req["target"] == "ask.test", req
    status, body = approver("POST", f"/v1/sessions/{session}/approvals",
                            {"request": req["id"], "decision": "allow"})
    assert status == 200, body
    entry = wait_ended(d, session)
    assert entry["uid"] == NOBODY_UID and entry["serve"]["exit_status"] == 0, entry
    status, out = d.call("GET", f"/v1/sessions/{session}/output")
    assert out["stdout"].startswith("hello from ask.test") and out["stdout"].endswith(" 200"), out
    assert "Sanitizer" not in out["stderr"] and "runtime error" not in out["stderr"], out
    # the session's own trail (nobody's): who answered, under which key
    [start] = session_records(d, session, "session.start")
    assert start["daemon_key"] == serve_start_key(d)
    answers = [r for r in session_records(d, session, "approval.") if r.get("by")]
    assert len(answers) == 1, answers
    by = answers[0]["by"]
    assert by["signer"] == "daemon" and by["daemon_key"] == start["daemon_key"], by
    assert by["approver"] == {"uid": APPROVER_UID}, by
    assert by["payload"]["approver"] == {"uid": APPROVER_UID} and len(by["signature"]) == 128
    # and the daemon's trail, as before
    approvals = [e for e in d.trail_events() if e["type"] == "serve.approval"]
    assert [(a["about_session"], a["by_uid"]) for a in approvals] == [(session, APPROVER_UID)]
    # the daemon's key: its own, in its state, for no one else to read
    st = os.stat(d.state / KEY_FILE)
    assert (st.st_mode & 0o777) == 0o600 and st.st_uid == 0


def test_thaw_through_a_root_daemon(caller, daemons):
    """A thaw loosens a session as much as an answer: the root daemon signs
    it with its key for a nobody session, naming who asked."""
    root_daemon_only(caller)
    ws = nobody_dir(caller, "reins-ws-nobody-")
    d = Daemon(caller, config=f"version: 1\nusers:\n  {NOBODY_UID}:\n    role: operator\n"
                              "    policies: [default]\n")
    daemons.append(d)
    status, body = call_as(NOBODY_UID, NOBODY_GID, d.sock, "POST", "/v1/sessions",
                           {"workspace": str(ws), "command": ["sleep", "60"]})
    assert status == 201, body
    session = body["session"]
    try:
        status, body = d.call("POST", f"/v1/sessions/{session}/freeze")
        assert status == 200, body
        status, body = call_as(NOBODY_UID, NOBODY_GID, d.sock, "POST",
                               f"/v1/sessions/{session}/thaw")
        assert status == 200, body
        status, entry = d.call("GET", f"/v1/sessions/{session}")
        assert entry["frozen"] is False, entry
    finally:
        d.call("POST", f"/v1/sessions/{session}/stop")
    wait_ended(d, session)
    thawed = [r for r in session_records(d, session)
              if isinstance(r.get("by"), dict) and r["by"].get("payload", {}).get("op") == "thaw"]
    assert thawed, [r["type"] for r in session_records(d, session)]
    assert all(r["by"]["signer"] == "daemon" for r in thawed)
    assert all(r["by"]["approver"] == {"uid": NOBODY_UID} for r in thawed)


def test_an_answer_signed_with_another_key_is_refused(caller, daemons, web):
    """The session trusts the key it was started with: a daemon whose key
    was replaced since signs an answer the supervisor refuses, and the
    request stays waiting."""
    ws = caller.workspace()
    pol = asking_policy(caller, caller.mkdtemp(prefix="reins-pol-"), web)
    os.chmod(pol.parent, 0o755)
    d = Daemon(caller)
    daemons.append(d)
    session, _ = start_session(d, ws, ["sh", "-c", ASK.format(port=web)], policy=str(pol))
    try:
        [req] = waiting(d.call, session)
        d.stop()
        key = d.state / KEY_FILE
        old = key.read_bytes()
        key.write_bytes(os.urandom(32))
        assert key.read_bytes() != old
        d.start()
        status, body = d.call("POST", f"/v1/sessions/{session}/approvals",
                              {"request": req["id"], "decision": "allow"})
        assert status == 409, body
        assert "signed neither by the session's user key nor by the key of the daemon" in \
            body["error"], body
        assert [a["id"] for a in waiting(d.call, session)] == [req["id"]]
        status, body = d.call("POST", f"/v1/sessions/{session}/freeze")
        assert status == 200, body
        status, body = d.call("POST", f"/v1/sessions/{session}/thaw")
        assert status == 409 and "signed neither" in body["error"], body
    finally:
        d.call("POST", f"/v1/sessions/{session}/stop")


def test_a_session_the_daemon_did_not_start_keeps_its_users_key(caller, daemons, web):
    """A root daemon answering a session of another user that it did not
    start with its key says whose key it takes, and signs nothing."""
    root_daemon_only(caller)
    ws = nobody_dir(caller, "reins-ws-nobody-")
    pol = asking_policy(caller, ws, web, uid=NOBODY_UID)
    d = Daemon(caller, config=f"version: 1\nusers:\n  {NOBODY_UID}:\n    role: operator\n"
                              f"    policies: [{pol}]\n")
    daemons.append(d)
    status, body = call_as(NOBODY_UID, NOBODY_GID, d.sock, "POST", "/v1/sessions",
                           {"workspace": str(ws), "policy": str(pol),
                            "command": ["sh", "-c", ASK.format(port=web)]})
    assert status == 201, body
    session = body["session"]
    try:
        [req] = waiting(d.call, session)
        # as a daemon before this one would have recorded it: no key given
        record_path = d.state / "sessions" / session / "record.json"
        record = json.loads(record_path.read_text())
        del record["daemon_key"]
        record_path.write_text(json.dumps(record))
        status, body = d.call("POST", f"/v1/sessions/{session}/approvals",
                              {"request": req["id"], "decision": "deny"})
        assert status == 409, body
        assert f"runs as uid {NOBODY_UID}" in body["error"], body
        assert "reins approve" in body["error"], body
        assert [a["id"] for a in waiting(d.call, session)] == [req["id"]]
    finally:
        d.call("POST", f"/v1/sessions/{session}/stop")


def test_the_daemons_key_is_hidden_from_its_users_sessions(caller, daemons):
    """A session running as the daemon's own user could read the daemon's
    key wherever its state is in view (here: inside the workspace) and sign
    the answers to its own requests: the state is hidden like reins' own."""
    d = Daemon(caller)
    daemons.append(d)
    caller.write(d.dir / "visible.txt", "in view\n")
    key_hex = (d.state / KEY_FILE).read_bytes().hex()
    script = (f"cat visible.txt; od -An -v -tx1 state/{KEY_FILE} | tr -d ' \\n'; echo; "
              "ls state | wc -l")
    session, _ = start_session(d, d.dir, ["sh", "-c", script])
    assert wait_ended(d, session)["serve"]["exit_status"] == 0
    status, out = d.call("GET", f"/v1/sessions/{session}/output")
    assert out["stdout"].startswith("in view\n"), out
    assert key_hex not in out["stdout"], out
    assert out["stdout"].split()[-1] == "0", out


def test_run_refuses_a_malformed_daemon_key(caller):
    ws = caller.workspace()
    r = caller.sandbox(["true"], ws=ws, opts=["--daemon-key", "abc"])
    assert r.returncode == 125, r.stderr
    assert "--daemon-key: expected 64 lower-case hex digits" in r.stderr


# --------------------------------------------------------------------------
# agents and the policies they may run under


def agent_policy(caller, d, name, agent):
    text = "version: 1\nextends: default\n" + (f"agent: {agent}\n" if agent else "")
    return caller.write(Path(d) / f"{name}.yaml", text)


def test_agents_map_refuses_a_policy_its_agent_may_not_run(caller, daemons):
    pols = caller.mkdtemp(prefix="reins-pol-")
    os.chmod(pols, 0o755)
    codex = agent_policy(caller, pols, "sandboxed", "codex")
    other = agent_policy(caller, pols, "other", "aider")
    d = Daemon(caller, config=f"version: 1\nagents:\n  claude-code: [claude-code]\n"
                              f"  codex: [{codex}]\n")
    daemons.append(d)
    ws = caller.workspace()
    refused = [("codex", "codex", "under that policy"),        # a preset of codex, not listed
               ("default", None, "names no agent"),           # no agent: at all
               (str(other), "aider", "not in the daemon's agents")]
    for policy, agent, why in refused:
        status, body = d.call("POST", "/v1/sessions",
                              {"workspace": str(ws), "command": ["true"], "policy": policy})
        assert status == 403, (policy, body)
        assert why in body["error"], (policy, body)
    session, _ = start_session(d, ws, ["true"], policy=str(codex))
    entry = wait_ended(d, session)
    assert entry["serve"]["exit_status"] == 0 and entry["serve"]["agent"] == "codex", entry
    events = [e for e in d.trail_events() if e["type"] == "serve.refused"]
    assert [(e["right"], e["policy"], e.get("agent")) for e in events] == [
        ("start", p, a) for p, a, _ in refused]
    # the presets a caller may start, as the map has it
    status, policies = d.call("GET", "/v1/policies")
    assert status == 200
    assert {p["name"] for p in policies if p["may_start"]} == {"claude-code"}


def test_operators_and_approvers_limited_to_agents(caller, daemons, web):
    root_daemon_only(caller)
    ws = nobody_dir(caller, "reins-ws-nobody-")
    codex = asking_policy(caller, ws, web, agent="codex", uid=NOBODY_UID)
    claude = agent_policy(caller, ws, "claude", "claude-code")
    d = Daemon(caller, config=(
        f"version: 1\nusers:\n"
        f"  {NOBODY_UID}: {{role: operator, policies: [{codex}, {claude}], agents: [codex]}}\n"
        f"  {APPROVER_UID}: {{role: approver, agents: [claude-code]}}\n"
        f"  {OTHER_APPROVER_UID}: {{role: approver, agents: [codex]}}\n"))
    daemons.append(d)
    status, body = call_as(NOBODY_UID, NOBODY_GID, d.sock, "POST", "/v1/sessions",
                           {"workspace": str(ws), "policy": str(claude), "command": ["true"]})
    assert status == 403 and "may not run that policy's agent" in body["error"], body
    status, body = call_as(NOBODY_UID, NOBODY_GID, d.sock, "POST", "/v1/sessions",
                           {"workspace": str(ws), "policy": str(codex),
                            "command": ["sh", "-c", ASK.format(port=web)]})
    assert status == 201, body
    session = body["session"]
    try:
        def other(method, path, body=None):
            return call_as(OTHER_APPROVER_UID, OTHER_APPROVER_UID, d.sock, method, path, body)

        [req] = waiting(other, session)
        # the claude-code approver sees nothing of it, and may not answer
        status, listed = call_as(APPROVER_UID, APPROVER_UID, d.sock, "GET", "/v1/approvals")
        assert status == 200 and not [a for a in listed if a["session"] == session], listed
        status, body = call_as(APPROVER_UID, APPROVER_UID, d.sock, "POST",
                               f"/v1/sessions/{session}/approvals",
                               {"request": req["id"], "decision": "allow"})
        assert status == 403 and "may not answer for that policy's agent" in body["error"], body
        status, body = other("POST", f"/v1/sessions/{session}/approvals",
                             {"request": req["id"], "decision": "allow"})
        assert status == 200, body
        assert wait_ended(d, session)["serve"]["exit_status"] == 0
    finally:
        d.call("POST", f"/v1/sessions/{session}/stop")
    refused = [e for e in d.trail_events() if e["type"] == "serve.refused"]
    assert [(e["uid"], e["right"], e.get("agent")) for e in refused] == [
        (NOBODY_UID, "start", "claude-code"), (APPROVER_UID, "approve", "codex")]


def test_run_refuses_a_policy_whose_agent_changed(caller):
    """The daemon read the policy's agent; the supervisor reads the policy
    again and refuses to start when it names another (a file changed in
    between)."""
    ws = caller.workspace()
    pol = agent_policy(caller, ws, "pol", "codex")
    r = caller.sandbox(["true"], ws=ws, opts=["-p", pol, "--expect-agent", "claude-code"])
    assert r.returncode == 125, r.stderr
    assert "its agent is 'codex', not 'claude-code'" in r.stderr, r.stderr
    r = caller.sandbox(["true"], ws=ws, opts=["-p", pol, "--expect-agent", "codex"])
    assert r.returncode == 0, r.stderr


AGENT_CONFIG_ERRORS = [
    ("version: 1\nagents:\n  codex: dev\n", 3, "agents.codex"),
    ("version: 1\nagents:\n  codex: [dev]\n  codex: [ci]\n", 4, "agents.codex"),
    ("version: 1\nusers:\n  root: {role: auditor, agents: [codex]}\n", 3, "users.root"),
    ("version: 1\nusers:\n  root:\n    role: operator\n    policies: [dev]\n    agents: x\n", 6,
     "users.root.agents"),
]


def test_agent_config_errors_name_file_line_and_key(caller):
    d = caller.mkdtemp(prefix="reins-serve-")
    for text, line, key in AGENT_CONFIG_ERRORS:
        cfg = caller.write(d / "serve.yaml", text)
        r = caller.run(["serve", "--socket", d / "s.sock", "--state", d / "state",
                        "--config", cfg], timeout=TIMEOUT)
        assert r.returncode == 125, (text, r.stderr)
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        assert len(lines) == 1, r.stderr
        assert f"serve.yaml:{line}: {key}:" in lines[0], (text, lines[0])


def test_api_token_approver_limited_to_agents_is_named_in_the_trail(caller, daemons, web):
    """Over HTTPS the caller is its token: an approver's token limited to an
    agent answers for that agent's sessions only, and the session's trail
    names the token as well as the uid it stands for."""
    import re
    from test_serve import https_call, make_certificate
    d = Daemon(caller, start=False)
    daemons.append(d)
    cert, key = make_certificate(caller, d.dir)
    d.extra = ["--listen", "127.0.0.1:0", "--tls-cert", str(cert), "--tls-key", str(key)]
    d.start()
    port = int(re.search(r"https://127\.0\.0\.1:(\d+)", d.banner).group(1))

    def token(*args):
        r = caller.run(["serve", "token", "create", "--state", d.state, *args,
                        "--user", str(caller.uid)])
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    night = token("--name", "night", "--role", "approver", "--agent", "codex")
    other = token("--name", "other", "--role", "approver", "--agent", "claude-code")
    r = caller.run(["serve", "token", "create", "--state", d.state, "--name", "x", "--role",
                    "auditor", "--agent", "codex", "--user", str(caller.uid)])
    assert r.returncode != 0 and "only an operator's or an approver's token takes agents" in \
        r.stderr, r.stderr
    listed = [json.loads(line) for line in
              caller.run(["serve", "token", "list", "--state", d.state]).stdout.splitlines()]
    assert {t["name"]: t.get("agents") for t in listed} == {"night": ["codex"],
                                                            "other": ["claude-code"]}
    pols = caller.mkdtemp(prefix="reins-pol-")
    os.chmod(pols, 0o755)
    pol = asking_policy(caller, pols, web, agent="codex")
    session, _ = start_session(d, caller.workspace(), ["sh", "-c", ASK.format(port=web)],
                               policy=str(pol))
    try:
        [req] = waiting(d.call, session)
        answer = {"request": req["id"], "decision": "allow"}
        status, body, _ = https_call(port, cert, "POST", f"/v1/sessions/{session}/approvals",
                                     token=other, body=answer)
        assert status == 403 and "that policy's agent" in body["error"], body
        status, body, _ = https_call(port, cert, "POST", f"/v1/sessions/{session}/approvals",
                                     token=night, body=answer)
        assert status == 200, body
        assert wait_ended(d, session)["serve"]["exit_status"] == 0
    finally:
        d.call("POST", f"/v1/sessions/{session}/stop")
    answers = [r for r in session_records(d, session, "approval.answer")]
    assert [a["by"]["approver"] for a in answers] == [{"uid": caller.uid, "token": "night"}]
    assert answers[0]["by"]["signer"] == "daemon"
