/* Canary credentials (policy `canaries: true`): fake but real-looking
 * secrets with values unique to the session, planted where an agent hunting
 * for credentials would look (~/.aws/credentials, ~/.ssh/id_ed25519,
 * ~/.env). Nobody legitimate reads them, so reading one, or sending one of
 * their values anywhere, is a critical finding. The files live in a private
 * directory of the supervisor's and are bound read-only into the sandbox;
 * the directory is removed at the end of the session. */
#ifndef REINS_GOVERN_CANARY_H
#define REINS_GOVERN_CANARY_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

#define CANARY_FILES 3

struct canary_set {
        char *dir;                         /* the private directory holding them */
        char *sources[CANARY_FILES];       /* host paths of the planted files */
        const char *targets[CANARY_FILES]; /* "~/.aws/credentials"... (home-relative) */
        char aws_key_id[21];               /* AKIA + 16 */
        char token[41];                    /* the .env token */
};

/* Write the files into a fresh 0700 directory under `parent`. */
int canary_plant(const char *parent, struct canary_set *out, struct reins_error *err);
/* Does `bytes` carry one of the session's canary values? */
bool canary_seen(const struct canary_set *set, const void *bytes, size_t len);
/* Remove the files and the directory; free. */
void canary_remove(struct canary_set *set);

#endif
