#!/usr/bin/env python3
"""For `make escape-env`: an OCI layout of the offline busybox image (with
/etc/shadow and a key planted, as a real image may hold them) and a policy
naming it as the environment, readable by root and nobody. Prints the
policy's path. Usage: make_env_policy.py DIR"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import oci_images  # noqa: E402


def main(dest):
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="reins-escape-env-"))
    try:
        layout, unpacked = dest / "layout", work / "unpacked"
        ref = f"{layout}:busybox"
        umoci = lambda *a: subprocess.run(["umoci", *a], check=True, capture_output=True)
        umoci("init", "--layout", str(layout))
        umoci("new", "--image", ref)
        umoci("unpack", "--image", ref, str(unpacked))
        subprocess.run(["cp", "-a", f"{oci_images.images() / 'rootfs'}/.",
                        str(unpacked / "rootfs")], check=True)
        (unpacked / "rootfs" / "etc" / "shadow").write_text("root:IMAGE-HASH:19000::::::\n")
        umoci("repack", "--image", ref, str(unpacked))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    policy = dest / "policy.yaml"
    policy.write_text("version: 1\nextends: default\nenvironment:\n"
                      f"  image: oci:{layout}:busybox\n")
    for root, dirs, files in os.walk(dest):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
    print(policy)


if __name__ == "__main__":
    main(sys.argv[1])
