"""Direct mode's files.changed record without walking the workspace at the
start (audit/changes_cache.c, audit/changes_watch.c): the workspace as it
started comes from the previous session's cache, checked directory by
directory; the record must stay what a walk before and after would say.

Each test here fails on the naive designs the record must not fall back to
(a `make weak` build, REINS_WEAKEN=...):
  change-cache-trust  the cache believed without checking the directories
  change-ctime        modified = size or mtime differ (no ctime)
  change-ctime-only   no names from the start: what has a ctime from the
                      session is created unless its inode was there
  change-cache-sum    the cache's checksum not checked
  change-event-mask   the watch asks for writes and entries only (no close
                      after writing, no metadata change)
Root's sessions take the end from fanotify, unprivileged ones from inotify:
the `caller` fixture runs each test both ways.
"""
import json
import os
import time
from pathlib import Path

# A directory changed less than 2 s before the cache recorded it is listed
# again at the next start, whatever the cache says: the tests that need the
# cache to vouch for a directory let its times age first.
RACY_S = 2.2


def record(caller, ws, script):
    """Run `sh -c script` in ws; the trail's files.changed record."""
    d = caller.mkdtemp(prefix="reins-trail-")
    trail = os.path.join(d, "trail.jsonl")
    r = caller.sandbox(["sh", "-c", script], ws=ws, opts=["-q", "--audit", trail])
    assert r.returncode == 0, r.stderr
    with open(trail, "rb") as f:
        records = [json.loads(line) for line in f.read().splitlines()]
    (c,) = [x for x in records if x.get("type") == "files.changed"]
    return c


def lists(c):
    return sorted(c["created"]), sorted(c["modified"]), sorted(c["deleted"])


def cache_files(caller):
    d = Path(caller.home) / ".local/state/reins/changes-cache"
    return [p for p in d.iterdir() if p.is_file() and not p.name.endswith(".new")]


def test_host_edits_between_runs_are_not_the_agents(caller):
    """What the host changed between two sessions (a file edited, one
    created, one deleted, in a directory the agent then changes too) is not
    in the second session's record; what the agent did is, also in a
    directory the cache vouches for."""
    ws = caller.workspace()
    caller.write(ws / "sub" / "a.txt", "a\n")
    caller.write(ws / "sub" / "b.txt", "b\n")
    caller.write(ws / "sub" / "c.txt", "c\n")
    caller.write(ws / "stable" / "x.txt", "x\n")
    caller.write(ws / "stable" / "y.txt", "y\n")
    caller.write(ws / "top.txt", "t\n")
    time.sleep(RACY_S)
    assert lists(record(caller, ws, "true")) == ([], [], [])
    assert cache_files(caller), "the first session kept no cache"
    # the host, between the two sessions
    with open(ws / "sub" / "a.txt", "a") as f:
        f.write("host\n")
    caller.write(ws / "sub" / "hostnew.txt", "h\n")
    os.unlink(ws / "sub" / "c.txt")
    with open(ws / "top.txt", "a") as f:
        f.write("host\n")
    c = record(caller, ws, "echo n > sub/agent.txt; rm sub/b.txt; rm stable/x.txt")
    assert lists(c) == (["sub/agent.txt"], [], ["stable/x.txt", "sub/b.txt"]), c


def test_rename_over_an_existing_file_is_modified(caller):
    """A file written beside and renamed over an existing one (editors, git)
    is "modified", never "created"; the temporary name is in no list."""
    ws = caller.workspace()
    caller.write(ws / "src" / "main.c", "int main;\n")
    caller.write(ws / "src" / "util.c", "int util;\n")
    time.sleep(RACY_S)
    record(caller, ws, "true")
    c = record(caller, ws, "echo 'int main(void);' > src/.main.c.swp && mv src/.main.c.swp src/main.c")
    assert lists(c) == ([], ["src/main.c"], []), c


def test_directory_moved_out_lists_its_files_as_deleted(caller):
    """A directory the agent moves out of the workspace takes its files'
    names with it: each is listed as deleted."""
    ws = caller.workspace()
    caller.write(ws / "pkg" / "one.txt", "1\n")
    caller.write(ws / "pkg" / "deep" / "two.txt", "2\n")
    caller.write(ws / "other.txt", "o\n")
    time.sleep(RACY_S)
    record(caller, ws, "true")
    c = record(caller, ws, "mv pkg /tmp/pkg && test -f /tmp/pkg/deep/two.txt")
    assert lists(c) == ([], [], ["pkg", "pkg/deep", "pkg/deep/two.txt", "pkg/one.txt"]), c


def test_modified_file_with_its_mtime_restored_is_modified(caller):
    """Contents rewritten to the same size and the mtime put back (touch -d,
    os.utime) is still a modification: ctime cannot be put back."""
    ws = caller.workspace()
    caller.write(ws / "conf" / "settings.txt", "aaaa\n")
    os.utime(ws / "conf" / "settings.txt", ns=(1_600_000_000_000_000_000, 1_600_000_000_123_456_789))
    time.sleep(RACY_S)
    record(caller, ws, "true")
    c = record(caller, ws, "printf 'bbbb\\n' > conf/settings.txt && "
                           "touch -d '@1600000000.123456789' conf/settings.txt")
    st = os.stat(ws / "conf" / "settings.txt")
    assert st.st_mtime_ns == 1_600_000_000_123_456_789 and st.st_size == 5, st
    assert lists(c) == ([], ["conf/settings.txt"], []), c


def test_corrupted_cache_still_gives_the_exact_record(caller):
    """A cache whose bytes were altered (a name in it changed) is not used:
    the start walks, and the record is exact."""
    ws = caller.workspace()
    caller.write(ws / "keep" / "marker-aaaa.txt", "m\n")
    caller.write(ws / "keep" / "other.txt", "o\n")
    time.sleep(RACY_S)
    record(caller, ws, "true")
    files = cache_files(caller)
    assert files, "the first session kept no cache"
    altered = 0
    for p in files:
        data = p.read_bytes()
        if b"marker-aaaa.txt" in data:
            p.write_bytes(data.replace(b"marker-aaaa.txt", b"marker-bbbb.txt"))
            altered += 1
    assert altered, "no cache holds the marker's name"
    c = record(caller, ws, "echo n > new.txt; rm keep/marker-aaaa.txt")
    assert lists(c) == (["new.txt"], [], ["keep/marker-aaaa.txt"]), c
    # and the next session, from the cache the walk kept, too
    c = record(caller, ws, "rm keep/other.txt")
    assert lists(c) == ([], [], ["keep/other.txt"]), c


def test_chmod_mmap_write_and_type_change_are_recorded(caller):
    """What moves no size and reports no write: a directory's mode changed,
    a file written through a shared memory mapping (only its close after
    opening it for writing is reported), a directory replaced by a file of
    the same name (its files deleted). (Weak: change-event-mask, the watch
    asks for writes and entries only.)"""
    ws = caller.workspace()
    caller.write(ws / "d1" / "keep.txt", "k\n")
    caller.write(ws / "d2" / "m.bin", "abcdef\n")
    caller.write(ws / "d3" / "q.txt", "q\n")
    time.sleep(RACY_S)
    record(caller, ws, "true")
    script = ("import mmap, os, shutil\n"
              "os.chmod('d1', 0o700)\n"
              "f = open('d2/m.bin', 'r+b'); m = mmap.mmap(f.fileno(), 0); f.close()\n"
              "m[0:1] = b'Z'; m.flush(); m.close()\n"
              "shutil.rmtree('d3'); open('d3', 'w').write('now a file')\n")
    d = caller.mkdtemp(prefix="reins-trail-")
    trail = os.path.join(d, "trail.jsonl")
    r = caller.sandbox(["python3", "-c", script], ws=ws, opts=["-q", "--audit", trail])
    assert r.returncode == 0, r.stderr
    with open(trail, "rb") as f:
        (c,) = [x for x in map(json.loads, f.read().splitlines()) if x.get("type") == "files.changed"]
    assert (ws / "d2" / "m.bin").read_bytes() == b"Zbcdef\n"
    assert lists(c) == ([], ["d1", "d2/m.bin", "d3"], ["d3/q.txt"]), c
