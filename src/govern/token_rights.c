/* A token's effective rights: the intersection over its blocks. Pure. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "govern/token.h"
#include "util/glob.h"
#include "util/cleanup.h"

/* Allow patterns without a port mean the web ports, exactly as in
 * network.allow: a token must not read wider than the policy line it mimics. */
static const uint16_t token_default_ports[] = {80, 443};

static int token_sets_add(struct token_pattern_sets *sets, const struct reins_strv *values)
{
        struct reins_strv *grown = realloc(sets->sets, (sets->count + 1) * sizeof(*grown));
        if (!grown)
                return -ENOMEM;
        sets->sets = grown;
        memset(&grown[sets->count], 0, sizeof(grown[0]));
        if (strv_copy(&grown[sets->count], values) < 0) {
                strv_free(&grown[sets->count]);
                return -ENOMEM;
        }
        sets->count++;
        return 0;
}

static void token_sets_free(struct token_pattern_sets *sets)
{
        for (size_t i = 0; i < sets->count; i++)
                strv_free(&sets->sets[i]);
        free(sets->sets);
        sets->sets = NULL;
        sets->count = 0;
}

void token_rights_free(struct token_rights *rights)
{
        for (size_t i = 0; rights->dest_rules && i < rights->dest.count; i++)
                net_rules_free(&rights->dest_rules[i]);
        free(rights->dest_rules);
        token_sets_free(&rights->dest);
        token_sets_free(&rights->path);
        token_sets_free(&rights->cmd);
        free(rights->agent);
        memset(rights, 0, sizeof(*rights));
}

static int token_rights_add(struct token_rights *rights, const struct token_restrictions *r)
{
        if ((r->has_dest && token_sets_add(&rights->dest, &r->dest) < 0) ||
            (r->has_path && token_sets_add(&rights->path, &r->path) < 0) ||
            (r->has_cmd && token_sets_add(&rights->cmd, &r->cmd) < 0))
                return -ENOMEM;
        if (r->has_expires && (!rights->has_expires || r->expires < rights->expires)) {
                rights->has_expires = true;
                rights->expires = r->expires;
        }
        if (r->has_uses && (!rights->has_uses || r->uses < rights->uses)) {
                rights->has_uses = true;
                rights->uses = r->uses;
        }
        if (r->agent) {
                if (!rights->agent) {
                        if (!(rights->agent = strdup(r->agent)))
                                return -ENOMEM;
                } else if (strcmp(rights->agent, r->agent) != 0) {
                        /* two blocks for two different agents: no agent is both */
                        rights->agent_conflict = true;
                }
        }
        return 0;
}

int token_effective_rights(const struct token *token, struct token_rights *out,
                           struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        for (size_t i = 0; i < token->count; i++)
                if (token_rights_add(out, &token->blocks[i].restrictions) < 0) {
                        token_rights_free(out);
                        return reins_error_set(err, ENOMEM, "out of memory");
                }
        if (out->dest.count) {
                out->dest_rules = calloc(out->dest.count, sizeof(*out->dest_rules));
                if (!out->dest_rules) {
                        token_rights_free(out);
                        return reins_error_set(err, ENOMEM, "out of memory");
                }
                for (size_t i = 0; i < out->dest.count; i++) {
                        int rc = net_rules_build(&out->dest_rules[i], &out->dest.sets[i],
                                                 "token dest", err);
                        if (rc < 0) {
                                token_rights_free(out);
                                return rc;
                        }
                }
        }
        return 0;
}

static bool token_rules_allow(const struct net_rules *rules, const char *host, uint16_t port)
{
        for (size_t i = 0; i < rules->count; i++)
                if (net_rule_matches(&rules->items[i], host, port, token_default_ports,
                                     ARRAY_SIZE(token_default_ports)))
                        return true;
        return false;
}

bool token_check_dest(const struct token_rights *rights, const char *host, uint16_t port)
{
        if (rights->dest.count == 0)
                return true;
        char normal[NET_HOST_MAX + 2];
        const char *why;
        if (!host || net_host_normalize(host, strlen(host), normal, sizeof(normal), &why) < 0)
                return false;
        for (size_t i = 0; i < rights->dest.count; i++)
                if (!rights->dest_rules || !token_rules_allow(&rights->dest_rules[i], normal, port))
                        return false;
        return true;
}

static bool token_set_has_glob(const struct reins_strv *set, const char *path)
{
        for (size_t i = 0; i < set->count; i++)
                if (glob_match(set->items[i], path))
                        return true;
        return false;
}

bool token_check_path(const struct token_rights *rights, const char *path)
{
        if (rights->path.count == 0)
                return true;
        if (!path || !*path || path[0] == '/')
                return false;
        for (size_t i = 0; i < rights->path.count; i++)
                if (!token_set_has_glob(&rights->path.sets[i], path))
                        return false;
        return true;
}

bool token_check_cmd(const struct token_rights *rights, const char *name)
{
        if (rights->cmd.count == 0)
                return true;
        if (!name)
                return false;
        for (size_t i = 0; i < rights->cmd.count; i++)
                if (!strv_contains(&rights->cmd.sets[i], name))
                        return false;
        return true;
}

bool token_check_agent(const struct token_rights *rights, const char *agent)
{
        if (rights->agent_conflict)
                return false;
        return !rights->agent || (agent && strcmp(rights->agent, agent) == 0);
}

bool token_check_time(const struct token_rights *rights, int64_t now)
{
        return !rights->has_expires || now < rights->expires;
}
