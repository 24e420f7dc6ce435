/* Running sessions, for `reins ps` and `reins stop`: one small JSON file per
 * session in a private, owner-checked runtime directory
 * ($XDG_RUNTIME_DIR/reins, else /run/user/UID/reins, else a 0700 directory
 * under /tmp whose owner and mode are verified — never trusted blindly). */
#ifndef REINS_AUDIT_RUNTIME_H
#define REINS_AUDIT_RUNTIME_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"
#include "util/strv.h"

/* In a status: when its "risk" score was taken (ms since the epoch, the
 * risk engine's clock) and its half-life, for `reins ps` to decay it. */
#define RUNTIME_RISK_AT        "risk_at_ms"
#define RUNTIME_RISK_HALF_LIFE "risk_half_life_ms"

/* A registered session's entry, kept by its supervisor to update. */
struct runtime_entry;

/* Record a running session: its supervisor pid, `info` (agent, policy,
 * command, workspace, control socket) and `status` (may be NULL: what
 * `reins ps` shows of its state: risk tier, pending requests, frozen...).
 * With `out`, the entry is kept for runtime_update. */
int runtime_register(const char *session, pid_t supervisor, const json_t *info,
                     const json_t *status, struct runtime_entry **out, struct reins_error *err);
/* Rewrite the entry whole, as registered with `status` in place of the
 * status before: the supervisor calls this when its state changes, so
 * `reins ps` reads files and never has to ask 1 000 supervisors. Atomic: a
 * reader sees the old entry or the new one. */
int runtime_update(struct runtime_entry *entry, const json_t *status, struct reins_error *err);
void runtime_entry_free(struct runtime_entry *entry);
void runtime_unregister(const char *session);
/* A session whose supervisor died without cleaning up (kill -9): its entry
 * and its control socket go. */
void runtime_forget(const char *session);

/* Remove what supervisors killed with -9 left: entries whose supervisor is
 * gone, with their sockets, and sockets nobody listens on that no entry
 * names (a kill between the socket's creation and the registration). */
void runtime_sweep(void);
/* The same for `count` names of the registry only, a different stretch
 * each time: what a session does as it ends, so that ending costs the same
 * with one session running or a thousand (a full sweep at every end made
 * stopping N sessions cost N^2 entry reads). */
void runtime_sweep_some(size_t count);
/* Only the sockets no entry names: for a caller that reads every entry
 * anyway and forgets the dead ones itself (`reins ps`). */
void runtime_sweep_sockets(void);

/* Every directory (or glob) where a control socket of this user's sessions
 * may live, for the sandbox plan to hide: this run's runtime directory,
 * $XDG_RUNTIME_DIR/reins, /run/user/UID/reins, /tmp/reins-UID and the
 * recorded fallback /tmp/reins-UID-XXXXXX. -ENOMEM. */
int runtime_hidden_paths(struct reins_strv *out);

/* --- for `reins ps` and `reins stop` ------------------------------------- */

/* The runtime directory, created and checked (0700, ours, not a symlink):
 * $XDG_RUNTIME_DIR/reins, else /run/user/UID/reins, else /tmp/reins-UID.
 * When another user took /tmp/reins-UID first, a /tmp/reins-UID-XXXXXX made
 * by mkdtemp and recorded in the state directory takes its place; when that
 * cannot be made either, one line says why. An existing directory of ours
 * with a looser mode is refused. */
int runtime_dir(char **out, struct reins_error *err);

/* Every registered session, oldest first: the registered object plus
 * "alive" (false when the supervisor is gone or its pid was reused). */
int runtime_list(json_t **sessions, struct reins_error *err);

/* The entry `name` (SESSION.json) of the registry `dirfd`, with "alive":
 * NULL unless it is a regular file of `owner`'s, bounded, a JSON object
 * (the daemon reads its users' registries with it; never follows a link). */
json_t *runtime_read_entry_of(int dirfd, const char *name, uid_t owner);

/* The entry of one session (id or unique prefix); -ENOENT / -EEXIST
 * (ambiguous) with a message. The caller decrefs. */
int runtime_find(const char *session, json_t **entry, struct reins_error *err);

/* Does `pid` still run the process that started at `start_ticks`
 * (/proc/PID/stat field 22)? Guards against pid reuse. */
bool runtime_pid_matches(pid_t pid, unsigned long long start_ticks);
int runtime_pid_start_ticks(pid_t pid, unsigned long long *ticks);

#endif
