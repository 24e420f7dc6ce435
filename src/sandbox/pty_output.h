/* What the pty relay has shown on the caller's terminal, as far as reins'
 * own notices need to know it (cli/notice.c): whether the cursor is past
 * column 0, whether a full-screen program switched to the alternate screen,
 * and whether the last bytes stopped inside an escape sequence. The relay
 * feeds every byte it writes through pty_output_observe; the state is the
 * process's own (one relay per supervisor). */
#ifndef REINS_SANDBOX_PTY_OUTPUT_H
#define REINS_SANDBOX_PTY_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

struct pty_output_view {
        bool midline;     /* the cursor is (most likely) past column 0 */
        bool alternate;   /* the alternate screen is on (vim, less, htop...) */
        bool in_sequence; /* the output stopped inside an escape sequence */
};

void pty_output_observe(const char *bytes, size_t length);
void pty_output_get(struct pty_output_view *view);
/* reins wrote a notice of its own after cancelling any cut sequence (CAN);
 * `line` when it was a line (the cursor is now at column 0), not a status
 * line (the cursor was put back). */
void pty_output_notice_written(bool line);
void pty_output_reset(void);

#endif
