"""The man pages follow the code (issue 23).

scripts/man.sh builds them from docs/man/*.scd and the binary's own --help;
these tests hold the result to the binary: every command `reins --help`
lists has a page, every option a command's --help prints is in that page,
and every key the policy loader accepts (`reins policy keys`, walked from
the loader's own field tables) is described in reins-policy(5), which is
written by hand and so the one that can drift.
"""
import re
import shutil
import subprocess

import pytest

from conftest import REPO, TIMEOUT

OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])")


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL, **kw)


@pytest.fixture(scope="module")
def man_dir(reins_bin, tmp_path_factory):
    assert shutil.which("scdoc"), "scdoc is missing: make deps"
    out = tmp_path_factory.mktemp("man")
    r = run([str(REPO / "scripts" / "man.sh"), reins_bin, str(out)])
    assert r.returncode == 0, r.stderr
    return out


def render(page):
    """The page as a reader sees it (groff, no hyphenation, wide lines)."""
    r = run(["groff", "-man", "-Tutf8", "-rLL=250n", "-P-cbou", str(page)])
    assert r.returncode == 0, r.stderr
    return r.stdout.replace("\u2010", "-").replace("\u2212", "-")


def commands(reins_bin):
    r = run([reins_bin, "--help"])
    assert r.returncode == 0
    names = re.findall(r"^  ([a-z]+) ", r.stdout.split("commands:", 1)[1], re.M)
    assert "run" in names and "policy" in names
    return names


def help_options(reins_bin, command):
    r = run([reins_bin, command, "--help"])
    return set(OPTION.findall(r.stdout + r.stderr))


def missing_words(text, words):
    """The words that do not occur in text as words of their own."""
    return sorted(w for w in words
                  if not re.search(r"(?<![\w.-])" + re.escape(w) + r"(?![\w-])", text))


def policy_keys(reins_bin):
    r = run([reins_bin, "policy", "keys"])
    assert r.returncode == 0, r.stderr
    keys = [line.split()[0] for line in r.stdout.splitlines()]
    assert "limits.memory" in keys and "version" in keys
    return keys


def test_every_command_has_a_page_and_is_in_reins_1(reins_bin, man_dir):
    overview = render(man_dir / "reins.1")
    for name in commands(reins_bin):
        page = man_dir / f"reins-{name}.1"
        assert page.is_file(), f"no page for reins {name}"
        assert f"reins-{name}" in render(page)
        assert f"reins {name}" in overview, f"reins(1) does not list {name}"


def test_every_option_help_prints_is_in_its_page(reins_bin, man_dir):
    checked = 0
    for name in commands(reins_bin):
        options = help_options(reins_bin, name)
        text = render(man_dir / f"reins-{name}.1")
        assert not missing_words(text, options), f"reins-{name}(1) lacks these options"
        checked += len(options)
    assert checked > 50  # the parse found the options at all


def test_every_policy_key_is_in_reins_policy_5(reins_bin, man_dir):
    text = render(man_dir / "reins-policy.5")
    assert missing_words(text, policy_keys(reins_bin)) == []
    # and each says its type and default the way the page's TYPES name them
    for word in ("size", "duration", "count", "choice", "boolean", "default"):
        assert word in text


def test_the_checks_see_a_key_or_an_option_left_out(reins_bin, man_dir):
    """What the checks above rely on: a page without the key fails."""
    text = render(man_dir / "reins-policy.5")
    without = text.replace("limits.trail_rate", "limits.trail")
    assert missing_words(without, policy_keys(reins_bin)) == ["limits.trail_rate"]
    run_page = render(man_dir / "reins-run.1")
    assert missing_words(run_page.replace("--allow-net", "--allow"),
                         help_options(reins_bin, "run")) == ["--allow-net"]


def test_reins_policy_5_without_a_key_fails_the_build_check(reins_bin, tmp_path):
    """The hand-written source, with one key's entry removed, is caught."""
    source = (REPO / "docs" / "man" / "reins-policy.5.scd").read_text()
    entry = re.search(r"^\*network\.egress\\_budget\*.*\n(\t.*\n)+", source, re.M)
    assert entry
    doctored = tmp_path / "reins-policy.5.scd"
    doctored.write_text(source.replace(entry.group(0), ""))
    page = tmp_path / "reins-policy.5"
    with open(doctored) as src, open(page, "w") as out:
        assert subprocess.run(["scdoc"], stdin=src, stdout=out, timeout=TIMEOUT).returncode == 0
    assert missing_words(render(page), policy_keys(reins_bin)) == ["network.egress_budget"]


def test_version_names_the_features_compiled_in(reins_bin):
    r = run([reins_bin, "--version"])
    assert r.returncode == 0
    first, features, libraries = r.stdout.splitlines()[:3]
    assert first.startswith("reins ") and len(first.split()) == 2
    assert features.startswith("features: ") and "seccomp" in features and "landlock" in features
    assert "libseccomp" in libraries and "libsodium" in libraries
