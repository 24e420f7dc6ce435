/* reins run --pool-fd FD: a warm pool's member, for `reins serve`
 * (serve/pool.c says why and how). */
#ifndef REINS_CLI_RUN_POOL_H
#define REINS_CLI_RUN_POOL_H

#include <stdbool.h>

#include "session/session.h"
#include "util/strv.h"

struct pool_guard;

/* One member's state while it waits; the caller's, alive until
 * session_wait returns. */
struct run_pool {
        struct session *session;
        int fd;                   /* the daemon's socket */
        struct pool_guard *guard; /* the workspace's watch (session/pool_guard.h) */
        struct reins_strv *argv;  /* the command, once taken (must outlive the session) */
};

/* The session is started and parked (session_config.pool_member): say
 * "ready" on the socket and have session_wait's loop watch it and the
 * workspace. In that loop: the daemon's request runs the command
 * (session_run_command); the daemon gone, the member retired (EOF) or the
 * workspace changed retire it (session_retire: session_wait returns and
 * session_retired says so). */
int run_pool_member(struct run_pool *pool);

#endif
