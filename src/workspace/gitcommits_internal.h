/* What the files behind gitcommits.h share: gitrefs.c reads the copy's
 * refs, gitrepo.c builds the temporary repository, gitrun.c runs git,
 * gitcommits.c lists and lands the commits. */
#ifndef REINS_WORKSPACE_GITCOMMITS_INTERNAL_H
#define REINS_WORKSPACE_GITCOMMITS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"
#include "util/strv.h"
#include "workspace/gitcommits.h"
#include "workspace/gitrun.h"
#include "workspace/session.h"

/* ---- gitrefs.c: the refs the copy changed ---- */

struct ws_gc_tips {
        struct reins_strv hashes;
        size_t visited; /* entries looked at below refs/ */
        bool cut;
};

struct ws_gc_session {
        int upper_git; /* the copy's .git, -1 when it has none */
        int host_git;
        char head[65];
        char *head_ref;
        struct ws_gc_tips tips;
};

/* The session's HEAD and every ref the copy wrote (files below refs/ and
 * packed-refs), read through fds, checked, bounded. -errno. */
int ws_gc_session_read(const struct workspace_session *session, struct ws_gc_session *s);
void ws_gc_session_free(struct ws_gc_session *s);

/* A full object name at the start of s (40 or 64 hex digits, then the end
 * of a word): copied into out. */
bool ws_gc_take_hash(const char *s, char out[65]);
bool ws_gc_has_suffix(const char *s, const char *suffix);
bool ws_gc_is_hex(const char *s, size_t n);

/* ---- gitrepo.c: the temporary repository ---- */

struct ws_gc_repo {
        char *dir;      /* the temporary repository */
        char *host_git; /* the host's .git */
        bool drop;      /* run git as the repository's owner (root only) */
        uid_t uid;
        gid_t gid;
        size_t copied;  /* object bytes copied */
        bool too_large; /* past WORKSPACE_GIT_OBJECTS_MAX */
};

/* Build the temporary repository: the copy's objects, the host's objects as
 * its alternate, refs/heads/session at `head` (when given). */
int ws_gc_repo_make(const struct workspace_session *session, int upper_git, const char *head,
                    struct ws_gc_repo *repo, struct reins_error *err);
void ws_gc_repo_free(struct ws_gc_repo *repo);
/* Index each pack copied from the session with the host's git. */
int ws_gc_index_packs(const struct ws_gc_repo *repo, struct reins_error *err);

/* How git runs for this repository: on `git_dir` (NULL: the host's .git),
 * with `object_dir` as its object store (NULL: the git dir's own). */
static inline struct ws_git_runner ws_gc_repo_runner(const struct ws_gc_repo *repo,
                                                     const char *git_dir, const char *object_dir)
{
        return (struct ws_git_runner){.git_dir = git_dir ? git_dir : repo->host_git,
                                      .object_dir = object_dir,
                                      .drop = repo->drop,
                                      .uid = repo->uid,
                                      .gid = repo->gid};
}

#endif
