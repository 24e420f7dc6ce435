/* mass-rewrite: many workspace files rewritten in place within a window,
 * counted per distinct path the way mass-deletion counts deleted paths
 * (sed -i, perl -pi, shred, truncate to nothing, dd of=, encryption with
 * gpg, openssl or age), and the ransomware shape: a workspace file
 * encrypted, then its original removed or overwritten.
 *
 * Each tool's own option grammar says which arguments are files. `find
 * -exec sed -i` and `xargs shred` need nothing of their own: every program
 * they start is an exec of its own, with the paths in its argv. */
#include "govern/rule.h"

#include <stdio.h>
#include <string.h>

#include "util/cleanup.h"

/* ------------------------------------------------------------ argv grammar */

/* Short options a-z, A-Z and 0-9 as bits of a uint64_t. */
#define LETTERS 62

static int letter_bit(char c)
{
        if (c >= 'a' && c <= 'z')
                return c - 'a';
        if (c >= 'A' && c <= 'Z')
                return 26 + c - 'A';
        if (c >= '0' && c <= '9')
                return 52 + c - '0';
        return -1;
}

/* How a tool reads its argv, getopt-style. */
struct grammar {
        const char *values;             /* short options taking a value: the rest of
                                           the cluster, or the next argument */
        const char *attached;           /* short options whose value is the rest of the
                                           cluster only (sed -i.bak, perl -Idir) */
        const char *const *long_values; /* long options taking a value: after '=', or
                                           the next argument */
};

/* What getopt would make of an argv. */
struct parsed {
        int operands[RULE_ARGV_MAX];
        int operand_count;
        uint64_t letters;
        const char *value[LETTERS]; /* of a letter in values or attached, when given */
        const char *longs[RULE_ARGV_MAX];
        const char *long_value[RULE_ARGV_MAX];
        int long_count;
};

static bool listed(const char *const *names, const char *name, size_t len)
{
        for (; names && *names; names++)
                if (strlen(*names) == len && strncmp(*names, name, len) == 0)
                        return true;
        return false;
}

static void parse_long(const struct rule_event *e, const struct grammar *g, int *i,
                       struct parsed *out)
{
        const char *a = e->argv[*i], *value = strchr(a, '=');
        size_t len = value ? (size_t)(value - a) : strlen(a);
        if (value)
                value++;
        else if (listed(g->long_values, a, len) && *i + 1 < e->argc)
                value = e->argv[++*i];
        out->longs[out->long_count] = a;
        out->long_value[out->long_count++] = value;
}

static void parse_cluster(const struct rule_event *e, const struct grammar *g, int *i,
                          struct parsed *out)
{
        for (const char *p = e->argv[*i] + 1; *p; p++) {
                int bit = letter_bit(*p);
                if (bit < 0)
                        return;
                out->letters |= 1ull << bit;
                if (strchr(g->attached, *p)) {
                        out->value[bit] = p + 1;
                        return;
                }
                if (strchr(g->values, *p)) {
                        if (p[1])
                                out->value[bit] = p + 1;
                        else
                                out->value[bit] = *i + 1 < e->argc ? e->argv[++*i] : NULL;
                        return;
                }
        }
}

static void parse_argv(const struct rule_event *e, const struct grammar *g, struct parsed *out)
{
        out->operand_count = out->long_count = 0;
        out->letters = 0;
        bool options = true;
        for (int i = 1; i < e->argc; i++) {
                const char *a = e->argv[i];
                if (!options || a[0] != '-' || a[1] == '\0')
                        out->operands[out->operand_count++] = i;
                else if (strcmp(a, "--") == 0)
                        options = false;
                else if (a[1] == '-')
                        parse_long(e, g, &i, out);
                else
                        parse_cluster(e, g, &i, out);
        }
}

static bool has_letter(const struct parsed *p, char c)
{
        return (p->letters >> letter_bit(c)) & 1;
}

/* A long option given (its value in *value when it has one), matched on
 * its full name. */
static bool has_long(const struct parsed *p, const char *name, const char **value)
{
        size_t n = strlen(name);
        for (int i = 0; i < p->long_count; i++)
                if (strncmp(p->longs[i], name, n) == 0 &&
                    (p->longs[i][n] == '\0' || p->longs[i][n] == '=')) {
                        if (value)
                                *value = p->long_value[i];
                        return true;
                }
        return false;
}

/* ------------------------------------------------------------ counting */

struct rewrite_scan {
        struct risk_engine *engine;
        const struct rule_event *e;
        int64_t since; /* the window's start */
        int counted;   /* new distinct workspace paths */
        int looked;    /* arguments taken as paths */
};

/* A file in the workspace that is not a build product; its resolved
 * path's hash. Without a workspace (a replayed trail that lacks
 * session.start), any file that is not a build product. */
static bool workspace_file(const struct rewrite_scan *scan, const char *arg, uint64_t *hash)
{
        const char *workspace = scan->engine->workspace;
        char resolved[RULE_PATH_MAX];
        if (!rule_path_resolve(scan->e->cwd, arg, resolved, sizeof(resolved)))
                return false;
        const char *inside = resolved;
        size_t n = strlen(workspace);
        if (n > 1) {
                if (strncmp(resolved, workspace, n) != 0 || resolved[n] != '/')
                        return false;
                inside = resolved + n + 1; /* a workspace under /tmp is not "tmp/" */
        }
        if (rule_is_disposable(inside))
                return false;
        *hash = rule_hash(resolved, strlen(resolved));
        return true;
}

static void rewritten(struct rewrite_scan *scan, const char *arg, bool encrypted)
{
        uint64_t hash;
        scan->looked++;
        if (!workspace_file(scan, arg, &hash))
                return;
        if (rule_path_set_add(&scan->engine->rewritten, hash, scan->e->now_ms, scan->since))
                scan->counted++;
        if (encrypted)
                rule_window_add(&scan->engine->encryptions, scan->e->now_ms, (int64_t)hash,
                                &scan->e->evidence);
}

/* The common case for rm, mv and cp: nothing was encrypted in the window,
 * so nothing they remove can be an original. */
static bool encrypted_lately(const struct rewrite_scan *scan)
{
        const struct rule_window *w = &scan->engine->encryptions;
        int newest = (w->head - 1 + RULE_RING_MAX) % RULE_RING_MAX;
        return w->count > 0 && w->at[newest] >= scan->since;
}

/* The original of a file encrypted in the window is removed or replaced:
 * what is left of it is the ciphertext. */
static void removed(struct rewrite_scan *scan, const char *arg, const char *how)
{
        const struct rule_window *w = &scan->engine->encryptions;
        uint64_t hash;
        if (!workspace_file(scan, arg, &hash))
                return;
        for (int i = 0; i < w->count; i++) {
                int slot = (w->head - 1 - i + RULE_RING_MAX) % RULE_RING_MAX;
                if (w->at[slot] < scan->since || (uint64_t)w->value[slot] != hash)
                        continue;
                char detail[RULE_PATH_MAX + 48];
                snprintf(detail, sizeof(detail), "%s encrypted, then the original %s", arg, how);
                rule_fire(scan->engine, RULE_MASS_REWRITE, scan->e, detail, &w->evidence[slot], 1);
                return;
        }
}

static void count_rewrites(struct rewrite_scan *scan)
{
        struct risk_engine *engine = scan->engine;
        const struct rule_event *e = scan->e;
        const struct rule_state *s = &engine->rules[RULE_MASS_REWRITE];
        int64_t unseen = rule_count_with_dropped(e, scan->counted, scan->looked) - scan->counted;
        rule_window_add(&engine->rewrites, e->now_ms, scan->counted + unseen, &e->evidence);
        if (unseen)
                rule_counter_add(&engine->rewritten_unseen, s->window_ms, e->now_ms, unseen);
        int64_t total = rule_path_set_count(&engine->rewritten, scan->since) +
                        rule_counter_sum(&engine->rewritten_unseen, s->window_ms, e->now_ms);
        if (total < s->threshold)
                return;
        char detail[64];
        snprintf(detail, sizeof(detail), "%lld workspace files rewritten", (long long)total);
        rule_fire_count(engine, RULE_MASS_REWRITE, e, &engine->rewrites, detail);
        rule_path_set_clear(&engine->rewritten);
        rule_counter_clear(&engine->rewritten_unseen);
}

/* ------------------------------------------------------------ tools */

static void each_operand(struct rewrite_scan *scan, const struct parsed *p, int first,
                         bool encrypted)
{
        for (int i = first; i < p->operand_count; i++)
                rewritten(scan, scan->e->argv[p->operands[i]], encrypted);
}

/* sed -i / perl -i: the files, once the script is out of the way (the
 * first operand, unless -e or -f gave it). */
static void scan_editor(struct rewrite_scan *scan, const struct grammar *g, const char *scripts)
{
        struct parsed p;
        parse_argv(scan->e, g, &p);
        if (!has_letter(&p, 'i') && !has_long(&p, "--in-place", NULL))
                return;
        bool script = has_long(&p, "--expression", NULL) || has_long(&p, "--file", NULL);
        for (const char *c = scripts; *c; c++)
                script |= has_letter(&p, *c);
        each_operand(scan, &p, script ? 0 : 1, false);
}

static const char *const sed_longs[] = {"--expression", "--file", "--line-length", NULL};
static const struct grammar sed_grammar = {"efl", "i", sed_longs};
/* perl -i.bak -Idir -Mmod -F: -xdir -C7 -d:Mod -Dflags: the value is
 * attached; -0777 and -l take digits only, read as flags (-lpi is -l -p -i) */
static const struct grammar perl_grammar = {"eE", "iIMmFxCdD", NULL};

static void scan_shred(struct rewrite_scan *scan)
{
        static const char *const longs[] = {"--iterations", "--size", "--random-source", NULL};
        static const struct grammar g = {"ns", "", longs};
        struct parsed p;
        parse_argv(scan->e, &g, &p);
        each_operand(scan, &p, 0, false);
        if ((has_letter(&p, 'u') || has_long(&p, "--remove", NULL)) && encrypted_lately(scan))
                for (int i = 0; i < p.operand_count; i++)
                        removed(scan, scan->e->argv[p.operands[i]], "shredded");
}

/* "0", "0K", "-5M", "<1G", "/4K": a size that empties or shrinks. A plain
 * size may only grow a file (truncate -s 1G disk.img), so it is not a
 * rewrite. */
static bool size_destroys(const char *size)
{
        if (!size || !*size)
                return false;
        if (*size == '-' || *size == '<' || *size == '/')
                return true;
        size_t zeros = strspn(size, "0");
        return zeros > 0 && !(size[zeros] >= '1' && size[zeros] <= '9');
}

static void scan_truncate(struct rewrite_scan *scan)
{
        static const char *const longs[] = {"--reference", "--size", NULL};
        static const struct grammar g = {"rs", "", longs};
        struct parsed p;
        parse_argv(scan->e, &g, &p);
        const char *size = has_letter(&p, 's') ? p.value[letter_bit('s')] : NULL;
        has_long(&p, "--size", &size);
        if (size_destroys(size))
                each_operand(scan, &p, 0, false);
}

static void scan_dd(struct rewrite_scan *scan)
{
        for (int i = 1; i < scan->e->argc; i++)
                if (strncmp(scan->e->argv[i], "of=", 3) == 0)
                        rewritten(scan, scan->e->argv[i] + 3, false);
}

static void scan_gpg(struct rewrite_scan *scan)
{
        static const char *const longs[] = {"--output",           "--recipient",
                                            "--hidden-recipient", "--recipient-file",
                                            "--local-user",       "--default-key",
                                            "--passphrase",       "--passphrase-file",
                                            "--passphrase-fd",    "--homedir",
                                            "--cipher-algo",      "--compress-algo",
                                            "--digest-algo",      "--s2k-cipher-algo",
                                            "--s2k-digest-algo",  "--s2k-mode",
                                            "--s2k-count",        "--trust-model",
                                            "--pinentry-mode",    "--keyring",
                                            "--status-fd",        "--logger-fd",
                                            "--compress-level",   "--set-filename",
                                            "--comment",          NULL};
        static const struct grammar g = {"oRrufz", "", longs};
        struct parsed p;
        parse_argv(scan->e, &g, &p);
        bool decrypt = has_letter(&p, 'd') || has_long(&p, "--decrypt", NULL) ||
                       has_long(&p, "--decrypt-files", NULL);
        bool encrypt = has_letter(&p, 'c') || has_letter(&p, 'e') ||
                       has_long(&p, "--symmetric", NULL) || has_long(&p, "--encrypt", NULL) ||
                       has_long(&p, "--encrypt-files", NULL);
        if (encrypt && !decrypt)
                each_operand(scan, &p, 0, true);
}

static void scan_age(struct rewrite_scan *scan)
{
        static const char *const longs[] = {"--recipient", "--recipients-file", "--identity",
                                            "--output",    "--plugin",          NULL};
        static const struct grammar g = {"rRioj", "", longs};
        struct parsed p;
        parse_argv(scan->e, &g, &p);
        if (!has_letter(&p, 'd') && !has_long(&p, "--decrypt", NULL))
                each_operand(scan, &p, 0, true);
}

/* openssl's options are single-dash words: `enc -aes-256-cbc -in f`, a
 * cipher as the command (`openssl aes-256-cbc -in f`), or `-encrypt` for
 * cms, smime, pkeyutl. Base64 through `enc -a` alone encrypts nothing. */
static void scan_openssl(struct rewrite_scan *scan)
{
        static const char *const ciphers[] = {"aes", "des",  "chacha", "camellia", "aria", "sm4",
                                              "bf",  "cast", "rc2",    "rc4",      "seed", "idea"};
        const struct rule_event *e = scan->e;
        if (e->argc < 2)
                return;
        const char *command = e->argv[1], *input = NULL;
        bool cipher = false, decrypt = false;
        for (size_t k = 0; k < ARRAY_SIZE(ciphers); k++)
                cipher |= strncmp(command, ciphers[k], strlen(ciphers[k])) == 0;
        bool enc = strcmp(command, "enc") == 0;
        for (int i = 2; i < e->argc; i++) {
                const char *a = e->argv[i];
                if (strcmp(a, "-in") == 0 && i + 1 < e->argc)
                        input = e->argv[++i];
                else if (strcmp(a, "-d") == 0 || strcmp(a, "-decrypt") == 0)
                        decrypt = true;
                else if (strcmp(a, "-encrypt") == 0)
                        cipher = true;
                else if (enc && a[0] == '-')
                        for (size_t k = 0; k < ARRAY_SIZE(ciphers); k++)
                                cipher |= strncmp(a + 1, ciphers[k], strlen(ciphers[k])) == 0;
        }
        if (cipher && !decrypt && input)
                rewritten(scan, input, true);
}

static void scan_rm(struct rewrite_scan *scan)
{
        static const struct grammar g = {"", "", NULL};
        if (!encrypted_lately(scan))
                return;
        struct parsed p;
        parse_argv(scan->e, &g, &p);
        for (int i = 0; i < p.operand_count; i++)
                removed(scan, scan->e->argv[p.operands[i]], "deleted");
}

/* mv/cp CIPHERTEXT ORIGINAL: the last operand, unless -t names a directory */
static void scan_replace(struct rewrite_scan *scan)
{
        static const char *const longs[] = {"--target-directory", "--suffix", NULL};
        static const struct grammar g = {"tS", "", longs};
        if (!encrypted_lately(scan))
                return;
        struct parsed p;
        parse_argv(scan->e, &g, &p);
        if (p.operand_count >= 2 && !has_letter(&p, 't') &&
            !has_long(&p, "--target-directory", NULL))
                removed(scan, scan->e->argv[p.operands[p.operand_count - 1]], "overwritten");
}

void rule_rewrite(struct risk_engine *engine, const struct rule_event *e)
{
        if (!engine->rules[RULE_MASS_REWRITE].enabled)
                return;
        struct rewrite_scan scan = {
            .engine = engine,
            .e = e,
            .since = e->now_ms - engine->rules[RULE_MASS_REWRITE].window_ms,
        };
        const char *command = e->command;
        if (rule_command_is(command, "sed"))
                scan_editor(&scan, &sed_grammar, "ef");
        else if (rule_command_is(command, "perl"))
                scan_editor(&scan, &perl_grammar, "eE");
        else if (strcmp(command, "shred") == 0)
                scan_shred(&scan);
        else if (strcmp(command, "truncate") == 0)
                scan_truncate(&scan);
        else if (strcmp(command, "dd") == 0)
                scan_dd(&scan);
        else if (rule_command_is(command, "gpg"))
                scan_gpg(&scan);
        else if (strcmp(command, "age") == 0)
                scan_age(&scan);
        else if (rule_command_is(command, "openssl"))
                scan_openssl(&scan);
        else if (e->command_class & CMD_RM)
                scan_rm(&scan);
        else if (strcmp(command, "mv") == 0 || strcmp(command, "cp") == 0)
                scan_replace(&scan);
        if (scan.counted)
                count_rewrites(&scan);
}
