"""make install / uninstall / deb (issue 23), into temporary roots only:
nothing here touches the host's /usr or its dpkg database."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, reins_path

TIMEOUT = 300  # make may regenerate the pages; lintian reads the whole package


def make(*args):
    """make in the repository, against the build directory REINS_BIN is in."""
    build = os.path.dirname(reins_path())
    r = subprocess.run(["make", "--no-print-directory", "-C", str(REPO), f"BUILD={build}", *args],
                       capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def installed_files(root):
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*")
                  if p.is_file() or p.is_symlink())


def test_install_puts_every_piece_in_place_and_uninstall_removes_them(tmp_path):
    dest = tmp_path / "dest"
    make("install", f"DESTDIR={dest}", "PREFIX=/opt/reins")
    prefix = dest / "opt" / "reins"
    binary = prefix / "bin" / "reins"
    assert os.access(binary, os.X_OK)
    assert os.readlink(prefix / "bin" / "reins-oci") == "reins"
    r = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.startswith("reins ")
    man = prefix / "share" / "man"
    for page in ("man1/reins.1", "man1/reins-run.1", "man1/reins-audit.1", "man5/reins-policy.5"):
        assert (man / page).stat().st_size > 200, page
    assert "__complete" in (prefix / "share/bash-completion/completions/reins").read_text()
    assert (prefix / "share/zsh/vendor-completions/_reins").read_text().startswith("#compdef")
    assert "complete -c reins" in (prefix / "share/fish/vendor_completions.d/reins.fish").read_text()
    unit = (prefix / "lib/systemd/system/reins-serve.service").read_text()
    assert "ExecStart=/opt/reins/bin/reins serve" in unit and "KillMode=process" in unit
    examples = prefix / "share/doc/reins/examples"
    assert (examples / "rogue-agent" / "policy.yaml").is_file()
    assert os.access(examples / "rogue-agent" / "run-demo.sh", os.X_OK)
    assert not any(str(tmp_path) in p.read_text(errors="replace")
                   for p in (prefix / "lib/systemd/system").iterdir())

    make("uninstall", f"DESTDIR={dest}", "PREFIX=/opt/reins")
    assert installed_files(dest) == []


@pytest.mark.skipif(not shutil.which("dpkg-deb") or not shutil.which("lintian"),
                    reason="dpkg-deb and lintian are needed (make deps)")
def test_deb_is_lintian_clean_installs_and_removes(tmp_path):
    r = make("deb")  # runs lintian: fails on any error
    debs = [line for line in r.stdout.splitlines() if line.endswith(".deb") and " " not in line]
    assert debs, r.stdout
    deb = REPO / debs[-1]
    info = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Depends"],
                          capture_output=True, text=True, timeout=30).stdout
    assert "Package: reins" in info and "libc6" in info
    contents = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                              timeout=30).stdout
    for path in ("./usr/bin/reins", "./usr/share/man/man5/reins-policy.5.gz",
                 "./usr/share/doc/reins/copyright", "./lib/systemd/system/reins-serve.service"):
        assert path in contents, path
    assert all(" root/root " in line for line in contents.splitlines())

    # install and remove it in a root of its own (an empty dpkg database):
    # the host's packages are not touched
    root = tmp_path / "root"
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    (root / "var/lib/dpkg/updates").mkdir()
    (root / "var/lib/dpkg/status").write_text("")
    dpkg = ["dpkg", f"--root={root}", "--force-depends", "--force-not-root",
            "--force-script-chrootless"]
    r = subprocess.run([*dpkg, "-i", str(deb)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert os.access(root / "usr/bin/reins", os.X_OK)
    r = subprocess.run([*dpkg, "--purge", "reins"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    left = [f for f in installed_files(root) if not f.startswith("var/lib/dpkg")]
    assert left == []
