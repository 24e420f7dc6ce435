"""Deny globs stay exact while their matches are cached between runs.

`**/.env`-style globs are no longer matched by walking the workspace at every
start: reins keeps each tree's matches in its private state
(sandbox/deny_cache.h) and, at the next start, stats the directories only,
reading again those whose identity or change times moved. These tests change
the workspace on the host between two runs, in the ways that could leave a
cache stale, and tamper with the cache itself; the second run must hide the
new match every time, as root and unprivileged.

A directory changed within 2 s of being read is read again at the next start
whatever its times say (two changes in one timestamp tick look like one), so
the trees are made, then left alone for 2.5 s before the first run: only then
does the first run's cache vouch for them, and only then could a stale cache
show up as a visible secret."""
import os
import struct
import time
from pathlib import Path

SECRET = "reins-deny-cache-secret"
SETTLE = 2.5  # past the cache's 2 s racy window


def deep_tree(caller, ws, depth=6, width=3):
    """A few levels of directories with ordinary files; returns the deepest."""
    d = ws
    for level in range(depth):
        for i in range(width):
            caller.write(d / f"side{level}_{i}" / "file.txt", "x\n")
        d = d / f"level{level}"
        caller.mkdir(d)
        caller.write(d / "readme.txt", "plain\n")
    return d


def read_inside(caller, ws, rel):
    r = caller.sandbox(["sh", "-c", f"cat {rel} 2>&1; echo rc=$?"], ws=ws, opts=["-q"])
    assert r.returncode == 0, r.stderr
    return r.stdout


def assert_hidden(out):
    assert SECRET not in out, out
    assert "rc=0" not in out, out


def cache_files(caller):
    d = Path(caller.home) / ".local" / "state" / "reins" / "deny-cache"
    return sorted(d.iterdir()) if d.is_dir() else []


def test_env_created_on_the_host_between_runs_is_hidden(caller):
    ws = caller.workspace()
    deep = deep_tree(caller, ws)
    rel = deep.relative_to(ws)
    time.sleep(SETTLE)
    assert "No such file" in read_inside(caller, ws, f"{rel}/.env")  # builds the cache
    assert cache_files(caller), "no deny cache was written"
    caller.write(deep / ".env", SECRET + "\n")
    assert_hidden(read_inside(caller, ws, f"{rel}/.env"))
    # and in a directory that did not exist when the cache was made
    caller.write(deep / "new" / "deeper" / "key.pem", SECRET + "\n")
    assert_hidden(read_inside(caller, ws, f"{rel}/new/deeper/key.pem"))


def test_env_renamed_into_place_between_runs_is_hidden(caller):
    ws = caller.workspace()
    deep = deep_tree(caller, ws)
    rel = deep.relative_to(ws)
    caller.write(deep / "env.draft", SECRET + "\n")
    elsewhere = caller.mkdir(ws / "outside")
    caller.write(elsewhere / "id_rsa.tmp", SECRET + "\n")
    time.sleep(SETTLE)
    assert SECRET in read_inside(caller, ws, f"{rel}/env.draft")  # not a match yet
    os.rename(deep / "env.draft", deep / ".env")
    os.rename(elsewhere / "id_rsa.tmp", ws / "level0" / "id_rsa")
    assert_hidden(read_inside(caller, ws, f"{rel}/.env"))
    assert_hidden(read_inside(caller, ws, "level0/id_rsa"))


def test_directory_times_put_back_do_not_hide_a_change(caller):
    """utime() can put a directory's mtime back; its ctime moves all the same."""
    ws = caller.workspace()
    deep = deep_tree(caller, ws)
    rel = deep.relative_to(ws)
    time.sleep(SETTLE)
    read_inside(caller, ws, f"{rel}/.env")
    before = os.stat(deep)
    caller.write(deep / ".env", SECRET + "\n")
    os.utime(deep, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(deep).st_mtime_ns == before.st_mtime_ns
    assert_hidden(read_inside(caller, ws, f"{rel}/.env"))


def test_a_directory_swapped_for_another_is_read_again(caller):
    """A subtree replaced by another of the same name (mv away, mv in)."""
    ws = caller.workspace()
    deep_tree(caller, ws, depth=3)
    other = caller.mkdtemp(prefix="reins-other-")
    caller.write(other / "tree" / "sub" / ".env", SECRET + "\n")
    time.sleep(SETTLE)
    read_inside(caller, ws, "level0/level1/.env")
    os.rename(ws / "level0", other / "old")
    os.rename(other / "tree", ws / "level0")
    assert_hidden(read_inside(caller, ws, "level0/sub/.env"))


def _drop_matches(blob):
    """The cache with its match records cut out and the counts fixed up, but
    the checksum left as it was (see deny_cache.c: an 88-byte header of
    magic, dir_count, match_count, names_bytes, key and sum; 64-byte
    directory records; 16-byte match records; names)."""
    magic, dirs, matches, names = struct.unpack_from("<8sIIQ", blob, 0)
    assert magic == b"REINSDC1", magic
    start = 88 + dirs * 64
    cut = blob[:start] + blob[start + matches * 16:]
    return cut[:12] + struct.pack("<I", 0) + cut[16:], matches


def test_a_damaged_or_edited_cache_fails_closed(caller):
    ws = caller.workspace()
    deep = deep_tree(caller, ws)
    rel = deep.relative_to(ws)
    caller.write(deep / ".env", SECRET + "\n")
    time.sleep(SETTLE)
    assert_hidden(read_inside(caller, ws, f"{rel}/.env"))
    files = cache_files(caller)
    assert files, "no deny cache was written"
    # the match cut out of the cache: a loader that trusted it would show .env
    edited = 0
    for f in files:
        blob = f.read_bytes()
        cut, matches = _drop_matches(blob)
        if matches:
            f.write_bytes(cut)
            edited += 1
    assert edited, "no cache held the .env match"
    assert_hidden(read_inside(caller, ws, f"{rel}/.env"))
    # truncated, and garbage of the right size
    for f in cache_files(caller):
        blob = f.read_bytes()
        f.write_bytes(blob[: len(blob) // 2])
    assert_hidden(read_inside(caller, ws, f"{rel}/.env"))
    for f in cache_files(caller):
        f.write_bytes(os.urandom(len(f.read_bytes())))
    assert_hidden(read_inside(caller, ws, f"{rel}/.env"))


def test_a_locked_directory_of_the_callers_is_hidden_whole(caller):
    """A directory of the caller's that the caller cannot list (mode 0) is one
    chmod away for the agent, who runs as the same uid: its .env must not be
    readable after that chmod (root lists it anyway and hides the .env)."""
    ws = caller.workspace()
    locked = ws / "locked"
    caller.write(locked / "sub" / ".env", SECRET + "\n")
    caller.write(locked / "plain.txt", "plain\n")
    os.chmod(locked, 0)
    try:
        for _ in range(2):  # with no cache, then with one
            r = caller.sandbox(["sh", "-c", "chmod 755 locked 2>&1; cat locked/sub/.env 2>&1; "
                                "echo rc=$?"], ws=ws, opts=["-q"])
            assert r.returncode == 0, r.stderr
            assert_hidden(r.stdout)
            os.chmod(locked, 0)  # in case the chmod inside went through
    finally:
        os.chmod(locked, 0o755)
