/* Per-session signing keys, certified by the user's key.
 *
 * The supervisor parses bytes the agent controls (HTTP, SOCKS5, TLS
 * ClientHello, agent JSON) for the whole session. A memory-disclosure or
 * code-execution bug there must not yield the user's long-term key, which
 * signs approvals and delegation tokens too (OpenSSH privilege separation:
 * the process that parses untrusted bytes holds no long-term secret). So,
 * before the first untrusted byte is read:
 *
 *   1. a fresh Ed25519 key pair is drawn for the session;
 *   2. the user's key signs a certificate binding that public key to the
 *      session id, a validity window and the policy's SHA-256;
 *   3. the user's secret is wiped (sodium_memzero) and the process is
 *      sealed: audit_key_load refuses from then on (audit/keys.h).
 *
 * Checkpoints are signed with the session key; the certificate goes in the
 * trail (`session_cert` of `session.start`), so `reins audit verify` checks
 * user key → certificate → every checkpoint. A stolen session key can sign
 * checkpoints for that one session, within its window, and nothing else.
 *
 * The certificate's signature covers this canonical, domain-separated byte
 * string (strings length-prefixed, so no value can forge a line):
 *
 *   reins-session-cert-v1
 *   session=<byte length>:<session>
 *   session_key=<64 hex>
 *   user_key=<64 hex>
 *   not_before=<byte length>:<RFC 3339 time>
 *   not_after=<byte length>:<RFC 3339 time>
 *   policy_sha256=<byte length>:<64 hex, or empty>
 *   purpose=<byte length>:<run | apply | discard ...>
 */
#ifndef REINS_AUDIT_SESSION_KEY_H
#define REINS_AUDIT_SESSION_KEY_H

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>

#include "audit/clock.h"
#include "audit/keys.h"
#include "util/error.h"

#define AUDIT_CERT_DOMAIN "reins-session-cert-v1\n"
#define AUDIT_CERT_FIELD  "session_cert" /* the member of the record that carries it */

struct audit_session_cert {
        char session[128];
        char not_before[AUDIT_TIME_MAX];
        char not_after[AUDIT_TIME_MAX];
        char policy_sha256[65]; /* "" when no policy applies (apply, discard) */
        char purpose[32];
        unsigned char session_key[crypto_sign_PUBLICKEYBYTES];
        unsigned char user_key[crypto_sign_PUBLICKEYBYTES];
        unsigned char signature[crypto_sign_BYTES];
};

/* What a process that parses untrusted bytes may hold: the session's key
 * pair and the certificate the user's key gave it. */
struct audit_session_signer {
        struct audit_key key;
        struct audit_session_cert cert;
};

/* The canonical byte string above: its length, or -ENOSPC (1024 bytes
 * always suffice). */
int audit_session_cert_message(const struct audit_session_cert *cert, char *out, size_t size);

/* Sign `cert` (session_key and the other fields filled) with `user`:
 * fills user_key and signature. */
int audit_session_cert_sign(struct audit_session_cert *cert, const struct audit_key *user);

/* Is the signature the one `cert->user_key` made? */
bool audit_session_cert_signature_valid(const struct audit_session_cert *cert);

/* Does `cert` (signature valid) certify `key` for `session` at `time`
 * (RFC 3339; NULL: any time)? 0, or -EINVAL with the reason in `why`. */
int audit_session_cert_check(const struct audit_session_cert *cert, const char *session,
                             const unsigned char key[crypto_sign_PUBLICKEYBYTES], const char *time,
                             char *why, size_t why_size);

json_t *audit_session_cert_to_json(const struct audit_session_cert *cert);
/* Exactly the fields written above, of the right types; else -EINVAL and
 * the reason in `why`. The signature is not checked here. */
int audit_session_cert_from_json(const json_t *object, struct audit_session_cert *out, char *why,
                                 size_t why_size);

/* Steps 1 to 3 above: load the user's key (created on first use), draw the
 * session key, certify it for `validity_seconds` from now, wipe the user's
 * secret and seal the process against loading it again. */
int audit_session_signer_new(const char *session, const char *policy_sha256, const char *purpose,
                             uint64_t validity_seconds, struct audit_session_signer *out,
                             struct reins_error *err);

/* The same with a user key the caller holds (tests; no sealing). */
int audit_session_signer_from_key(const struct audit_key *user, const char *session,
                                  const char *policy_sha256, const char *purpose,
                                  uint64_t validity_seconds, struct audit_session_signer *out,
                                  struct reins_error *err);

void audit_session_signer_wipe(struct audit_session_signer *signer);

#endif
