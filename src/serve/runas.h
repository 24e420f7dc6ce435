/* Run one reins command as a session's user and take what it says: how the
 * daemon reviews, applies and discards a copy-on-write session
 * (serve/api_workspace.c) with the very code of `reins diff`, `reins apply`
 * and `reins discard`.
 *
 * The command is forked and exec'd (the daemon has threads: between fork and
 * exec the child makes async-signal-safe calls only) with stdin from
 * /dev/null, stdout and stderr into pipes, every other fd closed, the signal
 * mask reset, the environment `reins run` gets for that user
 * (serve_launch_environment), and, when the user is not the daemon's, that
 * user's groups, gid and uid, set before the exec. A root daemon therefore
 * never touches a user's files as root: what the command can reach is what
 * the user can reach. */
#ifndef REINS_SERVE_RUNAS_H
#define REINS_SERVE_RUNAS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

struct serve_runas {
        const char *reins; /* the binary */
        char *const *argv; /* NULL-terminated, argv[0] included */
        uid_t uid;         /* who runs it */
        gid_t gid;
        const char *user;    /* the name, for its groups, USER and LOGNAME */
        const char *home;    /* HOME */
        bool inherit_xdg;    /* the daemon's own user: its XDG_* directories too */
        size_t out_max;      /* stdout is kept up to this many bytes */
        bool stop_when_full; /* past out_max the command is killed (a diff); else its
                                output is read and dropped until it ends (an apply
                                must finish what it started) */
        int timeout_ms;      /* then it is killed (<= 0: never) (the user may stop its own
                                process: the caller's thread is not held forever) */
};

struct serve_runas_result {
        char *out; /* stdout (NUL-terminated), up to out_max bytes */
        size_t out_length;
        bool out_cut;   /* there was more */
        char err[1024]; /* the last line of its stderr, "reins: " taken off; "" when none */
        int status;     /* its exit status; 128+N after signal N */
        bool timed_out; /* killed after timeout_ms */
};

/* 0 once the command has ended (whatever its status), or -errno with err
 * when it could not be run. */
int serve_runas(const struct serve_runas *run, struct serve_runas_result *result,
                struct reins_error *err);
void serve_runas_result_free(struct serve_runas_result *result);

#endif
