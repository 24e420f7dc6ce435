/* The supervisor: on the session's event loop (util/loop.h), it relays the
 * terminal and signals, enforces the wall-clock limit, collects reports
 * from the sandbox and its exit status. The other parts of a session add
 * their own fds and ticks to the same loop. */
#ifndef REINS_SANDBOX_SUPERVISE_H
#define REINS_SANDBOX_SUPERVISE_H

#include <stdbool.h>
#include <stdint.h>

#include "audit/event.h"
#include "net/proxy.h"
#include "sandbox/seccomp_notify.h"
#include "sandbox/plan.h"
#include "sandbox/spawn.h"
#include "util/loop.h"

struct supervise_outcome {
        int exit_status; /* what `reins run` exits with */
        bool timed_out;
        bool setup_failed;             /* reins failed before the command ran */
        char message[REINS_ERROR_MAX]; /* from the sandbox, when it reported one */
};

struct supervise_config {
        const struct reins_plan *plan; /* limits, network lists */
        struct event_bus *events;      /* may be NULL */
        /* the loop the supervisor adds its fds to, with the caller's fds
         * and ticks on it already; NULL: one of its own */
        struct loop *loop;

        /* Governance hooks, all optional; each callback gets hooks_ctx. */
        const struct proxy_gate *gate; /* the proxy's last word on destinations */
        /* credentials the proxy injects (net/inject.h, net/terminate.h); NULL: none */
        const struct net_inject *inject;
        struct net_terminator *terminator;
        const struct exec_gate *exec_gate;
        /* the proxy started (or, with NULL, is about to be freed) */
        void (*on_proxy)(void *ctx, struct proxy *proxy);
        /* the agent's request channel (a listening socket) arrived; taken */
        void (*on_agent_listener)(void *ctx, int fd);
        void *hooks_ctx;
        /* limits.workspace_size: where the capped copy's tmpfs (a directory
         * fd, the caller's to close) is stored when it arrives; NULL: none
         * expected */
        int *workspace_copy;
        /* The risk engine's freeze: *frozen is true while it holds the
         * sandbox frozen. A signal that ends the session, the timeout and a
         * failing loop then end it through kill_frozen(freeze_ctx): a frozen
         * pid 1 relays nothing, and in a v1 freezer cgroup even SIGKILL waits
         * for a thaw. NULL: never frozen. */
        const bool *frozen;
        void (*kill_frozen)(void *ctx);
        void *freeze_ctx;
        /* a warm pool's member (serve/pool.h) is supervised while it waits
         * for its command: the wall-clock limit starts once *parked turns
         * false (the command was released). NULL: at once. */
        const bool *parked;
        /* the sandbox's pid 1 has built the root and installed its filters
         * (its seccomp listener arrived): called once. NULL: nothing */
        void (*on_ready)(void *ctx);
        void *on_ready_ctx;
        /* the command's execve succeeded: the status socket, close-on-exec
         * in the sandbox, reached its end (as it does when the sandbox dies
         * first). Called once, with on_ready_ctx. NULL: nothing */
        void (*on_running)(void *ctx);
};

/* The signals must already be blocked (supervise_block_signals) so none is
 * lost between clone and the loop; the loop reads them from a signalfd. */
int supervise(const struct spawn_result *sandbox, const struct supervise_config *config,
              struct supervise_outcome *outcome, struct reins_error *err);

/* The signals `reins run` relays (block them before spawning). */
void supervise_block_signals(void);

#endif
