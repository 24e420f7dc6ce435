"""isolation: wasm — a WASI module reaching past its preopens.

The engine runs inside the container sandbox, which shows it more than the
module may touch: /proc (its own memory: /proc/self/mem would let a module
rewrite the engine), the engine's report file, the sandbox's root. Only the
WASI layer's confinement (lexical checks, openat2 RESOLVE_BENEATH, the real
path of what was opened) and its descriptor table stand between the module
and those; the weakened build switches them off (wasm-beneath, wasm-fds)."""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT, chown_tree, judge, parse_checks

sys.path.insert(0, str(ROOT / "tests" / "wasm"))
import build as wasm_build  # noqa: E402

_CACHES = {}


@pytest.fixture(scope="session")
def conformance():
    missing = wasm_build.missing_tools()
    if missing:
        pytest.fail(f"cannot build the WASI test modules: missing {missing} (make deps)")
    d = tempfile.mkdtemp(prefix="reins-wasm-escape-", dir="/tmp")
    built = wasm_build.build_all(d)
    yield built["wasi_conformance"]
    shutil.rmtree(d, ignore_errors=True)
    for c in _CACHES.values():
        shutil.rmtree(c, ignore_errors=True)


def _cache(user):
    if user.name not in _CACHES:
        d = tempfile.mkdtemp(prefix=f"reins-wasm-cache-{user.name}-", dir="/tmp")
        os.chmod(d, 0o700)
        if os.geteuid() == 0:
            os.chown(d, user.uid, user.gid)
        _CACHES[user.name] = d
    return _CACHES[user.name]


def _run(sandbox, user, ws, module, what, key):
    shutil.copy(module, ws / "wasi_conformance.wasm")
    chown_tree(ws, user)
    r = sandbox.run(["./wasi_conformance.wasm", what], key=key,
                    env={"REINS_WASM_CACHE": _cache(user)})
    return r, parse_checks(r, f"wasm {what}", user.name)


def test_wasm_paths_stay_beneath_their_preopen(sandbox, user, ws, conformance):
    """Absolute paths, `..` above the workspace and symlinks out of it
    (planted on the host: to /, to /proc/self/mem, and relative ones
    climbing out) all fail; /proc/self/mem and the report file are there
    for the engine, never for the module."""
    (ws / "sub").mkdir()
    (ws / "link_root").symlink_to("/")
    (ws / "link_mem").symlink_to("/proc/self/mem")
    (ws / "link_up").symlink_to("../../../../../..")
    r, checks = _run(sandbox, user, ws, conformance, "escape", "wasm_paths")
    assert len(checks) == 8, r.stdout + r.stderr
    judge("wasm_paths", checks, user)


def test_wasm_descriptors_cannot_be_forged(sandbox, user, ws, conformance):
    """Every number the module was not given is EBADF: the engine's own
    descriptors (its report file among them) are not reachable by
    guessing."""
    r, checks = _run(sandbox, user, ws, conformance, "forge", "wasm_fds")
    judge("wasm_fds", checks, user)
