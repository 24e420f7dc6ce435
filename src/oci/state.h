/* The runtime's state directory (--root): one directory per container,
 * mode 0700, holding state.json (written by rename, never in place), the
 * supervisor's control socket and a lock file.
 *
 *   ROOT/ID/state.json   {"ociVersion","id","status","pid","bundle",
 *                         "annotations","reins":{...}}
 *   ROOT/ID/control      the supervisor's socket (start, pause, resume)
 *   ROOT/ID/lock         flock()ed by create and delete
 *
 * ROOT is the caller's own (it is created 0700 and its owner checked):
 * another user cannot pre-create it, read a container's state or reach a
 * supervisor (CVE-2019-12439 class). */
#ifndef REINS_OCI_STATE_H
#define REINS_OCI_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "util/error.h"

#define OCI_ID_MAX 128

struct oci_state {
        char id[OCI_ID_MAX + 1];
        char status[16];               /* created, running, paused, stopped */
        pid_t pid;                     /* the supervisor: the process engines wait for */
        unsigned long long start_time; /* its start time (/proc/PID/stat), against pid reuse */
        pid_t init_pid;                /* the sandbox's pid 1, for ps */
        char *bundle;
        json_t *annotations;
        char session[32]; /* reins' session id: the audit trail's */
        char *policy;     /* the policy the container runs under (exec takes it again) */
        int exit_status;  /* when stopped by the supervisor itself, else -1 */
};

/* The root directory: `flag` (--root) or the default (/run/reins-oci for
 * root, $XDG_RUNTIME_DIR/reins-oci otherwise), created 0700 when missing. */
int oci_state_root(const char *flag, char **out, struct reins_error *err);
/* A container id: 1-128 of [A-Za-z0-9_.-], not starting with '.'. */
int oci_state_check_id(const char *id, struct reins_error *err);
/* ROOT/ID, or NULL. */
char *oci_state_dir(const char *root, const char *id);

/* Create ROOT/ID (EEXIST: the id is taken). */
int oci_state_create_dir(const char *root, const char *id, struct reins_error *err);
/* Write state.json atomically (tmp + rename). */
int oci_state_write(const char *root, const struct oci_state *st, struct reins_error *err);
/* Read state.json, and correct the status: a supervisor that is gone (or
 * a pid reused since) means stopped. ENOENT: no such container. */
int oci_state_read(const char *root, const char *id, struct oci_state *st, struct reins_error *err);
void oci_state_clear(struct oci_state *st);
/* Remove ROOT/ID and what it holds. */
int oci_state_remove(const char *root, const char *id, struct reins_error *err);
/* The state as runtime-spec's `state` prints it. */
json_t *oci_state_json(const struct oci_state *st);

/* A process's start time (field 22 of /proc/PID/stat); 0 when gone. */
unsigned long long oci_state_start_time(pid_t pid);
/* A pidfd of st->pid if it is still the same process, else -ESRCH. */
int oci_state_pidfd(const struct oci_state *st);

#endif
