/* Credential injection's pure part (net/inject.h): the head rewrite sets
 * the credential only for its host, port and path prefix, strips what the
 * agent sent in its header, refuses a placeholder bound elsewhere, and the
 * body framing finds where a request ends. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/http.h"
#include "net/inject.h"

#define PH_API "reins-cred-api-0123456789abcdef0123456789abcdef"
#define PH_GH  "reins-cred-gh-fedcba9876543210fedcba9876543210"
#define PH_Q   "reins-cred-q-00000000000000000000000000000000"

static void setup_inject(struct net_inject *in)
{
        memset(in, 0, sizeof(*in));
        struct reins_error err = {0};
        const char *api_hosts[] = {"api.example.com", "api.example.com:8443/v1/"};
        assert_int_equal(net_inject_add(in, "api", PH_API, "sk-SECRET", 9, api_hosts, 2,
                                        NET_INJECT_HEADER, "x-api-key", false, 0, &err),
                         0);
        const char *gh_hosts[] = {"*.github.com/repos"};
        assert_int_equal(net_inject_add(in, "gh", PH_GH, "ghp_TOKEN", 9, gh_hosts, 1,
                                        NET_INJECT_BEARER, NULL, true, 0, &err),
                         0);
        const char *q_hosts[] = {"maps.example.org"};
        assert_int_equal(net_inject_add(in, "q", PH_Q, "k&y=1", 5, q_hosts, 1, NET_INJECT_QUERY,
                                        "key", false, 0, &err),
                         0);
}

static char *rewrite(const struct net_inject *in, const char *host, uint16_t port, bool tls,
                     const char *head, struct net_inject_report *r)
{
        char *out = NULL;
        size_t out_len = 0;
        int rc = net_inject_rewrite(in, host, port, tls, head, strlen(head), &out, &out_len, r);
        assert_int_equal(rc, 0);
        return out;
}

static void test_header_injected_and_client_value_stripped(void **state)
{
        (void)state;
        struct net_inject in;
        setup_inject(&in);
        struct net_inject_report r;
        char *out = rewrite(&in, "api.example.com", 443, true,
                            "POST /v2/messages HTTP/1.1\r\nHost: api.example.com\r\n"
                            "X-Api-Key: " PH_API "\r\nx-api-key: stolen\r\nContent-Length: 3\r\n"
                            "Connection: keep-alive\r\n\r\nabc",
                            &r);
        assert_int_equal(r.status, 0);
        assert_int_equal(r.injected, 1);
        assert_int_equal(r.content_length, 3);
        assert_string_equal(r.method, "POST");
        assert_string_equal(r.path, "/v2/messages");
        assert_null(strstr(out, "stolen"));
        assert_null(strstr(out, PH_API));
        assert_null(strstr(out, "keep-alive"));
        assert_non_null(strstr(out, "\r\nx-api-key: sk-SECRET\r\n\r\n"));
        free(out);
        /* the path prefix: only /v1/ on 8443 */
        out = rewrite(&in, "api.example.com", 8443, true,
                      "GET /v1/x HTTP/1.1\r\nHost: api.example.com:8443\r\n\r\n", &r);
        assert_int_equal(r.injected, 1);
        free(out);
        out = rewrite(&in, "api.example.com", 8443, true,
                      "GET /v2/x HTTP/1.1\r\nHost: api.example.com:8443\r\n\r\n", &r);
        assert_int_equal(r.status, 0);
        assert_int_equal(r.injected, 0);
        free(out);
        /* a dot segment does not stay under the prefix */
        out = rewrite(
            &in, "api.example.com", 8443, true,
            "GET /v1/../admin HTTP/1.1\r\nHost: api.example.com:8443\r\nA: " PH_API "\r\n\r\n", &r);
        assert_int_equal(r.status, 403);
        assert_int_equal(r.misuse, 0);
        assert_null(out);
        net_inject_clear(&in);
}

static void test_placeholder_elsewhere_is_misuse(void **state)
{
        (void)state;
        struct net_inject in;
        setup_inject(&in);
        struct net_inject_report r;
        char *out = rewrite(&in, "gist.example.net", 443, true,
                            "POST /x?k=" PH_GH " HTTP/1.1\r\nHost: gist.example.net\r\n\r\n", &r);
        assert_null(out);
        assert_int_equal(r.status, 403);
        assert_int_equal(r.misuse, 1);
        /* the api key on the github host: misuse too, the bearer injected for neither */
        out = rewrite(&in, "api.github.com", 443, true,
                      "GET /repos/a HTTP/1.1\r\nHost: api.github.com\r\nX-Leak: " PH_API "\r\n\r\n",
                      &r);
        assert_int_equal(r.misuse, 0);
        assert_null(out);
        assert_int_equal(net_inject_find_placeholder(&in, "xx" PH_Q "yy", 4 + strlen(PH_Q)), 2);
        assert_int_equal(net_inject_find_placeholder(&in, "reins-cred-q-0", 14), -1);
        net_inject_clear(&in);
}

static void test_bearer_query_and_plaintext(void **state)
{
        (void)state;
        struct net_inject in;
        setup_inject(&in);
        struct net_inject_report r;
        char *out = rewrite(&in, "api.github.com", 443, true,
                            "GET /repos/a/b HTTP/1.1\r\nHost: api.github.com\r\n"
                            "Authorization: token mine\r\n\r\n",
                            &r);
        assert_int_equal(r.injected, 2);
        assert_null(strstr(out, "token mine"));
        assert_non_null(strstr(out, "Authorization: Bearer ghp_TOKEN\r\n"));
        free(out);
        /* plaintext: true lets the bearer into http:// on port 80 */
        out = rewrite(&in, "api.github.com", 80, false,
                      "GET /repos HTTP/1.1\r\nHost: api.github.com\r\n\r\n", &r);
        assert_int_equal(r.injected, 2);
        free(out);
        /* the api key is TLS only: its placeholder in plaintext is refused */
        out =
            rewrite(&in, "api.example.com", 80, false,
                    "GET / HTTP/1.1\r\nHost: api.example.com\r\nx-api-key: " PH_API "\r\n\r\n", &r);
        assert_int_equal(r.status, 403);
        assert_null(out);
        /* query: the agent's own key= dropped, the secret percent-encoded */
        out =
            rewrite(&in, "maps.example.org", 443, true,
                    "GET /geo?a=1&key=" PH_Q "&b=2 HTTP/1.1\r\nHost: maps.example.org\r\n\r\n", &r);
        assert_non_null(out);
        assert_int_equal(strncmp(out, "GET /geo?a=1&b=2&key=k%26y%3D1 HTTP/1.1\r\n", 41), 0);
        free(out);
        net_inject_clear(&in);
}

static void test_malformed_heads(void **state)
{
        (void)state;
        struct net_inject in;
        setup_inject(&in);
        static const struct {
                const char *head;
                int status;
        } cases[] = {
            {"GET / HTTP/1.1\r\nHost: api.example.com\r\n folded\r\n\r\n", 400},
            {"GET / HTTP/1.1\nHost: api.example.com\r\n\r\n", 400},
            {"GET / HTTP/1.1\r\nHost: other.example.com\r\n\r\n", 421},
            {"GET / HTTP/1.1\r\nHost: api.example.com\r\nHost: api.example.com\r\n\r\n", 421},
            {"GET http://x/ HTTP/1.1\r\nHost: api.example.com\r\n\r\n", 400},
            {"POST / HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 1\r\n"
             "Transfer-Encoding: chunked\r\n\r\n",
             400},
            {"POST / HTTP/1.1\r\nHost: api.example.com\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
             400},
            {"POST / HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 1\r\nContent-Length: 2"
             "\r\n\r\n",
             400},
            {"GET / HTTP/2.0\r\nHost: api.example.com\r\n\r\n", 505},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct net_inject_report r;
                char *out = rewrite(&in, "api.example.com", 443, true, cases[i].head, &r);
                if (r.status != cases[i].status)
                        fail_msg("case %zu: status %d, expected %d", i, r.status, cases[i].status);
                assert_null(out);
        }
        char *out = NULL;
        size_t len = 0;
        struct net_inject_report r;
        assert_int_equal(net_inject_rewrite(&in, "api.example.com", 443, true, "GET / HTTP/1.1\r\n",
                                            16, &out, &len, &r),
                         NET_HTTP_INCOMPLETE);
        net_inject_clear(&in);
}

static int body_feed(struct net_inject_body *b, const char *bytes, size_t *used)
{
        return net_inject_body_step(b, bytes, strlen(bytes), used);
}

static void test_body_framing(void **state)
{
        (void)state;
        struct net_inject_body b;
        size_t used;
        net_inject_body_start(&b, false, 5);
        assert_int_equal(body_feed(&b, "abc", &used), 0);
        assert_int_equal(used, 3);
        assert_int_equal(body_feed(&b, "deGET /", &used), 1);
        assert_int_equal(used, 2);

        net_inject_body_start(&b, true, 0);
        const char *chunked = "4;ext=1\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\nGET / HTTP/1.1";
        /* one byte at a time: the state survives every split */
        size_t total = 0;
        int rc = 0;
        while (rc == 0 && total < strlen(chunked)) {
                rc = net_inject_body_step(&b, chunked + total, 1, &used);
                assert_true(rc >= 0);
                total += used;
        }
        assert_int_equal(rc, 1);
        assert_int_equal(total, strlen(chunked) - strlen("GET / HTTP/1.1"));

        static const char *const bad[] = {"x\r\n",
                                          "4\nwiki",
                                          "4\r\nwikiXX",
                                          "\r\n",
                                          "0\r\nTrailer: a\r\n\r\n",
                                          "fffffffffffffffff\r\n"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                net_inject_body_start(&b, true, 0);
                if (body_feed(&b, bad[i], &used) != -EINVAL)
                        fail_msg("bad chunked body %zu accepted", i);
        }
}

static void test_add_refuses(void **state)
{
        (void)state;
        struct net_inject in = {0};
        struct reins_error err = {0};
        const char *hosts[] = {"x.com"};
        assert_int_equal(net_inject_add(&in, "a", PH_API, "a\r\nEvil: 1", 10, hosts, 1,
                                        NET_INJECT_BEARER, NULL, false, 0, &err),
                         -EINVAL);
        const char *any[] = {"*"};
        assert_int_equal(net_inject_add(&in, "a", PH_API, "s", 1, any, 1, NET_INJECT_BEARER, NULL,
                                        false, 0, &err),
                         -EINVAL);
        assert_false(net_inject_terminates(&in, "x.com", 443));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_header_injected_and_client_value_stripped),
            cmocka_unit_test(test_placeholder_elsewhere_is_misuse),
            cmocka_unit_test(test_bearer_query_and_plaintext),
            cmocka_unit_test(test_malformed_heads),
            cmocka_unit_test(test_body_framing),
            cmocka_unit_test(test_add_refuses),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
