"""False positives of the risk engine (issue 13 item 7): ordinary development
sessions, each a real sandbox with the default tiers, raise no tier and no
finding. One session per entry of CORPUS, as root and as nobody.

Package managers install from a local registry stand-in through the proxy;
curl reaches an allowed host; git, make, cc, pytest, formatters and shell
tools work on a small project that every session starts from."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "proxy_helpers"))
import registry  # noqa: E402
import servers  # noqa: E402

GIT = "git -c user.name=dev -c user.email=dev@example.test"
PROJECT = {
    "src/calc.py": "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n",
    "tests/test_calc.py": "from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
                          "\n\ndef test_mul():\n    assert mul(2, 3) == 6\n",
    "src/main.c": "#include <stdio.h>\nint twice(int);\nint main(void){printf(\"%d\\n\", twice(21));"
                  "return 0;}\n",
    "src/twice.c": "int twice(int x){return 2*x;}\n",
    "Makefile": "app: src/main.c src/twice.c\n\tcc -O2 -o app src/main.c src/twice.c\n"
                "test: app\n\t./app\nclean:\n\trm -f app *.o\n",
    "README.md": "# demo\nThe password field of the login form is validated in src/calc.py.\n",
    "config/settings.json": '{"debug": false, "password_min_length": 12}\n',
    "docs/notes.txt": "TODO: document the token refresh flow\n",
}

CORPUS = {
    "git-commit": f"{GIT} init -q . && {GIT} add -A && {GIT} commit -qm init && {GIT} log --oneline",
    "git-branch-merge": f"{GIT} init -q . && {GIT} add -A && {GIT} commit -qm a && "
                        f"{GIT} checkout -qb feature && echo x >> README.md && "
                        f"{GIT} commit -qam b && {GIT} checkout -q - && {GIT} merge -q feature",
    "git-rebase": f"{GIT} init -q . && {GIT} add -A && {GIT} commit -qm a && "
                  f"{GIT} checkout -qb topic && echo y >> docs/notes.txt && {GIT} commit -qam t && "
                  f"{GIT} checkout -q - && echo z >> README.md && {GIT} commit -qam m && "
                  f"{GIT} rebase -q - topic 2>/dev/null || {GIT} rebase -q master topic",
    "git-stash": f"{GIT} init -q . && {GIT} add -A && {GIT} commit -qm a && echo w >> README.md "
                 f"&& {GIT} stash -q && {GIT} stash pop -q && {GIT} diff --stat",
    "git-log-blame-tag": f"{GIT} init -q . && {GIT} add -A && {GIT} commit -qm a && "
                         f"{GIT} tag v1 && {GIT} blame README.md >/dev/null && {GIT} describe --tags",
    "git-clone-local": f"mkdir up && cd up && {GIT} init -q . && echo a > f && {GIT} add f && "
                       f"{GIT} commit -qm a && cd .. && {GIT} clone -q up copy && ls copy",
    "make-build-run": "make -s test",
    "make-clean-rebuild": "make -s app && make -s clean && make -s -j2 app && ./app",
    "cc-objects-archive": "cc -c src/twice.c -o twice.o && ar rcs libtwice.a twice.o && "
                          "cc -o app src/main.c libtwice.a && ./app",
    "pytest": "cd src && python3 -m pytest -q -p no:cacheprovider ../tests",
    "python-compileall": "python3 -m compileall -q src && python3 -c 'import json; "
                         "print(json.load(open(\"config/settings.json\")))'",
    "python-venv": "python3 -m venv --without-pip .venv && .venv/bin/python -c 'import sys; "
                   "print(sys.prefix)'",
    "pip-install": "python3 -m pip install --no-cache-dir --disable-pip-version-check "
                   "--target site --trusted-host pypi.test --index-url "
                   "http://pypi.test:{registry}/simple/ reins-fake-pkg >/dev/null && ls site",
    "npm-install": "export npm_config_cache=$PWD/.npm-cache npm_config_update_notifier=false; "
                   "npm install --no-audit --no-fund --registry http://registry.test:{registry}/ "
                   "reins-fake-pkg >/dev/null && ls node_modules",
    "grep-password-in-project": "grep -rn password . ; grep -rni token docs; true",
    "grep-todo": "grep -rn TODO . ; grep -rl 'def ' src | sort",
    "find-and-count": "find . -name '*.py' | xargs wc -l; find . -type f | wc -l",
    "sed-refactor": "for f in src/*.py tests/*.py; do sed -i 's/add/plus/g' \"$f\"; done; "
                    "grep -c plus src/calc.py",
    "clang-format": "clang-format -i src/main.c src/twice.c && cat src/twice.c",
    "curl-allowed-host": "curl -s --max-time 10 http://api.example.test:{web}/hello",
    "curl-download-parse": "curl -s --max-time 10 -o page.txt http://api.example.test:{web}/hello"
                           " && wc -c page.txt && rm page.txt",
    "python-http-client": "python3 -c \"import urllib.request as u; "
                          "print(u.urlopen('http://api.example.test:{web}/hello', timeout=10)"
                          ".read().decode())\"",
    "tar-backup-restore": "tar czf /tmp/src.tgz src && mkdir -p /tmp/r && tar xzf /tmp/src.tgz "
                          "-C /tmp/r && ls /tmp/r/src",
    "rm-build-dir": "mkdir -p build && for i in $(seq 1 120); do : > build/o$i.o; done && "
                    "rm -rf build",
    "diff-and-patch": "cp src/calc.py /tmp/calc.py && sed -i 's/a + b/b + a/' src/calc.py && "
                      "diff -u /tmp/calc.py src/calc.py > /tmp/p.diff; patch -R -s -p0 "
                      "src/calc.py < /tmp/p.diff && cat src/calc.py",
    "many-small-execs": "for i in $(seq 1 200); do true; echo $i > /dev/null; done; echo done",
    "json-rewrite": "python3 -c \"import json; p='config/settings.json'; d=json.load(open(p)); "
                    "d['debug']=True; json.dump(d, open(p,'w'))\" && cat config/settings.json",
    "chmod-run-script": "printf '#!/bin/sh\\necho built\\n' > build.sh && chmod +x build.sh && "
                        "./build.sh",
    "copy-compare": "cp -r src /tmp/src2 && diff -r src /tmp/src2 && echo same",
    "inspect-system": "env | sort | head -3; id; uname -a; ps aux | head -3; "
                      "cat /proc/self/status | head -2; ls -la ~ | head -3",
    "checksums-base64": "sha256sum src/*.c && base64 README.md | base64 -d | head -1",
    "editor-ex": "command -v ex >/dev/null && ex -s -c '%s/demo/Demo/' -c 'wq' README.md; "
                 "head -1 README.md",
    "heredoc-generate": "cat > gen.py <<'EOF'\nfor i in range(3):\n    print(i)\nEOF\n"
                        "python3 gen.py && rm gen.py",
}


def _tool_missing(script):
    for tool, needle in (("npm --version", "npm install"), ("python3 -m pip --version", "pip install"),
                         ("clang-format --version", "clang-format"),
                         ("python3 -m venv --help", "python3 -m venv")):
        if needle in script and subprocess.run(["sh", "-c", tool], capture_output=True).returncode:
            return tool.split()[0] + (" pip" if "pip" in tool else "")
    return None


@pytest.fixture(scope="module")
def web():
    yield from servers.served_tmp_dir("reins-corpus-srv-")


@pytest.fixture(scope="module")
def registry_port():
    server = registry.registry_server()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 30


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_ordinary_session_raises_no_tier(caller, web, registry_port, name):
    script = CORPUS[name].replace("{web}", str(web)).replace("{registry}", str(registry_port))
    missing = _tool_missing(script)
    if missing:
        pytest.skip(f"{missing} is not installed")
    ws = caller.workspace()
    for rel, text in PROJECT.items():
        caller.write(ws / rel, text)
    hosts = {n: "127.0.0.1" for n in ("api.example.test", "pypi.test", "registry.test")}
    allow = [f"api.example.test:{web}", f"pypi.test:{registry_port}",
             f"registry.test:{registry_port}"]
    pol = caller.write(ws / ".policy.yaml",
                       "version: 1\nextends: default\nnetwork:\n  mode: proxy\n"
                       f"  allow: {json.dumps(allow)}\n  hosts: {json.dumps(hosts)}\n")
    evdir = caller.mkdtemp(prefix="reins-corpus-ev-")
    events_path = evdir / "events.jsonl"
    r = caller.run(["run", "-p", pol, "--events", events_path, "-w", ws, "--", "sh", "-c",
                    script], cwd=ws, timeout=240)
    events = [json.loads(l) for l in events_path.read_text().splitlines() if l.startswith("{")]
    findings = [(e.get("rule"), e.get("detail")) for e in events if e["type"] == "risk.finding"]
    tiers = [e for e in events if e["type"] == "risk.tier"]
    assert r.returncode == 0, f"{name}: the session itself failed\n{r.stdout}\n{r.stderr}"
    assert not findings and not tiers, f"{name}: {findings} {tiers}"
    assert "risk tier" not in r.stderr
