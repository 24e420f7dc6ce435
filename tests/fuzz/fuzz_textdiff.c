/* The workspace diff (workspace/textdiff.c) over files the agent wrote:
 * `reins diff` shows it to a person, `reins apply` writes the patch. No
 * patch text is parsed back (apply works on files), so the attack surface is
 * the line splitting, the diff of two hostile buffers and the writing. The
 * first two bytes say where the input splits into the old and the new file,
 * the third picks the context and the style. Beyond memory safety: the
 * marks describe a real common subsequence (a diff that hid a change would
 * show the person something other than what is applied), the counts match
 * the marks, the terminal style carries no control byte, and a path is
 * written in one line (workspace/gitformat.c). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "workspace/gitformat.h"
#include "workspace/textdiff.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        return 0;
}

static void check_split(const char *data, size_t length, const struct textdiff_text *t)
{
        size_t at = 0;
        for (size_t i = 0; i < t->count; i++) {
                FUZZ_CHECK(t->lines[i].start == data + at && t->lines[i].length > 0);
                at += t->lines[i].length;
                FUZZ_CHECK(at <= length);
                if (i + 1 < t->count)
                        FUZZ_CHECK(data[at - 1] == '\n');
        }
        FUZZ_CHECK(at == length);
}

static bool same_line(const struct textdiff_line *x, const struct textdiff_line *y)
{
        return x->length == y->length && memcmp(x->start, y->start, x->length) == 0;
}

static void check_diff(const char *a, size_t a_length, const char *b, size_t b_length,
                       size_t context, enum textdiff_style style)
{
        struct textdiff_text ta, tb;
        if (textdiff_split(a, a_length, &ta) < 0)
                return;
        if (textdiff_split(b, b_length, &tb) < 0) {
                textdiff_text_free(&ta);
                return;
        }
        check_split(a, a_length, &ta);
        check_split(b, b_length, &tb);
        char *del = malloc(ta.count + 1), *ins = malloc(tb.count + 1);
        FUZZ_CHECK(del && ins);
        FUZZ_CHECK(textdiff_compute(&ta, &tb, del, ins) == 0);
        /* what is neither deleted nor inserted is the same on both sides, in order */
        size_t i = 0, j = 0, deleted = 0, inserted = 0;
        for (;;) {
                while (i < ta.count && del[i])
                        i++, deleted++;
                while (j < tb.count && ins[j])
                        j++, inserted++;
                if (i == ta.count || j == tb.count)
                        break;
                FUZZ_CHECK(same_line(&ta.lines[i], &tb.lines[j]));
                i++, j++;
        }
        FUZZ_CHECK(i == ta.count && j == tb.count);
        char *text = NULL;
        size_t text_length = 0;
        FILE *out = open_memstream(&text, &text_length);
        FUZZ_CHECK(out != NULL);
        size_t insertions = 0, deletions = 0;
        FUZZ_CHECK(textdiff_write_unified(out, &ta, del, &tb, ins, context, style, &insertions,
                                          &deletions) == 0);
        FUZZ_CHECK(fclose(out) == 0);
        FUZZ_CHECK(insertions == inserted && deletions == deleted);
        FUZZ_CHECK((text_length == 0) == (inserted + deleted == 0));
        if (style == TEXTDIFF_VISIBLE)
                for (size_t k = 0; k < text_length; k++) {
                        unsigned char ch = (unsigned char)text[k];
                        FUZZ_CHECK((ch >= 0x20 && ch != 0x7f) || ch == '\n' || ch == '\t');
                }
        free(text);
        free(del);
        free(ins);
        textdiff_text_free(&ta);
        textdiff_text_free(&tb);
}

static void check_path(const char *data, size_t length)
{
        char *name = strndup(data, length < 512 ? length : 512);
        if (!name || !*name) {
                free(name);
                return;
        }
        char *text = NULL;
        size_t text_length = 0;
        FILE *out = open_memstream(&text, &text_length);
        FUZZ_CHECK(out != NULL);
        gitformat_write_path(out, "a/", name);
        FUZZ_CHECK(fclose(out) == 0);
        /* one line, no control byte: a name cannot forge a patch header */
        for (size_t k = 0; k < text_length; k++) {
                unsigned char ch = (unsigned char)text[k];
                FUZZ_CHECK(ch >= 0x20 && ch != 0x7f);
        }
        if (gitformat_path_needs_quotes(name))
                FUZZ_CHECK(text_length >= 2 && text[0] == '"' && text[text_length - 1] == '"');
        free(text);
        free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 3 || size > 100000)
                return 0;
        size_t length = size - 3;
        size_t split = ((size_t)data[0] | (size_t)data[1] << 8) % (length + 1);
        size_t context = data[2] % 8;
        enum textdiff_style style = data[2] & 8 ? TEXTDIFF_VISIBLE : TEXTDIFF_EXACT;
        /* exact copies: ASan sees a read one byte past either end */
        char *a = malloc(split ? split : 1), *b = malloc(length - split ? length - split : 1);
        FUZZ_CHECK(a && b);
        memcpy(a, data + 3, split);
        memcpy(b, data + 3 + split, length - split);
        check_diff(a, split, b, length - split, context, style);
        (void)textdiff_is_binary(b, length - split);
        check_path(b, length - split);
        free(a);
        free(b);
        return 0;
}
