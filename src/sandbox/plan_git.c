/* git inside the sandbox.
 *
 * Identity: the caller's user.name and user.email (from ~/.gitconfig or
 * $XDG_CONFIG_HOME/git/config, read on the host) go into a global config of
 * the sandbox's own (GIT_CONFIG_GLOBAL), so commits made inside carry the
 * caller's name while the real file, which may hold credential helpers or
 * tokens, stays outside. A repository's own identity still wins.
 *
 * Hidden files, when filesystem.deny hides files of the workspace. A hidden regular file is a stat
 * twin (mounts_hide_fd): same type, size and mtime, another inode and ctime, unreadable. Two
 * settings, passed as GIT_CONFIG_KEY_n/VALUE_n after any the caller passes, make git inside behave
 * as outside: core.checkStat=minimal   git compares only size and mtime, so a hidden tracked file
 * is "unchanged" instead of re-read (and failing) on every `git status`; core.excludesFile the
 * hidden paths, so `git add -A` skips a hidden untracked file (.env) instead of failing on it;
 * tracked files are not affected. Neither is a protection (the agent can unset them): the twin is.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sandbox/plan_internal.h"
#include "util/path.h"

#define GIT_EXCLUDE_FILE    "/.reins/git-exclude"
#define GIT_GLOBAL_FILE     "/.reins/gitconfig"
#define GIT_CONFIG_READ_MAX (64u << 10) /* bytes of the caller's config read */
#define GIT_IDENTITY_MAX    256         /* a longer name or address is not passed */
#define GIT_EXCLUDE_MAX     (1u << 20)  /* bytes: hidden paths past this are not listed */

/* Append `rel` as an anchored gitignore pattern matching exactly that path:
 * every character with a meaning in patterns is escaped. Names holding a
 * newline cannot be written and are skipped. */
static int exclude_append(char **text, size_t *length, const char *rel)
{
        if (strchr(rel, '\n'))
                return 0;
        size_t need = 2 * strlen(rel) + 3;
        if (*length + need > GIT_EXCLUDE_MAX)
                return 0;
        char *grown = realloc(*text, *length + need + 1);
        if (!grown)
                return -ENOMEM;
        *text = grown;
        char *out = grown + *length;
        *out++ = '/';
        for (const char *c = rel; *c; c++) {
                if (strchr("\\*?[]!# \t", *c))
                        *out++ = '\\';
                *out++ = *c;
        }
        *out++ = '\n';
        *out = '\0';
        *length = (size_t)(out - grown);
        return 0;
}

static int git_config_push(struct reins_plan *plan, unsigned long *n, const char *key,
                           const char *value)
{
        char *k = NULL, *v = NULL;
        int r = 0;
        if (asprintf(&k, "GIT_CONFIG_KEY_%lu=%s", *n, key) < 0 ||
            asprintf(&v, "GIT_CONFIG_VALUE_%lu=%s", *n, value) < 0)
                r = -ENOMEM;
        if (r == 0 && (r = plan_env_put(plan, k)) == 0)
                r = plan_env_put(plan, v);
        free(k);
        free(v);
        if (r == 0)
                (*n)++;
        return r;
}

/* The value of one `key = value` line of git's config syntax: quotes
 * removed, \" \\ \t \n unescaped, comments (# ;) outside quotes dropped,
 * surrounding blanks trimmed. False for a value reins will not pass on (a
 * control character, or longer than GIT_IDENTITY_MAX). */
static bool git_config_value(const char *in, char *out, size_t size)
{
        size_t n = 0;
        bool quoted = false;
        while (*in == ' ' || *in == '\t')
                in++;
        for (; *in && *in != '\n'; in++) {
                char c = *in;
                if (c == '"') {
                        quoted = !quoted;
                        continue;
                }
                if (!quoted && (c == '#' || c == ';'))
                        break;
                if (c == '\\') {
                        c = *++in;
                        if (c == 't')
                                c = '\t';
                        else if (c == 'n' || c == '\0')
                                return false;
                }
                if ((unsigned char)c < 0x20 || c == 0x7f || n + 1 >= size)
                        return false;
                out[n++] = c;
        }
        while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
                n--;
        out[n] = '\0';
        return n > 0;
}

/* user.name and user.email of one config file (the last one wins, as in
 * git); include directives are not followed. */
static void git_identity_from(const char *path, char *name, char *email)
{
        FILE *f = fopen(path, "re");
        if (!f)
                return;
        char line[1024];
        bool in_user = false;
        size_t read = 0;
        while (read < GIT_CONFIG_READ_MAX && fgets(line, sizeof(line), f)) {
                read += strlen(line);
                char *p = line;
                while (*p == ' ' || *p == '\t')
                        p++;
                if (*p == '[') {
                        in_user = strncasecmp(p, "[user]", 6) == 0;
                        continue;
                }
                if (!in_user)
                        continue;
                char *eq = strchr(p, '=');
                if (!eq)
                        continue;
                size_t key = strcspn(p, " \t=");
                char value[GIT_IDENTITY_MAX];
                if (!git_config_value(eq + 1, value, sizeof(value)))
                        continue;
                if (key == 4 && strncasecmp(p, "name", 4) == 0)
                        strcpy(name, value);
                else if (key == 5 && strncasecmp(p, "email", 5) == 0)
                        strcpy(email, value);
        }
        fclose(f);
}

/* A config value for our generated file: quoted, " and \ escaped. */
static int git_quote(char *out, size_t size, const char *value)
{
        size_t n = 0;
        out[n++] = '"';
        for (; *value; value++) {
                if (n + 3 >= size)
                        return -ENAMETOOLONG;
                if (*value == '"' || *value == '\\')
                        out[n++] = '\\';
                out[n++] = *value;
        }
        out[n++] = '"';
        out[n] = '\0';
        return 0;
}

/* Is `path` inside a bind of the plan (then the sandbox reads it as is)? */
static bool plan_shows(const struct reins_plan *plan, const char *path)
{
        for (size_t i = 0; i < plan->mount_count; i++) {
                enum mount_op_kind k = plan->mounts[i].kind;
                if ((k == MOUNT_OP_BIND_RO || k == MOUNT_OP_BIND_RW || k == MOUNT_OP_OVERLAY) &&
                    path_is_under(path, plan->mounts[i].target))
                        return true;
        }
        return false;
}

static int plan_add_git_identity(struct reins_plan *plan)
{
        char name[GIT_IDENTITY_MAX] = "", email[GIT_IDENTITY_MAX] = "";
        if (!plan->home || plan->home[0] != '/')
                return 0;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/.gitconfig", plan->home);
        if (plan_shows(plan, path))
                return 0; /* the policy binds it: git inside reads the real one */
        const char *xdg = getenv("XDG_CONFIG_HOME");
        if (xdg && xdg[0] == '/')
                snprintf(path, sizeof(path), "%s/git/config", xdg);
        else
                snprintf(path, sizeof(path), "%s/.config/git/config", plan->home);
        git_identity_from(path, name, email); /* git reads it before ~/.gitconfig */
        snprintf(path, sizeof(path), "%s/.gitconfig", plan->home);
        git_identity_from(path, name, email);
        if (!name[0] && !email[0])
                return 0;
        char qname[2 * GIT_IDENTITY_MAX + 3], qemail[2 * GIT_IDENTITY_MAX + 3];
        if (git_quote(qname, sizeof(qname), name) < 0 ||
            git_quote(qemail, sizeof(qemail), email) < 0)
                return 0;
        char *text = NULL;
        if (asprintf(&text, "# made by reins from the caller's git identity\n[user]\n%s%s%s%s%s%s",
                     name[0] ? "\tname = " : "", name[0] ? qname : "", name[0] ? "\n" : "",
                     email[0] ? "\temail = " : "", email[0] ? qemail : "",
                     email[0] ? "\n" : "") < 0)
                return -ENOMEM;
        int r = plan_add_mount(plan, MOUNT_OP_FILE, text, GIT_GLOBAL_FILE, 0);
        free(text);
        if (r == 0)
                r = plan_add_landlock(plan, GIT_GLOBAL_FILE, LANDLOCK_RULE_READ_EXEC);
        if (r == 0 && !plan_env_lookup(plan->env.items, "GIT_CONFIG_GLOBAL"))
                r = plan_env_put(plan, "GIT_CONFIG_GLOBAL=" GIT_GLOBAL_FILE);
        return r;
}

static int plan_add_git_hidden(struct reins_plan *plan)
{
        char *exclude = NULL;
        size_t length = 0;
        int r = 0;
        size_t prefix = strlen(plan->workspace);
        for (size_t i = 0; r == 0 && i < plan->mount_count; i++) {
                const struct mount_op *op = &plan->mounts[i];
                if (op->kind != MOUNT_OP_HIDE || !path_is_under(op->target, plan->workspace) ||
                    strlen(op->target) <= prefix + 1)
                        continue;
                r = exclude_append(&exclude, &length, op->target + prefix + 1);
        }
        if (r < 0 || !exclude) {
                free(exclude);
                return r;
        }
        const char *count = plan_env_lookup(plan->env.items, "GIT_CONFIG_COUNT");
        unsigned long n = count ? strtoul(count + strlen("GIT_CONFIG_COUNT="), NULL, 10) : 0;
        char entry[64];
        if (n <= 1000 &&
            (r = plan_add_mount(plan, MOUNT_OP_FILE, exclude, GIT_EXCLUDE_FILE, 0)) == 0 &&
            (r = plan_add_landlock(plan, GIT_EXCLUDE_FILE, LANDLOCK_RULE_READ_EXEC)) == 0 &&
            (r = git_config_push(plan, &n, "core.checkStat", "minimal")) == 0 &&
            (r = git_config_push(plan, &n, "core.excludesFile", GIT_EXCLUDE_FILE)) == 0) {
                snprintf(entry, sizeof(entry), "GIT_CONFIG_COUNT=%lu", n);
                r = plan_env_put(plan, entry);
        }
        free(exclude);
        return r;
}

int plan_add_git_settings(struct reins_plan *plan)
{
        int r = plan_add_git_identity(plan);
        return r < 0 ? r : plan_add_git_hidden(plan);
}
