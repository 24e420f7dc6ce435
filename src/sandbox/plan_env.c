/* The command's environment: only names the policy keeps pass from the
 * caller (so AWS_SECRET_ACCESS_KEY and friends stay outside), then env.set,
 * then --env. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/plan_internal.h"
#include "util/weaken.h"

static bool env_name_kept(const struct reins_strv *keep, const char *entry)
{
        size_t name_len = strcspn(entry, "=");
        for (size_t i = 0; i < keep->count; i++) {
                const char *k = keep->items[i];
                size_t len = strlen(k);
                if (len > 0 && k[len - 1] == '*') {
                        if (name_len >= len - 1 && strncmp(entry, k, len - 1) == 0)
                                return true;
                } else if (len == name_len && strncmp(entry, k, len) == 0) {
                        return true;
                }
        }
        return false;
}

/* Replace NAME=... in env, or append. `entry` is "NAME=VALUE". */
static int env_put(struct reins_strv *env, const char *entry)
{
        size_t name_len = strcspn(entry, "=");
        for (size_t i = 0; i < env->count; i++) {
                if (strncmp(env->items[i], entry, name_len) == 0 &&
                    env->items[i][name_len] == '=') {
                        char *copy = strdup(entry);
                        if (!copy)
                                return -ENOMEM;
                        free(env->items[i]);
                        env->items[i] = copy;
                        return 0;
                }
        }
        return strv_push(env, entry);
}

int plan_env_put(struct reins_plan *plan, const char *entry)
{
        char *name = strndup(entry, strcspn(entry, "="));
        if (!name)
                return -ENOMEM;
        int r = strv_push_take(&plan->env_owned, name);
        return r < 0 ? r : env_put(&plan->env, entry);
}

const char *plan_env_lookup(char **environ_list, const char *name)
{
        size_t len = strlen(name);
        for (char **e = environ_list; e && *e; e++)
                if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
                        return *e;
        return NULL;
}

static bool env_name_valid(const char *name, size_t len)
{
        if (len == 0)
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = name[i];
                bool ok = c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (i > 0 && c >= '0' && c <= '9');
                if (!ok)
                        return false;
        }
        return true;
}

int plan_build_env(struct reins_plan *plan, const struct reins_policy *policy,
                   const struct plan_options *options, struct reins_error *err)
{
        int r;
        for (char **e = options->host_environ; e && *e; e++)
                if ((weaken("env") || env_name_kept(&policy->env.keep, *e)) &&
                    (r = env_put(&plan->env, *e)) < 0)
                        return reins_error_set(err, -r, "out of memory");
        for (size_t i = 0; i < policy->env.set.count; i++)
                if ((r = env_put(&plan->env, policy->env.set.items[i])) < 0)
                        return reins_error_set(err, -r, "out of memory");
        for (size_t i = 0; i < options->extra_env.count; i++) {
                const char *arg = options->extra_env.items[i];
                size_t name_len = strcspn(arg, "=");
                if (!env_name_valid(arg, name_len))
                        return reins_error_set(err, EINVAL, "--env '%s': not a variable name", arg);
                if (arg[name_len] == '=') {
                        r = env_put(&plan->env, arg);
                } else {
                        const char *host = plan_env_lookup(options->host_environ, arg);
                        r = host ? env_put(&plan->env, host) : 0;
                }
                if (r < 0)
                        return reins_error_set(err, -r, "out of memory");
        }
        /* Commands are looked up in PATH; give a sane one if none was kept. */
        if (!plan_env_lookup(plan->env.items, "PATH") &&
            (r = strv_push(&plan->env, "PATH=/usr/local/bin:/usr/bin:/bin")) < 0)
                return reins_error_set(err, -r, "out of memory");
        return 0;
}

int plan_env_add_caller(struct reins_plan *plan, char *const *pairs, size_t count,
                        struct reins_error *err)
{
        for (size_t i = 0; i < count; i++) {
                size_t name_len = strcspn(pairs[i], "=");
                if (!env_name_valid(pairs[i], name_len) || pairs[i][name_len] != '=')
                        return reins_error_set(err, EINVAL, "env: '%.64s' is not NAME=VALUE",
                                               pairs[i]);
                bool owned = false;
                for (size_t j = 0; j < plan->env_owned.count && !owned; j++)
                        owned = strlen(plan->env_owned.items[j]) == name_len &&
                                strncmp(plan->env_owned.items[j], pairs[i], name_len) == 0;
                int r = owned ? 0 : env_put(&plan->env, pairs[i]);
                if (r < 0)
                        return reins_error_set(err, -r, "out of memory");
        }
        return 0;
}
