/* The session's control socket and the agent's request channel, both served
 * from the supervisor's event loop (DESIGN §2: "control socket (approve,
 * stop, events)").
 *
 * Control socket: a Unix stream socket in reins' private runtime directory
 * (0700, owner-checked), named SESSION.sock and listed in the `reins ps`
 * registry. Only the same uid (or root) may connect (SO_PEERCRED), and only
 * from outside every sandbox (sandbox/peer.h: the peer's pid and user
 * namespaces must be ours, its cgroup no sandbox's). One JSON object per
 * line each way:
 *   {"op":"pending"}                   → {"ok":true,"session":…,"pending":[…]}
 *   {"op":"answer","payload":{…},"signature":HEX}
 *                                      → {"ok":true,…} | {"ok":false,"error":…}
 *   {"op":"watch"}                     → the pending list, then one line per
 *                                        approval event as it happens
 *   {"op":"nonce"}                     → {"ok":true,"nonce":HEX}: for this
 *                                        connection's next signed op, once
 *   {"op":"thaw","payload":{…},"signature":HEX}
 *                                      → risk engine: leave the frozen tier,
 *                                        back to T0 (govern/answer_sign.h:
 *                                        signed by the user, nonce-bound)
 *   {"op":"freeze"}                    → risk engine: freeze the sandbox now
 *                                        (tightens only: no signature asked)
 *   {"op":"status"}                    → session, tier, pending count
 *
 * Agent channel (README, "The agent may ask"): TCP 127.0.0.1:3129 inside the
 * sandbox's network namespace, reachable by nothing else. A JSON line, or an
 * HTTP POST /ask with a JSON body:
 *   {"kind":"destination","target":"host[:port]","reason":"…","wait":true}
 *   {"kind":"path","target":"docs/x.md","reason":"…"}
 * answered {"id":…,"status":"pending"} at once, or with "wait" when a human
 * (or the timeout) has answered: {"id":…,"status":"allowed"|"denied"}. */
#ifndef REINS_SESSION_CONTROL_H
#define REINS_SESSION_CONTROL_H

#include <jansson.h>
#include <stdint.h>

#include "audit/event.h"
#include "audit/keys.h"
#include "govern/gate.h"
#include "util/error.h"

#define SESSION_CONTROL_AGENT_PORT 3129

struct session_control_config {
        const char *session;
        struct gate *gate;
        /* the user key answers must be signed with; NULL: answers refused */
        const unsigned char *user_public;
        /* the key of the daemon that started the session (reins serve),
         * which may sign answers and thaws too, naming their approver;
         * NULL: none */
        const unsigned char *daemon_public;
        /* `reins thaw`: 0 or -errno with err; NULL: "no risk engine".
         * `by`: the signed request (user_key, payload, signature), borrowed */
        int (*thaw)(void *ctx, const json_t *by, struct reins_error *err);
        /* freeze now (the daemon's API); NULL: "no risk engine" */
        int (*freeze)(void *ctx, struct reins_error *err);
        /* limit and control.refused events; may be NULL */
        struct event_bus *events;
        /* extra status fields (risk score, tier); may be NULL */
        json_t *(*status)(void *ctx);
        /* after each request, before its reply: what `status` says may
         * have changed; may be NULL */
        void (*changed)(void *ctx);
        void *ctx;
};

struct session_control;

/* Create the control socket; *path_out (borrowed) is where it listens. */
int session_control_open(const struct session_control_config *config, struct session_control **out,
                         struct reins_error *err);
const char *session_control_path(const struct session_control *ctl);
/* The session's state as the "status" request answers it (and `reins ps`
 * lists it): the gate's tier, pending requests, and the risk engine's
 * score, tier, findings and freeze when it runs. */
json_t *session_control_status(const struct session_control *ctl);
/* An fd (epoll) readable when there is work; then call dispatch. */
int session_control_poll_fd(const struct session_control *ctl);
void session_control_dispatch(struct session_control *ctl);
/* At the session's end, while the trail is open: one `limit` summary per
 * kind whose hits were not all recorded one by one. */
void session_control_summary(struct session_control *ctl);
/* Close connections idle past their channel's limit, let a paused
 * listener accept again. Returns in how many ms it has such work again
 * (the idlest open connection's limit), or -1: none until a connection
 * is made. */
int64_t session_control_tick(struct session_control *ctl);
/* The agent channel's listening socket, from the sandbox (taken). */
void session_control_add_agent_listener(struct session_control *ctl, int fd);
/* An event sink: approval events go to watchers. */
void session_control_sink(void *ctl, const json_t *event);
/* Close everything and remove the socket file. */
void session_control_close(struct session_control *ctl);

#endif
