/* The effective allow-list of a token kind, written out: the intersection
 * of every block's set, for a person reading `reins token inspect`. The
 * session itself never uses this (it checks every set, token.h); this is
 * only what those checks add up to, computed pattern by pattern. */
#ifndef REINS_GOVERN_TOKEN_MEET_H
#define REINS_GOVERN_TOKEN_MEET_H

#include "govern/token.h"
#include "util/strv.h"

enum token_meet_kind {
        TOKEN_MEET_DEST, /* host, *.domain, *, with an optional :port */
        TOKEN_MEET_PATH, /* workspace-relative globs */
        TOKEN_MEET_CMD,  /* command names (or *) */
};

/* Patterns that every set allows (each at its narrowest). sets->count must
 * be > 0. An empty `out` means the blocks allow nothing in common. 0 or
 * -ENOMEM. */
int token_meet(const struct token_pattern_sets *sets, enum token_meet_kind kind,
               struct reins_strv *out);

#endif
