"""ESCAPES.md "predictable shared paths" (CVE-2019-12439).

reins runs in a private mount namespace whose /tmp and /run are fresh tmpfs
(so other users of the machine cannot disturb the picture), with
XDG_RUNTIME_DIR=/run/user/UID. Before it starts, "another user" (uid 4242)
pre-creates world-writable directories and a symlink at the names a runtime
directory would plausibly take. While `reins run -- sleep 2` runs and after,
everything new under /tmp, /run and XDG_RUNTIME_DIR must sit in a directory of
mode 0700 owned by the caller, nothing may appear inside the attacker's
directories, and the symlink's target must not be created. If reins keeps no
runtime state on the host at all, that is what gets asserted.

Weak mode: no switch gives reins runtime state, so the weak run plants a
world-writable directory during the window and asserts the detector flags it.
"""
import json
import shutil
import tempfile
import os
import subprocess

import pytest

from conftest import REINS, WEAK_MODE, judge, user_kind

SCRIPT = r'''
import json, os, subprocess, sys, time
reins, uid, gid, name, prefix, plant = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    sys.argv[4], json.loads(sys.argv[5]), sys.argv[6] == "1"
for target, mode in (("/tmp", "1777"), ("/run", "755")):
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=" + mode, "tmpfs", target], check=True)
xdg = f"/run/user/{uid}"
os.makedirs(xdg)
os.chown(xdg, uid, gid)
os.chmod(xdg, 0o700)
ws = "/tmp/workspace"
os.mkdir(ws)
os.chown(ws, uid, gid)
ATT = 4242
attack = [f"/tmp/reins", f"/tmp/reins-{uid}", f"/tmp/reins-{name}", "/tmp/.reins",
          f"/tmp/reins.{uid}", "/run/reins", f"/run/reins-{uid}", "/tmp/.X-reins"]
for a in attack:
    os.mkdir(a)
    os.chown(a, ATT, ATT)
    os.chmod(a, 0o777)
for link in (f"/tmp/reins-{uid}.d", f"/tmp/reins-run-{uid}", "/run/reins.sock"):
    os.symlink("/tmp/hijack-target", link)
def snap():
    out = {}
    for base in ("/tmp", "/run"):
        for d, dirs, files in os.walk(base):
            for n in dirs + files:
                p = os.path.join(d, n)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                out[p] = (st.st_uid, st.st_mode & 0o7777, oct(st.st_mode >> 12))
    return out
before = snap()
env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": ws, "XDG_RUNTIME_DIR": xdg}
p = subprocess.Popen(prefix + [reins, "run", "-w", ws, "--", "sleep", "2"], cwd=ws, env=env,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(1)
if plant:
    os.mkdir("/tmp/reins-planted")
    os.chmod("/tmp/reins-planted", 0o777)
    os.chown("/tmp/reins-planted", ATT, ATT)
during = snap()
out, err = p.communicate(timeout=60)
after = snap()
print(json.dumps({"before": before, "during": during, "after": after, "rc": p.returncode,
                  "stderr": err, "attack": attack, "xdg": xdg, "ws": ws}))
'''


def violations(data, uid):
    before, ws, xdg = data["before"], data["ws"], data["xdg"]
    seen = dict(data["during"])
    seen.update(data["after"])
    new = sorted(p for p in seen if p not in before and not p.startswith(ws + "/"))
    allowed_parents = {"/tmp", "/run", "/run/user", xdg}
    bad = []
    for p in new:
        top = p  # the highest new ancestor of p
        while os.path.dirname(top) in seen and os.path.dirname(top) not in before:
            top = os.path.dirname(top)
        parent = os.path.dirname(top)
        owner, mode, kind = seen[top]
        if parent not in allowed_parents:
            bad.append(f"{p}: created inside pre-existing {parent} "
                       f"(owner {before.get(parent, ['?'])[0]})")
        elif kind != oct(0o040000 >> 12) or mode != 0o700 or owner != uid:
            bad.append(f"{top}: owner {owner} mode {oct(mode)} type {kind}, not a 0700 "
                       f"directory of uid {uid}")
    if "/tmp/hijack-target" in seen:
        bad.append("/tmp/hijack-target created through a planted symlink")
    return new, sorted(set(bad))


def test_runtime_state_private(user):
    """Runtime state, if any, lives in private 0700 directories of the caller;
    names pre-created by another user do not hijack reins."""
    if os.geteuid() != 0:
        pytest.skip("needs root on the host to give reins a private /tmp and /run to watch")
    prefix = list(user.prefix)
    # the harness covers /tmp and /run with fresh tmpfs: the binary must live
    # elsewhere (the repository itself may be cloned under /tmp)
    bindir = tempfile.mkdtemp(prefix="reins-shared-paths-", dir="/var/tmp")
    try:
        os.chmod(bindir, 0o755)
        binary = os.path.join(bindir, "reins")
        shutil.copy2(REINS, binary)
        os.chmod(binary, 0o755)
        r = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "/usr/bin/python3", "-c", SCRIPT,
             binary, str(user.uid), str(user.gid), user.name, json.dumps(prefix),
             "1" if WEAK_MODE else "0"],
            capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(bindir, ignore_errors=True)
    assert r.returncode == 0, f"harness failed: {r.stderr}"
    data = json.loads(r.stdout)
    new, bad = violations(data, user.uid)
    state = [p for p in new if p != "/tmp/reins-planted"]
    checks = {
        "runtime_state": (bool([b for b in bad if "reins-planted" not in b]),
                          "; ".join(bad) or (f"new paths {state}" if state else
                                             "reins created no runtime state on the host")),
        # a refusal is no hijack, but then nothing was shown: reins must run
        "reins_ran": (data["rc"] != 0, f"reins exit {data['rc']}: {data['stderr'][-300:]}"),
    }
    if WEAK_MODE:
        checks["detector_sees_planted"] = (any("reins-planted" in b for b in bad), str(bad))
    judge("shared_paths", checks, user)
