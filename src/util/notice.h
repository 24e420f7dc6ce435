/* reins' own one-line notices for the person at the terminal while a
 * session runs ("approval needed", a risk tier change, a freeze). Library
 * code calls notice(); the CLI installs the writer that puts the line on
 * the terminal (cli/notice.h), which knows how to write on a raw terminal
 * without breaking what the sandbox's program shows. Any part of a notice
 * may hold bytes the agent chose (a host, a reason, a path): every writer
 * escapes the whole line with util/text_escape.h, so callers pass such
 * strings as they are. */
#ifndef REINS_UTIL_NOTICE_H
#define REINS_UTIL_NOTICE_H

/* Writes one notice: `text` has no "reins: " prefix and no line end; the
 * writer escapes it with text_escape(`escape_flags`). */
typedef void (*notice_writer)(const char *text, unsigned escape_flags);

/* NULL restores the default: "reins: TEXT\n" on stderr, escaped. */
void notice_set_writer(notice_writer writer);

void notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same with text_escape flags: TEXT_ESCAPE_KEEP_BACKSLASH for text that
 * is already an escaped form (a JSON line). */
void notice_with(unsigned escape_flags, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
