/* Renames onto (or of) a protected path answer EROFS, not EBUSY.
 *
 * In direct mode each protected path is a read-only bind mount onto itself
 * (plan_protect.c). Writing into it fails with EROFS, but the common way to
 * write a configuration file, write a temporary file beside it and rename it
 * over the original (git's config.lock, editors, agents' settings writers),
 * meets a mount point and the kernel answers EBUSY: "could not write config
 * file .git/config: Device or resource busy" tells nobody what happened.
 *
 * When the plan has protected paths, the seccomp filter sends rename,
 * renameat and renameat2 to the supervisor (seccomp.c). The supervisor
 * resolves both names as the sandbox sees them (through /proc/PID/root with
 * RESOLVE_IN_ROOT, so a symlink or ".." cannot lead the walk out of the
 * sandbox's tree) and, when one of them is the root of a protected mount,
 * answers EROFS; every other rename goes on (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
 *
 * Why CONTINUE is safe here: the answer only ever adds a denial, and only to
 * a rename the kernel would refuse anyway (a mount point can be neither
 * source nor target of a rename). The process may change the names in its
 * memory after they were read: at worst the rename then meets the kernel's
 * own EBUSY, or a rename that was never going to work fails with EROFS. The
 * mounts are the protection; this is the message.
 *
 * link/linkat need nothing: a link never replaces an existing name (EEXIST). */
#ifndef REINS_SANDBOX_PROTECT_NOTIFY_H
#define REINS_SANDBOX_PROTECT_NOTIFY_H

#include <jansson.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/event.h"
#include "sandbox/plan.h"

#define PROTECT_WATCH_MAX 1024 /* protected mounts watched (a plan rarely has 20) */

enum {
        PROTECT_SEEN_CHANGE = 1, /* a refusal that would have changed the path, recorded */
        PROTECT_SEEN_SAME = 2,   /* a same-bytes rewrite, recorded */
};

struct protect_watch {
        const char **paths; /* the protected mounts' targets (borrowed from the plan) */
        uint64_t *refused;  /* renames refused, per path */
        uint8_t *seen;      /* PROTECT_SEEN_* recorded, per path */
        size_t count;
        const char *workspace; /* borrowed: paths below it are shown relative */
};

/* Does the plan bind any protected path (then renames are watched)? */
bool protect_watch_wanted(const struct reins_plan *plan);

/* The protected paths of `plan`, which must outlive the watch. 0 or -ENOMEM. */
int protect_watch_init(struct protect_watch *watch, const struct reins_plan *plan);

/* Is `nr` one of the syscalls the filter sends here? */
bool protect_notify_is_rename(int nr);

/* Answer one rename notification: fill `resp` (EROFS or CONTINUE). When
 * `describe`, returns the fields of the event to record, its type in
 * *type: the first refusal per path that would have changed it is a
 * "file.protected_write" (action "refused": the persistence-write rule
 * scores it); the first rewrite with the same bytes and mode (git rewrites
 * .git/config whole to delete a branch) is a "file.protected_refused" with
 * "unchanged": true, recorded but no finding. Later ones: NULL, counted.
 * `listener` validates the notification before what was read is believed. */
json_t *protect_notify_answer(int listener, const struct seccomp_notif *req,
                              struct seccomp_notif_resp *resp, struct protect_watch *watch,
                              bool describe, const char **type);

/* At the end of the session: one "file.protected_refused" record with
 * "summary": true counting the refusals not recorded one by one (none when
 * there were none); then the watch is freed. */
void protect_watch_finish(struct protect_watch *watch, struct event_bus *bus);

#endif
