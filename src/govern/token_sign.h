/* The Ed25519 and base64url primitives under delegation tokens, in one small
 * wrapper so the RFC 8032 vectors can be run through exactly the code that
 * signs and checks tokens. */
#ifndef REINS_GOVERN_TOKEN_SIGN_H
#define REINS_GOVERN_TOKEN_SIGN_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>

#define TOKEN_SEED_BYTES       crypto_sign_SEEDBYTES      /* 32 */
#define TOKEN_PUBLIC_KEY_BYTES crypto_sign_PUBLICKEYBYTES /* 32 */
#define TOKEN_SECRET_KEY_BYTES crypto_sign_SECRETKEYBYTES /* 64: seed + public key */
#define TOKEN_SIGNATURE_BYTES  crypto_sign_BYTES          /* 64 */

/* 0, or -EIO when libsodium cannot initialise (no entropy source). */
int token_crypto_init(void);

/* Derive the key pair of a 32-byte seed (RFC 8032's "secret key"). */
void token_keypair_from_seed(const unsigned char seed[TOKEN_SEED_BYTES],
                             unsigned char public_key[TOKEN_PUBLIC_KEY_BYTES],
                             unsigned char secret_key[TOKEN_SECRET_KEY_BYTES]);

/* A fresh random key pair; the seed is what travels as a token's proof. */
void token_keypair_random(unsigned char seed[TOKEN_SEED_BYTES],
                          unsigned char public_key[TOKEN_PUBLIC_KEY_BYTES]);

/* Pure Ed25519 (RFC 8032 §5.1, no prehash, no context) over `message`. */
void token_ed25519_sign(const unsigned char secret_key[TOKEN_SECRET_KEY_BYTES],
                        const unsigned char *message, size_t length,
                        unsigned char signature[TOKEN_SIGNATURE_BYTES]);
bool token_ed25519_verify(const unsigned char public_key[TOKEN_PUBLIC_KEY_BYTES],
                          const unsigned char *message, size_t length,
                          const unsigned char signature[TOKEN_SIGNATURE_BYTES]);

/* base64url without padding (RFC 4648 §5). Encoding returns a malloc'd
 * string or NULL. Decoding is strict: any byte outside the alphabet, any
 * padding and any non-zero unused trailing bit is refused, so every
 * byte string has exactly one text form (a token cannot be altered
 * without changing what it decodes to). Returns the decoded length or -1. */
char *token_base64url_encode(const unsigned char *bytes, size_t length);
long token_base64url_decode(const char *text, unsigned char *out, size_t out_size);

#endif
