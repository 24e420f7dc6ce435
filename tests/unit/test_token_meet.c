/* The intersection `reins token inspect` shows (govern/token_meet.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "govern/token_meet.h"

static struct reins_strv list(const char *const *items)
{
        struct reins_strv v = {0};
        for (; *items; items++)
                assert_int_equal(strv_push(&v, *items), 0);
        return v;
}

static char *joined(const struct reins_strv *v)
{
        static char buf[512];
        buf[0] = '\0';
        for (size_t i = 0; i < v->count; i++) {
                strcat(buf, i ? "," : "");
                strcat(buf, v->items[i]);
        }
        return buf;
}

static const char *meet_of(enum token_meet_kind kind, const char *const *a, const char *const *b,
                           const char *const *c)
{
        struct reins_strv sets[3] = {list(a), list(b), c ? list(c) : (struct reins_strv){0}};
        struct token_pattern_sets s = {.sets = sets, .count = c ? 3 : 2};
        struct reins_strv out = {0};
        assert_int_equal(token_meet(&s, kind, &out), 0);
        const char *text = joined(&out);
        strv_free(&out);
        for (int i = 0; i < 3; i++)
                strv_free(&sets[i]);
        return text;
}

static void test_destinations(void **state)
{
        (void)state;
        assert_string_equal(
            meet_of(TOKEN_MEET_DEST, (const char *[]){"*.example.com", "api.other.com", NULL},
                    (const char *[]){"api.example.com:443", "api.other.com", "evil.test", NULL},
                    NULL),
            "api.example.com:443,api.other.com");
        /* host from one, port from the other */
        assert_string_equal(meet_of(TOKEN_MEET_DEST, (const char *[]){"*:443", NULL},
                                    (const char *[]){"a.test", NULL}, NULL),
                            "a.test:443");
        /* different ports, or a domain that is not below: nothing in common */
        assert_string_equal(meet_of(TOKEN_MEET_DEST, (const char *[]){"a.test:80", NULL},
                                    (const char *[]){"a.test:443", NULL}, NULL),
                            "");
        assert_string_equal(meet_of(TOKEN_MEET_DEST, (const char *[]){"*.example.com", NULL},
                                    (const char *[]){"example.com.evil.test", NULL}, NULL),
                            "");
        /* three blocks narrow step by step */
        assert_string_equal(meet_of(TOKEN_MEET_DEST, (const char *[]){"*", NULL},
                                    (const char *[]){"*.a.test", NULL},
                                    (const char *[]){"x.a.test:8443", "b.test", NULL}),
                            "x.a.test:8443");
}

static void test_paths_and_commands(void **state)
{
        (void)state;
        assert_string_equal(meet_of(TOKEN_MEET_PATH, (const char *[]){"docs/**", "src/*.c", NULL},
                                    (const char *[]){"docs/a.md", "src/main.c", "README", NULL},
                                    NULL),
                            "docs/a.md,src/main.c");
        assert_string_equal(meet_of(TOKEN_MEET_CMD, (const char *[]){"git", "make", NULL},
                                    (const char *[]){"*", NULL}, (const char *[]){"git", NULL}),
                            "git");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_destinations),
            cmocka_unit_test(test_paths_and_commands),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
