/* The CLI's side of reins' own lines on the terminal (util/notice.h):
 * errors print through notice(), so they are escaped like every notice (an
 * error about a workspace file names a file the agent named). */
#ifndef REINS_CLI_NOTICE_H
#define REINS_CLI_NOTICE_H

#include "util/error.h"
#include "util/notice.h"

/* "reins: MESSAGE", escaped. */
void cli_error(const struct reins_error *err);

#endif
