"""The control plane is out of the agent's reach (issue 12, item 6).

A session's control socket answers `thaw` (leave the frozen tier, back to T0)
and approvals. An agent that can reach it undoes its own risk tier: the
runtime directory must be hidden inside every sandbox whatever the policy
binds, the socket must refuse peers inside any sandbox (same uid or not), and
a thaw must carry the user's signature.

Each case runs in a private mount namespace whose /tmp and /run are fresh
tmpfs, so the runtime directory sits at its default place (/tmp/reins-UID, or
/run/user/UID/reins) and no other session of this machine is touched:

- ro_tmp:   `--ro /tmp`; the agent reaches T2 (recon-tool weighs 60) and tries to
            thaw every session whose socket it can find;
- rw_tmp:   the workspace is /tmp itself (`-w /tmp`), the same attack;
- read_run: a policy reading /run, the runtime directory under /run/user/UID;
- other:    session A is frozen at T3; a second sandbox B (`--ro /tmp`) tries
            to thaw it, and so does B2, whose own runtime directory is
            elsewhere (XDG_RUNTIME_DIR). A must still be frozen afterwards.

Checks per case: *_sees (a control socket is visible inside), *_thaw (a thaw
was accepted: the reply said ok, the tier went back to T0, or A thawed).

Weak mode: REINS_WEAKEN=runtime-hide,control-peer,control-sign leaves the
runtime directory visible, skips the peer check and accepts an unsigned thaw:
every check must then escape.
"""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import REINS, WEAK, WEAK_MODE, judge

AGENT = r'''
import glob, json, os, socket, subprocess, sys, time
if sys.argv[1] == "escalate":
    # recon-tool weighs 60 in the policy: T2; give the supervisor a moment
    subprocess.run(["socat", "-V"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
found = set()
for pattern in ("/tmp/reins-*/*.sock", "/tmp/reins-*/*/*.sock", "/run/user/*/reins/*.sock",
                "/run/*/reins/*.sock", "/tmp/*/reins/*.sock"):
    found.update(glob.glob(pattern))
out = {"sockets": sorted(found), "replies": {}}
for path in sorted(found):
    try:
        c = socket.socket(socket.AF_UNIX)
        c.settimeout(3)
        c.connect(path)
        c.sendall(b'{"op":"thaw"}\n')
        out["replies"][path] = c.recv(4096).decode(errors="replace")
    except OSError as e:
        out["replies"][path] = "error: %s" % e
print("AGENT " + json.dumps(out), flush=True)
'''

HARNESS = r'''
import json, os, subprocess, sys, time
reins, uid, gid, prefix, weaken = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    json.loads(sys.argv[4]), sys.argv[5]
agent_src = sys.argv[6]
for target, mode in (("/tmp", "1777"), ("/run", "755")):
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=" + mode, "tmpfs", target], check=True)

def mkdir(path, mode=0o755):
    os.makedirs(path, exist_ok=True)
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    return path

home = mkdir("/tmp/home", 0o700)
env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home, "LANG": "C"}
if weaken:
    env["REINS_WEAKEN"] = weaken

def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chown(path, uid, gid)
    os.chmod(path, 0o644)
    return path

def policy(ws, extra=""):
    # T2 by the score (a tier forced with a low score steps back down as it
    # decays); T3 by the rule's action (T3 waits for a human)
    rule = "action: {recon-tool: T3}" if "freeze" in ws else "weight: {recon-tool: 60}"
    return write(os.path.join(ws, "policy.yaml"),
                 "version: 1\nextends: default\nrules:\n  %s\n%s" % (rule, extra))

def reins_cmd(*args):
    return prefix + [reins] + list(args)

def agent_result(stdout):
    for line in stdout.splitlines():
        if line.startswith("AGENT "):
            return json.loads(line[6:])
    return None

def attack(name, ws, opts, extra_policy=""):
    agent = write(os.path.join(ws, "agent.py"), agent_src)
    pol = policy(ws, extra_policy)
    r = subprocess.run(reins_cmd("run", "-p", pol, *opts, "--", "python3", agent, "escalate"),
                       cwd=ws, env=env, capture_output=True, text=True, timeout=120)
    res = agent_result(r.stdout)
    return {"rc": r.returncode, "stderr": r.stderr[-1500:], "agent": res}

def ps():
    r = subprocess.run(reins_cmd("ps", "--json"), env=env, capture_output=True, text=True,
                       timeout=30)
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]

results = {}
# --ro /tmp: the default runtime directory /tmp/reins-UID is under a bound tree
ws = mkdir("/tmp/ws-ro")
results["ro_tmp"] = attack("ro_tmp", ws, ["--ro", "/tmp", "-w", ws])
# the workspace is /tmp itself
results["rw_tmp"] = attack("rw_tmp", "/tmp", ["-w", "/tmp"])
# a policy reading /run, the runtime directory in /run/user/UID
mkdir("/run/user", 0o755)
mkdir("/run/user/%d" % uid, 0o700)
ws = mkdir("/tmp/ws-run")
results["read_run"] = attack("read_run", ws, ["-w", ws], "filesystem:\n  read: [/run]\n")
os.rename("/run/user/%d" % uid, "/run/user/gone-%d" % uid)  # back to /tmp/reins-UID

# a frozen session A, and a second sandbox B that tries to thaw it
wsa = mkdir("/tmp/ws-freeze")
pol = policy(wsa)
a = subprocess.Popen(reins_cmd("run", "-p", pol, "-w", wsa, "--", "sh", "-c",
                               "socat -V >/dev/null 2>&1; sleep 60"),
                     cwd=wsa, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
frozen = None
deadline = time.time() + 40
while time.time() < deadline and frozen is None and a.poll() is None:
    for e in ps():
        if e.get("pid") == a.pid and e.get("frozen"):
            frozen = e
    time.sleep(0.2)
other = {"frozen_before": bool(frozen)}
if frozen:
    wsb = mkdir("/tmp/ws-b")
    agent = write(os.path.join(wsb, "agent.py"), agent_src)
    r = subprocess.run(reins_cmd("run", "--ro", "/tmp", "-w", wsb, "--", "python3", agent,
                                 "look"), cwd=wsb, env=env, capture_output=True, text=True,
                       timeout=120)
    other["agent"] = agent_result(r.stdout)
    other["stderr"] = r.stderr[-1500:]
    # B2: a session whose own runtime directory is elsewhere (its
    # XDG_RUNTIME_DIR) must not see A's under /tmp either
    xdg = mkdir("/run/xdg-%d" % uid, 0o700)
    r = subprocess.run(reins_cmd("run", "--ro", "/tmp", "-w", wsb, "--", "python3", agent,
                                 "look"), cwd=wsb, env={**env, "XDG_RUNTIME_DIR": xdg},
                       capture_output=True, text=True, timeout=120)
    other["agent_xdg"] = agent_result(r.stdout)
    other["stderr_xdg"] = r.stderr[-1500:]
    time.sleep(0.5)
    after = [e for e in ps() if e.get("session") == frozen["session"]]
    other["frozen_after"] = bool(after and after[0].get("frozen"))
    other["a_socket"] = frozen.get("control")
    subprocess.run(reins_cmd("stop", frozen["session"]), env=env, capture_output=True,
                   timeout=30)
try:
    a.communicate(timeout=30)
except subprocess.TimeoutExpired:
    a.kill()
    a.communicate()
results["other"] = other
print(json.dumps(results))
'''


def _thawed(case):
    agent = case.get("agent") or {}
    ok = [p for p, reply in agent.get("replies", {}).items() if '"ok":true' in reply]
    return ok


def _checks(data):
    checks = {}
    for name in ("ro_tmp", "rw_tmp", "read_run"):
        case = data[name]
        agent = case.get("agent")
        if agent is None:
            pytest.fail(f"{name}: the agent did not run: exit {case['rc']}: {case['stderr']}")
        checks[f"{name}_sees"] = (bool(agent["sockets"]), f"visible: {agent['sockets']}")
        ok = _thawed(case)
        back = "-> T0" in case["stderr"]
        checks[f"{name}_thaw"] = (bool(ok) or back,
                                  f"accepted by {ok}; stderr: {case['stderr'][-300:]!r}")
    other = data["other"]
    if not other.get("frozen_before"):
        pytest.fail(f"session A was never frozen: {other}")
    agent = other.get("agent")
    if agent is None:
        pytest.fail(f"other: B's agent did not run: {other.get('stderr')}")
    agent_xdg = other.get("agent_xdg")
    if agent_xdg is None:
        pytest.fail(f"other: B2's agent did not run: {other.get('stderr_xdg')}")
    checks["other_sees"] = (other["a_socket"] in agent["sockets"] + agent_xdg["sockets"],
                            f"visible to B: {agent['sockets']}, to B2: {agent_xdg['sockets']}")
    thawed = _thawed(other) + _thawed({"agent": agent_xdg})
    checks["other_thaw"] = (not other["frozen_after"] or bool(thawed),
                            f"A frozen after B's and B2's attacks: {other['frozen_after']}; "
                            f"replies {agent['replies']} {agent_xdg['replies']}")
    return checks


def _attack(user, weaken):
    if os.geteuid() != 0:
        pytest.skip("needs root on the host to give reins a private /tmp and /run")
    if not shutil.which("socat"):
        pytest.skip("socat (the recon tool the agent runs to reach T2) is not installed")
    bindir = tempfile.mkdtemp(prefix="reins-control-plane-", dir="/var/tmp")
    try:
        os.chmod(bindir, 0o755)
        binary = os.path.join(bindir, "reins")
        shutil.copy2(REINS, binary)
        os.chmod(binary, 0o755)
        r = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "/usr/bin/python3", "-c",
             HARNESS, binary, str(user.uid), str(user.gid), json.dumps(list(user.prefix)),
             weaken, AGENT],
            capture_output=True, text=True, timeout=600)
    finally:
        shutil.rmtree(bindir, ignore_errors=True)
    assert r.returncode == 0, f"harness failed: {r.stderr[-3000:]}"
    return _checks(json.loads(r.stdout.strip().splitlines()[-1]))


def test_agent_cannot_reach_any_control_socket(user):
    weaken = WEAK["control_plane"].weaken if WEAK_MODE else ""
    judge("control_plane", _attack(user, weaken), user)


@pytest.mark.parametrize("weaken", ["runtime-hide", "runtime-hide,control-peer",
                                    "runtime-hide,control-sign"])
def test_each_layer_holds_alone(user, weaken):
    """With the runtime directory left visible (weak build only), the peer
    check alone and the signature alone each still refuse every thaw."""
    if not WEAK_MODE:
        pytest.skip("needs the weak build (make escape-weak) to switch layers off")
    checks = _attack(user, weaken)
    for name, (escaped, detail) in checks.items():
        print(f"[control_plane/{weaken}] {user.name}: {name} "
              f"{'ESCAPED' if escaped else 'blocked'}: {detail}")
    assert checks["ro_tmp_sees"][0], "the weak switch did not show the runtime directory"
    thawed = {k: d for k, (esc, d) in checks.items() if k.endswith("_thaw") and esc}
    assert not thawed, f"REINS_WEAKEN={weaken}: a thaw got through: {thawed}"
