"""The recipes in examples/recipes (issue 23) run as written, as root and as
an unprivileged user: each run.sh is its own check (set -e, and it greps
what it expects from the host's side). The network is stood in for by a
local model API; see each run.sh."""
import shutil
import subprocess

import pytest

from conftest import REPO

RECIPES = ["claude-code", "codex", "mcp-stdio", "ci", "team"]


@pytest.mark.parametrize("recipe", RECIPES)
def test_recipe_runs(caller, recipe):
    copy = caller.mkdtemp(prefix="reins-recipes-")
    shutil.copytree(REPO / "examples" / "recipes", copy / "recipes")
    for path in [copy / "recipes", *(copy / "recipes").rglob("*")]:
        caller.own(path)
    r = subprocess.run(caller.prefix + ["bash", str(copy / "recipes" / recipe / "run.sh")],
                       capture_output=True, text=True, timeout=120, cwd=caller.home,
                       env=caller.env({"REINS": caller.reins}), stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert f"{recipe} recipe: ok" in r.stdout
    assert "BLOCKED" in r.stdout or recipe == "ci"
