"""Denials are visible by default (issue 13 item 6): one human line per
denied destination and per refused syscall, coalesced and rate-limited,
silent with -q; -v is human-readable; --events stays JSON."""
import json
import re


def policy(caller, ws):
    return caller.write(ws / "policy.yaml", "version: 1\nextends: default\nnetwork:\n"
                                            "  mode: proxy\n  allow: [\"allowed.test:80\"]\n")


CURL = "curl -s -o /dev/null --max-time 10 "


def test_a_denied_destination_is_said_once_with_its_reason(caller):
    ws = caller.workspace()
    pol = policy(caller, ws)
    script = ";".join([CURL + "http://api.example.com/a"] * 5 + [CURL + "http://10.9.8.7/"])
    r = caller.sandbox(["sh", "-c", script], ws=ws, opts=["-p", pol])
    lines = [l for l in r.stderr.splitlines() if l.startswith("reins: denied ")]
    assert lines == ["reins: denied api.example.com:80: no network.allow pattern matches",
                     "reins: denied 10.9.8.7:80: no network.allow pattern matches"], r.stderr


def test_many_denials_are_rate_limited_and_counted(caller):
    ws = caller.workspace()
    pol = policy(caller, ws)
    script = "for i in $(seq 1 40); do " + CURL + "http://h$i.example.com/; done"
    r = caller.sandbox(["sh", "-c", script], ws=ws, opts=["-p", pol], timeout=120)
    shown = [l for l in r.stderr.splitlines() if l.startswith("reins: denied ")]
    m = re.search(r"reins: (\d+) more refusals not shown \('reins audit show (\w+)'", r.stderr)
    assert 5 <= len(shown) < 40 and m, r.stderr
    assert len(shown) + int(m.group(1)) == 40, r.stderr


def test_quiet_says_nothing_and_events_stay_json(caller):
    ws = caller.workspace()
    pol = policy(caller, ws)
    events = caller.mkdtemp(prefix="reins-notice-ev-") / "events.jsonl"
    r = caller.sandbox(["sh", "-c", CURL + "http://api.example.com/"], ws=ws,
                       opts=["-p", pol, "-q", "--events", events])
    assert "denied" not in r.stderr, r.stderr
    decisions = [json.loads(l) for l in events.read_text().splitlines()
                 if '"net.decision"' in l]
    assert decisions and decisions[0]["decision"] == "denied"


def test_verbose_is_human_readable_and_escaped(caller):
    ws = caller.workspace()
    pol = policy(caller, ws)
    r = caller.sandbox(["sh", "-c", CURL + "http://api.example.com/"], ws=ws,
                       opts=["-p", pol, "-v"])
    line = next(l for l in r.stderr.splitlines() if l.startswith("reins: net.decision"))
    assert "decision=denied" in line and "host=api.example.com" in line, line
    assert not line.rstrip().endswith("}"), line
    assert "\x1b" not in r.stderr


def test_a_refused_syscall_is_said(caller):
    ws = caller.workspace()
    r = caller.sandbox(["python3", "-c",
                        "import ctypes; l = ctypes.CDLL(None); [l.syscall(165, 0, 0, 0, 0, 0) "
                        "for _ in range(3)]"], ws=ws)
    lines = [l for l in r.stderr.splitlines() if l.startswith("reins: refused mount()")]
    assert len(lines) == 1 and "python3" in lines[0], r.stderr
