/* reins' own one-line notices for the person at the terminal while a
 * session runs ("approval needed", a risk tier change, a freeze). Library
 * code calls notice(); the CLI installs the writer that puts the line on
 * the terminal (cli/notice.h). Any part of a notice may hold bytes the agent
 * chose (a host, a reason, a path): every writer escapes the whole line with
 * util/text_escape.h, so callers pass such strings as they are. */
#ifndef REINS_UTIL_NOTICE_H
#define REINS_UTIL_NOTICE_H

/* Writes one notice: `text` has no "reins: " prefix and no line end. */
typedef void (*notice_writer)(const char *text);

/* NULL restores the default: "reins: TEXT\n" on stderr, escaped. */
void notice_set_writer(notice_writer writer);

void notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
