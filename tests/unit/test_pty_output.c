/* What the pty relay showed, as reins' notices need it: column 0 or not,
 * the alternate screen, a cut escape sequence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "sandbox/pty_output.h"

static struct pty_output_view after(const char *bytes)
{
        pty_output_observe(bytes, strlen(bytes));
        struct pty_output_view view;
        pty_output_get(&view);
        return view;
}

static int reset(void **state)
{
        (void)state;
        pty_output_reset();
        return 0;
}

static void test_column(void **state)
{
        (void)state;
        assert_false(after("").midline);
        assert_true(after("$ partial").midline);
        assert_false(after("line\r\n").midline);
        assert_true(after("x\x1b[31mred\x1b[0m").midline); /* SGR moves nothing */
        assert_false(after("\r").midline);
        assert_true(after("\x1b[3;7H").midline);
        assert_false(after("\x1b[3;1H").midline);
        assert_false(after("\x1b[H").midline);
        assert_true(after("\x1b[5G").midline);
        assert_false(after("\x1b[G").midline);
        assert_true(after("caf\xc3\xa9").midline);
}

static void test_alternate_screen(void **state)
{
        (void)state;
        assert_true(after("\x1b[?1049h\x1b[2J").alternate);
        assert_false(after("\x1b[?1049l").alternate);
        assert_true(after("\x1b[?1;47h").alternate);
        assert_false(after("\x1b[?47l").alternate);
        assert_true(after("\x1b[?1047h").alternate);
        assert_false(after("\x1b"
                           "c")
                         .alternate); /* RIS */
        /* not a private mode: insert mode on */
        assert_false(after("\x1b[4h").alternate);
        /* a title (OSC) holding the same bytes is not a mode change */
        assert_false(after("\x1b]0;\x1b[?1049h\x07").alternate);
}

static void test_cut_sequences(void **state)
{
        (void)state;
        assert_true(after("\x1b[?10").in_sequence);
        assert_true(after("49").in_sequence);
        struct pty_output_view v = after("h");
        assert_false(v.in_sequence);
        assert_true(v.alternate); /* a sequence cut across reads still counts */
        assert_true(after("\x1b]0;title").in_sequence);
        assert_false(after("\x1b\\").in_sequence); /* ST ends the string */
        assert_true(after("\x1b").in_sequence);
        assert_false(after("\x18").in_sequence); /* CAN */
        assert_true(after("\x1b[1;").in_sequence);
        pty_output_notice_written(true);
        v = after("");
        assert_false(v.in_sequence);
        assert_false(v.midline);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup(test_column, reset),
            cmocka_unit_test_setup(test_alternate_screen, reset),
            cmocka_unit_test_setup(test_cut_sequences, reset),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
