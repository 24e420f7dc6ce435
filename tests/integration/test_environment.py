"""Declarative environments (policy `environment:`): the sandbox's system root
is an OCI image or a Debian root from reins' cache instead of the host's /usr.

The OCI layouts are made here with umoci from the offline busybox rootfs
(oci_images.py); the Debian environment is built with mmdebstrap from the
host's apt mirror (a minute or more: `make env-long`; make check runs it only
when that cache is already there)."""
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import IS_ROOT, one_error_line
import oci_images

TIMEOUT = 120
REPO = Path(__file__).resolve().parents[2]


def _images():
    if shutil.which("umoci") is None:
        pytest.skip("umoci is not installed (Debian package umoci)")
    try:
        return oci_images.images()
    except RuntimeError as e:
        pytest.skip(str(e))


def make_layout(caller, extra=None):
    """An OCI layout (tag busybox) of the busybox rootfs plus `extra`
    files {path inside: text}, owned by the caller; returns its directory."""
    rootfs = _images() / "rootfs"
    work = Path(tempfile.mkdtemp(prefix="reins-env-layout-"))
    try:
        layout, unpacked = work / "layout", work / "unpacked"
        ref = f"{layout}:busybox"
        run = lambda *a: subprocess.run(["umoci", *a], check=True, capture_output=True,
                                        timeout=TIMEOUT)
        run("init", "--layout", str(layout))
        run("new", "--image", ref)
        run("unpack", *([] if IS_ROOT else ["--rootless"]), "--image", ref, str(unpacked))
        subprocess.run(["cp", "-a", f"{rootfs}/.", str(unpacked / "rootfs")], check=True,
                       timeout=TIMEOUT)
        for path, text in (extra or {}).items():
            p = unpacked / "rootfs" / path.lstrip("/")
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        run("repack", "--image", ref, str(unpacked))
        dest = caller.mkdtemp(prefix="reins-env-img-")
        shutil.rmtree(dest)
        shutil.copytree(layout, dest, symlinks=True)
        for root, dirs, files in os.walk(dest):
            for name in dirs + files + ["."]:
                caller.own(os.path.join(root, name))
        return dest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def policy(caller, body, name="env.yaml"):
    d = caller.mkdtemp(prefix="reins-env-pol-")
    return caller.write(d / name, "version: 1\nextends: default\n" + body)


def image_policy(caller, layout, extra=""):
    return policy(caller, f"environment:\n  image: oci:{layout}:busybox\n{extra}")


# ---- the policy key ---------------------------------------------------------


@pytest.mark.parametrize("body, key", [
    ("environment:\n  image: registry.example/busybox\n", "environment.image"),
    ("environment:\n  debian: {suite: bookworm, pkgs: [git]}\n", "environment.debian.pkgs"),
    ("environment:\n  debian: {suite: bookworm, packages: [Bad_Name]}\n",
     "environment.debian.packages[0]"),
    ("environment:\n  sdks: [cobol]\n", "environment.sdks[0]"),
    ("environment:\n  writable: always\n", "environment.writable"),
])
def test_bad_environment_keys_name_file_line_and_key(caller, body, key):
    p = policy(caller, body)
    r = caller.run(["policy", "check", p])
    assert r.returncode != 0
    line = one_error_line(r.stderr)
    assert f"{p}:3: {key}" in line or f"{p}:4: {key}" in line, line


def test_environment_enters_the_policy_hash_only_when_set(caller):
    plain = caller.run(["policy", "check", policy(caller, "")])
    with_env = caller.run(["policy", "check", policy(
        caller, "environment:\n  debian: {suite: bookworm, packages: [git]}\n"
                "  sdks: [python]\n")])
    assert plain.returncode == 0 and with_env.returncode == 0, with_env.stderr
    assert "environment:" not in plain.stdout
    assert "environment:" in with_env.stdout and "- git" in with_env.stdout
    assert plain.stdout.splitlines()[0].startswith("# sha256: ")
    assert plain.stdout.splitlines()[0] != with_env.stdout.splitlines()[0]


def test_sdks_on_an_image_are_refused_before_anything_runs(caller):
    layout = make_layout(caller)
    ws = caller.workspace()
    p = image_policy(caller, layout, "  sdks: [python]\n")
    r = caller.sandbox(["touch", f"{ws}/ran"], ws=ws, opts=["-p", p])
    assert r.returncode == 125
    assert "need environment.debian" in one_error_line(r.stderr)
    assert not (ws / "ran").exists()


# ---- OCI images ----------------------------------------------------------------


def test_an_oci_image_is_the_root_and_the_lock_pins_it(caller):
    layout = make_layout(caller)
    p = image_policy(caller, layout)
    ws = caller.workspace()
    caller.write(ws / "hello.txt", "from the workspace\n")
    events = caller.home / "events.jsonl"
    r = caller.sandbox(["/bin/sh", "-c",
                        "cat hello.txt; ls /bin/busybox; test -e /usr/bin/python3 || "
                        "echo no-host-python; grep -c . /etc/passwd; id -u"],
                       ws=ws, opts=["-p", p, "--events", events])
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0] == "from the workspace"
    assert "/bin/busybox" in out and "no-host-python" in out
    assert out[-1] == str(caller.uid)
    lock = (p.parent / "reins.lock").read_text()
    key = [l.split()[1] for l in lock.splitlines() if l.startswith("key ")][0]
    digests = [l for l in lock.splitlines() if l.startswith("digest sha256:")]
    assert len(digests) == 3  # manifest, config, one layer
    # the trail names the root the agent ran in
    start = json.loads(events.read_text().splitlines()[0])
    assert start["type"] == "session.start", start
    assert start["environment"] == {"key": key, "writable": False}
    # a second start is a cache hit: no build
    b = caller.run(["env", "build", "-p", p])
    assert b.returncode == 0, b.stderr
    assert b.stdout.split() == [key, "cached", "(no", "build)"]
    ls = caller.run(["env", "ls"])
    assert key[:12] in ls.stdout and f"oci:{layout}:busybox" in ls.stdout
    show = caller.run(["env", "show", key[:12]])
    assert show.returncode == 0 and f"key {key}" in show.stdout


def test_the_environment_passwd_names_the_mapped_user(caller):
    layout = make_layout(caller)
    r = caller.sandbox(["/bin/sh", "-c", "grep ':x:%d:' /etc/passwd" % caller.uid],
                       opts=["-p", image_policy(caller, layout)])
    assert r.returncode == 0, r.stderr
    name = "root" if caller.uid == 0 else "nobody"
    line = r.stdout.strip()
    assert line.startswith(f"{name}:x:{caller.uid}:{caller.gid}:"), line
    assert line.endswith(":/bin/sh") and str(caller.home) in line


def test_a_corrupted_layer_is_refused_and_nothing_runs(caller):
    layout = make_layout(caller)
    blobs = layout / "blobs" / "sha256"
    biggest = max(blobs.iterdir(), key=lambda b: b.stat().st_size)
    data = bytearray(biggest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    os.chmod(biggest, 0o644)
    biggest.write_bytes(bytes(data))
    ws = caller.workspace()
    r = caller.sandbox(["touch", f"{ws}/ran"], ws=ws, opts=["-p", image_policy(caller, layout)])
    assert r.returncode == 125
    err = [l for l in r.stderr.splitlines() if not l.startswith("reins: env: ")]
    assert len(err) == 1 and "does not match its digest" in err[0], r.stderr
    assert biggest.name in err[0]
    assert not (ws / "ran").exists()
    assert caller.run(["env", "ls"]).stdout.count("\n") == 1  # the header only


def test_read_only_by_default_writable_per_session_when_asked(caller):
    layout = make_layout(caller)
    ro = caller.sandbox(["/bin/sh", "-c", "echo x > /bin/new"],
                        opts=["-p", image_policy(caller, layout)])
    assert ro.returncode != 0 and "Read-only" in ro.stderr
    p = image_policy(caller, layout, "  writable: session\n")
    rw = caller.sandbox(["/bin/sh", "-c", "echo x > /bin/new && cat /bin/new && "
                         "rm /bin/busybox.missing 2>/dev/null; echo ok"], opts=["-p", p])
    assert rw.returncode == 0, rw.stderr
    assert rw.stdout.split() == ["x", "ok"]
    # discarded at the end: the next session and the cache never see it
    again = caller.sandbox(["/bin/sh", "-c", "test -e /bin/new && echo leaked || echo clean"],
                           opts=["-p", p])
    assert again.stdout.strip() == "clean", again.stderr
    sessions = caller.home / ".local" / "state" / "reins" / "env" / "sessions"
    assert list(sessions.iterdir()) == []


def test_containment_holds_with_an_environment_root(caller):
    layout = make_layout(caller, {"/etc/service.key": "IMAGE-SECRET\n"})
    p = image_policy(caller, layout)
    # the policy's absolute deny paths name paths inside the image too
    p.write_text(p.read_text() + "filesystem:\n  deny: [\"/etc/*.key\"]\n")
    ws = caller.workspace()
    r = caller.sandbox(["/bin/sh", "-c",
                        f"cat /etc/service.key; cat {caller.home}/.ssh/id_rsa; "
                        "unshare -U true && echo nested-userns; "
                        "echo x > /etc/new || true; touch ok"], ws=ws, opts=["-p", p])
    assert "IMAGE-SECRET" not in r.stdout
    assert "PRIVATE KEY" not in r.stdout and "nested-userns" not in r.stdout
    assert (ws / "ok").exists(), r.stderr


def test_gc_keeps_what_refs_name_and_rm_removes(caller):
    layout = make_layout(caller)
    p = image_policy(caller, layout)
    b = caller.run(["env", "build", "-p", p])
    assert b.returncode == 0, b.stderr
    key = b.stdout.split()[0]
    show = caller.run(["env", "show", "-p", p])
    assert show.returncode == 0 and f"key {key}" in show.stdout, show.stderr
    gc = caller.run(["env", "gc"])
    assert gc.returncode == 0 and gc.stdout.startswith("0 environments"), gc.stdout
    rm = caller.run(["env", "rm", key[:12]])
    assert rm.returncode == 0, rm.stderr
    assert key[:12] not in caller.run(["env", "ls"]).stdout
    missing = caller.run(["env", "rm", key[:12]])
    assert missing.returncode == 125 and "no such entry" in one_error_line(missing.stderr)


# ---- Debian ---------------------------------------------------------------------

DEBIAN_STATE = REPO / "build" / "env-state"


def _mirror_reachable():
    try:
        r = subprocess.run(["apt-get", "-o", "Acquire::Retries=0", "-o",
                            "Acquire::http::Timeout=5", "--print-uris", "download", "base-files"],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    uri = next((w.strip("'") for w in r.stdout.split() if w.startswith("'http")), None)
    if not uri:
        return False
    return subprocess.run(["curl", "-sfI", "-m", "10", uri], capture_output=True).returncode == 0


def test_debian_environment_runs_python_from_the_environment(caller):
    if shutil.which("mmdebstrap") is None:
        pytest.skip("mmdebstrap is not installed (scripts/deps.sh)")
    if not IS_ROOT or caller.uid != 0:
        # a user needs subordinate ids: the refusal is one clear line
        p = policy(caller, "environment:\n  debian: {suite: bookworm, packages: [python3]}\n")
        r = caller.run(["env", "build", "-p", p])
        assert r.returncode == 125
        assert "subordinate ids" in one_error_line(r.stderr)
        return
    cached = DEBIAN_STATE.exists() and any((DEBIAN_STATE / "reins" / "env" / "entries").glob("*"))
    if not cached and not os.environ.get("REINS_ENV_LONG"):
        pytest.skip("the Debian build takes a minute or more: make env-long builds it, "
                    "then make check reuses the cache")
    if not cached and not _mirror_reachable():
        pytest.skip("the host's Debian mirror is unreachable")
    DEBIAN_STATE.mkdir(parents=True, exist_ok=True)
    state = {"XDG_STATE_HOME": str(DEBIAN_STATE)}
    p = policy(caller, "environment:\n  debian: {suite: bookworm, packages: [python3]}\n")
    b = caller.run(["env", "build", "-p", p], env=state, timeout=900)
    assert b.returncode == 0, b.stderr
    lock = (p.parent / "reins.lock").read_text()
    assert any(l.startswith("package python3=") for l in lock.splitlines()), lock
    ws = caller.workspace()
    caller.write(ws / "test_sum.py", "import unittest\n\nclass T(unittest.TestCase):\n"
                 "    def test_sum(self):\n        self.assertEqual(sum([1, 2]), 3)\n")
    r = caller.sandbox(["/bin/sh", "-c",
                        "python3 -m unittest -q test_sum 2>&1; "
                        "python3 -c 'import sys; print(sys.executable)'; "
                        "test -e /usr/bin/umoci || echo no-host-tools; cat /etc/debian_version"],
                       ws=ws, opts=["-p", p], env=state)
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout and "/usr/bin/python3" in r.stdout
    assert "no-host-tools" in r.stdout
    if not os.environ.get("REINS_ENV_LONG"):
        return  # make check: the cached root only; the rebuilds below are make env-long's
    # a second machine: no cache, the lock followed, the same root (key) again
    key = [l.split()[1] for l in lock.splitlines() if l.startswith("key ")][0]
    assert caller.run(["env", "rm", key[:16]], env=state).returncode == 0
    again = caller.run(["env", "build", "-p", p], env=state, timeout=900)
    assert again.returncode == 0, again.stderr
    assert again.stdout.split()[:2] == [key, "built"], again.stdout
    # a lock the mirror cannot give is refused, and the cache keeps what it had
    forged = "\n".join("package python3=0.0-not-there" if l.startswith("package python3=")
                       else l for l in lock.splitlines()) + "\n"
    (p.parent / "reins.lock").write_text(forged)
    assert caller.run(["env", "rm", key[:16]], env=state).returncode == 0
    refused = caller.run(["env", "build", "-p", p], env=state, timeout=900)
    assert refused.returncode == 125, refused.stdout
    assert "entries" not in refused.stderr
    listed = caller.run(["env", "ls"], env=state).stdout
    assert key[:12] not in listed
    # --refresh resolves anew and rewrites the lock
    fresh = caller.run(["env", "build", "--refresh", "-p", p], env=state, timeout=900)
    assert fresh.returncode == 0, fresh.stderr
    assert "0.0-not-there" not in (p.parent / "reins.lock").read_text()


def test_a_failed_refresh_keeps_the_previous_environment(caller):
    layout = make_layout(caller)
    p = image_policy(caller, layout)
    ws = caller.workspace()
    first = caller.run(["env", "build", "-p", p])
    assert first.returncode == 0, first.stderr
    key = first.stdout.split()[0]
    lock_before = (p.parent / "reins.lock").read_text()
    blobs = layout / "blobs" / "sha256"
    biggest = max(blobs.iterdir(), key=lambda b: b.stat().st_size)
    os.chmod(biggest, 0o644)
    biggest.write_bytes(biggest.read_bytes()[:-1])  # truncated: its digest no longer holds
    refresh = caller.run(["env", "build", "--refresh", "-p", p])
    assert refresh.returncode == 125 and "does not match its digest" in refresh.stderr
    # the previous entry, its lock and its use are untouched
    assert (p.parent / "reins.lock").read_text() == lock_before
    r = caller.sandbox(["/bin/sh", "-c", "ls /bin/busybox"], ws=ws, opts=["-p", p])
    assert r.returncode == 0 and "/bin/busybox" in r.stdout, r.stderr
    assert key[:12] in caller.run(["env", "ls"]).stdout


def test_an_interrupted_build_leaves_no_entry_and_gc_sweeps_it(caller):
    cache = caller.home / ".local" / "state" / "reins" / "env"
    layout = make_layout(caller)
    p = image_policy(caller, layout)
    assert caller.run(["env", "build", "-p", p]).returncode == 0
    # what a build killed mid-way leaves: a tmp/ directory of a dead pid
    dead = cache / "tmp" / "build.999999999.abcdef"
    for d in (dead, dead / "rootfs", dead / "rootfs" / "bin"):
        caller.mkdir(d)
    assert "999999999" not in caller.run(["env", "ls"]).stdout
    gc = caller.run(["env", "gc"])
    assert gc.returncode == 0, gc.stderr
    assert not dead.exists()
    assert caller.run(["env", "ls"]).stdout.count("\n") == 2  # header + the entry


def test_a_docker_archive_goes_through_skopeo_and_is_verified(caller):
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed (scripts/deps.sh)")
    layout = make_layout(caller)
    archive = caller.mkdtemp(prefix="reins-env-archive-") / "busybox.tar"
    made = subprocess.run(["skopeo", "copy", "--quiet", f"oci:{layout}:busybox",
                           f"docker-archive:{archive}:busybox:test"],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert made.returncode == 0, made.stderr
    caller.own(archive)
    p = policy(caller, f"environment:\n  image: docker-archive:{archive}\n")
    r = caller.sandbox(["/bin/sh", "-c", "ls /bin/busybox; test -e /usr/bin/python3 || echo no"],
                       opts=["-p", p])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["/bin/busybox", "no"]
    lock = (p.parent / "reins.lock").read_text()
    assert f"source docker-archive:{archive}" in lock
    assert sum(l.startswith("digest sha256:") for l in lock.splitlines()) == 3


def test_a_lock_cannot_pin_another_environment_of_the_cache(caller):
    """reins.lock may sit where the agent writes: pinning the key of another
    cached environment (of another source) does not switch the root."""
    a = make_layout(caller, {"/etc/which": "A\n"})
    b = make_layout(caller, {"/etc/which": "B\n"})
    pa, pb = image_policy(caller, a), image_policy(caller, b)
    ka = caller.run(["env", "build", "-p", pa]).stdout.split()[0]
    assert caller.run(["env", "build", "-p", pb]).returncode == 0
    lock = pb.parent / "reins.lock"
    forged = [f"key {ka}" if l.startswith("key ") else l for l in lock.read_text().splitlines()]
    lock.write_text("\n".join(forged) + "\n")
    r = caller.sandbox(["cat", "/etc/which"], opts=["-p", pb])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "B\n"


def test_a_writable_layer_is_kept_with_an_overlay_session(caller):
    import re
    layout = make_layout(caller)
    p = image_policy(caller, layout, "  writable: session\n")
    ws = caller.workspace()
    opts = ["-p", p, "--workspace-mode", "overlay"]
    first = caller.sandbox(["/bin/sh", "-c", "echo tool > /bin/installed"], ws=ws, opts=opts)
    assert first.returncode == 0, first.stderr
    sid = re.search(r"changes kept in session ([0-9a-f]{24})", first.stderr).group(1)
    kept = caller.home / ".local" / "state" / "reins" / "workspaces" / sid / "environment"
    assert (kept / "bin" / "upper" / "installed").read_text() == "tool\n"
    resumed = caller.sandbox(["cat", "/bin/installed"], ws=ws, opts=[*opts, "--resume", sid])
    assert resumed.returncode == 0 and resumed.stdout == "tool\n", resumed.stderr
    fresh = caller.sandbox(["/bin/sh", "-c", "test -e /bin/installed && echo leaked || echo clean"],
                           ws=ws, opts=opts)
    assert fresh.stdout.strip() == "clean", fresh.stderr
    assert caller.run(["discard", sid]).returncode == 0
    assert not kept.exists()
    assert list((caller.home / ".local" / "state" / "reins" / "env" / "sessions").iterdir()) == []


def test_reins_oci_refuses_a_policy_with_an_environment(caller):
    from test_oci import Oci
    o = Oci(caller)
    b = o.bundle(["/bin/true"])
    p = image_policy(caller, make_layout(caller))
    r = o.drive([["create", "--bundle", str(b), "env1"]], glob=["--policy", str(p)])
    assert r[0]["rc"] != 0
    assert any("a container's root is its bundle's" in line.get("msg", "")
               for line in o.log_lines()), o.log_lines()
