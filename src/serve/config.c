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

struct config_walk {
        yaml_document_t *doc;
        const char *origin;
        struct reins_error *err;
};

static unsigned long config_line(const yaml_node_t *node)
{
        return (unsigned long)node->start_mark.line + 1;
}

static int config_fail(const struct config_walk *w, const yaml_node_t *node, const char *key,
                       const char *what)
{
        return reins_error_set(w->err, EINVAL, "%s:%lu: %s: %s", w->origin, config_line(node), key,
                               what);
}

static const char *config_scalar(const yaml_node_t *node)
{
        return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value
                                                      : NULL;
}

/* A user name or a numeric uid; the name must exist now: a typo would
 * otherwise grant nothing, silently, or a later account the same name. */
static int config_uid(const struct config_walk *w, const yaml_node_t *node, const char *key,
                      uid_t *uid)
{
        const char *name = config_scalar(node);
        if (!name || !name[0])
                return config_fail(w, node, key, "expected a user name or a uid");
        char *end = NULL;
        errno = 0;
        unsigned long value = strtoul(name, &end, 10);
        if (name[0] >= '0' && name[0] <= '9') {
                if (errno || *end || value >= (uid_t)-1)
                        return config_fail(w, node, key, "not a valid uid");
                *uid = (uid_t)value;
                return 0;
        }
        struct passwd pw, *found = NULL;
        char buffer[4096];
        if (getpwnam_r(name, &pw, buffer, sizeof(buffer), &found) != 0 || !found)
                return config_fail(w, node, key, "no such user on this host");
        *uid = found->pw_uid;
        return 0;
}

static int config_policies(const struct config_walk *w, const yaml_node_t *node, const char *key,
                           struct reins_strv *out)
{
        if (node->type != YAML_SEQUENCE_NODE)
                return config_fail(w, node, key, "expected a list of policy names or paths");
        for (yaml_node_item_t *item = node->data.sequence.items.start;
             item < node->data.sequence.items.top; item++) {
                const yaml_node_t *value = yaml_document_get_node(w->doc, *item);
                const char *text = config_scalar(value);
                if (!text || !text[0])
                        return config_fail(w, value ? value : node, key,
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
static int config_agent_names(const struct config_walk *w, const yaml_node_t *node, const char *key,
                              struct reins_strv *out)
{
        if (node->type != YAML_SEQUENCE_NODE)
                return config_fail(w, node, key, "expected a list of agent names");
        for (yaml_node_item_t *item = node->data.sequence.items.start;
             item < node->data.sequence.items.top; item++) {
                const yaml_node_t *value = yaml_document_get_node(w->doc, *item);
                const char *text = config_scalar(value);
                const char *why = config_agent_name_why(text);
                if (why)
                        return config_fail(w, value ? value : node, key, why);
                if (strv_push_unique(out, text) < 0)
                        return reins_error_set(w->err, ENOMEM, "out of memory");
        }
        return 0;
}

/* agents: {AGENT: [POLICY...]}: which policies each agent may run under. */
static int config_agents(const struct config_walk *w, const yaml_node_t *node,
                         struct serve_config *out)
{
        if (node->type != YAML_MAPPING_NODE)
                return config_fail(w, node, "agents",
                                   "expected a mapping of agents to the policies they may run "
                                   "under");
        size_t count = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
        if (count > CONFIG_MAX_USERS)
                return config_fail(w, node, "agents", "more than 4096 agents");
        out->agents = calloc(count ? count : 1, sizeof(*out->agents));
        if (!out->agents)
                return reins_error_set(w->err, ENOMEM, "out of memory");
        out->agents_given = true;
        for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
             pair < node->data.mapping.pairs.top; pair++) {
                const yaml_node_t *k = yaml_document_get_node(w->doc, pair->key);
                const yaml_node_t *v = yaml_document_get_node(w->doc, pair->value);
                const char *name = config_scalar(k);
                char key[256];
                snprintf(key, sizeof(key), "agents.%.128s", name ? name : "?");
                const char *why = config_agent_name_why(name);
                if (why)
                        return config_fail(w, k ? k : node, key, why);
                for (size_t i = 0; i < out->agent_count; i++)
                        if (strcmp(out->agents[i].name, name) == 0)
                                return config_fail(w, k, key, "this agent is listed twice");
                struct serve_agent *agent = &out->agents[out->agent_count];
                if (!(agent->name = strdup(name)))
                        return reins_error_set(w->err, ENOMEM, "out of memory");
                out->agent_count++; /* freed with the rest, whatever follows */
                int r = config_policies(w, v, key, &agent->policies);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* users.NAME: {role, policies, agents} */
static int config_grant(const struct config_walk *w, const yaml_node_t *node, const char *user,
                        struct serve_grant *grant)
{
        char key[256];
        snprintf(key, sizeof(key), "users.%s", user);
        if (node->type != YAML_MAPPING_NODE)
                return config_fail(w, node, key, "expected a mapping with role (and policies)");
        const yaml_node_t *policies = NULL, *agents = NULL;
        bool has_role = false;
        for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
             pair < node->data.mapping.pairs.top; pair++) {
                const yaml_node_t *k = yaml_document_get_node(w->doc, pair->key);
                const yaml_node_t *v = yaml_document_get_node(w->doc, pair->value);
                const char *name = config_scalar(k);
                char sub[300];
                snprintf(sub, sizeof(sub), "%s.%s", key, name ? name : "?");
                if (name && ((strcmp(name, "role") == 0 && has_role) ||
                             (strcmp(name, "policies") == 0 && policies) ||
                             (strcmp(name, "agents") == 0 && agents)))
                        return config_fail(w, k, sub, "given twice");
                if (name && strcmp(name, "role") == 0) {
                        has_role = true;
                        const char *role = config_scalar(v);
                        grant->role = SERVE_ROLE_NONE;
                        for (size_t i = 1; role && i < ARRAY_SIZE(role_names); i++)
                                if (strcmp(role, role_names[i]) == 0)
                                        grant->role = (enum serve_role)i;
                        if (grant->role == SERVE_ROLE_NONE)
                                return config_fail(w, v, sub,
                                                   "expected admin, operator, approver or auditor");
                } else if (name && strcmp(name, "policies") == 0) {
                        policies = v;
                        int r = config_policies(w, v, sub, &grant->policies);
                        if (r < 0)
                                return r;
                } else if (name && strcmp(name, "agents") == 0) {
                        agents = v;
                        int r = config_agent_names(w, v, sub, &grant->agents);
                        if (r < 0)
                                return r;
                } else {
                        return config_fail(w, k, sub, "unknown key (role, policies, agents)");
                }
        }
        if (grant->role == SERVE_ROLE_NONE)
                return config_fail(w, node, key, "no role");
        if (grant->role == SERVE_ROLE_OPERATOR && grant->policies.count == 0)
                return config_fail(w, node, key,
                                   "an operator needs the policies it may run (policies: [...])");
        if (grant->role != SERVE_ROLE_OPERATOR && grant->role != SERVE_ROLE_APPROVER && policies)
                return config_fail(w, policies, key,
                                   "only an operator's or an approver's role takes policies");
        if (grant->role != SERVE_ROLE_OPERATOR && grant->role != SERVE_ROLE_APPROVER && agents)
                return config_fail(w, agents, key,
                                   "only an operator's or an approver's role takes agents");
        return 0;
}

static int config_users(const struct config_walk *w, const yaml_node_t *node,
                        struct serve_config *out)
{
        if (node->type != YAML_MAPPING_NODE)
                return config_fail(w, node, "users", "expected a mapping of users to roles");
        size_t count = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
        if (count > CONFIG_MAX_USERS)
                return config_fail(w, node, "users", "more than 4096 users");
        out->grants = calloc(count ? count : 1, sizeof(*out->grants));
        if (!out->grants)
                return reins_error_set(w->err, ENOMEM, "out of memory");
        for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
             pair < node->data.mapping.pairs.top; pair++) {
                const yaml_node_t *k = yaml_document_get_node(w->doc, pair->key);
                const yaml_node_t *v = yaml_document_get_node(w->doc, pair->value);
                const char *user = config_scalar(k);
                char key[256];
                snprintf(key, sizeof(key), "users.%s", user ? user : "?");
                struct serve_grant *grant = &out->grants[out->count];
                int r = config_uid(w, k, key, &grant->uid);
                out->count++; /* freed with the rest, whatever follows */
                if (r < 0 || (r = config_grant(w, v, user, grant)) < 0)
                        return r;
                for (size_t i = 0; i + 1 < out->count; i++)
                        if (out->grants[i].uid == grant->uid)
                                return config_fail(w, k, key, "this user is listed twice");
        }
        return 0;
}

/* pool: [{policy: /abs/file, workspace: /abs/dir}, ...] */
static int config_pools(const struct config_walk *w, const yaml_node_t *node,
                        struct serve_config *out)
{
        if (node->type != YAML_SEQUENCE_NODE)
                return config_fail(w, node, "pool", "expected a list of {policy, workspace}");
        for (yaml_node_item_t *item = node->data.sequence.items.start;
             item < node->data.sequence.items.top; item++) {
                const yaml_node_t *entry = yaml_document_get_node(w->doc, *item);
                if (!entry || entry->type != YAML_MAPPING_NODE)
                        return config_fail(w, entry ? entry : node, "pool",
                                           "expected {policy: FILE, workspace: DIR}");
                if (out->pool_count >= SERVE_POOL_SPECS_MAX)
                        return config_fail(w, entry, "pool", "more than 64 entries");
                const char *policy = NULL, *workspace = NULL;
                for (yaml_node_pair_t *pair = entry->data.mapping.pairs.start;
                     pair < entry->data.mapping.pairs.top; pair++) {
                        const char *k = config_scalar(yaml_document_get_node(w->doc, pair->key));
                        const yaml_node_t *v = yaml_document_get_node(w->doc, pair->value);
                        const char *value = config_scalar(v);
                        const char **slot = k && strcmp(k, "policy") == 0      ? &policy
                                            : k && strcmp(k, "workspace") == 0 ? &workspace
                                                                               : NULL;
                        if (!slot)
                                return config_fail(w, v, k ? k : "?",
                                                   "unknown key (policy, workspace)");
                        if (*slot)
                                return config_fail(w, v, k, "given twice");
                        /* absolute: a request names them so, and matches only so */
                        if (!value || value[0] != '/')
                                return config_fail(w, v, k, "expected an absolute path");
                        *slot = value;
                }
                if (!policy || !workspace)
                        return config_fail(w, entry, "pool", "needs both policy and workspace");
                struct serve_pool_spec *grown =
                    realloc(out->pools, (out->pool_count + 1) * sizeof(*grown));
                if (!grown)
                        return reins_error_set(w->err, ENOMEM, "out of memory");
                out->pools = grown;
                grown[out->pool_count] =
                    (struct serve_pool_spec){strdup(policy), strdup(workspace)};
                if (!grown[out->pool_count].policy || !grown[out->pool_count].workspace) {
                        free(grown[out->pool_count].policy);
                        free(grown[out->pool_count].workspace);
                        return reins_error_set(w->err, ENOMEM, "out of memory");
                }
                out->pool_count++;
        }
        return 0;
}

static int config_document(const struct config_walk *w, struct serve_config *out)
{
        const yaml_node_t *root = yaml_document_get_root_node(w->doc);
        if (!root)
                return reins_error_set(w->err, EINVAL, "%s: empty configuration", w->origin);
        if (root->type != YAML_MAPPING_NODE)
                return config_fail(w, root, "(top)", "expected a mapping (version, users)");
        bool has_version = false, has_users = false, has_agents = false;
        for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
             pair < root->data.mapping.pairs.top; pair++) {
                const yaml_node_t *k = yaml_document_get_node(w->doc, pair->key);
                const yaml_node_t *v = yaml_document_get_node(w->doc, pair->value);
                const char *name = config_scalar(k);
                /* YAML lets a key repeat; which one wins would be a guess */
                if (name && ((strcmp(name, "version") == 0 && has_version) ||
                             (strcmp(name, "users") == 0 && has_users) ||
                             (strcmp(name, "agents") == 0 && has_agents)))
                        return config_fail(w, k, name, "given twice");
                if (name && strcmp(name, "version") == 0) {
                        const char *version = config_scalar(v);
                        if (!version || strcmp(version, "1") != 0)
                                return config_fail(w, v, "version", "expected 1");
                        has_version = true;
                } else if (name && strcmp(name, "users") == 0) {
                        has_users = true;
                        int r = config_users(w, v, out);
                        if (r < 0)
                                return r;
                } else if (name && strcmp(name, "agents") == 0) {
                        has_agents = true;
                        int r = config_agents(w, v, out);
                        if (r < 0)
                                return r;
                } else if (name && strcmp(name, "forward") == 0) {
                        int r = serve_targets_parse_forward(w->doc, (yaml_node_t *)v, w->origin,
                                                            &out->targets, w->err);
                        if (r < 0)
                                return r;
                } else if (name && strcmp(name, "notify") == 0) {
                        int r = serve_targets_parse_notify(w->doc, (yaml_node_t *)v, w->origin,
                                                           &out->targets, w->err);
                        if (r < 0)
                                return r;
                } else if (name && strcmp(name, "pool") == 0) {
                        int r = config_pools(w, v, out);
                        if (r < 0)
                                return r;
                } else {
                        return config_fail(w, k, name ? name : "?",
                                           "unknown key (version, users, agents, forward, notify, "
                                           "pool)");
                }
        }
        return has_version ? 0 : config_fail(w, root, "version", "missing (version: 1)");
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
        struct config_walk w = {.doc = &doc, .origin = origin, .err = err};
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
        for (size_t i = 0; i < config->pool_count; i++) {
                free(config->pools[i].policy);
                free(config->pools[i].workspace);
        }
        free(config->pools);
        for (size_t i = 0; i < config->agent_count; i++) {
                free(config->agents[i].name);
                strv_free(&config->agents[i].policies);
        }
        free(config->agents);
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
