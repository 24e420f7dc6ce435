/* The CLI's side of reins' own lines on the terminal (util/notice.h).
 *
 * While a session runs with a pty, the caller's terminal is raw: a bare
 * "\n" moves down without returning to column 0, so a notice written the
 * ordinary way leaves the program's next line starting mid-screen (a
 * staircase), and a notice written into a full-screen program's screen
 * scrolls or overwrites it. On a raw terminal a notice therefore
 *   - starts at column 0 (after "\r\n" when the relayed output stopped
 *     mid-line, so the program's partial line is kept) and ends with "\r\n";
 *   - cancels an escape sequence the relayed output stopped inside (CAN), so
 *     its bytes are not taken as the sequence's parameters;
 *   - in the alternate screen (vim, less, htop...), is a status line instead:
 *     the bottom row, cursor and attributes saved and restored, nothing
 *     scrolled; the program's next redraw of that row replaces it.
 * Elsewhere it is one "reins: ...\n" line. Every notice is escaped
 * (util/text_escape.h). Errors print through notice() too. */
#ifndef REINS_CLI_NOTICE_H
#define REINS_CLI_NOTICE_H

#include "util/error.h"
#include "util/notice.h"

/* Use the terminal-aware writer for every notice of this process. */
void cli_notice_install(void);

/* "reins: MESSAGE", escaped. */
void cli_error(const struct reins_error *err);

#endif
