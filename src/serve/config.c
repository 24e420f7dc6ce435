/* The daemon's configuration file (serve/config.h), read with libyaml's
 * document API like the policy (policy/parse.c): every key checked, every
 * error naming the file, the line and the key. */
#include "serve/config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "serve/yaml_map.h"
#include "util/cleanup.h"
#include "util/fileio.h"

#define CONFIG_MAX_BYTES (1 << 20)
#define CONFIG_MAX_USERS 4096

static const char *const role_names[] = {
    [SERVE_ROLE_NONE] = "none",         [SERVE_ROLE_ADMIN] = "admin",
    [SERVE_ROLE_OPERATOR] = "operator", [SERVE_ROLE_APPROVER] = "approver",
    [SERVE_ROLE_AUDITOR] = "auditor",
};

const char *serve_role_name(enum serve_role role)
{
        return (size_t)role < ARRAY_SIZE(role_names) ? role_names[role] : "none";
}

/* A user name or a numeric uid; the name must exist now: a typo would
 * otherwise grant nothing, silently, or a later account the same name. */
static int config_uid(const struct serve_yaml_walk *w, const yaml_node_t *node, const char *key,
                      uid_t *uid)
{
        const char *name = serve_yaml_scalar(node);
        if (!name || !name[0])
                return serve_yaml_fail(w, node, key, "expected a user name or a uid");
        char *end = NULL;
        errno = 0;
        unsigned long value = strtoul(name, &end, 10);
        if (name[0] >= '0' && name[0] <= '9') {
                if (errno || *end || value >= (uid_t)-1)
                        return serve_yaml_fail(w, node, key, "not a valid uid");
                *uid = (uid_t)value;
                return 0;
        }
        struct passwd pw, *found = NULL;
        char buffer[4096];
        if (getpwnam_r(name, &pw, buffer, sizeof(buffer), &found) != 0 || !found)
                return serve_yaml_fail(w, node, key, "no such user on this host");
        *uid = found->pw_uid;
        return 0;
}

static int config_policies(const struct serve_yaml_walk *w, const yaml_node_t *node,
                           const char *key, struct reins_strv *out)
{
        if (node->type != YAML_SEQUENCE_NODE)
                return serve_yaml_fail(w, node, key, "expected a list of policy names or paths");
        for (yaml_node_item_t *item = node->data.sequence.items.start;
             item < node->data.sequence.items.top; item++) {
                const yaml_node_t *value = yaml_document_get_node(w->doc, *item);
                const char *text = serve_yaml_scalar(value);
                if (!text || !text[0])
                        return serve_yaml_fail(w, value ? value : node, key,
                                               "expected a policy name or path");
                if (strv_push_unique(out, text) < 0)
                        return reins_error_set(w->err, ENOMEM, "out of memory");
        }
        return 0;
}

/* An agent's name as a policy's `agent:` takes it (policy/validate.c's
 * label): it is compared with that, byte for byte. */
static const char *config_agent_name_why(const char *text)
{
        if (!text || !text[0])
                return "expected an agent's name (a policy's agent:)";
        if (strlen(text) > 128)
                return "an agent's name is at most 128 characters";
        for (const unsigned char *c = (const unsigned char *)text; *c; c++)
                if (*c < 0x20 || *c == 0x7f)
                        return "control characters are not allowed in an agent's name";
        return NULL;
}

/* users.NAME.agents: [AGENT...] */
static int config_agent_names(const struct serve_yaml_walk *w, const yaml_node_t *node,
                              const char *key, struct reins_strv *out)
{
        if (node->type != YAML_SEQUENCE_NODE)
                return serve_yaml_fail(w, node, key, "expected a list of agent names");
        for (yaml_node_item_t *item = node->data.sequence.items.start;
             item < node->data.sequence.items.top; item++) {
                const yaml_node_t *value = yaml_document_get_node(w->doc, *item);
                const char *text = serve_yaml_scalar(value);
                const char *why = config_agent_name_why(text);
                if (why)
                        return serve_yaml_fail(w, value ? value : node, key, why);
                if (strv_push_unique(out, text) < 0)
                        return reins_error_set(w->err, ENOMEM, "out of memory");
        }
        return 0;
}

/* agents: {AGENT: [POLICY...]}: which policies each agent may run under. */
static int config_agents(const struct serve_yaml_walk *w, const yaml_node_t *node, const char *path,
                         void *target)
{
        struct serve_config *out = target;
        if (node->type != YAML_MAPPING_NODE)
                return serve_yaml_fail(w, node, path,
                                       "expected a mapping of agents to the policies they may run "
                                       "under");
        size_t count = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
        if (count > CONFIG_MAX_USERS)
                return serve_yaml_fail(w, node, path, "more than 4096 agents");
        out->agents = calloc(count ? count : 1, sizeof(*out->agents));
        if (!out->agents)
                return reins_error_set(w->err, ENOMEM, "out of memory");
        out->agents_given = true;
        for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
             pair < node->data.mapping.pairs.top; pair++) {
                const yaml_node_t *k = yaml_document_get_node(w->doc, pair->key);
                const yaml_node_t *v = yaml_document_get_node(w->doc, pair->value);
                const char *name = serve_yaml_scalar(k);
                char key[256];
                snprintf(key, sizeof(key), "agents.%.128s", name ? name : "?");
                const char *why = config_agent_name_why(name);
                if (why)
                        return serve_yaml_fail(w, k ? k : node, key, why);
                for (size_t i = 0; i < out->agent_count; i++)
                        if (strcmp(out->agents[i].name, name) == 0)
                                return serve_yaml_fail(w, k, key, "this agent is listed twice");
                struct serve_agent *agent = &out->agents[out->agent_count];
                if (!(agent->name = strdup(name)))
                        return reins_error_set(w->err, ENOMEM, "out of memory");
                out->agent_count++; /* freed with the rest, whatever follows */
                int r = v ? config_policies(w, v, key, &agent->policies)
                          : serve_yaml_fail(w, node, key, "unreadable");
                if (r < 0)
                        return r;
        }
        return 0;
}

/* users.NAME.role */
static int config_role(const struct serve_yaml_walk *w, const yaml_node_t *value, const char *key,
                       void *target)
{
        struct serve_grant *grant = target;
        const char *role = serve_yaml_scalar(value);
        for (size_t i = 1; role && i < ARRAY_SIZE(role_names); i++)
                if (strcmp(role, role_names[i]) == 0)
                        grant->role = (enum serve_role)i;
        if (grant->role == SERVE_ROLE_NONE)
                return serve_yaml_fail(w, value, key,
                                       "expected admin, operator, approver or auditor");
        return 0;
}

/* users.NAME.policies */
static int config_grant_policies(const struct serve_yaml_walk *w, const yaml_node_t *value,
                                 const char *key, void *target)
{
        return config_policies(w, value, key, &((struct serve_grant *)target)->policies);
}

/* users.NAME.agents */
static int config_grant_agents(const struct serve_yaml_walk *w, const yaml_node_t *value,
                               const char *key, void *target)
{
        return config_agent_names(w, value, key, &((struct serve_grant *)target)->agents);
}

static const struct serve_yaml_key grant_keys[] = {
    {.name = "role", .kind = SERVE_YAML_SETTER, .set = config_role, .required = "no role"},
    SERVE_YAML_KEY_SETTER("policies", config_grant_policies),
    SERVE_YAML_KEY_SETTER("agents", config_grant_agents),
};

/* users.NAME: {role, policies, agents} */
static int config_grant(const struct serve_yaml_walk *w, const yaml_node_t *node, const char *user,
                        struct serve_grant *grant)
{
        char key[256];
        snprintf(key, sizeof(key), "users.%s", user);
        int r = serve_yaml_read_map(w, node, key, grant_keys, ARRAY_SIZE(grant_keys), grant);
        if (r < 0)
                return r;
        if (grant->role == SERVE_ROLE_OPERATOR && grant->policies.count == 0)
                return serve_yaml_fail(
                    w, node, key, "an operator needs the policies it may run (policies: [...])");
        if (grant->role != SERVE_ROLE_OPERATOR && grant->role != SERVE_ROLE_APPROVER &&
            grant->policies.count)
                return serve_yaml_fail(w, node, key,
                                       "only an operator's or an approver's role takes policies");
        if (grant->role != SERVE_ROLE_OPERATOR && grant->role != SERVE_ROLE_APPROVER &&
            grant->agents.count)
                return serve_yaml_fail(w, node, key,
                                       "only an operator's or an approver's role takes agents");
        return 0;
}

/* users: {NAME: {role, policies}} */
static int config_users(const struct serve_yaml_walk *w, const yaml_node_t *node, const char *path,
                        void *target)
{
        struct serve_config *out = target;
        if (node->type != YAML_MAPPING_NODE)
                return serve_yaml_fail(w, node, path, "expected a mapping of users to roles");
        size_t count = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
        if (count > CONFIG_MAX_USERS)
                return serve_yaml_fail(w, node, path, "more than 4096 users");
        out->grants = calloc(count ? count : 1, sizeof(*out->grants));
        if (!out->grants)
                return reins_error_set(w->err, ENOMEM, "out of memory");
        for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
             pair < node->data.mapping.pairs.top; pair++) {
                const yaml_node_t *k = yaml_document_get_node(w->doc, pair->key);
                const yaml_node_t *v = yaml_document_get_node(w->doc, pair->value);
                const char *user = serve_yaml_scalar(k);
                char key[256];
                snprintf(key, sizeof(key), "users.%s", user ? user : "?");
                struct serve_grant *grant = &out->grants[out->count];
                int r = config_uid(w, k, key, &grant->uid);
                out->count++; /* freed with the rest, whatever follows */
                if (r < 0 || (r = config_grant(w, v, user, grant)) < 0)
                        return r;
                for (size_t i = 0; i + 1 < out->count; i++)
                        if (out->grants[i].uid == grant->uid)
                                return serve_yaml_fail(w, k, key, "this user is listed twice");
        }
        return 0;
}

static int config_version(const struct serve_yaml_walk *w, const yaml_node_t *value,
                          const char *key, void *target)
{
        (void)target;
        const char *version = serve_yaml_scalar(value);
        return version && strcmp(version, "1") == 0 ? 0
                                                    : serve_yaml_fail(w, value, key, "expected 1");
}

static int config_forward(const struct serve_yaml_walk *w, const yaml_node_t *value,
                          const char *key, void *target)
{
        return serve_targets_parse_forward(w, value, key,
                                           &((struct serve_config *)target)->targets);
}

static int config_notify(const struct serve_yaml_walk *w, const yaml_node_t *value, const char *key,
                         void *target)
{
        return serve_targets_parse_notify(w, value, key, &((struct serve_config *)target)->targets);
}

/* pool: [{policy: /abs/file, workspace: /abs/dir}, ...] (serve/pool.h).
 * Absolute: a request names them so, and matches only so. */
static const struct serve_yaml_key pool_keys[] = {
    {.name = "policy",
     .kind = SERVE_YAML_STRING,
     .offset = offsetof(struct serve_pool_spec, policy),
     .required = "missing (the policy file kept warm)"},
    {.name = "workspace",
     .kind = SERVE_YAML_STRING,
     .offset = offsetof(struct serve_pool_spec, workspace),
     .required = "missing (the workspace its members are built for)"},
};

static int config_pool(const struct serve_yaml_walk *w, const yaml_node_t *value, const char *key,
                       void *target)
{
        struct serve_config *out = target;
        if (value->type != YAML_SEQUENCE_NODE)
                return serve_yaml_fail(w, value, key, "expected a list of {policy, workspace}");
        for (yaml_node_item_t *item = value->data.sequence.items.start;
             item < value->data.sequence.items.top; item++) {
                const yaml_node_t *entry = yaml_document_get_node(w->doc, *item);
                char path[64];
                snprintf(path, sizeof(path), "%s[%zu]", key, out->pool_count);
                if (!entry)
                        return serve_yaml_fail(w, value, path, "expected {policy, workspace}");
                if (out->pool_count >= SERVE_POOL_SPECS_MAX)
                        return serve_yaml_fail(w, entry, key, "more than 64 entries");
                struct serve_pool_spec *grown =
                    realloc(out->pools, (out->pool_count + 1) * sizeof(*grown));
                if (!grown)
                        return reins_error_set(w->err, ENOMEM, "out of memory");
                out->pools = grown;
                struct serve_pool_spec *spec = &grown[out->pool_count++];
                *spec = (struct serve_pool_spec){0}; /* freed with the rest, whatever follows */
                int r = serve_yaml_read_map(w, entry, path, pool_keys, ARRAY_SIZE(pool_keys), spec);
                if (r < 0)
                        return r;
                if (spec->policy[0] != '/' || spec->workspace[0] != '/')
                        return serve_yaml_fail(w, entry, path,
                                               "policy and workspace must be absolute paths");
        }
        return 0;
}

/* The top level. A key is a row here (serve/yaml_map.h); what it holds is
 * read by its setter into struct serve_config. */
static const struct serve_yaml_key config_keys[] = {
    {.name = "version",
     .kind = SERVE_YAML_SETTER,
     .set = config_version,
     .required = "missing (version: 1)"},
    SERVE_YAML_KEY_SETTER("users", config_users),
    SERVE_YAML_KEY_SETTER("agents", config_agents),
    SERVE_YAML_KEY_SETTER("forward", config_forward),
    SERVE_YAML_KEY_SETTER("notify", config_notify),
    SERVE_YAML_KEY_SETTER("pool", config_pool),
};

static int config_document(const struct serve_yaml_walk *w, struct serve_config *out)
{
        const yaml_node_t *root = yaml_document_get_root_node(w->doc);
        if (!root)
                return reins_error_set(w->err, EINVAL, "%s: empty configuration", w->origin);
        return serve_yaml_read_map(w, root, "", config_keys, ARRAY_SIZE(config_keys), out);
}

int serve_config_parse(const char *text, size_t length, const char *origin,
                       struct serve_config *out, struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        yaml_parser_t parser;
        yaml_document_t doc;
        if (!yaml_parser_initialize(&parser))
                return reins_error_set(err, ENOMEM, "%s: out of memory", origin);
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, length);
        if (!yaml_parser_load(&parser, &doc)) {
                int r = reins_error_set(err, EINVAL, "%s:%lu: YAML syntax error: %s", origin,
                                        (unsigned long)parser.problem_mark.line + 1,
                                        parser.problem ? parser.problem : "unreadable");
                yaml_parser_delete(&parser);
                return r;
        }
        struct serve_yaml_walk w = {.doc = &doc, .origin = origin, .err = err};
        int r = config_document(&w, out);
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        if (r < 0)
                serve_config_free(out);
        return r;
}

int serve_config_load(const char *path, struct serve_config *out, struct reins_error *err)
{
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return reins_error_errno(err, errno, "%s", path);
        cleanup_free char *text = NULL;
        size_t length = 0;
        bool truncated = false;
        int r = fileio_read_fd(fd, CONFIG_MAX_BYTES, &text, &length, &truncated);
        if (r < 0)
                return reins_error_errno(err, -r, "reading %s", path);
        if (truncated)
                return reins_error_set(err, EFBIG, "%s: larger than 1 MiB", path);
        return serve_config_parse(text, length, path, out, err);
}

void serve_config_free(struct serve_config *config)
{
        for (size_t i = 0; i < config->count; i++) {
                strv_free(&config->grants[i].policies);
                strv_free(&config->grants[i].agents);
        }
        free(config->grants);
        for (size_t i = 0; i < config->agent_count; i++) {
                free(config->agents[i].name);
                strv_free(&config->agents[i].policies);
        }
        free(config->agents);
        for (size_t i = 0; i < config->pool_count; i++) {
                free(config->pools[i].policy);
                free(config->pools[i].workspace);
        }
        free(config->pools);
        serve_targets_free(&config->targets);
        memset(config, 0, sizeof(*config));
}

bool serve_config_agent_allows(const struct serve_config *config, const char *policy,
                               const char *agent, const char **why)
{
        if (!config || !config->agents_given)
                return true;
        if (!agent || !agent[0]) {
                *why = "the policy names no agent (agent:), and the daemon's agents: lists "
                       "which agent may run under which policy";
                return false;
        }
        for (size_t i = 0; i < config->agent_count; i++) {
                if (strcmp(config->agents[i].name, agent) != 0)
                        continue;
                if (policy && strv_contains(&config->agents[i].policies, policy))
                        return true;
                *why = "the daemon's agents: does not let the policy's agent run under that "
                       "policy";
                return false;
        }
        *why = "the policy's agent is not in the daemon's agents:";
        return false;
}

bool serve_config_uses_agents(const struct serve_config *config)
{
        if (!config)
                return false;
        if (config->agents_given)
                return true;
        for (size_t i = 0; i < config->count; i++)
                if (config->grants[i].agents.count > 0)
                        return true;
        return false;
}
