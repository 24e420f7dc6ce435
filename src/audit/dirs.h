/* reins' own directories for the audit trail, the signing key and the
 * runtime registry. A directory another user owns or can write to could be
 * used to swap a trail, plant a key or fake a running session (the
 * CVE-2019-12439 class: a predictable path created by someone else first),
 * so each is opened without following symlinks and checked by owner and
 * mode before anything inside it is trusted. */
#ifndef REINS_AUDIT_DIRS_H
#define REINS_AUDIT_DIRS_H

#include <stdbool.h>

#include "util/error.h"

enum audit_dir_mode {
        AUDIT_DIR_NOT_WRITABLE_BY_OTHERS, /* owner only may write (reins/ parents) */
        AUDIT_DIR_PRIVATE,                /* 0700 exactly: nobody else may even look */
};

/* mkdir -p with mode 0700 for the components we create (existing ones are
 * left alone). 0 or -errno. */
int audit_mkdir_parents(const char *path);

/* Create `path` (0700) when `create` and missing, then check it: a real
 * directory (not a symlink), owned by the effective uid, and per `mode`. */
int audit_dir_check(const char *path, bool create, enum audit_dir_mode mode,
                    struct reins_error *err);

/* $HOME, else the passwd entry; NULL when neither is absolute. */
const char *audit_home(void);
/* $VARIABLE (an XDG base directory) when it is ours or not there yet, else
 * NULL: the caller then falls back to audit_home(). */
const char *audit_xdg_dir(const char *variable);

/* $XDG_STATE_HOME/reins, else ~/.local/state/reins: created and checked
 * (owner-only writes; what lies inside decides its own privacy). */
int audit_state_dir(char **out, struct reins_error *err);

/* $XDG_CONFIG_HOME/reins, else ~/.config/reins: created and checked. */
int audit_config_dir(char **out, bool create, struct reins_error *err);

#endif
