/* reins run --pool-fd FD: a warm pool's member, for `reins serve`
 * (serve/pool.c says why and how). */
#ifndef REINS_CLI_RUN_POOL_H
#define REINS_CLI_RUN_POOL_H

#include <stdbool.h>

#include "session/session.h"
#include "util/strv.h"

/* The session is started and parked (session_config.pool_member). Say
 * "ready" on `fd`, then wait for the daemon's request or for a reason to
 * end: the daemon gone or the member retired (EOF), the workspace changed
 * (`guard`, session/pool_guard.h). With a request the command runs
 * (session_run_command) and true is returned; `argv` holds the command and
 * must outlive the session. false: retired (nothing ran). */
struct pool_guard;
bool run_pool_member(struct session *session, int fd, struct pool_guard *guard,
                     struct reins_strv *argv);

#endif
