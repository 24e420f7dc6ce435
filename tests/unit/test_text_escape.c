/* The one escaping function for human-facing text: every control a
 * terminal acts on is shown, never passed; ordinary UTF-8 is kept; the
 * result decodes back to the input; truncation never cuts an escape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/text_escape.h"

static char *escaped(const char *bytes, size_t length, unsigned flags)
{
        char *s = text_escape_dup(bytes, length, flags);
        assert_non_null(s);
        return s;
}

static void check(const char *bytes, size_t length, unsigned flags, const char *want)
{
        char *s = escaped(bytes, length, flags);
        if (strcmp(s, want) != 0)
                fail_msg("escaped '%s', want '%s'", s, want);
        assert_int_equal(text_escape(NULL, 0, bytes, length, flags), strlen(want));
        free(s);
}

#define CHECK(literal, flags, want) check(literal, sizeof(literal) - 1, flags, want)

static void test_c0_controls_and_del(void **state)
{
        (void)state;
        CHECK("a\rb\nc\td", 0, "a\\rb\\nc\\td");
        CHECK("\x1b]0;title\x07", 0, "\\x1b]0;title\\x07");
        CHECK("\x1b[2K\x1b[1A", 0, "\\x1b[2K\\x1b[1A");
        CHECK("\x7f\b\f\v", 0, "\\x7f\\x08\\x0c\\x0b");
        check("a\0b", 3, 0, "a\\x00b");
        /* every byte below 0x20 and DEL is escaped */
        for (int c = 0; c < 0x80; c++) {
                char in = (char)c;
                char out[8];
                text_escape(out, sizeof(out), &in, 1, 0);
                bool control = c < 0x20 || c == 0x7f;
                assert_true(control ? out[0] == '\\' : (out[0] == in || c == '\\'));
        }
}

static void test_c1_controls_as_characters_and_as_bytes(void **state)
{
        (void)state;
        CHECK("\xc2\x9b"
              "31m",
              0, "\\u009b31m"); /* CSI, UTF-8 encoded */
        CHECK("\xc2\x85\xc2\x9d\xc2\x80\xc2\x9f", 0, "\\u0085\\u009d\\u0080\\u009f");
        CHECK("\x9b"
              "31m",
              0, "\\x9b31m"); /* CSI as a raw byte: not UTF-8 */
        CHECK("\x84\x90\x9c", 0, "\\x84\\x90\\x9c");
        /* U+00A0 and up are ordinary */
        CHECK("\xc2\xa0\xc2\xa9", 0, "\xc2\xa0\xc2\xa9");
}

static void test_bidi_controls(void **state)
{
        (void)state;
        CHECK("evil\xe2\x80\xae"
              "gpj.exe",
              0, "evil\\u202egpj.exe");
        CHECK("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad", 0,
              "\\u202a\\u202b\\u202c\\u202d");
        CHECK("\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9", 0,
              "\\u2066\\u2067\\u2068\\u2069");
        CHECK("\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c", 0, "\\u200e\\u200f\\u061c");
        CHECK("a\xe2\x80\xa8"
              "b\xe2\x80\xa9",
              0, "a\\u2028b\\u2029");
        /* neighbours are ordinary: U+202F, U+2065 (unassigned), U+200D */
        CHECK("\xe2\x80\xaf\xe2\x81\xa5\xe2\x80\x8d", 0, "\xe2\x80\xaf\xe2\x81\xa5\xe2\x80\x8d");
}

static void test_utf8_kept(void **state)
{
        (void)state;
        CHECK("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", 0,
              "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
        assert_false(text_escape_needed("caf\xc3\xa9", 5, 0));
        assert_true(text_escape_needed("a\x1b", 2, 0));
        assert_true(text_escape_needed("a\\b", 3, 0));
        assert_false(text_escape_needed("a\\b", 3, TEXT_ESCAPE_KEEP_BACKSLASH));
}

static void test_invalid_utf8_as_bytes(void **state)
{
        (void)state;
        CHECK("\xff\xfe", 0, "\\xff\\xfe");
        CHECK("\xc0\xaf", 0, "\\xc0\\xaf");                   /* overlong '/' */
        CHECK("\xe0\x80\xaf", 0, "\\xe0\\x80\\xaf");          /* overlong, 3 bytes */
        CHECK("\xed\xa0\x80", 0, "\\xed\\xa0\\x80");          /* a UTF-16 surrogate */
        CHECK("\xf4\x90\x80\x80", 0, "\\xf4\\x90\\x80\\x80"); /* above U+10FFFF */
        CHECK("\xe6\x97", 0, "\\xe6\\x97");                   /* cut short */
        CHECK("\xe6\x97x", 0, "\\xe6\\x97x");                 /* cut short, then ASCII */
        CHECK("\xc3\x1b", 0, "\\xc3\\x1b");                   /* a lead, then ESC */
        CHECK("\xe2\x80\x1b[2J", 0, "\\xe2\\x80\\x1b[2J");
        CHECK("\xc3\xa9\x80", 0, "\xc3\xa9\\x80"); /* a stray continuation */
}

static void test_flags(void **state)
{
        (void)state;
        CHECK("a\\b\tc'", 0, "a\\\\b\\tc'");
        CHECK("a\\b\tc", TEXT_ESCAPE_KEEP_TAB | TEXT_ESCAPE_KEEP_BACKSLASH, "a\\b\tc");
        CHECK("it's\n", TEXT_ESCAPE_SHELL, "it\\'s\\n");
        CHECK("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80\xff", TEXT_ESCAPE_ASCII,
              "caf\\u00e9 \\u65e5 \\U0001f600\\xff");
        /* a kept tab still leaves the other controls escaped */
        CHECK("\t\r", TEXT_ESCAPE_KEEP_TAB, "\t\\r");
}

/* Decode the escapes back: what was shown is exactly what was there. */
static size_t unescape(const char *s, char *out)
{
        size_t n = 0;
        while (*s) {
                if (*s != '\\') {
                        out[n++] = *s++;
                        continue;
                }
                s++;
                char kind = *s++;
                if (kind == 'n' || kind == 'r' || kind == 't' || kind == '\\') {
                        out[n++] = kind == 'n'   ? '\n'
                                   : kind == 'r' ? '\r'
                                   : kind == 't' ? '\t'
                                                 : '\\';
                } else if (kind == 'x') {
                        char hex[3] = {s[0], s[1], 0};
                        out[n++] = (char)strtol(hex, NULL, 16);
                        s += 2;
                } else {
                        assert_int_equal(kind, 'u');
                        char hex[5] = {s[0], s[1], s[2], s[3], 0};
                        long code = strtol(hex, NULL, 16);
                        s += 4;
                        if (code < 0x800) {
                                out[n++] = (char)(0xc0 | (code >> 6));
                        } else {
                                out[n++] = (char)(0xe0 | (code >> 12));
                                out[n++] = (char)(0x80 | ((code >> 6) & 0x3f));
                        }
                        out[n++] = (char)(0x80 | (code & 0x3f));
                }
        }
        return n;
}

static void test_round_trip_and_no_raw_control(void **state)
{
        (void)state;
        /* a fixed pseudo-random walk over bytes, biased towards the
         * interesting ones */
        static const unsigned char pool[] = {0x00, 0x07, 0x0a, 0x0d, 0x1b, 0x5c, 0x7f, 0x80,
                                             0x9b, 0xc2, 0xc3, 0xe2, 0x80, 0xae, 0xa9, 0xf0,
                                             0x9f, 0xff, 'a',  '[',  0xd8, 0x9c, 0x81, 0xa6};
        uint32_t seed = 12345;
        for (int round = 0; round < 20000; round++) {
                char in[24], back[64];
                size_t length = (size_t)(round % 23);
                for (size_t i = 0; i < length; i++) {
                        seed = seed * 1103515245u + 12345u;
                        in[i] = (char)pool[(seed >> 16) % sizeof(pool)];
                }
                char *s = escaped(in, length, 0);
                for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                        assert_false(*p < 0x20 || *p == 0x7f);
                /* no C1 and no bidi control survives as a character */
                assert_null(strstr(s, "\xc2\x9b"));
                assert_null(strstr(s, "\xe2\x80\xae"));
                size_t n = unescape(s, back);
                assert_int_equal(n, length);
                assert_memory_equal(back, in, length);
                free(s);
        }
}

static void test_truncation_keeps_units_whole(void **state)
{
        (void)state;
        char out[8];
        /* "ab\x1b": 'a' 'b' then a 4-byte escape that does not fit in 7 - 2 */
        size_t needed = text_escape(out, 5, "ab\x1b", 3, 0);
        assert_int_equal(needed, 6);
        assert_string_equal(out, "ab");
        text_escape(out, 4, "\xe6\x97\xa5\xe6\x97\xa5", 6, 0);
        assert_string_equal(out, "\xe6\x97\xa5"); /* never half a character */
        /* text_show says it cut */
        char shown[10];
        assert_string_equal(text_show(shown, sizeof(shown), "abcdefghijkl"), "abcdef...");
        assert_string_equal(text_show(shown, sizeof(shown), "abc\x1b\x1b"), "abc...");
        assert_string_equal(text_show(shown, sizeof(shown), "a\x1b"), "a\\x1b");
        assert_string_equal(text_show(shown, sizeof(shown), NULL), "");
}

static void test_lines_stream(void **state)
{
        (void)state;
        char *text = NULL;
        size_t size = 0;
        FILE *memory = open_memstream(&text, &size);
        assert_non_null(memory);
        FILE *lines = text_escape_lines_open(memory, TEXT_ESCAPE_KEEP_TAB);
        assert_non_null(lines);
        /* unbuffered: every fwrite reaches the filter as it is, so "日" and
         * U+202E are cut across writes */
        setvbuf(lines, NULL, _IONBF, 0);
        fwrite("+a\x1b[2J\t\xe6", 1, 8, lines);
        fwrite("\x97\xa5\n+\xe2\x80", 1, 6, lines);
        fwrite("\xae\rz\n\xc3", 1, 5, lines);
        assert_int_equal(fclose(lines), 0);
        fclose(memory);
        assert_string_equal(text, "+a\\x1b[2J\t\xe6\x97\xa5\n+\\u202e\\rz\n\\xc3");
        free(text);
}

static void test_json_for_a_terminal(void **state)
{
        (void)state;
        json_t *v = json_pack("{s:s}", "a", "x\x7f\x1b\xc2\x9b\xe2\x80\xae\xc3\xa9");
        char *s = text_json_dumps(v, JSON_COMPACT);
        assert_string_equal(s, "{\"a\":\"x\\u007F\\u001B\\u009B\\u202E\\u00E9\"}");
        free(s);
        json_decref(v);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_c0_controls_and_del),
            cmocka_unit_test(test_c1_controls_as_characters_and_as_bytes),
            cmocka_unit_test(test_bidi_controls),
            cmocka_unit_test(test_utf8_kept),
            cmocka_unit_test(test_invalid_utf8_as_bytes),
            cmocka_unit_test(test_flags),
            cmocka_unit_test(test_round_trip_and_no_raw_control),
            cmocka_unit_test(test_truncation_keeps_units_whole),
            cmocka_unit_test(test_lines_stream),
            cmocka_unit_test(test_json_for_a_terminal),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
