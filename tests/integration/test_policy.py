"""`reins policy check|show`, bad policies, unsupported keys, `reins doctor`."""
import hashlib
import re

import pytest
import yaml

from conftest import has_location, one_error_line

GOOD = """\
# a hand-written policy
version: 1
name: hand-written
extends: default
agent: test-agent
filesystem:
  workspace: .
  workspace_mode: direct
  deny: ["**/.env", "**/*.pem", "~/.ssh"]
  protect: [.git/hooks, .git/config]
env:
  keep: [PATH, HOME, LANG]
  set: {GREETING: hello}
limits: {memory: 512MiB, pids: 64, cpus: 1, wall_time: 30s, open_files: 1024, tmp_size: 64MiB}
"""

# the same policy: keys reordered, flow/block style swapped, other comments
GOOD_REORDERED = """\
limits:
  tmp_size: 64MiB
  open_files: 1024
  wall_time: 30s
  cpus: 1
  pids: 64
  memory: 512MiB
env:
  set:
    GREETING: hello
  keep: [PATH, HOME, LANG]   # the same list
agent: test-agent
filesystem:
  protect: [.git/hooks, .git/config]
  deny:
    - "**/.env"
    - "**/*.pem"
    - "~/.ssh"
  workspace_mode: direct
  workspace: .
extends: default
name: hand-written
version: 1
"""


def _policy_dir(caller):
    return caller.mkdtemp(prefix="reins-pol-")


def _check(caller, text, name="policy.yaml"):
    d = _policy_dir(caller)
    path = caller.write(d / name, text)
    return path, caller.run(["policy", "check", path])


def test_policy_check_prints_sha256_and_normalized_yaml(caller):
    path, r = _check(caller, GOOD)
    assert r.returncode == 0, r.stderr
    first, _, body = r.stdout.partition("\n")
    m = re.fullmatch(r"# sha256: ([0-9a-f]{64})", first)
    assert m, first
    doc = yaml.safe_load(body)
    assert isinstance(doc, dict), body
    assert "hand-written" in body and "GREETING" in body
    assert hashlib.sha256(body.encode()).hexdigest() == m.group(1), \
        "the printed hash is not the SHA-256 of the printed normalized YAML"


def test_policy_check_is_stable_across_key_order_and_comments(caller):
    _, a = _check(caller, GOOD, "a.yaml")
    _, b = _check(caller, GOOD_REORDERED, "a.yaml")
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    assert a.stdout == b.stdout


def test_good_policy_runs(caller):
    d = _policy_dir(caller)
    path = caller.write(d / "good.yaml", GOOD)
    r = caller.sandbox(["sh", "-c", "echo $GREETING"], opts=["-p", path])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello\n"


BAD = {
    # name: (text, line, key)
    "unknown_key": ("version: 1\nfilesystem:\n  wrkspace: .\n", 3, "wrkspace"),
    "unknown_top_key": ("version: 1\nname: x\nfilesytem: {}\n", 3, "filesytem"),
    "bad_size": ("version: 1\nlimits:\n  memory: 12 parsecs\n", 3, "memory"),
    "bad_duration": ("version: 1\nlimits:\n  wall_time: soon\n", 3, "wall_time"),
    "bad_glob": ("version: 1\nfilesystem:\n  deny: [\"[unclosed\"]\n", 3, "deny"),
    "wrong_type_map_for_list": ("version: 1\nenv:\n  keep: {a: b}\n", 3, "keep"),
    "wrong_type_list_for_number": ("version: 1\nname: x\nlimits:\n  pids: [1, 2]\n", 4, "pids"),
    "bad_workspace_mode": ("version: 1\nfilesystem:\n  workspace_mode: sideways\n", 3, "workspace_mode"),
    "bad_version": ("version: 7\n", 1, "version"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_policy_is_one_line_with_file_line_and_key(caller, case):
    text, line, key = BAD[case]
    path, r = _check(caller, text, f"{case}.yaml")
    assert r.returncode == 1, (r.stdout, r.stderr)
    err = one_error_line(r.stderr)
    assert has_location(err, path, line), f"no {path}:{line} in {err!r}"
    assert key in err, err


def test_yaml_syntax_error_names_file_and_line(caller):
    path, r = _check(caller, "version: 1\nname: x\n  bad: indent\nenv: {}\n", "syntax.yaml")
    assert r.returncode == 1, (r.stdout, r.stderr)
    err = one_error_line(r.stderr)
    assert has_location(err, path, 3), err


def test_missing_policy_file(caller):
    d = _policy_dir(caller)
    path = d / "does-not-exist.yaml"
    r = caller.run(["policy", "check", path])
    assert r.returncode == 1, (r.stdout, r.stderr)
    err = one_error_line(r.stderr)
    assert "does-not-exist.yaml" in err


def test_extends_a_missing_file(caller):
    d = _policy_dir(caller)
    missing = d / "missing.yaml"
    path = caller.write(d / "child.yaml", f"version: 1\nextends: {missing}\n")
    r = caller.run(["policy", "check", path])
    assert r.returncode == 1, (r.stdout, r.stderr)
    err = one_error_line(r.stderr)
    assert has_location(err, path, 2), err
    assert "extends" in err and "missing.yaml" in err


def test_extends_cycle(caller):
    d = _policy_dir(caller)
    a, b = d / "a.yaml", d / "b.yaml"
    caller.write(a, f"version: 1\nextends: {b}\n")
    caller.write(b, f"version: 1\nextends: {a}\n")
    r = caller.run(["policy", "check", a])
    assert r.returncode == 1, (r.stdout, r.stderr)
    err = one_error_line(r.stderr)
    assert has_location(err, a, 2) or has_location(err, b, 2), err
    assert "extends" in err


@pytest.mark.parametrize("case", ["unknown_key", "bad_size", "bad_glob", "wrong_type_map_for_list"])
def test_run_with_a_bad_policy_exits_125_and_runs_nothing(caller, case):
    text, line, key = BAD[case]
    d = _policy_dir(caller)
    path = caller.write(d / f"{case}.yaml", text)
    ws = caller.workspace()
    r = caller.sandbox(["sh", "-c", "touch ran"], ws=ws, opts=["-p", path])
    assert r.returncode == 125, (r.stdout, r.stderr)
    err = one_error_line(r.stderr)
    assert has_location(err, path, line) and key in err, err
    assert not (ws / "ran").exists(), "the command ran under a bad policy"


UNSUPPORTED = {
    # name: (text, a word the refusal must contain)
    # host networking removes egress control: the policy alone is not enough
    "network_host": ("version: 1\nextends: default\nnetwork:\n  mode: host\n", "--net host"),
    "network_ask_without_proxy": ("version: 1\nextends: default\nnetwork:\n  ask: [x.test]\n",
                                  "ask"),
    "network_lists_without_proxy": ("version: 1\nextends: default\nnetwork:\n"
                                    "  allow: [\"api.anthropic.com:443\"]\n", "mode"),
    "approvals_bad_unknown": ("version: 1\nextends: default\napprovals: {unknown: allow}\n",
                              "unknown"),
    "exec_deny": ("version: 1\nextends: default\nexec:\n  deny: [/usr/bin/curl]\n", "exec"),
}


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
def test_unsupported_policy_keys_are_refused_clearly(caller, case):
    text, word = UNSUPPORTED[case]
    d = _policy_dir(caller)
    path = caller.write(d / f"{case}.yaml", text)
    ws = caller.workspace()
    r = caller.sandbox(["sh", "-c", "touch ran"], ws=ws, opts=["-p", path])
    assert r.returncode == 125, (r.stdout, r.stderr)
    err = one_error_line(r.stderr)
    assert word in err, err
    assert not (ws / "ran").exists()


@pytest.mark.parametrize("preset", ["default", "offline", "readonly"])
def test_policy_show_preset(caller, preset):
    r = caller.run(["policy", "show", preset])
    assert r.returncode == 0, r.stderr
    doc = yaml.safe_load(r.stdout)
    assert isinstance(doc, dict) and doc, r.stdout
    # what a preset prints is itself a valid policy
    d = _policy_dir(caller)
    path = caller.write(d / f"{preset}.yaml", r.stdout)
    check = caller.run(["policy", "check", path])
    assert check.returncode == 0, check.stderr
    if preset == "readonly":
        assert doc["filesystem"]["workspace_mode"] == "readonly"


def test_policy_show_unknown_preset_fails(caller):
    r = caller.run(["policy", "show", "no-such-preset"])
    assert r.returncode == 1, (r.stdout, r.stderr)
    one_error_line(r.stderr)


@pytest.mark.parametrize("preset", ["default", "offline", "readonly"])
def test_run_with_each_preset(caller, preset):
    r = caller.sandbox(["sh", "-c", "echo ok"], opts=["-p", preset])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok\n"


def test_policy_write_path_is_writable(caller, default_preset):
    d = _policy_dir(caller)
    out = caller.mkdtemp(prefix="reins-out-", base="/var/tmp")
    path = caller.write(d / "write.yaml", yaml.safe_dump({
        "version": 1, "name": "write-extra", "extends": "default",
        "filesystem": {"write": [str(out)]}}))
    r = caller.sandbox(["sh", "-c", f"echo made > {out}/f"], opts=["-p", path])
    assert r.returncode == 0, r.stderr
    assert (out / "f").read_text() == "made\n"


def test_policy_read_path_is_read_only(caller, default_preset):
    d = _policy_dir(caller)
    data = caller.mkdtemp(prefix="reins-data-", base="/var/tmp")
    caller.write(data / "f", "data\n")
    read = list(default_preset["filesystem"]["read"]) + [str(data)]
    path = caller.write(d / "read.yaml", yaml.safe_dump({
        "version": 1, "name": "read-extra", "extends": "default",
        "filesystem": {"read": read}}))
    r = caller.sandbox(["sh", "-c", f"cat {data}/f; echo x > {data}/g && echo WROTE; true"],
                       opts=["-p", path])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "data\n"
    assert not (data / "g").exists()


def test_verbose_prints_the_plan(caller):
    ws = caller.workspace()
    r = caller.sandbox(["true"], ws=ws, opts=["-v"])
    assert r.returncode == 0, r.stderr
    assert str(ws) in r.stderr


def test_doctor_reports_kernel_features(caller):
    r = caller.run(["doctor"])
    text = (r.stdout + r.stderr).lower()
    for word in ("landlock", "seccomp", "cgroup"):
        assert word in text, f"doctor does not mention {word}"
    if caller.uid == 0:
        assert r.returncode == 0, r.stdout + r.stderr
    else:
        assert r.returncode in (0, 1), r.stdout + r.stderr
    # the verdict names the rlimit fallback whenever the limits line does
    verdict = next(l for l in r.stdout.splitlines() if l.startswith("verdict:"))
    if "rlimit fallback" in r.stdout:
        assert "rlimits" in verdict and "--strict" in verdict, verdict


def test_relative_policy_path(caller):
    ws = caller.workspace()
    caller.write(ws / "my-policy.yaml", "version: 1\nextends: default\nenv:\n  set: {REL: yes-rel}\n")
    r = caller.run(["run", "-p", "my-policy.yaml", "--", "sh", "-c", "echo $REL"], cwd=ws)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "yes-rel\n"


def test_extends_is_relative_to_the_policy_file(caller):
    d = _policy_dir(caller)
    caller.write(d / "base.yaml", "version: 1\nextends: default\nenv:\n  set: {FROM_BASE: base}\n")
    child = caller.write(d / "child.yaml", "version: 1\nextends: base.yaml\n")
    r = caller.sandbox(["sh", "-c", "echo $FROM_BASE"], opts=["-p", child])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "base\n"


def test_a_missing_read_path_is_noted_once(caller):
    """The user's own read entries that this host lacks are named in one
    line; the presets' optional ones (/lib32 …) are not."""
    ws = caller.workspace()
    caller.write(ws / "p.yaml", "version: 1\nextends: default\nfilesystem:\n"
                                "  read: [/opt/reins-absent-a, ~/reins-absent-b]\n")
    r = caller.run(["run", "-p", "p.yaml", "--", "true"], cwd=ws)
    assert r.returncode == 0, r.stderr
    notes = [l for l in r.stderr.splitlines() if "not on this host" in l]
    assert len(notes) == 1, r.stderr
    assert "/opt/reins-absent-a" in notes[0] and "~/reins-absent-b" in notes[0]
    assert "lib32" not in notes[0]
    r = caller.run(["run", "--", "true"], cwd=ws)
    assert "not on this host" not in r.stderr, r.stderr
