/* The `forward:` and `notify:` lists of the daemon's configuration
 * (serve/targets.h): every key checked, errors as FILE:LINE: KEY: what. */
#include "serve/targets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "serve/yaml_map.h"
#include "util/cleanup.h"

#define TARGETS_MAX 64

static const char *const severity_names[] = {"low", "medium", "high", "critical"};

int serve_severity_rank(const char *name)
{
        for (size_t i = 0; name && i < ARRAY_SIZE(severity_names); i++)
                if (strcmp(name, severity_names[i]) == 0)
                        return (int)i;
        return -1;
}

static bool targets_valid_name(const char *name)
{
        size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-");
        return n > 0 && n <= 32 && name[n] == '\0';
}

/* HOST:PORT ([v6]:PORT) into host and port. */
static int targets_address(const char *text, char **host, char **port)
{
        const char *colon = strrchr(text, ':');
        if (!colon || colon == text || !colon[1] ||
            strspn(colon + 1, "0123456789") != strlen(colon + 1))
                return -EINVAL;
        const char *start = text, *end = colon;
        if (*start == '[' && end[-1] == ']')
                start++, end--;
        if (end <= start)
                return -EINVAL;
        *host = strndup(start, (size_t)(end - start));
        *port = strdup(colon + 1);
        return *host && *port ? 0 : -ENOMEM;
}

/* http://HOST[:PORT]/PATH or https://HOST[:PORT]/PATH into host, port
 * (80, 443 by default), path and *tls. http:// to a host off this machine
 * sends in clear text: README, "Forwarding to a SIEM". */
static int targets_url(const char *url, char **host, char **port, char **path, bool *tls)
{
        static const char http[] = "http://", https[] = "https://";
        const char *rest;
        if (strncmp(url, http, sizeof(http) - 1) == 0)
                rest = url + sizeof(http) - 1, *tls = false;
        else if (strncmp(url, https, sizeof(https) - 1) == 0)
                rest = url + sizeof(https) - 1, *tls = true;
        else
                return -EPROTONOSUPPORT;
        const char *slash = strchr(rest, '/');
        cleanup_free char *authority = slash ? strndup(rest, (size_t)(slash - rest)) : strdup(rest);
        if (!authority)
                return -ENOMEM;
        /* no user info, no spaces or line breaks (the Host header) */
        if (!authority[0] || strpbrk(authority, " \t\r\n@?#\\"))
                return -EINVAL;
        const char *colon = strrchr(authority, ':');
        if (!colon || (authority[0] == '[' && colon < strchr(authority, ']'))) {
                char *with = NULL;
                if (asprintf(&with, "%s:%s", authority, *tls ? "443" : "80") < 0)
                        return -ENOMEM;
                free(authority);
                authority = with;
        }
        int r = targets_address(authority, host, port);
        if (r < 0)
                return r;
        *path = strdup(slash ? slash : "/");
        if (!*path || strpbrk(*path, " \t\r\n"))
                return -EINVAL;
        return 0;
}

static const char *const forward_types[] = {
    [SERVE_FORWARD_SYSLOG_TCP] = "syslog-tcp",
    [SERVE_FORWARD_SYSLOG_TLS] = "syslog-tls",
    [SERVE_FORWARD_HEC] = "splunk-hec",
    [SERVE_FORWARD_ELASTIC] = "elasticsearch",
};

/* A forward target as read, before its keys are checked together. */
struct forward_draft {
        struct serve_forward_target t;
        char *type, *address, *url;
};

#define FORWARD_STRING(key, field) SERVE_YAML_KEY_STRING(key, struct forward_draft, field)

static const struct serve_yaml_key forward_keys[] = {
    FORWARD_STRING("name", t.name),
    FORWARD_STRING("type", type),
    FORWARD_STRING("address", address),
    FORWARD_STRING("url", url),
    FORWARD_STRING("token", t.token),
    FORWARD_STRING("ca", t.ca),
    FORWARD_STRING("server_name", t.server_name),
    SERVE_YAML_KEY_UNSIGNED("batch", struct forward_draft, t.batch, 1, 1000),
    SERVE_YAML_KEY_UNSIGNED("backoff_max", struct forward_draft, t.backoff_max, 1, 3600),
};

static int targets_forward_one(const struct serve_yaml_walk *w, const yaml_node_t *node,
                               const char *key, void *target)
{
        struct forward_draft draft = {.t = {.batch = 100, .backoff_max = 30}};
        int r = serve_yaml_read_map(w, node, key, forward_keys, ARRAY_SIZE(forward_keys), &draft);
        struct serve_forward_target *t = target;
        *t = draft.t; /* the target owns what was read, whatever follows */
        cleanup_free char *type = draft.type, *address = draft.address, *url = draft.url;
        if (r < 0)
                return r;
        if (!t->name || !targets_valid_name(t->name))
                return serve_yaml_fail(w, node, key, "needs a name of [a-z0-9_-], 1 to 32 long");
        size_t i = 0;
        while (type && i < ARRAY_SIZE(forward_types) && strcmp(type, forward_types[i]) != 0)
                i++;
        if (!type || i == ARRAY_SIZE(forward_types))
                return serve_yaml_fail(w, node, key,
                                       "type: expected syslog-tcp, syslog-tls, splunk-hec or "
                                       "elasticsearch");
        t->type = (enum serve_forward_type)i;
        bool syslog = t->type == SERVE_FORWARD_SYSLOG_TCP || t->type == SERVE_FORWARD_SYSLOG_TLS;
        if (syslog) {
                if (!address || url || t->token)
                        return serve_yaml_fail(w, node, key,
                                               "a syslog target takes address: HOST:PORT (no url, "
                                               "no token)");
                if (targets_address(address, &t->host, &t->port) < 0)
                        return serve_yaml_fail(w, node, key, "address: expected HOST:PORT");
        } else {
                if (!url || address)
                        return serve_yaml_fail(w, node, key,
                                               "an HTTP target takes url: (no address)");
                r = targets_url(url, &t->host, &t->port, &t->path, &t->tls);
                if (r < 0)
                        return serve_yaml_fail(w, node, key,
                                               "url: expected http(s)://HOST[:PORT]/PATH");
                if (t->type == SERVE_FORWARD_HEC && !t->token)
                        return serve_yaml_fail(w, node, key, "splunk-hec needs token:");
        }
        if (t->type == SERVE_FORWARD_SYSLOG_TLS && !t->ca)
                return serve_yaml_fail(
                    w, node, key, "syslog-tls needs ca: (the CA file that signs the receiver)");
        if (t->type != SERVE_FORWARD_SYSLOG_TLS && !t->tls && (t->ca || t->server_name))
                return serve_yaml_fail(w, node, key,
                                       "ca and server_name are for syslog-tls and https:// only");
        return 0;
}

/* A list of targets (forward:, notify:): each element read by `one` into
 * an array of `size`-byte targets; names unique. */
static int targets_read_list(const struct serve_yaml_walk *w, const yaml_node_t *node,
                             const char *key, size_t size,
                             int (*one)(const struct serve_yaml_walk *w, const yaml_node_t *item,
                                        const char *key, void *target),
                             const char *(*name_of)(const void *target), void **array,
                             size_t *count)
{
        if (*array)
                return serve_yaml_fail(w, node, key, "given twice");
        if (node->type != YAML_SEQUENCE_NODE)
                return serve_yaml_fail(w, node, key, "expected a list of targets");
        size_t n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
        if (n > TARGETS_MAX)
                return serve_yaml_fail(w, node, key, "more than 64 targets");
        char *targets = calloc(n ? n : 1, size);
        if (!(*array = targets))
                return reins_error_set(w->err, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                const yaml_node_t *item =
                    yaml_document_get_node(w->doc, node->data.sequence.items.start[i]);
                char sub[64];
                snprintf(sub, sizeof(sub), "%s[%zu]", key, i);
                (*count)++; /* freed with the rest, whatever follows */
                int r = item ? one(w, item, sub, targets + i * size)
                             : serve_yaml_fail(w, node, sub, "unreadable");
                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (strcmp(name_of(targets + j * size), name_of(targets + i * size)) == 0)
                                return serve_yaml_fail(w, item, key, "two targets share a name");
        }
        return 0;
}

static const char *targets_forward_name(const void *target)
{
        return ((const struct serve_forward_target *)target)->name;
}

int serve_targets_parse_forward(const struct serve_yaml_walk *w, const struct yaml_node_s *node,
                                const char *key, struct serve_targets *out)
{
        void *array = out->forward;
        int r = targets_read_list(w, node, key, sizeof(*out->forward), targets_forward_one,
                                  targets_forward_name, &array, &out->forward_count);
        out->forward = array;
        return r;
}

/* A notify target as read, before its keys are checked together. */
struct notify_draft {
        struct serve_notify_target t;
        char *type, *url, *severity;
};

static int targets_on(const struct serve_yaml_walk *w, const yaml_node_t *v, const char *key,
                      unsigned *on)
{
        if (v->type != YAML_SEQUENCE_NODE)
                return serve_yaml_fail(w, v, key,
                                       "expected a list of tier, finding, approval, frozen");
        static const char *const names[] = {"tier", "finding", "approval", "frozen"};
        for (yaml_node_item_t *item = v->data.sequence.items.start;
             item < v->data.sequence.items.top; item++) {
                const yaml_node_t *n = yaml_document_get_node(w->doc, *item);
                const char *text = serve_yaml_scalar(n);
                size_t i = 0;
                while (text && i < ARRAY_SIZE(names) && strcmp(text, names[i]) != 0)
                        i++;
                if (!text || i == ARRAY_SIZE(names))
                        return serve_yaml_fail(w, n ? n : v, key,
                                               "expected tier, finding, approval or frozen");
                *on |= 1u << i;
        }
        return 0;
}

static int targets_argv(const struct serve_yaml_walk *w, const yaml_node_t *v, const char *key,
                        struct reins_strv *argv)
{
        if (v->type != YAML_SEQUENCE_NODE ||
            v->data.sequence.items.top == v->data.sequence.items.start)
                return serve_yaml_fail(w, v, key, "expected a list: [PROGRAM, ARG...] (no shell)");
        for (yaml_node_item_t *item = v->data.sequence.items.start;
             item < v->data.sequence.items.top; item++) {
                const char *text = serve_yaml_scalar(yaml_document_get_node(w->doc, *item));
                if (!text)
                        return serve_yaml_fail(w, v, key, "expected strings");
                if (strv_push(argv, text) < 0)
                        return reins_error_set(w->err, ENOMEM, "out of memory");
        }
        if (argv->items[0][0] != '/')
                return serve_yaml_fail(w, v, key, "the program must be an absolute path");
        return 0;
}

/* notify[N].on: [tier, finding, approval, frozen] */
static int targets_notify_on(const struct serve_yaml_walk *w, const yaml_node_t *value,
                             const char *key, void *target)
{
        return targets_on(w, value, key, &((struct notify_draft *)target)->t.on);
}

/* notify[N].command: [PROGRAM, ARG...] */
static int targets_notify_command(const struct serve_yaml_walk *w, const yaml_node_t *value,
                                  const char *key, void *target)
{
        return targets_argv(w, value, key, &((struct notify_draft *)target)->t.command);
}

#define NOTIFY_STRING(key, field) SERVE_YAML_KEY_STRING(key, struct notify_draft, field)
#define NOTIFY_UNSIGNED(key, field, low, high)                                                     \
        SERVE_YAML_KEY_UNSIGNED(key, struct notify_draft, field, low, high)

static const struct serve_yaml_key notify_keys[] = {
    NOTIFY_STRING("name", t.name),
    NOTIFY_STRING("type", type),
    NOTIFY_STRING("url", url),
    NOTIFY_STRING("secret", t.secret),
    NOTIFY_STRING("ca", t.ca),
    NOTIFY_STRING("server_name", t.server_name),
    SERVE_YAML_KEY_SETTER("command", targets_notify_command),
    NOTIFY_UNSIGNED("attempts", t.attempts, 1, 100),
    NOTIFY_UNSIGNED("timeout", t.timeout, 1, 600),
    SERVE_YAML_KEY_SETTER("on", targets_notify_on),
    NOTIFY_STRING("severity", severity),
    NOTIFY_UNSIGNED("approval_wait", t.approval_wait, 0, 86400),
};

static int targets_notify_one(const struct serve_yaml_walk *w, const yaml_node_t *node,
                              const char *key, void *target)
{
        struct notify_draft draft = {
            .t = {.attempts = 5, .timeout = 10, .severity = 2, .approval_wait = 60}};
        int r = serve_yaml_read_map(w, node, key, notify_keys, ARRAY_SIZE(notify_keys), &draft);
        struct serve_notify_target *t = target;
        *t = draft.t; /* the target owns what was read, whatever follows */
        cleanup_free char *type = draft.type, *url = draft.url, *severity = draft.severity;
        if (r < 0)
                return r;
        if (!t->name || !targets_valid_name(t->name))
                return serve_yaml_fail(w, node, key, "needs a name of [a-z0-9_-], 1 to 32 long");
        if (severity && (t->severity = serve_severity_rank(severity)) < 0)
                return serve_yaml_fail(w, node, key,
                                       "severity: expected low, medium, high or critical");
        if (!t->on)
                return serve_yaml_fail(w, node, key,
                                       "on: which events (tier, finding, approval, frozen)");
        if (type && strcmp(type, "webhook") == 0) {
                if (!url || t->command.count)
                        return serve_yaml_fail(w, node, key, "a webhook takes url: (no command)");
                r = targets_url(url, &t->host, &t->port, &t->path, &t->tls);
                if (r < 0)
                        return serve_yaml_fail(w, node, key,
                                               "url: expected http(s)://HOST[:PORT]/PATH");
                if (!t->secret)
                        return serve_yaml_fail(w, node, key,
                                               "a webhook needs secret: (its body is signed)");
                if (!t->tls && (t->ca || t->server_name))
                        return serve_yaml_fail(w, node, key,
                                               "ca and server_name are for https:// only");
        } else if (type && strcmp(type, "command") == 0) {
                if (!t->command.count || url || t->secret || t->ca || t->server_name)
                        return serve_yaml_fail(w, node, key, "a command hook takes command: only");
                t->command_hook = true;
        } else {
                return serve_yaml_fail(w, node, key, "type: expected webhook or command");
        }
        return 0;
}

static const char *targets_notify_name(const void *target)
{
        return ((const struct serve_notify_target *)target)->name;
}

int serve_targets_parse_notify(const struct serve_yaml_walk *w, const struct yaml_node_s *node,
                               const char *key, struct serve_targets *out)
{
        void *array = out->notify;
        int r = targets_read_list(w, node, key, sizeof(*out->notify), targets_notify_one,
                                  targets_notify_name, &array, &out->notify_count);
        out->notify = array;
        return r;
}

void serve_targets_free(struct serve_targets *targets)
{
        for (size_t i = 0; i < targets->forward_count; i++) {
                struct serve_forward_target *t = &targets->forward[i];
                free(t->name), free(t->host), free(t->port), free(t->path);
                free(t->token), free(t->ca), free(t->server_name);
        }
        free(targets->forward);
        for (size_t i = 0; i < targets->notify_count; i++) {
                struct serve_notify_target *t = &targets->notify[i];
                free(t->name), free(t->host), free(t->port), free(t->path), free(t->secret);
                free(t->ca), free(t->server_name);
                strv_free(&t->command);
        }
        free(targets->notify);
        memset(targets, 0, sizeof(*targets));
}
