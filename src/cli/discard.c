/* reins discard SESSION... | --all | --older-than DURATION: delete
 * copy-on-write sessions (their copies and records). The host workspace is
 * not touched. A running session is refused unless --force; with --all or
 * --older-than it is skipped (and said), never removed. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/notice.h"
#include "policy/parse_units.h"
#include "workspace/record.h"
#include "workspace/session.h"

static void discard_usage(FILE *out)
{
        fputs("usage: reins discard SESSION... [--force] [--audit PATH] [-v]\n"
              "       reins discard --all | --older-than DURATION [--audit PATH] [-v]\n"
              "  Delete the sessions' copies. A running session is refused unless --force;\n"
              "  --all and --older-than (e.g. 7d, 12h) skip running sessions.\n",
              out);
}

/* One session: 0, or EXIT_REINS_FAILED after saying why. */
static int discard_one(const char *id, bool force, bool skip_live, const char *audit_path,
                       bool verbose)
{
        struct reins_error err = {0};
        struct workspace_session session = {0};
        int status = 0;
        if (workspace_session_open_damaged(id, &session, &err) < 0) {
                cli_error(&err);
                workspace_session_free(&session);
                return EXIT_REINS_FAILED;
        }
        if (workspace_session_is_live(&session) && !force) {
                if (skip_live)
                        printf("kept session %s: it is running\n", session.id);
                else
                        notice("session %s is still running: stop it first, or --force",
                               session.id);
                workspace_session_free(&session);
                return skip_live ? 0 : EXIT_REINS_FAILED;
        }
        /* the record first: when it cannot be written, nothing is removed */
        struct workspace_record record;
        if (workspace_record_open(&record, session.id, "discard", audit_path, verbose, &err) < 0) {
                cli_error(&err);
                workspace_session_free(&session);
                return EXIT_REINS_FAILED;
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
        return status;
}

/* Every session (older_than_ms 0), or those started before now - older_than_ms. */
static int discard_matching(uint64_t older_than_ms, const char *audit_path, bool verbose)
{
        struct reins_error err = {0};
        struct reins_strv ids = {0};
        if (workspace_session_list(&ids, &err) < 0) {
                cli_error(&err);
                return EXIT_REINS_FAILED;
        }
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        long long now_ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
        int status = 0, matched = 0;
        for (size_t i = 0; i < ids.count; i++) {
                if (older_than_ms) {
                        struct workspace_session s = {0};
                        bool old = workspace_session_open_damaged(ids.items[i], &s, &err) == 0 &&
                                   now_ns - workspace_session_started_ns(&s) >=
                                       (long long)older_than_ms * 1000000LL;
                        workspace_session_free(&s);
                        if (!old)
                                continue;
                }
                matched++;
                if (discard_one(ids.items[i], false, true, audit_path, verbose) != 0)
                        status = EXIT_REINS_FAILED;
        }
        if (matched == 0)
                printf("no session to discard\n");
        strv_free(&ids);
        return status;
}

int cli_discard(int argc, char **argv)
{
        static const struct option options[] = {
            {"force", no_argument, NULL, 'f'},
            {"verbose", no_argument, NULL, 'v'},
            {"audit", required_argument, NULL, 'A'},
            {"all", no_argument, NULL, 'a'},
            {"older-than", required_argument, NULL, 'o'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        bool force = false, verbose = false, all = false;
        const char *audit_path = NULL, *older = NULL;
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
                case 'a':
                        all = true;
                        break;
                case 'o':
                        older = optarg;
                        break;
                case 'h':
                        discard_usage(stdout);
                        return 0;
                default:
                        discard_usage(stderr);
                        return EXIT_REINS_USAGE;
                }
        }
        if (all || older) {
                uint64_t ms = 0;
                if (optind < argc || (all && older) || force) {
                        notice("--all and --older-than take no session and no --force; "
                               "running sessions are skipped");
                        return EXIT_REINS_USAGE;
                }
                if (older && (parse_duration_ms(older, &ms) < 0 || ms == 0)) {
                        notice("--older-than '%s': not a duration (e.g. 7d, 12h, 30m)", older);
                        return EXIT_REINS_USAGE;
                }
                return discard_matching(ms, audit_path, verbose);
        }
        if (optind >= argc) {
                discard_usage(stderr);
                return EXIT_REINS_USAGE;
        }
        int status = 0;
        for (int i = optind; i < argc; i++)
                if (discard_one(argv[i], force, false, audit_path, verbose) != 0)
                        status = EXIT_REINS_FAILED;
        return status;
}
