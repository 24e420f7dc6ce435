"""The agent presets (issue 13 item 11): coding-agent with per-project
package caches of reins' own, and claude-code / codex built on it."""
import os

import pytest


def run(caller, ws, preset, script):
    return caller.sandbox(["sh", "-c", script], ws=ws, opts=["-p", preset])


@pytest.mark.parametrize("preset", ["coding-agent", "claude-code", "codex"])
def test_agent_presets_check_and_extend_coding_agent(caller, preset):
    r = caller.run(["policy", "check", preset])
    assert r.returncode == 0, r.stderr
    for host in ("registry.npmjs.org:443", "pypi.org:443", "crates.io:443",
                 "proxy.golang.org:443", "github.com:443", "api.anthropic.com:443"):
        assert host in r.stdout, (preset, host)
    assert "mode: proxy" in r.stdout


def test_caches_are_per_project_and_not_the_callers(caller):
    real = caller.home / ".npm"
    caller.mkdir(real)
    caller.write(real / "callers-own", "the caller's real cache\n")
    ws1, ws2 = caller.workspace(), caller.workspace()
    r = run(caller, ws1, "coding-agent",
            "ls ~/.npm; echo cached > ~/.npm/pkg && mkdir -p ~/.cache/pip/wheels && "
            "echo w > ~/.cache/pip/wheels/a && echo ok")
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr
    assert "callers-own" not in r.stdout
    assert not (real / "pkg").exists()  # the caller's cache is untouched
    cache_root = caller.home / ".cache" / "reins" / "caches"
    found = [p for p in cache_root.rglob("pkg")]
    assert len(found) == 1 and found[0].read_text() == "cached\n", found
    assert oct(found[0].parent.parent.stat().st_mode & 0o777) == "0o700"
    # the same project sees it again; another project does not
    r = run(caller, ws1, "coding-agent", "cat ~/.npm/pkg")
    assert r.stdout == "cached\n", r.stderr
    r = run(caller, ws2, "coding-agent", "cat ~/.npm/pkg 2>&1 || echo absent")
    assert "absent" in r.stdout, r.stdout


def test_claude_code_preset_keeps_its_permission_file_read_only(caller):
    claude = caller.home / ".claude"
    caller.write(claude / "settings.json", '{"permissions": {"allow": []}}\n')
    caller.mkdir(claude / "projects")
    caller.write(caller.home / ".claude.json", "{}\n")
    ws = caller.workspace()
    r = run(caller, ws, "claude-code",
            "cat ~/.claude/settings.json >/dev/null && echo readable; "
            "echo '{\"permissions\": {\"allow\": [\"Bash(*)\"]}}' > ~/.claude/settings.json "
            "2>/dev/null || echo settings-refused; "
            "echo x > ~/.claude/projects/p && echo projects-ok; "
            "echo '{\"a\": 1}' > ~/.claude.json && echo state-ok")
    assert "readable" in r.stdout and "settings-refused" in r.stdout, r.stdout + r.stderr
    assert "projects-ok" in r.stdout and "state-ok" in r.stdout, r.stdout + r.stderr
    assert "Bash" not in (claude / "settings.json").read_text()


def test_a_toolchain_of_the_callers_home_is_noted(caller):
    """A command the caller runs from $HOME (pyenv, nvm, cargo bin) that the
    sandbox does not see is named, with what runs instead."""
    shims = caller.home / ".pyenv" / "shims"
    caller.write(shims / "python3", "#!/bin/sh\necho caller-shim\n", mode=0o755)
    ws = caller.workspace()
    path = f"{shims}:/usr/local/bin:/usr/bin:/bin"
    r = caller.run(["run", "-w", ws, "--", "python3", "-c", "print('system')"], cwd=ws,
                   env={"PATH": path})
    assert r.returncode == 0 and r.stdout == "system\n", r.stderr
    notes = [l for l in r.stderr.splitlines() if "note: 'python3'" in l]
    assert len(notes) == 1 and f"is {shims}/python3 for you" in notes[0], r.stderr
    assert "the sandbox runs /usr/bin/python3 instead" in notes[0], notes
    r = caller.run(["run", "-w", ws, "--ro", str(shims), "--", "python3"], cwd=ws,
                   env={"PATH": path})
    assert r.stdout == "caller-shim\n" and "note: 'python3'" not in r.stderr, r.stderr
