"""reins serve: what the trails add up to, for the dashboard (issue 16).

Session entries gain "egress" and "counts", GET /v1/activity buckets the
denials, findings and approval requests of the sessions the caller may read,
and GET /v1/sessions/{id}/summary lists a session's processes, destinations,
tiers and findings. Real sessions with real proxy traffic to a local HTTP
server; trails the session's user wrote garbage into, or swapped for a
symlink, must neither break the listing nor leak another file.

The daemon runs as the caller (root, or nobody); other uids call through
setpriv (test_serve.call_as). Each test finds its own sessions by the ids
the API returned: other sessions may be listed beside them.
"""
import datetime
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from conftest import IS_ROOT, NOBODY_GID, NOBODY_UID, TIMEOUT
from test_serve import (Daemon, call_as, daemon, daemons, start_session,  # noqa: F401
                        wait_ended)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "proxy_helpers"))
import servers  # noqa: E402

UP = 600_000    # bytes the agent sends, slowly enough for net.progress events
DOWN = 200_000  # bytes it fetches
APPROVER_UID = 1  # a uid with a passwd entry on any Debian system


@pytest.fixture(scope="module")
def web():
    yield from servers.served_tmp_dir("reins-summary-srv-")


def policy(caller, ws, port):
    """ok.test allowed, ask.test asked, no.test denied (all pinned to the
    local server); recon-tool weighs enough for T1."""
    text = ("version: 1\nextends: default\nnetwork:\n  mode: proxy\n"
            f"  allow: [\"ok.test:{port}\"]\n  ask: [\"ask.test:{port}\"]\n"
            "  hosts: {ok.test: 127.0.0.1, ask.test: 127.0.0.1, no.test: 127.0.0.1}\n"
            "approvals: {timeout: 60s}\n"
            "rules:\n  weight: {recon-tool: 60}\n"
            "risk: {tier1: 50, tier2: 500, tier3: 1000}\n")
    return caller.write(ws / "policy.yaml", text)


def agent_script(port):
    return " ; ".join([
        f"head -c {UP} /dev/zero > up.bin",
        # limited: the upload takes about 3 s, so net.progress reports it too
        f"curl -sS -o /dev/null --limit-rate 200k --data-binary @up.bin http://ok.test:{port}/up",
        f"curl -sS -o /dev/null http://ok.test:{port}/big/{DOWN}",
        f"curl -sS -o /dev/null http://no.test:{port}/nothing",
        f"curl -sS -o /dev/null --max-time 60 http://ask.test:{port}/hello",
        "socat -h > /dev/null",
        "sh -c 'ls > /dev/null; exit 0'",
        "true",
    ])


def waiting(daemon, session):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        status, listed = daemon.call("GET", "/v1/approvals")
        assert status == 200, listed
        mine = [a for a in listed if a["session"] == session]
        if mine:
            return mine
        time.sleep(0.1)
    raise AssertionError(f"no request of {session} showed up")


def entry_of(daemon, session):
    status, sessions = daemon.call("GET", "/v1/sessions")
    assert status == 200, sessions
    [entry] = [s for s in sessions if s["session"] == session]
    return entry


def run_agent(caller, daemon, port):
    """A session that uploads, downloads, is denied, asks (and is approved),
    runs a recon tool (a finding, T1) and a small process tree."""
    ws = caller.workspace()
    pol = policy(caller, ws, port)
    session, _ = start_session(daemon, ws, ["sh", "-c", agent_script(port)], policy=str(pol))
    [req] = waiting(daemon, session)
    assert req["target"] == "ask.test", req
    status, body = daemon.call("POST", f"/v1/sessions/{session}/approvals",
                               {"request": req["id"], "decision": "allow"})
    assert status == 200, body
    entry = wait_ended(daemon, session)
    assert entry["serve"]["exit_status"] == 0, daemon.call("GET", f"/v1/sessions/{session}/output")
    return session


def trail_of(daemon, session):
    record = json.loads((daemon.state / "sessions" / session / "record.json").read_text())
    return Path(record["trail"])


def test_egress_counts_and_summary_of_a_real_session(caller, daemon, web):
    session = run_agent(caller, daemon, web)
    status, records = daemon.call("GET", f"/v1/sessions/{session}/audit")
    assert status == 200, records
    types = [r["type"] for r in records["records"]]
    # the upload was reported while it went and at its close: counted once
    assert "net.progress" in types, types

    entry = entry_of(daemon, session)
    egress, counts = entry["egress"], entry["counts"]
    assert UP <= egress["bytes_up"] < UP + 8192, egress
    assert DOWN <= egress["bytes_down"] < DOWN + 8192, egress
    assert egress["connections"] == 3 and egress["denied"] == 1 and egress["asked"] == 1, egress
    assert counts["denials"] >= 1 and counts["findings"] >= 1 and counts["approvals"] == 1, counts
    status, one = daemon.call("GET", f"/v1/sessions/{session}")
    assert status == 200 and one["egress"] == egress and one["counts"] == counts, one

    status, summary = daemon.call("GET", f"/v1/sessions/{session}/summary")
    assert status == 200, summary
    assert summary["session"] == session and summary["truncated"] is False
    assert summary["egress"] == egress and summary["counts"] == counts
    by_host = {d["host"]: d for d in summary["destinations"]}
    assert set(by_host) == {"ok.test", "no.test", "ask.test"}, by_host
    ok, no, ask = by_host["ok.test"], by_host["no.test"], by_host["ask.test"]
    assert ok["port"] == web and ok["allowed"] == 2 and ok["denied"] == 0, ok
    assert UP <= ok["bytes_up"] < UP + 8192 and DOWN <= ok["bytes_down"] < DOWN + 8192, ok
    assert no["denied"] == 1 and no["allowed"] == 0 and no["bytes_up"] == 0, no
    assert ask["asked"] == 1 and ask["allowed"] == 1 and ask["bytes_down"] > 0, ask
    seqs = {r["seq"]: r for r in records["records"]}
    assert seqs[ask["last_seq"]]["type"] == "net.close", ask

    # the process tree: the agent's shell, its curls, and sh -c 'ls' under it
    procs = summary["processes"]
    roots = [p for p in procs if p["parent_seq"] is None]
    assert len(roots) == 1, [p["text"] for p in procs]
    [root] = roots
    assert ": sh -c $'head -c" in root["text"] and seqs[root["seq"]]["type"] == "exec", root
    curls = [p for p in procs if ": curl " in p["text"]]
    assert len(curls) == 4 and all(p["parent_seq"] == root["seq"] for p in curls), procs
    [inner] = [p for p in procs if ": sh -c 'ls > /dev/null; exit 0'" in p["text"]]
    [ls] = [p for p in procs if ": ls" in p["text"]]
    assert inner["parent_seq"] == root["seq"] and ls["parent_seq"] == inner["seq"], procs
    assert all(p["time"] and p["pid"] > 0 and p["sandbox_pid"] > 0 for p in procs), procs
    # one pid space: a parent's pid is its child's ppid
    by_seq = {p["seq"]: p for p in procs}
    assert all(by_seq[p["parent_seq"]]["pid"] == p["ppid"] for p in procs if p["parent_seq"])
    assert root["sandbox_pid"] == 2, root

    # the finding, its evidence (the socat exec), the tier it raised
    [finding] = [f for f in summary["findings"] if f["rule"] == "recon-tool"]
    assert finding["severity"] and finding["text"], finding
    socat = [p for p in procs if ": socat " in p["text"]]
    assert socat and socat[0]["seq"] in finding["evidence"], (finding, socat)
    assert seqs[finding["seq"]]["type"] == "risk.finding"
    assert [(t["from"], t["tier"]) for t in summary["tiers"]] == [(0, 1)], summary["tiers"]
    assert "recon-tool" in summary["tiers"][0]["reason"]

    # the activity of the last hour holds them (other sessions may add more)
    for window, width, n in (("hour", 60, 60), ("day", 1800, 48)):
        status, activity = daemon.call("GET", f"/v1/activity?window={window}")
        assert status == 200, activity
        assert activity["window"] == window and activity["bucket_seconds"] == width
        assert len(activity["buckets"]) == n
        assert activity["until"] - activity["since"] == width * n
        assert activity["since"] <= time.time() <= activity["until"]
        starts = [b["start"] for b in activity["buckets"]]
        assert starts == list(range(activity["since"], activity["until"], width))
        totals = activity["totals"]
        assert totals["findings"] >= 1 and totals["approvals"] >= 1 and totals["denials"] >= 1
        for k in ("denials", "findings", "approvals"):
            assert totals[k] == sum(b[k] for b in activity["buckets"])
    status, body = daemon.call("GET", "/v1/activity?window=week")
    assert status == 400, body
    # the approval request in the bucket of its minute
    [request] = [r for r in records["records"] if r["type"] == "approval.request"]
    when = datetime.datetime.strptime(request["time"][:19], "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    status, activity = daemon.call("GET", "/v1/activity?window=hour")
    [bucket] = [b for b in activity["buckets"] if b["start"] <= when < b["start"] + 60]
    assert bucket["approvals"] >= 1, (request["time"], activity["buckets"])


def test_counts_follow_what_is_appended(caller, daemon, web):
    """A trail is summed incrementally: new records count, and a line over
    the record cap, garbage and a record that is not one are skipped."""
    ws = caller.workspace()
    session, _ = start_session(daemon, ws, ["true"])
    wait_ended(daemon, session)
    before = entry_of(daemon, session)
    assert before["counts"] == {"denials": 0, "findings": 0, "approvals": 0,
                               "partial": False}, before
    assert before["egress"]["bytes_up"] == 0, before
    trail = trail_of(daemon, session)
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    lines = [
        '{"type":"net.decision","seq":1000,"time":"%s","decision":"denied",'
        '"host":"x.test","port":80}' % now,
        "x" * (400 << 10),  # no record: longer than any the writer makes
        '{"type":"net.decision","seq":1001,"decision":"denied","host":"hidden.test"'
        + " " * (300 << 10) + ',"port":80}',
        "not json at all",
        '{"type":"limit","time":"%s"}' % now,  # no seq: not a record
        '["an", "array"]',
        '{"type":"approval.request","seq":1002,"time":"%s","id":"x-1"}' % now,
    ]
    with open(trail, "a") as f:
        f.write("\n".join(lines) + "\n")
    after = entry_of(daemon, session)
    assert after["counts"] == {"denials": 1, "findings": 0, "approvals": 1,
                              "partial": False}, after
    assert after["egress"]["denied"] == 1, after
    status, summary = daemon.call("GET", f"/v1/sessions/{session}/summary")
    assert status == 200, summary
    assert [d["host"] for d in summary["destinations"]] == ["x.test"], summary
    # a torn last line waits for its end
    with open(trail, "a") as f:
        f.write('{"type":"limit","seq":1003,"time":"%s","kind":"x"' % now)
    assert entry_of(daemon, session)["counts"]["denials"] == 1
    with open(trail, "a") as f:
        f.write("}\n")
    assert entry_of(daemon, session)["counts"]["denials"] == 2


def test_hostile_trail_text_is_escaped_and_bounded(caller, daemon, web):
    """What the session's user wrote into its trail reaches the page as
    escaped ASCII, cut; byte counts that are not counts count nothing."""
    ws = caller.workspace()
    session, _ = start_session(daemon, ws, ["true"])
    wait_ended(daemon, session)
    trail = trail_of(daemon, session)
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    evil = "\x1b[2J\u202e<script>alert(1)</script>\x07" + "A" * 5000
    records = [
        {"type": "exec", "seq": 2000, "time": now, "pid": 9, "host_pid": 99, "ppid": 1,
         "argv": [evil, "x"], "cwd": evil},
        {"type": "net.decision", "seq": 2001, "time": now, "decision": "allowed",
         "host": evil, "port": 443},
        {"type": "net.close", "seq": 2002, "time": now, "host": evil, "port": 443,
         "connection": 7, "bytes_up": -5, "bytes_down": 2 ** 62, "bytes_up_reported": "x"},
        {"type": "risk.finding", "seq": 2003, "time": now, "rule": evil, "severity": evil,
         "explanation": evil, "detail": evil, "evidence": [2000, "a time", -4, {"x": 1}]},
        {"type": "risk.tier", "seq": 2004, "time": now, "from": 0, "to": 99, "reason": evil},
    ]
    with open(trail, "a") as f:
        f.write("".join(json.dumps(r) + "\n" for r in records))
    status, summary = daemon.call("GET", f"/v1/sessions/{session}/summary")
    assert status == 200, summary
    texts = ([p["text"] for p in summary["processes"]]
             + [d["host"] for d in summary["destinations"]]
             + [f[k] for f in summary["findings"] for k in ("rule", "severity", "text")]
             + [t["reason"] for t in summary["tiers"]])
    assert len(texts) == len(summary["processes"]) + 1 + 3 + 1, summary
    for text in texts:
        assert len(text) <= 512, len(text)
        assert all(0x20 <= ord(c) < 0x7f for c in text), repr(text[:80])
    assert any("\\x1b[2J" in t or "\\e[2J" in t for t in texts), texts
    [finding] = summary["findings"]
    assert finding["evidence"] == [2000], finding
    assert summary["tiers"][0]["tier"] == -1, summary["tiers"]
    egress = entry_of(daemon, session)["egress"]
    assert egress["bytes_up"] == 0 and egress["bytes_down"] <= 2 ** 53, egress


def test_a_symlinked_trail_is_not_followed(caller, daemon, web):
    """The session's user swaps its trail for a symlink to a file it may not
    read: the listing goes on without the session's sums, the summary is
    refused, and nothing of the other file shows."""
    ws = caller.workspace()
    session, _ = start_session(daemon, ws, ["true"])
    wait_ended(daemon, session)
    assert "egress" in entry_of(daemon, session)
    trail = trail_of(daemon, session)
    secret = caller.mkdtemp(prefix="reins-summary-secret-") / "other.jsonl"
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    secret.write_text('{"type":"approval.request","seq":1,"time":"%s",'
                      '"target":"secret.test"}\n' % now)
    os.chmod(secret, 0o600)
    trail.unlink()
    os.symlink(secret, trail)
    if IS_ROOT:
        os.lchown(trail, caller.uid, caller.uid)
    entry = entry_of(daemon, session)
    assert "egress" not in entry and "counts" not in entry, entry
    status, body = daemon.call("GET", f"/v1/sessions/{session}/summary")
    assert status == 404, body
    assert "secret.test" not in json.dumps(body)
    # a trail of another user's (root's file for a nobody session) likewise
    if caller.name == "nobody":
        trail.unlink()
        shutil.copy(secret, trail)  # made by root, owned by root
        assert "egress" not in entry_of(daemon, session)


def test_no_sums_without_the_read_audit_right(caller, daemons, web):
    """An approver reads sessions but not trails: its listing has no sums,
    its activity counts no session, and the summary is refused."""
    if caller.name != "root":
        pytest.skip("roles for other users need a daemon running as root")
    d = Daemon(caller, config=f"version: 1\nusers:\n  {APPROVER_UID}: {{role: approver}}\n")
    daemons.append(d)
    ws = caller.workspace()
    session, _ = start_session(d, ws, ["true"])
    wait_ended(d, session)
    assert "egress" in entry_of(d, session)

    def approver(method, path):
        return call_as(APPROVER_UID, APPROVER_UID, d.sock, method, path)

    status, sessions = approver("GET", "/v1/sessions")
    assert status == 200, sessions
    [entry] = [s for s in sessions if s["session"] == session]
    assert "egress" not in entry and "counts" not in entry, entry
    status, one = approver("GET", f"/v1/sessions/{session}")
    assert status == 200 and "egress" not in one, one
    status, activity = approver("GET", "/v1/activity")
    assert status == 200 and activity["sessions"] == 0, activity
    assert activity["totals"] == {"denials": 0, "findings": 0, "approvals": 0}
    status, body = approver("GET", f"/v1/sessions/{session}/summary")
    assert status == 403, body


def test_a_session_the_daemon_did_not_start(caller, daemon, web):
    """A user's own `reins run`, in the daemon's user's registry while it
    runs: its trail is found where `reins run` keeps it, and summed the same
    way."""
    ws = caller.workspace()
    pol = policy(caller, ws, web)
    trails = Path(caller.home) / ".local" / "state" / "reins" / "trails"
    before = set(trails.glob("*.jsonl")) if trails.exists() else set()
    proc = caller.popen(["run", "-p", pol, "-w", ws, "--", "sh", "-c",
                         f"curl -sS -o /dev/null http://no.test:{web}/x; "
                         f"curl -sS -o /dev/null http://ok.test:{web}/hello; sleep 60"])
    try:
        deadline = time.monotonic() + TIMEOUT
        entry = None
        while time.monotonic() < deadline:
            new = set(trails.glob("*.jsonl")) - before if trails.exists() else set()
            if new:
                [trail] = new
                session = trail.name[:-len(".jsonl")]
                status, entry = daemon.call("GET", f"/v1/sessions/{session}")
                if status == 200 and entry.get("egress", {}).get("bytes_down"):
                    break
            time.sleep(0.1)
        assert entry and "serve" not in entry, entry
        egress = entry["egress"]
        assert egress["denied"] == 1 and egress["connections"] == 1, egress
        assert 0 < egress["bytes_up"] < 4096 and egress["bytes_down"] > 0, egress
        assert entry["counts"]["denials"] >= 1, entry
        status, summary = daemon.call("GET", f"/v1/sessions/{session}/summary")
        assert status == 200, summary
        assert sorted(d["host"] for d in summary["destinations"]) == ["no.test", "ok.test"]
    finally:
        proc.terminate()
        proc.wait(timeout=TIMEOUT)


def test_a_long_trail_is_read_over_several_calls(caller, daemon, web):
    """One call reads at most 16 MiB of a trail: its counts say "partial"
    until a later call has read the rest, each record counted once."""
    ws = caller.workspace()
    session, _ = start_session(daemon, ws, ["true"])
    wait_ended(daemon, session)
    trail = trail_of(daemon, session)
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    line = ('{"type":"limit","seq":%d,"time":"' + now + '","kind":"test","pad":"'
            + "p" * 200 + '"}\n')
    count = (17 << 20) // len(line % 100000) + 1
    with open(trail, "a") as f:
        f.write("".join(line % (100000 + i) for i in range(count)))
    first = entry_of(daemon, session)["counts"]
    assert first["partial"] is True and 0 < first["denials"] < count, first
    second = entry_of(daemon, session)["counts"]
    assert second["partial"] is False and second["denials"] == count, (count, second)
    # past a list's bounds: its first items, said to be cut; the counts go on
    status, before = daemon.call("GET", f"/v1/sessions/{session}/summary")
    assert status == 200 and before["truncated"] is False, before
    execs = 2100
    with open(trail, "a") as f:
        f.write("".join(json.dumps({"type": "exec", "seq": 200000 + i, "time": now, "pid": i,
                                    "host_pid": 10000 + i, "ppid": 1, "argv": ["true", str(i)]})
                        + "\n" for i in range(execs)))
        f.write(json.dumps({"type": "limit", "seq": 300000, "time": now}) + "\n")
    status, summary = daemon.call("GET", f"/v1/sessions/{session}/summary")
    assert status == 200 and summary["truncated"] is True, summary["truncated"]
    kept = summary["processes"]
    assert len(before["processes"]) < len(kept) < len(before["processes"]) + execs, len(kept)
    assert kept[:len(before["processes"])] == before["processes"]
    assert summary["counts"]["denials"] == count + 1, summary["counts"]


def test_a_root_daemon_sums_a_session_of_another_user(caller, daemons, web):
    """A session a root daemon started for nobody writes nobody's trail: the
    daemon reads it as nobody's file, and an admin sees its sums."""
    if caller.name != "root":
        pytest.skip("sessions of other users need a daemon running as root")
    ws = caller.mkdtemp(prefix="reins-summary-nobody-")
    os.chown(ws, NOBODY_UID, NOBODY_GID)
    pol = policy(caller, ws, web)
    os.chown(pol, NOBODY_UID, NOBODY_GID)
    d = Daemon(caller, config=f"version: 1\nusers:\n  {NOBODY_UID}:\n    role: operator\n"
                              f"    policies: [{pol}]\n")
    daemons.append(d)
    status, body = call_as(NOBODY_UID, NOBODY_GID, d.sock, "POST", "/v1/sessions",
                           {"workspace": str(ws), "policy": str(pol), "command": [
                               "sh", "-c", f"curl -sS -o /dev/null http://no.test:{web}/x; true"]})
    assert status == 201, body
    session = body["session"]
    entry = wait_ended(d, session)
    assert entry["uid"] == NOBODY_UID, entry
    assert trail_of(d, session).stat().st_uid == NOBODY_UID
    entry = entry_of(d, session)
    assert entry["egress"]["denied"] == 1 and entry["counts"]["denials"] >= 1, entry
    # the operator reads sessions, not trails
    status, listed = call_as(NOBODY_UID, NOBODY_GID, d.sock, "GET", f"/v1/sessions/{session}")
    assert status == 200 and "egress" not in listed, listed
