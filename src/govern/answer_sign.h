/* A human's answer to an approval request, signed by the user key
 * (DESIGN §7: "the answer is signed by the user key").
 *
 *   payload   = compact JSON, sorted keys:
 *               {"decision","for_ms","id","scope","session","time"}
 *   signature = Ed25519(user key, "reins-approval-v1\0" || payload)
 *
 * An answer given through a daemon (reins serve) carries a seventh key,
 * "approver": {"uid": UID[, "token": NAME]}, who asked the daemon to sign
 * it with its own key (serve/daemon_key.h); a session the daemon started
 * takes that key besides its user's, and only with an approver named.
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

/* Who asked a daemon to sign (new reference): {"uid"[, "token"]}. */
json_t *answer_approver(int64_t uid, const char *token);

/* The keys a session takes signatures from: its user's and, for a session
 * a daemon started, the daemon's (NULL when none). */
struct answer_signers {
        const unsigned char *user;
        const unsigned char *daemon;
};
enum answer_signer { ANSWER_SIGNER_USER, ANSWER_SIGNER_DAEMON };

/* answer_verify against either key; *by: which one signed. One signed by
 * the daemon must name its approver. */
int answer_verify_signers(const struct answer_signers *keys, const json_t *payload,
                          const char *signature_hex, int64_t now, enum answer_signer *by,
                          struct reins_error *err);

/* ---- signed control operations ------------------------------------------
 * What loosens a running session without being an answer (`reins thaw`:
 * unfreeze and reset the risk tier to T0) is signed the same way under its
 * own domain, and bound to a nonce the session handed to this connection:
 *
 *   payload   = {"nonce","op","session","time"} (compact, sorted keys),
 *               and "approver" when a daemon signs it (as above)
 *   signature = Ed25519(user key, "reins-control-v1\0" || payload)
 *
 * The nonce is used once, so a request copied from the trail or the wire
 * cannot be played again; the session and op are bound, so a thaw signed
 * for one session thaws no other. */
#define CONTROL_OP_DOMAIN "reins-control-v1"

json_t *control_op_payload(const char *op, const char *session, const char *nonce,
                           int64_t unix_time);
int control_op_sign(const struct audit_key *key, const json_t *payload,
                    char signature_hex[ANSWER_SIGNATURE_HEX + 1], struct reins_error *err);
/* Check shape, binding (op, session, nonce), freshness and signature. */
int control_op_verify(const unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                      const json_t *payload, const char *signature_hex, const char *op,
                      const char *session, const char *nonce, int64_t now, struct reins_error *err);
/* The same against either key (*by: which one signed; the daemon's names
 * its approver). */
int control_op_verify_signers(const struct answer_signers *keys, const json_t *payload,
                              const char *signature_hex, const char *op, const char *session,
                              const char *nonce, int64_t now, enum answer_signer *by,
                              struct reins_error *err);

#endif
