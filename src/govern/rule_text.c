/* Text helpers for the risk rules: command classes, path shapes, a tiny
 * shell-script splitter, label entropy. All pure, all bounded: they read
 * agent-controlled text, so none of them recurses or allocates. */
#include "govern/rule.h"

#include <string.h>
#include <strings.h>

#include "util/cleanup.h"

/* ------------------------------------------------------------ commands */

static const struct {
        const char *name;
        unsigned command_class;
} command_table[] = {
    {"sh", CMD_SHELL | CMD_INTERPRETER},
    {"bash", CMD_SHELL | CMD_INTERPRETER},
    {"dash", CMD_SHELL | CMD_INTERPRETER},
    {"zsh", CMD_SHELL | CMD_INTERPRETER},
    {"ksh", CMD_SHELL | CMD_INTERPRETER},
    {"ash", CMD_SHELL | CMD_INTERPRETER},
    {"mksh", CMD_SHELL | CMD_INTERPRETER},
    {"fish", CMD_SHELL | CMD_INTERPRETER},
    {"busybox", CMD_SHELL | CMD_INTERPRETER},
    {"python", CMD_INTERPRETER},
    {"python2", CMD_INTERPRETER},
    {"python3", CMD_INTERPRETER},
    {"perl", CMD_INTERPRETER | CMD_REWRITE},
    {"ruby", CMD_INTERPRETER},
    {"node", CMD_INTERPRETER},
    {"php", CMD_INTERPRETER},
    {"lua", CMD_INTERPRETER},
    {"source", CMD_INTERPRETER},
    {".", CMD_INTERPRETER},
    {"eval", CMD_INTERPRETER},
    {"grep", CMD_SEARCH},
    {"egrep", CMD_SEARCH},
    {"fgrep", CMD_SEARCH},
    {"rg", CMD_SEARCH},
    {"ag", CMD_SEARCH},
    {"ack", CMD_SEARCH},
    {"strings", CMD_SEARCH | CMD_READER},
    {"locate", CMD_SEARCH},
    {"fd", CMD_SEARCH},
    {"find", CMD_SEARCH | CMD_FIND},
    {"cat", CMD_READER},
    {"tac", CMD_READER},
    {"nl", CMD_READER},
    {"less", CMD_READER},
    {"more", CMD_READER},
    {"head", CMD_READER},
    {"tail", CMD_READER},
    {"xxd", CMD_READER | CMD_DECODE},
    {"od", CMD_READER},
    {"hexdump", CMD_READER},
    {"base64", CMD_READER | CMD_DECODE},
    {"base32", CMD_READER | CMD_DECODE},
    {"openssl", CMD_DECODE | CMD_TELNET | CMD_REWRITE},
    {"scp", CMD_READER},
    {"rsync", CMD_READER | CMD_WRITER},
    {"tar", CMD_READER},
    {"zip", CMD_READER},
    {"gzip", CMD_READER},
    {"curl", CMD_FETCH},
    {"wget", CMD_FETCH},
    {"nmap", CMD_RECON},
    {"masscan", CMD_RECON},
    {"zmap", CMD_RECON},
    {"rustscan", CMD_RECON},
    {"tcpdump", CMD_RECON},
    {"tshark", CMD_RECON},
    {"dumpcap", CMD_RECON},
    {"hping3", CMD_RECON},
    {"arp-scan", CMD_RECON},
    {"nbtscan", CMD_RECON},
    {"nikto", CMD_RECON},
    {"fping", CMD_RECON},
    {"nc", CMD_RECON | CMD_NETCAT},
    {"ncat", CMD_RECON | CMD_NETCAT},
    {"netcat", CMD_RECON | CMD_NETCAT},
    {"nc.openbsd", CMD_RECON | CMD_NETCAT},
    {"nc.traditional", CMD_RECON | CMD_NETCAT},
    {"socat", CMD_RECON | CMD_SOCAT},
    {"telnet", CMD_TELNET},
    {"unshare", CMD_ESCAPE},
    {"nsenter", CMD_ESCAPE},
    {"mount", CMD_ESCAPE},
    {"umount", CMD_ESCAPE},
    {"insmod", CMD_ESCAPE},
    {"rmmod", CMD_ESCAPE},
    {"modprobe", CMD_ESCAPE},
    {"chroot", CMD_ESCAPE},
    {"pivot_root", CMD_ESCAPE},
    {"capsh", CMD_ESCAPE},
    {"setcap", CMD_ESCAPE},
    {"debugfs", CMD_ESCAPE},
    {"kexec", CMD_ESCAPE},
    {"bpftool", CMD_ESCAPE},
    {"keyctl", CMD_ESCAPE},
    {"losetup", CMD_ESCAPE},
    {"tee", CMD_WRITER},
    {"cp", CMD_READER | CMD_WRITER},
    {"mv", CMD_WRITER},
    {"install", CMD_WRITER},
    {"ln", CMD_WRITER},
    {"sed", CMD_WRITER | CMD_REWRITE},
    {"dd", CMD_WRITER | CMD_REWRITE},
    {"shred", CMD_REWRITE},
    {"truncate", CMD_REWRITE},
    {"gpg", CMD_REWRITE},
    {"age", CMD_REWRITE},
    {"crontab", CMD_CRONTAB},
    {"rm", CMD_RM},
    {"unlink", CMD_RM},
    {"sudo", CMD_WRAPPER},
    {"doas", CMD_WRAPPER},
    {"env", CMD_WRAPPER},
    {"nohup", CMD_WRAPPER},
    {"exec", CMD_WRAPPER},
    {"command", CMD_WRAPPER},
    {"time", CMD_WRAPPER},
    {"timeout", CMD_WRAPPER},
    {"setsid", CMD_WRAPPER},
    {"stdbuf", CMD_WRAPPER},
};

/* Open addressing over the table: a lookup is one hash and about one
 * strcmp, whatever the table grows to (the per-event budget is 2 µs). */
#define COMMAND_SLOTS 512
static short command_index[COMMAND_SLOTS]; /* table index + 1; 0 empty */
static bool command_index_ready;

uint64_t rule_hash(const char *text, size_t length)
{
        uint64_t h = 1469598103934665603ull; /* FNV-1a */
        for (size_t i = 0; i < length; i++) {
                h ^= (unsigned char)text[i];
                h *= 1099511628211ull;
        }
        return h;
}

void rule_text_init(void)
{
        if (command_index_ready)
                return;
        for (size_t i = 0; i < ARRAY_SIZE(command_table); i++) {
                const char *name = command_table[i].name;
                size_t slot = rule_hash(name, strlen(name)) % COMMAND_SLOTS;
                while (command_index[slot])
                        slot = (slot + 1) % COMMAND_SLOTS;
                command_index[slot] = (short)(i + 1);
        }
        command_index_ready = true;
}

unsigned rule_command_class(const char *name, size_t length)
{
        if (length == 0 || length > 32)
                return 0;
        /* "python3.12" is python3: version suffixes do not hide an interpreter */
        size_t trimmed = length;
        while (trimmed > 1 &&
               ((name[trimmed - 1] >= '0' && name[trimmed - 1] <= '9') || name[trimmed - 1] == '.'))
                trimmed--;
        for (int pass = 0; pass < 2; pass++) {
                size_t n = pass == 0 ? length : trimmed;
                if (pass == 1 && trimmed == length)
                        break;
                size_t slot = rule_hash(name, n) % COMMAND_SLOTS;
                while (command_index[slot]) {
                        const char *candidate = command_table[command_index[slot] - 1].name;
                        if (strncmp(candidate, name, n) == 0 && candidate[n] == '\0')
                                return command_table[command_index[slot] - 1].command_class;
                        slot = (slot + 1) % COMMAND_SLOTS;
                }
        }
        return 0;
}

const char *rule_basename(const char *path)
{
        const char *slash = strrchr(path, '/');
        return slash ? slash + 1 : path;
}

bool rule_command_is(const char *command, const char *name)
{
        size_t n = strlen(name);
        if (strncmp(command, name, n) != 0)
                return false;
        return strspn(command + n, "0123456789.") == strlen(command + n);
}

/* ------------------------------------------------------------ paths */

/* `first` "/" `second` (or `first` alone) into out; false when it does
 * not fit. Not snprintf: this runs for several paths of every exec. */
static bool join_path(char *out, size_t size, const char *first, const char *second)
{
        size_t n = strlen(first), m = second ? strlen(second) + 1 : 0;
        if (n + m >= size)
                return false;
        memcpy(out, first, n);
        if (second) {
                out[n] = '/';
                memcpy(out + n + 1, second, m - 1);
        }
        out[n + m] = '\0';
        return true;
}

bool rule_path_resolve(const char *cwd, const char *arg, char *out, size_t size)
{
        char joined[RULE_PATH_MAX * 2];
        size_t at = 0;
        bool home = arg[0] == '~' && (arg[1] == '\0' || arg[1] == '/');
        bool fits;
        if (home)
                fits = join_path(joined, sizeof(joined), arg + 1, NULL);
        else if (arg[0] == '/' || !cwd)
                fits = join_path(joined, sizeof(joined), arg, NULL);
        else
                fits = join_path(joined, sizeof(joined), cwd, arg);
        if (!fits || size < 3)
                return false;
        if (home)
                out[at++] = '~';
        size_t root = at; /* ".." never climbs above "/" or "~" */
        const char *p = joined;
        while (*p) {
                while (*p == '/')
                        p++;
                const char *end = strchrnul(p, '/');
                size_t len = (size_t)(end - p);
                if (len == 0 || (len == 1 && p[0] == '.')) {
                        /* nothing */
                } else if (len == 2 && p[0] == '.' && p[1] == '.') {
                        while (at > root && out[at - 1] != '/')
                                at--;
                        if (at > root)
                                at--;
                } else {
                        if (at + 1 + len + 1 > size)
                                return false;
                        out[at++] = '/';
                        memcpy(out + at, p, len);
                        at += len;
                }
                p = end;
        }
        if (at == 0)
                out[at++] = '/';
        out[at] = '\0';
        return true;
}

static bool starts_with(const char *text, const char *prefix)
{
        return strncmp(text, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *text, const char *suffix)
{
        size_t n = strlen(text), m = strlen(suffix);
        return n >= m && strcmp(text + n - m, suffix) == 0;
}

static bool in_list(const char *text, const char *const *list, size_t count)
{
        for (size_t i = 0; i < count; i++)
                if (strcmp(text, list[i]) == 0)
                        return true;
        return false;
}

bool rule_is_secret_path(const char *path)
{
        static const char *const names[] = {
            "id_rsa",           "id_dsa",        "id_ecdsa",         "id_ed25519",
            "id_ecdsa_sk",      "id_ed25519_sk", ".netrc",           ".pgpass",
            ".git-credentials", "credentials",   "credentials.json", "credentials.db",
            "access_tokens.db", "shadow",        "master.key",       ".vault-token",
        };
        static const char *const not_secret_env[] = {"example", "sample", "template", "dist",
                                                     "defaults"};
        static const char *const ssh_public[] = {"known_hosts", "known_hosts.old", "config",
                                                 "authorized_keys"};
        const char *base = rule_basename(path);
        if (starts_with(base, ".env")) {
                /* .env and .env.production are secrets; .env.example is documentation */
                const char *rest = base + 4;
                if (*rest == '\0')
                        return true;
                if (*rest == '.')
                        return !in_list(rest + 1, not_secret_env, ARRAY_SIZE(not_secret_env));
                return false;
        }
        if (in_list(base, names, ARRAY_SIZE(names)))
                return true;
        if (strstr(path, ".ssh/") && !ends_with(base, ".pub") &&
            !in_list(base, ssh_public, ARRAY_SIZE(ssh_public)))
                return true;
        if (strstr(path, ".docker/config.json") || strstr(path, ".kube/config") ||
            strstr(path, ".gnupg/") || strstr(path, ".config/gh/hosts.yml"))
                return true;
        if (ends_with(base, ".key") || ends_with(base, ".p12") || ends_with(base, ".pfx"))
                return true;
        return ends_with(base, ".pem") && (strstr(base, "key") || strstr(base, "priv"));
}

bool rule_is_persistence_path(const char *path)
{
        static const char *const names[] = {
            ".bashrc",   ".bash_profile", ".bash_login",     ".bash_logout",     ".profile",
            ".zshrc",    ".zprofile",     ".zshenv",         ".zlogin",          ".login",
            ".cshrc",    ".tcshrc",       ".kshrc",          ".xinitrc",         ".xprofile",
            "rc.local",  "ld.so.preload", "authorized_keys", "authorized_keys2", ".envrc",
            ".mcp.json",
        };
        static const char *const parts[] = {
            ".git/hooks/",
            ".git/config",
            ".git/commondir",
            ".git/info/",
            ".git/worktrees/",
            ".git/modules/",
            "/etc/cron",
            "/var/spool/cron",
            "/etc/profile",
            "/etc/systemd/",
            ".config/systemd/",
            ".config/autostart",
            "/etc/init.d/",
            ".config/fish/config.fish",
            ".claude/",
            ".codex/",
            ".cursor/",
            ".gemini/",
            ".vscode/tasks.json",
            ".vscode/settings.json",
            ".reins/",
            "Library/LaunchAgents",
        };
        if (in_list(rule_basename(path), names, ARRAY_SIZE(names)))
                return true;
        for (size_t i = 0; i < ARRAY_SIZE(parts); i++)
                if (strstr(path, parts[i]))
                        return true;
        return false;
}

bool rule_is_disposable(const char *arg)
{
        static const char *const parts[] = {"build",       "node_modules", "dist/", "target/",
                                            "__pycache__", ".cache",       "/tmp/", "tmp/"};
        static const char *const suffixes[] = {".o",     ".d",   ".a",   ".so",   ".pyc",
                                               ".class", ".tmp", ".log", ".gcda", ".gcno"};
        for (size_t i = 0; i < ARRAY_SIZE(parts); i++)
                if (strstr(arg, parts[i]))
                        return true;
        size_t n = strlen(arg);
        for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
                size_t m = strlen(suffixes[i]);
                if (n > m && strcmp(arg + n - m, suffixes[i]) == 0)
                        return true;
        }
        return false;
}

bool rule_is_broad_root(const char *resolved)
{
        static const char *const system_trees[] = {"etc", "var",  "opt", "mnt",   "srv",
                                                   "usr", "proc", "run", "media", "boot"};
        /* components: c[0] is "~" or the first directory under "/" */
        const char *c[3] = {NULL, NULL, NULL};
        size_t len[3] = {0, 0, 0};
        int depth = 0;
        const char *p = resolved;
        if (*p == '~') {
                c[0] = p;
                len[0] = 1;
                depth = 1;
                p++;
        }
        while (*p && depth < 3) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                const char *end = strchrnul(p, '/');
                c[depth] = p;
                len[depth] = (size_t)(end - p);
                depth++;
                p = end;
        }
        if (depth == 0)
                return true; /* "/" */
        bool tilde = len[0] == 1 && c[0][0] == '~';
        bool root = len[0] == 4 && strncmp(c[0], "root", 4) == 0;
        bool homes = (len[0] == 4 && strncmp(c[0], "home", 4) == 0) ||
                     (len[0] == 5 && strncmp(c[0], "Users", 5) == 0);
        if (tilde || root) /* the home itself, or a dot-dir in it (.ssh, .aws, .config) */
                return depth == 1 || c[1][0] == '.';
        if (homes)
                return depth <= 2 || c[2][0] == '.';
        if (depth == 1)
                for (size_t i = 0; i < ARRAY_SIZE(system_trees); i++)
                        if (len[0] == strlen(system_trees[i]) &&
                            strncmp(c[0], system_trees[i], len[0]) == 0)
                                return true;
        return false;
}

/* ------------------------------------------------------------ text */

bool rule_contains(const char *haystack, const char *needle)
{
        return strstr(haystack, needle) != NULL;
}

bool rule_contains_nocase(const char *haystack, const char *needle)
{
        return strcasestr(haystack, needle) != NULL;
}

const char *rule_key_material(const char *text)
{
        static const char *const exact[] = {"PRIVATE KEY", "BEGIN RSA", "BEGIN OPENSSH",
                                            "BEGIN EC",    "BEGIN DSA", "AKIA",
                                            "ghp_",        "xoxb-",     "glpat-"};
        static const char *const anycase[] = {
            "aws_secret", "aws_access_key", "secret_access", "id_rsa", "id_ed25519", "id_ecdsa",
            "id_dsa",     ".ssh",           ".aws",          ".pem",   "credential", "passw",
            "api_key",    "apikey",         "secret",        "token",  ".key",
        };
        for (size_t i = 0; i < ARRAY_SIZE(exact); i++)
                if (strstr(text, exact[i]))
                        return exact[i];
        for (size_t i = 0; i < ARRAY_SIZE(anycase); i++)
                if (strcasestr(text, anycase[i]))
                        return anycase[i];
        return NULL;
}

bool rule_host_matches(const char *host, const char *domain)
{
        size_t n = strlen(host), m = strlen(domain);
        if (n == m)
                return strcasecmp(host, domain) == 0;
        return n > m && host[n - m - 1] == '.' && strcasecmp(host + n - m, domain) == 0;
}

/* log2 without libm (the binary links no libm): scale into [1, 2), then
 * ln(m) = 2 atanh((m-1)/(m+1)), a series that converges fast there. */
static double log2_positive(double x)
{
        int exponent = 0;
        while (x >= 2.0) {
                x /= 2.0;
                exponent++;
        }
        while (x < 1.0) {
                x *= 2.0;
                exponent--;
        }
        double z = (x - 1.0) / (x + 1.0), z2 = z * z, term = z, sum = 0.0;
        for (int k = 1; k < 40; k += 2) {
                sum += term / k;
                term *= z2;
        }
        return exponent + 2.0 * sum / 0.69314718055994530942;
}

double rule_label_entropy(const char *label, size_t length)
{
        if (length == 0)
                return 0.0;
        unsigned counts[256] = {0};
        for (size_t i = 0; i < length; i++)
                counts[(unsigned char)label[i]]++;
        /* H = log2(n) - (1/n) sum c log2 c */
        double sum = 0.0;
        for (int i = 0; i < 256; i++)
                if (counts[i] > 1)
                        sum += counts[i] * log2_positive(counts[i]);
        return log2_positive((double)length) - sum / (double)length;
}

/* ------------------------------------------------------------ scripts */

static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *word_end(const char *p, const char *end)
{
        while (p < end && !is_space(*p))
                p++;
        return p;
}

/* The command word of a stage: past "(" "{" "!", variable assignments and
 * wrappers (sudo, env, nohup …) with their options, so `sudo -E bash` is bash. */
static void stage_command(struct rule_stage *stage)
{
        const char *p = stage->begin, *end = stage->end;
        for (int guard = 0; guard < 16 && p < end; guard++) {
                while (p < end && (is_space(*p) || *p == '(' || *p == '{' || *p == '!' ||
                                   *p == '"' || *p == '\''))
                        p++;
                const char *w = word_end(p, end);
                const char *eq = memchr(p, '=', (size_t)(w - p));
                if (eq && eq > p && !memchr(p, '/', (size_t)(eq - p))) {
                        p = w; /* FOO=bar */
                        continue;
                }
                const char *name = p;
                for (const char *q = p; q < w; q++)
                        if (*q == '/')
                                name = q + 1;
                size_t n = (size_t)(w - name);
                while (n > 0 && (name[n - 1] == '"' || name[n - 1] == '\'' || name[n - 1] == ')'))
                        n--;
                unsigned cls = rule_command_class(name, n);
                if (cls & CMD_WRAPPER) {
                        p = w;
                        while (p < end) { /* the wrapper's options */
                                while (p < end && is_space(*p))
                                        p++;
                                if (p >= end || *p != '-')
                                        break;
                                p = word_end(p, end);
                        }
                        continue;
                }
                stage->begin = p;
                stage->command_class = cls;
                return;
        }
        stage->begin = p;
        stage->command_class = 0;
}

int rule_script_stages(const char *script, struct rule_stage *stages, int max)
{
        int count = 0, pipeline = 0;
        char quote = 0;
        int reopen = 0; /* "$(…)" inside double quotes: the quote resumes at ')' */
        const char *p = script, *begin = script;
        for (;; p++) {
                char c = *p;
                int skip = 0, next_pipeline = 0;
                if (c == '\0') {
                        skip = 1;
                        next_pipeline = 1;
                } else if (quote == '"' && c == '(' && p[-1] == '$' && reopen < 8) {
                        /* command substitution runs inside double quotes too */
                        quote = 0;
                        reopen++;
                        skip = 1;
                        next_pipeline = 1;
                } else if (quote) {
                        if (c == quote)
                                quote = 0;
                        continue;
                } else if (c == '\'' || c == '"') {
                        quote = c;
                        continue;
                } else if (c == '|') {
                        skip = p[1] == '|' ? 2 : 1;
                        next_pipeline = p[1] == '|';
                } else if (c == '&') {
                        /* ">&", "<&" and "&>" are redirections, not separators */
                        if ((p > script && (p[-1] == '>' || p[-1] == '<')) || p[1] == '>')
                                continue;
                        skip = p[1] == '&' ? 2 : 1;
                        next_pipeline = 1;
                } else if (c == ')' && reopen > 0) {
                        quote = '"';
                        reopen--;
                        skip = 1;
                        next_pipeline = 1;
                } else if (c == ';' || c == '\n' || c == '`' || c == ')' ||
                           (c == '(' && p > script && (p[-1] == '$' || p[-1] == '<'))) {
                        skip = 1;
                        next_pipeline = 1;
                } else {
                        continue;
                }
                if (count < max && p > begin) {
                        struct rule_stage *s = &stages[count];
                        s->pipeline = pipeline;
                        s->begin = begin;
                        s->end = p;
                        stage_command(s);
                        if (s->begin < s->end)
                                count++;
                }
                if (c == '\0')
                        break;
                pipeline += next_pipeline;
                p += skip - 1;
                begin = p + 1;
        }
        return count;
}

bool rule_stage_has_word(const struct rule_stage *stage, const char *word)
{
        size_t n = strlen(word);
        const char *p = stage->begin;
        while (p < stage->end) {
                while (p < stage->end && is_space(*p))
                        p++;
                const char *w = word_end(p, stage->end);
                if ((size_t)(w - p) == n && strncmp(p, word, n) == 0)
                        return true;
                p = w;
        }
        return false;
}
