/* Reading a token back, and deciding whether to trust it. Everything read
 * here is attacker-controlled until its signature checks out, so every
 * field is checked for type and shape, unknown fields are refused, and any
 * doubt is a refusal with the reason (fail closed). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/keys.h"
#include "govern/token.h"
#include "govern/token_internal.h"
#include "util/glob.h"
#include "util/cleanup.h"

#define TOKEN_AGENT_MAX 128
#define TOKEN_VALUE_MAX 1024

static int token_refuse(enum token_failure *failure, enum token_failure why,
                        struct reins_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int token_refuse(enum token_failure *failure, enum token_failure why,
                        struct reins_error *err, const char *fmt, ...)
{
        if (failure)
                *failure = why;
        if (err) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(err->message, sizeof(err->message), fmt, ap);
                va_end(ap);
                err->code = EPERM;
        }
        return why == TOKEN_MALFORMED ? -EINVAL : -EPERM;
}

/* Printable ASCII without spaces or quotes' worth of surprises: values end
 * up in terminal output and in audit events. */
static bool token_value_printable(const char *s)
{
        if (!*s || strlen(s) > TOKEN_VALUE_MAX)
                return false;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if (*p < 0x21 || *p > 0x7e)
                        return false;
        return true;
}

static int token_path_validate(const char *pattern, const char **why)
{
        if (!token_value_printable(pattern)) {
                *why = "empty, too long, or not printable ASCII without spaces";
                return -EINVAL;
        }
        if (pattern[0] == '/') {
                *why = "must be relative to the workspace";
                return -EINVAL;
        }
        /* '..' would let a path glob name something outside the workspace */
        for (const char *p = pattern; *p;) {
                size_t n = strcspn(p, "/");
                if ((n == 2 && p[0] == '.' && p[1] == '.') || n == 0) {
                        *why = n ? "'..' is not allowed" : "empty path component";
                        return -EINVAL;
                }
                p += n;
                if (*p == '/')
                        p++;
                if (*p == '\0' && p[-1] == '/') {
                        *why = "trailing '/'";
                        return -EINVAL;
                }
        }
        return glob_validate(pattern, why);
}

int token_restrictions_validate(const struct token_restrictions *r, struct reins_error *err)
{
        const char *why = NULL;
        for (size_t i = 0; i < r->dest.count; i++) {
                struct net_rule rule;
                if (!token_value_printable(r->dest.items[i]))
                        return reins_error_set(err, EINVAL, "dest '%s': not printable",
                                               r->dest.items[i]);
                if (net_rule_parse(r->dest.items[i], &rule, &why) < 0)
                        return reins_error_set(err, EINVAL, "dest '%s': %s", r->dest.items[i], why);
        }
        for (size_t i = 0; i < r->path.count; i++)
                if (token_path_validate(r->path.items[i], &why) < 0)
                        return reins_error_set(err, EINVAL, "path '%s': %s", r->path.items[i], why);
        for (size_t i = 0; i < r->cmd.count; i++)
                if (!token_value_printable(r->cmd.items[i]) || strchr(r->cmd.items[i], '/'))
                        return reins_error_set(err, EINVAL,
                                               "cmd '%s': a command name (printable, no '/')",
                                               r->cmd.items[i]);
        if (r->has_expires && r->expires <= 0)
                return reins_error_set(err, EINVAL, "expires: not a time after 1970");
        if (r->has_uses && (r->uses < 1 || r->uses > INT64_MAX))
                return reins_error_set(err, EINVAL, "uses: must be at least 1");
        if (r->agent && (!token_value_printable(r->agent) || strlen(r->agent) > TOKEN_AGENT_MAX))
                return reins_error_set(err, EINVAL,
                                       "agent '%s': 1 to %d printable characters, no spaces",
                                       r->agent, TOKEN_AGENT_MAX);
        return 0;
}

static int token_strv_from_json(const json_t *array, struct reins_strv *out)
{
        if (!json_is_array(array) || json_array_size(array) > TOKEN_VALUE_MAX)
                return -EINVAL;
        size_t i;
        const json_t *item;
        json_array_foreach(array, i, item)
        {
                if (!json_is_string(item) ||
                    strlen(json_string_value(item)) != json_string_length(item)) /* embedded NUL */
                        return -EINVAL;
                if (strv_push(out, json_string_value(item)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int token_restrictions_from_json(const json_t *object, size_t index, struct token_restrictions *r,
                                 enum token_failure *failure, struct reins_error *err)
{
        memset(r, 0, sizeof(*r));
        if (!json_is_object(object))
                return token_refuse(failure, TOKEN_MALFORMED, err,
                                    "block %zu: restrictions are not an object", index);
        const char *kind;
        const json_t *value;
        json_object_foreach((json_t *)object, kind, value)
        {
                int rc = 0;
                if (strcmp(kind, "dest") == 0) {
                        r->has_dest = true;
                        rc = token_strv_from_json(value, &r->dest);
                } else if (strcmp(kind, "path") == 0) {
                        r->has_path = true;
                        rc = token_strv_from_json(value, &r->path);
                } else if (strcmp(kind, "cmd") == 0) {
                        r->has_cmd = true;
                        rc = token_strv_from_json(value, &r->cmd);
                } else if (strcmp(kind, "expires") == 0) {
                        r->has_expires = true;
                        rc = json_is_integer(value) ? 0 : -EINVAL;
                        r->expires = (int64_t)json_integer_value(value);
                } else if (strcmp(kind, "uses") == 0) {
                        r->has_uses = true;
                        rc = json_is_integer(value) && json_integer_value(value) > 0 ? 0 : -EINVAL;
                        r->uses = (uint64_t)json_integer_value(value);
                } else if (strcmp(kind, "agent") == 0) {
                        if (!json_is_string(value))
                                rc = -EINVAL;
                        else if (!(r->agent = strdup(json_string_value(value))))
                                rc = -ENOMEM;
                } else {
                        /* an older reins must never drop a restriction it
                         * does not understand: that would widen the token */
                        token_restrictions_free(r);
                        return token_refuse(failure, TOKEN_UNKNOWN_RESTRICTION, err,
                                            "block %zu: unknown restriction '%.64s' (known: "
                                            "dest, path, cmd, expires, uses, agent)",
                                            index, kind);
                }
                if (rc == -ENOMEM) {
                        token_restrictions_free(r);
                        return reins_error_set(err, ENOMEM, "out of memory");
                }
                if (rc < 0) {
                        token_restrictions_free(r);
                        return token_refuse(failure, TOKEN_BAD_RESTRICTION, err,
                                            "block %zu: restriction '%s' has a value of the "
                                            "wrong type",
                                            index, kind);
                }
        }
        struct reins_error why = {0};
        if (token_restrictions_validate(r, &why) < 0) {
                token_restrictions_free(r);
                return token_refuse(failure, TOKEN_BAD_RESTRICTION, err, "block %zu: %s", index,
                                    why.message);
        }
        return 0;
}

/* Exactly 2*length lower-case hex digits (one text per value). */
static bool token_unhex_exact(const char *hex, unsigned char *bytes, size_t length)
{
        if (!hex || strlen(hex) != 2 * length)
                return false;
        for (const char *p = hex; *p; p++)
                if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
                        return false;
        return audit_unhex(hex, bytes, length) == 0;
}

/* Does the object have exactly these keys (and no others)? */
static bool token_keys_exactly(const json_t *object, const char *const *keys, size_t n)
{
        if (!json_is_object(object) || json_object_size(object) != n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!json_object_get(object, keys[i]))
                        return false;
        return true;
}

/* One block: its signature (checked against `signer` when given) before
 * anything in its payload is believed. */
static int token_decode_block(const json_t *entry, size_t index, const unsigned char *signer,
                              const struct token_block *previous, struct token_block *block,
                              enum token_failure *failure, struct reins_error *err)
{
        static const char *const entry_keys[] = {"payload", "signature"};
        if (!token_keys_exactly(entry, entry_keys, 2) ||
            !json_is_string(json_object_get(entry, "payload")) ||
            !json_is_string(json_object_get(entry, "signature")))
                return token_refuse(failure, TOKEN_MALFORMED, err,
                                    "block %zu: expected exactly a payload and a signature", index);
        const char *payload_b64 = json_string_value(json_object_get(entry, "payload"));
        const char *signature_b64 = json_string_value(json_object_get(entry, "signature"));
        if (token_base64url_decode(signature_b64, block->signature, sizeof(block->signature)) !=
            (long)sizeof(block->signature))
                return token_refuse(failure, TOKEN_MALFORMED, err,
                                    "block %zu: the signature is not 64 bytes of base64url", index);
        size_t room = strlen(payload_b64) * 3 / 4 + 3;
        cleanup_free unsigned char *payload = malloc(room + 1);
        if (!payload)
                return reins_error_set(err, ENOMEM, "out of memory");
        long length = token_base64url_decode(payload_b64, payload, room);
        if (length < 0 || memchr(payload, '\0', (size_t)length))
                return token_refuse(failure, TOKEN_MALFORMED, err,
                                    "block %zu: the payload is not base64url text", index);
        payload[length] = '\0';
        if (signer && !token_block_check(signer, (const char *)payload, block->signature))
                return token_refuse(failure, TOKEN_BAD_SIGNATURE, err,
                                    "block %zu: the signature does not verify (%s)", index,
                                    index == 0 ? "not signed by the root key, or altered"
                                               : "altered, or not signed by the previous block's "
                                                 "key");

        json_error_t json_error;
        json_auto_t *fields =
            json_loadb((const char *)payload, (size_t)length, JSON_REJECT_DUPLICATES, &json_error);
        if (!fields)
                return token_refuse(failure, TOKEN_MALFORMED, err,
                                    "block %zu: the payload is not JSON (%s)", index,
                                    json_error.text);
        static const char *const first_keys[] = {"id", "index", "next_key", "restrictions"};
        static const char *const later_keys[] = {"id", "index", "next_key", "previous",
                                                 "restrictions"};
        bool shape = index == 0 ? token_keys_exactly(fields, first_keys, 4)
                                : token_keys_exactly(fields, later_keys, 5);
        const char *id = json_string_value(json_object_get(fields, "id"));
        const char *key = json_string_value(json_object_get(fields, "next_key"));
        const json_t *position = json_object_get(fields, "index");
        unsigned char id_bytes[TOKEN_ID_BYTES];
        int rc = 0;
        if (!shape || !token_unhex_exact(id, id_bytes, sizeof(id_bytes)) ||
            !token_unhex_exact(key, block->next_key, sizeof(block->next_key)) ||
            !json_is_integer(position)) {
                rc = token_refuse(failure, TOKEN_MALFORMED, err,
                                  "block %zu: expected id, index, next_key, %srestrictions", index,
                                  index ? "previous, " : "");
        } else if (json_integer_value(position) != (json_int_t)index) {
                rc = token_refuse(failure, TOKEN_BROKEN_CHAIN, err,
                                  "block %zu says it is block %" JSON_INTEGER_FORMAT, index,
                                  json_integer_value(position));
        } else if (previous) {
                unsigned char linked[TOKEN_SIGNATURE_BYTES];
                const char *hex = json_string_value(json_object_get(fields, "previous"));
                if (!token_unhex_exact(hex, linked, sizeof(linked)) ||
                    sodium_memcmp(linked, previous->signature, sizeof(linked)) != 0)
                        rc = token_refuse(failure, TOKEN_BROKEN_CHAIN, err,
                                          "block %zu does not follow block %zu", index, index - 1);
        }
        if (rc == 0) {
                memcpy(block->id, id, TOKEN_ID_HEX + 1);
                rc = token_restrictions_from_json(json_object_get(fields, "restrictions"), index,
                                                  &block->restrictions, failure, err);
        }
        if (rc == 0)
                block->payload = (char *)steal_ptr(&payload);
        return rc;
}

static void token_trim(const char **start, size_t *length)
{
        const char *s = *start;
        size_t n = strlen(s);
        while (n && isspace((unsigned char)*s))
                s++, n--;
        while (n && isspace((unsigned char)s[n - 1]))
                n--;
        *start = s;
        *length = n;
}

static int token_decode_into(const char *input, const unsigned char *root_public, struct token *out,
                             enum token_failure *failure, struct reins_error *err)
{
        size_t length;
        token_trim(&input, &length);
        if (length == 0 || length > TOKEN_MAX_TEXT)
                return token_refuse(failure, TOKEN_MALFORMED, err,
                                    length ? "the token is too long" : "the token is empty");
        cleanup_free char *text = strndup(input, length);
        cleanup_free unsigned char *raw = malloc(length);
        if (!text || !raw)
                return reins_error_set(err, ENOMEM, "out of memory");
        long raw_length = token_base64url_decode(text, raw, length);
        json_error_t json_error;
        json_auto_t *whole = raw_length > 0 ? json_loadb((const char *)raw, (size_t)raw_length,
                                                         JSON_REJECT_DUPLICATES, &json_error)
                                            : NULL;
        static const char *const keys[] = {"blocks", "proof", "version"};
        const json_t *blocks = json_object_get(whole, "blocks");
        const json_t *version = json_object_get(whole, "version");
        int rc = 0;
        if (!whole || !token_keys_exactly(whole, keys, 3) || !json_is_array(blocks) ||
            !json_is_string(json_object_get(whole, "proof")) || !json_is_integer(version))
                rc = token_refuse(failure, TOKEN_MALFORMED, err,
                                  "not a reins token (expected base64url of "
                                  "{blocks, proof, version})");
        else if (json_integer_value(version) != TOKEN_VERSION)
                rc = token_refuse(failure, TOKEN_MALFORMED, err,
                                  "token version %" JSON_INTEGER_FORMAT
                                  " (this reins reads version %d)",
                                  json_integer_value(version), TOKEN_VERSION);
        else if (json_array_size(blocks) == 0 || json_array_size(blocks) > TOKEN_MAX_BLOCKS)
                rc = token_refuse(failure, TOKEN_MALFORMED, err,
                                  "a token has 1 to %d blocks, this one %zu", TOKEN_MAX_BLOCKS,
                                  json_array_size(blocks));
        if (rc == 0 && !(out->blocks = calloc(json_array_size(blocks), sizeof(*out->blocks))))
                rc = reins_error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; rc == 0 && i < json_array_size(blocks); i++) {
                const unsigned char *signer = i ? out->blocks[i - 1].next_key : root_public;
                rc = token_decode_block(json_array_get(blocks, i), i, signer,
                                        i ? &out->blocks[i - 1] : NULL, &out->blocks[i], failure,
                                        err);
                if (rc == 0)
                        out->count = i + 1;
        }
        if (rc == 0) {
                /* the proof must be the seed of the last key: otherwise the
                 * holder could not attenuate, and a token whose proof was
                 * swapped is not the token that was issued */
                unsigned char public_key[TOKEN_PUBLIC_KEY_BYTES], secret[TOKEN_SECRET_KEY_BYTES];
                const char *proof = json_string_value(json_object_get(whole, "proof"));
                if (token_base64url_decode(proof, out->proof, sizeof(out->proof)) !=
                    (long)sizeof(out->proof)) {
                        rc = token_refuse(failure, TOKEN_MALFORMED, err,
                                          "the proof is not 32 bytes of base64url");
                } else {
                        token_keypair_from_seed(out->proof, public_key, secret);
                        sodium_memzero(secret, sizeof(secret));
                        if (sodium_memcmp(public_key, out->blocks[out->count - 1].next_key,
                                          sizeof(public_key)) != 0)
                                rc = token_refuse(failure, TOKEN_BROKEN_CHAIN, err,
                                                  "the proof does not belong to the last block");
                }
        }
        if (raw_length > 0)
                sodium_memzero(raw, (size_t)raw_length);
        if (rc == 0) {
                /* one token, one text: anything else is an edited copy */
                cleanup_free char *again = NULL;
                rc = token_encode(out, &again, err);
                if (rc == 0 && strcmp(again, text) != 0)
                        rc = token_refuse(failure, TOKEN_MALFORMED, err,
                                          "the token is not in its canonical form (edited?)");
                if (again)
                        sodium_memzero(again, strlen(again));
        }
        sodium_memzero(text, length);
        return rc;
}

int token_decode(const char *text, const unsigned char *root_public, struct token *out,
                 enum token_failure *failure, struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        if (failure)
                *failure = TOKEN_OK;
        if (token_crypto_init() < 0)
                return reins_error_set(err, EIO, "libsodium failed to initialise");
        int rc = token_decode_into(text, root_public, out, failure, err);
        if (rc < 0) {
                if (failure && *failure == TOKEN_OK)
                        *failure = TOKEN_MALFORMED;
                token_free(out);
        }
        return rc;
}

bool token_signed_by(const struct token *token,
                     const unsigned char root_public[TOKEN_PUBLIC_KEY_BYTES])
{
        return token->count > 0 &&
               token_block_check(root_public, token->blocks[0].payload, token->blocks[0].signature);
}

static void token_time_text(int64_t when, char out[32])
{
        time_t t = (time_t)when;
        struct tm tm;
        if (!gmtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(out, 32, "@%" PRId64, when);
}

int token_verify(const struct token *token, const unsigned char root_public[TOKEN_PUBLIC_KEY_BYTES],
                 int64_t now, const struct reins_strv *revoked, enum token_failure *failure,
                 struct reins_error *err)
{
        if (failure)
                *failure = TOKEN_OK;
        if (token->count == 0)
                return token_refuse(failure, TOKEN_MALFORMED, err, "the token has no blocks");
        if (!token_signed_by(token, root_public))
                return token_refuse(failure, TOKEN_BAD_SIGNATURE, err,
                                    "block 0 is not signed by the root key");
        for (size_t i = 0; i < token->count; i++) {
                const struct token_block *b = &token->blocks[i];
                if (revoked && strv_contains(revoked, b->id))
                        return token_refuse(failure, TOKEN_REVOKED, err,
                                            "block %zu (id %s) is revoked", i, b->id);
        }
        for (size_t i = 0; i < token->count; i++) {
                const struct token_restrictions *r = &token->blocks[i].restrictions;
                if (r->has_expires && now >= r->expires) {
                        char when[32];
                        token_time_text(r->expires, when);
                        return token_refuse(failure, TOKEN_EXPIRED, err, "block %zu expired at %s",
                                            i, when);
                }
        }
        return 0;
}
