/* A human's answer to an approval request, signed by the user key
 * (DESIGN §7: "the answer is signed by the user key").
 *
 *   payload   = compact JSON, sorted keys:
 *               {"decision","for_ms","id","scope","session","time"}
 *   signature = Ed25519(user key, "reins-approval-v1\0" || payload)
 *
 * The domain prefix keeps an answer from ever verifying as a token block or
 * an audit checkpoint (the same key signs those). The supervisor verifies
 * against the user key it loaded at start and records payload, signature
 * and key fingerprint in the audit trail; a request id is answered once, and
 * the time must be within ANSWER_MAX_SKEW_S of the supervisor's clock. */
#ifndef REINS_GOVERN_ANSWER_SIGN_H
#define REINS_GOVERN_ANSWER_SIGN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "audit/keys.h"
#include "util/error.h"

#define ANSWER_DOMAIN        "reins-approval-v1"
#define ANSWER_MAX_SKEW_S    300
#define ANSWER_SIGNATURE_HEX (2 * crypto_sign_BYTES)

/* The payload object (new reference). for_ms: -1 once, 0 session, > 0 ms. */
json_t *answer_payload(const char *session, const char *id, bool allow, int64_t for_ms,
                       const char *scope, int64_t unix_time);

/* Sign the canonical text of `payload`. */
int answer_sign(const struct audit_key *key, const json_t *payload,
                char signature_hex[ANSWER_SIGNATURE_HEX + 1], struct reins_error *err);

/* Check shape, signature and freshness (`now` unix seconds). */
int answer_verify(const unsigned char public_key[crypto_sign_PUBLICKEYBYTES], const json_t *payload,
                  const char *signature_hex, int64_t now, struct reins_error *err);

#endif
