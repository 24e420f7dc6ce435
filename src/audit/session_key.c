#include "audit/session_key.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define AUDIT_CERT_SLACK_S 3600

static void cert_time(time_t when, char out[AUDIT_TIME_MAX])
{
        struct tm tm;
        gmtime_r(&when, &tm);
        strftime(out, AUDIT_TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int audit_session_cert_message(const struct audit_session_cert *c, char *out, size_t size)
{
        char session_key[65], user_key[65];
        audit_hex(c->session_key, sizeof(c->session_key), session_key);
        audit_hex(c->user_key, sizeof(c->user_key), user_key);
        int n =
            snprintf(out, size,
                     AUDIT_CERT_DOMAIN "session=%zu:%s\nsession_key=%s\nuser_key=%s\n"
                                       "not_before=%zu:%s\nnot_after=%zu:%s\n"
                                       "policy_sha256=%zu:%s\npurpose=%zu:%s\n",
                     strlen(c->session), c->session, session_key, user_key, strlen(c->not_before),
                     c->not_before, strlen(c->not_after), c->not_after, strlen(c->policy_sha256),
                     c->policy_sha256, strlen(c->purpose), c->purpose);
        if (n < 0 || (size_t)n >= size)
                return -ENOSPC;
        return n;
}

int audit_session_cert_sign(struct audit_session_cert *c, const struct audit_key *user)
{
        memcpy(c->user_key, user->public_key, sizeof(c->user_key));
        char message[1024];
        int n = audit_session_cert_message(c, message, sizeof(message));
        if (n < 0)
                return n;
        if (crypto_sign_detached(c->signature, NULL, (const unsigned char *)message, (size_t)n,
                                 user->secret_key) != 0)
                return -EIO;
        return 0;
}

bool audit_session_cert_signature_valid(const struct audit_session_cert *c)
{
        char message[1024];
        int n = audit_session_cert_message(c, message, sizeof(message));
        if (n < 0)
                return false;
        return crypto_sign_verify_detached(c->signature, (const unsigned char *)message, (size_t)n,
                                           c->user_key) == 0;
}

int audit_session_cert_check(const struct audit_session_cert *c, const char *session,
                             const unsigned char key[crypto_sign_PUBLICKEYBYTES], const char *time,
                             char *why, size_t why_size)
{
        if (!audit_session_cert_signature_valid(c)) {
                snprintf(why, why_size, "the session certificate's signature is invalid");
                return -EINVAL;
        }
        if (session && strcmp(session, c->session) != 0) {
                snprintf(why, why_size,
                         "the session certificate is for session %.40s, not for session %.40s",
                         c->session, session);
                return -EINVAL;
        }
        if (sodium_memcmp(key, c->session_key, crypto_sign_PUBLICKEYBYTES) != 0) {
                char got[65], certified[65];
                audit_hex(key, crypto_sign_PUBLICKEYBYTES, got);
                audit_hex(c->session_key, sizeof(c->session_key), certified);
                snprintf(why, why_size,
                         "signed by key %.16s..., which no certificate vouches for (the session "
                         "certificate certifies %.16s...)",
                         got, certified);
                return -EINVAL;
        }
        if (time) {
                int64_t at = 0, from = 0, until = 0;
                if (audit_time_parse_ms(time, &at) < 0 ||
                    audit_time_parse_ms(c->not_before, &from) < 0 ||
                    audit_time_parse_ms(c->not_after, &until) < 0) {
                        snprintf(why, why_size, "unreadable time in the certificate or checkpoint");
                        return -EINVAL;
                }
                /* not_before is whole seconds, the checkpoint's time is not */
                if (at < from || at > until) {
                        snprintf(why, why_size,
                                 "signed at %.40s, outside the session certificate's validity "
                                 "(%.40s to %.40s)",
                                 time, c->not_before, c->not_after);
                        return -EINVAL;
                }
        }
        return 0;
}

json_t *audit_session_cert_to_json(const struct audit_session_cert *c)
{
        char session_key[65], user_key[65], signature[2 * crypto_sign_BYTES + 1];
        audit_hex(c->session_key, sizeof(c->session_key), session_key);
        audit_hex(c->user_key, sizeof(c->user_key), user_key);
        audit_hex(c->signature, sizeof(c->signature), signature);
        return json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "version", 1, "session",
                         c->session, "session_key", session_key, "user_key", user_key, "not_before",
                         c->not_before, "not_after", c->not_after, "policy_sha256",
                         c->policy_sha256, "purpose", c->purpose, "signature", signature);
}

static int cert_string(const json_t *object, const char *name, char *out, size_t size, char *why,
                       size_t why_size)
{
        const json_t *value = json_object_get(object, name);
        const char *s = json_string_value(value);
        if (!s || json_string_length(value) >= size || strlen(s) != json_string_length(value)) {
                snprintf(why, why_size, "session certificate field \"%s\" missing or malformed",
                         name);
                return -EINVAL;
        }
        memcpy(out, s, strlen(s) + 1);
        return 0;
}

static int cert_hex(const json_t *object, const char *name, unsigned char *out, size_t length,
                    char *why, size_t why_size)
{
        if (audit_unhex(json_string_value(json_object_get(object, name)), out, length) < 0) {
                snprintf(why, why_size, "session certificate field \"%s\" missing or malformed",
                         name);
                return -EINVAL;
        }
        return 0;
}

int audit_session_cert_from_json(const json_t *object, struct audit_session_cert *out, char *why,
                                 size_t why_size)
{
        static const char *const fields[] = {"version",  "session",       "session_key",
                                             "user_key", "not_before",    "not_after",
                                             "purpose",  "policy_sha256", "signature"};
        memset(out, 0, sizeof(*out));
        if (!json_is_object(object) ||
            json_object_size(object) != sizeof(fields) / sizeof(fields[0])) {
                snprintf(why, why_size, "session certificate has unexpected fields");
                return -EINVAL;
        }
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
                if (!json_object_get(object, fields[i])) {
                        snprintf(why, why_size, "session certificate field \"%s\" missing",
                                 fields[i]);
                        return -EINVAL;
                }
        const json_t *version = json_object_get(object, "version");
        if (!json_is_integer(version) || json_integer_value(version) != 1) {
                snprintf(why, why_size, "session certificate version is not 1");
                return -EINVAL;
        }
        if (cert_string(object, "session", out->session, sizeof(out->session), why, why_size) < 0 ||
            cert_string(object, "not_before", out->not_before, sizeof(out->not_before), why,
                        why_size) < 0 ||
            cert_string(object, "not_after", out->not_after, sizeof(out->not_after), why,
                        why_size) < 0 ||
            cert_string(object, "policy_sha256", out->policy_sha256, sizeof(out->policy_sha256),
                        why, why_size) < 0 ||
            cert_string(object, "purpose", out->purpose, sizeof(out->purpose), why, why_size) < 0 ||
            cert_hex(object, "session_key", out->session_key, sizeof(out->session_key), why,
                     why_size) < 0 ||
            cert_hex(object, "user_key", out->user_key, sizeof(out->user_key), why, why_size) < 0 ||
            cert_hex(object, "signature", out->signature, sizeof(out->signature), why, why_size) <
                0)
                return -EINVAL;
        return 0;
}

int audit_session_signer_from_key(const struct audit_key *user, const char *session,
                                  const char *policy_sha256, const char *purpose,
                                  uint64_t validity_seconds, struct audit_session_signer *out,
                                  struct reins_error *err)
{
        if (sodium_init() < 0)
                return reins_error_set(err, EIO, "libsodium failed to initialise");
        memset(out, 0, sizeof(*out));
        struct audit_session_cert *c = &out->cert;
        if (strlen(session) >= sizeof(c->session) ||
            (policy_sha256 && strlen(policy_sha256) >= sizeof(c->policy_sha256)) ||
            strlen(purpose) >= sizeof(c->purpose))
                return reins_error_set(err, EINVAL, "session certificate: a field is too long");
        crypto_sign_keypair(out->key.public_key, out->key.secret_key);
        memcpy(c->session_key, out->key.public_key, sizeof(c->session_key));
        snprintf(c->session, sizeof(c->session), "%s", session);
        snprintf(c->policy_sha256, sizeof(c->policy_sha256), "%s",
                 policy_sha256 ? policy_sha256 : "");
        snprintf(c->purpose, sizeof(c->purpose), "%s", purpose);
        time_t now = time(NULL);
        /* an hour of slack before: a clock stepped back by NTP during the
         * session must not put its checkpoints outside the window */
        cert_time(now - AUDIT_CERT_SLACK_S, c->not_before);
        cert_time(now + (time_t)validity_seconds, c->not_after);
        if (audit_session_cert_sign(c, user) < 0) {
                audit_session_signer_wipe(out);
                return reins_error_set(err, EIO, "signing the session certificate failed");
        }
        return 0;
}

int audit_session_signer_new(const char *session, const char *policy_sha256, const char *purpose,
                             uint64_t validity_seconds, struct audit_session_signer *out,
                             struct reins_error *err)
{
        struct audit_key user;
        int r = audit_key_load(&user, true, err);
        if (r < 0)
                return r;
        r = audit_session_signer_from_key(&user, session, policy_sha256, purpose, validity_seconds,
                                          out, err);
        /* from here on this process holds no long-term secret and cannot
         * load it again: whatever it parses next cannot reach the key */
        audit_key_wipe(&user);
        audit_key_seal();
        return r;
}

void audit_session_signer_wipe(struct audit_session_signer *signer)
{
        sodium_memzero(signer, sizeof(*signer));
}
