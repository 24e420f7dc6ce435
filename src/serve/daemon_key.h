/* The daemon's own signing key (issue 15: "the answer is signed by the
 * daemon's key"): an Ed25519 seed in STATE/daemon-ed25519.key, 0600, made
 * at the daemon's first start and checked at each (owned by the daemon's
 * uid, readable by no one else: audit/keys.h's checks).
 *
 * A session the daemon starts is given the public half on its command line
 * (`reins run --daemon-key HEX`, serve/launch.c): the supervisor then takes
 * an answer or a thaw signed by its user's key or by this one. The sandbox
 * never sees it: the supervisor's argv is outside the sandbox's pid
 * namespace, and the daemon's state directory is hidden from a session of
 * the daemon's own user (`--daemon-state`, as reins' own state is; another
 * user cannot read the 0600 key anyway). The
 * daemon signs only for sessions whose record says they were started with
 * its key, and names in the signed payload who asked it to (govern/
 * answer_sign.h: "approver"), so the session's own trail says who answered. */
#ifndef REINS_SERVE_DAEMON_KEY_H
#define REINS_SERVE_DAEMON_KEY_H

#include "audit/keys.h"
#include "govern/identity.h"
#include "util/error.h"

#define SERVE_DAEMON_KEY_FILE "daemon-ed25519.key"

/* Make the key when missing, check it, and give its public half. */
int serve_daemon_key_init(const char *state_dir, struct identity_public *out,
                          struct reins_error *err);
/* The key pair, for one signature (wipe it after). */
int serve_daemon_key_load(const char *state_dir, struct audit_key *key, struct reins_error *err);

#endif
