/* Built-in presets, shipped in the binary as YAML source (what
 * `reins policy show NAME` prints). Each one loads through the same parser
 * as a user's file; a unit test loads them all. */
#include "policy/policy_internal.h"

#include <string.h>

/* Workspace read-write, the system read-only, no network, the usual homes of
 * credentials denied even if a later rule binds them. */
static const char preset_default[] =
    "# reins preset 'default': the workspace read-write, the system read-only,\n"
    "# no network, credentials hidden, a minimal environment.\n"
    "version: 1\n"
    "name: default\n"
    "\n"
    "filesystem:\n"
    "  workspace: .\n"
    "  workspace_mode: direct\n"
    "  # bound read-only where they exist; missing ones are skipped\n"
    "  read: [/usr, /bin, /sbin, /lib, /lib32, /lib64, /libx32, /etc, /opt]\n"
    "  write: []\n"
    "  deny:\n"
    "    - ~/.ssh\n"
    "    - ~/.aws\n"
    "    - ~/.gnupg\n"
    "    - ~/.config/gcloud\n"
    "    - ~/.azure\n"
    "    - ~/.kube\n"
    "    - ~/.docker/config.json\n"
    "    - ~/.netrc\n"
    "    - ~/.git-credentials\n"
    "    - /etc/shadow\n"
    "    - /etc/shadow-\n"
    "    - /etc/gshadow\n"
    "    - /etc/gshadow-\n"
    "    - /etc/sudoers\n"
    "    - /etc/sudoers.d\n"
    "    - /etc/ssh/ssh_host_*_key\n"
    "    - \"**/.env\"\n"
    "    - \"**/*.pem\"\n"
    "    - \"**/id_rsa\"\n"
    "    - \"**/id_ed25519\"\n"
    "  # read-only even inside the workspace: git hooks and config run code\n"
    "  # outside the sandbox the next time the user runs git\n"
    "  protect: [.git/hooks, .git/config, .reins]\n"
    "\n"
    "network:\n"
    "  mode: none\n"
    "\n"
    "env:\n"
    "  keep: [PATH, HOME, TERM, LANG, LC_ALL, LC_CTYPE, TZ, USER, LOGNAME, COLORTERM, "
    "NO_COLOR]\n"
    "  set: {}\n"
    "\n"
    "limits:\n"
    "  memory: 4GiB\n"
    "  pids: 1024\n"
    "  cpus: 2\n"
    "  open_files: 4096\n"
    "  tmp_size: 1GiB\n"
    "\n"
    "syscalls:\n"
    "  profile: default\n";

/* `default`, and says so: no network, and the package-manager and forge
 * tokens that are only useful online are hidden too. */
static const char preset_offline[] =
    "# reins preset 'offline': 'default' with no network, stated explicitly,\n"
    "# and the tokens of package registries and code forges hidden as well.\n"
    "version: 1\n"
    "name: offline\n"
    "extends: default\n"
    "\n"
    "filesystem:\n"
    "  deny:\n"
    "    - ~/.npmrc\n"
    "    - ~/.yarnrc.yml\n"
    "    - ~/.pypirc\n"
    "    - ~/.config/pip\n"
    "    - ~/.cargo/credentials\n"
    "    - ~/.cargo/credentials.toml\n"
    "    - ~/.gem/credentials\n"
    "    - ~/.m2/settings.xml\n"
    "    - ~/.config/gh\n"
    "    - ~/.config/hub\n"
    "\n"
    "network:\n"
    "  mode: none\n";

/* `default` with the workspace read-only: for agents that only read code. */
static const char preset_readonly[] =
    "# reins preset 'readonly': 'default' with the workspace read-only.\n"
    "version: 1\n"
    "name: readonly\n"
    "extends: default\n"
    "\n"
    "filesystem:\n"
    "  workspace_mode: readonly\n";

/* DESIGN §3's coding agent: `default` plus the package registries of npm,
 * PyPI, crates, Go and GitHub and the model vendors' APIs, all on 443; the
 * package managers' caches are per-project directories of reins' own. */
static const char preset_coding_agent[] =
    "# reins preset 'coding-agent': 'default' with the package registries\n"
    "# (npm, PyPI, crates.io, Go, GitHub) and the model APIs reachable on 443\n"
    "# through the egress proxy, and per-project package caches.\n"
    "version: 1\n"
    "name: coding-agent\n"
    "extends: default\n"
    "\n"
    "filesystem:\n"
    "  # per-project directories of reins' own ($XDG_CACHE_HOME/reins/caches),\n"
    "  # never the caller's real caches\n"
    "  cache: [~/.npm, ~/.cache/pip, ~/.cargo/registry, ~/.cargo/git, ~/go/pkg/mod,\n"
    "          ~/.cache/go-build]\n"
    "  deny:\n"
    "    - ~/.npmrc\n"
    "    - ~/.pypirc\n"
    "    - ~/.config/pip\n"
    "    - ~/.cargo/credentials\n"
    "    - ~/.cargo/credentials.toml\n"
    "    - ~/.config/gh\n"
    "\n"
    "network:\n"
    "  mode: proxy\n"
    "  allow:\n"
    "    - registry.npmjs.org:443\n"
    "    - registry.yarnpkg.com:443\n"
    "    - pypi.org:443\n"
    "    - files.pythonhosted.org:443\n"
    "    - crates.io:443\n"
    "    - index.crates.io:443\n"
    "    - static.crates.io:443\n"
    "    - proxy.golang.org:443\n"
    "    - sum.golang.org:443\n"
    "    - github.com:443\n"
    "    - \"*.github.com:443\"\n"
    "    - \"*.githubusercontent.com:443\"\n"
    "    - api.anthropic.com:443\n"
    "    - api.openai.com:443\n"
    "    - generativelanguage.googleapis.com:443\n";

/* Claude Code: its state under ~/.claude is read-only, the parts it must
 * write (projects, todos, shell snapshots) and ~/.claude.json writable;
 * settings.json, its permission file, stays read-only. */
static const char preset_claude_code[] =
    "# reins preset 'claude-code': 'coding-agent' for Anthropic's Claude Code.\n"
    "version: 1\n"
    "name: claude-code\n"
    "extends: coding-agent\n"
    "agent: claude-code\n"
    "\n"
    "filesystem:\n"
    "  read: [~/.claude]\n"
    "  write: [~/.claude/projects, ~/.claude/todos, ~/.claude/shell-snapshots,\n"
    "          ~/.claude/statsig, ~/.claude.json]\n"
    "\n"
    "network:\n"
    "  allow: [statsig.anthropic.com:443]\n"
    "\n"
    "env:\n"
    "  keep: [ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, CLAUDE_CONFIG_DIR]\n";

/* Codex CLI: ~/.codex read-only but for its sessions and logs. */
static const char preset_codex[] =
    "# reins preset 'codex': 'coding-agent' for OpenAI's Codex CLI.\n"
    "version: 1\n"
    "name: codex\n"
    "extends: coding-agent\n"
    "agent: codex\n"
    "\n"
    "filesystem:\n"
    "  read: [~/.codex]\n"
    "  write: [~/.codex/sessions, ~/.codex/log]\n"
    "\n"
    "network:\n"
    "  allow: [chatgpt.com:443, auth.openai.com:443]\n"
    "\n"
    "env:\n"
    "  keep: [OPENAI_API_KEY, OPENAI_BASE_URL, CODEX_HOME]\n";

static const struct {
        const char *name;
        const char *text;
} presets[] = {
    {"default", preset_default},         {"offline", preset_offline},
    {"readonly", preset_readonly},       {"coding-agent", preset_coding_agent},
    {"claude-code", preset_claude_code}, {"codex", preset_codex},
};

static const char *const preset_names[] = {"default",     "offline", "readonly", "coding-agent",
                                           "claude-code", "codex",   NULL};

const char *policy_preset_text(const char *name)
{
        if (!name)
                return NULL;
        for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
                if (strcmp(presets[i].name, name) == 0)
                        return presets[i].text;
        return NULL;
}

const char *const *policy_preset_names(void)
{
        return preset_names;
}

bool policy_is_preset(const char *name)
{
        return policy_preset_text(name) != NULL;
}
