"""Exec auditing records runs, not a PATH search's tries (issue 13 item 12):
execvp's misses are counted on the exec that runs."""
import json


def test_path_search_misses_are_counted_not_recorded(caller):
    ws = caller.workspace()
    events = caller.mkdtemp(prefix="reins-exec-ev-") / "events.jsonl"
    path = ":".join(f"/nonexistent/dir{i}" for i in range(5)) + ":/usr/bin:/bin"
    r = caller.run(["run", "-w", ws, "--events", events, "--env", f"PATH={path}", "--",
                    "sh", "-c", "true"], cwd=ws, env={"PATH": path})
    assert r.returncode == 0, r.stderr
    execs = [json.loads(l) for l in events.read_text().splitlines() if '"exec' in l]
    execs = [e for e in execs if e["type"] == "exec"]
    assert [e["result"] for e in execs] == ["ok"], execs
    assert execs[0]["path"] == "/usr/bin/sh" and execs[0]["path_misses"] == 5, execs
