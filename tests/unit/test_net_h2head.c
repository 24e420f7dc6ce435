/* The HTTP/2 glue of credential injection (net/h2head.h): request fields to
 * the HTTP/1.1 head the rules judge, and the rewritten head back to fields,
 * hop-by-hop fields dropped, Host made :authority; what would split a head
 * or is not a plain request refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "net/h2head.h"
#include "net/http.h"

#define F(n, v)                                                                                    \
        {                                                                                          \
                (const uint8_t *)(n), (const uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1           \
        }

static void test_fields_to_head(void **state)
{
        (void)state;
        struct net_h2_field f[] = {F(":method", "POST"),
                                   F(":scheme", "https"),
                                   F(":authority", "api.test:8443"),
                                   F(":path", "/v1/x?a=1"),
                                   F("authorization", "Bearer ph"),
                                   F("content-length", "3")};
        char out[512];
        int n = net_h2_head_from_fields(f, 6, out, sizeof(out));
        assert_string_equal(out, "POST /v1/x?a=1 HTTP/1.1\r\nHost: api.test:8443\r\n"
                                 "authorization: Bearer ph\r\ncontent-length: 3\r\n\r\n");
        assert_int_equal(n, (int)strlen(out));
        /* too small a buffer: E2BIG, never a cut head */
        assert_int_equal(net_h2_head_from_fields(f, 6, out, 40), -E2BIG);
}

static void test_fields_refused(void **state)
{
        (void)state;
        struct net_h2_field cr[] = {F(":method", "GET"), F(":path", "/"),
                                    F("x", "a\r\nInjected: 1")};
        struct net_h2_field connect[] = {F(":method", "CONNECT"), F(":authority", "h:1")};
        struct net_h2_field proto[] = {F(":method", "CONNECT"), F(":protocol", "websocket"),
                                       F(":path", "/")};
        struct net_h2_field nopath[] = {F(":method", "GET")};
        struct net_h2_field twice[] = {F(":method", "GET"), F(":path", "/"), F(":path", "/b")};
        struct net_h2_field space[] = {F(":method", "GET"), F(":path", "/ HTTP/1.1\r\n")};
        struct net_h2_field name[] = {F(":method", "GET"), F(":path", "/"), F("a b", "1")};
        char out[512];
        assert_int_equal(net_h2_head_from_fields(cr, 3, out, sizeof(out)), -EINVAL);
        assert_int_equal(net_h2_head_from_fields(connect, 2, out, sizeof(out)), -EINVAL);
        assert_int_equal(net_h2_head_from_fields(proto, 3, out, sizeof(out)), -EINVAL);
        assert_int_equal(net_h2_head_from_fields(nopath, 1, out, sizeof(out)), -EINVAL);
        assert_int_equal(net_h2_head_from_fields(twice, 3, out, sizeof(out)), -EINVAL);
        assert_int_equal(net_h2_head_from_fields(space, 2, out, sizeof(out)), -EINVAL);
        assert_int_equal(net_h2_head_from_fields(name, 3, out, sizeof(out)), -EINVAL);
}

static void test_head_to_fields(void **state)
{
        (void)state;
        char head[] = "GET /v1/e HTTP/1.1\r\nHost: api.test\r\nAuthorization:  Bearer s \r\n"
                      "Connection: keep-alive\r\nTE: trailers\r\nTransfer-Encoding: chunked\r\n"
                      "X-A: 1\r\n\r\n";
        struct net_h2_field f[16];
        int n = net_h2_fields_from_head(head, strlen(head), f, 16);
        assert_int_equal(n, 7);
        const char *want[][2] = {
            {":method", "GET"}, {":scheme", "https"},          {":authority", "api.test"},
            {":path", "/v1/e"}, {"authorization", "Bearer s"}, {"te", "trailers"},
            {"x-a", "1"}};
        for (int i = 0; i < n; i++) {
                assert_int_equal(f[i].name_len, strlen(want[i][0]));
                assert_memory_equal(f[i].name, want[i][0], f[i].name_len);
                assert_int_equal(f[i].value_len, strlen(want[i][1]));
                assert_memory_equal(f[i].value, want[i][1], f[i].value_len);
        }
        char nohost[] = "GET / HTTP/1.1\r\nX: 1\r\n\r\n";
        assert_int_equal(net_h2_fields_from_head(nohost, strlen(nohost), f, 16), 4);
        assert_memory_equal(f[2].name, ":path", 5);
        char hosts[] = "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n";
        assert_int_equal(net_h2_fields_from_head(hosts, strlen(hosts), f, 16), -EINVAL);
        char many[] = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n";
        assert_int_equal(net_h2_fields_from_head(many, strlen(many), f, 4), -E2BIG);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_fields_to_head),
            cmocka_unit_test(test_fields_refused),
            cmocka_unit_test(test_head_to_fields),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
