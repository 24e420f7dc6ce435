/* Every exporter's escaping against hostile strings: a value can never end
 * its field, forge another field or event, or lose a byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/export.h"
#include "audit/format.h"
#include "audit/text.h"
#include "util/bytes_json.h"

static char *escape_with(void (*escape)(struct audit_buffer *, const char *, size_t),
                         const char *text)
{
        struct audit_buffer b = {0};
        escape(&b, text, strlen(text));
        return audit_buffer_take(&b);
}

static void test_syslog_param_escaping(void **state)
{
        (void)state;
        char *s = escape_with(audit_syslog_escape_param, "a\"b\\c]d=e[f");
        assert_string_equal(s, "a\\\"b\\\\c\\]d=e[f");
        free(s);
}

static void test_cef_header_escaping(void **state)
{
        (void)state;
        char *s = escape_with(audit_cef_escape_header, "a|b\\c=d\ne");
        assert_string_equal(s, "a\\|b\\\\c=d e");
        free(s);
}

static void test_cef_extension_escaping(void **state)
{
        (void)state;
        char *s = escape_with(audit_cef_escape_extension, "a=b\\c|d\ne\rf");
        assert_string_equal(s, "a\\=b\\\\c|d\\ne\\rf");
        free(s);
}

static void test_text_escape_and_shell_quote(void **state)
{
        (void)state;
        struct audit_buffer b = {0};
        audit_text_escape(&b, "a\n\t\\'\x01\xff", 7);
        char *s = audit_buffer_take(&b);
        assert_string_equal(s, "a\\n\\t\\\\'\\x01\\xff");
        free(s);
        json_t *argv = bytes_json_array(
            (char *[]){"ls", "two words", "it's", "a\nb", (char *)"\xff\xfe", "", NULL});
        audit_argv_text(&b, argv);
        s = audit_buffer_take(&b);
        assert_string_equal(s, "ls 'two words' $'it\\'s' $'a\\nb' $'\\xff\\xfe' ''");
        free(s);
        json_decref(argv);
}

static json_t *hostile_exec(void)
{
        return json_pack(
            "{s:s, s:s, s:s, s:I, s:o, s:o, s:s, s:s}", "type", "exec", "time",
            "2026-11-23T21:00:00.500000Z", "session", "abc", "seq", (json_int_t)4, "argv",
            bytes_json_array((char *[]){"sh", "-c", "x\"] [evil@1 a=\"b\" |CEF:0|x|\n<13>1 forged",
                                        (char *)"\xff=\\", NULL}),
            "path", bytes_json_z("/bin/sh"), "cwd", "/w|x=y", "result", "ok");
}

static void assert_single_ascii_line(const char *line)
{
        for (const unsigned char *p = (const unsigned char *)line; *p; p++)
                if (*p < 0x20 || *p >= 0x7f)
                        fail_msg("byte 0x%02x in an exported line", *p);
}

static void test_syslog_line(void **state)
{
        (void)state;
        json_t *record = hostile_exec();
        char *line = audit_export_line(AUDIT_EXPORT_SYSLOG, record, "host");
        assert_non_null(line);
        assert_single_ascii_line(line);
        /* facility 13 (log audit), severity 6 (info), version 1 */
        assert_memory_equal(
            line, "<110>1 2026-11-23T21:00:00.500000Z host reins - exec [reins@32473 ", 66);
        /* structured data: one element; every '"', '\' and ']' inside values
         * is escaped, so the first unescaped ']' closes it */
        const char *sd = strchr(line, '[');
        size_t elements = 0;
        bool in_value = false;
        const char *end = NULL;
        for (const char *p = sd; *p; p++) {
                if (*p == '\\' && in_value) {
                        p++;
                        continue;
                }
                if (*p == '"')
                        in_value = !in_value;
                else if (*p == '[' && !in_value)
                        elements++;
                else if (*p == ']' && !in_value && !end)
                        end = p;
        }
        assert_int_equal(elements, 1);
        assert_non_null(end);
        assert_non_null(strstr(line, "seq=\"4\""));
        free(line);
        json_decref(record);
}

static void test_cef_line(void **state)
{
        (void)state;
        json_t *record = hostile_exec();
        char *line = audit_export_line(AUDIT_EXPORT_CEF, record, NULL);
        assert_non_null(line);
        assert_single_ascii_line(line);
        /* exactly seven unescaped '|' separate the header */
        int bars = 0;
        const char *extension = NULL;
        for (const char *p = line; *p && bars < 7; p++) {
                if (*p == '\\') {
                        p++;
                        continue;
                }
                if (*p == '|' && ++bars == 7)
                        extension = p + 1;
        }
        assert_non_null(extension);
        assert_memory_equal(line, "CEF:0|reins|reins|", 18);
        /* in the extension no '=' is unescaped except after a key */
        assert_non_null(strstr(extension, "rt=1795467600500"));
        assert_non_null(strstr(extension, "cs1=abc"));
        assert_null(strstr(extension, " a=\"b\""));
        free(line);
        json_decref(record);
}

/* Found by fuzz_trail: the record's type went into the CEF header as it
 * was, with ESC, BEL or DEL in it (a trail is a file: anyone who can write
 * it chooses the type). */
static void test_cef_hostile_type(void **state)
{
        (void)state;
        json_t *record = json_pack("{s:s, s:s, s:i}", "type", "risk.x\x1b[2J\a\x7f\xc2\x9b|y",
                                   "time", "2026-11-23T21:00:00.5Z", "seq", 1);
        assert_non_null(record);
        char *line = audit_export_line(AUDIT_EXPORT_CEF, record, NULL);
        assert_non_null(line);
        assert_single_ascii_line(line);
        /* text-escaped (\xNN, U+009B as \u009b), then CEF-escaped ('\' and '|' get a '\') */
        assert_non_null(strstr(line, "|risk.x\\\\x1b[2J\\\\x07\\\\x7f\\\\u009b\\|y|"));
        free(line);
        json_decref(record);
}

static void test_ocsf(void **state)
{
        (void)state;
        json_t *record = hostile_exec();
        json_t *ocsf = audit_export_ocsf(record);
        assert_int_equal(json_integer_value(json_object_get(ocsf, "class_uid")), 1007);
        assert_int_equal(json_integer_value(json_object_get(ocsf, "category_uid")), 1);
        assert_int_equal(json_integer_value(json_object_get(ocsf, "activity_id")), 1);
        assert_int_equal(json_integer_value(json_object_get(ocsf, "type_uid")), 100701);
        assert_int_equal(json_integer_value(json_object_get(ocsf, "time")), 1795467600500LL);
        json_t *metadata = json_object_get(ocsf, "metadata");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(metadata, "product"), "name")),
            "reins");
        const char *cmd =
            json_string_value(json_object_get(json_object_get(ocsf, "process"), "cmd_line"));
        assert_non_null(strstr(cmd, "$'\\xff=\\\\'"));
        /* the original record, whole */
        assert_true(json_equal(json_object_get(ocsf, "unmapped"), record));
        json_decref(ocsf);

        json_t *net = json_pack("{s:s, s:s, s:s, s:i, s:s}", "type", "net.decision", "decision",
                                "deny", "host", "evil.example", "port", 443, "protocol", "tcp");
        ocsf = audit_export_ocsf(net);
        assert_int_equal(json_integer_value(json_object_get(ocsf, "class_uid")), 4001);
        assert_int_equal(json_integer_value(json_object_get(ocsf, "activity_id")), 5);
        assert_int_equal(json_integer_value(json_object_get(ocsf, "severity_id")), 3);
        json_decref(ocsf);
        json_object_set_new(net, "protocol", json_string("https"));
        ocsf = audit_export_ocsf(net);
        assert_int_equal(json_integer_value(json_object_get(ocsf, "class_uid")), 4002);
        json_decref(ocsf);
        json_decref(net);

        json_t *limit = json_pack("{s:s, s:s}", "type", "limit", "kind", "memory");
        ocsf = audit_export_ocsf(limit);
        assert_int_equal(json_integer_value(json_object_get(ocsf, "class_uid")), 2004);
        json_decref(ocsf);
        json_decref(limit);
        json_t *other = json_pack("{s:s}", "type", "session.start");
        ocsf = audit_export_ocsf(other);
        assert_int_equal(json_integer_value(json_object_get(ocsf, "class_uid")), 0);
        json_decref(ocsf);
        json_decref(other);
        json_decref(record);
}

/* Found by fuzz_trail: a checkpoint's root was shown as its first 16 bytes,
 * raw (whoever writes the trail chooses them). */
static void test_show_checkpoint_root(void **state)
{
        (void)state;
        json_t *record = json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:b}", "type", "checkpoint",
                                   "time", "2026-11-23T21:00:00.5Z", "session", "abc", "seq", 4,
                                   "tree_size", 4, "root", "66ef\x1b[2J\xd4\x99\x07", "final", 1);
        assert_non_null(record);
        char *line = audit_format_line(record, false);
        /* no control byte reaches the terminal; a printable character (U+0519) may */
        for (const unsigned char *p = (const unsigned char *)line; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        fail_msg("control byte 0x%02x in a shown line", *p);
        assert_non_null(strstr(line, "root 66ef\\x1b[2J\xd4\x99\\x07..., final"));
        free(line);
        json_decref(record);
}

static void test_show_line(void **state)
{
        (void)state;
        json_t *record = hostile_exec();
        char *line = audit_format_line(record, false);
        assert_single_ascii_line(line);
        assert_non_null(strstr(line, "2026-11-23 21:00:00.500 abc #4 exec"));
        free(line);
        line = audit_format_line(record, true);
        assert_non_null(strstr(line, "\033[36m"));
        free(line);
        json_decref(record);
}

int main(void)
{
        if (sodium_init() < 0)
                return 1;
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_syslog_param_escaping),
            cmocka_unit_test(test_cef_header_escaping),
            cmocka_unit_test(test_cef_extension_escaping),
            cmocka_unit_test(test_text_escape_and_shell_quote),
            cmocka_unit_test(test_syslog_line),
            cmocka_unit_test(test_cef_line),
            cmocka_unit_test(test_cef_hostile_type),
            cmocka_unit_test(test_ocsf),
            cmocka_unit_test(test_show_line),
            cmocka_unit_test(test_show_checkpoint_root),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
