/* Start one session as a supervisor process of its own: fork, then in the
 * child setsid, stdin from /dev/null, stdout and stderr to the session's
 * files, every other fd closed, the signal mask and dispositions reset, the
 * caller's uid/gid/groups when the daemon runs as root for another user,
 * and exec `reins run -q --session-id ID -p POLICY -w WORKSPACE
 * [--daemon-key HEX] [--expect-agent NAME] [--env NAME=VALUE...] --
 * COMMAND...`. The daemon is not needed after that: it may
 * die, restart or be upgraded while the session runs. */
#ifndef REINS_SERVE_LAUNCH_H
#define REINS_SERVE_LAUNCH_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "util/error.h"
#include "util/strv.h"

struct serve_launch {
        const char *reins;       /* the binary */
        const char *session;     /* the id, drawn by the daemon */
        const char *session_dir; /* where stdout and stderr go */
        const char *policy;
        const char *workspace;
        const json_t *command; /* array of strings, not empty */
        const json_t *env;     /* object of strings, may be NULL */
        uid_t uid;             /* who the session runs as */
        gid_t gid;
        const char *home;
        const char *user; /* the name, for USER and LOGNAME; may be NULL */
        /* the same user as the daemon: pass its XDG_* directories on, so the
         * session's registry, trail and key are the daemon's */
        bool inherit_xdg;
        /* a warm pool's member (serve/pool.h): this socket becomes its fd 4
         * and `reins run --pool-fd 4` parks the sandbox; `command` is a
         * placeholder the request replaces. -1: an ordinary session */
        int pool_fd;
        /* the daemon's public key, hex (reins run --daemon-key): the session
         * takes answers and thaws it signed; NULL: only its user's */
        const char *daemon_key;
        /* the agent the daemon checked the policy's agent: to be (reins run
         * --expect-agent; "" none): the supervisor refuses to start when the
         * policy it reads names another. NULL: not checked */
        const char *expect_agent;
        /* the daemon's state directory (its key, its records): hidden from
         * the sandbox (reins run --daemon-state); NULL: not passed */
        const char *daemon_state;
};

/* The supervisor's pid, once exec succeeded (0), or -errno with err: the
 * exec's own failure included (reported through a close-on-exec pipe). */
int serve_launch(const struct serve_launch *launch, pid_t *pid, struct reins_error *err);

/* The environment `reins run` gets (PATH, HOME, USER, LOGNAME, LANG, and
 * the daemon's XDG_* directories when inherit_xdg): also that of the other
 * reins commands the daemon runs as the session's user (serve/api_workspace.c),
 * so they find the session's state where `reins run` put it. Only `home`,
 * `user` and `inherit_xdg` are read. */
int serve_launch_environment(const struct serve_launch *l, struct reins_strv *env);

#endif
