/* One entry point per subcommand. Each returns the process exit status. */
#ifndef REINS_CLI_CLI_H
#define REINS_CLI_CLI_H

int cli_run(int argc, char **argv);
int cli_policy(int argc, char **argv);
int cli_doctor(int argc, char **argv);
int cli_audit(int argc, char **argv);    /* audit show | tail | verify | export */
int cli_ps(int argc, char **argv);       /* sessions running now */
int cli_stop(int argc, char **argv);     /* end a running session */
int cli_ls(int argc, char **argv);       /* copy-on-write workspace sessions */
int cli_diff(int argc, char **argv);     /* review a copy-on-write session */
int cli_apply(int argc, char **argv);    /* merge it into the host workspace */
int cli_discard(int argc, char **argv);  /* delete it */
int cli_id(int argc, char **argv);       /* the user's public key */
int cli_identity(int argc, char **argv); /* verify an agent identity assertion */
int cli_token(int argc, char **argv);    /* delegation tokens */
int cli_pending(int argc, char **argv);  /* requests waiting for a human */
int cli_approve(int argc, char **argv);  /* answer one: yes (or --watch, a queue) */
int cli_deny(int argc, char **argv);     /* answer one: no */
int cli_thaw(int argc, char **argv);     /* let a frozen session go on */
int cli_serve(int argc, char **argv);    /* the daemon: JSON API on a unix socket */
int cli_oci(int argc, char **argv);      /* an OCI runtime for podman, containerd, Kubernetes */
int cli_env(int argc, char **argv);      /* declarative environments: build, ls, show, rm, gc */

/* An environment build's progress on stderr (cli/env.c): a bar on a
 * terminal, plain lines otherwise; ctx NULL: the shared state. */
#include <stdint.h>
void cli_env_progress(void *ctx, const char *line, uint64_t done, uint64_t total);
void cli_env_progress_end(void);

/* reins serve token: the daemon's API tokens (called by cli_serve) */
int cli_serve_token(int argc, char **argv);

/* Exit statuses shared by every subcommand (DESIGN §4). */
enum {
        EXIT_REINS_USAGE = 2,     /* bad command line for a non-run subcommand */
        EXIT_TRAIL_FAILED = 123,  /* the audit trail could not be written: frozen and ended */
        EXIT_REINS_TIMEOUT = 124, /* --timeout fired and the sandbox was killed */
        EXIT_REINS_FAILED = 125,  /* reins failed before the command ran */
        EXIT_NOT_EXECUTABLE = 126,
        EXIT_NOT_FOUND = 127,
};

#endif
