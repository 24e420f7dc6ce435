/* Approvals: the pending queue, answers, timeouts, grants and their scope
 * and deadlines, the agent's rate limit; signed answers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "govern/answer_sign.h"
#include "govern/approvals.h"

static struct approvals *fresh(int64_t timeout_ms, bool default_allow)
{
        struct approvals *a = approvals_new("0123456789abcdef01234567", timeout_ms, default_allow);
        assert_non_null(a);
        return a;
}

static void ask_dest(struct approvals *a, const char *host, uint16_t port, uint64_t connection,
                     int64_t now, struct approval_request *out)
{
        assert_int_equal(approvals_ask(a, APPROVAL_DEST, APPROVAL_FROM_PROXY, host, port,
                                       "network.ask: x", "", connection, now, out),
                         0);
}

static void test_ids_and_pending(void **state)
{
        (void)state;
        struct approvals *a = fresh(1000, false);
        struct approval_request r1, r2;
        ask_dest(a, "a.test", 443, 7, 0, &r1);
        ask_dest(a, "b.test", 80, 8, 0, &r2);
        assert_string_equal(r1.id, "01234567-1");
        assert_string_equal(r2.id, "01234567-2");
        assert_int_equal(approvals_pending_count(a), 2);
        json_t *list = approvals_pending_json(a, 250);
        assert_int_equal(json_array_size(list), 2);
        json_t *first = json_array_get(list, 0);
        assert_string_equal(json_string_value(json_object_get(first, "target")), "a.test");
        assert_int_equal(json_integer_value(json_object_get(first, "port")), 443);
        assert_int_equal(json_integer_value(json_object_get(first, "expires_in_ms")), 750);
        json_decref(list);
        approvals_free(a);
}

static void test_answer_once_grants_nothing(void **state)
{
        (void)state;
        struct approvals *a = fresh(1000, false);
        struct approval_request r;
        struct approval_answer answer;
        ask_dest(a, "a.test", 443, 1, 0, &r);
        assert_int_equal(approvals_answer(a, r.id, true, -1, APPROVAL_SCOPE_EXACT, 10, &answer), 0);
        assert_int_equal(answer.request.state, APPROVAL_ALLOWED);
        assert_true(answer.once);
        assert_int_equal(answer.request.connection, 1);
        assert_false(approvals_granted(a, "a.test", 443, 20, NULL));
        /* answered once only */
        assert_int_equal(approvals_answer(a, r.id, true, -1, APPROVAL_SCOPE_EXACT, 10, NULL),
                         -ENOENT);
        approvals_free(a);
}

static void test_grant_scopes_and_deadline(void **state)
{
        (void)state;
        struct approvals *a = fresh(1000, false);
        struct approval_request r;
        ask_dest(a, "api.example.test", 443, 1, 0, &r);
        assert_int_equal(approvals_answer(a, r.id, true, 5000, APPROVAL_SCOPE_DOMAIN, 100, NULL),
                         0);
        int64_t until = 0;
        assert_true(approvals_granted(a, "api.example.test", 443, 200, &until));
        assert_int_equal(until, 5100);
        assert_true(approvals_granted(a, "example.test", 443, 200, NULL));
        assert_true(approvals_granted(a, "cdn.example.test", 443, 200, NULL));
        assert_false(approvals_granted(a, "badexample.test", 443, 200, NULL));
        assert_false(approvals_granted(a, "cdn.example.test", 80, 200, NULL));   /* port kept */
        assert_false(approvals_granted(a, "api.example.test", 443, 5100, NULL)); /* lapsed */
        char target[64];
        uint16_t port = 0;
        bool domain = false;
        assert_true(approvals_lapse_one(a, 5100, target, sizeof(target), &port, &domain));
        assert_string_equal(target, "example.test");
        assert_true(domain);
        assert_int_equal(port, 443);
        assert_false(approvals_lapse_one(a, 5100, target, sizeof(target), &port, &domain));

        /* a two-label host is never widened to its top-level domain */
        ask_dest(a, "example.test", 443, 2, 0, &r);
        assert_int_equal(approvals_answer(a, r.id, true, 0, APPROVAL_SCOPE_DOMAIN, 0, NULL), 0);
        assert_true(approvals_granted(a, "www.example.test", 443, 1 << 30, NULL));
        assert_false(approvals_granted(a, "other.test", 443, 0, NULL));

        /* exact: only that name */
        ask_dest(a, "x.other.test", 443, 3, 0, &r);
        assert_int_equal(approvals_answer(a, r.id, true, 0, APPROVAL_SCOPE_EXACT, 0, NULL), 0);
        assert_true(approvals_granted(a, "x.other.test", 443, 0, NULL));
        assert_false(approvals_granted(a, "y.other.test", 443, 0, NULL));
        approvals_free(a);
}

/* Found by fuzzing (tests/fuzz/fuzz_control.c): the duration of a grant is
 * a JSON integer of the signed answer; now + for_ms overflowed int64 (UB),
 * and the wrapped deadline lay in the past. A grant too long to end ends
 * never, like one for the session. */
static void test_grant_duration_saturates(void **state)
{
        (void)state;
        struct approvals *a = fresh(1000, false);
        struct approval_request r;
        struct approval_answer answer;
        ask_dest(a, "a.test", 443, 1, 1000, &r);
        assert_int_equal(
            approvals_answer(a, r.id, true, INT64_MAX, APPROVAL_SCOPE_EXACT, 1000, &answer), 0);
        assert_true(answer.grant_until_ms == INT64_MAX);
        assert_true(approvals_granted(a, "a.test", 443, 2000, NULL));
        approvals_free(a);
}

static void test_deny_and_timeout(void **state)
{
        (void)state;
        struct approvals *a = fresh(1000, false);
        struct approval_request r;
        struct approval_answer answer;
        ask_dest(a, "a.test", 443, 1, 0, &r);
        assert_int_equal(approvals_answer(a, r.id, false, 0, APPROVAL_SCOPE_EXACT, 1, &answer), 0);
        assert_int_equal(answer.request.state, APPROVAL_DENIED);
        assert_false(approvals_granted(a, "a.test", 443, 2, NULL));

        ask_dest(a, "b.test", 443, 2, 0, &r);
        assert_false(approvals_expire_one(a, 999, &answer));
        assert_true(approvals_expire_one(a, 1000, &answer));
        assert_true(answer.timed_out);
        assert_int_equal(answer.request.state, APPROVAL_DENIED);
        assert_int_equal(approvals_pending_count(a), 0);
        approvals_free(a);

        /* `default: allow` answers silence with yes, for that request only */
        a = fresh(10, true);
        ask_dest(a, "c.test", 443, 3, 0, &r);
        assert_true(approvals_expire_one(a, 10, &answer));
        assert_int_equal(answer.request.state, APPROVAL_ALLOWED);
        assert_false(approvals_granted(a, "c.test", 443, 11, NULL));
        approvals_free(a);
}

static void test_bounded_queue_and_withdrawal(void **state)
{
        (void)state;
        struct approvals *a = fresh(1000, false);
        for (int i = 0; i < APPROVALS_MAX_PENDING; i++)
                ask_dest(a, "a.test", 443, (uint64_t)i + 1, 0, NULL);
        assert_int_equal(approvals_ask(a, APPROVAL_DEST, APPROVAL_FROM_PROXY, "b.test", 443, "", "",
                                       99, 0, NULL),
                         -EBUSY);
        struct approval_request gone;
        assert_true(approvals_forget_connection(a, 5, &gone));
        assert_int_equal(gone.connection, 5);
        assert_false(approvals_forget_connection(a, 5, NULL));
        assert_false(approvals_forget_connection(a, 0, NULL)); /* agent requests have none */
        assert_int_equal(approvals_pending_count(a), APPROVALS_MAX_PENDING - 1);
        approvals_free(a);
}

static void test_agent_once_covers_its_next_connection(void **state)
{
        (void)state;
        struct approvals *a = fresh(60000, false);
        int64_t now = 1000;
        struct approval_request r;
        assert_int_equal(approvals_ask(a, APPROVAL_DEST, APPROVAL_FROM_AGENT, "api.test", 443,
                                       "agent request", "to fetch docs", 0, now, &r),
                         0);
        struct approval_answer answer;
        assert_int_equal(approvals_answer(a, r.id, true, -1, APPROVAL_SCOPE_EXACT, now, &answer),
                         0);
        assert_true(answer.once);
        /* the next connection there is allowed, once */
        assert_true(approvals_granted(a, "api.test", 443, now + 10, NULL));
        assert_false(approvals_granted(a, "api.test", 444, now + 10, NULL));
        assert_false(approvals_granted(a, "other.api.test", 443, now + 10, NULL));
        assert_true(approvals_use_grant(a, "api.test", 443, now + 10));
        assert_false(approvals_granted(a, "api.test", 443, now + 20, NULL));
        /* unused, it lapses */
        assert_int_equal(approvals_ask(a, APPROVAL_DEST, APPROVAL_FROM_AGENT, "api.test", 443, "",
                                       "", 0, now, &r),
                         0);
        assert_int_equal(approvals_answer(a, r.id, true, -1, APPROVAL_SCOPE_EXACT, now, NULL), 0);
        assert_false(approvals_granted(a, "api.test", 443, now + APPROVALS_ONCE_MS, NULL));
        /* a grant for the session is not used up */
        assert_int_equal(
            approvals_ask(a, APPROVAL_DEST, APPROVAL_FROM_AGENT, "b.test", 443, "", "", 0, now, &r),
            0);
        assert_int_equal(approvals_answer(a, r.id, true, 0, APPROVAL_SCOPE_EXACT, now, NULL), 0);
        assert_true(approvals_use_grant(a, "b.test", 443, now));
        assert_true(approvals_use_grant(a, "b.test", 443, now));
        approvals_free(a);
}

static void test_agent_rate_limit(void **state)
{
        (void)state;
        struct approvals *a = fresh(60000, false);
        int64_t now = 1000;
        for (int i = 0; i < APPROVALS_AGENT_BURST; i++)
                assert_int_equal(approvals_ask(a, APPROVAL_PATH, APPROVAL_FROM_AGENT, "docs/a", 0,
                                               "agent request", "why", 0, now, NULL),
                                 0);
        assert_int_equal(
            approvals_ask(a, APPROVAL_PATH, APPROVAL_FROM_AGENT, "docs/a", 0, "", "", 0, now, NULL),
            -EAGAIN);
        /* the proxy's own requests are not the agent's to spend */
        ask_dest(a, "a.test", 443, 1, now, NULL);
        /* one more after an interval */
        now += APPROVALS_AGENT_INTERVAL_MS;
        assert_int_equal(
            approvals_ask(a, APPROVAL_PATH, APPROVAL_FROM_AGENT, "docs/b", 0, "", "", 0, now, NULL),
            0);
        assert_int_equal(
            approvals_ask(a, APPROVAL_PATH, APPROVAL_FROM_AGENT, "docs/c", 0, "", "", 0, now, NULL),
            -EAGAIN);
        struct approval_request r;
        assert_int_equal(approvals_ask(a, APPROVAL_PATH, APPROVAL_FROM_AGENT, "docs/d", 0, "", "",
                                       0, now + 10 * APPROVALS_AGENT_INTERVAL_MS, &r),
                         0);
        assert_int_equal(approvals_answer(a, r.id, true, 0, APPROVAL_SCOPE_EXACT, now, NULL), 0);
        assert_true(approvals_path_granted(a, "docs/d", now));
        assert_false(approvals_path_granted(a, "docs/e", now));
        approvals_free(a);
}

static void test_scope_names(void **state)
{
        (void)state;
        enum approval_scope s;
        assert_int_equal(approval_scope_parse("domain", &s), 0);
        assert_int_equal(s, APPROVAL_SCOPE_DOMAIN);
        assert_string_equal(approval_scope_name(s), "domain");
        assert_int_equal(approval_scope_parse("exact", &s), 0);
        assert_int_equal(approval_scope_parse("all", &s), -EINVAL);
}

/* ---- signed answers */

/* An answer through a daemon (reins serve): signed by the daemon's key, which
 * the session takes besides its user's, only with an approver named; any
 * other key is refused, and the approver is under the signature. */
static void test_answer_signed_by_the_daemon(void **state)
{
        (void)state;
        struct audit_key user, daemon, other;
        crypto_sign_keypair(user.public_key, user.secret_key);
        crypto_sign_keypair(daemon.public_key, daemon.secret_key);
        crypto_sign_keypair(other.public_key, other.secret_key);
        struct answer_signers keys = {.user = user.public_key, .daemon = daemon.public_key};
        struct reins_error err = {0};
        enum answer_signer by;
        char signature[ANSWER_SIGNATURE_HEX + 1];
        json_t *payload = answer_payload("sess", "r1", true, -1, "exact", 1000);
        json_object_set_new(payload, "approver", answer_approver(1001, "ci"));
        assert_int_equal(answer_sign(&daemon, payload, signature, &err), 0);
        assert_int_equal(answer_verify_signers(&keys, payload, signature, 1000, &by, &err), 0);
        assert_int_equal(by, ANSWER_SIGNER_DAEMON);
        /* the user's key alone (a session the daemon did not start) */
        struct answer_signers user_only = {.user = user.public_key};
        assert_int_equal(answer_verify_signers(&user_only, payload, signature, 1000, &by, &err),
                         -EPERM);
        /* another approver than the one signed for */
        json_object_set_new(payload, "approver", answer_approver(0, NULL));
        assert_int_equal(answer_verify_signers(&keys, payload, signature, 1000, &by, &err), -EPERM);
        /* a wrong key */
        assert_int_equal(answer_sign(&other, payload, signature, &err), 0);
        assert_int_equal(answer_verify_signers(&keys, payload, signature, 1000, &by, &err), -EPERM);
        assert_non_null(strstr(err.message, "nor by the key of the daemon"));
        /* the user's signature, with or without an approver */
        assert_int_equal(answer_sign(&user, payload, signature, &err), 0);
        assert_int_equal(answer_verify_signers(&keys, payload, signature, 1000, &by, &err), 0);
        assert_int_equal(by, ANSWER_SIGNER_USER);
        json_object_del(payload, "approver");
        assert_int_equal(answer_sign(&user, payload, signature, &err), 0);
        assert_int_equal(answer_verify_signers(&keys, payload, signature, 1000, &by, &err), 0);
        /* the daemon's without an approver */
        assert_int_equal(answer_sign(&daemon, payload, signature, &err), 0);
        assert_int_equal(answer_verify_signers(&keys, payload, signature, 1000, &by, &err), -EPERM);
        assert_non_null(strstr(err.message, "without naming who asked"));
        /* a malformed approver */
        json_object_set_new(payload, "approver",
                            json_pack("{s:I, s:s}", "uid", 1, "token", "bad name\x1b"));
        assert_int_equal(answer_sign(&daemon, payload, signature, &err), 0);
        assert_int_equal(answer_verify_signers(&keys, payload, signature, 1000, &by, &err),
                         -EINVAL);
        json_object_set_new(payload, "approver", json_pack("{s:I, s:I}", "uid", 1, "pid", 2));
        assert_int_equal(answer_verify_signers(&keys, payload, signature, 1000, &by, &err),
                         -EINVAL);
        json_decref(payload);
        /* a thaw the same way */
        payload = control_op_payload("thaw", "sess", "n1", 1000);
        json_object_set_new(payload, "approver", answer_approver(7, NULL));
        assert_int_equal(control_op_sign(&daemon, payload, signature, &err), 0);
        assert_int_equal(control_op_verify_signers(&keys, payload, signature, "thaw", "sess", "n1",
                                                   1000, &by, &err),
                         0);
        assert_int_equal(by, ANSWER_SIGNER_DAEMON);
        assert_int_equal(control_op_verify(user.public_key, payload, signature, "thaw", "sess",
                                           "n1", 1000, &err),
                         -EPERM);
        json_decref(payload);
}

/* A signed control operation (reins thaw): bound to its op, session and the
 * nonce the session handed out; under its own domain, so neither an answer
 * nor anything else the user key signs passes for one. */
static void test_control_op_signature(void **state)
{
        (void)state;
        struct audit_key key, other;
        crypto_sign_keypair(key.public_key, key.secret_key);
        crypto_sign_keypair(other.public_key, other.secret_key);
        struct reins_error err = {0};
        char signature[ANSWER_SIGNATURE_HEX + 1];
        json_t *payload = control_op_payload("thaw", "sess", "n1", 1000);
        assert_int_equal(control_op_sign(&key, payload, signature, &err), 0);
        assert_int_equal(
            control_op_verify(key.public_key, payload, signature, "thaw", "sess", "n1", 1000, &err),
            0);
        /* another key, session, op or nonce; a used (empty) nonce */
        assert_int_equal(control_op_verify(other.public_key, payload, signature, "thaw", "sess",
                                           "n1", 1000, &err),
                         -EPERM);
        assert_int_equal(control_op_verify(key.public_key, payload, signature, "thaw", "other",
                                           "n1", 1000, &err),
                         -EPERM);
        assert_int_equal(
            control_op_verify(key.public_key, payload, signature, "stop", "sess", "n1", 1000, &err),
            -EPERM);
        assert_int_equal(
            control_op_verify(key.public_key, payload, signature, "thaw", "sess", "n2", 1000, &err),
            -EPERM);
        assert_int_equal(
            control_op_verify(key.public_key, payload, signature, "thaw", "sess", "", 1000, &err),
            -EPERM);
        /* stale */
        assert_int_equal(control_op_verify(key.public_key, payload, signature, "thaw", "sess", "n1",
                                           1000 + ANSWER_MAX_SKEW_S + 1, &err),
                         -EPERM);
        /* an extra field */
        json_object_set_new(payload, "tier", json_integer(0));
        assert_int_equal(
            control_op_verify(key.public_key, payload, signature, "thaw", "sess", "n1", 1000, &err),
            -EINVAL);
        json_decref(payload);
        /* the same bytes signed as an approval answer do not verify */
        payload = control_op_payload("thaw", "sess", "n1", 1000);
        assert_int_equal(answer_sign(&key, payload, signature, &err), 0);
        assert_int_equal(
            control_op_verify(key.public_key, payload, signature, "thaw", "sess", "n1", 1000, &err),
            -EPERM);
        json_decref(payload);
}

static void test_answer_signature(void **state)
{
        (void)state;
        struct audit_key key, other;
        crypto_sign_keypair(key.public_key, key.secret_key);
        crypto_sign_keypair(other.public_key, other.secret_key);
        json_t *payload = answer_payload("sess", "sess-1", true, 60000, "exact", 1000);
        char signature[ANSWER_SIGNATURE_HEX + 1];
        struct reins_error err = {0};
        assert_int_equal(answer_sign(&key, payload, signature, &err), 0);
        assert_int_equal(answer_verify(key.public_key, payload, signature, 1000, &err), 0);
        /* another key */
        assert_int_equal(answer_verify(other.public_key, payload, signature, 1000, &err), -EPERM);
        /* a changed decision */
        json_object_set_new(payload, "decision", json_string("deny"));
        assert_int_equal(answer_verify(key.public_key, payload, signature, 1000, &err), -EPERM);
        json_object_set_new(payload, "decision", json_string("allow"));
        assert_int_equal(answer_verify(key.public_key, payload, signature, 1000, &err), 0);
        /* stale or from the future */
        assert_int_equal(
            answer_verify(key.public_key, payload, signature, 1000 + ANSWER_MAX_SKEW_S + 1, &err),
            -EPERM);
        assert_int_equal(
            answer_verify(key.public_key, payload, signature, 1000 - ANSWER_MAX_SKEW_S - 1, &err),
            -EPERM);
        /* an extra field, a bad signature text */
        json_object_set_new(payload, "extra", json_true());
        assert_int_equal(answer_verify(key.public_key, payload, signature, 1000, &err), -EINVAL);
        json_object_del(payload, "extra");
        assert_int_equal(answer_verify(key.public_key, payload, "00", 1000, &err), -EINVAL);
        /* not valid as a token signature over the same bytes: the domain differs */
        char *text = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        unsigned char raw[crypto_sign_BYTES];
        assert_int_equal(audit_unhex(signature, raw, sizeof(raw)), 0);
        assert_int_not_equal(crypto_sign_verify_detached(raw, (const unsigned char *)text,
                                                         strlen(text), key.public_key),
                             0);
        free(text);
        json_decref(payload);
}

/* What the session's timer is armed for: the earliest request deadline or
 * grant end, and nothing at all while nothing waits or lapses. */
static void test_next_deadline(void **state)
{
        (void)state;
        struct approvals *a = fresh(1000, false);
        assert_true(approvals_next_deadline_ms(a) == INT64_MAX);
        struct approval_request r1, r2;
        ask_dest(a, "a.test", 443, 1, 100, &r1);
        ask_dest(a, "b.test", 443, 2, 300, &r2);
        assert_true(approvals_next_deadline_ms(a) == 1100);
        /* the first answered with a 5 s grant: the second's deadline, then the grant's end */
        assert_int_equal(approvals_answer(a, r1.id, true, 5000, APPROVAL_SCOPE_EXACT, 200, NULL),
                         0);
        assert_true(approvals_next_deadline_ms(a) == 1300);
        assert_int_equal(approvals_answer(a, r2.id, false, -1, APPROVAL_SCOPE_EXACT, 250, NULL), 0);
        assert_true(approvals_next_deadline_ms(a) == 5200);
        char target[APPROVALS_HOST_MAX];
        uint16_t port;
        bool domain;
        assert_true(approvals_lapse_one(a, 5200, target, sizeof(target), &port, &domain));
        assert_true(approvals_next_deadline_ms(a) == INT64_MAX);
        /* a grant for the session never lapses: nothing to wake up for */
        struct approval_request r3;
        ask_dest(a, "c.test", 443, 3, 6000, &r3);
        assert_int_equal(approvals_answer(a, r3.id, true, 0, APPROVAL_SCOPE_EXACT, 6001, NULL), 0);
        assert_true(approvals_next_deadline_ms(a) == INT64_MAX);
        approvals_free(a);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_ids_and_pending),
            cmocka_unit_test(test_answer_once_grants_nothing),
            cmocka_unit_test(test_grant_scopes_and_deadline),
            cmocka_unit_test(test_grant_duration_saturates),
            cmocka_unit_test(test_deny_and_timeout),
            cmocka_unit_test(test_bounded_queue_and_withdrawal),
            cmocka_unit_test(test_agent_rate_limit),
            cmocka_unit_test(test_agent_once_covers_its_next_connection),
            cmocka_unit_test(test_scope_names),
            cmocka_unit_test(test_answer_signature),
            cmocka_unit_test(test_answer_signed_by_the_daemon),
            cmocka_unit_test(test_control_op_signature),
            cmocka_unit_test(test_next_deadline),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
