/* Delegation tokens: minting, attenuation and the text form (token.h has
 * the design). Decoding and verification are in token_decode.c. */
#include "govern/token.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "audit/keys.h"
#include "govern/token_internal.h"
#include "util/cleanup.h"

const char *token_failure_name(enum token_failure failure)
{
        switch (failure) {
        case TOKEN_OK:
                return "valid";
        case TOKEN_MALFORMED:
                return "malformed";
        case TOKEN_BAD_SIGNATURE:
                return "bad signature";
        case TOKEN_BROKEN_CHAIN:
                return "broken chain";
        case TOKEN_UNKNOWN_RESTRICTION:
                return "unknown restriction";
        case TOKEN_BAD_RESTRICTION:
                return "invalid restriction";
        case TOKEN_EXPIRED:
                return "expired";
        case TOKEN_REVOKED:
                return "revoked";
        }
        return "refused";
}

void token_restrictions_free(struct token_restrictions *r)
{
        strv_free(&r->dest);
        strv_free(&r->path);
        strv_free(&r->cmd);
        free(r->agent);
        memset(r, 0, sizeof(*r));
}

static void token_block_free(struct token_block *block)
{
        free(block->payload);
        token_restrictions_free(&block->restrictions);
        memset(block, 0, sizeof(*block));
}

void token_free(struct token *token)
{
        for (size_t i = 0; i < token->count; i++)
                token_block_free(&token->blocks[i]);
        free(token->blocks);
        sodium_memzero(token->proof, sizeof(token->proof));
        token->blocks = NULL;
        token->count = 0;
}

void token_block_sign(const unsigned char secret_key[TOKEN_SECRET_KEY_BYTES], const char *payload,
                      unsigned char signature[TOKEN_SIGNATURE_BYTES])
{
        size_t domain = sizeof(TOKEN_DOMAIN), length = strlen(payload);
        unsigned char *message = malloc(domain + length);
        if (!message)
                abort(); /* a few hundred bytes: out of memory here is not recoverable */
        memcpy(message, TOKEN_DOMAIN, domain); /* includes the NUL separator */
        memcpy(message + domain, payload, length);
        token_ed25519_sign(secret_key, message, domain + length, signature);
        free(message);
}

bool token_block_check(const unsigned char public_key[TOKEN_PUBLIC_KEY_BYTES], const char *payload,
                       const unsigned char signature[TOKEN_SIGNATURE_BYTES])
{
        size_t domain = sizeof(TOKEN_DOMAIN), length = strlen(payload);
        unsigned char *message = malloc(domain + length);
        if (!message)
                return false;
        memcpy(message, TOKEN_DOMAIN, domain);
        memcpy(message + domain, payload, length);
        bool ok = token_ed25519_verify(public_key, message, domain + length, signature);
        free(message);
        return ok;
}

static json_t *token_strv_json(const struct reins_strv *v)
{
        json_auto_t *array = json_array();
        for (size_t i = 0; array && i < v->count; i++)
                if (json_array_append_new(array, json_string(v->items[i])) < 0)
                        return NULL;
        return steal_ptr(&array);
}

json_t *token_restrictions_json(const struct token_restrictions *r)
{
        json_auto_t *o = json_object();
        if (!o)
                return NULL;
        int bad = 0;
        if (r->has_dest)
                bad |= json_object_set_new(o, "dest", token_strv_json(&r->dest));
        if (r->has_path)
                bad |= json_object_set_new(o, "path", token_strv_json(&r->path));
        if (r->has_cmd)
                bad |= json_object_set_new(o, "cmd", token_strv_json(&r->cmd));
        if (r->has_expires)
                bad |= json_object_set_new(o, "expires", json_integer((json_int_t)r->expires));
        if (r->has_uses)
                bad |= json_object_set_new(o, "uses", json_integer((json_int_t)r->uses));
        if (r->agent)
                bad |= json_object_set_new(o, "agent", json_string(r->agent));
        if (bad)
                return NULL;
        return steal_ptr(&o);
}

static int token_strv_copy_checked(struct reins_strv *dst, const struct reins_strv *src)
{
        return strv_copy(dst, src);
}

static int token_restrictions_copy(struct token_restrictions *dst,
                                   const struct token_restrictions *src)
{
        memset(dst, 0, sizeof(*dst));
        dst->has_dest = src->has_dest;
        dst->has_path = src->has_path;
        dst->has_cmd = src->has_cmd;
        dst->has_expires = src->has_expires;
        dst->has_uses = src->has_uses;
        dst->expires = src->expires;
        dst->uses = src->uses;
        if (token_strv_copy_checked(&dst->dest, &src->dest) < 0 ||
            token_strv_copy_checked(&dst->path, &src->path) < 0 ||
            token_strv_copy_checked(&dst->cmd, &src->cmd) < 0 ||
            (src->agent && !(dst->agent = strdup(src->agent)))) {
                token_restrictions_free(dst);
                return -ENOMEM;
        }
        return 0;
}

/* Build, sign and append one block; `signer` is the previous key (or the
 * user key for block 0). On success the token's proof is the new seed. */
static int token_append_block(struct token *token,
                              const unsigned char signer[TOKEN_SECRET_KEY_BYTES],
                              const struct token_restrictions *r, struct reins_error *err)
{
        int rc = token_restrictions_validate(r, err);
        if (rc < 0)
                return rc;
        if (token->count >= TOKEN_MAX_BLOCKS)
                return reins_error_set(err, E2BIG, "a token holds at most %d blocks",
                                       TOKEN_MAX_BLOCKS);
        if (token_crypto_init() < 0)
                return reins_error_set(err, EIO, "libsodium failed to initialise");

        struct token_block block = {0};
        unsigned char id[TOKEN_ID_BYTES], seed[TOKEN_SEED_BYTES];
        randombytes_buf(id, sizeof(id));
        audit_hex(id, sizeof(id), block.id);
        token_keypair_random(seed, block.next_key);

        char key_hex[2 * TOKEN_PUBLIC_KEY_BYTES + 1];
        audit_hex(block.next_key, sizeof(block.next_key), key_hex);
        json_auto_t *payload =
            json_pack("{s:s, s:I, s:s, s:o*}", "id", block.id, "index", (json_int_t)token->count,
                      "next_key", key_hex, "restrictions", token_restrictions_json(r));
        if (payload && token->count > 0) {
                char previous[2 * TOKEN_SIGNATURE_BYTES + 1];
                const struct token_block *last = &token->blocks[token->count - 1];
                audit_hex(last->signature, sizeof(last->signature), previous);
                if (json_object_set_new(payload, "previous", json_string(previous)) < 0)
                        json_decref(steal_ptr(&payload));
        }
        if (payload && !json_object_get(payload, "restrictions"))
                json_decref(steal_ptr(&payload));
        if (payload)
                block.payload = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
        struct token_block *grown = NULL;
        if (block.payload)
                grown = realloc(token->blocks, (token->count + 1) * sizeof(*grown));
        if (!grown || token_restrictions_copy(&block.restrictions, r) < 0) {
                if (grown)
                        token->blocks = grown;
                free(block.payload);
                sodium_memzero(seed, sizeof(seed));
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        token->blocks = grown;
        token_block_sign(signer, block.payload, block.signature);
        token->blocks[token->count++] = block;
        memcpy(token->proof, seed, sizeof(seed));
        sodium_memzero(seed, sizeof(seed));
        return 0;
}

int token_mint(const unsigned char root_secret[TOKEN_SECRET_KEY_BYTES],
               const struct token_restrictions *r, struct token *out, struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        int rc = token_append_block(out, root_secret, r, err);
        if (rc < 0)
                token_free(out);
        return rc;
}

int token_attenuate(struct token *token, const struct token_restrictions *r,
                    struct reins_error *err)
{
        if (token->count == 0)
                return reins_error_set(err, EINVAL, "an empty token cannot be attenuated");
        if (token_crypto_init() < 0)
                return reins_error_set(err, EIO, "libsodium failed to initialise");
        unsigned char public_key[TOKEN_PUBLIC_KEY_BYTES], secret_key[TOKEN_SECRET_KEY_BYTES];
        token_keypair_from_seed(token->proof, public_key, secret_key);
        int rc = token_append_block(token, secret_key, r, err);
        sodium_memzero(secret_key, sizeof(secret_key));
        return rc;
}

int token_encode(const struct token *token, char **out, struct reins_error *err)
{
        *out = NULL;
        json_t *blocks = json_array();
        for (size_t i = 0; blocks && i < token->count; i++) {
                const struct token_block *b = &token->blocks[i];
                cleanup_free char *payload =
                    token_base64url_encode((const unsigned char *)b->payload, strlen(b->payload));
                cleanup_free char *signature =
                    token_base64url_encode(b->signature, sizeof(b->signature));
                json_t *entry = payload && signature ? json_pack("{s:s, s:s}", "payload", payload,
                                                                 "signature", signature)
                                                     : NULL;
                if (!entry || json_array_append_new(blocks, entry) < 0)
                        json_decref(steal_ptr(&blocks));
        }
        cleanup_free char *proof = token_base64url_encode(token->proof, sizeof(token->proof));
        json_auto_t *whole = blocks && proof ? json_pack("{s:o, s:s, s:i}", "blocks", blocks,
                                                         "proof", proof, "version", TOKEN_VERSION)
                                             : NULL;
        if (!whole)
                json_decref(blocks);
        if (proof)
                sodium_memzero(proof, strlen(proof));
        cleanup_free char *text = whole ? json_dumps(whole, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (text)
                *out = token_base64url_encode((const unsigned char *)text, strlen(text));
        if (text)
                sodium_memzero(text, strlen(text)); /* it carries the proof */
        if (!*out)
                return reins_error_set(err, ENOMEM, "out of memory");
        return 0;
}
