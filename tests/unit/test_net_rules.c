/* Destination patterns: what is refused at load time, and a matching table
 * with the edges an allow list depends on (wildcards cover subdomains only,
 * never a look-alike; ports; deny beats allow; case and trailing dots). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/rules.h"

static void test_parse_accepts(void **state)
{
        (void)state;
        static const char *const good[] = {
            "example.com",
            "example.com:443",
            "*.github.com",
            "*.github.com:443",
            "*",
            "*:8443",
            "10.0.0.5",
            "10.0.0.5:80",
            "[::1]",
            "[::1]:443",
            "::1",
            "2001:db8::1",
            "API.Example.COM",
            "example.com.",
            "_dmarc.x.org",
            "xn--bcher-kva.example",
        };
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                struct net_rule rule;
                const char *why = NULL;
                if (net_rule_parse(good[i], &rule, &why) != 0)
                        fail_msg("'%s' refused: %s", good[i], why);
        }
}

static void test_parse_refuses(void **state)
{
        (void)state;
        static const struct {
                const char *pattern;
                const char *why_contains;
        } bad[] = {
            {"", "empty"},
            {"example.com:0", "port"},
            {"example.com:65536", "port"},
            {"example.com:http", "port"},
            {"example.com:", "port"},
            {"*github.com", "'*'"},
            {"api.*.com", "'*'"},
            {"**.github.com", "'*'"},
            {"*.", "empty"},
            {"a..b", "empty label"},
            {"-a.com", "'-'"},
            {"a-.com", "'-'"},
            {"exa mple.com", "character"},
            {"ex/ample.com", "character"},
            {"127.1", "numeric"},
            {"0x7f.0.0.1", "numeric"},
            {"2130706433", "numeric"},
            {"*.10.0.0.1", "IP"},
            {"[::1", "'['"},
            {"[example.com]", "IPv6"},
            {"[::1]x", "junk"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct net_rule rule;
                const char *why = NULL;
                if (net_rule_parse(bad[i].pattern, &rule, &why) == 0)
                        fail_msg("'%s' accepted", bad[i].pattern);
                if (!why || !strstr(why, bad[i].why_contains))
                        fail_msg("'%s': reason '%s' lacks '%s'", bad[i].pattern,
                                 why ? why : "(none)", bad[i].why_contains);
        }
}

static void test_normalize(void **state)
{
        (void)state;
        char out[NET_HOST_MAX + 1];
        const char *why;
        assert_int_equal(net_host_normalize("API.GitHub.com.", 15, out, sizeof(out), &why), 0);
        assert_string_equal(out, "api.github.com");
        assert_int_equal(net_host_normalize("[::FFFF:1.2.3.4]", 16, out, sizeof(out), &why), 0);
        assert_string_equal(out, "::ffff:1.2.3.4");
        assert_int_equal(net_host_normalize("a\0b.com", 7, out, sizeof(out), &why), -EINVAL);
        assert_int_equal(net_host_normalize("[fe80::1%eth0]", 14, out, sizeof(out), &why), -EINVAL);
        char long_name[300];
        memset(long_name, 'a', sizeof(long_name));
        for (size_t i = 60; i < sizeof(long_name); i += 61)
                long_name[i] = '.';
        assert_int_equal(net_host_normalize(long_name, 254, out, sizeof(out), &why), -EINVAL);
        assert_non_null(strstr(why, "253"));
        memset(long_name, 'a', 64);
        assert_int_equal(net_host_normalize(long_name, 64, out, sizeof(out), &why), -EINVAL);
        assert_non_null(strstr(why, "63"));
}

struct table_row {
        const char *host;
        uint16_t port;
        enum net_verdict verdict;
        const char *rule;
};

static void check_table(const char *const *allow, size_t n_allow, const char *const *deny,
                        size_t n_deny, const struct table_row *rows, size_t n_rows)
{
        struct reins_strv a = {0}, d = {0};
        for (size_t i = 0; i < n_allow; i++)
                assert_int_equal(strv_push(&a, allow[i]), 0);
        for (size_t i = 0; i < n_deny; i++)
                assert_int_equal(strv_push(&d, deny[i]), 0);
        struct net_rules ra, rd;
        struct reins_error err = {0};
        assert_int_equal(net_rules_build(&ra, &a, "network.allow", &err), 0);
        assert_int_equal(net_rules_build(&rd, &d, "network.deny", &err), 0);
        for (size_t i = 0; i < n_rows; i++) {
                const char *rule = NULL;
                enum net_verdict v = net_rules_decide(&ra, &rd, rows[i].host, rows[i].port, &rule);
                if (v != rows[i].verdict)
                        fail_msg("%s:%u: verdict %d, expected %d (rule %s)", rows[i].host,
                                 rows[i].port, v, rows[i].verdict, rule ? rule : "-");
                if ((rule == NULL) != (rows[i].rule == NULL) ||
                    (rule && strcmp(rule, rows[i].rule) != 0))
                        fail_msg("%s:%u: rule '%s', expected '%s'", rows[i].host, rows[i].port,
                                 rule ? rule : "-", rows[i].rule ? rows[i].rule : "-");
        }
        net_rules_free(&ra);
        net_rules_free(&rd);
        strv_free(&a);
        strv_free(&d);
}

static void test_wildcard_edges(void **state)
{
        (void)state;
        const char *const allow[] = {"*.github.com"};
        const struct table_row rows[] = {
            {"api.github.com", 443, NET_VERDICT_ALLOW, "*.github.com"},
            {"a.b.github.com", 443, NET_VERDICT_ALLOW, "*.github.com"},
            {"github.com", 443, NET_VERDICT_NOT_ALLOWED, NULL},
            {"evilgithub.com", 443, NET_VERDICT_NOT_ALLOWED, NULL},
            {"github.com.evil.com", 443, NET_VERDICT_NOT_ALLOWED, NULL},
            {"api.github.co", 443, NET_VERDICT_NOT_ALLOWED, NULL},
            {"api.github.com", 80, NET_VERDICT_ALLOW, "*.github.com"},
            {"api.github.com", 22, NET_VERDICT_NOT_ALLOWED, NULL}, /* default 80/443 only */
            {"api.github.com", 8443, NET_VERDICT_NOT_ALLOWED, NULL},
        };
        check_table(allow, 1, NULL, 0, rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_ports(void **state)
{
        (void)state;
        const char *const allow[] = {"example.test:8443", "plain.test", "[::1]:9000",
                                     "10.0.0.5:80"};
        const struct table_row rows[] = {
            {"example.test", 8443, NET_VERDICT_ALLOW, "example.test:8443"},
            {"example.test", 443, NET_VERDICT_NOT_ALLOWED, NULL},
            {"example.test", 80, NET_VERDICT_NOT_ALLOWED, NULL},
            {"plain.test", 80, NET_VERDICT_ALLOW, "plain.test"},
            {"plain.test", 443, NET_VERDICT_ALLOW, "plain.test"},
            {"plain.test", 8080, NET_VERDICT_NOT_ALLOWED, NULL},
            {"::1", 9000, NET_VERDICT_ALLOW, "[::1]:9000"},
            {"::1", 9001, NET_VERDICT_NOT_ALLOWED, NULL},
            {"10.0.0.5", 80, NET_VERDICT_ALLOW, "10.0.0.5:80"},
            {"10.0.0.6", 80, NET_VERDICT_NOT_ALLOWED, NULL},
        };
        check_table(allow, 4, NULL, 0, rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_deny_beats_allow(void **state)
{
        (void)state;
        const char *const allow[] = {"*", "*.example.com", "paste.example.com:443"};
        const char *const deny[] = {"*.pastebin.com", "paste.example.com"};
        const struct table_row rows[] = {
            {"pastebin.com", 443, NET_VERDICT_ALLOW, "*"},
            {"x.pastebin.com", 443, NET_VERDICT_DENY_RULE, "*.pastebin.com"},
            {"x.pastebin.com", 9999, NET_VERDICT_DENY_RULE, "*.pastebin.com"}, /* any port */
            {"paste.example.com", 443, NET_VERDICT_DENY_RULE, "paste.example.com"},
            {"www.example.com", 443, NET_VERDICT_ALLOW, "*"},
            {"anything.org", 80, NET_VERDICT_ALLOW, "*"},
            {"anything.org", 25, NET_VERDICT_NOT_ALLOWED, NULL},
        };
        check_table(allow, 3, deny, 2, rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_ip_literals_never_match_names(void **state)
{
        (void)state;
        struct net_rule rule;
        const char *why;
        assert_int_equal(net_rule_parse("*.example.com", &rule, &why), 0);
        /* a wildcard never matches an address, whatever its text */
        assert_false(net_rule_matches(&rule, "::ffff:1.2.3.4", 443, NULL, 0));
        assert_int_equal(net_rule_parse("example.com", &rule, &why), 0);
        assert_true(net_rule_matches(&rule, "example.com", 12345, NULL, 0));
}

static void test_build_error_names_key_and_pattern(void **state)
{
        (void)state;
        struct reins_strv v = {0};
        assert_int_equal(strv_push(&v, "ok.example"), 0);
        assert_int_equal(strv_push(&v, "bad*.example"), 0);
        struct net_rules rules;
        struct reins_error err = {0};
        assert_int_equal(net_rules_build(&rules, &v, "network.allow", &err), -EINVAL);
        assert_non_null(strstr(err.message, "network.allow"));
        assert_non_null(strstr(err.message, "bad*.example"));
        assert_null(rules.items);
        strv_free(&v);
}

/* network.ask: a pattern without a port covers every port, like a deny */
static void test_ask_matches_any_port(void **state)
{
        (void)state;
        struct reins_strv patterns = {0};
        struct net_rules rules = {0};
        struct reins_error err = {0};
        assert_int_equal(strv_push(&patterns, "gist.github.com"), 0);
        assert_int_equal(strv_push(&patterns, "*.paste.test:8080"), 0);
        assert_int_equal(net_rules_build(&rules, &patterns, "network.ask", &err), 0);
        assert_string_equal(net_rules_match_any_port(&rules, "gist.github.com", 443),
                            "gist.github.com");
        assert_string_equal(net_rules_match_any_port(&rules, "gist.github.com", 8443),
                            "gist.github.com");
        assert_null(net_rules_match_any_port(&rules, "api.github.com", 443));
        assert_string_equal(net_rules_match_any_port(&rules, "a.paste.test", 8080),
                            "*.paste.test:8080");
        assert_null(net_rules_match_any_port(&rules, "a.paste.test", 443)); /* port stated */
        assert_null(net_rules_match_any_port(&rules, "paste.test", 8080));  /* subdomains only */
        net_rules_free(&rules);
        strv_free(&patterns);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse_accepts),
            cmocka_unit_test(test_ask_matches_any_port),
            cmocka_unit_test(test_parse_refuses),
            cmocka_unit_test(test_normalize),
            cmocka_unit_test(test_wildcard_edges),
            cmocka_unit_test(test_ports),
            cmocka_unit_test(test_deny_beats_allow),
            cmocka_unit_test(test_ip_literals_never_match_names),
            cmocka_unit_test(test_build_error_names_key_and_pattern),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
