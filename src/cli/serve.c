/* reins serve: the daemon, in the foreground (serve/serve.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/notice.h"
#include "serve/serve.h"

static void serve_usage(FILE *out)
{
        fprintf(out,
                "usage: reins serve [--socket PATH] [--config FILE] [--state DIR]\n"
                "                   [--listen HOST:PORT --tls-cert FILE --tls-key FILE]\n"
                "       reins serve token create|list|revoke ... (API tokens for --listen)\n"
                "\n"
                "The daemon: a JSON API (docs/openapi.yaml) on a unix socket. Each session it\n"
                "starts is a 'reins run' supervisor of its own, so the daemon may stop or\n"
                "restart without touching running sessions. Runs in the foreground; SIGTERM\n"
                "or Ctrl-C ends it.\n"
                "\n"
                "  --socket PATH   listen there (default: $XDG_RUNTIME_DIR/reins/serve.sock)\n"
                "  --config FILE   roles: which users may call it and as what, which agent\n"
                "                  may run under which policies (README, \"Running reins\n"
                "                  for a team\"); without it only your own user and root may\n"
                "  --state DIR     the daemon's records, session output, audit trail and\n"
                "                  signing key (daemon-ed25519.key: it signs the answers\n"
                "                  and thaws it gives)\n"
                "                  (default: $STATE_DIRECTORY, else ~/.local/state/reins/serve)\n"
                "  --listen HOST:PORT  also serve HTTPS there (port 0: any free port); callers\n"
                "                  present an API token ('reins serve token create')\n"
                "  --tls-cert FILE, --tls-key FILE  the server's certificate and key (PEM)\n");
}

static void serve_ready(void *ctx, const char *socket_path, const char *listen_address,
                        const char *state_dir)
{
        (void)ctx;
        if (listen_address)
                fprintf(stderr, "reins: serving on %s and https://%s (state in %s)\n", socket_path,
                        listen_address, state_dir);
        else
                fprintf(stderr, "reins: serving on %s (state in %s)\n", socket_path, state_dir);
}

/* The binary sessions run: this one, by its /proc name resolved now, so a
 * package upgrade replacing the file starts new sessions with the new one. */
static char *serve_self(void)
{
        char path[4096];
        ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
        if (n <= 0)
                return NULL;
        path[n] = '\0';
        /* "(deleted)": the file was replaced; its path names the new one */
        static const char deleted[] = " (deleted)";
        size_t len = (size_t)n, tail = sizeof(deleted) - 1;
        if (len > tail && strcmp(path + len - tail, deleted) == 0)
                path[len - tail] = '\0';
        return strdup(path);
}

int cli_serve(int argc, char **argv)
{
        static const struct option options[] = {
            {"socket", required_argument, NULL, 's'},   {"config", required_argument, NULL, 'c'},
            {"state", required_argument, NULL, 'S'},    {"listen", required_argument, NULL, 'l'},
            {"tls-cert", required_argument, NULL, 'C'}, {"tls-key", required_argument, NULL, 'K'},
            {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
        };
        if (argc > 1 && strcmp(argv[1], "token") == 0)
                return cli_serve_token(argc - 1, argv + 1);
        struct serve_options o = {.on_ready = serve_ready};
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
                if (c == 's') {
                        o.socket_path = optarg;
                } else if (c == 'c') {
                        o.config_path = optarg;
                } else if (c == 'S') {
                        o.state_dir = optarg;
                } else if (c == 'l') {
                        o.listen = optarg;
                } else if (c == 'C') {
                        o.tls_cert = optarg;
                } else if (c == 'K') {
                        o.tls_key = optarg;
                } else if (c == 'h') {
                        serve_usage(stdout);
                        return 0;
                } else {
                        serve_usage(stderr);
                        return EXIT_REINS_USAGE;
                }
        }
        if (optind < argc) {
                serve_usage(stderr);
                return EXIT_REINS_USAGE;
        }
        char *self = serve_self();
        if (!self) {
                fprintf(stderr, "reins: serve: cannot tell where the reins binary is\n");
                return EXIT_REINS_FAILED;
        }
        o.reins_path = self;
        struct reins_error err = {0};
        int r = serve_run(&o, &err);
        free(self);
        if (r < 0) {
                cli_error(&err);
                return EXIT_REINS_FAILED;
        }
        return 0;
}
