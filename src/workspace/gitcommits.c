/* Commits made inside a session: listed and landed with the host's git
 * (see gitcommits.h for the contract). */
#include "workspace/gitcommits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/array.h"
#include "util/cleanup.h"
#include "util/path.h"
#include "workspace/gitcommits_internal.h"

/* ---- the API --------------------------------------------------------------------------- */

void workspace_git_commits_free(struct workspace_git_commits *commits)
{
        for (size_t i = 0; i < commits->count; i++) {
                free(commits->items[i].author);
                free(commits->items[i].subject);
        }
        free(commits->items);
        free(commits->head_ref);
        memset(commits, 0, sizeof(*commits));
}

void workspace_git_branch(const struct workspace_session *session, char out[64])
{
        snprintf(out, 64, "reins/%s", session->id);
}

/* "HASH\0AUTHOR\0SUBJECT\0" records, one after the other */
static int gc_parse_log(const struct ws_git_output *log, struct workspace_git_commits *out)
{
        const char *p = log->data, *end = log->data ? log->data + log->length : NULL;
        while (p && p < end) {
                const char *f[3];
                for (int i = 0; i < 3; i++) {
                        const char *z = memchr(p, '\0', (size_t)(end - p));
                        if (!z)
                                return 0; /* cut by the output cap */
                        f[i] = p;
                        p = z + 1;
                }
                while (p < end && *p == '\n')
                        p++;
                if (out->count >= WORKSPACE_GIT_MAX_COMMITS) {
                        out->more = true;
                        return 0;
                }
                char hash[65];
                if (!ws_gc_take_hash(f[0], hash))
                        continue;
                struct workspace_git_commit *items =
                    realloc(out->items, (out->count + 1) * sizeof(*items));
                if (!items)
                        return -ENOMEM;
                out->items = items;
                struct workspace_git_commit *c = &items[out->count];
                memcpy(c->hash, hash, sizeof(hash));
                c->author = strdup(f[1]);
                c->subject = strdup(f[2]);
                if (!c->author || !c->subject) {
                        free(c->author);
                        free(c->subject);
                        return -ENOMEM;
                }
                out->count++;
        }
        return 0;
}

int workspace_git_commits(const struct workspace_session *session,
                          struct workspace_git_commits *out, struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        struct ws_gc_session s;
        int r = ws_gc_session_read(session, &s);
        if (r < 0) {
                ws_gc_session_free(&s);
                return reins_error_errno(err, -r, "session %s", session->id);
        }
        if (s.upper_git < 0 || s.host_git < 0) {
                ws_gc_session_free(&s);
                return 0;
        }
        out->repository = true;
        memcpy(out->head, s.head, sizeof(out->head));
        out->head_ref = s.head_ref;
        s.head_ref = NULL;
        if (s.tips.hashes.count == 0) {
                ws_gc_session_free(&s);
                return 0;
        }
        struct ws_gc_repo repo;
        r = ws_gc_repo_make(session, s.upper_git, NULL, &repo, err);
        if (r == 0)
                r = ws_gc_index_packs(&repo, err);
        if (r == 0) {
                /* git log TIPS --not --all: what the host's refs do not reach */
                size_t n = s.tips.hashes.count;
                char max[32];
                snprintf(max, sizeof(max), "--max-count=%u", WORKSPACE_GIT_MAX_COMMITS + 1);
                char **args = calloc(n + 12, sizeof(*args));
                cleanup_free char *objects = path_join(repo.dir, "objects");
                if (!args || !objects) {
                        r = reins_error_set(err, ENOMEM, "out of memory");
                } else {
                        size_t k = 0;
                        args[k++] = "log";
                        /* a ref the agent pointed at nothing (or at an object
                         * only some other repository holds) is passed over,
                         * not an error that hides every other commit */
                        args[k++] = "--ignore-missing";
                        args[k++] = "-z";
                        args[k++] = "--format=%H%x00%an <%ae>%x00%s";
                        args[k++] = max;
                        for (size_t i = 0; i < n; i++)
                                args[k++] = s.tips.hashes.items[i];
                        args[k++] = "--not";
                        args[k++] = "--all";
                        args[k++] = "--";
                        args[k] = NULL;
                        struct ws_git_runner runner = ws_gc_repo_runner(&repo, NULL, objects);
                        struct ws_git_output log;
                        r = ws_git_run(&runner, args, "listing the session's commits", &log, NULL,
                                       err);
                        if (r == 0 && gc_parse_log(&log, out) < 0)
                                r = reins_error_set(err, ENOMEM, "out of memory");
                        if (log.cut || s.tips.cut)
                                out->more = true;
                        free(log.data);
                }
                free(args);
        }
        ws_gc_repo_free(&repo);
        ws_gc_session_free(&s);
        if (r < 0)
                workspace_git_commits_free(out);
        return r;
}

int workspace_git_land(const struct workspace_session *session, const char *branch, char head[65],
                       struct reins_error *err)
{
        head[0] = '\0';
        struct ws_gc_session s;
        int r = ws_gc_session_read(session, &s);
        if (r < 0) {
                ws_gc_session_free(&s);
                return reins_error_errno(err, -r, "session %s", session->id);
        }
        if (s.host_git < 0) {
                ws_gc_session_free(&s);
                return reins_error_set(err, ENOENT, "%s is not a git repository", session->lower);
        }
        if (s.upper_git < 0 || !s.head[0]) {
                ws_gc_session_free(&s);
                return reins_error_set(err, ENOENT, "session %s made no commits", session->id);
        }
        memcpy(head, s.head, 65);
        struct ws_gc_repo repo;
        char ref[128];
        snprintf(ref, sizeof(ref), "refs/heads/%s", branch);
        r = ws_gc_repo_make(session, s.upper_git, s.head, &repo, err);
        if (r == 0)
                r = ws_gc_index_packs(&repo, err);
        struct ws_git_runner runner = ws_gc_repo_runner(&repo, NULL, NULL);
        struct ws_git_output out = {0};
        int status = 0;
        if (r == 0) {
                /* never over an existing branch */
                char *args[] = {"rev-parse", "--verify", "--quiet", ref, NULL};
                r = ws_git_run(&runner, args, "landing the commits", &out, &status, err);
                free(out.data);
                if (r == 0 && status == 0)
                        r = reins_error_set(err, EEXIST,
                                            "branch %s exists already in %s: nothing landed",
                                            branch, session->lower);
        }
        if (r == 0) {
                char refspec[192];
                snprintf(refspec, sizeof(refspec), "refs/heads/session:%s", ref);
                char *args[] = {"fetch",
                                "--quiet",
                                "--no-tags",
                                "--no-write-fetch-head",
                                "--no-recurse-submodules",
                                repo.dir,
                                refspec,
                                NULL};
                r = ws_git_run(&runner, args, "landing the commits", &out, NULL, err);
                free(out.data);
        }
        if (r == 0) {
                char *args[] = {"rev-parse", "--verify", "--quiet", ref, NULL};
                r = ws_git_run(&runner, args, "landing the commits", &out, &status, err);
                char got[65];
                if (r == 0 && (status != 0 || !out.data || !ws_gc_take_hash(out.data, got) ||
                               strcmp(got, head) != 0))
                        r = reins_error_set(err, EIO,
                                            "branch %s does not point at %s after the "
                                            "fetch",
                                            branch, head);
                free(out.data);
        }
        ws_gc_repo_free(&repo);
        ws_gc_session_free(&s);
        return r;
}
