#include "govern/token_sign.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int token_crypto_init(void)
{
        return sodium_init() < 0 ? -EIO : 0;
}

void token_keypair_from_seed(const unsigned char seed[TOKEN_SEED_BYTES],
                             unsigned char public_key[TOKEN_PUBLIC_KEY_BYTES],
                             unsigned char secret_key[TOKEN_SECRET_KEY_BYTES])
{
        crypto_sign_seed_keypair(public_key, secret_key, seed);
}

void token_keypair_random(unsigned char seed[TOKEN_SEED_BYTES],
                          unsigned char public_key[TOKEN_PUBLIC_KEY_BYTES])
{
        unsigned char secret_key[TOKEN_SECRET_KEY_BYTES];
        randombytes_buf(seed, TOKEN_SEED_BYTES);
        crypto_sign_seed_keypair(public_key, secret_key, seed);
        sodium_memzero(secret_key, sizeof(secret_key));
}

void token_ed25519_sign(const unsigned char secret_key[TOKEN_SECRET_KEY_BYTES],
                        const unsigned char *message, size_t length,
                        unsigned char signature[TOKEN_SIGNATURE_BYTES])
{
        crypto_sign_detached(signature, NULL, message, length, secret_key);
}

bool token_ed25519_verify(const unsigned char public_key[TOKEN_PUBLIC_KEY_BYTES],
                          const unsigned char *message, size_t length,
                          const unsigned char signature[TOKEN_SIGNATURE_BYTES])
{
        /* libsodium rejects non-canonical S and small-order keys, so a
         * signature cannot be malleated into a second valid form */
        return crypto_sign_verify_detached(signature, message, length, public_key) == 0;
}

char *token_base64url_encode(const unsigned char *bytes, size_t length)
{
        size_t size = sodium_base64_encoded_len(length, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        char *out = malloc(size);
        if (!out)
                return NULL;
        sodium_bin2base64(out, size, bytes, length, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        return out;
}

long token_base64url_decode(const char *text, unsigned char *out, size_t out_size)
{
        size_t length = 0;
        const char *end = NULL;
        if (sodium_base642bin(out, out_size, text, strlen(text), NULL, &length, &end,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
                return -1;
        if (!end || *end != '\0')
                return -1;
        /* belt and braces for the one-text-form promise: re-encode and compare */
        char *again = token_base64url_encode(out, length);
        bool same = again && strcmp(again, text) == 0;
        free(again);
        return same ? (long)length : -1;
}
