"""Offline images for the OCI engine tests and the OCI bench.

No registry is reachable from the test machines, so the images are made here
from Debian's statically linked busybox (package busybox-static):

  rootfs/          busybox, one relative symlink per applet, /etc/passwd and
                   /etc/group (root and nobody), empty /proc /sys /dev /tmp
  rootfs.tar       that tree as a tar, for `podman import`
  busybox-oci.tar  an OCI image layout made with umoci, as a tar, for
                   `ctr image import` (containerd only takes archives): tags
                   busybox (command /bin/sh) and pause (command: sleep)

They are built once into build/oci-images/KEY/ (KEY: a hash of the busybox
binary and of this recipe) and reused by later test sessions. Building goes
to a temporary directory renamed into place, so two sessions building at the
same time both end with one complete copy.

`bundle(dest, args)` makes an OCI runtime bundle (rootfs + config.json) for
tests and benches that drive a runtime directly, without an engine.
"""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / "build" / "oci-images"
RECIPE_VERSION = "2"
PODMAN_TAG = "localhost/reins-busybox:test"
OCI_TAG = "busybox"  # the ref name inside the OCI layout
PAUSE_TAG = "pause"  # the same image whose command sleeps: a CRI pod's sandbox
TIMEOUT = 120

PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
GROUP = "root:x:0:\nnogroup:x:65534:\n"


def busybox_path():
    """The statically linked busybox, or None. A dynamically linked one
    would need the host's libc inside the image."""
    for p in ("/bin/busybox", "/usr/bin/busybox"):
        if os.access(p, os.X_OK):
            with open(p, "rb") as f:
                head = f.read(4096)
            # a static ELF has no PT_INTERP, hence no loader path in it
            if b"/lib64/ld-linux" not in head and b"/lib/ld-linux" not in head:
                return p
    return None


def _key(busybox):
    h = hashlib.sha256(RECIPE_VERSION.encode())
    with open(busybox, "rb") as f:
        h.update(f.read())
    return h.hexdigest()[:16]


def _make_rootfs(busybox, root):
    for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "root", "run"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    shutil.copy2(busybox, root / "bin" / "busybox")
    os.chmod(root / "bin" / "busybox", 0o755)
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True,
                             check=True, timeout=TIMEOUT).stdout.split()
    for name in applets:
        link = root / "bin" / name
        # relative links: `busybox --install -s` writes absolute host paths
        if "/" not in name and not link.exists():
            os.symlink("busybox", link)
    (root / "etc" / "passwd").write_text(PASSWD)
    (root / "etc" / "group").write_text(GROUP)
    (root / "etc" / "hostname").write_text("reins-test\n")


def _make_oci_layout(rootfs, work, archive):
    """An OCI image layout holding rootfs as one layer, tarred."""
    layout = work / "layout"
    unpacked = work / "unpacked"
    ref = f"{layout}:{OCI_TAG}"

    def umoci(*args):
        subprocess.run(["umoci", *args], check=True, capture_output=True, timeout=TIMEOUT)

    umoci("init", "--layout", str(layout))
    umoci("new", "--image", ref)
    extra = [] if os.geteuid() == 0 else ["--rootless"]
    umoci("unpack", *extra, "--image", ref, str(unpacked))
    subprocess.run(["cp", "-a", f"{rootfs}/.", str(unpacked / "rootfs")], check=True,
                   timeout=TIMEOUT)
    umoci("repack", "--image", ref, str(unpacked))
    umoci("config", "--image", ref, "--config.cmd", "/bin/sh",
          "--config.env", "PATH=/bin")
    umoci("config", "--image", ref, "--tag", PAUSE_TAG, "--config.cmd", "sleep",
          "--config.cmd", "2147483647")
    subprocess.run(["tar", "-C", str(layout), "-cf", str(archive), "."], check=True,
                   timeout=TIMEOUT)
    shutil.rmtree(unpacked, ignore_errors=True)
    shutil.rmtree(layout, ignore_errors=True)


def images():
    """The cache directory with rootfs/, rootfs.tar and, when umoci is
    installed, busybox-oci.tar. Raises RuntimeError with the reason when
    busybox-static is missing."""
    busybox = busybox_path()
    if busybox is None:
        raise RuntimeError("no statically linked busybox (Debian package busybox-static)")
    final = CACHE / _key(busybox)
    want_oci = shutil.which("umoci") is not None
    if (final / "rootfs.tar").exists() and (not want_oci or (final / "busybox-oci.tar").exists()):
        return final
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=CACHE))
    try:
        rootfs = work / "rootfs"
        _make_rootfs(busybox, rootfs)
        subprocess.run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf",
                        str(work / "rootfs.tar"), "."], check=True, timeout=TIMEOUT)
        if want_oci:
            _make_oci_layout(rootfs, work, work / "busybox-oci.tar")
        os.chmod(work, 0o755)
        try:
            os.rename(work, final)  # never over another's: it may be in use
        except OSError:
            if not (final / "rootfs.tar").exists():  # a stale, incomplete one
                shutil.rmtree(final, ignore_errors=True)
                os.rename(work, final)
            # else another run (a parallel worker) won the race: its copy is as good
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return final


def spec(args, terminal=False, annotations=None, hostname="reins-test"):
    """A minimal runtime-spec config.json for a root-run container: its own
    pid, mount, ipc, uts and network namespaces, the usual /proc /dev /sys."""
    caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_SETGID",
            "CAP_SETUID", "CAP_NET_BIND_SERVICE"]
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": terminal,
            "user": {"uid": 0, "gid": 0},
            "args": list(args),
            "env": ["PATH=/bin", "HOME=/root"],
            "cwd": "/",
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": hostname,
        "annotations": dict(annotations or {}),
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
        },
    }


def bundle(dest, args, **kw):
    """Make an OCI bundle at dest (created) running args; returns dest."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", f"{images() / 'rootfs'}", str(dest / "rootfs")], check=True,
                   timeout=TIMEOUT)
    (dest / "config.json").write_text(json.dumps(spec(args, **kw), indent=1))
    return dest
