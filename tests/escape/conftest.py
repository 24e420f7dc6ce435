"""Escape probes: one per row of ESCAPES.md (except "network bypass").

Each probe under probes/ is a small C program that attempts one attack from
inside `reins run` and prints `CHECK <name> <blocked|escaped|skip> <detail>`
lines and a final `DONE`. The tests assert every check is "blocked".

Every probe runs as root and as an unprivileged user (nobody, via setpriv)
when pytest runs as root; otherwise as the current user only.

Weak mode (REINS_WEAK_MODE=1, `make escape-weak`): reins is the build-weak
binary and each test sets REINS_WEAKEN to the protections listed for it in
WEAK below; the test then asserts that the attack SUCCEEDS (the checks listed
in `expect` report "escaped"). A check a switch cannot flip on any kernel, or
on this one, is listed in `noflip` with the reason and is skipped in weak
mode: the table is the record of which probe is known to be able to fail.
"""

import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import NamedTuple

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REINS = os.environ.get("REINS_BIN") or str(ROOT / "build" / "reins")
WEAK_MODE = os.environ.get("REINS_WEAK_MODE") == "1"
NOBODY = 65534
# `make escape-env`: every probe again with a declared environment (an OCI
# image) as the sandbox's system root instead of the host's /usr
ENVIRONMENT_POLICY = os.environ.get("REINS_ESCAPE_ENV_POLICY")
SETPRIV = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


class Weak(NamedTuple):
    weaken: str  # REINS_WEAKEN value for this probe in weak mode
    expect: tuple  # checks that must report "escaped"; NAME@root / NAME@nobody: that user only
    noflip: dict = {}  # check -> why no switch makes it escape (skipped in weak mode)


# probe (test key) -> the protections switched off in weak mode, and what must then escape.
WEAK = {
    "tty_ioctl": Weak("seccomp", ("tiocsti", "tiocsti_hi32", "tioclinux")),
    "tty_caller": Weak("pty,setsid,seccomp", ("caller_pty_injected",)),
    "proc_exe": Weak(
        "pidns,landlock",
        ("pid_count", "marker_hidden", "exe_writable@root"),
        {"exe_open_write": "a running binary always answers ETXTBSY; exe_writable is the "
                           "same attack minus the busy check",
         "exe_writable@nobody": "from a child user namespace the host process's exe link is "
                                "not reachable even without a pid namespace; pid_count and "
                                "marker_hidden carry the nobody case"},
    ),
    "fds": Weak("fds", ("only_std_fds", "chdir_fd")),
    "ptrace": Weak(
        "seccomp,landlock",
        ("attach_pid1", "attach_child", "attach_sibling", "vm_readv_child", "vm_writev_child",
         "pid1_environ", "pid1_mem"),
    ),
    "seccomp": Weak(
        "seccomp,landlock",
        ("mount", "umount2", "fsopen", "fsmount", "open_tree", "move_mount", "mount_setattr",
         "pivot_root", "chroot", "setns", "unshare_newuser", "clone3", "bpf", "keyctl",
         "add_key", "perf_event_open", "userfaultfd", "open_by_handle_at", "int80",
         "filter_active"),
        {
            "init_module": "needs CAP_SYS_MODULE in the initial user namespace (and this "
                           "kernel has CONFIG_MODULES=n): EPERM/ENOSYS without the filter too",
            "finit_module": "as init_module",
            "kexec_load": "needs CAP_SYS_BOOT in the initial user namespace (and "
                          "CONFIG_KEXEC=n here): EPERM/ENOSYS without the filter too",
            "x32_syscall": "this kernel has CONFIG_X86_X32_ABI=n: ENOSYS without the filter",
            "nr1000_enosys": "ENOSYS is also the kernel's own answer for an unknown number",
        },
    ),
    "threads": Weak(
        "seccomp,landlock,caps,nnp",
        ("thread_seccomp", "thread_nnp", "all_tasks_filtered", "thread_mount@root"),
        {"thread_mount@nobody": "an unprivileged caller's command has no capabilities after "
                                "exec whatever reins drops"},
    ),
    "caps": Weak(
        "caps,nnp",
        ("CapPrm@root", "CapEff@root", "CapBnd", "NoNewPrivs", "plain_caps@root",
         "setuid_caps@root"),
        {
            "CapInh": "reins never sets inheritable capabilities (the crun bug did)",
            "CapAmb": "reins never sets ambient capabilities",
            "CapPrm@nobody": "exec as a non-zero uid clears permitted capabilities",
            "CapEff@nobody": "exec as a non-zero uid clears effective capabilities",
            "plain_caps@nobody": "exec as a non-zero uid clears capabilities",
            "setuid_caps@nobody": "the setuid file's owner (host root) is not mapped in an "
                                  "unprivileged caller's namespace: the kernel ignores the bit",
            "setuid_euid": "root's euid is already 0; for nobody the owner is unmapped",
            "plain_euid": "a plain binary never changes the euid",
        },
    ),
    "symlinks": Weak(
        "mounts",
        ("shadow@root", "link_shadow@root"),
        {
            "link_ssh": "HOME is never bound: no switch makes ~/.ssh reachable",
            "home_ssh": "HOME is never bound",
            "link_root_ssh": "HOME is never bound",
            "shadow@nobody": "/etc/shadow is unreadable for nobody on the host too",
            "link_shadow@nobody": "/etc/shadow is unreadable for nobody on the host too",
            "hooks": "flips only if the protect bind follows the symlink on the host",
            "outside": "the directory is never bound",
            "link_root_outside": "the directory is never bound",
            "host_created": "flips only if reins creates mount points through symlinks",
        },
    ),
    "ro_symlink": Weak("mounts", ("ro_link_canary",)),
    "symlink_race": Weak("mounts", ("race",)),
    "sys_writes": Weak(
        "proc-mask,landlock",
        ("proc_sys_hostname@root", "proc_sys_core_pattern@root", "sysrq_trigger@root"),
        {
            "@nobody": "/proc/sys and /proc/sysrq-trigger are root-only on the host too",
            "cgroup": "/sys is not mounted at all: no switch mounts it",
        },
    ),
    # isolation: vm (test_vm_guest_kernel.py): the same probes inside the
    # guest, whose reins a weakened build weakens too (vm/prepare.c)
    "vm_sys_writes": Weak(
        "proc-mask,landlock",
        ("proc_sys_hostname@root", "proc_sys_core_pattern@root"),
        {
            "@nobody": "/proc/sys is root-only on the host too",
            "cgroup": "/sys is not mounted in the guest's sandbox: no switch mounts it",
            "sysrq_trigger": "the guest kernel has no CONFIG_MAGIC_SYSRQ",
        },
    ),
    "vm_modules": Weak(
        "seccomp,landlock",
        (),
        {
            "init_module": "the guest kernel has CONFIG_MODULES=n: no switch loads a module",
            "finit_module": "as init_module",
        },
    ),
    "userns": Weak("seccomp", ("unshare_newuser", "clone_newuser")),
    "argv": Weak("argv", ("argv_verbatim",)),
    "shared_paths": Weak("", ("detector_sees_planted",)),
    "control_plane": Weak(
        "runtime-hide,control-peer,control-sign",
        ("ro_tmp_sees", "ro_tmp_thaw", "rw_tmp_sees", "rw_tmp_thaw", "read_run_sees",
         "read_run_thaw", "other_sees", "other_thaw"),
    ),
    "forkbomb": Weak("limits", ("forks",)),
    "memhog": Weak("limits", ("memory",)),
    "fd_exhaustion": Weak("limits", ("open_files",)),
    "disk_fill": Weak("limits", ("tmp_size",)),
    "trail_flood": Weak("trail", ("trail_size",)),
    "orphan": Weak("pdeathsig", ("survivors",)),
    "timeout": Weak("timeout", ("still_running",)),
    "env": Weak("env", ("AWS_SECRET_ACCESS_KEY", "ANTHROPIC_API_KEY", "proc_environ")),
    "io_uring": Weak("seccomp", ("io_uring_setup",)),
    "wasm_paths": Weak("wasm-beneath", (
        "absolute_proc_mem", "absolute_events", "dotdot_proc_mem", "dotdot_events",
        "inner_dotdot", "symlink_root", "symlink_mem", "symlink_relative_out")),
    "wasm_fds": Weak("wasm-fds", ("forged_fds",)),
    # test_protect.py: "protect" restores the protection from before issue 12
    "protect_rename_git_direct": Weak("protect", ("rename_git_host_code", "rename_git:.git/config")),
    "protect_rename_git_overlay": Weak("protect", (), {
        "rename_git": "apply flagged .git/config before the fix too"}),
    "protect_rename_ci_direct": Weak("protect", ("rename_ci:ci/build.sh",), {
        "rename_ci_host_code": "nothing on the host runs ci/build.sh by itself"}),
    "protect_rename_ci_overlay": Weak("protect", (), {
        "rename_ci": "apply flagged the policy's protect paths before the fix too"}),
    "protect_commondir_direct": Weak("protect", ("commondir_host_code", "commondir:.git/commondir")),
    "protect_commondir_overlay": Weak("protect", ("commondir_host_code", "commondir:.git/commondir")),
    "protect_config_worktree_direct": Weak("protect", ("config_worktree_host_code",
                                                       "config_worktree:.git/config.worktree")),
    "protect_config_worktree_overlay": Weak("protect", ("config_worktree_host_code",
                                                        "config_worktree:.git/config.worktree")),
    "protect_new_hooks_direct": Weak("protect", ("new_hooks_host_code", "new_hooks:.git/hooks")),
    "protect_new_hooks_overlay": Weak("protect", (), {
        "new_hooks": "apply flagged .git/hooks before the fix too"}),
    "protect_git_internals_direct": Weak("protect", (
        "git_internals:.git/worktrees", "git_internals:.git/modules",
        "git_internals:.git/info"), {
        "git_internals_host_code": "a linked worktree's or a submodule's config is read only "
                                   "by git run there"}),
    "protect_git_internals_overlay": Weak("protect", (
        "git_internals:.git/worktrees", "git_internals:.git/modules",
        "git_internals:.git/info"), {
        "git_internals_host_code": "as in direct mode"}),
    "protect_hooks_path_direct": Weak("protect", ("hooks_path_host_code",
                                                  "hooks_path:githooks/pre-commit")),
    "protect_hooks_path_overlay": Weak("protect", ("hooks_path_host_code",
                                                   "hooks_path:githooks/pre-commit")),
    "protect_nested_repo_direct": Weak("protect", ("nested_repo_host_code",)),
    "protect_nested_repo_overlay": Weak("protect", ("nested_repo_host_code",)),
    "protect_submodule_config_direct": Weak("protect", ("submodule_config_host_code",
                                                        "submodule_config:lib/.git/config")),
    "protect_submodule_config_overlay": Weak("protect", ("submodule_config_host_code",
                                                         "submodule_config:lib/.git/config")),
    "protect_agent_direct": Weak("protect", (
        "agent:.claude/settings.json", "agent:.codex/config.toml", "agent:.cursor/mcp.json",
        "agent:.vscode/tasks.json", "agent:.vscode/settings.json", "agent:.reins/policy.yaml",
        "agent:.claude/settings.local.json")),
    "protect_agent_overlay": Weak("protect", (
        "agent:.claude/settings.json", "agent:.codex/config.toml", "agent:.cursor/mcp.json",
        "agent:.vscode/tasks.json", "agent:.vscode/settings.json",
        "agent:.claude/settings.local.json"), {
        "agent:.reins": "apply flagged .reins before the fix too"}),
    # the record is bounded twice: by the change scan (host-caps) and by the trail (trail)
    "supervisor_scan": Weak("host-caps,trail", ("rss", "record")),
    # test_oci.py: config.json binds what the policy denies
    "oci_config": Weak("mounts", ("deny_bind", "root_bind")),
    # test_oci.py: a process of `reins oci exec` keeps no privilege
    "oci_exec": Weak("caps,nnp,seccomp", ("exec_capeff", "exec_capbnd", "exec_nnp",
                                          "exec_seccomp")),
}


# ---------------------------------------------------------------- users


class User(NamedTuple):
    name: str
    uid: int
    gid: int
    prefix: tuple  # command prefix that runs as this user


def _users():
    if os.geteuid() == 0:
        return ["root", "nobody"]
    return ["self"]


def make_user(name):
    if name == "root":
        return User("root", 0, 0, ())
    if name == "nobody":
        return User("nobody", NOBODY, NOBODY, tuple(SETPRIV))
    return User(pwd.getpwuid(os.geteuid()).pw_name, os.geteuid(), os.getegid(), ())


@pytest.fixture(params=_users())
def user(request):
    return make_user(request.param)


def user_kind(u):
    """"root" or "nobody" for the @suffixes of WEAK (an unprivileged self is "nobody")."""
    return "root" if u.uid == 0 else "nobody"


def chown_tree(path, u):
    if os.geteuid() != 0:
        return
    os.lchown(path, u.uid, u.gid)
    for base, dirs, files in os.walk(path):
        for n in dirs + files:
            os.lchown(os.path.join(base, n), u.uid, u.gid)


def demote(u):
    """preexec_fn that turns a child into u (for helpers that must keep argv[0])."""
    def fn():
        if os.geteuid() == 0 and u.uid != 0:
            os.setgroups([])
            os.setgid(u.gid)
            os.setuid(u.uid)
    return fn


# ---------------------------------------------------------------- probes


def _cc_static_ok(tmp):
    src = Path(tmp) / "t.c"
    src.write_text("int main(void){return 0;}\n")
    r = subprocess.run(["cc", "-static", "-o", str(Path(tmp) / "t"), str(src)],
                       capture_output=True)
    return r.returncode == 0


@pytest.fixture(scope="session")
def probes():
    """Compile every probes/*.c into a private, world-readable directory."""
    out = tempfile.mkdtemp(dir="/tmp", prefix="reins-probes-")
    os.chmod(out, 0o755)
    static = ["-static"] if _cc_static_ok(out) else []
    for src in sorted((HERE / "probes").glob("*.c")):
        binary = Path(out) / src.stem
        cmd = ["cc", "-O1", *static, "-pthread", "-w", "-o", str(binary), str(src)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            pytest.fail(f"building probe {src.name} failed:\n{r.stderr}")
        os.chmod(binary, 0o755)
    yield Path(out)
    shutil.rmtree(out, ignore_errors=True)


# Checks whose attack the host itself refuses, found by running the attack
# unsandboxed first ({check: why}); filled once per session by host_baseline.
HOST_REFUSES = {}
# Every check a probe reported as skipped, or that judge() skipped: printed
# in the summary so no skip is ever dropped silently. (key, user, check, why)
SKIPPED = []


@pytest.fixture(scope="session", autouse=True)
def host_baseline(probes):
    """Run the attacks that are harmless on the host (x32, int 0x80: getpid)
    unsandboxed: where the host refuses one, reins cannot be credited with
    blocking it, and weak mode cannot expect it to escape."""
    r = subprocess.run([str(probes / "seccomp"), "--host-baseline"], capture_output=True,
                       text=True, timeout=60)
    for line in r.stdout.splitlines():
        parts = line.split(" ", 3)
        if len(parts) >= 3 and parts[0] == "BASELINE" and parts[2] == "fails":
            detail = parts[3] if len(parts) > 3 else ""
            HOST_REFUSES[parts[1]] = f"the host refuses this attack unsandboxed ({detail})"
    return HOST_REFUSES


# The skips reach the summary through each test's report: with parallel
# workers (pytest-xdist) a worker's SKIPPED is not the controller's, but the
# reports are, in both modes.
REPORTED_SKIPS = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    while SKIPPED:
        report.user_properties.append(("reins_skipped_check", list(SKIPPED.pop(0))))


def pytest_runtest_logreport(report):
    for name, value in getattr(report, "user_properties", ()):
        if name == "reins_skipped_check":
            REPORTED_SKIPS.append(tuple(value))


def pytest_terminal_summary(terminalreporter):
    if not REPORTED_SKIPS:
        return
    terminalreporter.section(f"escape probe checks skipped: {len(REPORTED_SKIPS)}")
    for key, who, name, why in REPORTED_SKIPS:
        terminalreporter.write_line(f"{key} [{who}] {name}: {why}")


@pytest.fixture(scope="session", autouse=True)
def reins_binary():
    if not os.access(REINS, os.X_OK):
        pytest.exit(f"no reins binary at {REINS} (set REINS_BIN)", returncode=2)
    return REINS


# ---------------------------------------------------------------- sandbox


def new_dir(u, prefix="reins-ws-", mode=0o755):
    d = tempfile.mkdtemp(dir="/tmp", prefix=prefix)
    os.chmod(d, mode)
    if os.geteuid() == 0:
        os.chown(d, u.uid, u.gid)
    return Path(d)


def rm_tree(path):
    """Remove a test tree (never follows symlinks; undoes read-only bits)."""
    if not os.path.lexists(path):
        return
    for base, dirs, _ in os.walk(path):
        for d in dirs:
            p = os.path.join(base, d)
            if not os.path.islink(p):
                try:
                    os.chmod(p, 0o700)
                except OSError:
                    pass
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def ws(user):
    d = new_dir(user)
    yield d
    rm_tree(d)


@pytest.fixture
def home(user):
    """A fake HOME with a canary in .ssh: what ~/.ssh would hold."""
    d = new_dir(user, prefix="reins-home-")
    ssh = d / ".ssh"
    ssh.mkdir(mode=0o700)
    token = "REINS-CANARY-" + os.urandom(6).hex()
    (ssh / "id_canary").write_text(token + "\n")
    chown_tree(d, user)
    yield d, token
    rm_tree(d)


class Sandbox:
    def __init__(self, u, ws, probes, home):
        self.user = u
        self.ws = Path(ws)
        self.probes = Path(probes)
        self.home = Path(home)

    def probe(self, name):
        return str(self.probes / name)

    def env(self, key=None, extra=None):
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(self.home),
            "LANG": "C",
        }
        if extra:
            env.update(extra)
        if WEAK_MODE and key is not None and WEAK[key].weaken:
            env["REINS_WEAKEN"] = WEAK[key].weaken
        return env

    def argv(self, command, opts=(), workspace=True):
        head = [*self.user.prefix, REINS, "run"]
        if ENVIRONMENT_POLICY:
            head += ["-p", ENVIRONMENT_POLICY]  # a probe's own -p, later, wins
        if workspace:
            head += ["-w", str(self.ws)]
        head += ["--ro", str(self.probes), *opts, "--"]
        return head + [str(c) for c in command]

    def run(self, command, key=None, opts=(), env=None, timeout=120, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.run(self.argv(command, opts), env=self.env(key, env), cwd=self.ws,
                              capture_output=True, text=True, timeout=timeout, **kw)

    def popen(self, command, key=None, opts=(), env=None, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(self.argv(command, opts), env=self.env(key, env), cwd=self.ws,
                                **kw)

    def run_probe(self, name, *args, key=None, opts=(), env=None, timeout=120, **kw):
        r = self.run([self.probe(name), *args], key=key, opts=opts, env=env, timeout=timeout,
                     **kw)
        return r, parse_checks(r, name, self.user.name)


@pytest.fixture
def sandbox(user, ws, probes, home):
    return Sandbox(user, ws, probes, home[0])


# ---------------------------------------------------------------- verdicts

CHECK_RE = re.compile(r"^CHECK (\S+) (blocked|escaped|skip) ?(.*)$")


def describe(r):
    return (f"exit {r.returncode}\n--- stdout\n{r.stdout[-4000:]}\n"
            f"--- stderr\n{r.stderr[-2000:]}")


def parse_checks(r, name="probe", who="?"):
    """{check: (escaped, detail)}; fails the test when the probe never finished.
    Checks the probe reports as skipped are listed in the summary."""
    if "DONE" not in r.stdout.split():
        pytest.fail(f"probe {name} did not run to the end inside the sandbox: {describe(r)}")
    out = {}
    for line in r.stdout.splitlines():
        m = CHECK_RE.match(line)
        if not m:
            continue
        if m.group(2) == "skip":
            SKIPPED.append((name, who, m.group(1), m.group(3)))
        else:
            out[m.group(1)] = (m.group(2) == "escaped", m.group(3))
    return out


def _applies(entry, u):
    name, _, who = entry.partition("@")
    return name, (not who or who == user_kind(u))


def weak_expected(key, u):
    return [n for n, ok in (_applies(e, u) for e in WEAK[key].expect) if ok]


def noflip_reason(key, name, u):
    nf = WEAK[key].noflip
    for k in (f"{name}@{user_kind(u)}", name, f"@{user_kind(u)}"):
        if k in nf:
            return nf[k]
    for k, why in nf.items():  # prefix entries such as "cgroup"
        if "@" not in k and name.startswith(k):
            return why
    return None


def judge(key, results, u, only=None, unavailable=None):
    """Normal mode: no check escaped. Weak mode: every expected check escaped.

    results: {check: (escaped, detail)}; only: restrict to one check name;
    unavailable: {check: why} expected checks this kernel cannot flip."""
    unavailable = unavailable or {}
    refused = {k: why for k, why in HOST_REFUSES.items() if k in results}
    for k, why in refused.items():
        if only is None or k == only:
            SKIPPED.append((key, u.name, k, why))
    results = {k: v for k, v in results.items() if k not in refused}
    if only is not None and only in refused:
        pytest.skip(f"[{key}] {u.name}: {only}: {refused[only]}")
    for k, (esc, d) in results.items():  # shown by `pytest -rP`
        if only is None or k == only:
            print(f"[{key}] {u.name}: {k} {'ESCAPED' if esc else 'blocked'}: {d}")
    if only is not None:
        results = {k: v for k, v in results.items() if k == only}
        if not results:
            pytest.fail(f"check {only} missing from the probe's output")
    if not WEAK_MODE:
        bad = {k: d for k, (esc, d) in results.items() if esc}
        assert not bad, f"[{key}] attack succeeded as {u.name}: " + "; ".join(
            f"{k}: {d}" for k, d in bad.items())
        return
    expected = [n for n in weak_expected(key, u)
                if (only is None or n == only) and n not in unavailable]
    if not expected:
        names = [only] if only else list(results)
        reasons = {n: unavailable.get(n) or noflip_reason(key, n, u) for n in names}
        pytest.skip(f"[{key}] weak mode, {u.name}: nothing expected to flip: " + "; ".join(
            f"{n}: {why or 'NO REASON RECORDED'}" for n, why in reasons.items()))
    missing = [n for n in expected if n not in results]
    still = [n for n in expected if n in results and not results[n][0]]
    assert not missing and not still, (
        f"[{key}] REINS_WEAKEN={WEAK[key].weaken} as {u.name}: expected the attack to "
        f"succeed, but " + "; ".join(
            [f"{n}: not reported" for n in missing]
            + [f"{n}: still blocked ({results[n][1]})" for n in still]))


def procs_with(token):
    """Host pids whose command line contains token (zombies have none)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if token.encode() in f.read():
                    pids.append(int(entry))
        except OSError:
            pass
    return pids


def kill_all(token):
    import signal
    for pid in procs_with(token):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def is_root():
    return os.geteuid() == 0


__all__ = ["WEAK", "WEAK_MODE", "REINS", "judge", "parse_checks", "describe", "procs_with",
           "kill_all", "new_dir", "rm_tree", "chown_tree", "demote", "user_kind", "is_root",
           "stat"]
