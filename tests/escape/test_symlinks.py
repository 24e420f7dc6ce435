"""ESCAPES.md "symlinks in mount targets" (CVE-2019-18837, CVE-2021-30465,
CVE-2025-31133, CVE-2024-42472)."""
import ctypes
import os
import threading

from conftest import chown_tree, judge, new_dir, parse_checks, rm_tree

AT_FDCWD = -100
RENAME_EXCHANGE = 2


def outside_dir(user):
    """A host directory never granted to the sandbox, with a canary."""
    out = new_dir(user, prefix="reins-outside-")
    (out / "real").mkdir()
    token = "REINS-OUTSIDE-" + os.urandom(6).hex()
    (out / "real" / "hook_canary").write_text(token + "\n")
    chown_tree(out, user)
    return out


def test_workspace_symlinks(sandbox, user, ws, home):
    """A workspace with symlinks to ~/.ssh, /etc/shadow and /, and protect/deny
    paths (.git/hooks, .git/config, .reins, .env) that are symlinks out of
    it: nothing outside the granted view is readable, nothing is created."""
    home_dir, _ = home
    out = outside_dir(user)
    try:
        (ws / "link_ssh").symlink_to(home_dir / ".ssh")
        (ws / "link_shadow").symlink_to("/etc/shadow")
        (ws / "link_root").symlink_to("/")
        (ws / ".git").mkdir()
        (ws / ".git" / "hooks").symlink_to(out / "real")
        (ws / ".git" / "config").symlink_to(out / "created_config")
        (ws / ".reins").symlink_to(out / "created_reins")
        (ws / ".env").symlink_to(out / "created_env")
        chown_tree(ws, user)
        canary = f"{home_dir}/.ssh/id_canary"
        r, checks = sandbox.run_probe(
            "fsprobe",
            f"read:link_ssh:{ws}/link_ssh/id_canary",
            f"read:home_ssh:{canary}",
            f"read:link_root_ssh:{ws}/link_root{canary}",
            f"read:link_shadow:{ws}/link_shadow",
            "read:shadow:/etc/shadow",
            f"read:hooks:{ws}/.git/hooks/hook_canary",
            f"read:outside:{out}/real/hook_canary",
            f"read:link_root_outside:{ws}/link_root{out}/real/hook_canary",
            f"write:w_env:{ws}/.env",
            f"write:w_config:{ws}/.git/config",
            f"write:w_reins:{ws}/.reins",
            key="symlinks")
        created = sorted(set(os.listdir(out)) - {"real"}) + sorted(
            set(os.listdir(out / "real")) - {"hook_canary"})
        checks["host_created"] = (bool(created), f"created outside the workspace: {created}")
        # the writes are informational: what matters is where they landed
        for k in ("w_env", "w_config", "w_reins"):
            checks.pop(k, None)
    finally:
        rm_tree(out)
    judge("symlinks", checks, user)


def test_ro_path_is_symlink(sandbox, user, home):
    """`--ro LINK` where LINK -> ~/.ssh: reins refuses, or the denied
    directory stays hidden behind the link."""
    home_dir, _ = home
    linkdir = new_dir(user, prefix="reins-link-")
    try:
        (linkdir / "sshlink").symlink_to(home_dir / ".ssh")
        chown_tree(linkdir, user)
        r = sandbox.run([sandbox.probe("fsprobe"),
                         f"read:ro_link_canary:{linkdir}/sshlink/id_canary",
                         f"read:ro_home_canary:{home_dir}/.ssh/id_canary"],
                        key="ro_symlink", opts=["--ro", str(linkdir / "sshlink")])
        if r.returncode == 125 and "DONE" not in r.stdout:
            checks = {"ro_link_canary": (False, f"refused: {r.stderr.strip()}")}
        else:
            checks = parse_checks(r, "fsprobe")
    finally:
        rm_tree(linkdir)
    judge("ro_symlink", checks, user)


def test_symlink_swap_race(sandbox, user, ws, home):
    """While reins starts (20 times), the host swaps .git/hooks (a protect
    path) and a `--rw` subdirectory with symlinks to / (renameat2
    RENAME_EXCHANGE, as fast as it can): the sandbox never sees the host's /
    there, and nothing lands on the host outside the workspace."""
    out = outside_dir(user)
    libc = ctypes.CDLL(None, use_errno=True)
    (ws / ".git").mkdir()
    (ws / ".git" / "hooks").mkdir()
    (ws / ".git" / "hooks_swap").symlink_to("/")
    (ws / "sub").mkdir()
    (ws / "sub_swap").symlink_to("/")
    chown_tree(ws, user)
    pairs = [(str(ws / ".git" / "hooks"), str(ws / ".git" / "hooks_swap")),
             (str(ws / "sub"), str(ws / "sub_swap"))]
    stop = threading.Event()
    swaps = [0]

    def swapper():
        while not stop.is_set():
            for a, b in pairs:
                if libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(),
                                  RENAME_EXCHANGE) == 0:
                    swaps[0] += 1

    token = "RACE-" + os.urandom(5).hex()
    escaped, notes = [], []
    t = threading.Thread(target=swapper, daemon=True)
    t.start()
    try:
        for i in range(20):
            name = f"{token}-{i}"
            r = sandbox.run([sandbox.probe("fsprobe"),
                             f"read:race_hooks:{ws}/.git/hooks{out}/real/hook_canary",
                             f"read:race_sub:{ws}/sub{out}/real/hook_canary",
                             f"write:race_write:{ws}/sub/{name}"],
                            key="symlink_race", opts=["--rw", str(ws / "sub")], timeout=60)
            notes.append(r.returncode if r.returncode != 125 else f"125:{r.stderr.strip()[-80:]}")
            if "DONE" in r.stdout:
                for k, (esc, d) in parse_checks(r, "fsprobe").items():
                    if esc and k != "race_write":
                        escaped.append(f"run {i}: {k}: {d}")
            for host in (f"/{name}", f"{out}/{name}", f"/tmp/{name}"):
                if os.path.lexists(host):
                    escaped.append(f"run {i}: {host} created on the host")
                    os.unlink(host)
    finally:
        stop.set()
        t.join()
        rm_tree(out)
    print(f"race: exit codes {notes}, {swaps[0]} swaps, escapes {escaped}")
    assert swaps[0] > 100, f"the swapper barely ran ({swaps[0]} swaps)"
    judge("symlink_race", {"race": (bool(escaped), "; ".join(escaped) or
                                    f"exit codes {notes}, {swaps[0]} swaps")}, user)
