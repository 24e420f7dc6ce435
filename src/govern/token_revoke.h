/* The local revocation list: block ids, one per line, in
 * $XDG_CONFIG_HOME/reins/revoked (else ~/.config/reins/revoked), mode 0600.
 * A token any of whose block ids is listed is refused, so revoking a block
 * revokes every token attenuated from it. A list someone else owns or can
 * write is refused outright: deleting a line would un-revoke a token. */
#ifndef REINS_GOVERN_TOKEN_REVOKE_H
#define REINS_GOVERN_TOKEN_REVOKE_H

#include <stdbool.h>

#include "util/error.h"
#include "util/strv.h"

#define TOKEN_REVOKED_FILE "revoked"

/* Is `id` shaped like a block id (32 lower-case hex digits)? */
bool token_id_valid(const char *id);

/* The listed ids (an empty list when there is no file yet). */
int token_revoked_load(struct reins_strv *ids, struct reins_error *err);

/* Append `id` (no-op when listed); creates the file 0600. *added tells which. */
int token_revoke(const char *id, bool *added, struct reins_error *err);

#endif
