/* Line diff: Myers' O(ND) algorithm in linear space (divide at the middle
 * snake), after dropping lines that occur on one side only (they can never
 * match, so the result stays minimal while the search shrinks), with a cost
 * cap that falls back to the furthest-reaching path on pathological inputs.
 * Output: unified hunks with N lines of context, byte-exact (git apply
 * accepts them) or with control characters made visible for a terminal. */
#ifndef REINS_WORKSPACE_TEXTDIFF_H
#define REINS_WORKSPACE_TEXTDIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct textdiff_line {
        const char *start;
        size_t length; /* including the '\n', absent only on a last line */
};

struct textdiff_text {
        struct textdiff_line *lines;
        size_t count;
};

/* Split `data` into lines (borrowed: `data` must outlive the text). -ENOMEM. */
int textdiff_split(const char *data, size_t length, struct textdiff_text *out);
void textdiff_text_free(struct textdiff_text *text);

/* Binary as git decides it: a NUL byte in the first 8000 bytes. */
bool textdiff_is_binary(const char *data, size_t length);

/* Mark the lines to delete from `a` and insert from `b` (arrays of count
 * bytes, set to 0/1). -ENOMEM. */
int textdiff_compute(const struct textdiff_text *a, const struct textdiff_text *b, char *delete_a,
                     char *insert_b);

enum textdiff_style {
        TEXTDIFF_EXACT,   /* the bytes as they are: for patches */
        TEXTDIFF_VISIBLE, /* for a terminal: escaped by util/text_escape.h but tabs and
                             backslashes, so a file cannot hide lines with escape
                             sequences, '\r', C1 controls or bidi overrides */
};

/* Write the hunks ("@@ -l,s +l,s @@" and lines) for a computed diff. Adds
 * the counts of inserted and deleted lines to *insertions / *deletions. */
int textdiff_write_unified(FILE *out, const struct textdiff_text *a, const char *delete_a,
                           const struct textdiff_text *b, const char *insert_b, size_t context,
                           enum textdiff_style style, size_t *insertions, size_t *deletions);

/* The three steps above in one call, for two buffers. */
int textdiff_unified(FILE *out, const char *a, size_t a_length, const char *b, size_t b_length,
                     size_t context, enum textdiff_style style, size_t *insertions,
                     size_t *deletions);

#endif
