"""Everything after `--` reaches the command verbatim (CVE-2024-32462 class)."""
import pytest

TRICKY = ["--bind", "/", "/", "-p", "x", "$(id)", "`id`", ";", "&&", "|", "", " ",
          "two words", "--", "-w", "/", "--env", "HOME=/", "*", "~", "'quoted'", "\"dq\"",
          "new\nline", "tab\there", "--help", "-v"]


def test_arguments_reach_the_command_verbatim(caller, helpers):
    ws = caller.workspace()
    argdump = caller.install_helper(ws, helpers["argdump"])
    r = caller.sandbox([argdump, *TRICKY], ws=ws)
    assert r.returncode == 0, r.stderr
    got = r.stdout.split("\0")[:-1]
    assert got == TRICKY


def test_option_lookalikes_as_the_command_name(caller):
    # a command whose own options look like reins options
    r = caller.sandbox(["sh", "-c", 'printf "[%s]" "$@"', "sh", "--bind", "/", "/", "-p", "x"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "[--bind][/][/][-p][x]"


def test_shell_metacharacters_are_not_interpreted(caller):
    ws = caller.workspace()
    r = caller.sandbox(["echo", "$(touch pwned)", ";", "touch", "pwned2"], ws=ws)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "$(touch pwned) ; touch pwned2\n"
    assert not (ws / "pwned").exists() and not (ws / "pwned2").exists()
