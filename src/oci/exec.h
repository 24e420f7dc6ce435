/* reins oci exec: a process joining a running container (exec.c). */
#ifndef REINS_OCI_EXEC_H
#define REINS_OCI_EXEC_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

struct oci_exec_options {
        const char *root, *id;
        const char *process_path; /* --process FILE, or NULL: args below */
        char **args;              /* the command (without --process) */
        size_t arg_count;
        char **env; /* --env NAME=VALUE additions */
        size_t env_count;
        const char *cwd; /* --cwd */
        bool tty, detach;
        const char *pid_file;       /* NULL: none */
        const char *console_socket; /* NULL: none */
        const char *policy;         /* the runtime's default, when the state names none */
};

/* Starts the process; without detach waits for it: *status is then its
 * exit status (128+N for signal N). */
int oci_exec(const struct oci_exec_options *o, int *status, struct reins_error *err);

#endif
