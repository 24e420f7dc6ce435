"""A bounded trail, and no record, no run (issue 12, items 5 and 7).

- A flood of execs with huge argv from a readonly session: argv is cut in
  the records (the full value's length and SHA-256 kept), the trail stays
  under its size cap, the dropped records are counted in a `limit` record,
  and `audit verify` still says intact.
- A trail that cannot be written (its filesystem filled by the agent): the
  session is frozen and ended with exit status 123 and one line saying why;
  `session.start` was on disk before the command ran, and the trail is
  sealed from the space reserved for it.
As root and as nobody (the `caller` fixture)."""
import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import IS_ROOT, one_error_line

EXIT_TRAIL_FAILED = 123
ARG_BYTES = 60_000  # one argument: below MAX_ARG_STRLEN (128 KiB)
ARGS = 30            # 1.8 MB of argv per exec


def flood_script(execs):
    """Python that execs /bin/true `execs` times with 1.8 MB of argv each;
    every argument differs, so each has its own SHA-256."""
    return ("import subprocess\n"
            f"for i in range({execs}):\n"
            f"    a = 'x' * {ARG_BYTES} + str(i)\n"
            f"    subprocess.run(['/bin/true'] + [a] * {ARGS})\n")


def run_flood(caller, execs, policy_text=None):
    d = caller.mkdtemp(prefix="reins-flood-")
    trail = d / "trail.jsonl"
    policy = "readonly"
    if policy_text:
        policy = caller.write(d / "policy.yaml", policy_text)
    r = caller.sandbox(["python3", "-c", flood_script(execs)],
                       opts=["-q", "-p", policy, "--audit", trail])
    return r, trail


def records_of(trail):
    with open(trail, "rb") as f:
        return [json.loads(line) for line in f.read().splitlines()]


def verify(caller, trail):
    r = caller.run(["audit", "verify", trail])
    return r.returncode, r.stdout + r.stderr


def test_huge_argv_is_cut_with_its_length_and_hash(caller):
    execs = 40  # 72 MB of argv in all
    r, trail = run_flood(caller, execs)
    assert r.returncode == 0, r.stderr
    size = os.path.getsize(trail)
    # each exec record is capped at 64 KiB: 40 of them, far below 72 MB
    assert size < 4 << 20, f"the trail holds {size} bytes"
    with open(trail, "rb") as f:
        longest = max(len(line) for line in f.read().splitlines())
    assert longest <= 64 << 10, longest
    records = records_of(trail)
    floods = [e for e in records if e.get("type") == "exec" and e.get("path") == "/bin/true"]
    assert len(floods) == execs, [e.get("type") for e in records]
    # the small fields stay whole next to a cut argv
    assert floods[7]["result"] == "ok" and isinstance(floods[7]["cwd"], str), floods[7]["cwd"]
    cut = floods[7]["argv"][1]
    want = ("x" * ARG_BYTES + "7").encode()
    assert cut["bytes"] == len(want), cut.keys()
    assert cut["sha256"] == hashlib.sha256(want).hexdigest()
    assert want.decode().startswith(cut["truncated"]) and len(cut["truncated"]) >= 1024
    # the items past the record's budget: counted, with the whole argv's hash
    last = floods[7]["argv"][-1]
    assert last.get("truncated_items", 0) > 0, floods[7]["argv"][-1]
    argv0 = [b"/bin/true"] + [want] * ARGS
    assert last["bytes"] == sum(len(a) + 1 for a in argv0)
    assert last["sha256"] == hashlib.sha256(b"".join(a + b"\0" for a in argv0)).hexdigest()
    status, out = verify(caller, trail)
    assert status == 0, out


def test_trail_size_cap_counts_what_it_drops(caller):
    policy = "version: 1\nextends: readonly\nlimits:\n  trail_size: 1MiB\n"
    r, trail = run_flood(caller, 60, policy)
    assert r.returncode == 0, r.stderr
    size = os.path.getsize(trail)
    assert size <= 1 << 20, f"the trail holds {size} bytes, over its 1 MiB cap"
    records = records_of(trail)
    limits = [e for e in records if e.get("type") == "limit" and e.get("kind") == "trail_size"]
    assert limits, [e.get("type") for e in records]
    summary = limits[-1]
    assert summary["suppressed"] > 0 and summary["suppressed_types"]["exec"] > 0, summary
    assert summary["limit_bytes"] == 1 << 20
    types = [e["type"] for e in records]
    assert types[0] == "session.start" and "session.end" in types, types
    assert records[-1]["type"] == "checkpoint" and records[-1]["final"], records[-1]
    status, out = verify(caller, trail)
    assert status == 0, out


def test_trail_rate_cap_counts_what_it_drops(caller):
    policy = "version: 1\nextends: readonly\nlimits:\n  trail_rate: 64KiB\n"
    r, trail = run_flood(caller, 40, policy)
    assert r.returncode == 0, r.stderr
    records = records_of(trail)
    limits = [e for e in records if e.get("type") == "limit" and e.get("kind") == "trail_rate"]
    assert limits, [e.get("type") for e in records]
    assert sum(e.get("suppressed", 0) for e in limits) > 0, limits
    floods = [e for e in records if e.get("type") == "exec" and e.get("path") == "/bin/true"]
    assert len(floods) < 40
    status, out = verify(caller, trail)
    assert status == 0, out


@pytest.mark.parametrize("text,line,key", [
    ("version: 1\nlimits:\n  trail_size: 100KiB\n", 3, "limits.trail_size"),
    ("version: 1\nname: x\nlimits:\n  trail_rate: 1KiB\n", 4, "limits.trail_rate"),
])
def test_trail_limits_are_validated(caller, text, line, key):
    d = caller.mkdtemp(prefix="reins-policy-")
    path = caller.write(d / "p.yaml", text)
    r = caller.sandbox(["true"], opts=["-p", path])
    assert r.returncode == 125, (r.stdout, r.stderr)
    err = one_error_line(r.stderr)
    assert f"{path}:{line}" in err and key in err, err
    assert "at least" in err, err


# --------------------------------------------------------------------------
# no record, no run


@pytest.fixture(params=["tmpfs", "ext4"])
def small_fs(request, caller, tmp_path):
    """A small filesystem the caller owns: the agent can fill it. A tmpfs,
    and an ext4 image on a loop device (a journal: freed blocks come back
    only once committed)."""
    if not IS_ROOT:
        pytest.skip("mounting a small filesystem needs root")
    d = caller.mkdtemp(prefix="reins-smallfs-")
    if request.param == "tmpfs":
        mount = ["mount", "-t", "tmpfs", "-o", "size=6m,mode=0755", "reins-smallfs", str(d)]
    else:
        image = tmp_path / "small.ext4"
        with open(image, "wb") as f:
            f.truncate(16 << 20)
        subprocess.run(["mkfs.ext4", "-q", "-m", "0", str(image)], check=True)
        mount = ["mount", "-o", "loop", str(image), str(d)]
    if subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip(f"cannot mount a small {request.param} here")
    os.chmod(d, 0o755)
    caller.own(d)
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], check=False)


def test_full_disk_freezes_and_ends_the_session(caller, small_fs):
    ws = caller.mkdir(small_fs / "ws")
    trails = caller.mkdir(small_fs / "trails", mode=0o700)
    trail = trails / "t.jsonl"
    # fill the filesystem the trail shares from the first instruction, then
    # go on doing things that would be recorded
    elsewhere = caller.mkdtemp(prefix="reins-marker-")
    cmd = ["/bin/sh", "-c",
           "cat /dev/zero > fill 2>/dev/null; for i in $(seq 3000); do /bin/true $i; done; "
           f"/bin/sleep 5; touch {elsewhere}/ran-to-the-end"]
    r = caller.sandbox(cmd, ws=ws, opts=["--audit", trail, "--rw", elsewhere])
    assert r.returncode == EXIT_TRAIL_FAILED, (r.returncode, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    warned = [line for line in lines if line.startswith("reins: warning:")]
    assert len(warned) == 1 and "same filesystem" in warned[0], lines
    failed = [line for line in lines if "cannot be written" in line]
    assert len(failed) == 1 and f"exit {EXIT_TRAIL_FAILED}" in failed[0], lines
    records = records_of(trail)
    assert records[0]["type"] == "session.start", records[:2]
    kinds = [e.get("kind") for e in records if e.get("type") == "limit"]
    assert "trail_write" in kinds, [e.get("type") for e in records]
    playbooks = [e.get("action") for e in records if e.get("type") == "risk.playbook"]
    assert "freeze" in playbooks, [e.get("type") for e in records]
    assert not (elsewhere / "ran-to-the-end").exists(), "the agent went on"
    assert records[-1]["type"] == "checkpoint" and records[-1]["final"], records[-1]
    status, out = verify(caller, trail)
    assert status == 0, out


def test_full_disk_before_the_start_runs_nothing(caller, small_fs):
    ws = caller.mkdir(small_fs / "ws")
    trails = caller.mkdir(small_fs / "trails", mode=0o700)
    with open(small_fs / "fill", "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 16))
        except OSError:
            pass
    r = caller.sandbox(["sh", "-c", "touch ran"], ws=ws, opts=["-q", "--audit", trails / "t.jsonl"])
    assert r.returncode in (125, EXIT_TRAIL_FAILED), (r.returncode, r.stderr)
    one_error_line(r.stderr)
    assert not (ws / "ran").exists()
