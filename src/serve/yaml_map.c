/* The table-driven reader of the configuration's mappings (serve/yaml_map.h). */
#include "serve/yaml_map.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define YAML_MAP_MAX_KEYS 64 /* the `seen` bitmap */

int serve_yaml_fail(const struct serve_yaml_walk *w, const yaml_node_t *node, const char *key,
                    const char *what)
{
        return reins_error_set(w->err, EINVAL, "%s:%lu: %s: %s", w->origin,
                               (unsigned long)node->start_mark.line + 1, key, what);
}

const char *serve_yaml_scalar(const yaml_node_t *node)
{
        return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value
                                                      : NULL;
}

static int yaml_map_string(const struct serve_yaml_walk *w, const yaml_node_t *value,
                           const char *key, char **out)
{
        const char *text = serve_yaml_scalar(value);
        if (!text || !*text)
                return serve_yaml_fail(w, value, key, "expected a string");
        if (!(*out = strdup(text)))
                return reins_error_set(w->err, ENOMEM, "out of memory");
        return 0;
}

static int yaml_map_unsigned(const struct serve_yaml_walk *w, const yaml_node_t *value,
                             const char *key, unsigned min, unsigned max, unsigned *out)
{
        const char *text = serve_yaml_scalar(value);
        char *end = NULL;
        /* digits only: strtoul would take "-1" (as ULONG_MAX) and " 7" */
        bool digits = text && *text && strspn(text, "0123456789") == strlen(text);
        unsigned long number = digits ? strtoul(text, &end, 10) : 0;
        if (!digits || number < min || number > max) {
                char what[96];
                snprintf(what, sizeof(what), "expected a number from %u to %u", min, max);
                return serve_yaml_fail(w, value, key, what);
        }
        *out = (unsigned)number;
        return 0;
}

/* "unknown key (a, b, c)" from the table. */
static int yaml_map_unknown(const struct serve_yaml_walk *w, const yaml_node_t *node,
                            const char *key, const struct serve_yaml_key *keys, size_t count)
{
        char what[512];
        size_t used = (size_t)snprintf(what, sizeof(what), "unknown key (");
        for (size_t i = 0; i < count && used < sizeof(what); i++)
                used += (size_t)snprintf(what + used, sizeof(what) - used, "%s%s", i ? ", " : "",
                                         keys[i].name);
        if (used < sizeof(what))
                snprintf(what + used, sizeof(what) - used, ")");
        return serve_yaml_fail(w, node, key, what);
}

int serve_yaml_read_map(const struct serve_yaml_walk *w, const yaml_node_t *node, const char *path,
                        const struct serve_yaml_key *keys, size_t count, void *target)
{
        if (count > YAML_MAP_MAX_KEYS)
                return reins_error_set(w->err, EINVAL, "a mapping of more than 64 keys");
        if (node->type != YAML_MAPPING_NODE) {
                char what[512] = "expected a mapping";
                size_t used = strlen(what);
                for (size_t i = 0; i < count && used < sizeof(what); i++)
                        used += (size_t)snprintf(what + used, sizeof(what) - used, "%s%s",
                                                 i ? ", " : " (", keys[i].name);
                if (count && used < sizeof(what))
                        snprintf(what + used, sizeof(what) - used, ")");
                return serve_yaml_fail(w, node, path[0] ? path : "(top)", what);
        }
        uint64_t seen = 0;
        for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
             pair < node->data.mapping.pairs.top; pair++) {
                const yaml_node_t *k = yaml_document_get_node(w->doc, pair->key);
                const yaml_node_t *v = yaml_document_get_node(w->doc, pair->value);
                const char *name = serve_yaml_scalar(k);
                char sub[320];
                snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", name ? name : "?");
                if (!k || !v)
                        return serve_yaml_fail(w, node, sub, "unreadable");
                size_t i = 0;
                while (name && i < count && strcmp(name, keys[i].name) != 0)
                        i++;
                if (!name || i == count)
                        return yaml_map_unknown(w, k, sub, keys, count);
                if (seen & (UINT64_C(1) << i))
                        return serve_yaml_fail(w, k, sub, "given twice");
                seen |= UINT64_C(1) << i;
                const struct serve_yaml_key *key = &keys[i];
                char *field = (char *)target + key->offset;
                int r = -EINVAL;
                switch (key->kind) {
                case SERVE_YAML_STRING:
                        r = yaml_map_string(w, v, sub, (char **)(void *)field);
                        break;
                case SERVE_YAML_UNSIGNED:
                        r = yaml_map_unsigned(w, v, sub, key->min, key->max,
                                              (unsigned *)(void *)field);
                        break;
                case SERVE_YAML_SETTER:
                        r = key->set(w, v, sub, target);
                        break;
                }
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < count; i++)
                if (keys[i].required && !(seen & (UINT64_C(1) << i))) {
                        char sub[320];
                        snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "",
                                 keys[i].name);
                        return serve_yaml_fail(w, node, sub, keys[i].required);
                }
        return 0;
}
