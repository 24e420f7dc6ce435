/* One reader for the YAML mappings of the daemon's configuration file
 * (serve/config.c: the top level and each user; serve/targets.c: each
 * `forward:` and `notify:` target). A mapping is described by a table of
 * the keys it takes -- {name, kind, where the value goes, required} -- and
 * read by serve_yaml_read_map, which checks what every such mapping needs
 * checked the same way:
 *
 *   - every key is a known one, else "unknown key (the, known, ones)";
 *   - no key is given twice (YAML lets a key repeat; which one wins would
 *     be a guess);
 *   - a required key is present, else its `required` message;
 *   - errors read `FILE:LINE: KEY: what is wrong` (the policy's form),
 *     KEY being the dotted path (`users.alice.role`, `forward[0].batch`).
 *
 * Adding a key to a mapping is one row in its table: a string or a bounded
 * number goes straight into its field by offset
 * (SERVE_YAML_KEY_STRING / _UNSIGNED); anything else names a setter
 * (SERVE_YAML_KEY_SETTER), e.g. at the top level (serve/config.c):
 *
 *   static int config_agents(const struct serve_yaml_walk *w,
 *                            const yaml_node_t *value, const char *key,
 *                            void *target);   // target: struct serve_config *
 *   ... config_keys[] = { ..., SERVE_YAML_KEY_SETTER("agents", config_agents) };
 *
 * The table's names are also the "unknown key (...)" message's list. What
 * depends on several keys (a type and the keys it needs) is checked by the
 * caller after the read. */
#ifndef REINS_SERVE_YAML_MAP_H
#define REINS_SERVE_YAML_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "util/error.h"

/* The document being read and where errors go. */
struct serve_yaml_walk {
        yaml_document_t *doc;
        const char *origin; /* the file's name, for errors */
        struct reins_error *err;
};

enum serve_yaml_kind {
        SERVE_YAML_STRING,   /* char * at `offset`: a non-empty scalar, copied */
        SERVE_YAML_UNSIGNED, /* unsigned at `offset`: a decimal from `min` to `max` */
        SERVE_YAML_SETTER,   /* `set` reads the value itself */
};

struct serve_yaml_key {
        const char *name;
        enum serve_yaml_kind kind;
        size_t offset;        /* STRING, UNSIGNED: offsetof(the target's type, field) */
        unsigned min, max;    /* UNSIGNED */
        const char *required; /* NULL: optional; else what the error says when missing */
        /* SETTER: read `value` into `target` (the whole target, as given to
         * serve_yaml_read_map); `key` is the value's dotted path. 0 or
         * -errno with w->err set. */
        int (*set)(const struct serve_yaml_walk *w, const yaml_node_t *value, const char *key,
                   void *target);
};

/* Rows of a table: a string or a bounded number into `type`'s `field`, or
 * a setter. (`required` is added by hand where a key must be given.) */
#define SERVE_YAML_KEY_STRING(key, type, field)                                                    \
        {                                                                                          \
                .name = (key), .kind = SERVE_YAML_STRING, .offset = offsetof(type, field)          \
        }
#define SERVE_YAML_KEY_UNSIGNED(key, type, field, low, high)                                       \
        {                                                                                          \
                .name = (key), .kind = SERVE_YAML_UNSIGNED, .offset = offsetof(type, field),       \
                .min = (low), .max = (high)                                                        \
        }
#define SERVE_YAML_KEY_SETTER(key, setter)                                                         \
        {                                                                                          \
                .name = (key), .kind = SERVE_YAML_SETTER, .set = (setter)                          \
        }

/* Read the mapping `node` (named `path` in errors; "" at the top level)
 * into `target` by the table `keys` (at most 64 of them). */
int serve_yaml_read_map(const struct serve_yaml_walk *w, const yaml_node_t *node, const char *path,
                        const struct serve_yaml_key *keys, size_t count, void *target);

/* `FILE:LINE: KEY: what` for `node`; returns -EINVAL. */
int serve_yaml_fail(const struct serve_yaml_walk *w, const yaml_node_t *node, const char *key,
                    const char *what);
/* The text of a scalar node, NULL for anything else (or no node). */
const char *serve_yaml_scalar(const yaml_node_t *node);

#endif
