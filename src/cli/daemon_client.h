/* The CLI's side of `reins serve` (issue 15): find a running daemon and make
 * one HTTP/1.1 call to its JSON API over its unix socket, so that `reins
 * ps`, `pending`, `approve`, `deny`, `stop` and `audit` see the daemon's
 * sessions too.
 *
 * Where the daemon is, first found first used:
 *   1. --socket PATH, else $REINS_SOCKET: the daemon the user asked for;
 *      when it does not answer, that is an error;
 *   2. the user's own daemon: RUNTIME_DIR/serve.sock (audit/runtime.h), where
 *      `reins serve` listens by default;
 *   3. the root daemon of the host: DAEMON_SYSTEM_SOCKET (the README's
 *      systemd unit).
 * A default place where nothing listens (no file, a socket a dead daemon
 * left, one this user may not connect to) is no daemon: the CLI then works
 * on the local registry exactly as it does without a daemon, silently.
 *
 * The daemon's answer is bounded (DAEMON_REPLY_MAX) and every step has a
 * deadline: a daemon that hangs costs the CLI a timeout, never a hang. */
#ifndef REINS_CLI_DAEMON_CLIENT_H
#define REINS_CLI_DAEMON_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/un.h>

#include "util/error.h"

/* The root daemon's socket, as the README's systemd unit places it. */
#define DAEMON_SYSTEM_SOCKET "/run/reins/serve.sock"
/* The environment variable that names a daemon's socket (like --socket). */
#define DAEMON_SOCKET_ENV "REINS_SOCKET"
/* The largest answer read from the daemon (a trail's records: the API sends
 * at most the last 8 MiB of one). */
#define DAEMON_REPLY_MAX (32 << 20)
/* Deadlines, in ms: for reading (listings, records) and for acting (a stop
 * waits up to 10 s for the supervisor to end). */
#define DAEMON_READ_TIMEOUT 15000
#define DAEMON_ACT_TIMEOUT  30000

struct daemon_client {
        char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* Find a daemon (see above). `requested`: --socket, NULL when not given.
 * 1: a daemon listens, *client says where; 0: none (nothing to say);
 * -errno with err: the socket asked for (--socket, REINS_SOCKET) does not
 * answer. */
int daemon_client_find(const char *requested, struct daemon_client *client,
                       struct reins_error *err);

/* One call: METHOD PATH, with `body` as JSON (NULL: none). 0 with *reply
 * (the decoded JSON body) for a 2xx answer. An answer of 4xx/5xx is
 * -EREMOTEIO with err = "reins serve (SOCKET): STATUS: the daemon's
 * error" and *status; a failure to talk is -errno with err. `status` may
 * be NULL. */
int daemon_client_call(const struct daemon_client *client, const char *method, const char *path,
                       const json_t *body, int timeout_ms, unsigned *status, json_t **reply,
                       struct reins_error *err);

/* The status and body of a complete answer (`answer` NUL-terminated at
 * `length`): Content-Length, chunked, or the rest when neither; the body
 * stays in `answer` (decoded in place, NUL-terminated). -EPROTO when it is
 * not an HTTP/1.x answer or is cut short. */
int daemon_answer_parse(char *answer, size_t length, unsigned *status, char **body,
                        size_t *body_length);

#endif
