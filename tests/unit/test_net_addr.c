/* Address classification: a table of every special range, with the IPv6
 * spellings of IPv4 addresses (mapped, compatible, NAT64, 6to4, Teredo)
 * judged by the IPv4 address they carry; and network.hosts pins. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/addr.h"

static const struct {
        const char *address;
        enum net_addr_class cls;
} table[] = {
    {"8.8.8.8", NET_ADDR_PUBLIC},
    {"140.82.112.3", NET_ADDR_PUBLIC},
    {"127.0.0.1", NET_ADDR_LOOPBACK},
    {"127.255.255.254", NET_ADDR_LOOPBACK},
    {"10.0.0.1", NET_ADDR_PRIVATE},
    {"172.16.0.1", NET_ADDR_PRIVATE},
    {"172.31.255.255", NET_ADDR_PRIVATE},
    {"172.32.0.1", NET_ADDR_PUBLIC},
    {"192.168.1.1", NET_ADDR_PRIVATE},
    {"100.64.0.1", NET_ADDR_CGNAT},
    {"100.127.255.255", NET_ADDR_CGNAT},
    {"100.128.0.1", NET_ADDR_PUBLIC},
    {"169.254.1.1", NET_ADDR_LINK_LOCAL},
    {"169.254.169.254", NET_ADDR_METADATA},
    {"224.0.0.1", NET_ADDR_MULTICAST},
    {"239.255.255.250", NET_ADDR_MULTICAST},
    {"255.255.255.255", NET_ADDR_BROADCAST},
    {"0.0.0.0", NET_ADDR_UNSPECIFIED},
    {"0.1.2.3", NET_ADDR_UNSPECIFIED},
    {"240.0.0.1", NET_ADDR_RESERVED},
    {"192.0.2.1", NET_ADDR_RESERVED},
    {"198.18.0.1", NET_ADDR_RESERVED},
    {"::", NET_ADDR_UNSPECIFIED},
    {"::1", NET_ADDR_LOOPBACK},
    {"fc00::1", NET_ADDR_PRIVATE},
    {"fd12:3456::1", NET_ADDR_PRIVATE},
    {"fe80::1", NET_ADDR_LINK_LOCAL},
    {"febf::1", NET_ADDR_LINK_LOCAL},
    {"fec0::1", NET_ADDR_PRIVATE},
    {"ff02::1", NET_ADDR_MULTICAST},
    {"fd00:ec2::254", NET_ADDR_METADATA},
    {"2606:4700::1111", NET_ADDR_PUBLIC},
    {"2001:db8::1", NET_ADDR_RESERVED},
    {"4000::1", NET_ADDR_RESERVED},
    /* IPv4-mapped: never a legitimate DNS answer; judged by the IPv4 inside */
    {"::ffff:127.0.0.1", NET_ADDR_LOOPBACK},
    {"::ffff:169.254.169.254", NET_ADDR_METADATA},
    {"::ffff:10.1.2.3", NET_ADDR_PRIVATE},
    {"::ffff:8.8.8.8", NET_ADDR_MAPPED},
    {"::127.0.0.1", NET_ADDR_LOOPBACK}, /* IPv4-compatible (deprecated) */
    {"::8.8.8.8", NET_ADDR_MAPPED},
    /* NAT64 */
    {"64:ff9b::7f00:1", NET_ADDR_LOOPBACK},
    {"64:ff9b::a9fe:a9fe", NET_ADDR_METADATA},
    {"64:ff9b::808:808", NET_ADDR_PUBLIC},
    {"64:ff9b:1::a00:1", NET_ADDR_PRIVATE},
    /* 6to4: 2002:AABB:CCDD:: carries AA.BB.CC.DD */
    {"2002:7f00:1::1", NET_ADDR_LOOPBACK},
    {"2002:a9fe:a9fe::1", NET_ADDR_METADATA},
    {"2002:c0a8:101::1", NET_ADDR_PRIVATE},
    {"2002:808:808::1", NET_ADDR_PUBLIC},
    /* Teredo: client IPv4 is the last 32 bits inverted */
    {"2001:0:808:808::80ff:fffe", NET_ADDR_LOOPBACK},
    {"2001:0:a00:1::f7f7:f7f7", NET_ADDR_PRIVATE}, /* server 10.0.0.1 */
};

static void test_table(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
                struct net_address a;
                if (net_addr_from_literal(table[i].address, 443, &a) != 0)
                        fail_msg("'%s' did not parse", table[i].address);
                enum net_addr_class c = net_addr_classify((const struct sockaddr *)&a.sa);
                if (c != table[i].cls)
                        fail_msg("%s: %s, expected %s", table[i].address, net_addr_class_name(c),
                                 net_addr_class_name(table[i].cls));
        }
}

static void test_format_and_port(void **state)
{
        (void)state;
        struct net_address a;
        assert_int_equal(net_addr_from_literal("2001:db8::5", 8443, &a), 0);
        char text[64];
        net_addr_format((const struct sockaddr *)&a.sa, text, sizeof(text));
        assert_string_equal(text, "2001:db8::5");
        assert_int_equal(ntohs(((struct sockaddr_in6 *)(void *)&a.sa)->sin6_port), 8443);
        assert_int_equal(net_addr_from_literal("example.com", 1, &a), -EINVAL);
}

static void test_pins(void **state)
{
        (void)state;
        struct reins_strv v = {0};
        assert_int_equal(strv_push(&v, "Example.Test=127.0.0.1"), 0);
        assert_int_equal(strv_push(&v, "v6.test=[::1]"), 0);
        assert_int_equal(strv_push(&v, "v6b.test=::1"), 0);
        struct net_pins pins;
        struct reins_error err = {0};
        assert_int_equal(net_pins_build(&pins, &v, &err), 0);
        assert_int_equal(pins.count, 3);
        const struct net_pin *p = net_pins_find(&pins, "example.test");
        assert_non_null(p);
        assert_string_equal(p->address_text, "127.0.0.1");
        assert_non_null(net_pins_find(&pins, "v6.test"));
        assert_null(net_pins_find(&pins, "other.test"));
        net_pins_free(&pins);
        strv_free(&v);

        const char *bad[] = {"noequals", "x.test=not-an-address", "bad name=1.2.3.4", "=1.2.3.4"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct reins_strv b = {0};
                assert_int_equal(strv_push(&b, bad[i]), 0);
                err = (struct reins_error){0};
                if (net_pins_build(&pins, &b, &err) != -EINVAL)
                        fail_msg("'%s' accepted", bad[i]);
                assert_non_null(strstr(err.message, "network.hosts"));
                strv_free(&b);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_table),
            cmocka_unit_test(test_format_and_port),
            cmocka_unit_test(test_pins),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
