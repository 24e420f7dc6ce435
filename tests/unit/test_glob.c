/* Globs for filesystem rules: which patterns are refused, and a matching
 * table with the edge cases a deny list depends on ('**' at the start, in
 * the middle and at the end, '*' never crossing '/', leading dots). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "util/glob.h"

static void test_validate_accepts(void **state)
{
        (void)state;
        static const char *const good[] = {
            "/",          "~",        "~/.ssh",    "/etc/shadow", "/etc/ssh/ssh_host_*_key",
            "**/.env",    "**/*.pem", "**",        "/home/u/**",  "a/**/b",
            ".git/hooks", "*.pem",    "file?.txt", "[abc].c",     "[a-z]*",
            "[!a-z]x",    "[^.]x",    "[]]x", /* ']' first is a member */
            "[!]]x",      "a\\b",             /* no escapes: a plain byte */
            ".env",                           /* a dot-file is not a '.' component */
            "..hidden",                       /* nor is this */
            "x/..y/z",
        };
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                const char *why = NULL;
                if (glob_validate(good[i], &why) != 0)
                        fail_msg("'%s' refused: %s", good[i], why);
        }
}

static void test_validate_refuses(void **state)
{
        (void)state;
        static const struct {
                const char *pattern;
                const char *why_contains;
        } bad[] = {
            {"", "empty"},
            {"a**", "'**'"},
            {"**a", "'**'"},
            {"a/b**/c", "'**'"},
            {"***", "'**'"},
            {"/x/***/y", "'**'"},
            {"[abc", "unclosed '['"},
            {"a/[b/c]", "unclosed '['"}, /* a set never spans '/' */
            {"[]", "unclosed '['"},
            {"[!]", "unclosed '['"},
            {".", "'.'"},
            {"..", "'.'"},
            {"./x", "'.'"},
            {"a/./b", "'.'"},
            {"a/../b", "'.'"},
            {"~/..", "'.'"},
            {"/etc/..", "'.'"},
            {"a//b", "'//'"},
            {"a/", "trailing"},
            {"~root/.ssh", "~user"},
            {"a\nb", "control"},
            {"a\tb", "control"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                const char *why = NULL;
                int r = glob_validate(bad[i].pattern, &why);
                if (r != -EINVAL)
                        fail_msg("'%s' accepted", bad[i].pattern);
                if (!why || !strstr(why, bad[i].why_contains))
                        fail_msg("'%s': reason '%s' lacks '%s'", bad[i].pattern,
                                 why ? why : "(null)", bad[i].why_contains);
        }
        /* NULL is refused, and *why may be omitted */
        assert_int_equal(glob_validate(NULL, NULL), -EINVAL);
        assert_int_equal(glob_validate("a**", NULL), -EINVAL);
}

struct match_case {
        const char *pattern;
        const char *path;
        bool match;
};

static const struct match_case match_table[] = {
    /* literal */
    {"/etc/shadow", "/etc/shadow", true},
    {"/etc/shadow", "/etc/shadow-", false},
    {"/etc/shadow", "/etc", false},
    {"/etc/shadow", "/etc/shadow/x", false}, /* exact: no implicit descendants */
    {"~/.ssh", "~/.ssh", true},
    {"~/.ssh", "~/.sshx", false},
    {"/", "/", true},
    {"/", "/usr", false},
    /* absolute and relative never match each other */
    {"/etc/shadow", "etc/shadow", false},
    {".git/hooks", "/ws/.git/hooks", false},
    {".git/hooks", ".git/hooks", true},
    {".git/hooks", "sub/.git/hooks", false}, /* with '/': anchored */
    /* '**' at the start */
    {"**/.env", ".env", true},
    {"**/.env", "a/.env", true},
    {"**/.env", "a/b/c/.env", true},
    {"**/.env", "a/.env/b", false},
    {"**/.env", "a/x.env", false},
    {"**/.env", "a/.envrc", false},
    {"**/*.pem", "k.pem", true},
    {"**/*.pem", "deep/er/k.pem", true},
    {"**/*.pem", "deep/er/k.pem.bak", false},
    {"/**/id_rsa", "/home/u/.ssh/id_rsa", true},
    {"/**/id_rsa", "/id_rsa", true},
    {"/**/id_rsa", "home/id_rsa", false},
    /* '**' at the end: everything below, and the directory itself */
    {"/home/u/**", "/home/u", true},
    {"/home/u/**", "/home/u/a", true},
    {"/home/u/**", "/home/u/a/b/c", true},
    {"/home/u/**", "/home/uu/a", false},
    {"/home/u/**", "/home", false},
    {"~/**", "~/anything/at/all", true},
    /* '**' in the middle */
    {"a/**/b", "a/b", true},
    {"a/**/b", "a/x/b", true},
    {"a/**/b", "a/x/y/z/b", true},
    {"a/**/b", "a/x/y/z/c", false},
    {"a/**/b", "a/b/c", false},
    {"a/**/b/**/c", "a/1/b/2/3/c", true},
    {"a/**/b/**/c", "a/b/c", true},
    {"a/**/b/**/c", "a/c/b", false},
    {"a/**/**/b", "a/b", true},
    {"/x/**/y/*.key", "/x/p/q/y/k.key", true},
    {"/x/**/y/*.key", "/x/p/q/y/z/k.key", false},
    /* '*' stays inside one component */
    {"/etc/*", "/etc/passwd", true},
    {"/etc/*", "/etc/ssl/certs", false},
    {"/etc/ssh/ssh_host_*_key", "/etc/ssh/ssh_host_rsa_key", true},
    {"/etc/ssh/ssh_host_*_key", "/etc/ssh/ssh_host_ed25519_key", true},
    {"/etc/ssh/ssh_host_*_key", "/etc/ssh/ssh_host_rsa_key.pub", false},
    {"/etc/ssh/ssh_host_*_key", "/etc/ssh/ssh_host_a/b_key", false},
    {"a*b", "ab", true},
    {"a*b", "a/b", false},
    {"*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
    {"*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", true},
    /* leading dots are matched by '*' and '?' (over-matching is safer) */
    {"*", ".env", true},
    {"*env", ".env", true},
    {"/home/u/*", "/home/u/.bashrc", true},
    {"?env", ".env", true},
    {"**/*", ".hidden", true},
    /* a pattern without '/' matches the last component anywhere */
    {"*.pem", "k.pem", true},
    {"*.pem", "/etc/ssl/private/k.pem", true},
    {"*.pem", "a/b/k.pem", true},
    {"*.pem", "a/k.pem/b", false},
    {"*.pem", ".pem", true},
    {"id_rsa", "/home/u/.ssh/id_rsa", true},
    {"id_rsa", "/home/u/.ssh/id_rsa.pub", false},
    {"**", "/anything", true},
    {"**", "x", true},
    /* '?' and sets */
    {"file?.txt", "file1.txt", true},
    {"file?.txt", "file12.txt", false},
    {"file?.txt", "file.txt", false},
    {"file?.txt", "file\xc3\xa9.txt", true}, /* one character, two bytes */
    {"[abc].c", "b.c", true},
    {"[abc].c", "d.c", false},
    {"[a-z]x", "qx", true},
    {"[a-z]x", "Qx", false},
    {"[!a-z]x", "Qx", true},
    {"[!a-z]x", "qx", false},
    {"[^a-z]x", "Qx", true},
    {"[]]x", "]x", true},
    {"[]]x", "ax", false},
    {"[!]]x", "ax", true},
    {"[a-]x", "-x", true},
    {"/x/[.]env", "/x/.env", true},
    /* redundant slashes in the path do not hide it */
    {"/etc/shadow", "//etc//shadow", true},
    {"**/.env", "a//.env", true},
    /* nothing matches an empty path or pattern */
    {"*", "", false},
    {"", "x", false},
};

static void test_match_table(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(match_table) / sizeof(match_table[0]); i++) {
                const struct match_case *c = &match_table[i];
                if (glob_match(c->pattern, c->path) != c->match)
                        fail_msg("glob_match('%s', '%s') should be %s", c->pattern, c->path,
                                 c->match ? "true" : "false");
        }
}

static void test_match_deep_path_fails_safe(void **state)
{
        (void)state;
        /* deeper than the matcher holds: a deny list must still match */
        char deep[2048] = "";
        for (int i = 0; i < 300; i++)
                strcat(deep, "/d");
        assert_true(glob_match("/nothing/like/it", deep));
}

static void test_is_literal(void **state)
{
        (void)state;
        assert_true(glob_is_literal("/etc/shadow"));
        assert_true(glob_is_literal("~/.ssh"));
        assert_true(glob_is_literal(".git/hooks"));
        assert_false(glob_is_literal("*.pem"));
        assert_false(glob_is_literal("**/.env"));
        assert_false(glob_is_literal("file?.txt"));
        assert_false(glob_is_literal("[ab]"));
        assert_false(glob_is_literal(NULL));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_validate_accepts),
            cmocka_unit_test(test_validate_refuses),
            cmocka_unit_test(test_match_table),
            cmocka_unit_test(test_match_deep_path_fails_safe),
            cmocka_unit_test(test_is_literal),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
