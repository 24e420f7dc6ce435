/* Delegation tokens (govern/token_decode.c): the text `reins run --token`
 * and a session's bound token file carry, attacker-controlled until its
 * signatures check out. The first byte picks what the rest is:
 *   0  the token text itself, decoded offline (no root key: block 0's
 *      signature is not checked, so its payload is parsed) and against a
 *      root key;
 *   1  the outer JSON ({blocks, proof, version}), base64url-encoded here so
 *      that the fuzzer works on JSON rather than on base64;
 *   2  a block's "restrictions" object, then lines to check against it:
 *      restrictions that parse are minted into a token signed by a fixed
 *      root key, which must decode and verify again (one token, one text),
 *      and the rights it grants are asked about the lines that follow. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "govern/token.h"
#include "govern/token_internal.h"

static unsigned char root_public[TOKEN_PUBLIC_KEY_BYTES];
static unsigned char root_secret[TOKEN_SECRET_KEY_BYTES];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        static const unsigned char seed[TOKEN_SEED_BYTES] = "reins fuzz root key seed 32 byte";
        FUZZ_CHECK(token_crypto_init() == 0);
        token_keypair_from_seed(seed, root_public, root_secret);
        json_object_seed(1); /* the same hash order in every run: reproducible */
        return 0;
}

/* What a session asks of a decoded, verified token. */
static void exercise_rights(const struct token *token, const char *probes, size_t length)
{
        struct token_rights rights;
        struct reins_error err = {0};
        if (token_effective_rights(token, &rights, &err) < 0)
                return;
        const char *p = probes, *end = probes + length;
        while (p < end) {
                const char *newline = memchr(p, '\n', (size_t)(end - p));
                size_t n = newline ? (size_t)(newline - p) : (size_t)(end - p);
                char *line = strndup(p, n);
                if (line) {
                        token_check_dest(&rights, line, (uint16_t)(n * 257));
                        token_check_path(&rights, line);
                        token_check_cmd(&rights, line);
                        token_check_agent(&rights, line);
                        free(line);
                }
                p += n + 1;
        }
        token_check_time(&rights, 1800000000);
        token_rights_free(&rights);
}

static void decode_text(const char *text)
{
        struct token token;
        enum token_failure failure;
        struct reins_error err = {0};
        if (token_decode(text, NULL, &token, &failure, &err) == 0) {
                FUZZ_CHECK(token.count >= 1 && token.count <= TOKEN_MAX_BLOCKS);
                /* decoding is canonical: the text it came from is the text it encodes to */
                char *again = NULL;
                FUZZ_CHECK(token_encode(&token, &again, &err) == 0);
                free(again);
                token_free(&token);
        } else {
                FUZZ_CHECK(failure != TOKEN_OK);
        }
        if (token_decode(text, root_public, &token, &failure, &err) == 0) {
                if (token_verify(&token, root_public, 1800000000, NULL, &failure, &err) == 0)
                        exercise_rights(&token, "example.com\nsrc/a.c\ngit", 23);
                token_free(&token);
        }
}

static void mint_and_decode(const char *object_text, size_t object_length, const char *probes,
                            size_t probes_length)
{
        json_t *object = json_loadb(object_text, object_length, JSON_REJECT_DUPLICATES, NULL);
        struct token_restrictions r;
        enum token_failure failure = TOKEN_OK;
        struct reins_error err = {0};
        if (!object || token_restrictions_from_json(object, 0, &r, &failure, &err) < 0) {
                json_decref(object);
                return;
        }
        json_decref(object);
        struct token token;
        if (token_mint(root_secret, &r, &token, &err) == 0) {
                /* one more block with the same restrictions: rights can only shrink */
                FUZZ_CHECK(token_attenuate(&token, &r, &err) == 0);
                char *text = NULL;
                FUZZ_CHECK(token_encode(&token, &text, &err) == 0);
                struct token decoded;
                if (token_decode(text, root_public, &decoded, &failure, &err) != 0) {
                        fprintf(stderr, "a minted token does not decode: %s\n", err.message);
                        abort();
                }
                FUZZ_CHECK(decoded.count == 2);
                if (token_verify(&decoded, root_public, 0, NULL, &failure, &err) == 0)
                        exercise_rights(&decoded, probes, probes_length);
                token_free(&decoded);
                free(text);
                token_free(&token);
        }
        token_restrictions_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1 || size > 65536)
                return 0;
        uint8_t mode = data[0] % 3;
        const char *rest = (const char *)data + 1;
        size_t length = size - 1;
        if (mode == 0) {
                char *text = strndup(rest, length);
                if (text)
                        decode_text(text);
                free(text);
        } else if (mode == 1) {
                char *text = token_base64url_encode((const unsigned char *)rest, length);
                if (text)
                        decode_text(text);
                free(text);
        } else {
                const char *newline = memchr(rest, '\n', length);
                size_t object_length = newline ? (size_t)(newline - rest) : length;
                size_t skip = newline ? object_length + 1 : length;
                mint_and_decode(rest, object_length, rest + skip, length - skip);
        }
        return 0;
}
