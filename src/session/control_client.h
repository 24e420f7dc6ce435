/* Talking to a running session's control socket (the client side of
 * session/control.h), for `reins pending`, `approve`, `deny`, `thaw` and
 * the daemon (`reins serve`). */
#ifndef REINS_SESSION_CONTROL_CLIENT_H
#define REINS_SESSION_CONTROL_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#include "util/error.h"

/* Connect to SESSION's control socket (a full id). -errno with err. */
int control_connect(const char *session, struct reins_error *err);
/* The same in the registry directory `dir` (another user's, for a daemon
 * running as root). */
int control_connect_in(const char *dir, const char *session, struct reins_error *err);

/* Send one request line and read one reply line (timeout in ms). */
int control_call(int fd, const json_t *request, json_t **reply, int timeout_ms,
                 struct reins_error *err);

/* One request to the session named by an id or unique prefix: connects,
 * calls, closes. *reply: the decoded reply object. */
int control_request(const char *session, const json_t *request, json_t **reply,
                    struct reins_error *err);

/* A signed operation (`op`, e.g. "thaw") to the session named by an id or
 * unique prefix: asks the session for a nonce, signs {op, session, nonce,
 * time} with `key` (govern/answer_sign.h) and sends it on the same
 * connection. */
struct audit_key;
int control_signed_request(const char *session, const char *op, const struct audit_key *key,
                           json_t **reply, struct reins_error *err);
/* The signed operation on a connected fd, for `session` (a full id). */
int control_signed_call(int fd, const char *session, const char *op, const struct audit_key *key,
                        json_t **reply, struct reins_error *err);
/* The same naming in the signed payload who asked for it ("approver",
 * govern/answer_sign.h; NULL: nobody): how a daemon signs. */
int control_signed_call_by(int fd, const char *session, const char *op, const struct audit_key *key,
                           const json_t *approver, json_t **reply, struct reins_error *err);

/* Read one line from fd (blocking up to timeout_ms); *line malloc'd. */
int control_read_line(int fd, char **line, int timeout_ms, struct reins_error *err);

#endif
