/* Record values as text for people and for line-oriented formats (show,
 * syslog, CEF, OCSF's cmd_line). Values that came from untrusted bytes are
 * JSON strings or, when not UTF-8, {"base64": "..."} (util/bytes_json.h);
 * both decode to the original bytes here. The text forms hold no control
 * character, no bidi control and no invalid UTF-8 (util/text_escape.h does
 * the escaping; ordinary UTF-8 is kept), and they are faithful: each can be
 * decoded back to the exact bytes.
 *   escaped text: text_escape's forms ("\\", "\n", "\xNN", "\u202e", ...);
 *   argv:         each argument in POSIX-shell quoting ('…' or, when it holds
 *                 something '…' cannot show, bash's $'…' with the escapes above),
 *                 joined with spaces — paste it into bash to get the argv. */
#ifndef REINS_AUDIT_TEXT_H
#define REINS_AUDIT_TEXT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct audit_buffer {
        char *data; /* NUL-terminated when non-NULL */
        size_t length, capacity;
        bool failed; /* an allocation failed: the contents are incomplete */
        bool ascii;  /* escaped text added here is ASCII only (export formats) */
};

void audit_buffer_add(struct audit_buffer *b, const char *bytes, size_t length);
void audit_buffer_adds(struct audit_buffer *b, const char *string);
void audit_buffer_addf(struct audit_buffer *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void audit_buffer_addc(struct audit_buffer *b, char c);
/* The string (caller frees), or NULL when an allocation failed. */
char *audit_buffer_take(struct audit_buffer *b);
void audit_buffer_free(struct audit_buffer *b);

/* The bytes a value stands for: a string, or a {"base64"} object. Returns
 * a malloc'd copy (NUL-terminated, may hold NULs: use *length) or NULL. */
char *audit_value_bytes(const json_t *value, size_t *length);

void audit_text_escape(struct audit_buffer *b, const char *bytes, size_t length);
void audit_shell_quote(struct audit_buffer *b, const char *bytes, size_t length);
/* An argv array as shell words. */
void audit_argv_text(struct audit_buffer *b, const json_t *argv);
/* Any value as escaped text: strings and base64 objects decoded; argv-like
 * arrays of strings as shell words (not escaped again); numbers and booleans as JSON; other
 * objects and arrays as compact ASCII JSON. */
void audit_value_text(struct audit_buffer *b, const json_t *value);

#endif
