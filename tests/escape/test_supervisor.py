"""ESCAPES.md "supervisor exhaustion", the workspace side: the agent leaves a
400-deep tree of 250-byte names holding 20 000 files in a direct-mode
workspace. The supervisor's end-of-session change scan runs outside the
sandbox's memory limit: its peak RSS must stay under 64 MiB and the trail's
files.changed record under its cap. (Weak mode: REINS_WEAKEN=host-caps lists
every change whole, as reins did before the caps.)

Peak RSS is the reins process's own VmHWM, read at exit by a small
LD_PRELOAD library (the sandbox drops LD_PRELOAD: the agent's processes are
not counted). The diff/apply side is in tests/integration/test_bounds.py."""
import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import ENVIRONMENT_POLICY, judge, new_dir, rm_tree

RSS_CAP_KIB = 64 * 1024
RECORD_CAP = 256 * 1024

HWM_SOURCE = Path(__file__).resolve().parents[1] / "shared" / "hwm_report.c"

DEEP_TREE = r"""
import os
fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
for level in range(400):
    for k in range(50):
        os.close(os.open(("f%03d-%03d" % (level, k)).ljust(250, "y"),
                         os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    name = ("d%03d" % level).ljust(250, "x")
    os.mkdir(name, dir_fd=fd)
    sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd)
    fd = sub
print("DONE")
"""


@pytest.fixture(scope="module")
def hwm_library():
    d = tempfile.mkdtemp(prefix="reins-hwm-", dir="/tmp")
    os.chmod(d, 0o755)
    lib = os.path.join(d, "hwm.so")
    subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", lib, str(HWM_SOURCE)], check=True,
                   timeout=120)
    os.chmod(lib, 0o755)
    yield lib
    rm_tree(d)


def test_change_scan_of_a_deep_tree_of_long_names(sandbox, user, ws, hwm_library):
    if ENVIRONMENT_POLICY:
        pytest.skip("the agent here is a python3 script: make escape-env's image is busybox")
    script = ws / "agent.py"
    script.write_text(DEEP_TREE)
    os.chmod(script, 0o644)
    if os.geteuid() == 0:
        os.chown(script, user.uid, user.gid)
    out = new_dir(user, prefix="reins-hwm-out-")
    trail = out / "trail.jsonl"
    try:
        r = sandbox.run(["python3", "agent.py"], key="supervisor_scan",
                        opts=["-q", "--audit", str(trail)],
                        env={"LD_PRELOAD": hwm_library, "REINS_TEST_HWM_DIR": str(out)},
                        timeout=900)
        assert r.returncode == 0 and "DONE" in r.stdout, r.stderr[-2000:]
        peaks = [int((out / f).read_text()) for f in os.listdir(out) if f.isdigit()]
        assert peaks, "no reins process reported its VmHWM"
        lines = [line for line in trail.read_bytes().splitlines()
                 if json.loads(line).get("type") == "files.changed"]
        assert len(lines) == 1, len(lines)
        results = {
            "rss": (max(peaks) >= RSS_CAP_KIB, f"supervisor peak RSS {max(peaks)} KiB"),
            "record": (len(lines[0]) >= RECORD_CAP, f"files.changed record {len(lines[0])} bytes"),
        }
        judge("supervisor_scan", results, user)
    finally:
        rm_tree(out)
