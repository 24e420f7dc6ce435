/* Shared between the token files and their unit tests; not an interface. */
#ifndef REINS_GOVERN_TOKEN_INTERNAL_H
#define REINS_GOVERN_TOKEN_INTERNAL_H

#include <jansson.h>

#include "govern/token.h"

/* Ed25519 over TOKEN_DOMAIN "\0" payload. */
void token_block_sign(const unsigned char secret_key[TOKEN_SECRET_KEY_BYTES], const char *payload,
                      unsigned char signature[TOKEN_SIGNATURE_BYTES]);
bool token_block_check(const unsigned char public_key[TOKEN_PUBLIC_KEY_BYTES], const char *payload,
                       const unsigned char signature[TOKEN_SIGNATURE_BYTES]);

/* The "restrictions" object of a block, and back (block `index` in errors). */
json_t *token_restrictions_json(const struct token_restrictions *r);
int token_restrictions_from_json(const json_t *object, size_t index, struct token_restrictions *r,
                                 enum token_failure *failure, struct reins_error *err);

#endif
