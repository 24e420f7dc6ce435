"""Build the WASI test modules of tests/wasm: every *.c with Debian's clang
(--target=wasm32-wasi, the wasi-libc and libclang-rt-14-dev-wasm32
packages) and every *.wat with wabt's wat2wasm (--debug-names, so traps
can name their function). Shared by tests/integration and tests/escape."""
import os
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent


def missing_tools():
    """What is missing to build them ("" when nothing)."""
    need = []
    for tool in ("clang", "wat2wasm", "wasm2c", "wasm-ld"):
        if not shutil.which(tool):
            need.append(tool)
    if not Path("/usr/include/wasm32-wasi/stdio.h").exists():
        need.append("wasi-libc")
    return ", ".join(need)


def build_all(out):
    """Compile into `out` (world-readable); {stem: path}."""
    out = Path(out)
    os.chmod(out, 0o755)
    built = {}
    for src in sorted(HERE.glob("*.c")):
        dst = out / (src.stem + ".wasm")
        subprocess.run(["clang", "--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-o", str(dst),
                        str(src)], check=True, timeout=300)
        built[src.stem] = dst
    for src in sorted(HERE.glob("*.wat")):
        dst = out / (src.stem + ".wasm")
        subprocess.run(["wat2wasm", "--debug-names", "-o", str(dst), str(src)], check=True,
                       timeout=60)
        built[src.stem] = dst
    for p in built.values():
        os.chmod(p, 0o644)
    return built
