/* Session certificates and the chain user key → certificate → checkpoints:
 * a certificate verifies and any changed field breaks it; verify accepts a
 * trail whose checkpoints the certified key signed and rejects one signed
 * by an uncertified key, a certificate for another session, a certificate
 * by another user key, a second certificate; older trails (no certificate)
 * still verify and are said to be older; a sealed process cannot load the
 * user key; anchors catch re-signed, cut and deleted trails. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/anchor.h"
#include "audit/event.h"
#include "audit/keys.h"
#include "audit/session_key.h"
#include "audit/trail.h"
#include "audit/trail_internal.h"
#include "audit/verify.h"

#define SESSION "00112233445566778899aabb"

static struct audit_key user_key, other_user;
static char user_hex[65];
static char tmpdir[] = "/tmp/reins-test-session-key.XXXXXX";
static int counter;

static char *read_all(const char *path, size_t *length)
{
        int fd = open(path, O_RDONLY);
        assert_true(fd >= 0);
        struct stat st;
        fstat(fd, &st);
        char *data = malloc((size_t)st.st_size + 1);
        assert_int_equal(read(fd, data, (size_t)st.st_size), st.st_size);
        close(fd);
        data[st.st_size] = '\0';
        *length = (size_t)st.st_size;
        return data;
}

/* An anchor collecting what the trail's hook sends (a file). */
static char anchor_path[300];

/* A trail of `events` exec events after a session.start carrying `cert`
 * (NULL: none), checkpoints signed with `signing` every `every` records. */
static char *write_trail(const struct audit_key *signing, const struct audit_session_cert *cert,
                         int events, uint64_t every, struct audit_anchor *anchor, size_t *length)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/t%d.jsonl", tmpdir, counter++);
        struct audit_trail *trail = NULL;
        struct reins_error err = {0};
        assert_int_equal(audit_trail_open_with_key(path, signing, &trail, &err), 0);
        audit_trail_set_checkpoint_interval(trail, every);
        if (anchor)
                audit_trail_set_checkpoint_hook(trail, audit_anchor_checkpoint_hook, anchor);
        struct event_bus bus;
        event_bus_init(&bus, SESSION);
        event_bus_add_sink(&bus, audit_trail_sink, trail);
        json_t *start = json_pack("{s:s}", "user", "test");
        if (cert)
                json_object_set_new(start, AUDIT_CERT_FIELD, audit_session_cert_to_json(cert));
        event_emit(&bus, "session.start", start);
        for (int i = 0; i < events; i++)
                event_emit(&bus, "exec", json_pack("{s:i, s:[s]}", "pid", i, "argv", "ls"));
        assert_int_equal(audit_trail_close(trail, &err), 0);
        return read_all(path, length);
}

static void new_signer(const struct audit_key *user, const char *session,
                       struct audit_session_signer *signer)
{
        struct reins_error err = {0};
        assert_int_equal(
            audit_session_signer_from_key(user, session, "ab", "run", 3600, signer, &err), 0);
}

static void test_certificate_round_trip(void **state)
{
        (void)state;
        struct audit_session_signer s;
        new_signer(&user_key, SESSION, &s);
        assert_true(audit_session_cert_signature_valid(&s.cert));
        assert_memory_equal(s.cert.user_key, user_key.public_key, sizeof(s.cert.user_key));
        char why[256];
        assert_int_equal(
            audit_session_cert_check(&s.cert, SESSION, s.key.public_key, NULL, why, sizeof(why)),
            0);
        json_t *json = audit_session_cert_to_json(&s.cert);
        struct audit_session_cert back;
        assert_int_equal(audit_session_cert_from_json(json, &back, why, sizeof(why)), 0);
        assert_memory_equal(&back, &s.cert, sizeof(back));
        /* an extra field, a missing one, another version: refused */
        json_object_set_new(json, "extra", json_true());
        assert_int_equal(audit_session_cert_from_json(json, &back, why, sizeof(why)), -EINVAL);
        json_object_del(json, "extra");
        json_object_set_new(json, "version", json_integer(2));
        assert_int_equal(audit_session_cert_from_json(json, &back, why, sizeof(why)), -EINVAL);
        json_object_del(json, "version");
        assert_int_equal(audit_session_cert_from_json(json, &back, why, sizeof(why)), -EINVAL);
        json_decref(json);
        audit_session_signer_wipe(&s);
}

static void test_every_field_is_signed(void **state)
{
        (void)state;
        struct audit_session_signer s;
        new_signer(&user_key, SESSION, &s);
        struct audit_session_cert c;
        c = s.cert, c.session[0] ^= 1;
        assert_false(audit_session_cert_signature_valid(&c));
        c = s.cert, c.session_key[5] ^= 1;
        assert_false(audit_session_cert_signature_valid(&c));
        c = s.cert, c.not_after[0] = '3';
        assert_false(audit_session_cert_signature_valid(&c));
        c = s.cert, c.not_before[3] ^= 1;
        assert_false(audit_session_cert_signature_valid(&c));
        c = s.cert, c.policy_sha256[0] = 'c';
        assert_false(audit_session_cert_signature_valid(&c));
        c = s.cert, c.purpose[0] = 'x';
        assert_false(audit_session_cert_signature_valid(&c));
        /* another user key claimed: the signature is not its */
        c = s.cert, memcpy(c.user_key, other_user.public_key, sizeof(c.user_key));
        assert_false(audit_session_cert_signature_valid(&c));
        audit_session_signer_wipe(&s);
}

static void test_check_rejects(void **state)
{
        (void)state;
        struct audit_session_signer s, t;
        new_signer(&user_key, SESSION, &s);
        new_signer(&user_key, SESSION, &t);
        char why[256];
        /* a key the certificate does not name */
        assert_int_equal(
            audit_session_cert_check(&s.cert, SESSION, t.key.public_key, NULL, why, sizeof(why)),
            -EINVAL);
        assert_non_null(strstr(why, "no certificate vouches"));
        /* another session */
        assert_int_equal(audit_session_cert_check(&s.cert, "ffffffffffffffffffffffff",
                                                  s.key.public_key, NULL, why, sizeof(why)),
                         -EINVAL);
        assert_non_null(strstr(why, "for session " SESSION));
        /* outside the window */
        assert_int_equal(audit_session_cert_check(&s.cert, SESSION, s.key.public_key,
                                                  "2001-01-01T00:00:00Z", why, sizeof(why)),
                         -EINVAL);
        assert_non_null(strstr(why, "outside"));
        assert_int_equal(audit_session_cert_check(&s.cert, SESSION, s.key.public_key,
                                                  "2999-01-01T00:00:00Z", why, sizeof(why)),
                         -EINVAL);
        audit_session_signer_wipe(&s);
        audit_session_signer_wipe(&t);
}

static void test_chain_verifies(void **state)
{
        (void)state;
        struct audit_session_signer s;
        new_signer(&user_key, SESSION, &s);
        size_t length;
        char *data = write_trail(&s.key, &s.cert, 25, 10, NULL, &length);
        struct audit_verify_result r;
        audit_verify_buffer(data, length, user_hex, &r);
        assert_int_equal(r.verdict, AUDIT_INTACT);
        assert_false(r.legacy);
        assert_int_equal(r.checkpoints, 3);
        assert_string_equal(r.key, user_hex);
        char session_hex[65];
        audit_hex(s.key.public_key, sizeof(s.key.public_key), session_hex);
        assert_string_equal(r.session_key, session_hex);
        free(data);
        audit_session_signer_wipe(&s);
}

static void test_uncertified_key_rejected(void **state)
{
        (void)state;
        struct audit_session_signer s, forger;
        new_signer(&user_key, SESSION, &s);
        new_signer(&other_user, SESSION, &forger);
        size_t length;
        /* the certificate names s's key, the checkpoints are signed by another */
        char *data = write_trail(&forger.key, &s.cert, 5, 100, NULL, &length);
        struct audit_verify_result r;
        audit_verify_buffer(data, length, user_hex, &r);
        assert_int_equal(r.verdict, AUDIT_BAD_CERTIFICATE);
        assert_non_null(strstr(r.message, "no certificate vouches"));
        free(data);
        /* signed by the user key itself next to a certificate: still not certified */
        data = write_trail(&user_key, &s.cert, 5, 100, NULL, &length);
        audit_verify_buffer(data, length, user_hex, &r);
        assert_int_equal(r.verdict, AUDIT_BAD_CERTIFICATE);
        free(data);
        audit_session_signer_wipe(&s);
        audit_session_signer_wipe(&forger);
}

static void test_certificate_for_another_session(void **state)
{
        (void)state;
        struct audit_session_signer s;
        new_signer(&user_key, "ffffffffffffffffffffffff", &s);
        size_t length;
        char *data = write_trail(&s.key, &s.cert, 5, 100, NULL, &length);
        struct audit_verify_result r;
        audit_verify_buffer(data, length, user_hex, &r);
        assert_int_equal(r.verdict, AUDIT_BAD_CERTIFICATE);
        assert_non_null(strstr(r.message, "is for session ffffffffffffffffffffffff"));
        free(data);
        audit_session_signer_wipe(&s);
}

static void test_certificate_for_another_policy(void **state)
{
        (void)state;
        struct audit_session_signer s;
        new_signer(&user_key, SESSION, &s); /* certifies policy "ab" */
        char path[256];
        snprintf(path, sizeof(path), "%s/p%d.jsonl", tmpdir, counter++);
        struct audit_trail *trail = NULL;
        struct reins_error err = {0};
        assert_int_equal(audit_trail_open_with_key(path, &s.key, &trail, &err), 0);
        struct event_bus bus;
        event_bus_init(&bus, SESSION);
        event_bus_add_sink(&bus, audit_trail_sink, trail);
        json_t *start = json_pack("{s:{s:s}}", "policy", "sha256", "cd");
        json_object_set_new(start, AUDIT_CERT_FIELD, audit_session_cert_to_json(&s.cert));
        event_emit(&bus, "session.start", start);
        assert_int_equal(audit_trail_close(trail, &err), 0);
        size_t length;
        char *data = read_all(path, &length);
        struct audit_verify_result r;
        audit_verify_buffer(data, length, user_hex, &r);
        assert_int_equal(r.verdict, AUDIT_BAD_CERTIFICATE);
        assert_non_null(strstr(r.message, "for policy ab"));
        free(data);
        audit_session_signer_wipe(&s);
}

static void test_certificate_by_another_user(void **state)
{
        (void)state;
        struct audit_session_signer s;
        new_signer(&other_user, SESSION, &s);
        size_t length;
        char *data = write_trail(&s.key, &s.cert, 5, 100, NULL, &length);
        struct audit_verify_result r;
        audit_verify_buffer(data, length, user_hex, &r);
        assert_int_equal(r.verdict, AUDIT_UNTRUSTED_KEY);
        /* a forged certificate: the user key is claimed, the signature is not its */
        s.cert.signature[0] ^= 1;
        free(data);
        data = write_trail(&s.key, &s.cert, 5, 100, NULL, &length);
        audit_verify_buffer(data, length, NULL, &r);
        assert_int_equal(r.verdict, AUDIT_BAD_CERTIFICATE);
        assert_non_null(strstr(r.message, "signature is invalid"));
        free(data);
        audit_session_signer_wipe(&s);
}

static void test_legacy_trail_still_verifies(void **state)
{
        (void)state;
        size_t length;
        char *data = write_trail(&user_key, NULL, 5, 100, NULL, &length);
        struct audit_verify_result r;
        audit_verify_buffer(data, length, user_hex, &r);
        assert_int_equal(r.verdict, AUDIT_INTACT);
        assert_true(r.legacy);
        assert_non_null(strstr(r.message, "older trail"));
        free(data);
}

static char *anchor_text(size_t *length)
{
        return read_all(anchor_path, length);
}

static void test_anchor_check(void **state)
{
        (void)state;
        struct reins_error err = {0};
        snprintf(anchor_path, sizeof(anchor_path), "%s/anchor.jsonl", tmpdir);
        struct audit_anchor *anchor = NULL;
        assert_int_equal(audit_anchor_add(&anchor, anchor_path, &err), 0);
        struct audit_session_signer s;
        new_signer(&user_key, SESSION, &s);
        json_t *entry = audit_anchor_cert_entry(&s.cert);
        assert_int_equal(audit_anchor_send(anchor, entry, &err), 0);
        json_decref(entry);
        size_t length, anchor_length;
        char *data = write_trail(&s.key, &s.cert, 25, 10, anchor, &length);
        audit_anchor_free(anchor);
        char *anchored = anchor_text(&anchor_length);
        struct audit_anchor_result r;

        audit_anchor_check(anchored, anchor_length, SESSION, data, length, user_hex, &r);
        assert_int_equal(r.verdict, AUDIT_ANCHOR_MATCH);
        assert_int_equal(r.checkpoints, 3);

        /* deleted */
        audit_anchor_check(anchored, anchor_length, SESSION, NULL, 0, user_hex, &r);
        assert_int_equal(r.verdict, AUDIT_ANCHOR_DELETED);

        /* cut after the first checkpoint: the rest is missing */
        const char *cut = data;
        for (int lines = 0; lines < 12; lines++)
                cut = strchr(cut, '\n') + 1;
        audit_anchor_check(anchored, anchor_length, SESSION, data, (size_t)(cut - data), user_hex,
                           &r);
        assert_int_equal(r.verdict, AUDIT_ANCHOR_TRUNCATED);

        /* re-signed: a fresh certificate by the same user key, fewer records */
        struct audit_session_signer again;
        new_signer(&user_key, SESSION, &again);
        size_t forged_length;
        char *forged = write_trail(&again.key, &again.cert, 24, 10, NULL, &forged_length);
        struct audit_verify_result v;
        audit_verify_buffer(forged, forged_length, user_hex, &v);
        assert_int_equal(v.verdict, AUDIT_INTACT); /* the trail alone cannot tell */
        audit_anchor_check(anchored, anchor_length, SESSION, forged, forged_length, user_hex, &r);
        assert_int_equal(r.verdict, AUDIT_ANCHOR_MISMATCH);
        assert_non_null(strstr(r.message, "re-signed"));
        free(forged);

        /* re-signed the old way: the user key signs checkpoints directly */
        forged = write_trail(&user_key, NULL, 24, 10, NULL, &forged_length);
        audit_anchor_check(anchored, anchor_length, SESSION, forged, forged_length, user_hex, &r);
        assert_int_equal(r.verdict, AUDIT_ANCHOR_MISMATCH);
        free(forged);

        /* nothing anchored for another session */
        audit_anchor_check(anchored, anchor_length, "ffffffffffffffffffffffff", data, length,
                           user_hex, &r);
        assert_int_equal(r.verdict, AUDIT_ANCHOR_NOTHING);
        /* an anchor trusted for another user's key vouches for nothing */
        char other_hex[65];
        audit_hex(other_user.public_key, sizeof(other_user.public_key), other_hex);
        audit_anchor_check(anchored, anchor_length, SESSION, data, length, other_hex, &r);
        assert_int_equal(r.verdict, AUDIT_ANCHOR_NOTHING);
        free(anchored);
        free(data);
        audit_session_signer_wipe(&s);
        audit_session_signer_wipe(&again);
}

/* Last: sealing is for the rest of the process. */
static void test_sealed_process_cannot_load_the_key(void **state)
{
        (void)state;
        char path[256];
        snprintf(path, sizeof(path), "%s/key", tmpdir);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        unsigned char seed[crypto_sign_SEEDBYTES] = {1};
        assert_int_equal(write(fd, seed, sizeof(seed)), (ssize_t)sizeof(seed));
        close(fd);
        struct audit_key key;
        struct reins_error err = {0};
        assert_int_equal(audit_key_load_file(path, &key, &err), 0);
        audit_key_wipe(&key);
        audit_key_seal();
        assert_int_equal(audit_key_load_file(path, &key, &err), -EPERM);
        assert_int_equal(audit_key_load(&key, false, &err), -EPERM);
        unlink(path);
}

static int setup(void **state)
{
        (void)state;
        if (sodium_init() < 0 || !mkdtemp(tmpdir))
                return -1;
        crypto_sign_keypair(user_key.public_key, user_key.secret_key);
        crypto_sign_keypair(other_user.public_key, other_user.secret_key);
        audit_hex(user_key.public_key, sizeof(user_key.public_key), user_hex);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        char command[512];
        snprintf(command, sizeof(command), "rm -rf '%s'", tmpdir);
        return system(command) == 0 ? 0 : -1;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_certificate_round_trip),
            cmocka_unit_test(test_every_field_is_signed),
            cmocka_unit_test(test_check_rejects),
            cmocka_unit_test(test_chain_verifies),
            cmocka_unit_test(test_uncertified_key_rejected),
            cmocka_unit_test(test_certificate_for_another_session),
            cmocka_unit_test(test_certificate_for_another_policy),
            cmocka_unit_test(test_certificate_by_another_user),
            cmocka_unit_test(test_legacy_trail_still_verifies),
            cmocka_unit_test(test_anchor_check),
            cmocka_unit_test(test_sealed_process_cannot_load_the_key),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
