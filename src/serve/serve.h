/* reins serve: the daemon (DESIGN §2, issue 15). One process that answers a
 * JSON API on a unix socket and starts each session as a supervisor process
 * of its own (`reins run`, forked and exec'd), so that the daemon may
 * restart -- crash, upgrade, kill -9 -- without touching a running agent.
 *
 * What it keeps lives in its state directory ($XDG_STATE_HOME/reins/serve,
 * else ~/.local/state/reins/serve): a directory per session it started
 * (record.json, stdout, stderr) and its own audit trail (trails/), where
 * every refused call is recorded. */
#ifndef REINS_SERVE_SERVE_H
#define REINS_SERVE_SERVE_H

#include <stdbool.h>

#include "util/error.h"

struct serve_options {
        const char *socket_path; /* NULL: RUNTIME_DIR/serve.sock (audit/runtime.h) */
        const char *config_path; /* NULL: no roles; the daemon's uid and root only */
        const char *state_dir;   /* NULL: $STATE_DIRECTORY, else XDG state/reins/serve */
        /* HOST:PORT for HTTPS with API tokens (serve/tokens.h); NULL: none.
         * Needs tls_cert and tls_key (PEM files): never plain HTTP on TCP */
        const char *listen;
        const char *tls_cert;
        const char *tls_key;
        const char *reins_path; /* the binary sessions run (reins run) */
        /* called once the socket listens (the CLI says where); may be NULL */
        /* listen_address: "HOST:PORT" as bound, NULL without --listen */
        void (*on_ready)(void *ctx, const char *socket_path, const char *listen_address,
                         const char *state_dir);
        void *ctx;
};

/* The daemon's state directory (created when missing, checked). */
int serve_state_dir(const char *requested, char **out, struct reins_error *err);

/* Serve until SIGTERM or SIGINT. 0, or -errno with err (nothing listened). */
int serve_run(const struct serve_options *options, struct reins_error *err);

#endif
