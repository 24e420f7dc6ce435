/* The OCI runtime's operations (runtime-spec "Operations", and runc's
 * command line as conmon and the containerd shim call it), on top of the
 * session library.
 *
 * A container is one reins session whose sandbox is built up to the
 * command's execve and parked there (session_config.pool_member):
 *
 *   create  forks the supervisor (new session id, setsid). It loads the
 *           policy, builds the sandbox on the bundle's rootfs and parks the
 *           command, then says "ready"; create writes --pid-file with the
 *           supervisor's pid and exits. The supervisor is what the engine
 *           waits for (conmon and the shim are child subreapers: it is
 *           reparented to them) and it exits with the container's status.
 *   start   asks the supervisor, on its control socket, to release the
 *           command (session.start is recorded first, with the container id).
 *   kill    signals the supervisor, which relays to the container (SIGKILL
 *           ends the supervisor, and with it every process of the sandbox).
 *   delete  removes the state (a live supervisor only with --force: killed).
 *
 * Errors come back in struct reins_error; nothing here prints. */
#ifndef REINS_OCI_CONTAINER_H
#define REINS_OCI_CONTAINER_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "util/error.h"

struct oci_create_options {
        const char *root; /* the state directory (oci_state_root) */
        const char *id;
        const char *bundle;
        const char *pid_file;       /* NULL: none */
        const char *console_socket; /* NULL: none */
        const char *policy;         /* the runtime's default (--policy, REINS_OCI_POLICY) */
        const char *log_path;       /* where the supervisor's own errors go, or NULL */
        bool log_json;
};

/* Returns 0 once the container is created (its command parked). */
int oci_create(const struct oci_create_options *o, struct reins_error *err);
int oci_start(const char *root, const char *id, struct reins_error *err);
/* The state as `state` prints it. */
int oci_state_get(const char *root, const char *id, json_t **out, struct reins_error *err);
int oci_kill(const char *root, const char *id, int sig, bool all, struct reins_error *err);
int oci_delete(const char *root, const char *id, bool force, struct reins_error *err);
int oci_pause(const char *root, const char *id, bool pause, struct reins_error *err);
/* The container's processes (host pids), as `ps --format json` prints them. */
int oci_ps(const char *root, const char *id, json_t **out, struct reins_error *err);
/* What this runtime supports (runc's `features`). */
json_t *oci_features(void);
/* --pid-file: the pid, written by rename. */
int oci_write_pid_file(const char *path, pid_t pid, struct reins_error *err);
/* --console-socket: `master` sent over the unix socket (SCM_RIGHTS). */
int oci_console_send(const char *socket_path, int master, struct reins_error *err);
/* The same in two steps: connect (a socket fd), then send over it with
 * sandbox/pty.h's pty_console_send. */
int oci_console_connect(const char *socket_path, struct reins_error *err);
/* A signal by name (KILL, SIGKILL) or number; -EINVAL when unknown. */
int oci_signal_parse(const char *text);

#endif
