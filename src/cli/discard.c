/* reins discard SESSION...: delete copy-on-write sessions (their copies and
 * records). The host workspace is not touched. */
#include <getopt.h>
#include <stdio.h>

#include "audit/event.h"
#include "cli/cli.h"
#include "workspace/session.h"

static void discard_usage(FILE *out)
{
        fputs("usage: reins discard SESSION... [--force] [-v]\n"
              "  Delete the sessions' copies. A running session is refused unless --force.\n",
              out);
}

int cli_discard(int argc, char **argv)
{
        static const struct option options[] = {
            {"force", no_argument, NULL, 'f'},
            {"verbose", no_argument, NULL, 'v'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        bool force = false, verbose = false;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "fvh", options, NULL)) != -1) {
                switch (c) {
                case 'f':
                        force = true;
                        break;
                case 'v':
                        verbose = true;
                        break;
                case 'h':
                        discard_usage(stdout);
                        return 0;
                default:
                        discard_usage(stderr);
                        return EXIT_REINS_USAGE;
                }
        }
        if (optind >= argc) {
                discard_usage(stderr);
                return EXIT_REINS_USAGE;
        }
        int status = 0;
        for (int i = optind; i < argc; i++) {
                struct reins_error err = {0};
                struct workspace_session session = {0};
                if (workspace_session_open_damaged(argv[i], &session, &err) < 0) {
                        fprintf(stderr, "reins: %s\n", err.message);
                        status = EXIT_REINS_FAILED;
                        workspace_session_free(&session);
                        continue;
                }
                if (workspace_session_is_live(&session) && !force) {
                        fprintf(stderr,
                                "reins: session %s is still running: stop it first, or --force\n",
                                session.id);
                        status = EXIT_REINS_FAILED;
                        workspace_session_free(&session);
                        continue;
                }
                if (workspace_session_remove(&session, &err) < 0) {
                        fprintf(stderr, "reins: %s\n", err.message);
                        status = EXIT_REINS_FAILED;
                } else {
                        printf("discarded session %s\n", session.id);
                        struct event_bus bus;
                        event_bus_init(&bus, session.id);
                        if (verbose)
                                event_bus_add_sink(&bus, event_sink_stderr, NULL);
                        event_emit(
                            &bus, "workspace.discard",
                            json_pack("{s:s, s:s}", "id", session.id, "lower", session.lower));
                }
                workspace_session_free(&session);
        }
        return status;
}
