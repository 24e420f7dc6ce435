/* SOCKS5: greeting and request parsing, the refused commands (BIND, UDP
 * ASSOCIATE) with their reply codes, and malformed/truncated inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/socks5.h"

static void test_greeting(void **state)
{
        (void)state;
        size_t used = 0;
        const uint8_t ok[] = {5, 2, 2, 0, 0xAA};
        assert_int_equal(net_socks5_parse_greeting(ok, sizeof(ok), &used), NET_SOCKS5_OK);
        assert_int_equal(used, 4);
        const uint8_t only_auth[] = {5, 1, 2};
        assert_int_equal(net_socks5_parse_greeting(only_auth, 3, &used), NET_SOCKS5_NO_METHOD);
        const uint8_t v4[] = {4, 1, 0};
        assert_int_equal(net_socks5_parse_greeting(v4, 3, &used), NET_SOCKS5_BAD);
        const uint8_t zero[] = {5, 0};
        assert_int_equal(net_socks5_parse_greeting(zero, 2, &used), NET_SOCKS5_BAD);
        assert_int_equal(net_socks5_parse_greeting(ok, 0, &used), NET_SOCKS5_INCOMPLETE);
        assert_int_equal(net_socks5_parse_greeting(ok, 1, &used), NET_SOCKS5_INCOMPLETE);
        assert_int_equal(net_socks5_parse_greeting(ok, 3, &used), NET_SOCKS5_INCOMPLETE);
}

static enum net_socks5_status parse(const uint8_t *buf, size_t len, struct net_socks5_request *r)
{
        uint8_t *copy = malloc(len ? len : 1);
        assert_non_null(copy);
        memcpy(copy, buf, len);
        enum net_socks5_status s = net_socks5_parse_request(copy, len, r);
        free(copy);
        return s;
}

static void test_connect_forms(void **state)
{
        (void)state;
        struct net_socks5_request r;
        const uint8_t domain[] = {5,   1,   0,   3,   12,  'E', 'x', 'a',  'm', 'p',
                                  'l', 'e', '.', 'T', 'e', 's', 't', 0x20, 0xFB};
        assert_int_equal(parse(domain, sizeof(domain), &r), NET_SOCKS5_OK);
        assert_string_equal(r.host, "example.test");
        assert_int_equal(r.port, 8443);
        assert_int_equal(r.consumed, sizeof(domain));
        for (size_t n = 0; n < sizeof(domain); n++)
                assert_int_equal(parse(domain, n, &r), NET_SOCKS5_INCOMPLETE);

        const uint8_t v4[] = {5, 1, 0, 1, 169, 254, 169, 254, 0, 80};
        assert_int_equal(parse(v4, sizeof(v4), &r), NET_SOCKS5_OK);
        assert_string_equal(r.host, "169.254.169.254");
        assert_int_equal(r.port, 80);

        const uint8_t v6[] = {5, 1, 0, 4,    0,    0,   0, 0, 0, 0, 0,
                              0, 0, 0, 0xFF, 0xFF, 127, 0, 0, 1, 1, 187};
        assert_int_equal(parse(v6, sizeof(v6), &r), NET_SOCKS5_OK);
        assert_string_equal(r.host, "::ffff:127.0.0.1");
        assert_int_equal(r.port, 443);
}

static void test_refusals(void **state)
{
        (void)state;
        struct net_socks5_request r;
        const uint8_t bind[] = {5, 2, 0, 1, 1, 2, 3, 4, 0, 80};
        assert_int_equal(parse(bind, sizeof(bind), &r), NET_SOCKS5_REFUSE);
        assert_int_equal(r.reply, NET_SOCKS5_COMMAND_NOT_SUPPORTED);
        const uint8_t udp[] = {5, 3, 0, 1, 0, 0, 0, 0, 0, 0};
        assert_int_equal(parse(udp, sizeof(udp), &r), NET_SOCKS5_REFUSE);
        assert_int_equal(r.reply, NET_SOCKS5_COMMAND_NOT_SUPPORTED);
        const uint8_t cmd9[] = {5, 9, 0, 1, 1, 2, 3, 4, 0, 80};
        assert_int_equal(parse(cmd9, sizeof(cmd9), &r), NET_SOCKS5_REFUSE);
        assert_int_equal(r.reply, NET_SOCKS5_COMMAND_NOT_SUPPORTED);
        const uint8_t atyp[] = {5, 1, 0, 9, 1, 2, 3, 4, 0, 80};
        assert_int_equal(parse(atyp, sizeof(atyp), &r), NET_SOCKS5_REFUSE);
        assert_int_equal(r.reply, NET_SOCKS5_ADDRESS_NOT_SUPPORTED);
        const uint8_t port0[] = {5, 1, 0, 1, 1, 2, 3, 4, 0, 0};
        assert_int_equal(parse(port0, sizeof(port0), &r), NET_SOCKS5_REFUSE);
        const uint8_t empty_name[] = {5, 1, 0, 3, 0, 0, 80};
        assert_int_equal(parse(empty_name, sizeof(empty_name), &r), NET_SOCKS5_REFUSE);
        const uint8_t nul_name[] = {5, 1, 0, 3, 5, 'a', 0, 'b', '.', 'c', 0, 80};
        assert_int_equal(parse(nul_name, sizeof(nul_name), &r), NET_SOCKS5_REFUSE);
        const uint8_t slash_name[] = {5, 1, 0, 3, 3, 'a', '/', 'b', 0, 80};
        assert_int_equal(parse(slash_name, sizeof(slash_name), &r), NET_SOCKS5_REFUSE);
        const uint8_t bad_version[] = {4, 1, 0, 1, 1, 2, 3, 4, 0, 80};
        assert_int_equal(parse(bad_version, sizeof(bad_version), &r), NET_SOCKS5_BAD);
        const uint8_t bad_rsv[] = {5, 1, 7, 1, 1, 2, 3, 4, 0, 80};
        assert_int_equal(parse(bad_rsv, sizeof(bad_rsv), &r), NET_SOCKS5_BAD);
        /* a 255-byte name: longer than DNS allows */
        uint8_t long_name[4 + 1 + 255 + 2];
        memcpy(long_name, (const uint8_t[]){5, 1, 0, 3, 255}, 5);
        memset(long_name + 5, 'a', 255);
        long_name[5 + 255] = 0;
        long_name[5 + 256] = 80;
        assert_int_equal(parse(long_name, sizeof(long_name), &r), NET_SOCKS5_REFUSE);
}

static void test_reply(void **state)
{
        (void)state;
        uint8_t out[10];
        assert_int_equal(net_socks5_reply(NET_SOCKS5_NOT_ALLOWED, out), 10);
        const uint8_t want[10] = {5, 2, 0, 1, 0, 0, 0, 0, 0, 0};
        assert_memory_equal(out, want, 10);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_greeting),
            cmocka_unit_test(test_connect_forms),
            cmocka_unit_test(test_refusals),
            cmocka_unit_test(test_reply),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
