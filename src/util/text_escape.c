#include "util/text_escape.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at p (RFC 3629, Unicode table
 * 3-7: no overlong forms, no surrogates, nothing above U+10FFFF) and its
 * code point; 0 when the bytes there are not one. */
static size_t utf8_sequence(const unsigned char *p, size_t left, uint32_t *code)
{
        unsigned char c = p[0];
        size_t n;
        unsigned char low = 0x80, high = 0xbf; /* the second byte's range */
        if (c >= 0xc2 && c <= 0xdf) {
                n = 2;
                *code = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
                n = 3;
                *code = c & 0x0fu;
                if (c == 0xe0)
                        low = 0xa0; /* overlong */
                else if (c == 0xed)
                        high = 0x9f; /* UTF-16 surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
                n = 4;
                *code = c & 0x07u;
                if (c == 0xf0)
                        low = 0x90; /* overlong */
                else if (c == 0xf4)
                        high = 0x8f; /* above U+10FFFF */
        } else {
                return 0; /* a continuation byte, C0/C1 as a byte, or 0xc0 0xc1 0xf5-0xff */
        }
        if (left < n || p[1] < low || p[1] > high)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if (p[i] < 0x80 || p[i] > 0xbf)
                        return 0;
                *code = (*code << 6) | (p[i] & 0x3fu);
        }
        return n;
}

/* Characters that are well-formed but act on the terminal or on how a line
 * reads: C1 controls (U+009B is CSI, U+009D OSC), bidi embeddings,
 * overrides, isolates and marks (they reorder what the human reads), and
 * the Unicode line and paragraph separators. */
static bool code_point_is_hidden_control(uint32_t code)
{
        return (code >= 0x80 && code <= 0x9f) || code == 0x061c || code == 0x200e ||
               code == 0x200f || (code >= 0x202a && code <= 0x202e) ||
               (code >= 0x2066 && code <= 0x2069) || code == 0x2028 || code == 0x2029;
}

/* The escaped form of the unit at p (one byte, or one UTF-8 character) in
 * unit[] (not NUL-terminated, at most 10 bytes); returns its length and sets
 * *used to the number of input bytes it stands for. */
static size_t escape_unit(const unsigned char *p, size_t left, unsigned flags, char unit[12],
                          size_t *used)
{
        unsigned char c = p[0];
        *used = 1;
        if (c < 0x80) {
                switch (c) {
                case '\n':
                        memcpy(unit, "\\n", 2);
                        return 2;
                case '\r':
                        memcpy(unit, "\\r", 2);
                        return 2;
                case '\t':
                        if (flags & TEXT_ESCAPE_KEEP_TAB)
                                break;
                        memcpy(unit, "\\t", 2);
                        return 2;
                case '\\':
                        if (flags & TEXT_ESCAPE_KEEP_BACKSLASH)
                                break;
                        memcpy(unit, "\\\\", 2);
                        return 2;
                case '\'':
                        if (!(flags & TEXT_ESCAPE_SHELL))
                                break;
                        memcpy(unit, "\\'", 2);
                        return 2;
                default:
                        if (c < 0x20 || c == 0x7f) {
                                snprintf(unit, 12, "\\x%02x", c);
                                return 4;
                        }
                }
                unit[0] = (char)c;
                return 1;
        }
        uint32_t code = 0;
        size_t n = utf8_sequence(p, left, &code);
        if (n == 0) {
                snprintf(unit, 12, "\\x%02x", c);
                return 4;
        }
        *used = n;
        if (code_point_is_hidden_control(code) || (flags & TEXT_ESCAPE_ASCII)) {
                if (code > 0xffff) {
                        snprintf(unit, 12, "\\U%08x", (unsigned)code);
                        return 10;
                }
                snprintf(unit, 12, "\\u%04x", (unsigned)code);
                return 6;
        }
        memcpy(unit, p, n);
        return n;
}

size_t text_escape(char *out, size_t size, const char *bytes, size_t length, unsigned flags)
{
        const unsigned char *p = (const unsigned char *)bytes;
        size_t total = 0, written = 0, used = 0;
        bool full = size == 0;
        for (size_t i = 0; i < length; i += used) {
                char unit[12];
                size_t n = escape_unit(p + i, length - i, flags, unit, &used);
                /* all or nothing per unit: a cut "\x1" or half a character
                 * would make the shown text lie */
                if (!full && written + n < size) {
                        memcpy(out + written, unit, n);
                        written += n;
                } else {
                        full = true;
                }
                total += n;
        }
        if (size > 0)
                out[written] = '\0';
        return total;
}

bool text_escape_needed(const char *bytes, size_t length, unsigned flags)
{
        return text_escape(NULL, 0, bytes, length, flags) != length;
}

const char *text_show(char *out, size_t size, const char *string)
{
        if (size == 0)
                return "";
        if (!string)
                string = "";
        size_t length = strlen(string);
        if (text_escape(out, size, string, length, 0) < size || size < 4)
                return out;
        /* did not fit: cut one unit earlier so "..." says so */
        text_escape(out, size - 3, string, length, 0);
        strcat(out, "...");
        return out;
}

char *text_escape_dup(const char *bytes, size_t length, unsigned flags)
{
        size_t needed = text_escape(NULL, 0, bytes, length, flags);
        char *copy = malloc(needed + 1);
        if (copy)
                text_escape(copy, needed + 1, bytes, length, flags);
        return copy;
}

void text_escape_write(FILE *out, const char *bytes, size_t length, unsigned flags)
{
        const unsigned char *p = (const unsigned char *)bytes;
        size_t used = 0;
        for (size_t i = 0; i < length; i += used) {
                char unit[12];
                size_t n = escape_unit(p + i, length - i, flags, unit, &used);
                fwrite(unit, 1, n, out);
        }
}

/* ---- a stream of escaped lines -------------------------------------------- */

struct text_lines {
        FILE *out;
        unsigned flags;
        unsigned char held[3]; /* the start of a character cut by the write boundary */
        size_t held_length;
};

/* How many bytes at the end of p[0..n) begin a UTF-8 sequence that the next
 * write may complete. */
static size_t utf8_cut_tail(const unsigned char *p, size_t n)
{
        for (size_t k = 1; k <= 3 && k <= n; k++) {
                unsigned char c = p[n - k];
                if (c >= 0x80 && c <= 0xbf)
                        continue; /* a continuation byte: look further back */
                size_t needs = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
                return c >= 0xc2 && c <= 0xf4 && needs > k ? k : 0;
        }
        return 0;
}

static void text_lines_put(struct text_lines *t, const char *bytes, size_t length)
{
        const char *end = bytes + length;
        for (const char *p = bytes; p < end;) {
                const char *newline = memchr(p, '\n', (size_t)(end - p));
                const char *stop = newline ? newline : end;
                text_escape_write(t->out, p, (size_t)(stop - p), t->flags);
                if (newline)
                        fputc('\n', t->out);
                p = newline ? newline + 1 : end;
        }
}

static ssize_t text_lines_write(void *cookie, const char *buf, size_t size)
{
        struct text_lines *t = cookie;
        char *joined = malloc(t->held_length + size);
        if (!joined)
                return -1;
        memcpy(joined, t->held, t->held_length);
        memcpy(joined + t->held_length, buf, size);
        size_t length = t->held_length + size;
        size_t cut = utf8_cut_tail((const unsigned char *)joined, length);
        text_lines_put(t, joined, length - cut);
        memcpy(t->held, joined + length - cut, cut);
        t->held_length = cut;
        free(joined);
        return ferror(t->out) ? -1 : (ssize_t)size;
}

static int text_lines_close(void *cookie)
{
        struct text_lines *t = cookie;
        text_lines_put(t, (const char *)t->held, t->held_length); /* never completed */
        int r = fflush(t->out) == 0 && !ferror(t->out) ? 0 : -1;
        free(t);
        return r;
}

FILE *text_escape_lines_open(FILE *out, unsigned flags)
{
        struct text_lines *t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        t->out = out;
        t->flags = flags;
        FILE *stream = fopencookie(
            t, "w", (cookie_io_functions_t){.write = text_lines_write, .close = text_lines_close});
        if (!stream)
                free(t);
        return stream;
}

/* ---- JSON for a person's terminal ------------------------------------------ */

char *text_json_dumps(const json_t *value, size_t flags)
{
        char *text = json_dumps(value, flags | JSON_ENSURE_ASCII);
        if (!text)
                return NULL;
        size_t dels = 0, length = 0;
        for (; text[length]; length++)
                dels += text[length] == 0x7f;
        if (dels == 0)
                return text;
        /* ASCII output holds DEL only inside strings, where \u007f means the same */
        char *out = malloc(length + dels * 5 + 1);
        if (out) {
                char *p = out;
                for (size_t i = 0; i < length; i++) {
                        if (text[i] == 0x7f) {
                                memcpy(p, "\\u007F", 6); /* jansson writes upper case */
                                p += 6;
                        } else {
                                *p++ = text[i];
                        }
                }
                *p = '\0';
        }
        free(text);
        return out;
}

int text_json_write(FILE *out, const json_t *value, size_t flags)
{
        char *text = text_json_dumps(value, flags);
        if (!text)
                return -1;
        int r = fputs(text, out) < 0 ? -1 : 0;
        free(text);
        return r;
}
