#include "audit/checkpoint.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int audit_checkpoint_message(const struct audit_checkpoint *c, char *out, size_t size)
{
        char root[65], key[65];
        audit_hex(c->root, sizeof(c->root), root);
        audit_hex(c->public_key, sizeof(c->public_key), key);
        int n = snprintf(out, size,
                         AUDIT_CHECKPOINT_DOMAIN "session=%zu:%s\ntime=%zu:%s\nseq=%llu\n"
                                                 "mono=%llu\ntree_size=%llu\nroot=%s\nprev=%s\n"
                                                 "final=%d\nkey=%s\n",
                         strlen(c->session), c->session, strlen(c->time), c->time,
                         (unsigned long long)c->seq, (unsigned long long)c->mono,
                         (unsigned long long)c->tree_size, root, c->prev, c->final ? 1 : 0, key);
        if (n < 0 || (size_t)n >= size)
                return -ENOSPC;
        if (c->container[0]) {
                /* added only when there is one: every other session's
                 * checkpoints keep the message they always had */
                int m = snprintf(out + n, size - (size_t)n, "container=%zu:%s\n",
                                 strlen(c->container), c->container);
                if (m < 0 || (size_t)m >= size - (size_t)n)
                        return -ENOSPC;
                n += m;
        }
        return n;
}

int audit_checkpoint_sign(struct audit_checkpoint *c, const struct audit_key *key)
{
        memcpy(c->public_key, key->public_key, sizeof(c->public_key));
        char message[AUDIT_CHECKPOINT_MESSAGE_MAX];
        int n = audit_checkpoint_message(c, message, sizeof(message));
        if (n < 0)
                return n;
        if (crypto_sign_detached(c->signature, NULL, (const unsigned char *)message, (size_t)n,
                                 key->secret_key) != 0)
                return -EIO;
        return 0;
}

bool audit_checkpoint_signature_valid(const struct audit_checkpoint *c)
{
        char message[AUDIT_CHECKPOINT_MESSAGE_MAX];
        int n = audit_checkpoint_message(c, message, sizeof(message));
        if (n < 0)
                return false;
        return crypto_sign_verify_detached(c->signature, (const unsigned char *)message, (size_t)n,
                                           c->public_key) == 0;
}

json_t *audit_checkpoint_to_json(const struct audit_checkpoint *c)
{
        char root[65], key[65], signature[2 * crypto_sign_BYTES + 1];
        audit_hex(c->root, sizeof(c->root), root);
        audit_hex(c->public_key, sizeof(c->public_key), key);
        audit_hex(c->signature, sizeof(c->signature), signature);
        json_t *record = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:s, s:b, s:s, s:s}",
                                   "type", "checkpoint", "time", c->time, "session", c->session,
                                   "seq", (json_int_t)c->seq, "mono", (json_int_t)c->mono, "prev",
                                   c->prev, "tree_size", (json_int_t)c->tree_size, "root", root,
                                   "final", c->final, "key", key, "signature", signature);
        if (record && c->container[0] &&
            json_object_set_new(record, "container", json_string(c->container)) < 0) {
                json_decref(record);
                return NULL;
        }
        return record;
}

static int checkpoint_string(const json_t *record, const char *name, char *out, size_t size,
                             char *why, size_t why_size)
{
        const json_t *value = json_object_get(record, name);
        const char *s = json_string_value(value);
        if (!s || json_string_length(value) >= size || strlen(s) != json_string_length(value)) {
                snprintf(why, why_size, "checkpoint field \"%s\" missing or malformed", name);
                return -EINVAL;
        }
        memcpy(out, s, strlen(s) + 1);
        return 0;
}

static int checkpoint_unsigned(const json_t *record, const char *name, uint64_t *out, char *why,
                               size_t why_size)
{
        const json_t *value = json_object_get(record, name);
        if (!json_is_integer(value) || json_integer_value(value) < 0) {
                snprintf(why, why_size, "checkpoint field \"%s\" missing or malformed", name);
                return -EINVAL;
        }
        *out = (uint64_t)json_integer_value(value);
        return 0;
}

static int checkpoint_hex(const json_t *record, const char *name, unsigned char *out, size_t length,
                          char *why, size_t why_size)
{
        if (audit_unhex(json_string_value(json_object_get(record, name)), out, length) < 0) {
                snprintf(why, why_size, "checkpoint field \"%s\" missing or malformed", name);
                return -EINVAL;
        }
        return 0;
}

int audit_checkpoint_from_json(const json_t *record, struct audit_checkpoint *out, char *why,
                               size_t why_size)
{
        static const char *const fields[] = {"type",  "time", "session",   "seq",
                                             "mono",  "prev", "tree_size", "root",
                                             "final", "key",  "signature"};
        memset(out, 0, sizeof(*out));
        /* and "container", signed, in a container's session only */
        bool container = json_object_get(record, "container") != NULL;
        if (!json_is_object(record) ||
            json_object_size(record) != sizeof(fields) / sizeof(fields[0]) + container) {
                snprintf(why, why_size, "checkpoint has unexpected fields");
                return -EINVAL;
        }
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
                if (!json_object_get(record, fields[i])) {
                        snprintf(why, why_size, "checkpoint field \"%s\" missing", fields[i]);
                        return -EINVAL;
                }
        const json_t *final = json_object_get(record, "final");
        unsigned char prev[MERKLE_HASH_BYTES];
        if (!json_is_boolean(final)) {
                snprintf(why, why_size, "checkpoint field \"final\" malformed");
                return -EINVAL;
        }
        out->final = json_is_true(final);
        if (checkpoint_string(record, "session", out->session, sizeof(out->session), why,
                              why_size) < 0 ||
            checkpoint_string(record, "time", out->time, sizeof(out->time), why, why_size) < 0 ||
            checkpoint_string(record, "prev", out->prev, sizeof(out->prev), why, why_size) < 0 ||
            checkpoint_hex(record, "prev", prev, sizeof(prev), why, why_size) < 0 ||
            checkpoint_unsigned(record, "seq", &out->seq, why, why_size) < 0 ||
            checkpoint_unsigned(record, "mono", &out->mono, why, why_size) < 0 ||
            checkpoint_unsigned(record, "tree_size", &out->tree_size, why, why_size) < 0 ||
            checkpoint_hex(record, "root", out->root, sizeof(out->root), why, why_size) < 0 ||
            checkpoint_hex(record, "key", out->public_key, sizeof(out->public_key), why, why_size) <
                0 ||
            checkpoint_hex(record, "signature", out->signature, sizeof(out->signature), why,
                           why_size) < 0 ||
            (container && checkpoint_string(record, "container", out->container,
                                            sizeof(out->container), why, why_size) < 0))
                return -EINVAL;
        if (container && !out->container[0]) {
                snprintf(why, why_size, "checkpoint field \"container\" empty");
                return -EINVAL;
        }
        return 0;
}
