/* Bytes the agent controls, made safe to show a person: the one escaping
 * function every human-facing output goes through (terminal lines, the
 * approval prompt, listings, diffs, audit text).
 *
 * The attack: a reason, a file name, a host or an argv that holds CR, ESC,
 * BEL, a C1 control (U+009B is CSI to many terminals), a bidi override or
 * bytes a terminal decodes on its own can move the cursor, redraw the line
 * the human is answering, set the window title, or reorder what is read
 * (CVE-2021-25743, CVE-2024-52005, "Trojan Source"). Escaped text holds none
 * of these, and ordinary UTF-8 (é, 日本) is left as it is.
 *
 *   "\\"  a backslash (so the text decodes back to the exact bytes);
 *   "\n" "\r" "\t"  line feed, carriage return, tab;
 *   "\xNN"  every other C0 control, DEL, and each byte that is not part of
 *           well-formed UTF-8 (raw C1 bytes 0x80-0x9F among them);
 *   "\uNNNN"  a well-formed character that is a C1 control (U+0080-U+009F),
 *           a bidi control (U+061C, U+200E, U+200F, U+202A-U+202E,
 *           U+2066-U+2069) or a line/paragraph separator (U+2028, U+2029);
 *           with TEXT_ESCAPE_ASCII every character above U+007F ("\UNNNNNNNN"
 *           above U+FFFF).
 * Every form is one bash $'…' understands, so TEXT_ESCAPE_SHELL output in
 * $'…' is the exact argument back. Each escape is longer than what it
 * stands for: the escaped length equals the input length exactly when
 * nothing was escaped. */
#ifndef REINS_UTIL_TEXT_ESCAPE_H
#define REINS_UTIL_TEXT_ESCAPE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum text_escape_flags {
        TEXT_ESCAPE_KEEP_TAB = 1 << 0,       /* a tab stays a tab (diff bodies) */
        TEXT_ESCAPE_KEEP_BACKSLASH = 1 << 1, /* '\' stays: text read, never decoded (diff bodies) */
        TEXT_ESCAPE_SHELL = 1 << 2,          /* inside bash $'…': '\'' as "\'" */
        TEXT_ESCAPE_ASCII = 1 << 3,          /* every character above U+007F as \uNNNN or \UNNNNNNNN
                                                (formats for machines that promise ASCII) */
};

/* The escaped form of `length` bytes into out, like snprintf: at most
 * size - 1 bytes and a NUL (out may be NULL when size is 0), never cutting an
 * escape or a character in two; returns the length the whole escaped text
 * needs. */
size_t text_escape(char *out, size_t size, const char *bytes, size_t length, unsigned flags);

/* Whether text_escape would change anything. */
bool text_escape_needed(const char *bytes, size_t length, unsigned flags);

/* For a printf argument: a NUL-terminated string (NULL shows as "")
 * escaped into out, ending in "..." when it did not fit. Returns out. */
const char *text_show(char *out, size_t size, const char *string);

/* A malloc'd escaped copy, NUL-terminated; NULL when out of memory. */
char *text_escape_dup(const char *bytes, size_t length, unsigned flags);

/* The escaped form written to a stream. */
void text_escape_write(FILE *out, const char *bytes, size_t length, unsigned flags);

/* A stream whose text reaches `out` escaped line by line: '\n' passes, the
 * rest is escaped as by text_escape (a character cut by a write boundary is
 * kept whole). For multi-line output bound for a terminal (a patch).
 * fclose() flushes it; `out` stays open. NULL when out of memory. */
FILE *text_escape_lines_open(FILE *out, unsigned flags);

/* JSON a person may read on a terminal: jansson's ASCII form (every control
 * and every character above U+007E as \uXXXX) with DEL, which jansson leaves
 * raw, as \u007f too. A malloc'd string / written to out (0, or -1). */
char *text_json_dumps(const json_t *value, size_t flags);
int text_json_write(FILE *out, const json_t *value, size_t flags);

#endif
