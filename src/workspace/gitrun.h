/* Running the host's git for a session's commits (gitcommits.h): a clean
 * environment, fixed options before anything the session wrote, optionally
 * as the repository's owner, and its output read back bounded in bytes. */
#ifndef REINS_WORKSPACE_GITRUN_H
#define REINS_WORKSPACE_GITRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

struct ws_git_runner {
        const char *git_dir;    /* --git-dir */
        const char *object_dir; /* GIT_OBJECT_DIRECTORY, NULL: the git dir's own */
        bool drop;              /* run as uid/gid (root on another user's repository) */
        uid_t uid;
        gid_t gid;
};

struct ws_git_output {
        char *data; /* stdout, NUL-terminated; at most WORKSPACE_GIT_TEXT_MAX bytes */
        size_t length;
        bool cut;        /* stdout was longer: the rest was dropped */
        char error[512]; /* the start of stderr */
        size_t error_length;
};

/* Run `git ARGS...` (args NULL-terminated) and wait for it. 0 when git
 * exited 0. With `status` non-NULL, another exit status (but 127: git is not
 * installed) is given there and is no error; without, it is one. Failures
 * fill err, naming `what` ("listing the session's commits: git failed
 * (status 128): fatal: ..."): git's first line only, the agent's bytes,
 * escaped by whoever prints them. out->data is the caller's to free, in
 * every case. */
int ws_git_run(const struct ws_git_runner *runner, char *const *args, const char *what,
               struct ws_git_output *out, int *status, struct reins_error *err);

#endif
