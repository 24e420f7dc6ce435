/* The `forward:` and `notify:` lists of the daemon's configuration
 * (serve/targets.h): every key checked, errors as FILE:LINE: KEY: what. */
#include "serve/targets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/cleanup.h"

#define TARGETS_MAX 64

struct targets_walk {
        yaml_document_t *doc;
        const char *origin;
        struct reins_error *err;
};

static int targets_fail(const struct targets_walk *w, const yaml_node_t *node, const char *key,
                        const char *what)
{
        return reins_error_set(w->err, EINVAL, "%s:%lu: %s: %s", w->origin,
                               (unsigned long)node->start_mark.line + 1, key, what);
}

static const char *targets_scalar(const yaml_node_t *node)
{
        return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value
                                                      : NULL;
}

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

/* http://HOST:PORT/PATH (plain HTTP: see README, "Forwarding"). */
static int targets_url(const char *url, char **host, char **port, char **path)
{
        static const char scheme[] = "http://";
        if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
                return -EPROTONOSUPPORT;
        const char *rest = url + sizeof(scheme) - 1;
        const char *slash = strchr(rest, '/');
        cleanup_free char *authority = slash ? strndup(rest, (size_t)(slash - rest)) : strdup(rest);
        if (!authority)
                return -ENOMEM;
        if (!strchr(authority, ':')) {
                char *with = NULL;
                if (asprintf(&with, "%s:80", authority) < 0)
                        return -ENOMEM;
                free(authority);
                authority = with;
        }
        int r = targets_address(authority, host, port);
        if (r < 0)
                return r;
        *path = strdup(slash ? slash : "/");
        if (!*path || strpbrk(*path, " \r\n"))
                return -EINVAL;
        return 0;
}

static int targets_unsigned(const struct targets_walk *w, const yaml_node_t *v, const char *key,
                            unsigned min, unsigned max, unsigned *out)
{
        const char *text = targets_scalar(v);
        char *end = NULL;
        unsigned long value = text ? strtoul(text, &end, 10) : 0;
        if (!text || !*text || *end || value < min || value > max) {
                char what[96];
                snprintf(what, sizeof(what), "expected a number from %u to %u", min, max);
                return targets_fail(w, v, key, what);
        }
        *out = (unsigned)value;
        return 0;
}

static int targets_string(const struct targets_walk *w, const yaml_node_t *v, const char *key,
                          char **out)
{
        const char *text = targets_scalar(v);
        if (!text || !*text)
                return targets_fail(w, v, key, "expected a string");
        if (*out)
                return targets_fail(w, v, key, "given twice");
        if (!(*out = strdup(text)))
                return reins_error_set(w->err, ENOMEM, "out of memory");
        return 0;
}

static const char *const forward_types[] = {
    [SERVE_FORWARD_SYSLOG_TCP] = "syslog-tcp",
    [SERVE_FORWARD_SYSLOG_TLS] = "syslog-tls",
    [SERVE_FORWARD_HEC] = "splunk-hec",
    [SERVE_FORWARD_ELASTIC] = "elasticsearch",
};

static int targets_forward_one(const struct targets_walk *w, const yaml_node_t *node, size_t index,
                               struct serve_forward_target *t)
{
        char key[64];
        snprintf(key, sizeof(key), "forward[%zu]", index);
        if (node->type != YAML_MAPPING_NODE)
                return targets_fail(w, node, key, "expected a mapping (name, type, ...)");
        t->batch = 100;
        t->backoff_max = 30;
        cleanup_free char *type = NULL, *address = NULL, *url = NULL;
        for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
             pair < node->data.mapping.pairs.top; pair++) {
                const yaml_node_t *k = yaml_document_get_node(w->doc, pair->key);
                const yaml_node_t *v = yaml_document_get_node(w->doc, pair->value);
                const char *name = targets_scalar(k);
                char sub[128];
                snprintf(sub, sizeof(sub), "%s.%s", key, name ? name : "?");
                int r;
                if (!name)
                        r = targets_fail(w, k, sub, "expected a key");
                else if (strcmp(name, "name") == 0)
                        r = targets_string(w, v, sub, &t->name);
                else if (strcmp(name, "type") == 0)
                        r = targets_string(w, v, sub, &type);
                else if (strcmp(name, "address") == 0)
                        r = targets_string(w, v, sub, &address);
                else if (strcmp(name, "url") == 0)
                        r = targets_string(w, v, sub, &url);
                else if (strcmp(name, "token") == 0)
                        r = targets_string(w, v, sub, &t->token);
                else if (strcmp(name, "ca") == 0)
                        r = targets_string(w, v, sub, &t->ca);
                else if (strcmp(name, "server_name") == 0)
                        r = targets_string(w, v, sub, &t->server_name);
                else if (strcmp(name, "batch") == 0)
                        r = targets_unsigned(w, v, sub, 1, 1000, &t->batch);
                else if (strcmp(name, "backoff_max") == 0)
                        r = targets_unsigned(w, v, sub, 1, 3600, &t->backoff_max);
                else
                        r = targets_fail(w, k, sub,
                                         "unknown key (name, type, address, url, token, ca, "
                                         "server_name, batch, backoff_max)");
                if (r < 0)
                        return r;
        }
        if (!t->name || !targets_valid_name(t->name))
                return targets_fail(w, node, key, "needs a name of [a-z0-9_-], 1 to 32 long");
        size_t i = 0;
        while (type && i < ARRAY_SIZE(forward_types) && strcmp(type, forward_types[i]) != 0)
                i++;
        if (!type || i == ARRAY_SIZE(forward_types))
                return targets_fail(w, node, key,
                                    "type: expected syslog-tcp, syslog-tls, splunk-hec or "
                                    "elasticsearch");
        t->type = (enum serve_forward_type)i;
        bool syslog = t->type == SERVE_FORWARD_SYSLOG_TCP || t->type == SERVE_FORWARD_SYSLOG_TLS;
        if (syslog) {
                if (!address || url || t->token)
                        return targets_fail(w, node, key,
                                            "a syslog target takes address: HOST:PORT (no url, "
                                            "no token)");
                if (targets_address(address, &t->host, &t->port) < 0)
                        return targets_fail(w, node, key, "address: expected HOST:PORT");
        } else {
                if (!url || address)
                        return targets_fail(w, node, key, "an HTTP target takes url: (no address)");
                int r = targets_url(url, &t->host, &t->port, &t->path);
                if (r == -EPROTONOSUPPORT)
                        return targets_fail(w, node, key,
                                            "url: only http:// is supported for HTTP targets "
                                            "(use syslog-tls for TLS)");
                if (r < 0)
                        return targets_fail(w, node, key, "url: expected http://HOST:PORT/PATH");
                if (t->type == SERVE_FORWARD_HEC && !t->token)
                        return targets_fail(w, node, key, "splunk-hec needs token:");
        }
        if (t->type == SERVE_FORWARD_SYSLOG_TLS && !t->ca)
                return targets_fail(w, node, key,
                                    "syslog-tls needs ca: (the CA file that signs the receiver)");
        if (t->type != SERVE_FORWARD_SYSLOG_TLS && (t->ca || t->server_name))
                return targets_fail(w, node, key, "ca and server_name are for syslog-tls only");
        return 0;
}

static int targets_list(const struct targets_walk *w, const yaml_node_t *node, const char *key,
                        size_t *count)
{
        if (node->type != YAML_SEQUENCE_NODE)
                return targets_fail(w, node, key, "expected a list of targets");
        *count = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
        if (*count > TARGETS_MAX)
                return targets_fail(w, node, key, "more than 64 targets");
        return 0;
}

int serve_targets_parse_forward(struct yaml_document_s *doc, struct yaml_node_s *node,
                                const char *origin, struct serve_targets *out,
                                struct reins_error *err)
{
        struct targets_walk w = {.doc = doc, .origin = origin, .err = err};
        size_t count = 0;
        int r = targets_list(&w, node, "forward", &count);
        if (r < 0)
                return r;
        if (out->forward)
                return targets_fail(&w, node, "forward", "given twice");
        out->forward = calloc(count ? count : 1, sizeof(*out->forward));
        if (!out->forward)
                return reins_error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < count; i++) {
                const yaml_node_t *item =
                    yaml_document_get_node(doc, node->data.sequence.items.start[i]);
                out->forward_count++;
                if ((r = targets_forward_one(&w, item, i, &out->forward[i])) < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (strcmp(out->forward[j].name, out->forward[i].name) == 0)
                                return targets_fail(&w, item, "forward",
                                                    "two targets share a name");
        }
        return 0;
}

static int targets_on(const struct targets_walk *w, const yaml_node_t *v, const char *key,
                      unsigned *on)
{
        if (v->type != YAML_SEQUENCE_NODE)
                return targets_fail(w, v, key,
                                    "expected a list of tier, finding, approval, frozen");
        static const char *const names[] = {"tier", "finding", "approval", "frozen"};
        for (yaml_node_item_t *item = v->data.sequence.items.start;
             item < v->data.sequence.items.top; item++) {
                const yaml_node_t *n = yaml_document_get_node(w->doc, *item);
                const char *text = targets_scalar(n);
                size_t i = 0;
                while (text && i < ARRAY_SIZE(names) && strcmp(text, names[i]) != 0)
                        i++;
                if (!text || i == ARRAY_SIZE(names))
                        return targets_fail(w, n ? n : v, key,
                                            "expected tier, finding, approval or frozen");
                *on |= 1u << i;
        }
        return 0;
}

static int targets_argv(const struct targets_walk *w, const yaml_node_t *v, const char *key,
                        struct reins_strv *argv)
{
        if (v->type != YAML_SEQUENCE_NODE ||
            v->data.sequence.items.top == v->data.sequence.items.start)
                return targets_fail(w, v, key, "expected a list: [PROGRAM, ARG...] (no shell)");
        for (yaml_node_item_t *item = v->data.sequence.items.start;
             item < v->data.sequence.items.top; item++) {
                const char *text = targets_scalar(yaml_document_get_node(w->doc, *item));
                if (!text)
                        return targets_fail(w, v, key, "expected strings");
                if (strv_push(argv, text) < 0)
                        return reins_error_set(w->err, ENOMEM, "out of memory");
        }
        if (argv->items[0][0] != '/')
                return targets_fail(w, v, key, "the program must be an absolute path");
        return 0;
}

static int targets_notify_one(const struct targets_walk *w, const yaml_node_t *node, size_t index,
                              struct serve_notify_target *t)
{
        char key[64];
        snprintf(key, sizeof(key), "notify[%zu]", index);
        if (node->type != YAML_MAPPING_NODE)
                return targets_fail(w, node, key, "expected a mapping (name, type, ...)");
        t->attempts = 5;
        t->timeout = 10;
        t->severity = 2;
        t->approval_wait = 60;
        cleanup_free char *type = NULL, *url = NULL, *severity = NULL;
        for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
             pair < node->data.mapping.pairs.top; pair++) {
                const yaml_node_t *k = yaml_document_get_node(w->doc, pair->key);
                const yaml_node_t *v = yaml_document_get_node(w->doc, pair->value);
                const char *name = targets_scalar(k);
                char sub[128];
                snprintf(sub, sizeof(sub), "%s.%s", key, name ? name : "?");
                int r;
                if (!name)
                        r = targets_fail(w, k, sub, "expected a key");
                else if (strcmp(name, "name") == 0)
                        r = targets_string(w, v, sub, &t->name);
                else if (strcmp(name, "type") == 0)
                        r = targets_string(w, v, sub, &type);
                else if (strcmp(name, "url") == 0)
                        r = targets_string(w, v, sub, &url);
                else if (strcmp(name, "secret") == 0)
                        r = targets_string(w, v, sub, &t->secret);
                else if (strcmp(name, "severity") == 0)
                        r = targets_string(w, v, sub, &severity);
                else if (strcmp(name, "command") == 0)
                        r = targets_argv(w, v, sub, &t->command);
                else if (strcmp(name, "attempts") == 0)
                        r = targets_unsigned(w, v, sub, 1, 100, &t->attempts);
                else if (strcmp(name, "timeout") == 0)
                        r = targets_unsigned(w, v, sub, 1, 600, &t->timeout);
                else if (strcmp(name, "approval_wait") == 0)
                        r = targets_unsigned(w, v, sub, 0, 86400, &t->approval_wait);
                else if (strcmp(name, "on") == 0)
                        r = targets_on(w, v, sub, &t->on);
                else
                        r = targets_fail(w, k, sub,
                                         "unknown key (name, type, url, secret, command, attempts, "
                                         "timeout, on, severity, approval_wait)");
                if (r < 0)
                        return r;
        }
        if (!t->name || !targets_valid_name(t->name))
                return targets_fail(w, node, key, "needs a name of [a-z0-9_-], 1 to 32 long");
        if (severity && (t->severity = serve_severity_rank(severity)) < 0)
                return targets_fail(w, node, key,
                                    "severity: expected low, medium, high or critical");
        if (!t->on)
                return targets_fail(w, node, key,
                                    "on: which events (tier, finding, approval, frozen)");
        if (type && strcmp(type, "webhook") == 0) {
                if (!url || t->command.count)
                        return targets_fail(w, node, key, "a webhook takes url: (no command)");
                int r = targets_url(url, &t->host, &t->port, &t->path);
                if (r < 0)
                        return targets_fail(w, node, key, "url: expected http://HOST:PORT/PATH");
                if (!t->secret)
                        return targets_fail(w, node, key,
                                            "a webhook needs secret: (its body is signed)");
        } else if (type && strcmp(type, "command") == 0) {
                if (!t->command.count || url || t->secret)
                        return targets_fail(w, node, key, "a command hook takes command: only");
                t->command_hook = true;
        } else {
                return targets_fail(w, node, key, "type: expected webhook or command");
        }
        return 0;
}

int serve_targets_parse_notify(struct yaml_document_s *doc, struct yaml_node_s *node,
                               const char *origin, struct serve_targets *out,
                               struct reins_error *err)
{
        struct targets_walk w = {.doc = doc, .origin = origin, .err = err};
        size_t count = 0;
        int r = targets_list(&w, node, "notify", &count);
        if (r < 0)
                return r;
        if (out->notify)
                return targets_fail(&w, node, "notify", "given twice");
        out->notify = calloc(count ? count : 1, sizeof(*out->notify));
        if (!out->notify)
                return reins_error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < count; i++) {
                const yaml_node_t *item =
                    yaml_document_get_node(doc, node->data.sequence.items.start[i]);
                out->notify_count++;
                if ((r = targets_notify_one(&w, item, i, &out->notify[i])) < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (strcmp(out->notify[j].name, out->notify[i].name) == 0)
                                return targets_fail(&w, item, "notify", "two targets share a name");
        }
        return 0;
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
                strv_free(&t->command);
        }
        free(targets->notify);
        memset(targets, 0, sizeof(*targets));
}
