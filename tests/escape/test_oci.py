"""A hostile config.json (reins oci): the image's author, or whoever writes
the bundle, asks for host paths the policy denies.

Two containers, each under a policy that denies a host directory holding a
secret (readable by the caller on the host: the attack works unsandboxed):

  deny_bind  config.json binds the denied directory into the container and
             cats the secret;
  root_bind  config.json binds the host's / and cats the secret through it
             (a bind of / would also reach /proc/sys, /etc/shadow, ...).

Either is blocked when create refuses the config (or the secret never shows).
Weak mode (REINS_WEAKEN=mounts): reins binds whatever config.json asks for,
and both must be seen escaping.
"""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import REINS, WEAK, WEAK_MODE, chown_tree, judge

BUSYBOX = shutil.which("busybox")
SECRET = "host-secret-oci-5150"

DRIVER = r'''
import ctypes, json, os, subprocess, sys, tempfile
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: as conmon
reins, root, bundle, cid = sys.argv[1:5]
o = tempfile.TemporaryFile()
pid_file = os.path.join(root, "..", cid + ".pid")
c = subprocess.run([reins, "oci", "--root", root, "create", "--bundle", bundle, "--pid-file",
                    pid_file, cid], stdout=o, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                   timeout=60)
if c.returncode == 0:
    subprocess.run([reins, "oci", "--root", root, "start", cid], timeout=60)
    os.waitpid(int(open(pid_file).read()), 0)
    subprocess.run([reins, "oci", "--root", root, "delete", "--force", cid], timeout=60)
o.seek(0)
print(json.dumps({"create": c.returncode, "out": o.read().decode(errors="replace")}))
'''


def cleanup(base, u):
    """No supervisor outlives the test, whatever failed."""
    state = os.path.join(base, "state")
    for cid in (os.listdir(state) if os.path.isdir(state) else []):
        subprocess.run(list(u.prefix) + [REINS, "oci", "--root", state, "delete", "--force", cid],
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
                       env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                            "HOME": os.path.join(base, "home")})


def make_bundle(base, name, mounts, policy, u):
    b = os.path.join(base, name)
    rootfs = os.path.join(b, "rootfs")
    for d in ("bin", "proc", "dev", "tmp", "mnt", "host"):
        os.makedirs(os.path.join(rootfs, d))
    shutil.copy(BUSYBOX, os.path.join(rootfs, "bin", "busybox"))
    for a in ("sh", "cat"):
        os.symlink("busybox", os.path.join(rootfs, "bin", a))
    config = {
        "ociVersion": "1.0.2",
        "process": {"args": ["/bin/sh", "-c", f"cat {mounts[0]['destination']}"
                                              f"{mounts[0]['read']}; echo end"],
                    "env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
        "root": {"path": "rootfs"},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}] + [
            {"destination": m["destination"], "type": "bind", "source": m["source"],
             "options": ["rbind", "ro"]} for m in mounts],
        "annotations": {"org.reins.policy": policy},
        "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]},
    }
    if u.uid != 0:
        config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": u.uid, "size": 1}]
        config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": u.gid, "size": 1}]
    with open(os.path.join(b, "config.json"), "w") as f:
        json.dump(config, f)
    return b


@pytest.mark.skipif(not BUSYBOX, reason="needs busybox-static")
def test_oci_hostile_config_binds(user):
    base = tempfile.mkdtemp(prefix="reins-oci-esc-")
    try:
        os.chmod(base, 0o755)
        secret_dir = os.path.join(base, "hostsecret")
        os.makedirs(secret_dir)
        with open(os.path.join(secret_dir, "key"), "w") as f:
            f.write(SECRET + "\n")
        os.chmod(os.path.join(secret_dir, "key"), 0o644)
        policy = os.path.join(base, "policy.yaml")
        with open(policy, "w") as f:
            f.write(f"version: 1\nname: oci-hostile\nextends: default\n"
                    f"filesystem:\n  deny: [{secret_dir}]\n")
        home = os.path.join(base, "home")
        os.makedirs(home)
        state = os.path.join(base, "state")
        cases = {
            "deny_bind": [{"destination": "/mnt", "source": secret_dir, "read": "/key"}],
            "root_bind": [{"destination": "/host", "source": "/",
                           "read": secret_dir + "/key"}],
        }
        bundles = {k: make_bundle(base, k, m, policy, user) for k, m in cases.items()}
        chown_tree(base, user)
        # the attack works on the host: the caller reads the secret unsandboxed
        host = subprocess.run(list(user.prefix) + ["cat", os.path.join(secret_dir, "key")],
                              capture_output=True, text=True)
        assert SECRET in host.stdout, "the caller cannot read the secret on the host"
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home}
        if WEAK_MODE:
            env["REINS_WEAKEN"] = WEAK["oci_config"].weaken
        results = {}
        for key, bundle in bundles.items():
            p = subprocess.run(list(user.prefix) + ["python3", "-c", DRIVER, REINS, state, bundle,
                                                    key],
                               capture_output=True, text=True, env=env, cwd=base, timeout=180)
            assert p.returncode == 0, p.stderr
            r = json.loads(p.stdout)
            escaped = SECRET in r["out"]
            results[key] = (escaped, f"create exit {r['create']}: {r['out'].strip()[:300]}")
        judge("oci_config", results, user)
    finally:
        cleanup(base, user)
        shutil.rmtree(base, ignore_errors=True)


EXEC_DRIVER = r'''
import ctypes, json, os, subprocess, sys, tempfile
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)
reins, root, bundle, cid = sys.argv[1:5]
R = [reins, "oci", "--root", root]
out = {}
err = tempfile.TemporaryFile()  # not a pipe: the container keeps create's stderr
c = subprocess.run(R + ["create", "--bundle", bundle, cid], stdout=subprocess.DEVNULL,
                   stderr=err, stdin=subprocess.DEVNULL, timeout=60)
out["create"] = c.returncode
err.seek(0)
out["create_err"] = err.read().decode(errors="replace")
if c.returncode == 0:
    subprocess.run(R + ["start", cid], timeout=60)
    e = subprocess.run(R + ["exec", cid, "/bin/cat", "/proc/self/status"], capture_output=True,
                       text=True, timeout=60)
    out["exec"] = e.returncode
    out["status"] = e.stdout
    out["exec_err"] = e.stderr
    subprocess.run(R + ["delete", "--force", cid], timeout=60)
print(json.dumps(out))
'''


@pytest.mark.skipif(not BUSYBOX, reason="needs busybox-static")
def test_oci_exec_gets_every_protection(user):
    """A process joining a running container (reins oci exec, podman exec)
    keeps no capability, has no_new_privs and reins' seccomp filter. Weak
    mode (caps, nnp, seccomp switched off) shows each check can fail."""
    base = tempfile.mkdtemp(prefix="reins-oci-exec-")
    try:
        os.chmod(base, 0o755)
        b = os.path.join(base, "b")
        rootfs = os.path.join(b, "rootfs")
        for d in ("bin", "proc", "dev", "tmp"):
            os.makedirs(os.path.join(rootfs, d))
        shutil.copy(BUSYBOX, os.path.join(rootfs, "bin", "busybox"))
        for a in ("sh", "cat", "sleep"):
            os.symlink("busybox", os.path.join(rootfs, "bin", a))
        config = {
            "ociVersion": "1.0.2",
            "process": {"args": ["/bin/sleep", "60"], "env": ["PATH=/bin"], "cwd": "/"},
            "root": {"path": "rootfs"},
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                       {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"}],
            "linux": {},
        }
        if user.uid != 0:
            config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": user.uid, "size": 1}]
            config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": user.gid, "size": 1}]
        with open(os.path.join(b, "config.json"), "w") as f:
            json.dump(config, f)
        home = os.path.join(base, "home")
        os.makedirs(home)
        chown_tree(base, user)
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home}
        if WEAK_MODE:
            env["REINS_WEAKEN"] = WEAK["oci_exec"].weaken
        p = subprocess.run(list(user.prefix) + ["python3", "-c", EXEC_DRIVER, REINS,
                                                os.path.join(base, "state"), b, "e1"],
                           capture_output=True, text=True, env=env, cwd=base, timeout=180)
        assert p.returncode == 0, p.stderr
        r = json.loads(p.stdout)
        assert r["create"] == 0 and r.get("exec") == 0, r
        fields = dict(line.split(":\t", 1) for line in r["status"].splitlines() if ":\t" in line)
        results = {
            "exec_capeff": (int(fields["CapEff"], 16) != 0, "CapEff " + fields["CapEff"]),
            "exec_capbnd": (int(fields["CapBnd"], 16) != 0, "CapBnd " + fields["CapBnd"]),
            "exec_nnp": (fields["NoNewPrivs"].strip() != "1",
                         "NoNewPrivs " + fields["NoNewPrivs"]),
            "exec_seccomp": (fields["Seccomp"].strip() != "2", "Seccomp " + fields["Seccomp"]),
        }
        judge("oci_exec", results, user)
    finally:
        cleanup(base, user)
        shutil.rmtree(base, ignore_errors=True)
