/* The daemon's warm pool: for each `pool:` entry of the daemon's
 * configuration (a policy file and a workspace), as many sandboxes as the
 * policy's `pool: N` says are kept built up to the command's execve, so a
 * session taken from the pool reaches its first instruction in about a
 * millisecond instead of a cold start's twenty-odd.
 *
 * What a member is. A real `reins run` supervisor (serve/launch.h, with
 * --pool-fd), started by the daemon as the daemon's own user, for the
 * entry's policy and workspace, with a session id drawn by the daemon. It
 * loads the policy, builds the plan, certifies its session key, starts
 * governance, the risk engine, the proxy and the audit trail, forks the
 * sandbox, which builds its root (deny and protect binds, the .git overlay,
 * /proc masks), joins its cgroups, drops every capability, installs
 * seccomp, forks the command process, which applies Landlock and then waits
 * on the status socket, just before execve, for argv and the environment
 * (sandbox/child_exec.c). Nothing of the session is recorded yet: no
 * session.start, not listed by `reins ps`. The member says "R" on its
 * socket and waits (cli/run_pool.c).
 *
 * Why one workspace per entry. A cold start reads the workspace when it
 * starts: the deny globs' matches become hidden mounts, the protected paths
 * and their placeholders become read-only binds and pins, the change record
 * takes its first look. Binding a requested workspace into a ready sandbox
 * later (a shared-propagation slot) would need all of that redone on the
 * request path, from the host side, or lose it. So the pool is keyed by
 * (policy, workspace) from the configuration, and a member watches every
 * directory of its workspace from the moment its plan is built
 * (session/pool_guard.h): anything made, removed, renamed, written there
 * makes it stale; a stale member is never taken, it ends and is rebuilt.
 *
 * Taking one. POST /v1/sessions whose policy and workspace are an entry's
 * (the same absolute paths), whose session would run as the daemon's own
 * user (a root daemon's pool serves root's requests; other users' sessions
 * start cold), takes a ready member if there is one and its policy file is
 * unchanged: the request's command and env go to it; it writes session.start
 * ("pool": true) to its trail, releases the command, registers for `reins
 * ps` and says "OK". The reply and the daemon's trail say "pool": true. No
 * member ready, a stale one, another user: a cold start, as without a pool.
 * A member is taken once: it leaves the pool when taken, whatever follows.
 *
 * Keeping it filled. One thread of the daemon's starts members (two builds
 * at a time at most, off the request path), notices when one ends (its
 * socket closes: stale, failed, killed), and looks at each policy file
 * once a second: a changed file (identity, size or times) retires every
 * member of its entry (their sockets are closed: each removes its sandbox
 * and its unused trail) and the count is read again. A take also compares
 * the policy file's times first. A member that fails to build is retried
 * with a growing delay (up to 30 s), its error kept for GET /v1/policies
 * and the daemon's trail. */
#ifndef REINS_SERVE_POOL_H
#define REINS_SERVE_POOL_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "util/error.h"

struct serve;
struct serve_pool;

/* Load every pool entry's policy (refusing to start on a bad one, or a
 * workspace that is not a directory) and start the thread. No entries:
 * nothing (serve->pool stays NULL). */
int serve_pool_start(struct serve *serve, struct reins_error *err);
/* Stop the thread and retire every member. */
void serve_pool_stop(struct serve *serve);

/* A member taken from the pool, the caller's from now on. */
struct serve_pool_taken {
        pid_t pid; /* its supervisor */
        unsigned long long ticks;
        int fd;
        char session[25];
};

/* A ready member for (policy, workspace), or -ENOENT (none configured,
 * none ready, its policy file changed). */
int serve_pool_take(struct serve_pool *pool, const char *policy, const char *workspace,
                    struct serve_pool_taken *out);
/* Send the command to the taken member and wait for its answer: 0 when it
 * runs; -ESTALE when it was not taken after all (stale, gone: start cold);
 * -EIO with `why` when its command could not be started. Closes the fd. */
int serve_pool_run(struct serve_pool *pool, struct serve_pool_taken *taken, const json_t *command,
                   const json_t *env, char *why, size_t size);
/* A cold start was needed for a pooled (policy, workspace). */
void serve_pool_missed(struct serve_pool *pool);

/* For GET /v1/policies: one object per entry. */
json_t *serve_pool_describe(struct serve_pool *pool);
/* For /v1/metrics: ready members, members taken, cold starts of pooled
 * requests, members retired. */
void serve_pool_counts(struct serve_pool *pool, unsigned long *ready, unsigned long *taken,
                       unsigned long *missed, unsigned long *retired);

#endif
