/* reins diff SESSION [PATH...] [--stat | --json | --patch] [--against OTHER]:
 * what a copy-on-write session changed, or how two sessions' results differ. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/notice.h"
#include "util/cleanup.h"
#include "util/bytes_json.h"
#include "util/text_escape.h"
#include "util/path.h"
#include "workspace/base.h"
#include "workspace/gitcommits.h"
#include "workspace/protect.h"
#include "workspace/review.h"
#include "workspace/session.h"

static void diff_usage(FILE *out)
{
        fputs("usage: reins diff SESSION [PATH...] [--stat | --json | --patch] [--against OTHER]\n"
              "  Show what a copy-on-write session changed in its copy of the workspace:\n"
              "  created, modified, deleted, type- and mode-changed files, unified diffs for\n"
              "  text, protected paths flagged. Three-way: a path the host also changed\n"
              "  since the change's base is a CONFLICT, shown against the base; commits\n"
              "  made in the session are listed as commits (reins apply SESSION --git).\n"
              "  --stat           a summary per file\n"
              "  --json           machine-readable\n"
              "  --patch          a git patch (git apply takes it on a fresh checkout);\n"
              "                   on a terminal, control characters are shown escaped\n"
              "  --against OTHER  compare SESSION's result with session OTHER's\n",
              out);
}

/* Paths given on the command line, workspace-relative. */
static int diff_paths(int count, char **args, const char *lower, struct reins_strv *out)
{
        for (int i = 0; i < count; i++) {
                char *rel = workspace_relative_path(args[i], lower);
                if (!rel) {
                        fprintf(stderr, "reins: %s: not a path inside the workspace %s\n", args[i],
                                lower);
                        return -EINVAL;
                }
                if (strv_push_take(out, rel) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int diff_open_root(const char *path, int *fd)
{
        *fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (*fd < 0) {
                fprintf(stderr, "reins: %s: %s\n", path, strerror(errno));
                return -1;
        }
        return 0;
}

/* The commits made in the session (git's own data in the copy's .git is
 * not shown as files): author, subject and ref names are the agent's bytes,
 * escaped. */
static json_t *diff_git_json(const struct workspace_session *session,
                             const struct workspace_changes *changes,
                             const struct workspace_git_commits *git, const char *git_error)
{
        char branch[64];
        workspace_git_branch(session, branch);
        json_t *list = json_array();
        for (size_t i = 0; list && i < git->count; i++)
                json_array_append_new(list,
                                      json_pack("{s:s, s:o, s:o}", "hash", git->items[i].hash,
                                                "author", bytes_json_z(git->items[i].author),
                                                "subject", bytes_json_z(git->items[i].subject)));
        json_t *doc =
            json_pack("{s:I, s:o, s:b, s:s}", "internal_changes", (json_int_t)changes->git_internal,
                      "commits", list, "more", git->more, "branch", branch);
        if (doc && git->head[0])
                json_object_set_new(doc, "head", json_string(git->head));
        if (doc && git->head_ref)
                json_object_set_new(doc, "head_ref", bytes_json_z(git->head_ref));
        if (doc && git_error)
                json_object_set_new(doc, "error", bytes_json_z(git_error));
        return doc;
}

static void diff_git_text(FILE *out, const struct workspace_session *session,
                          const struct workspace_changes *changes,
                          const struct workspace_git_commits *git, const char *git_error,
                          bool brief)
{
        char branch[64];
        workspace_git_branch(session, branch);
        if (git_error) {
                fputs("git: the session changed .git; its commits cannot be listed: ", out);
                text_escape_write(out, git_error, strlen(git_error), 0);
                fputc('\n', out);
                return;
        }
        if (git->count == 0) {
                fprintf(out,
                        "git: %zu entr%s of git's own data changed in .git (index, logs ...); no "
                        "commit the host repository lacks\n",
                        changes->git_internal, changes->git_internal == 1 ? "y" : "ies");
                return;
        }
        fprintf(out,
                "git: %zu%s commit%s made in the session, not in the host repository "
                "(reins apply %s --git puts them on branch %s):\n",
                git->count, git->more ? "+" : "", git->count == 1 && !git->more ? "" : "s",
                session->id, branch);
        if (brief)
                return;
        for (size_t i = 0; i < git->count; i++) {
                const struct workspace_git_commit *c = &git->items[i];
                fprintf(out, "  commit %.12s  ", c->hash);
                text_escape_write(out, c->author, strlen(c->author), 0);
                fputs("  ", out);
                text_escape_write(out, c->subject, strlen(c->subject), 0);
                fputc('\n', out);
        }
        if (git->more)
                fputs("  ... (more commits not listed)\n", out);
        if (git->head[0]) {
                fprintf(out, "  HEAD %.12s", git->head);
                if (git->head_ref) {
                        fputs(" (", out);
                        text_escape_write(out, git->head_ref, strlen(git->head_ref), 0);
                        fputc(')', out);
                }
                fputc('\n', out);
        }
}

int cli_diff(int argc, char **argv)
{
        static const struct option options[] = {
            {"stat", no_argument, NULL, 's'},  {"json", no_argument, NULL, 'j'},
            {"patch", no_argument, NULL, 'p'}, {"against", required_argument, NULL, 'a'},
            {"help", no_argument, NULL, 'h'},  {NULL, 0, NULL, 0},
        };
        enum workspace_review_format format = WORKSPACE_REVIEW_TEXT;
        const char *against = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
                switch (c) {
                case 's':
                        format = WORKSPACE_REVIEW_STAT;
                        break;
                case 'j':
                        format = WORKSPACE_REVIEW_JSON;
                        break;
                case 'p':
                        format = WORKSPACE_REVIEW_PATCH;
                        break;
                case 'a':
                        against = optarg;
                        break;
                case 'h':
                        diff_usage(stdout);
                        return 0;
                default:
                        diff_usage(stderr);
                        return EXIT_REINS_USAGE;
                }
        }
        if (optind >= argc) {
                diff_usage(stderr);
                return EXIT_REINS_USAGE;
        }
        const char *id = argv[optind++];
        /* options may come anywhere; after "--" everything is a path ("-x" names) */
        int path_start = optind;

        struct reins_error err = {0};
        struct workspace_session session = {0}, other = {0};
        struct workspace_changes changes = {0}, other_changes = {0}, compared = {0};
        struct reins_strv paths = {0};
        int status = EXIT_REINS_FAILED;
        cleanup_fd int lower_fd = -1;
        cleanup_fd int upper_fd = -1;
        cleanup_fd int other_fd = -1;
        cleanup_fd int kept_fd = -1;
        cleanup_free char *kept_dir = NULL;
        json_auto_t *head = NULL;
        struct workspace_git_commits git = {0};
        struct reins_error git_err = {0};
        const char *git_error = NULL;

        if (workspace_session_open(id, &session, &err) < 0 ||
            (against && workspace_session_open(against, &other, &err) < 0)) {
                cli_error(&err);
                goto out;
        }
        /* limits.workspace_size: a running session's copy is in its tmpfs
         * and reaches the session directory when the session ends */
        if (workspace_session_is_live(&session) &&
            json_integer_value(json_object_get(session.meta, "workspace_size")) > 0)
                fprintf(stderr,
                        "reins: note: session %s is running with limits.workspace_size: its "
                        "copy is in memory until it ends; this shows the copy as it was when "
                        "the session started\n",
                        session.id);
        if (against && strcmp(session.lower, other.lower) != 0) {
                fprintf(stderr,
                        "reins: sessions %s and %s are copies of different workspaces (%s, %s)\n",
                        session.id, other.id, session.lower, other.lower);
                goto out;
        }
        if (diff_paths(argc - path_start, argv + path_start, session.lower, &paths) < 0) {
                status = EXIT_REINS_USAGE;
                goto out;
        }
        if (workspace_session_changes(&session, paths.items, paths.count, &changes, &err) < 0 ||
            (against && workspace_session_changes(&other, paths.items, paths.count, &other_changes,
                                                  &err) < 0)) {
                cli_error(&err);
                goto out;
        }
        if (diff_open_root(session.lower, &lower_fd) < 0 ||
            diff_open_root(session.upper, &upper_fd) < 0 ||
            (against && diff_open_root(other.upper, &other_fd) < 0))
                goto out;
        /* the kept copies of base contents (three-way review), when any */
        kept_dir = path_join(session.dir, WORKSPACE_BASE_KEPT_DIR);
        kept_fd = kept_dir ? open(kept_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
        struct workspace_roots roots = {{-1, lower_fd, upper_fd, other_fd}, against ? -1 : kept_fd};
        const struct workspace_changes *shown = &changes;
        if (against) {
                if (workspace_compare_sessions(&changes, &other_changes, &roots, &compared, &err) <
                    0) {
                        cli_error(&err);
                        goto out;
                }
                /* both sessions' protected paths are flagged */
                for (size_t i = 0; i < compared.count; i++) {
                        struct workspace_change *a =
                            workspace_changes_find(&changes, compared.items[i].path);
                        struct workspace_change *b =
                            workspace_changes_find(&other_changes, compared.items[i].path);
                        compared.items[i].protected = (a && a->protected) || (b && b->protected);
                }
                shown = &compared;
        }
        /* the scan's caps (workspace/scan.h): a cut list is shown as such */
        const struct workspace_changes *cut = changes.truncated         ? &changes
                                              : other_changes.truncated ? &other_changes
                                                                        : NULL;
        char why[256] = "";
        if (cut)
                workspace_changes_truncation(cut, why, sizeof(why));
        if (cut && format == WORKSPACE_REVIEW_PATCH) {
                /* git apply would take a cut patch as the whole */
                fprintf(stderr, "reins: session %s: %s: no patch written\n",
                        cut == &changes ? session.id : other.id, why);
                goto out;
        }
        /* git's own data in .git is listed as commits, not as files */
        if (!against && changes.git_internal > 0 &&
            workspace_git_commits(&session, &git, &git_err) < 0)
                git_error = git_err.message;
        head = json_pack("{s:s, s:o}", "session", session.id, "lower", bytes_json_z(session.lower));
        if (head && !against && changes.git_internal > 0)
                json_object_set_new(head, "git",
                                    diff_git_json(&session, &changes, &git, git_error));
        if (head && against)
                json_object_set_new(head, "against", json_string(other.id));
        if (head && cut) {
                json_object_set_new(head, "truncated", json_true());
                json_object_set_new(head, "limits",
                                    json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:s}", "cap",
                                              cut->cap ? cut->cap : "bytes", "not_listed",
                                              (json_int_t)cut->not_listed, "max_changes",
                                              (json_int_t)WORKSPACE_SCAN_MAX_CHANGES, "max_bytes",
                                              (json_int_t)WORKSPACE_SCAN_MAX_BYTES, "max_depth",
                                              (json_int_t)WORKSPACE_SCAN_MAX_DEPTH, "max_path",
                                              (json_int_t)WORKSPACE_SCAN_MAX_PATH, "summary", why));
        }
        /* a patch holds the agent's bytes as they are: on a terminal they
         * are shown escaped (they could redraw the screen and hide a line);
         * redirected, the patch is exact */
        FILE *out = stdout;
        if (format == WORKSPACE_REVIEW_PATCH && isatty(STDOUT_FILENO)) {
                out = text_escape_lines_open(stdout,
                                             TEXT_ESCAPE_KEEP_TAB | TEXT_ESCAPE_KEEP_BACKSLASH);
                if (!out) {
                        notice("out of memory");
                        goto out;
                }
        }
        bool contents_cut = false;
        int written = workspace_review_write(out, shown, &roots, format, head, &contents_cut, &err);
        if (out != stdout && fclose(out) != 0 && written == 0)
                written = reins_error_errno(&err, errno, "writing the diff");
        if (written < 0) {
                cli_error(&err);
                goto out;
        }
        if (!against && changes.git_internal > 0) {
                if (format == WORKSPACE_REVIEW_TEXT || format == WORKSPACE_REVIEW_STAT)
                        diff_git_text(stdout, &session, &changes, &git, git_error,
                                      format == WORKSPACE_REVIEW_STAT);
                else if (format == WORKSPACE_REVIEW_PATCH && git.count > 0)
                        fprintf(stderr,
                                "reins: %zu%s commit%s made in the session %s not in this patch "
                                "(reins apply %s --git puts them on a branch)\n",
                                git.count, git.more ? "+" : "", git.count == 1 ? "" : "s",
                                git.count == 1 ? "is" : "are", session.id);
        }
        if (contents_cut) {
                printf("reins: diff truncated: contents past %u MiB of output are not shown "
                       "(reins diff %s PATH... shows part of it)\n",
                       WORKSPACE_DIFF_OUTPUT_MAX >> 20, session.id);
                fflush(stdout);
                fprintf(stderr,
                        "reins: diff truncated: contents past %u MiB of output are not "
                        "shown\n",
                        WORKSPACE_DIFF_OUTPUT_MAX >> 20);
        }
        if (cut) {
                if (format != WORKSPACE_REVIEW_JSON)
                        printf("reins: diff truncated: %s\n", why);
                fflush(stdout);
                fprintf(stderr, "reins: diff truncated: %s\n", why);
        }
        status = 0;
out:
        workspace_git_commits_free(&git);
        workspace_changes_free(&changes);
        workspace_changes_free(&other_changes);
        workspace_changes_free(&compared);
        strv_free(&paths);
        workspace_session_free(&session);
        workspace_session_free(&other);
        return status;
}
