/* reins discard SESSION...: delete copy-on-write sessions (their copies and
 * records). The host workspace is not touched. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/notice.h"
#include "workspace/record.h"
#include "workspace/session.h"

static void discard_usage(FILE *out)
{
        fputs("usage: reins discard SESSION... [--force] [--audit PATH] [-v]\n"
              "  Delete the sessions' copies. A running session is refused unless --force.\n",
              out);
}

int cli_discard(int argc, char **argv)
{
        static const struct option options[] = {
            {"force", no_argument, NULL, 'f'},
            {"verbose", no_argument, NULL, 'v'},
            {"audit", required_argument, NULL, 'A'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        bool force = false, verbose = false;
        const char *audit_path = NULL;
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
                case 'A':
                        audit_path = optarg;
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
                        cli_error(&err);
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
                /* the record first: when it cannot be written, nothing is removed */
                struct workspace_record record;
                if (workspace_record_open(&record, session.id, "discard", audit_path, verbose,
                                          &err) < 0) {
                        cli_error(&err);
                        status = EXIT_REINS_FAILED;
                        workspace_session_free(&session);
                        continue;
                }
                if (workspace_session_remove(&session, &err) < 0) {
                        cli_error(&err);
                        status = EXIT_REINS_FAILED;
                } else {
                        printf("discarded session %s\n", session.id);
                        workspace_record_emit(
                            &record, "workspace.discard",
                            json_pack("{s:s, s:s}", "id", session.id, "lower", session.lower));
                }
                if (workspace_record_close(&record, &err) < 0) {
                        notice("audit trail: %s", err.message);
                        status = EXIT_REINS_FAILED;
                }
                workspace_session_free(&session);
        }
        return status;
}
