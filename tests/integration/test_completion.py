"""Shell completion (issue 23): bash's own `complete` machinery driven as a
user's TAB would, over `reins completion bash`.

The candidates come from the option tables the parsers hand getopt_long
(`reins __complete`), from the --help texts (subcommands, an option's
values) and from `reins ls`/`ps`/`pending` (ids); these tests check each
source through bash.
"""
import re
import shutil
import subprocess
import time

import pytest

from test_approvals import web  # noqa: F401 (the stand-in web server fixture)

from conftest import TIMEOUT

OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)(?![\w-])")


_scripts = {}


def bash_script(reins):
    if reins not in _scripts:
        _scripts[reins] = subprocess.run([reins, "completion", "bash"], capture_output=True,
                                         text=True, timeout=TIMEOUT).stdout
    return _scripts[reins]


def candidates(reins, words):
    """What `reins __complete` answers, without bash (the bash tests above
    cover the way there)."""
    r = subprocess.run([reins, "__complete", *words], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def tab(reins, words, env=None, runner=None):
    """COMPREPLY for the command line `reins WORDS...` (the last word is
    the one being completed), through the function `complete -p` names."""
    script = bash_script(reins)
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in [reins, *words])
    driver = (script +
              f"\nCOMP_WORDS=({quoted}); COMP_CWORD={len(words)}\n"
              # the function bash would call for this command
              f"fn=$(complete -p {reins.split('/')[-1]} | sed -n 's/.*-F \\([^ ]*\\) .*/\\1/p')\n"
              '"$fn"; printf "%s\\n" "${COMPREPLY[@]}"\n')
    argv = ["bash", "--norc", "--noprofile", "-c", driver]
    if runner:
        r = runner(argv)
    else:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert r.returncode == 0, r.stderr
    return [line for line in r.stdout.splitlines() if line]


@pytest.fixture(scope="module")
def reins_named(reins_bin, tmp_path_factory):
    """The binary under the name the script registers (`reins`)."""
    d = tmp_path_factory.mktemp("bin")
    path = d / "reins"
    shutil.copy(reins_bin, path)
    return str(path)


def test_commands_complete(reins_named):
    assert tab(reins_named, ["r"]) == ["run"]
    every = tab(reins_named, [""])
    for name in ("run", "policy", "audit", "approve", "token", "serve", "env", "completion"):
        assert name in every
    assert "__complete" not in every


def test_run_options_are_the_parsers_table_without_the_internal_ones(reins_named):
    options = tab(reins_named, ["run", "--"])
    help_text = subprocess.run([reins_named, "run", "--help"], capture_output=True, text=True,
                               timeout=TIMEOUT).stdout
    documented = set(OPTION.findall(help_text)) - {"--help"}
    assert documented <= set(options), documented - set(options)
    # in getopt's table, for reins serve only: not offered
    for internal in ("--pool-fd", "--session-id", "--daemon-key", "--daemon-state"):
        assert internal not in options
    assert tab(reins_named, ["run", "--workspace-m"]) == ["--workspace-mode"]


def test_every_command_completes_the_options_its_help_shows(reins_named):
    """Each option a command's --help names is offered after the command or
    after one of its subcommands: the tables and the help agree."""
    checked = 0
    for name in candidates(reins_named, [""]):
        r = subprocess.run([reins_named, name, "--help"], capture_output=True, text=True,
                           timeout=TIMEOUT)
        # "(reins apply SESSION --git)": another command's option
        text = re.sub(rf"reins (?!{name}\b)[a-z]+[^.;)\n]*", "", r.stdout + r.stderr)
        shown = set(OPTION.findall(text)) - {"--help"}
        offered = set(candidates(reins_named, [name, "--"]))
        for sub in candidates(reins_named, [name, ""]):
            offered |= set(candidates(reins_named, [name, sub, "--"]))
        assert shown <= offered, (name, shown - offered)
        checked += len(shown)
    assert checked > 50


def test_values_come_from_the_help_and_the_presets(reins_named):
    assert tab(reins_named, ["run", "--net", ""]) == ["none", "proxy", "host"]
    assert tab(reins_named, ["approve", "--scope", ""]) == ["exact", "domain"]
    presets = tab(reins_named, ["run", "-p", ""])
    listed = subprocess.run([reins_named, "policy", "list"], capture_output=True, text=True,
                            timeout=TIMEOUT).stdout.split()
    assert presets == listed and "default" in presets
    assert tab(reins_named, ["policy", "show", "cod"]) == [
        p for p in listed if p.startswith("cod")]


def test_subcommands_come_from_the_usage_lines(reins_named):
    assert tab(reins_named, ["token", ""]) == ["mint", "attenuate", "inspect", "verify", "revoke"]
    assert set(tab(reins_named, ["id", ""])) == {"lock", "unlock", "forget"}
    assert "--dest" in tab(reins_named, ["token", "mint", "--"])
    assert "--role" in tab(reins_named, ["serve", "token", "--"])


def test_nothing_is_offered_inside_the_agents_command_line(reins_named):
    assert tab(reins_named, ["run", "--", "ls", "--"]) == []


def test_session_ids_come_from_reins_ls(caller):
    """An overlay session the caller just ran is offered to `reins diff`."""
    ws = caller.workspace()
    r = caller.sandbox(["/bin/sh", "-c", "echo x > new.txt"], ws=ws,
                       opts=["--workspace-mode", "overlay"])
    assert r.returncode == 0, r.stderr
    listed = caller.run(["ls", "--json"])
    assert listed.returncode == 0, listed.stderr
    ids = re.findall(r'"id": "([0-9a-f]{24})"', listed.stdout)
    assert ids
    mine = ids[-1]

    def as_caller(argv):
        return subprocess.run(caller.prefix + argv, capture_output=True, text=True,
                              timeout=TIMEOUT, env=caller.env(), cwd=caller.home)
    offered = tab(caller.reins, ["diff", mine[:6]], runner=as_caller)
    assert mine in offered
    assert all(i.startswith(mine[:6]) for i in offered)
    assert tab(caller.reins, ["ps", "--"], runner=as_caller)  # and options still
    caller.run(["discard", "-f", mine])


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_other_shells_scripts_parse(reins_named, shell, tmp_path):
    script = subprocess.run([reins_named, "completion", shell], capture_output=True, text=True,
                            timeout=TIMEOUT)
    assert script.returncode == 0 and "__complete" in script.stdout
    if not shutil.which(shell):
        pytest.skip(f"{shell} is not installed: its script is only generated here")
    path = tmp_path / "script"
    path.write_text(script.stdout)
    r = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr


def test_zsh_and_fish_answer_like_bash(reins_named, tmp_path):
    """The zsh and fish scripts ask the same __complete: a TAB after
    `reins run --n` and `reins run -p cod` (zsh's compadd stubbed to print
    what it is given; fish's own `complete -C`)."""
    if not shutil.which("zsh") or not shutil.which("fish"):
        pytest.skip("zsh or fish is not installed")
    bindir = str(tmp_path)
    for shell, name in (("zsh", "_reins"), ("fish", "reins.fish")):
        (tmp_path / name).write_text(subprocess.run(
            [reins_named, "completion", shell], capture_output=True, text=True,
            timeout=TIMEOUT).stdout)
    env = {"PATH": f"{bindir}:{reins_named.rsplit('/', 1)[0]}:/usr/bin:/bin"}
    zsh = subprocess.run(
        ["zsh", "-f", "-c",
         'compadd() { shift 2; print -l -- "$@"; }; _files() { print FILES; }; '
         f'words=(reins run --n); CURRENT=3; source {bindir}/_reins; '
         f'words=(reins run -p cod); CURRENT=4; source {bindir}/_reins; '
         f'words=(reins run --ro ""); CURRENT=4; source {bindir}/_reins'],
        capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert zsh.stdout.split() == ["--net", "coding-agent", "codex", "FILES"], zsh.stderr
    fish = subprocess.run(
        ["fish", "-c", f"source {bindir}/reins.fish; complete -C 'reins run --n'; "
         "complete -C 'reins tok'"],
        capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert fish.stdout.split() == ["--net", "token"], fish.stderr


def test_pending_ids_complete_approve_and_deny(caller, web):
    """A request held for a human is offered to `reins approve` and `deny`."""
    from test_approvals import Session, pending, policy
    ws = caller.workspace()
    pol = policy(caller, ws, web, ask=["ask.test"])
    s = Session(caller, ws, pol, f"curl -sS --max-time 60 http://ask.test:{web}/hello")
    req = pending(caller, "ask.test", session=s)
    try:
        def as_caller(argv):
            return subprocess.run(caller.prefix + argv, capture_output=True, text=True,
                                  timeout=TIMEOUT, env=caller.env(), cwd=caller.home)
        assert req["id"] in tab(caller.reins, ["approve", req["id"][:4]], runner=as_caller)
        assert req["id"] in tab(caller.reins, ["deny", ""], runner=as_caller)
    finally:
        assert caller.run(["deny", req["id"]]).returncode == 0
        s.wait()


def test_run_stops_at_the_agents_command(reins_named):
    """getopt's '+': after run's first non-option word (skipping option
    values), the words are the agent's, and nothing of reins is offered."""
    assert tab(reins_named, ["run", "-p", "default", "ls", "--"]) == []
    assert tab(reins_named, ["run", "--memory=1G", "--net", "none", "--t"]) == ["--timeout",
                                                                                 "--token"]


def test_running_session_ids_complete_stop(caller):
    """A running session (reins ps) is offered to `reins stop`."""
    from test_approvals import Session
    ws = caller.workspace()
    s = Session(caller, ws, "default", "sleep 60")
    try:
        def as_caller(argv):
            return subprocess.run(caller.prefix + argv, capture_output=True, text=True,
                                  timeout=TIMEOUT, env=caller.env(), cwd=caller.home)
        for _ in range(100):
            if s.id in caller.run(["ps", "--json"]).stdout:
                break
            time.sleep(0.1)
        offered = tab(caller.reins, ["stop", s.id[:5]], runner=as_caller)
        assert s.id in offered and all(i.startswith(s.id[:5]) for i in offered)
    finally:
        caller.run(["stop", s.id])
        s.wait()
