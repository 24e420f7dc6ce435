/* `reins audit tail -f`: follow every trail in a directory as it grows,
 * including trails of sessions that start later (inotify). */
#ifndef REINS_AUDIT_FOLLOW_H
#define REINS_AUDIT_FOLLOW_H

#include <jansson.h>
#include <stdbool.h>

#include "util/error.h"

/* Called with each new complete record; return false to stop. */
typedef bool (*audit_follow_fn)(void *ctx, const json_t *record);

/* Follow the trails in `dir` from their current ends; returns only on an
 * error or when `fn` returns false. */
int audit_follow(const char *dir, audit_follow_fn fn, void *ctx, struct reins_error *err);

#endif
