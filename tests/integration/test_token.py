"""reins id and delegation tokens, end to end, as root and as nobody: mint,
inspect, attenuate, verify; an edited token, a revoked parent and an expired
token are refused with the reason."""
import json
import os
import re
import stat
import time



def _ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r


def test_id_prints_key_and_fingerprint(caller):
    text = _ok(caller.run(["id"])).stdout
    key = re.search(r"public key:\s+([0-9a-f]{64})", text).group(1)
    fingerprint = re.search(r"fingerprint:\s+([0-9a-f]{16})", text).group(1)
    data = json.loads(_ok(caller.run(["id", "--json"])).stdout)
    assert data == {"public_key": key, "fingerprint": fingerprint}
    # the same key as the audit trail's, created 0600
    path = caller.home / ".config" / "reins" / "audit-ed25519.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.stat(path).st_uid == caller.uid


def test_mint_inspect_attenuate_verify(caller):
    d = caller.mkdtemp(prefix="reins-tok-")
    parent, child = d / "parent.tok", d / "child.tok"
    _ok(caller.run(["token", "mint", "--dest", "*.github.com", "--dest", "pypi.org:443",
                    "--path", "src/**", "--cmd", "git", "--expires", "1h", "--uses", "5",
                    "--agent", "claude", "-o", parent]))
    assert stat.S_IMODE(os.stat(parent).st_mode) == 0o600  # it is a credential
    token = parent.read_text().strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)

    shown = _ok(caller.run(["token", "inspect", parent])).stdout
    assert "signed by your key" in shown
    assert "may connect only to: *.github.com, pypi.org:443" in shown
    assert "may run only: git" in shown and "at most 5 uses" in shown
    assert "only for agent: claude" in shown
    parent_id = re.search(r"block 0\s+id ([0-9a-f]{32})", shown).group(1)

    # attenuate the token text (not the file) offline, into a file
    _ok(caller.run(["token", "attenuate", token, "--dest", "api.github.com", "--uses", "2",
                    "-o", child]))
    shown = _ok(caller.run(["token", "inspect", child])).stdout
    assert "token with 2 blocks" in shown
    assert re.search(r"block 0\s+id " + parent_id, shown)
    # the effective rights are the intersection: api.github.com is inside *.github.com
    assert re.search(r"destinations: api\.github\.com\s+\(the intersection of 2 blocks' lists\)",
                     shown)
    assert "uses: at most 2" in shown

    for tok in (parent, child):
        r = _ok(caller.run(["token", "verify", tok]))
        assert r.stdout.startswith("valid:")
    key = json.loads(_ok(caller.run(["id", "--json"])).stdout)["public_key"]
    _ok(caller.run(["token", "verify", child, "--root", key]))
    r = caller.run(["token", "verify", child, "--root", "ab" * 32])
    assert r.returncode == 1 and "bad signature" in r.stderr


def test_edited_token_refused(caller):
    d = caller.mkdtemp(prefix="reins-tok-")
    path = d / "t.tok"
    _ok(caller.run(["token", "mint", "--cmd", "git", "-o", path]))
    token = path.read_text().strip()
    for i in (5, len(token) // 2, len(token) - 3):
        c = "A" if token[i] != "A" else "B"
        edited = token[:i] + c + token[i + 1:]
        r = caller.run(["token", "verify", edited])
        assert r.returncode == 1, r.stdout
        assert r.stderr.startswith("reins: token refused: "), r.stderr
    r = caller.run(["token", "verify", "garbage"])
    assert r.returncode == 1 and "malformed" in r.stderr


def test_revoking_a_parent_refuses_the_child(caller):
    d = caller.mkdtemp(prefix="reins-tok-")
    parent, child = d / "p.tok", d / "c.tok"
    _ok(caller.run(["token", "mint", "--dest", "example.com", "-o", parent]))
    _ok(caller.run(["token", "attenuate", parent, "--cmd", "make", "-o", child]))
    _ok(caller.run(["token", "verify", child]))
    parent_id = re.search(r"block 0\s+id ([0-9a-f]{32})",
                          _ok(caller.run(["token", "inspect", parent])).stdout).group(1)
    assert _ok(caller.run(["token", "revoke", parent_id])).stdout.startswith("revoked")
    listing = caller.home / ".config" / "reins" / "revoked"
    assert stat.S_IMODE(os.stat(listing).st_mode) == 0o600
    for tok in (parent, child):
        r = caller.run(["token", "verify", tok])
        assert r.returncode == 1 and "revoked" in r.stderr and parent_id in r.stderr
    assert "already" in _ok(caller.run(["token", "revoke", parent_id])).stdout
    r = caller.run(["token", "revoke", "not-an-id"])
    assert r.returncode == 2


def test_revocation_list_follows_xdg_config_home(caller):
    d = caller.mkdtemp(prefix="reins-tok-")
    cfg = caller.mkdir(d / "cfg", 0o700)
    env = {"XDG_CONFIG_HOME": str(cfg)}
    tok = d / "t.tok"
    _ok(caller.run(["token", "mint", "-o", tok], env=env))
    block = re.search(r"id ([0-9a-f]{32})",
                      _ok(caller.run(["token", "inspect", tok], env=env)).stdout).group(1)
    _ok(caller.run(["token", "revoke", block], env=env))
    assert (cfg / "reins" / "revoked").read_text() == block + "\n"
    r = caller.run(["token", "verify", tok], env=env)
    assert r.returncode == 1 and "revoked" in r.stderr


def test_expiry(caller):
    d = caller.mkdtemp(prefix="reins-tok-")
    tok = d / "t.tok"
    _ok(caller.run(["token", "mint", "--expires", "1h", "-o", tok]))
    short = d / "short.tok"
    _ok(caller.run(["token", "attenuate", tok, "--expires", "1s", "-o", short]))
    _ok(caller.run(["token", "verify", tok]))
    time.sleep(2.1)
    r = caller.run(["token", "verify", short])
    assert r.returncode == 1 and "expired" in r.stderr, r.stderr
    _ok(caller.run(["token", "verify", tok]))  # the parent still has its hour
    r = caller.run(["token", "mint", "--expires", "2001-01-01T00:00:00Z"])
    assert r.returncode == 2


def test_bad_restrictions_are_usage_errors(caller):
    for args in (["--path", "../x"], ["--dest", "*bad"], ["--uses", "0"], ["--cmd", "/bin/sh"]):
        r = caller.run(["token", "mint", *args])
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith("reins: ")
