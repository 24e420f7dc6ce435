/* A delegation token in use by one session (`reins run --token FILE`).
 *
 * At start the token is decoded, verified against the user's key (signature
 * chain, expiry, revocation), checked against the session's agent name and
 * command, then:
 *   - bound: the token's last block is recorded as used by this session and
 *     its agent key (tokens/bound/ID, created exclusively). The same token
 *     presented by any other session is refused as a replay; `--resume` of
 *     the bound session may present it again. To run several sessions from
 *     one grant, attenuate it once per session (offline, no key needed).
 *   - counted: each session is one use of every block in the chain, so a
 *     block with `uses: N` allows N sessions over everything derived from it.
 *     Counts live in tokens/uses, updated under an exclusive lock.
 * Both files are under reins' private config directory (0700, owner-checked).
 *
 * During the session the rights are policy ∩ token: the proxy's gate asks
 * session_token_allows_dest, which also refuses once the token expires or
 * any block of it is revoked (the revocation list is re-read when it
 * changes). */
#ifndef REINS_GOVERN_SESSION_TOKEN_H
#define REINS_GOVERN_SESSION_TOKEN_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "govern/token.h"
#include "util/error.h"

struct session_token {
        struct token token;
        struct token_rights rights;
        char id[TOKEN_ID_HEX + 1]; /* the last block's id: what is bound */
        char *text;                /* as read */
        struct timespec revoked_mtime;
        bool revoked; /* a block was revoked during the session */
};

struct session_token_context {
        const char *agent;   /* the policy's agent name, "" when none */
        const char *command; /* basename of argv[0] */
        const char *session;
        const char *agent_key_hex; /* this session's agent public key */
        bool resume;               /* --resume: a token bound to `resume_of` is accepted */
        const char *resume_of;     /* the session given to --resume */
};

/* Read FILE ("-" for stdin) and verify it against the user key: signature
 * chain, expiry, revocation; then its effective rights. On refusal err
 * says why in one line ("token refused: expired: ..."). */
int session_token_load(const char *file, const unsigned char *user_public,
                       struct session_token *out, struct reins_error *err);
/* Check it against the session (agent name, command), bind it to the
 * session and its agent key, and count one use. */
int session_token_bind(struct session_token *st, const struct session_token_context *ctx,
                       struct reins_error *err);
void session_token_close(struct session_token *st);

/* May the session open a new connection to host:port now? On false,
 * *reason says why (static text). */
bool session_token_allows_dest(struct session_token *st, const char *host, uint16_t port,
                               const char **reason);
/* May the session run `name` (a command's basename)? */
bool session_token_allows_cmd(const struct session_token *st, const char *name);

/* Re-read the revocation list when it changed; true when the token became
 * revoked by this call. */
bool session_token_refresh(struct session_token *st);

/* The token for the session-start event: ids, rights in plain data. */
json_t *session_token_json(const struct session_token *st);

#endif
