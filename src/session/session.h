/* One running session, owned by one object: the policy and plan, the
 * checks, cgroups or their fallback, the audit trail and its anchors, the
 * registry of running sessions, the sandbox, governance, the risk engine
 * and its playbooks, the protected paths and the overlay copy.
 *
 *   session_new    load the policy (and token), plant canaries, build the plan
 *   session_start  certify the session key, start governance and the risk
 *                  engine, spawn the sandbox, open the trail, record
 *                  session.start, let the command run
 *   session_wait   supervise until the command ends, then write back what
 *                  the session changed and record session.end
 *   session_free   release everything (cgroups, canaries, the key)
 *
 * The library never prints, never reads argv and never exits: what the
 * person should read goes through notice() (util/notice.h, whose writer
 * the caller chooses: a terminal, a daemon's log), and errors come back in
 * struct reins_error. Statuses are those of `reins run` (SESSION_EXIT_*).
 *
 * One certified session per process: once a sandbox is forked, the user's
 * key is sealed in the process that parses what the sandbox sends (issue
 * 12's privilege separation), so a caller running many sessions -- a
 * daemon -- runs each in a supervisor process of its own, as `reins run
 * --parallel` does. */
#ifndef REINS_SESSION_SESSION_H
#define REINS_SESSION_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit/event.h"
#include "policy/policy.h"
#include "sandbox/cgroup.h"
#include "env/env.h"
#include "sandbox/plan.h"
#include "sandbox/spawn.h"
#include "sandbox/supervise.h"
#include "util/error.h"

enum {
        SESSION_EXIT_TRAIL_FAILED = 123, /* the trail could not be written: frozen and ended */
        SESSION_EXIT_TIMEOUT = 124,      /* the wall-clock limit fired: the sandbox was killed */
        SESSION_EXIT_FAILED = 125,       /* reins failed before the command ran */
};

struct session_config {
        const char *policy;       /* a preset's name or a policy file */
        struct plan_options plan; /* the caller's additions to the policy */
        char id[25];              /* "": a fresh one is drawn */
        const char *resume;       /* overlay: go on with this session's copy */
        const char *token_file;   /* a capability token narrowing the session */
        /* the public key (hex) of the daemon that started the session
         * (reins serve): answers and thaws signed by it are taken as well
         * as the user's, and must name who asked the daemon. NULL: none */
        const char *daemon_key;
        /* the agent the starter checked the policy's agent: to be ("":
         * none); another one refuses the start. NULL: not checked */
        const char *expect_agent;
        const char *audit_path; /* NULL: the user's trail directory */
        char *const *anchors;   /* where checkpoints are anchored, besides the policy's */
        size_t anchor_count;
        bool quiet; /* only errors and what must be said */
        /* reins' private directory for the change record's cache (direct
         * mode's files.changed, audit/changes.h); NULL: a walk at the start */
        const char *changes_cache_dir;
        /* isolation wasm (wasm/run.h): the command is a WASI module, run by
         * its compiled engine; the cache of engines and the directory of
         * the engines' reports, both private to the user */
        bool wasm;
        const char *wasm_cache_dir;
        const char *wasm_events_dir;
        /* the sandbox is forked and its cgroups made: a caller that shows
         * the plan does it here (NULL: nothing) */
        void (*on_spawned)(void *ctx, const struct reins_plan *plan, const struct spawn_inputs *in);
        void *on_spawned_ctx;
        /* a warm pool's member (serve/pool.c): session_start builds
         * everything up to the command's execve and parks it there; the
         * command comes later with session_run_command */
        bool pool_member;
        /* an environment the policy names is built when not cached yet:
         * its progress goes here (fn NULL: quietly) */
        struct env_progress env_progress;
        /* an OCI container's id (reins oci): recorded in session.start, so
         * every record of the session (they all carry its id) maps to it */
        const char *container;
        /* the sandbox has built its root and installed its filters (a
         * parked member: it waits for its command). NULL: nothing */
        void (*on_ready)(void *ctx);
        void *on_ready_ctx;
        /* the command's execve succeeded (or the sandbox ended before it):
         * called once, with on_ready_ctx. NULL: nothing */
        void (*on_running)(void *ctx);
};

struct session;

enum session_state {
        SESSION_CREATED,
        SESSION_RUNNING,
        SESSION_FROZEN,
        SESSION_ENDED,
};

struct session_status {
        enum session_state state;
        pid_t pid;         /* the sandbox's pid 1 on the host; 0 when none runs */
        pid_t sandbox_pid; /* the same, while a parked command waits too (reins oci's
                              created state); 0 before the spawn and after the end */
        int tier;          /* the risk engine's tier, 0-3 */
};

/* Loads the policy and builds the plan; nothing runs yet. */
int session_new(const struct session_config *config, struct session **out, struct reins_error *err);
const char *session_id(const struct session *s);
/* The plan. With plan_options.deny_cache_dir, the deny globs' matches (its
 * HIDE ops, git's settings for them) come in only when session_start spawns
 * the sandbox (plan_finish_deny): read those from on_spawned. */
const struct reins_plan *session_plan(const struct session *s);
/* The session's events, held until the trail opens: add sinks before
 * session_start. */
struct event_bus *session_events(struct session *s);

/* Returns 0 once the command runs; on failure the session is over
 * (session_free still owed) and err says why. */
int session_start(struct session *s, struct reins_error *err);
/* A parked pool member (session_config.pool_member) runs its command:
 * `argv` (NULL-terminated) with the caller's NAME=VALUE pairs added to the
 * environment as --env would. session.start (with "pool": true) is written
 * before the command's first instruction, as in a cold start, and the
 * command released. Then, off the exec's path (once the supervisor has
 * answered the exec, or within 5 ms): the session is listed for `reins
 * ps`, session.start made durable, and `on_listed(ctx)` called. On failure
 * the session ends (session_wait records why) and on_listed is not called.
 * `argv` must outlive the session. */
int session_run_command(struct session *s, char **argv, char *const *env, size_t env_count,
                        void (*on_listed)(void *ctx), void *ctx, struct reins_error *err);

/* A parked pool member waits inside session_wait, its loop already
 * running (so that the command's exec, which the supervisor audits, is
 * answered at once): these fds join that loop, their handlers may call
 * session_run_command, session_retire and session_remove_source. At most
 * SESSION_SOURCES_MAX, added before session_wait. */
#define SESSION_SOURCES_MAX 2
typedef void (*session_source_handler)(void *ctx, int fd, uint32_t events);
int session_add_source(struct session *s, int fd, session_source_handler handler, void *ctx);
void session_remove_source(struct session *s, int fd);

/* A parked pool member that will not run (retired, stale, its daemon
 * gone): the sandbox is killed; session_wait then returns without
 * recording an end, and the trail, which recorded nothing of a session, is
 * removed. session_free still owed. */
void session_retire(struct session *s);

/* A process that joined the running sandbox (reins oci exec) installed
 * reins' seccomp filter itself: its listener `fd` is answered and its execs
 * recorded on the session's loop, as the command's. The session owns fd
 * from here (closed when that process is gone or the session ends). Only
 * from a handler of the loop (session_add_source): -EAGAIN when the session
 * does not run, -EMFILE past SESSION_LISTENERS_MAX at once. */
#define SESSION_LISTENERS_MAX 16
int session_watch_listener(struct session *s, int fd);
bool session_retired(const struct session *s);

/* Runs the session until the command ends and everything is recorded.
 * Returns the run's exit status (the command's, or SESSION_EXIT_*). */
int session_wait(struct session *s, struct supervise_outcome *outcome);
/* What session_wait saw, for a report: the cgroup (usage, OOM). */
const struct cgroup_handle *session_cgroup(const struct session *s);

/* Ask the command to end (SIGTERM to the sandbox); after grace_ms the
 * sandbox is killed. Safe from another thread. */
int session_stop(struct session *s, unsigned grace_ms);
/* Freeze and thaw through the risk engine's playbook (recorded). */
int session_freeze(struct session *s, const char *why);
int session_thaw(struct session *s, const char *why);
void session_status(const struct session *s, struct session_status *out);

/* The end of the record: the overlay copy marked finished with the run's
 * status, cgroups removed, the trail closed. Returns the run's exit status
 * (SESSION_EXIT_TRAIL_FAILED when the trail's last records could not be
 * written either; SESSION_EXIT_FAILED when it never ran). Idempotent. */
int session_close(struct session *s);
/* Release everything (closing first when that was not done): canaries
 * removed, the session key wiped. */
void session_free(struct session *s);

#endif
