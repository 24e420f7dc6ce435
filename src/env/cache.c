/* The environment cache, STATE/env (the user's own state directory: root's
 * cache is root's, a user's is the user's; never shared with another uid,
 * so nobody can plant a root for someone else):
 *
 *   entries/KEY/rootfs   the root, never written after the rename
 *   entries/KEY/meta     what it was built from (the lock's text)
 *   refs/SOURCEHASH      the KEY the source last built to (atomic rename)
 *   tmp/build.PID.XXXX   a build in progress; a dead PID's is removed
 *   sessions/ID.PID      writable: session layers (session_root.c)
 *
 * An entry appears only by rename(2) of a finished build: an interrupted
 * build leaves a tmp/ directory and no entry, and a failed refresh leaves
 * the previous entry and its ref untouched. */
#include "env/env.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/dirs.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/fileio.h"
#include "util/path.h"
#include "workspace/fsops.h"

static const char *const cache_subdirs[] = {"entries", "refs", "tmp", "sessions"};

int env_cache_dir(char **out, struct reins_error *err)
{
        cleanup_free char *state = NULL;
        int r = audit_state_dir(&state, err);
        if (r < 0)
                return r;
        cleanup_free char *dir = path_join(state, "env");
        if (!dir)
                return reins_error_set(err, ENOMEM, "out of memory");
        if ((r = audit_dir_check(dir, true, AUDIT_DIR_PRIVATE, err)) < 0)
                return r;
        /* inside a private directory of our own, the subdirectories need
         * no owner check of their own: made when missing (mkdir, not
         * followed: a name that is a symlink fails the build's openings) */
        for (size_t i = 0; i < sizeof(cache_subdirs) / sizeof(cache_subdirs[0]); i++) {
                cleanup_free char *sub = path_join(dir, cache_subdirs[i]);
                if (!sub)
                        return reins_error_set(err, ENOMEM, "out of memory");
                if (mkdir(sub, 0700) < 0 && errno != EEXIST)
                        return reins_error_errno(err, errno, "%s", sub);
        }
        *out = steal_ptr(&dir);
        return 0;
}

static bool cache_is_key(const char *s)
{
        if (strlen(s) != 64)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return true;
}

static int cache_entry_fill(const char *cache, const char *key, struct env_entry *out)
{
        struct stat st;
        cleanup_free char *dir = NULL;
        if (asprintf(&dir, "%s/entries/%s", cache, key) < 0)
                return -ENOMEM;
        char *rootfs = path_join(dir, "rootfs");
        if (!rootfs)
                return -ENOMEM;
        if (lstat(rootfs, &st) < 0 || !S_ISDIR(st.st_mode)) {
                free(rootfs);
                return -ENOENT;
        }
        memcpy(out->key, key, 65);
        out->dir = steal_ptr(&dir);
        out->rootfs = rootfs;
        return 0;
}

static int cache_read_ref(const char *cache, const char *source_hash, char key[65])
{
        cleanup_free char *path = NULL;
        if (asprintf(&path, "%s/refs/%s", cache, source_hash) < 0)
                return -ENOMEM;
        cleanup_fd int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        char text[66];
        ssize_t n = read(fd, text, sizeof(text) - 1);
        if (n < 64)
                return -EINVAL;
        text[64] = '\0';
        if (!cache_is_key(text))
                return -EINVAL;
        memcpy(key, text, 65);
        return 0;
}

static int cache_read_meta(const char *cache, const char *key, char **text);

/* Was entry `key` built from `source` (its meta's source line)? */
static bool cache_entry_is_of(const char *cache, const char *key, const char *source)
{
        char *text = NULL;
        if (cache_read_meta(cache, key, &text) < 0)
                return false;
        struct env_lock meta;
        struct reins_error ignored = {0};
        bool same = false;
        if (env_lock_parse(text, strlen(text), &meta, &ignored) == 0) {
                same = strcmp(meta.source, source) == 0 && strcmp(meta.key, key) == 0;
                env_lock_free(&meta);
        }
        free(text);
        return same;
}

int env_lookup(const char *cache, const struct env_spec *spec, struct env_entry *out,
               struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        char key[72];
        /* the lock pins the key when it speaks of this very source */
        if (spec->lock_path) {
                struct env_lock lock;
                struct reins_error ignored = {0};
                if (env_lock_read(spec->lock_path, &lock, &ignored) == 0) {
                        bool same = strcmp(lock.source, spec->source) == 0;
                        memcpy(key, lock.key, 65);
                        env_lock_free(&lock);
                        /* the lock may sit where the agent writes: it can pin
                         * only an entry built from this very source, never
                         * another environment of the cache */
                        if (same && cache_entry_is_of(cache, key, spec->source)) {
                                int r = cache_entry_fill(cache, key, out);
                                out->pinned = r == 0;
                                if (r != -ENOENT)
                                        return r < 0 ? reins_error_set(err, -r, "out of memory")
                                                     : 0;
                        }
                }
        }
        if (spec->kind == ENV_KIND_OCI) {
                /* content-addressed by the manifest's digest: a retagged
                 * layout is a new entry */
                int r = env_oci_resolve(spec->reference, spec->tag, key, err);
                if (r < 0)
                        return r;
                memmove(key, key + 7, 65);
        } else if (cache_read_ref(cache, spec->source_hash, key) < 0) {
                return -ENOENT;
        }
        int r = cache_entry_fill(cache, key, out);
        if (r == -ENOMEM)
                return reins_error_set(err, ENOMEM, "out of memory");
        return r;
}

void env_entry_free(struct env_entry *entry)
{
        free(entry->dir);
        free(entry->rootfs);
        entry->dir = entry->rootfs = NULL;
}

/* tmp/build.PID.XXXXXX of processes gone (an interrupted build). */
static void cache_sweep_tmp(const char *cache, const char *subdir, const char *prefix)
{
        cleanup_free char *path = path_join(cache, subdir);
        cleanup_fd int dirfd = path ? open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        cleanup_closedir DIR *d = dirfd >= 0 ? fdopendir(dup(dirfd)) : NULL;
        struct dirent *e;
        size_t plen = strlen(prefix);
        while (d && (e = readdir(d))) {
                if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, plen) != 0)
                        continue;
                /* NAME: PREFIX PID '.' ...; only a dead owner's goes */
                char *end = NULL;
                long pid = strtol(e->d_name + plen, &end, 10);
                if (pid <= 0 || !end || *end != '.' || kill((pid_t)pid, 0) == 0 || errno == EPERM)
                        continue;
                ws_remove_tree_at(dirfd, e->d_name);
        }
}

static int cache_write_ref(const char *cache, const char *source_hash, const char *key)
{
        cleanup_free char *path = NULL, *tmp = NULL;
        if (asprintf(&path, "%s/refs/%s", cache, source_hash) < 0 ||
            asprintf(&tmp, "%s.%d.tmp", path, (int)getpid()) < 0)
                return -ENOMEM;
        cleanup_fd int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        char text[66];
        snprintf(text, sizeof(text), "%s\n", key);
        int r = fileio_write_all(fd, text, strlen(text));
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                unlink(tmp);
        return r;
}

/* The content key: OCI images by their manifest's digest; Debian roots by
 * their source and every installed package's version. */
static void cache_key_of(const struct env_spec *spec, const struct env_lock *lock, char key[65])
{
        if (spec->kind != ENV_KIND_DEBIAN && lock->digests.count) {
                memcpy(key, lock->digests.items[0] + 7, 65);
                return;
        }
        struct digest_sha256 ctx;
        digest_sha256_init(&ctx);
        digest_sha256_update(&ctx, spec->source, strlen(spec->source) + 1);
        for (size_t i = 0; i < lock->packages.count; i++)
                digest_sha256_update(&ctx, lock->packages.items[i],
                                     strlen(lock->packages.items[i]) + 1);
        unsigned char digest[DIGEST_SHA256_BYTES];
        digest_sha256_final(&ctx, digest);
        for (size_t i = 0; i < sizeof(digest); i++)
                snprintf(key + 2 * i, 3, "%02x", digest[i]);
}

int env_build(const char *cache, const struct env_spec *spec, bool relock,
              const struct env_progress *progress, struct env_entry *out, struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        cache_sweep_tmp(cache, "tmp", "build.");
        cleanup_free char *dir = NULL;
        if (asprintf(&dir, "%s/tmp/build.%d.XXXXXX", cache, (int)getpid()) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        if (!mkdtemp(dir))
                return reins_error_errno(err, errno, "%s", dir);
        struct env_lock lock = {0};
        int r;
        switch (spec->kind) {
        case ENV_KIND_OCI:
                r = env_build_oci(dir, spec->reference, spec->tag, progress, &lock, err);
                break;
        case ENV_KIND_DOCKER_ARCHIVE:
        case ENV_KIND_CONTAINERS_STORAGE:
                r = env_build_skopeo(dir, spec, progress, &lock, err);
                break;
        default: {
                struct env_lock pins = {0};
                struct reins_error ignored = {0};
                bool pinned = !relock && spec->lock_path &&
                              env_lock_read(spec->lock_path, &pins, &ignored) == 0;
                if (pinned && strcmp(pins.source, spec->source) != 0) {
                        env_lock_free(&pins);
                        pinned = false;
                }
                r = env_build_debian(dir, spec, pinned ? &pins : NULL, progress, &lock, err);
                if (pinned)
                        env_lock_free(&pins);
                break;
        }
        }
        cleanup_free char *tmpdir_parent = path_join(cache, "tmp");
        cleanup_fd int tmpfd =
            tmpdir_parent ? open(tmpdir_parent, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
        const char *leaf = strrchr(dir, '/') + 1;
        if (r == 0 && !(lock.source = strdup(spec->source)))
                r = reins_error_set(err, ENOMEM, "out of memory");
        if (r < 0) {
                if (tmpfd >= 0)
                        ws_remove_tree_at(tmpfd, leaf);
                env_lock_free(&lock);
                return r;
        }
        cache_key_of(spec, &lock, lock.key);
        cleanup_free char *meta_text = env_lock_format(&lock), *meta = path_join(dir, "meta"),
                          *final = NULL;
        if (!meta_text || !meta || asprintf(&final, "%s/entries/%s", cache, lock.key) < 0) {
                r = reins_error_set(err, ENOMEM, "out of memory");
        } else {
                cleanup_fd int fd = open(meta, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                if (fd < 0 || fileio_write_all(fd, meta_text, strlen(meta_text)) < 0)
                        r = reins_error_errno(err, errno, "%s", meta);
        }
        /* the same content already there: keep it (sessions may use it) */
        if (r == 0 && rename(dir, final) < 0 && errno != EEXIST && errno != ENOTEMPTY)
                r = reins_error_errno(err, errno, "storing %s", final);
        if (tmpfd >= 0)
                ws_remove_tree_at(tmpfd, leaf);
        if (r == 0 && (r = cache_write_ref(cache, spec->source_hash, lock.key)) < 0)
                r = reins_error_errno(err, -r, "recording the environment's ref");
        if (r == 0 && spec->lock_path) {
                struct reins_error lock_err = {0};
                if (env_lock_write(spec->lock_path, &lock, &lock_err) < 0)
                        env_progress_say(progress, 0, 0, "warning: %s", lock_err.message);
        }
        if (r == 0 && (r = cache_entry_fill(cache, lock.key, out)) < 0)
                r = reins_error_errno(err, -r, "the new environment %s", lock.key);
        env_lock_free(&lock);
        return r;
}

/* A cache hit for a policy whose lock is missing or names another source
 * (a copied policy, a changed one): the lock gets the entry's pins. */
static void cache_ensure_lock(const char *cache, const struct env_spec *spec,
                              const struct env_entry *entry, const struct env_progress *progress)
{
        struct env_lock lock;
        struct reins_error ignored = {0};
        if (env_lock_read(spec->lock_path, &lock, &ignored) == 0) {
                bool same =
                    strcmp(lock.source, spec->source) == 0 && strcmp(lock.key, entry->key) == 0;
                env_lock_free(&lock);
                if (same)
                        return;
        }
        char *text = NULL;
        if (cache_read_meta(cache, entry->key, &text) < 0)
                return;
        ignored = (struct reins_error){0};
        if (env_lock_parse(text, strlen(text), &lock, &ignored) == 0) {
                struct reins_error lock_err = {0};
                if (env_lock_write(spec->lock_path, &lock, &lock_err) < 0)
                        env_progress_say(progress, 0, 0, "warning: %s", lock_err.message);
                env_lock_free(&lock);
        }
        free(text);
}

int env_prepare(const char *cache, const struct env_spec *spec, const struct env_progress *progress,
                struct env_entry *out, bool *built, struct reins_error *err)
{
        *built = false;
        int r = env_lookup(cache, spec, out, err);
        if (r == 0 && spec->lock_path && !out->pinned)
                cache_ensure_lock(cache, spec, out, progress);
        if (r != -ENOENT)
                return r;
        reins_error_clear(err);
        *built = true;
        return env_build(cache, spec, false, progress, out, err);
}

/* ---- ls, show, rm, gc ------------------------------------------------------- */

static int cache_find_prefix(const char *cache, const char *prefix, char key[65],
                             struct reins_error *err)
{
        cleanup_free char *path = path_join(cache, "entries");
        cleanup_closedir DIR *d = path ? opendir(path) : NULL;
        if (!d)
                return reins_error_errno(err, errno, "%s", path ? path : cache);
        size_t found = 0, plen = strlen(prefix);
        struct dirent *e;
        while ((e = readdir(d)))
                if (cache_is_key(e->d_name) && plen > 0 && strncmp(e->d_name, prefix, plen) == 0) {
                        memcpy(key, e->d_name, 65);
                        found++;
                }
        if (found == 1)
                return 0;
        return reins_error_set(err, found ? EINVAL : ENOENT, "environment %s: %s", prefix,
                               found ? "ambiguous (give more of its key)" : "no such entry");
}

static int cache_read_meta(const char *cache, const char *key, char **text)
{
        cleanup_free char *path = NULL;
        if (asprintf(&path, "%s/entries/%s/meta", cache, key) < 0)
                return -ENOMEM;
        cleanup_fd int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t len;
        bool truncated;
        return fileio_read_fd(fd, ENV_LOCK_MAX_BYTES, text, &len, &truncated);
}

int env_list(const char *cache, struct env_listing **out, size_t *count, struct reins_error *err)
{
        *out = NULL;
        *count = 0;
        cleanup_free char *path = path_join(cache, "entries");
        cleanup_closedir DIR *d = path ? opendir(path) : NULL;
        if (!d)
                return reins_error_errno(err, errno, "%s", path ? path : cache);
        struct dirent *e;
        while ((e = readdir(d))) {
                if (!cache_is_key(e->d_name))
                        continue;
                struct env_listing *grown = realloc(*out, (*count + 1) * sizeof(**out));
                if (!grown)
                        return reins_error_set(err, ENOMEM, "out of memory");
                *out = grown;
                struct env_listing *item = &grown[(*count)++];
                memset(item, 0, sizeof(*item));
                memcpy(item->key, e->d_name, 65);
                cleanup_free char *text = NULL;
                struct env_lock lock;
                struct reins_error ignored = {0};
                if (cache_read_meta(cache, e->d_name, &text) == 0 &&
                    env_lock_parse(text, strlen(text), &lock, &ignored) == 0) {
                        item->source = steal_ptr(&lock.source);
                        item->packages = lock.packages.count;
                        item->layers = lock.digests.count > 2 ? lock.digests.count - 2 : 0;
                        env_lock_free(&lock);
                }
                struct stat st;
                char when[32] = "?";
                if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                        struct tm tm;
                        gmtime_r(&st.st_mtime, &tm);
                        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
                }
                item->created = strdup(when);
        }
        return 0;
}

void env_listing_free(struct env_listing *items, size_t count)
{
        for (size_t i = 0; i < count; i++) {
                free(items[i].source);
                free(items[i].created);
        }
        free(items);
}

int env_show(const char *cache, const char *prefix, char **text, struct reins_error *err)
{
        char key[65];
        int r = cache_find_prefix(cache, prefix, key, err);
        if (r < 0)
                return r;
        r = cache_read_meta(cache, key, text);
        return r < 0 ? reins_error_errno(err, -r, "environment %s", key) : 0;
}

/* Remove refs naming `key` (all of them when key is NULL and keep is set:
 * the keys refs name are collected into keep instead). */
static void cache_scan_refs(const char *cache, const char *remove_key, struct reins_strv *keep)
{
        cleanup_free char *path = path_join(cache, "refs");
        cleanup_fd int fd = path ? open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        cleanup_closedir DIR *d = fd >= 0 ? fdopendir(dup(fd)) : NULL;
        struct dirent *e;
        while (d && (e = readdir(d))) {
                char key[65];
                if (!cache_is_key(e->d_name) || cache_read_ref(cache, e->d_name, key) < 0)
                        continue;
                if (remove_key && strcmp(key, remove_key) == 0)
                        unlinkat(fd, e->d_name, 0);
                if (keep)
                        strv_push_unique(keep, key);
        }
}

static int cache_remove_entry(const char *cache, const char *key, struct reins_error *err)
{
        cleanup_free char *path = path_join(cache, "entries");
        cleanup_fd int fd = path ? open(path, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
        if (fd < 0)
                return reins_error_errno(err, errno, "%s", path ? path : cache);
        /* renamed away first: a concurrent lookup sees it whole or not at all */
        char doomed[96];
        snprintf(doomed, sizeof(doomed), ".%s.%d.removing", key, (int)getpid());
        if (renameat(fd, key, fd, doomed) < 0)
                return reins_error_errno(err, errno, "environment %s", key);
        int r = ws_remove_tree_at(fd, doomed);
        return r < 0 ? reins_error_errno(err, -r, "removing environment %s", key) : 0;
}

int env_remove(const char *cache, const char *prefix, struct reins_error *err)
{
        char key[65];
        int r = cache_find_prefix(cache, prefix, key, err);
        if (r < 0)
                return r;
        cache_scan_refs(cache, key, NULL);
        return cache_remove_entry(cache, key, err);
}

int env_gc(const char *cache, size_t *removed, struct reins_error *err)
{
        *removed = 0;
        cache_sweep_tmp(cache, "tmp", "build.");
        cache_sweep_tmp(cache, "sessions", "");
        struct reins_strv keep = {0};
        cache_scan_refs(cache, NULL, &keep);
        struct env_listing *items = NULL;
        size_t count = 0;
        int r = env_list(cache, &items, &count, err);
        for (size_t i = 0; r == 0 && i < count; i++) {
                if (strv_contains(&keep, items[i].key))
                        continue;
                if ((r = cache_remove_entry(cache, items[i].key, err)) == 0)
                        (*removed)++;
        }
        env_listing_free(items, count);
        strv_free(&keep);
        return r;
}
