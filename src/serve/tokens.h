/* API tokens for the daemon's TCP listener (`reins serve --listen`): the
 * caller over TLS is whoever presents `Authorization: Bearer TOKEN`.
 *
 * A token is 32 random bytes, shown once at creation ("rst_" + 64 hex
 * digits). The daemon keeps only its SHA-256, with a name, a role (the
 * same roles as config.h), an operator's policies (and an operator's or
 * approver's agents) and the user its
 * sessions run as, in STATE/tokens.json (0600). The file is read at every
 * call: a revoked token stops working at once, with no reload. */
#ifndef REINS_SERVE_TOKENS_H
#define REINS_SERVE_TOKENS_H

#include <jansson.h>
#include <sys/types.h>

#include "serve/config.h"
#include "util/error.h"
#include "util/strv.h"

#define SERVE_TOKEN_PREFIX "rst_"
#define SERVE_TOKEN_TEXT   (4 + 64 + 1)
#define SERVE_TOKEN_NAME   64

struct serve_token_request {
        const char *name; /* [A-Za-z0-9._-]{1,64}, unique */
        enum serve_role role;
        const struct reins_strv *policies; /* an operator's */
        const struct reins_strv *agents;   /* an operator's or approver's; may be NULL */
        uid_t uid;                         /* sessions it starts run as this user */
};

/* Create a token; `token` receives its text (shown once). -EEXIST when the
 * name is taken. */
int serve_tokens_create(const char *state_dir, const struct serve_token_request *request,
                        char token[SERVE_TOKEN_TEXT], struct reins_error *err);
/* -ENOENT when no token has that name. */
int serve_tokens_revoke(const char *state_dir, const char *name, struct reins_error *err);
/* Every token without its hash: name, role, policies, uid, created. */
int serve_tokens_list(const char *state_dir, json_t **list, struct reins_error *err);

/* The grant of the token presented, or -EACCES. `grant->policies` and
 * `grant->agents` are the caller's to free (strv_free); `name` receives the
 * token's name. */
int serve_tokens_lookup(const char *state_dir, const char *presented, struct serve_grant *grant,
                        char name[SERVE_TOKEN_NAME + 1]);

#endif
