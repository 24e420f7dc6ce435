/* reins apply SESSION [PATH...] [--dry-run] [--force] [--include-protected]:
 * merge a copy-on-write session's changes into the host workspace. After a
 * complete apply the session is closed (state "applied"); its copy stays
 * until `reins discard`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "audit/keys.h"
#include "cli/cli.h"
#include "cli/notice.h"
#include "util/bytes_json.h"
#include "workspace/apply.h"
#include "workspace/protect.h"
#include "workspace/record.h"
#include "workspace/session.h"

static void apply_usage(FILE *out)
{
        fputs("usage: reins apply SESSION [PATH...] [--dry-run] [--force] [--include-protected] "
              "[-v]\n"
              "  Merge the session's changes into the host workspace, each file atomically.\n"
              "  --dry-run            say what would be done, change nothing\n"
              "  --force              overwrite host files changed since the session started\n"
              "                       (and apply to a session that is still running)\n"
              "  --include-protected  apply protected paths (.git/config, .git/hooks, .claude, "
              "...) too\n"
              "  --audit PATH         write the audit record there (default: the trail directory)\n"
              "  -v                   print the apply event on stderr\n",
              out);
}

int cli_apply(int argc, char **argv)
{
        static const struct option options[] = {
            {"dry-run", no_argument, NULL, 'n'},
            {"force", no_argument, NULL, 'f'},
            {"include-protected", no_argument, NULL, 'P'},
            {"verbose", no_argument, NULL, 'v'},
            {"audit", required_argument, NULL, 'A'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        struct workspace_apply_options opts = {.report = stdout};
        bool verbose = false;
        const char *audit_path = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "nfvh", options, NULL)) != -1) {
                switch (c) {
                case 'n':
                        opts.dry_run = true;
                        break;
                case 'f':
                        opts.force = true;
                        break;
                case 'P':
                        opts.include_protected = true;
                        break;
                case 'v':
                        verbose = true;
                        break;
                case 'A':
                        audit_path = optarg;
                        break;
                case 'h':
                        apply_usage(stdout);
                        return 0;
                default:
                        apply_usage(stderr);
                        return EXIT_REINS_USAGE;
                }
        }
        if (optind >= argc) {
                apply_usage(stderr);
                return EXIT_REINS_USAGE;
        }
        const char *id = argv[optind++];

        struct reins_error err = {0};
        struct workspace_session session = {0};
        struct workspace_changes changes = {0};
        struct reins_strv paths = {0};
        struct workspace_record record = {0};
        bool closed = false;
        int status = EXIT_REINS_FAILED;
        if (workspace_session_open(id, &session, &err) < 0) {
                cli_error(&err);
                goto out;
        }
        if (workspace_session_is_live(&session) && !opts.force) {
                /* the agent may be half-way through writing a file */
                fprintf(stderr,
                        "reins: session %s is still running (pid %lld): wait for it to finish, "
                        "or --force\n",
                        session.id,
                        (long long)json_integer_value(json_object_get(session.meta, "pid")));
                goto out;
        }
        for (int i = optind; i < argc; i++) {
                char *rel = workspace_relative_path(argv[i], session.lower);
                if (!rel || strv_push_take(&paths, rel) < 0) {
                        fprintf(stderr, "reins: %s: not a path inside the workspace %s\n", argv[i],
                                session.lower);
                        status = EXIT_REINS_USAGE;
                        goto out;
                }
        }
        /* the record first: when it cannot be written, nothing is applied;
         * and it certifies its own key, so the user's key is gone before a
         * byte the agent wrote is read */
        if (!opts.dry_run &&
            workspace_record_open(&record, session.id, "apply", audit_path, verbose, &err) < 0) {
                cli_error(&err);
                goto out;
        }
        audit_key_seal();
        if (workspace_session_changes(&session, paths.items, paths.count, &changes, &err) < 0) {
                cli_error(&err);
                goto out;
        }
        /* Never a partial set: a list cut by the scan's caps is not what
         * the agent did, so nothing of it is applied. */
        if (changes.truncated) {
                char why[256];
                workspace_changes_truncation(&changes, why, sizeof(why));
                fprintf(stderr,
                        "reins: session %s: %s: nothing applied (apply it in parts: reins apply "
                        "%s PATH...)\n",
                        session.id, why, session.id);
                if (!opts.dry_run) { /* the refusal is on the record, with what was cut */
                        workspace_record_emit(
                            &record, "limit",
                            json_pack("{s:s, s:s, s:I, s:s}", "kind", "workspace.scan", "cap",
                                      changes.cap ? changes.cap : "bytes", "not_listed",
                                      (json_int_t)changes.not_listed, "summary", why));
                        workspace_record_emit(
                            &record, "workspace.apply",
                            json_pack("{s:s, s:o, s:I, s:b, s:s}", "id", session.id, "lower",
                                      bytes_json_z(session.lower), "applied", (json_int_t)0,
                                      "blocked", 1, "refused", "the change list is truncated"));
                }
                goto out;
        }
        printf("%s session %s to %s\n", opts.dry_run ? "would apply" : "applying", session.id,
               session.lower);
        struct workspace_apply_result res;
        if (workspace_apply(&session, &changes, &opts, &res, &err) < 0) {
                cli_error(&err);
                goto out;
        }
        bool blocked = res.conflicts > 0 && !opts.force;
        if (blocked) {
                printf("%zu conflict%s: nothing applied (host files changed since the session "
                       "started; review them, then --force to overwrite)\n",
                       res.conflicts, res.conflicts == 1 ? "" : "s");
                status = 1;
        } else {
                printf("%zu change%s %s", res.applied, res.applied == 1 ? "" : "s",
                       opts.dry_run ? "would be applied" : "applied");
                if (res.protected_skipped)
                        printf(", %zu protected skipped", res.protected_skipped);
                if (res.unsupported)
                        printf(", %zu unsupported skipped", res.unsupported);
                if (res.failed)
                        printf(", %zu FAILED", res.failed);
                printf("\n");
                status = res.failed ? 1 : 0;
        }
        if (!opts.dry_run && !blocked) {
                bool complete = res.failed == 0 && res.protected_skipped == 0 &&
                                res.unsupported == 0 && paths.count == 0;
                if (complete) {
                        if (workspace_session_mark(&session, "applied", 0, &err) < 0) {
                                cli_error(&err);
                                status = EXIT_REINS_FAILED;
                        } else {
                                closed = true;
                                printf("session %s closed (state \"applied\"); its copy is kept "
                                       "until `reins discard %s`\n",
                                       session.id, session.id);
                        }
                } else {
                        printf("session %s stays open: not everything was applied "
                               "(reins diff %s shows what is left)\n",
                               session.id, session.id);
                }
        }
        if (!opts.dry_run)
                workspace_record_emit(
                    &record, "workspace.apply",
                    json_pack("{s:s, s:o, s:I, s:I, s:I, s:I, s:b, s:b, s:b, s:b}", "id",
                              session.id, "lower", bytes_json_z(session.lower), "applied",
                              (json_int_t)res.applied, "protected_skipped",
                              (json_int_t)res.protected_skipped, "conflicts",
                              (json_int_t)res.conflicts, "failed", (json_int_t)res.failed,
                              "blocked", blocked, "forced", opts.force, "include_protected",
                              opts.include_protected, "closed", closed));
out:
        fflush(stdout);
        if (workspace_record_close(&record, &err) < 0) {
                notice("audit trail: %s", err.message);
                status = EXIT_REINS_FAILED;
        }
        workspace_changes_free(&changes);
        strv_free(&paths);
        workspace_session_free(&session);
        return status;
}
