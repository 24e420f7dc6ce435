/* The line diff: known inputs give exactly the unified output git would
 * print (hunk ranges, 3 lines of context, hunk merging, "\ No newline"),
 * minimal edit counts, control characters made visible for a terminal, and
 * a random round trip: applying the hunks to the old text gives the new. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "workspace/textdiff.h"

static char *diff_of(const char *a, const char *b, enum textdiff_style style, size_t *ins,
                     size_t *del)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);
        assert_non_null(out);
        size_t i = 0, d = 0;
        assert_int_equal(textdiff_unified(out, a, strlen(a), b, strlen(b), 3, style, &i, &d), 0);
        fclose(out);
        if (ins)
                *ins = i;
        if (del)
                *del = d;
        return buf;
}

static void expect_diff(const char *a, const char *b, const char *expected)
{
        char *got = diff_of(a, b, TEXTDIFF_EXACT, NULL, NULL);
        if (strcmp(got, expected) != 0)
                fail_msg("diff mismatch\n--- expected\n%s--- got\n%s", expected, got);
        free(got);
}

static void test_identical_is_empty(void **state)
{
        (void)state;
        expect_diff("a\nb\n", "a\nb\n", "");
        expect_diff("", "", "");
}

static void test_one_line_changed_in_the_middle(void **state)
{
        (void)state;
        expect_diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nFIVE\n6\n7\n8\n9\n",
                    "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+FIVE\n 6\n 7\n 8\n");
}

static void test_create_and_delete_whole_file(void **state)
{
        (void)state;
        expect_diff("", "x\ny\n", "@@ -0,0 +1,2 @@\n+x\n+y\n");
        expect_diff("x\n", "", "@@ -1 +0,0 @@\n-x\n");
}

static void test_insert_at_start_and_end(void **state)
{
        (void)state;
        expect_diff("a\nb\nc\nd\ne\n", "new\na\nb\nc\nd\ne\n",
                    "@@ -1,3 +1,4 @@\n+new\n a\n b\n c\n");
        expect_diff("a\nb\nc\nd\ne\n", "a\nb\nc\nd\ne\nend\n",
                    "@@ -3,3 +3,4 @@\n c\n d\n e\n+end\n");
}

static void test_no_newline_at_end(void **state)
{
        (void)state;
        expect_diff("a\nb", "a\nb\n",
                    "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
        expect_diff("a\n", "a\nb", "@@ -1 +1,2 @@\n a\n+b\n\\ No newline at end of file\n");
}

static void test_hunks_merge_within_six_lines(void **state)
{
        (void)state;
        /* changes at lines 2 and 9: 6 equal lines between, one hunk */
        expect_diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "1\nB\n3\n4\n5\n6\n7\n8\nI\n10\n",
                    "@@ -1,10 +1,10 @@\n 1\n-2\n+B\n 3\n 4\n 5\n 6\n 7\n 8\n-9\n+I\n 10\n");
        /* changes at lines 2 and 10: 7 equal lines between, two hunks */
        expect_diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n", "1\nB\n3\n4\n5\n6\n7\n8\n9\nJ\n11\n",
                    "@@ -1,5 +1,5 @@\n 1\n-2\n+B\n 3\n 4\n 5\n"
                    "@@ -7,5 +7,5 @@\n 7\n 8\n 9\n-10\n+J\n 11\n");
}

static void test_minimal_edit(void **state)
{
        (void)state;
        /* the classic example from Myers' paper: ABCABBA -> CBABAC, D = 5 */
        size_t ins, del;
        char *out =
            diff_of("A\nB\nC\nA\nB\nB\nA\n", "C\nB\nA\nB\nA\nC\n", TEXTDIFF_EXACT, &ins, &del);
        assert_int_equal(ins + del, 5);
        free(out);
}

static void test_visible_style_escapes_control_bytes(void **state)
{
        (void)state;
        /* a file could hide a line from a reviewer with "\r" or an escape
         * sequence; the terminal form shows them */
        char *out = diff_of("", "ok\rEVIL\x1b[2K\tx\n", TEXTDIFF_VISIBLE, NULL, NULL);
        assert_string_equal(out, "@@ -0,0 +1 @@\n+ok\\rEVIL\\x1b[2K\tx\n");
        free(out);
        /* C1 (as a character and as a byte), a bidi override and bad UTF-8
         * too; source text (UTF-8, backslashes) reads as it is */
        out = diff_of("",
                      "\xc2\x9b"
                      "2J\x9b"
                      "2J\xe2\x80\xae \xff caf\xc3\xa9 \"\\n\"\n",
                      TEXTDIFF_VISIBLE, NULL, NULL);
        assert_string_equal(out,
                            "@@ -0,0 +1 @@\n+\\u009b2J\\x9b2J\\u202e \\xff caf\xc3\xa9 \"\\n\"\n");
        free(out);
        out = diff_of("", "ok\rEVIL\n", TEXTDIFF_EXACT, NULL, NULL);
        assert_string_equal(out, "@@ -0,0 +1 @@\n+ok\rEVIL\n");
        free(out);
}

static void test_binary_detection(void **state)
{
        (void)state;
        assert_false(textdiff_is_binary("plain text\n", 11));
        assert_true(textdiff_is_binary("a\0b", 3));
        char *big = calloc(9000, 1);
        memset(big, 'x', 9000);
        big[8500] = '\0'; /* beyond the first 8000 bytes: text, as git says */
        assert_false(textdiff_is_binary(big, 9000));
        free(big);
}

/* Apply unified hunks to `old` (a tiny patch(1)) to check a round trip. */
static char *apply_hunks(const char *old, const char *diff)
{
        struct textdiff_text t;
        assert_int_equal(textdiff_split(old, strlen(old), &t), 0);
        size_t cap = strlen(old) + strlen(diff) + 1, n = 0, next = 0;
        char *out = calloc(cap, 1);
        const char *p = diff;
        while (*p) {
                const char *eol = strchr(p, '\n');
                assert_non_null(eol);
                size_t len = (size_t)(eol - p) + 1;
                if (p[0] == '@') {
                        unsigned long start = strtoul(p + 4, NULL, 10);
                        const char *comma = strchr(p + 4, ',');
                        const char *space = strchr(p + 4, ' ');
                        unsigned long count =
                            comma && comma < space ? strtoul(comma + 1, NULL, 10) : 1;
                        size_t first = count == 0 ? start : start - 1;
                        while (next < first) {
                                memcpy(out + n, t.lines[next].start, t.lines[next].length);
                                n += t.lines[next++].length;
                        }
                } else if (p[0] == ' ' || p[0] == '+') {
                        memcpy(out + n, p + 1, len - 1);
                        n += len - 1;
                        if (p[0] == ' ')
                                next++;
                } else if (p[0] == '-') {
                        next++;
                } else if (p[0] == '\\') {
                        n--; /* the line before had no newline */
                }
                p = eol + 1;
        }
        while (next < t.count) {
                memcpy(out + n, t.lines[next].start, t.lines[next].length);
                n += t.lines[next++].length;
        }
        out[n] = '\0';
        textdiff_text_free(&t);
        return out;
}

static void test_random_round_trip(void **state)
{
        (void)state;
        srand(7);
        for (int round = 0; round < 300; round++) {
                char a[4096] = "", b[4096] = "";
                int na = rand() % 40, nb = 0;
                char lines[40][8];
                for (int i = 0; i < na; i++) {
                        snprintf(lines[i], sizeof(lines[i]), "l%d\n", rand() % 6);
                        strcat(a, lines[i]);
                }
                for (int i = 0; i < na; i++) {
                        int r = rand() % 10;
                        if (r == 0)
                                continue; /* delete */
                        if (r == 1) {
                                strcat(b, "new\n");
                                nb++;
                        }
                        strcat(b, lines[i]);
                        nb++;
                }
                if (rand() % 3 == 0)
                        strcat(b, "tail");
                char *d = diff_of(a, b, TEXTDIFF_EXACT, NULL, NULL);
                char *back = apply_hunks(a, d);
                if (strcmp(back, b) != 0)
                        fail_msg("round %d: round trip failed\na=%s\nb=%s\ndiff=%s\ngot=%s", round,
                                 a, b, d, back);
                free(d);
                free(back);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_identical_is_empty),
            cmocka_unit_test(test_one_line_changed_in_the_middle),
            cmocka_unit_test(test_create_and_delete_whole_file),
            cmocka_unit_test(test_insert_at_start_and_end),
            cmocka_unit_test(test_no_newline_at_end),
            cmocka_unit_test(test_hunks_merge_within_six_lines),
            cmocka_unit_test(test_minimal_edit),
            cmocka_unit_test(test_visible_style_escapes_control_bytes),
            cmocka_unit_test(test_binary_detection),
            cmocka_unit_test(test_random_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
