/* Signed approval answers (answer_sign.h). */
#include "govern/answer_sign.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

json_t *answer_payload(const char *session, const char *id, bool allow, int64_t for_ms,
                       const char *scope, int64_t unix_time)
{
        return json_pack("{s:s, s:I, s:s, s:s, s:s, s:I}", "decision", allow ? "allow" : "deny",
                         "for_ms", (json_int_t)for_ms, "id", id, "scope", scope, "session", session,
                         "time", (json_int_t)unix_time);
}

/* DOMAIN "\0" || canonical payload; malloc'd, *len set. */
static unsigned char *signed_message(const char *domain_string, const json_t *payload, size_t *len)
{
        char *text = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        if (!text)
                return NULL;
        size_t domain = strlen(domain_string) + 1; /* with its NUL */
        size_t n = strlen(text);
        unsigned char *message = malloc(domain + n);
        if (message) {
                memcpy(message, domain_string, domain);
                memcpy(message + domain, text, n);
                *len = domain + n;
        }
        free(text);
        return message;
}

static int sign_payload(const char *domain, const struct audit_key *key, const json_t *payload,
                        char signature_hex[ANSWER_SIGNATURE_HEX + 1], struct reins_error *err)
{
        size_t len = 0;
        unsigned char *message = signed_message(domain, payload, &len);
        if (!message)
                return reins_error_set(err, ENOMEM, "out of memory");
        unsigned char signature[crypto_sign_BYTES];
        crypto_sign_detached(signature, NULL, message, len, key->secret_key);
        free(message);
        audit_hex(signature, sizeof(signature), signature_hex);
        return 0;
}

int answer_sign(const struct audit_key *key, const json_t *payload,
                char signature_hex[ANSWER_SIGNATURE_HEX + 1], struct reins_error *err)
{
        return sign_payload(ANSWER_DOMAIN, key, payload, signature_hex, err);
}

/* 0 when `signature_hex` is a signature of DOMAIN || payload by one of
 * `keys` (*by: which); the user's is tried first. */
static int verify_payload_signers(const char *domain, const struct answer_signers *keys,
                                  const json_t *payload, const char *signature_hex,
                                  const char *what, enum answer_signer *by, struct reins_error *err)
{
        unsigned char signature[crypto_sign_BYTES];
        if (!signature_hex || strlen(signature_hex) != ANSWER_SIGNATURE_HEX ||
            audit_unhex(signature_hex, signature, sizeof(signature)) < 0)
                return reins_error_set(err, EINVAL, "malformed %s signature", what);
        size_t len = 0;
        unsigned char *message = signed_message(domain, payload, &len);
        if (!message)
                return reins_error_set(err, ENOMEM, "out of memory");
        bool user =
            keys->user && crypto_sign_verify_detached(signature, message, len, keys->user) == 0;
        bool daemon = !user && keys->daemon &&
                      crypto_sign_verify_detached(signature, message, len, keys->daemon) == 0;
        free(message);
        if (!user && !daemon)
                return reins_error_set(err, EPERM,
                                       keys->daemon ? "%s refused: signed neither by the "
                                                      "session's user key nor by the key of the "
                                                      "daemon that started it"
                                                    : "%s refused: not signed by the session's "
                                                      "user key",
                                       what);
        *by = user ? ANSWER_SIGNER_USER : ANSWER_SIGNER_DAEMON;
        /* the daemon signs for whoever its roles let answer: the trail must
         * say who that was */
        if (daemon && !json_object_get(payload, "approver"))
                return reins_error_set(err, EPERM,
                                       "%s refused: signed by the daemon without naming who "
                                       "asked it",
                                       what);
        return 0;
}

static int verify_payload(const char *domain, const unsigned char public_key[],
                          const json_t *payload, const char *signature_hex, const char *what,
                          struct reins_error *err)
{
        struct answer_signers keys = {.user = public_key};
        enum answer_signer by;
        return verify_payload_signers(domain, &keys, payload, signature_hex, what, &by, err);
}

json_t *answer_approver(int64_t uid, const char *token)
{
        return json_pack("{s:I, s:s*}", "uid", (json_int_t)uid, "token", token);
}

/* "approver": {"uid": 0..2^32-2[, "token": [A-Za-z0-9._-]{1,64}]}; the
 * signature covers it, but it reaches the trail and the people reading
 * it, so its shape is checked all the same. */
static bool approver_valid(const json_t *approver)
{
        json_t *uid = json_object_get(approver, "uid");
        json_t *token = json_object_get(approver, "token");
        size_t keys = token ? 2 : 1;
        if (!json_is_object(approver) || json_object_size(approver) != keys ||
            !json_is_integer(uid) || json_integer_value(uid) < 0 ||
            json_integer_value(uid) >= 0xffffffffLL)
                return false;
        if (!token)
                return true;
        const char *name = json_string_value(token);
        size_t n = name ? strlen(name) : 0;
        return n > 0 && n <= 64 &&
               strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
                   n;
}

/* A payload of `base` keys, or `base` + 1 with a well-formed approver. */
static bool payload_size_valid(const json_t *payload, size_t base)
{
        json_t *approver = json_object_get(payload, "approver");
        return json_object_size(payload) == (approver ? base + 1 : base) &&
               (!approver || approver_valid(approver));
}

static int answer_check_shape(const json_t *payload, int64_t now, struct reins_error *err)
{
        const char *decision = json_string_value(json_object_get(payload, "decision"));
        const char *scope = json_string_value(json_object_get(payload, "scope"));
        json_t *time = json_object_get(payload, "time");
        if (!json_is_object(payload) || !payload_size_valid(payload, 6) || !decision ||
            (strcmp(decision, "allow") && strcmp(decision, "deny")) || !scope ||
            !json_is_string(json_object_get(payload, "id")) ||
            !json_is_string(json_object_get(payload, "session")) ||
            !json_is_integer(json_object_get(payload, "for_ms")) || !json_is_integer(time))
                return reins_error_set(err, EINVAL, "malformed answer");
        int64_t t = json_integer_value(time);
        if (t < now - ANSWER_MAX_SKEW_S || t > now + ANSWER_MAX_SKEW_S)
                return reins_error_set(err, EPERM,
                                       "answer refused: its time is more than %d s from the "
                                       "supervisor's clock",
                                       ANSWER_MAX_SKEW_S);
        return 0;
}

int answer_verify(const unsigned char public_key[crypto_sign_PUBLICKEYBYTES], const json_t *payload,
                  const char *signature_hex, int64_t now, struct reins_error *err)
{
        int r = answer_check_shape(payload, now, err);
        if (r < 0)
                return r;
        return verify_payload(ANSWER_DOMAIN, public_key, payload, signature_hex, "answer", err);
}

int answer_verify_signers(const struct answer_signers *keys, const json_t *payload,
                          const char *signature_hex, int64_t now, enum answer_signer *by,
                          struct reins_error *err)
{
        int r = answer_check_shape(payload, now, err);
        if (r < 0)
                return r;
        return verify_payload_signers(ANSWER_DOMAIN, keys, payload, signature_hex, "answer", by,
                                      err);
}

/* ---- signed control operations ------------------------------------------ */

json_t *control_op_payload(const char *op, const char *session, const char *nonce,
                           int64_t unix_time)
{
        return json_pack("{s:s, s:s, s:s, s:I}", "nonce", nonce, "op", op, "session", session,
                         "time", (json_int_t)unix_time);
}

int control_op_sign(const struct audit_key *key, const json_t *payload,
                    char signature_hex[ANSWER_SIGNATURE_HEX + 1], struct reins_error *err)
{
        return sign_payload(CONTROL_OP_DOMAIN, key, payload, signature_hex, err);
}

int control_op_verify(const unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                      const json_t *payload, const char *signature_hex, const char *op,
                      const char *session, const char *nonce, int64_t now, struct reins_error *err)
{
        struct answer_signers keys = {.user = public_key};
        enum answer_signer by;
        return control_op_verify_signers(&keys, payload, signature_hex, op, session, nonce, now,
                                         &by, err);
}

int control_op_verify_signers(const struct answer_signers *keys, const json_t *payload,
                              const char *signature_hex, const char *op, const char *session,
                              const char *nonce, int64_t now, enum answer_signer *by,
                              struct reins_error *err)
{
        const char *p_op = json_string_value(json_object_get(payload, "op"));
        const char *p_session = json_string_value(json_object_get(payload, "session"));
        const char *p_nonce = json_string_value(json_object_get(payload, "nonce"));
        json_t *time = json_object_get(payload, "time");
        if (!json_is_object(payload) || !payload_size_valid(payload, 4) || !p_op || !p_session ||
            !p_nonce || !json_is_integer(time))
                return reins_error_set(err, EINVAL, "malformed signed %s", op);
        if (strcmp(p_op, op) != 0 || strcmp(p_session, session) != 0)
                return reins_error_set(err, EPERM,
                                       "%s refused: signed for another operation or "
                                       "session",
                                       op);
        /* the nonce this connection was given, used once: a recorded
         * request cannot be played again (the trail keeps every one) */
        if (!nonce || !nonce[0] || strcmp(p_nonce, nonce) != 0)
                return reins_error_set(err, EPERM, "%s refused: stale or unknown nonce", op);
        int64_t t = json_integer_value(time);
        if (t < now - ANSWER_MAX_SKEW_S || t > now + ANSWER_MAX_SKEW_S)
                return reins_error_set(err, EPERM,
                                       "%s refused: its time is more than %d s from the "
                                       "supervisor's clock",
                                       op, ANSWER_MAX_SKEW_S);
        return verify_payload_signers(CONTROL_OP_DOMAIN, keys, payload, signature_hex, op, by, err);
}
