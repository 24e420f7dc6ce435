/* Cached whole-tree deny matches (see deny_cache.h for the rules that make
 * a cached directory trustworthy). The cache is reins' own file in the
 * caller's private state directory, hidden from every sandbox; what it
 * records comes from the tree, whose names the agent chooses, so every
 * index and length read back is checked before use. */
#include "sandbox/deny_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cache_dir.h"
#include "util/fileio.h"
#include "util/fs_times.h"
#include "util/glob.h"
#include "util/cleanup.h"

#define DC_MAGIC   "REINSDC1"
#define DC_NONE    UINT32_MAX
#define DC_RACY_NS 2000000000LL /* a directory changed this recently is read again */
/* Bounds of the supervisor's memory, whatever tree the agent left behind:
 * a cache file larger than DC_MAX_BYTES is ignored, a tree whose records
 * outgrow DC_MAX_TREE_BYTES is walked without keeping them (and not
 * cached), and a directory whose subdirectories' names take more than
 * DC_MAX_SUBDIR_BYTES refuses the start (-E2BIG) like the entry cap. */
#define DC_MAX_BYTES        (16u << 20)
#define DC_MAX_TREE_BYTES   (16u << 20)
#define DC_MAX_SUBDIR_BYTES (4u << 20)
#define DC_SUM_BYTES        32
#define DC_MAX_CACHES       128 /* cache files kept (one per tree and set of globs) */

enum {
        DC_RACY = 1,       /* changed within DC_RACY_NS of being read */
        DC_UNREADABLE = 2, /* could not be listed: try again next time */
        DC_UNTRUSTED = 4,  /* on a filesystem not known to keep the rules */
};

/* On disk and in memory alike; written in preorder (a parent before its
 * children), so `parent` < the record's own index. */
struct dc_dir {
        uint32_t parent;
        uint32_t name_off, name_len;
        uint32_t flags;
        uint64_t entries; /* entries of this directory */
        uint64_t dev, ino;
        int64_t mtime_ns, ctime_ns;
        int64_t read_ns; /* CLOCK_REALTIME when it was listed */
};

struct dc_match {
        uint32_t dir;
        uint32_t name_off, name_len;
        uint32_t reserved;
};

struct dc_header {
        char magic[8];
        uint32_t dir_count, match_count;
        uint64_t names_bytes;
        unsigned char key[32]; /* the tree and the patterns */
        unsigned char sum[DC_SUM_BYTES];
};

struct dc_tree {
        struct dc_dir *dirs;
        size_t dir_count, dir_cap;
        struct dc_match *matches;
        size_t match_count, match_cap;
        char *names;
        size_t names_used, names_cap;
        /* loaded trees only: each directory's children sorted by name, and
         * its range of matches */
        uint32_t *kids, *kid_first, *kid_count;
        uint32_t *match_first, *match_count_of;
};

struct dc_ctx {
        char *const *patterns;
        size_t count;
        int rootfd;
        char path[PATH_MAX]; /* the absolute path being looked at */
        size_t root_len;
        struct dc_tree *old;
        struct dc_tree fresh;
        struct reins_strv *matches;
        uint64_t total, max_entries;
        int64_t began_ns; /* CLOCK_REALTIME when this pass began */
        bool changed;
        bool keep; /* the fresh tree is still within DC_MAX_TREE_BYTES */
        struct deny_cache_stats *stats;
        dev_t devs[16];
        bool trusted[16];
        size_t dev_count;
};

static void dc_tree_free(struct dc_tree *t)
{
        free(t->dirs);
        free(t->matches);
        free(t->names);
        free(t->kids);
        free(t->kid_first);
        free(t->kid_count);
        free(t->match_first);
        free(t->match_count_of);
        memset(t, 0, sizeof(*t));
}

static int grow(void **items, size_t *cap, size_t need, size_t size)
{
        if (need <= *cap)
                return 0;
        size_t next = *cap ? *cap * 2 : 64;
        while (next < need)
                next *= 2;
        void *p = realloc(*items, next * size);
        if (!p)
                return -ENOMEM;
        *items = p;
        *cap = next;
        return 0;
}

static int dc_add_name(struct dc_tree *t, const char *name, size_t len, uint32_t *off)
{
        if (t->names_used + len > UINT32_MAX)
                return -E2BIG;
        if (grow((void **)&t->names, &t->names_cap, t->names_used + len, 1) < 0)
                return -ENOMEM;
        if (len > 0) /* an empty name may come with no buffer at all */
                memcpy(t->names + t->names_used, name, len);
        *off = (uint32_t)t->names_used;
        t->names_used += len;
        return 0;
}

static int64_t ns_of(struct timespec ts)
{
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t realtime_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return ns_of(ts);
}

/* Local filesystems whose directory mtime and ctime change with every entry
 * created, removed or renamed, and whose ctime no caller can set. Network
 * filesystems (another host's clock and caching) and FUSE (whatever the
 * daemon says) are read again at every start. Judged once per device, by
 * the first directory of it that is read. */
static bool dc_dev_trusted(struct dc_ctx *c, dev_t dev, int dirfd)
{
        for (size_t i = 0; i < c->dev_count; i++)
                if (c->devs[i] == dev)
                        return c->trusted[i];
        bool ok = fs_times_trusted(dirfd);
        if (c->dev_count < sizeof(c->devs) / sizeof(c->devs[0])) {
                c->devs[c->dev_count] = dev;
                c->trusted[c->dev_count++] = ok;
        }
        return ok;
}

static bool dc_matches_any(const struct dc_ctx *c, const char *path)
{
        for (size_t i = 0; i < c->count; i++)
                if (glob_match(c->patterns[i], path))
                        return true;
        return false;
}

/* c->path relative to the root, for the *at() calls on rootfd */
static const char *dc_relative(const struct dc_ctx *c)
{
        const char *rel = c->path + c->root_len;
        while (*rel == '/')
                rel++;
        return *rel ? rel : ".";
}

/* c->path matches: for the plan, and for the cache while it is kept. */
static int dc_add_match(struct dc_ctx *c, uint32_t dir, const char *name, size_t len)
{
        struct dc_tree *t = &c->fresh;
        uint32_t off = 0;
        if (c->keep && dir != DC_NONE) {
                if (grow((void **)&t->matches, &t->match_cap, t->match_count + 1,
                         sizeof(*t->matches)) < 0 ||
                    dc_add_name(t, name, len, &off) < 0) {
                        c->keep = false;
                        dc_tree_free(t);
                } else {
                        t->matches[t->match_count++] = (struct dc_match){
                            .dir = dir, .name_off = off, .name_len = (uint32_t)len};
                }
        }
        return strv_push_unique(c->matches, c->path);
}

/* Append "/name" to c->path; false when it would not fit (such a path
 * cannot be opened either: it is left as the plain walk left it). */
static bool dc_push(struct dc_ctx *c, size_t at, const char *name, size_t len)
{
        if (at + 1 + len >= sizeof(c->path))
                return false;
        c->path[at] = '/';
        memcpy(c->path + at + 1, name, len);
        c->path[at + 1 + len] = '\0';
        return true;
}

static int dc_kid_compare(const void *a, const void *b, void *arg)
{
        const struct dc_tree *t = arg;
        const struct dc_dir *x = &t->dirs[*(const uint32_t *)a],
                            *y = &t->dirs[*(const uint32_t *)b];
        size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
        int r = memcmp(t->names + x->name_off, t->names + y->name_off, n);
        return r ? r : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

/* The old tree's child of `dir` named `name`, or DC_NONE. */
static uint32_t dc_find_kid(const struct dc_tree *t, uint32_t dir, const char *name, size_t len)
{
        if (!t || dir == DC_NONE)
                return DC_NONE;
        size_t lo = 0, hi = t->kid_count[dir];
        const uint32_t *kids = t->kids + t->kid_first[dir];
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                const struct dc_dir *k = &t->dirs[kids[mid]];
                size_t n = k->name_len < len ? k->name_len : len;
                int r = memcmp(t->names + k->name_off, name, n);
                if (r == 0)
                        r = (k->name_len > len) - (k->name_len < len);
                if (r == 0)
                        return kids[mid];
                if (r < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return DC_NONE;
}

static int dc_visit(struct dc_ctx *c, uint32_t old, uint32_t parent, const char *name,
                    size_t name_len);

/* Names of the subdirectories of a directory being read, back to back,
 * each NUL-terminated (at most DC_MAX_SUBDIR_BYTES: the tree is the
 * agent's, and a directory of a million long-named subdirectories must not
 * make the supervisor hold them all). */
struct dc_names {
        char *bytes;
        size_t used, cap;
};

/* The record of the directory being visited, appended now so that it comes
 * before its children (preorder); DC_NONE once the tree outgrew what is kept
 * (DC_MAX_TREE_BYTES): the pass then goes on as a plain walk and stores
 * nothing. */
static uint32_t dc_record(struct dc_ctx *c, const struct dc_dir *rec, const char *name, size_t len)
{
        struct dc_tree *t = &c->fresh;
        if (!c->keep)
                return DC_NONE;
        size_t bytes = (t->dir_count + 1) * sizeof(*t->dirs) + t->names_used + len +
                       t->match_count * sizeof(*t->matches);
        uint32_t off = 0;
        if (bytes > DC_MAX_TREE_BYTES || t->dir_count >= DC_NONE - 1 ||
            grow((void **)&t->dirs, &t->dir_cap, t->dir_count + 1, sizeof(*t->dirs)) < 0 ||
            dc_add_name(t, name, len, &off) < 0) {
                c->keep = false;
                dc_tree_free(t);
                return DC_NONE;
        }
        uint32_t me = (uint32_t)t->dir_count++;
        t->dirs[me] = *rec;
        t->dirs[me].name_off = off;
        return me;
}

/* List the directory at c->path again into `rec` (its record is `me`):
 * match every entry, collect its subdirectories. */
static int dc_list(struct dc_ctx *c, const struct stat *st_dir, struct dc_dir *rec, uint32_t me,
                   struct dc_names *subdirs)
{
        c->changed = true;
        c->stats->reread++;
        /* A directory of the caller's that the caller cannot list or search
         * (mode 0, 0400) is one chmod away for the agent, who runs as the
         * same uid: what is inside cannot be checked, so it is hidden whole.
         * One of another user's stays out of reach inside too. Root lists
         * it all the same (its matches are hidden one by one, as anywhere). */
        bool owned = st_dir->st_uid == geteuid() && geteuid() != 0;
        if (owned && (st_dir->st_mode & (S_IRUSR | S_IXUSR)) != (S_IRUSR | S_IXUSR)) {
                rec->flags |= DC_UNREADABLE; /* checked again at every start */
                return strv_push_unique(c->matches, c->path);
        }
        int fd = openat(c->rootfd, dc_relative(c), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                if (errno == EACCES || errno == EPERM) {
                        /* another user's: unreadable inside too */
                        rec->flags |= DC_UNREADABLE;
                        return owned ? strv_push_unique(c->matches, c->path) : 0;
                }
                if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) {
                        rec->flags |= DC_UNREADABLE; /* gone since the stat */
                        return 0;
                }
                /* out of fds or memory: its matches would go unhidden */
                return -errno;
        }
        DIR *dir = fdopendir(fd);
        if (!dir) {
                int e = errno;
                close(fd);
                return -e;
        }
        if (!dc_dev_trusted(c, (dev_t)rec->dev, dirfd(dir)))
                rec->flags |= DC_UNTRUSTED;
        size_t at = strlen(c->path);
        int r = 0;
        struct dirent *de;
        struct stat st;
        while (r == 0 && (errno = 0, de = readdir(dir))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                rec->entries++;
                if (++c->total > c->max_entries) {
                        r = -E2BIG;
                        break;
                }
                size_t len = strlen(de->d_name);
                if (!dc_push(c, at, de->d_name, len))
                        continue;
                if (dc_matches_any(c, c->path)) {
                        r = dc_add_match(c, me, de->d_name, len); /* and not below it */
                } else {
                        bool is_dir = de->d_type == DT_DIR;
                        if (de->d_type == DT_UNKNOWN)
                                is_dir = fstatat(dirfd(dir), de->d_name, &st,
                                                 AT_SYMLINK_NOFOLLOW) == 0 &&
                                         S_ISDIR(st.st_mode);
                        if (is_dir) {
                                if (subdirs->used + len + 1 > DC_MAX_SUBDIR_BYTES)
                                        r = -E2BIG;
                                else if (grow((void **)&subdirs->bytes, &subdirs->cap,
                                              subdirs->used + len + 1, 1) < 0)
                                        r = -ENOMEM;
                                else {
                                        memcpy(subdirs->bytes + subdirs->used, de->d_name, len + 1);
                                        subdirs->used += len + 1;
                                }
                        }
                }
                c->path[at] = '\0';
        }
        if (r == 0 && errno != 0)
                r = -errno; /* a listing cut short would miss matches */
        closedir(dir);
        return r;
}

/* Visit the directory at c->path: one fstatat, and when the old record
 * still vouches for it, its cached matches and its subdirectories; else it
 * is listed again. */
static int dc_visit(struct dc_ctx *c, uint32_t old, uint32_t parent, const char *name,
                    size_t name_len)
{
        /* the racy check compares with when this pass began, which is before
         * the stat: earlier than the listing, so never less careful */
        int64_t now = c->began_ns;
        struct stat st;
        if (fstatat(c->rootfd, dc_relative(c), &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return 0; /* gone since its parent was listed */
                if (errno == EACCES)
                        return 0; /* cannot be reached inside either */
                return -errno;
        }
        if (!S_ISDIR(st.st_mode))
                return 0; /* replaced since it was listed */
        struct dc_dir rec = {
            .parent = parent,
            .name_len = (uint32_t)name_len,
            .dev = st.st_dev,
            .ino = st.st_ino,
            .mtime_ns = ns_of(st.st_mtim),
            .ctime_ns = ns_of(st.st_ctim),
        };
        c->stats->dirs++;
        const struct dc_dir *o = old != DC_NONE ? &c->old->dirs[old] : NULL;
        bool vouched = o && o->dev == rec.dev && o->ino == rec.ino && o->mtime_ns == rec.mtime_ns &&
                       o->ctime_ns == rec.ctime_ns && o->flags == 0;
        size_t at = strlen(c->path);
        int r = 0;
        if (!vouched) {
                rec.read_ns = now;
                if (rec.ctime_ns > now - DC_RACY_NS || rec.mtime_ns > now - DC_RACY_NS)
                        rec.flags |= DC_RACY;
                uint32_t me = dc_record(c, &rec, name, name_len);
                struct dc_names subdirs = {0};
                r = dc_list(c, &st, &rec, me, &subdirs);
                if (me != DC_NONE && c->keep) {
                        c->fresh.dirs[me].entries = rec.entries;
                        c->fresh.dirs[me].flags = rec.flags;
                }
                for (size_t off = 0; r == 0 && off < subdirs.used;) {
                        const char *sub = subdirs.bytes + off;
                        size_t len = strlen(sub);
                        off += len + 1;
                        if (!dc_push(c, at, sub, len))
                                continue;
                        r = dc_visit(c, dc_find_kid(c->old, old, sub, len), me, sub, len);
                        c->path[at] = '\0';
                }
                free(subdirs.bytes);
                return r;
        }
        rec.read_ns = o->read_ns;
        rec.entries = o->entries;
        c->total += o->entries;
        if (c->total > c->max_entries)
                return -E2BIG;
        uint32_t me = dc_record(c, &rec, name, name_len);
        const struct dc_tree *ot = c->old;
        for (uint32_t i = 0; r == 0 && i < ot->match_count_of[old]; i++) {
                const struct dc_match *m = &ot->matches[ot->match_first[old] + i];
                if (!dc_push(c, at, ot->names + m->name_off, m->name_len))
                        continue;
                r = dc_add_match(c, me, ot->names + m->name_off, m->name_len);
                c->path[at] = '\0';
        }
        for (uint32_t i = 0; r == 0 && i < ot->kid_count[old]; i++) {
                uint32_t kid = ot->kids[ot->kid_first[old] + i];
                const struct dc_dir *k = &ot->dirs[kid];
                const char *kid_name = ot->names + k->name_off;
                if (!dc_push(c, at, kid_name, k->name_len))
                        continue;
                r = dc_visit(c, kid, me, kid_name, k->name_len);
                c->path[at] = '\0';
        }
        return r;
}

static void dc_key(char *const *patterns, size_t count, const char *root, unsigned char key[32])
{
        crypto_generichash_state h;
        crypto_generichash_init(&h, NULL, 0, 32);
        crypto_generichash_update(&h, (const unsigned char *)DC_MAGIC, sizeof(DC_MAGIC));
        crypto_generichash_update(&h, (const unsigned char *)root, strlen(root) + 1);
        for (size_t i = 0; i < count; i++)
                crypto_generichash_update(&h, (const unsigned char *)patterns[i],
                                          strlen(patterns[i]) + 1);
        crypto_generichash_final(&h, key, 32);
}

static void dc_sum(const struct dc_tree *t, unsigned char sum[DC_SUM_BYTES])
{
        crypto_generichash_state h;
        crypto_generichash_init(&h, NULL, 0, DC_SUM_BYTES);
        crypto_generichash_update(&h, (const unsigned char *)t->dirs,
                                  t->dir_count * sizeof(*t->dirs));
        crypto_generichash_update(&h, (const unsigned char *)t->matches,
                                  t->match_count * sizeof(*t->matches));
        crypto_generichash_update(&h, (const unsigned char *)t->names, t->names_used);
        crypto_generichash_final(&h, sum, DC_SUM_BYTES);
}

static bool dc_name_ok(const struct dc_tree *t, uint32_t off, uint32_t len)
{
        if (len == 0 || len > NAME_MAX || (uint64_t)off + len > t->names_used)
                return false;
        const char *n = t->names + off;
        if (memchr(n, '/', len) || memchr(n, '\0', len))
                return false;
        return !((len == 1 && n[0] == '.') || (len == 2 && n[0] == '.' && n[1] == '.'));
}

/* Every index and length checked, then the children and match ranges
 * built. Any doubt: false, and the cache is not used. */
static bool dc_tree_index(struct dc_tree *t)
{
        if (t->dir_count == 0 || t->dirs[0].parent != DC_NONE || t->dirs[0].name_len != 0)
                return false;
        for (size_t i = 1; i < t->dir_count; i++)
                if (t->dirs[i].parent >= i ||
                    !dc_name_ok(t, t->dirs[i].name_off, t->dirs[i].name_len))
                        return false;
        for (size_t i = 0; i < t->match_count; i++) {
                if (t->matches[i].dir >= t->dir_count ||
                    (i > 0 && t->matches[i].dir < t->matches[i - 1].dir) ||
                    !dc_name_ok(t, t->matches[i].name_off, t->matches[i].name_len))
                        return false;
        }
        size_t n = t->dir_count;
        t->kids = calloc(n, sizeof(uint32_t));
        t->kid_first = calloc(n, sizeof(uint32_t));
        t->kid_count = calloc(n, sizeof(uint32_t));
        t->match_first = calloc(n, sizeof(uint32_t));
        t->match_count_of = calloc(n, sizeof(uint32_t));
        if (!t->kids || !t->kid_first || !t->kid_count || !t->match_first || !t->match_count_of)
                return false;
        for (size_t i = 1; i < n; i++)
                t->kid_count[t->dirs[i].parent]++;
        uint32_t at = 0;
        for (size_t i = 0; i < n; i++) {
                t->kid_first[i] = at;
                at += t->kid_count[i];
                t->kid_count[i] = 0;
        }
        for (size_t i = 1; i < n; i++) {
                uint32_t p = t->dirs[i].parent;
                t->kids[t->kid_first[p] + t->kid_count[p]++] = (uint32_t)i;
        }
        for (size_t i = 0; i < n; i++) {
                uint32_t *k = t->kids + t->kid_first[i];
                if (t->kid_count[i] > 1)
                        qsort_r(k, t->kid_count[i], sizeof(*k), dc_kid_compare, t);
                for (uint32_t j = 1; j < t->kid_count[i]; j++)
                        if (dc_kid_compare(&k[j - 1], &k[j], t) == 0)
                                return false; /* the same name twice */
        }
        for (size_t i = 0; i < t->match_count; i++) {
                uint32_t d = t->matches[i].dir;
                if (t->match_count_of[d]++ == 0)
                        t->match_first[d] = (uint32_t)i;
        }
        return true;
}

static bool dc_read_all(int fd, void *buf, size_t len)
{
        char *p = buf;
        while (len > 0) {
                ssize_t n = read(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                p += n;
                len -= (size_t)n;
        }
        return true;
}

/* 1 loaded, 0 no cache, -1 a cache that cannot be trusted (ignored). */
static int dc_load(int dirfd, const char *file, const unsigned char key[32], struct dc_tree *t)
{
        cleanup_fd int fd = openat(dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -1;
        struct stat st;
        struct dc_header h;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
            (uint64_t)st.st_size > DC_MAX_BYTES || (size_t)st.st_size < sizeof(h) ||
            !dc_read_all(fd, &h, sizeof(h)))
                return -1;
        if (memcmp(h.magic, DC_MAGIC, 8) != 0 || sodium_memcmp(h.key, key, 32) != 0)
                return -1;
        uint64_t want = sizeof(h) + (uint64_t)h.dir_count * sizeof(struct dc_dir) +
                        (uint64_t)h.match_count * sizeof(struct dc_match) + h.names_bytes;
        if (want != (uint64_t)st.st_size || h.dir_count == 0)
                return -1;
        t->dir_count = t->dir_cap = h.dir_count;
        t->match_count = t->match_cap = h.match_count;
        t->names_used = t->names_cap = h.names_bytes;
        t->dirs = malloc(h.dir_count * sizeof(*t->dirs));
        t->matches = malloc((h.match_count ? h.match_count : 1) * sizeof(*t->matches));
        t->names = malloc(h.names_bytes ? h.names_bytes : 1);
        if (!t->dirs || !t->matches || !t->names ||
            !dc_read_all(fd, t->dirs, h.dir_count * sizeof(*t->dirs)) ||
            !dc_read_all(fd, t->matches, h.match_count * sizeof(*t->matches)) ||
            !dc_read_all(fd, t->names, h.names_bytes))
                return -1;
        unsigned char sum[DC_SUM_BYTES];
        dc_sum(t, sum);
        if (sodium_memcmp(sum, h.sum, DC_SUM_BYTES) != 0 || !dc_tree_index(t))
                return -1;
        return 1;
}

/* A new file beside the old one, renamed over it: a reader sees either. A
 * failure only costs the next start a walk. */
static void dc_store(int dirfd, const char *file, const unsigned char key[32],
                     const struct dc_tree *t)
{
        struct dc_header h;
        memset(&h, 0, sizeof(h));
        memcpy(h.magic, DC_MAGIC, 8);
        h.dir_count = (uint32_t)t->dir_count;
        h.match_count = (uint32_t)t->match_count;
        h.names_bytes = t->names_used;
        memcpy(h.key, key, 32);
        dc_sum(t, h.sum);
        char tmp[NAME_MAX + 1];
        snprintf(tmp, sizeof(tmp), "%.64s.%d.new", file, (int)getpid());
        int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return;
        bool ok = fileio_write_all(fd, &h, sizeof(h)) == 0 &&
                  fileio_write_all(fd, t->dirs, t->dir_count * sizeof(*t->dirs)) == 0 &&
                  fileio_write_all(fd, t->matches, t->match_count * sizeof(*t->matches)) == 0 &&
                  fileio_write_all(fd, t->names, t->names_used) == 0;
        if (close(fd) < 0)
                ok = false;
        if (!ok || renameat(dirfd, tmp, dirfd, file) < 0) {
                unlinkat(dirfd, tmp, 0);
                return;
        }
        cache_dir_sweep(dirfd, DC_MAX_CACHES);
}

int deny_cache_collect(char *const *patterns, size_t count, const char *root, const char *cache_dir,
                       uint64_t max_entries, struct reins_strv *matches,
                       struct deny_cache_stats *stats)
{
        struct deny_cache_stats ignored;
        if (!stats)
                stats = &ignored;
        memset(stats, 0, sizeof(*stats));
        struct dc_ctx *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->patterns = patterns;
        c->count = count;
        c->matches = matches;
        c->max_entries = max_entries;
        c->stats = stats;
        c->began_ns = realtime_ns();
        c->keep = true;
        c->root_len = strlen(root);
        while (c->root_len > 1 && root[c->root_len - 1] == '/')
                c->root_len--;
        if (c->root_len >= sizeof(c->path)) {
                free(c);
                return 0; /* cannot be opened: nothing to walk, as before */
        }
        memcpy(c->path, root, c->root_len);
        c->path[c->root_len] = '\0';
        if (c->root_len == 1) { /* "/": children are "/name" */
                c->root_len = 0;
                c->path[0] = '\0';
        }
        c->rootfd = open(c->path[0] ? c->path : "/", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (c->rootfd < 0) {
                free(c);
                return 0; /* not a directory (a bound file) or unreadable */
        }
        unsigned char key[32];
        dc_key(patterns, count, root, key);
        char file[2 * sizeof(key) + 1];
        sodium_bin2hex(file, sizeof(file), key, sizeof(key));
        struct dc_tree old = {0};
        int cachefd =
            cache_dir ? open(cache_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
        stats->cache = cachefd >= 0 ? dc_load(cachefd, file, key, &old) : 0;
        if (stats->cache <= 0)
                dc_tree_free(&old);
        c->old = stats->cache > 0 ? &old : NULL;
        int r = dc_visit(c, c->old ? 0 : DC_NONE, DC_NONE, "", 0);
        stats->entries = c->total;
        if (r == 0 && cachefd >= 0 && c->keep && c->fresh.dir_count > 0 && (c->changed || !c->old))
                dc_store(cachefd, file, key, &c->fresh);
        if (cachefd >= 0)
                close(cachefd);
        close(c->rootfd);
        dc_tree_free(&old);
        dc_tree_free(&c->fresh);
        free(c);
        return r;
}
