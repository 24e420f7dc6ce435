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
#include "util/cleanup.h"
#include "util/text_escape.h"
#include "workspace/apply.h"
#include "workspace/gitcommits.h"
#include "workspace/protect.h"
#include "workspace/record.h"
#include "workspace/session.h"

static void apply_usage(FILE *out)
{
        fputs("usage: reins apply SESSION [PATH...] [--dry-run] [--force] [--include-protected] "
              "[-v]\n"
              "       reins apply SESSION --git [--dry-run]\n"
              "  Merge the session's changes into the host workspace, each file atomically.\n"
              "  Commits made in the session are not applied to the working tree:\n"
              "  --git                put them on a new branch reins/SESSION of the host\n"
              "                       repository (its working tree, HEAD and index untouched)\n"
              "  --dry-run            say what would be done, change nothing\n"
              "  --force              overwrite host files changed since the session started\n"
              "                       (and apply to a session that is still running)\n"
              "  --include-protected  apply protected paths (.git/config, .git/hooks, .claude, "
              "...) too\n"
              "  --audit PATH         write the audit record there (default: the trail directory)\n"
              "  --json               the outcome as one JSON document (each change's result)\n"
              "  -v                   print the apply event on stderr\n",
              out);
}

/* reins apply SESSION --git: the session's commits on a new branch of the
 * host repository; the working tree, HEAD, index and config untouched. */
static int apply_git(struct workspace_session *session, const struct workspace_apply_options *opts,
                     const char *audit_path, bool verbose)
{
        struct reins_error err = {0};
        struct workspace_record record = {0};
        struct workspace_git_commits git = {0};
        int status = EXIT_REINS_FAILED;
        char branch[64], head[65] = "";
        workspace_git_branch(session, branch);
        if (!opts->dry_run &&
            workspace_record_open(&record, session->id, "apply", audit_path, verbose, &err) < 0) {
                cli_error(&err);
                return status;
        }
        audit_key_seal();
        if (workspace_git_commits(session, &git, &err) < 0) {
                cli_error(&err);
                goto out;
        }
        if (!git.repository || git.count == 0) {
                printf("session %s made no commit the host repository lacks: nothing to land\n",
                       session->id);
                status = 0;
                goto out;
        }
        printf("%s %zu%s commit%s of session %s on branch %s of %s\n",
               opts->dry_run ? "would put" : "putting", git.count, git.more ? "+" : "",
               git.count == 1 ? "" : "s", session->id, branch, session->lower);
        if (opts->dry_run) {
                status = 0;
                goto out;
        }
        if (workspace_git_land(session, branch, head, &err) < 0) {
                cli_error(&err);
                workspace_record_emit(&record, "workspace.apply",
                                      json_pack("{s:s, s:o, s:b, s:s, s:o}", "id", session->id,
                                                "lower", bytes_json_z(session->lower), "git", 1,
                                                "branch", branch, "refused",
                                                bytes_json_z(err.message)));
                goto out;
        }
        printf("branch %s created at %.12s; the working tree, HEAD and index are untouched "
               "(git log %s; git merge %s)\n",
               branch, head, branch, branch);
        workspace_session_set(session, "git_branch", json_string(branch), &err);
        workspace_session_set(session, "git_head", json_string(head), &err);
        workspace_record_emit(&record, "workspace.apply",
                              json_pack("{s:s, s:o, s:b, s:s, s:s, s:I}", "id", session->id,
                                        "lower", bytes_json_z(session->lower), "git", 1, "branch",
                                        branch, "head", head, "commits", (json_int_t)git.count));
        status = 0;
out:
        fflush(stdout);
        if (workspace_record_close(&record, &err) < 0) {
                notice("audit trail: %s", err.message);
                status = EXIT_REINS_FAILED;
        }
        workspace_git_commits_free(&git);
        return status;
}

int cli_apply(int argc, char **argv)
{
        static const struct option options[] = {
            {"dry-run", no_argument, NULL, 'n'},
            {"force", no_argument, NULL, 'f'},
            {"include-protected", no_argument, NULL, 'P'},
            {"verbose", no_argument, NULL, 'v'},
            {"audit", required_argument, NULL, 'A'},
            {"git", no_argument, NULL, 'G'},
            {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        struct workspace_apply_options opts = {.report = stdout};
        bool verbose = false;
        bool git_mode = false;
        bool json = false;
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
                case 'G':
                        git_mode = true;
                        break;
                case 'j':
                        json = true;
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
        if (json && git_mode) {
                notice("--json does not go with --git");
                return EXIT_REINS_USAGE;
        }
        /* --json: the per-change lines become the document's "changes" (the
         * daemon's POST /v1/sessions/ID/apply runs this) */
        json_auto_t *report = NULL;
        if (json) {
                opts.report = NULL;
                opts.report_json = report = json_array();
                if (!report) {
                        notice("out of memory");
                        return EXIT_REINS_FAILED;
                }
        }
        const char *id = argv[optind++];

        struct reins_error err = {0};
        struct workspace_session session = {0};
        struct workspace_changes changes = {0};
        struct reins_strv paths = {0};
        struct workspace_record record = {0};
        bool closed = false;
        int status = EXIT_REINS_FAILED;
        json_auto_t *outcome = NULL;
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
        if (git_mode) {
                if (optind < argc) {
                        fprintf(stderr, "reins: apply --git lands the session's commits whole: "
                                        "no PATH\n");
                        status = EXIT_REINS_USAGE;
                        goto out;
                }
                status = apply_git(&session, &opts, audit_path, verbose);
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
        if (!json)
                printf("%s session %s to %s\n", opts.dry_run ? "would apply" : "applying",
                       session.id, session.lower);
        struct workspace_apply_result res;
        if (workspace_apply(&session, &changes, &opts, &res, &err) < 0) {
                cli_error(&err);
                goto out;
        }
        if (res.base_error[0])
                notice("session %s: %s: a later apply may report false conflicts", session.id,
                       res.base_error);
        /* commits are never applied to the working tree (apply --git) */
        struct workspace_git_commits git = {0};
        size_t unlanded = 0;
        bool git_unknown = false;
        if (changes.git_internal > 0) {
                if (workspace_git_commits(&session, &git, &err) == 0) {
                        unlanded = git.count;
                } else {
                        git_unknown = true; /* the session stays open */
                        notice("session %s: its commits could not be listed: %s", session.id,
                               err.message);
                }
        }
        if (unlanded > 0 && !json)
                printf("  git: %zu%s commit%s made in the session, not applied to the working "
                       "tree (reins apply %s --git puts them on a branch)\n",
                       unlanded, git.more ? "+" : "", unlanded == 1 ? "" : "s", session.id);
        workspace_git_commits_free(&git);
        bool blocked = res.conflicts > 0 && !opts.force;
        if (json) {
                status = blocked || res.failed ? 1 : 0;
        } else if (blocked) {
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
                                res.unsupported == 0 && paths.count == 0 && unlanded == 0 &&
                                !git_unknown;
                if (complete) {
                        if (workspace_session_mark(&session, "applied", 0, &err) < 0) {
                                cli_error(&err);
                                status = EXIT_REINS_FAILED;
                        } else {
                                closed = true;
                                if (!json)
                                        printf("session %s closed (state \"applied\"); its copy is "
                                               "kept "
                                               "until `reins discard %s`\n",
                                               session.id, session.id);
                        }
                } else if (!json) {
                        printf("session %s stays open: not everything was applied "
                               "(reins diff %s shows what is left)\n",
                               session.id, session.id);
                }
        }
        if (!opts.dry_run)
                workspace_record_emit(
                    &record, "workspace.apply",
                    json_pack(
                        "{s:s, s:o, s:I, s:I, s:I, s:I, s:b, s:b, s:b, s:b, s:I}", "id", session.id,
                        "lower", bytes_json_z(session.lower), "applied", (json_int_t)res.applied,
                        "protected_skipped", (json_int_t)res.protected_skipped, "conflicts",
                        (json_int_t)res.conflicts, "failed", (json_int_t)res.failed, "blocked",
                        blocked, "forced", opts.force, "include_protected", opts.include_protected,
                        "closed", closed, "commits_not_landed", (json_int_t)unlanded));
        if (json)
                outcome = json_pack(
                    "{s:s, s:o, s:b, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:I, s:O, s:I}",
                    "session", session.id, "lower", bytes_json_z(session.lower), "dry_run",
                    opts.dry_run, "forced", opts.force, "include_protected", opts.include_protected,
                    "applied", (json_int_t)res.applied, "protected_skipped",
                    (json_int_t)res.protected_skipped, "conflicts", (json_int_t)res.conflicts,
                    "failed", (json_int_t)res.failed, "unsupported", (json_int_t)res.unsupported,
                    "blocked", blocked, "closed", closed, "commits_not_landed",
                    (json_int_t)unlanded, "changes", report, "changes_not_listed",
                    (json_int_t)res.unreported);
        if (outcome && res.base_error[0])
                json_object_set_new(outcome, "base_error", json_string(res.base_error));
out:
        fflush(stdout);
        if (workspace_record_close(&record, &err) < 0) {
                notice("audit trail: %s", err.message);
                status = EXIT_REINS_FAILED;
        }
        /* after the record is closed: the outcome includes whether it was
         * written (the exit status) */
        if (outcome) {
                /* names are the agent's: text_json_dumps escapes every control
                 * character and DEL, so the document is one safe line */
                cleanup_free char *text = text_json_dumps(outcome, JSON_COMPACT | JSON_SORT_KEYS);
                if (text)
                        printf("%s\n", text);
                fflush(stdout);
        }
        workspace_changes_free(&changes);
        strv_free(&paths);
        workspace_session_free(&session);
        return status;
}
