/* The workspace as it was when a session started, without walking it: the
 * snapshot the previous session's end took, kept in reins' private state,
 * checked directory by directory against the tree before the command starts.
 *
 * Why a cached directory can be trusted: creating, removing, renaming or
 * linking an entry moves its directory's mtime and ctime, and no process
 * without the right to set the clock can put a ctime back (utimensat sets
 * it to now). A directory whose identity and times are what the cache
 * recorded therefore holds the same names, each naming the same inode, as
 * when it was recorded; only the directories that differ are listed again.
 * What the entries' own metadata was at the start is never needed (see
 * changes_entry_modified in changes.c: a ctime from before the start means
 * "not touched since"), so a start costs one fstatat per directory, none
 * per file, and no readdir of an unchanged directory.
 *
 * Fail closed: a cache that is missing, of another format or tree,
 * truncated, whose checksum or any index does not hold, or a tree that
 * disagrees with it where it cannot (a name a vouched directory holds is
 * gone) means a full walk, as without a cache. A directory changed less
 * than 2 s before it was recorded (a second change in the same timestamp
 * tick would leave its times equal), one that could not be listed, one on
 * another filesystem than the workspace's, and a workspace on a filesystem
 * not known to keep these rules (util/fs_times.h) are listed again.
 *
 * The cache file is reins' own, in a directory hidden from every sandbox;
 * what it holds comes from the tree, whose names the agent chooses, so
 * every index and length read back is checked before use, and it is
 * bounded by the caps of changes.h. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "audit/changes_internal.h"
#include "util/cache_dir.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/fileio.h"
#include "util/fs_times.h"
#include "util/weaken.h"

#define CC_MAGIC      "REINSCC1"
#define CC_RACY_NS    2000000000LL /* a directory changed this recently is listed again */
#define CC_MAX_CACHES 64           /* cache files kept (one per workspace) */

struct cc_header {
        char magic[8];
        uint64_t count, names_used, not_scanned;
        uint64_t over_cap; /* only directories, each with its count of entries in `size` */
        int64_t walked_ns;
        struct changes_root root;
        unsigned char key[DIGEST_SHA256_BYTES]; /* the workspace's path */
        unsigned char
            sum[DIGEST_SHA256_BYTES]; /* CRC-32 of this header (sum zeroed) and the rest */
};

static void cc_key(const char *root, unsigned char key[DIGEST_SHA256_BYTES])
{
        struct digest_sha256 h;
        digest_sha256_init(&h);
        digest_sha256_update(&h, CC_MAGIC, sizeof(CC_MAGIC));
        digest_sha256_update(&h, root, strlen(root) + 1);
        digest_sha256_final(&h, key);
}

static void changes_cache_file(const char *root, char out[65])
{
        unsigned char key[DIGEST_SHA256_BYTES];
        cc_key(root, key);
        for (size_t i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", key[i]);
}

/* The cache's checksum: it guards against a damaged or truncated file
 * (the directory is the caller's own and private; a process that can
 * rewrite the file can rewrite any checksum with it), and it runs over the
 * megabytes a large workspace's cache holds at every start, where a
 * SHA-256 or zlib's CRC-32 cost more than the rest of the check together.
 * Four lanes of 64-bit multiply-xorshift over little-endian words, each
 * word moving its lane through an odd multiplier (a bijection), so any
 * change of one word changes that lane; the lanes and the length are mixed
 * at the end. */
#define CC_MIX 0x9E3779B97F4A7C15ULL

struct cc_hash {
        uint64_t lane[4];
        uint64_t length;
        unsigned char tail[32];
        size_t tail_used;
};

static void cc_hash_block(struct cc_hash *h, const unsigned char *p)
{
        for (size_t k = 0; k < 4; k++) {
                uint64_t w;
                memcpy(&w, p + 8 * k, 8);
                uint64_t x = (h->lane[k] ^ w) * CC_MIX;
                h->lane[k] = x ^ (x >> 31);
        }
}

static void cc_hash_update(struct cc_hash *h, const void *data, size_t length)
{
        const unsigned char *p = data;
        h->length += length;
        if (h->tail_used > 0) {
                size_t take = 32 - h->tail_used < length ? 32 - h->tail_used : length;
                memcpy(h->tail + h->tail_used, p, take);
                h->tail_used += take;
                p += take;
                length -= take;
                if (h->tail_used < 32)
                        return;
                cc_hash_block(h, h->tail);
                h->tail_used = 0;
        }
        for (; length >= 32; p += 32, length -= 32)
                cc_hash_block(h, p);
        memcpy(h->tail, p, length);
        h->tail_used = length;
}

static void cc_hash_final(struct cc_hash *h, unsigned char out[16])
{
        memset(h->tail + h->tail_used, 0, 32 - h->tail_used);
        cc_hash_block(h, h->tail);
        uint64_t a = h->lane[0] ^ (h->lane[1] * CC_MIX) ^ h->length;
        uint64_t b = h->lane[2] ^ (h->lane[3] * CC_MIX) ^ ~h->length;
        for (int r = 0; r < 3; r++) {
                a = (a ^ (b >> 29)) * CC_MIX;
                b = (b ^ (a >> 31)) * CC_MIX;
        }
        memcpy(out, &a, 8);
        memcpy(out + 8, &b, 8);
}

static void cc_sum(const struct cc_header *header, const struct changes_snapshot *s,
                   unsigned char sum[DIGEST_SHA256_BYTES])
{
        struct cc_header h = *header;
        memset(h.sum, 0, sizeof(h.sum));
        struct cc_hash d = {.lane = {1, 2, 3, 4}};
        cc_hash_update(&d, &h, sizeof(h));
        cc_hash_update(&d, s->entries, s->count * sizeof(*s->entries));
        cc_hash_update(&d, s->order, s->count * sizeof(*s->order));
        cc_hash_update(&d, s->names, s->names_used);
        memset(sum, 0, DIGEST_SHA256_BYTES);
        cc_hash_final(&d, sum);
}

/* Every index and length checked: parents come before their children and
 * are directories, every name is kept, within the names and a plain name,
 * `order` lists every entry once by strictly increasing key. */
static bool cc_check(const struct changes_snapshot *s)
{
        for (size_t i = 0; i < s->count; i++) {
                const struct changes_entry *e = &s->entries[i];
                if (e->parent != CHANGES_NONE &&
                    (e->parent >= i || !S_ISDIR(s->entries[e->parent].mode)))
                        return false;
                if (e->flags & ~(CHANGES_UNLISTED | CHANGES_OTHER_DEV | CHANGES_LINKED))
                        return false; /* only what a cache keeps (changes_keep) */
                if (e->name == CHANGES_NONE || e->name_length == 0 || e->name_length > NAME_MAX ||
                    (uint64_t)e->name + e->name_length > s->names_used)
                        return false;
                const char *n = s->names + e->name;
                if (memchr(n, '/', e->name_length) || memchr(n, '\0', e->name_length) ||
                    (e->name_length == 1 && n[0] == '.') ||
                    (e->name_length == 2 && n[0] == '.' && n[1] == '.'))
                        return false;
        }
        for (size_t i = 0; i < s->count; i++) {
                if (s->order[i] >= s->count)
                        return false;
                if (i > 0 && memcmp(s->entries[s->order[i - 1]].key, s->entries[s->order[i]].key,
                                    CHANGES_KEY) >= 0)
                        return false; /* unsorted, or an entry twice */
        }
        return true;
}

static struct changes_snapshot *changes_cache_load(const char *root, int cachefd, const char *file)
{
        cleanup_fd int fd = openat(cachefd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        struct stat st;
        struct cc_header h;
        unsigned char key[DIGEST_SHA256_BYTES];
        cc_key(root, key);
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
            (size_t)st.st_size < sizeof(h) || fileio_read_exact(fd, &h, sizeof(h)) < 0)
                return NULL;
        if (memcmp(h.magic, CC_MAGIC, 8) != 0 || memcmp(h.key, key, sizeof(key)) != 0 ||
            h.count == 0 || h.count > CHANGES_MAX_ENTRIES || h.names_used > CHANGES_MAX_NAME_BYTES)
                return NULL;
        uint64_t want =
            sizeof(h) + h.count * (sizeof(struct changes_entry) + sizeof(uint32_t)) + h.names_used;
        if (want != (uint64_t)st.st_size)
                return NULL;
        struct changes_snapshot *s = changes_snapshot_new(CHANGES_MAX_ENTRIES);
        if (!s || !s->names)
                goto bad;
        /* the entries straight from the page cache, no copy: the start
         * writes only to the few it finds changed (a private mapping) */
        s->map_length = sizeof(h) + h.count * sizeof(*s->entries);
        s->map =
            mmap(NULL, s->map_length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (s->map == MAP_FAILED) {
                s->map = NULL;
                goto bad;
        }
        s->entries = (struct changes_entry *)((char *)s->map + sizeof(h));
        s->count = s->capacity = h.count;
        s->names_used = h.names_used;
        s->order = malloc(h.count * sizeof(*s->order));
        if (!s->order || lseek(fd, (off_t)s->map_length, SEEK_SET) < 0 ||
            fileio_read_exact(fd, s->order, h.count * sizeof(*s->order)) < 0 ||
            fileio_read_exact(fd, s->names, h.names_used) < 0)
                goto bad;
        unsigned char sum[DIGEST_SHA256_BYTES];
        cc_sum(&h, s, sum);
        bool sum_ok = memcmp(sum, h.sum, sizeof(sum)) == 0 || weaken("change-cache-sum");
        if (!sum_ok || !cc_check(s))
                goto bad;
        s->order_count = s->count;
        s->over_cap = h.over_cap != 0;
        s->walked_ns = h.walked_ns;
        s->root = h.root;
        s->not_scanned = 0; /* counted again as the tree is checked */
        s->listed = 0;
        return s;
bad:
        changes_free(s);
        return NULL;
}

/* A new file beside the old one, renamed over it: a reader sees either. A
 * snapshot that lost names to the byte cap is not kept (its paths could
 * not be checked); a failure only costs the next start a walk. */
static void cc_store(int cachefd, const char *root, struct changes_snapshot *s)
{
        if (cachefd < 0 || weaken("change-cache-keep"))
                return;
        /* what held for this session only is not kept: the next one's start
         * reads the entries as they are, without a pass over them */
        for (size_t i = 0; i < s->count; i++)
                s->entries[i].flags &= CHANGES_UNLISTED | CHANGES_OTHER_DEV | CHANGES_LINKED;
        if (s->count == 0 || s->order_count != s->count)
                return;
        for (size_t i = 0; i < s->count; i++)
                if (s->entries[i].name == CHANGES_NONE)
                        return;
        struct cc_header h;
        memset(&h, 0, sizeof(h));
        memcpy(h.magic, CC_MAGIC, 8);
        h.count = s->count;
        h.names_used = s->names_used;
        h.not_scanned = s->not_scanned;
        h.over_cap = s->over_cap;
        h.walked_ns = s->walked_ns;
        h.root = s->root;
        cc_key(root, h.key);
        cc_sum(&h, s, h.sum);
        char file[65], tmp[NAME_MAX + 1];
        changes_cache_file(root, file);
        snprintf(tmp, sizeof(tmp), "%s.%d.new", file, (int)getpid());
        int fd = openat(cachefd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return;
        bool ok = fileio_write_all(fd, &h, sizeof(h)) == 0 &&
                  fileio_write_all(fd, s->entries, s->count * sizeof(*s->entries)) == 0 &&
                  fileio_write_all(fd, s->order, s->count * sizeof(*s->order)) == 0 &&
                  fileio_write_all(fd, s->names, s->names_used) == 0;
        if (close(fd) < 0)
                ok = false;
        if (!ok || renameat(cachefd, tmp, cachefd, file) < 0) {
                unlinkat(cachefd, tmp, 0);
                return;
        }
        cache_dir_sweep(cachefd, CC_MAX_CACHES);
}

void changes_keep(const char *root, const char *cache_dir, struct changes_snapshot *s)
{
        cleanup_fd int cachefd =
            cache_dir ? open(cache_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
        cc_store(cachefd, root, s);
}

/* ---- the start: the cached tree checked against the workspace ------------- */

enum { CC_PRESENT = 0, CC_VALID, CC_RELISTED, CC_GONE };

struct cc_pass {
        struct changes_snapshot *s;
        int rootfd;
        size_t cached;        /* entries from the cache: indices below are cached ones */
        size_t order_n;       /* of which in s->order, sorted by key (not dropped) */
        unsigned char *state; /* per cached entry */
        /* at the end (changes_finish): the directories events named, by
         * index (dirty[i]), and the root; nothing else is looked at */
        bool end, root_dirty;
        const unsigned char *dirty;
        size_t dropped; /* entries found gone */
        int64_t walked_ns;
        char path[PATH_MAX];
        struct changes_begin_stats *stats;
};

/* The path of cached entry i relative to the root, in p->path; false when
 * it does not fit (the pass then gives up: a full walk). */
static bool cc_path(struct cc_pass *p, uint32_t i)
{
        const struct changes_snapshot *s = p->s;
        size_t total = 0;
        for (uint32_t j = i; j != CHANGES_NONE; j = s->entries[j].parent)
                total += s->entries[j].name_length + 1u;
        if (total == 0 || total > sizeof(p->path))
                return false;
        size_t end = total - 1;
        p->path[end] = '\0';
        for (uint32_t j = i; j != CHANGES_NONE; j = s->entries[j].parent) {
                const struct changes_entry *e = &s->entries[j];
                end -= e->name_length;
                memcpy(p->path + end, s->names + e->name, e->name_length);
                if (end > 0)
                        p->path[--end] = '/';
        }
        return true;
}

static size_t cc_level(const struct changes_snapshot *s, uint32_t i)
{
        size_t level = 0;
        for (uint32_t j = i; j != CHANGES_NONE; j = s->entries[j].parent)
                level++;
        return level;
}

/* The cached entry with this key, or CHANGES_NONE. */
static uint32_t cc_find(const struct cc_pass *p, const unsigned char key[CHANGES_KEY])
{
        const struct changes_snapshot *s = p->s;
        size_t lo = 0, hi = p->order_n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = memcmp(s->entries[s->order[mid]].key, key, CHANGES_KEY);
                if (c == 0)
                        return s->order[mid];
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return CHANGES_NONE;
}

static void cc_refresh(struct changes_entry *e, const struct stat *st)
{
        e->inode = st->st_ino;
        e->mode = st->st_mode;
        e->size = (uint64_t)st->st_size;
        e->mtime_ns = changes_ns(st->st_mtim);
        e->ctime_ns = changes_ns(st->st_ctim);
        e->flags |= CHANGES_FRESH;
        e->flags &= (uint16_t)~CHANGES_LINKED;
        if (!S_ISDIR(st->st_mode) && st->st_nlink > 1)
                e->flags |= CHANGES_LINKED;
}

static int cc_open_beneath(int root, const char *path)
{
        struct open_how how = {
            .flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, root, path, &how, sizeof(how));
        return fd < 0 ? -errno : (int)fd;
}

/* List directory `dir` (CHANGES_NONE: the root), open as `fd` (consumed),
 * at `level`, as it is now: each name the cache holds is claimed (its
 * metadata read now), each other one is added, and a directory the cache
 * did not hold is walked whole. */
static int cc_relist(struct cc_pass *p, uint32_t dir, int fd, size_t level)
{
        struct changes_snapshot *s = p->s;
        p->stats->relisted++;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -ENOMEM;
        }
        static const unsigned char top[CHANGES_KEY];
        int r = 0;
        struct dirent *de;
        while (r == 0 && (errno = 0, de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                struct stat st;
                s->listed++;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue; /* gone since: as the walk does */
                unsigned char key[CHANGES_KEY];
                changes_key(dir == CHANGES_NONE ? top : s->entries[dir].key, de->d_name,
                            strlen(de->d_name), key);
                uint32_t i = cc_find(p, key);
                if (i != CHANGES_NONE) {
                        struct changes_entry *e = &s->entries[i];
                        e->flags |= CHANGES_CLAIMED;
                        /* another entry under the old name: what the
                         * cache has below it is not below it */
                        bool same_dir =
                            S_ISDIR(e->mode) && S_ISDIR(st.st_mode) && e->inode == st.st_ino;
                        if (!same_dir && S_ISDIR(st.st_mode))
                                e->flags |= CHANGES_UNLISTED;
                        /* a cached directory's own times are compared in its
                         * turn at the start */
                        if (!same_dir || p->end)
                                cc_refresh(e, &st);
                        continue; /* a cached directory is looked at in its turn */
                }
                uint16_t flags = CHANGES_FRESH;
                if (S_ISDIR(st.st_mode) && st.st_dev != s->root.dev)
                        flags |= CHANGES_OTHER_DEV;
                if ((r = changes_snapshot_add(s, dir, de->d_name, &st, flags)) < 0)
                        break;
                if (!S_ISDIR(st.st_mode))
                        continue;
                uint32_t me = (uint32_t)(s->count - 1);
                if (level + 1 >= CHANGES_MAX_DEPTH) {
                        s->not_scanned++;
                        s->entries[me].flags |= CHANGES_UNLISTED;
                        continue;
                }
                int child =
                    openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (child < 0) {
                        s->entries[me].flags |= CHANGES_UNLISTED;
                        continue;
                }
                r = changes_snapshot_walk(s, child, me, CHANGES_MAX_DEPTH - (level + 1),
                                          s->root.dev);
        }
        if (r == 0 && errno != 0)
                r = -errno; /* a listing cut short would miss names */
        closedir(d);
        return r;
}

static bool cc_same_times(const struct changes_entry *cached, const struct stat *st,
                          int64_t walked_ns)
{
        int64_t m = changes_ns(st->st_mtim), c = changes_ns(st->st_ctim);
        return cached->inode == st->st_ino && cached->mtime_ns == m && cached->ctime_ns == c &&
               m < walked_ns - CC_RACY_NS && c < walked_ns - CC_RACY_NS &&
               !(cached->flags & (CHANGES_UNLISTED | CHANGES_OTHER_DEV));
}

/* A file with other names, at the end: its metadata read again. */
static int cc_restat(struct cc_pass *p, uint32_t i)
{
        struct stat st;
        if (!cc_path(p, i))
                return -ENAMETOOLONG;
        if (fstatat(p->rootfd, p->path, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -ESTALE; /* its directory is unchanged: it cannot be gone */
        cc_refresh(&p->s->entries[i], &st);
        return 0;
}

/* One cached directory, present at the start at its cached path. */
static int cc_check_dir(struct cc_pass *p, uint32_t i)
{
        struct changes_snapshot *s = p->s;
        struct changes_entry *e = &s->entries[i];
        p->stats->dirs++;
        if (!cc_path(p, i))
                return -ENAMETOOLONG;
        struct stat st;
        if (fstatat(p->rootfd, p->path, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
            st.st_ino != e->inode)
                return -ESTALE; /* its directory vouched for it: the tree moved meanwhile */
        bool same = !p->end && !(e->flags & CHANGES_FRESH) && cc_same_times(e, &st, p->walked_ns) &&
                    st.st_dev == s->root.dev;
        if (same) { /* as recorded: nothing to write (its page stays shared) */
                p->state[i] = CC_VALID;
                return 0;
        }
        cc_refresh(e, &st);
        if (st.st_dev != s->root.dev)
                e->flags |= CHANGES_OTHER_DEV;
        p->state[i] = CC_RELISTED;
        size_t level = cc_level(s, i);
        if (level >= CHANGES_MAX_DEPTH) {
                if (!p->end)              /* counted at the start already */
                        s->not_scanned++; /* below the depth cap: never listed */
                return 0;
        }
        e->flags &= (uint16_t)~CHANGES_UNLISTED;
        int fd = cc_open_beneath(p->rootfd, p->path);
        if (fd == -EACCES || fd == -EPERM) {
                s->entries[i].flags |= CHANGES_UNLISTED; /* as the walk leaves it */
                return 0;
        }
        return fd < 0 ? -ESTALE : cc_relist(p, i, fd, level);
}

/* The cached tree made the tree at the start: every cached directory
 * checked, the changed ones listed again, what is gone dropped. */
static int cc_revalidate(struct cc_pass *p)
{
        struct changes_snapshot *s = p->s;
        if (weaken("change-cache-trust") && !p->end)
                return 0; /* `make weak` only: the cache believed as it is */
        struct stat st;
        if (fstat(p->rootfd, &st) < 0)
                return -errno;
        if (st.st_dev != s->root.dev || st.st_ino != s->root.inode || !fs_times_trusted(p->rootfd))
                return -ESTALE;
        struct changes_entry root = {
            .inode = s->root.inode,
            .mtime_ns = s->root.mtime_ns,
            .ctime_ns = s->root.ctime_ns,
            .flags = (uint16_t)s->root.flags,
        };
        bool root_same = p->end ? !p->root_dirty : cc_same_times(&root, &st, p->walked_ns);
        s->root.mode = st.st_mode;
        s->root.mtime_ns = changes_ns(st.st_mtim);
        s->root.ctime_ns = changes_ns(st.st_ctim);
        s->root.flags = 0;
        int r = 0;
        if (!root_same) {
                int fd = cc_open_beneath(p->rootfd, ".");
                r = fd < 0 ? -ESTALE : cc_relist(p, CHANGES_NONE, fd, 0);
        }
        for (size_t i = 0; r == 0 && i < p->cached; i++) {
                struct changes_entry *e = &s->entries[i];
                unsigned char parent = e->parent == CHANGES_NONE
                                           ? (root_same ? CC_VALID : CC_RELISTED)
                                           : p->state[e->parent];
                bool claimed = e->flags & CHANGES_CLAIMED;
                if ((e->flags & CHANGES_DROPPED) || parent == CC_GONE ||
                    (parent == CC_RELISTED && !claimed) ||
                    (e->parent != CHANGES_NONE && !S_ISDIR(s->entries[e->parent].mode))) {
                        p->state[i] = CC_GONE;
                        if (!(e->flags & CHANGES_DROPPED))
                                p->dropped++;
                        e->flags |= CHANGES_DROPPED;
                        continue;
                }
                p->state[i] = CC_PRESENT;
                if (!S_ISDIR(e->mode)) {
                        /* at the end, a file no event named is as it was,
                         * but for one with other names, which may change
                         * through them */
                        if (p->end && parent == CC_VALID && (e->flags & CHANGES_LINKED))
                                r = cc_restat(p, (uint32_t)i);
                        continue;
                }
                if (p->end && !p->dirty[i] && !(e->flags & CHANGES_UNLISTED)) {
                        p->state[i] = CC_VALID; /* no event named it */
                        continue;
                }
                r = cc_check_dir(p, (uint32_t)i);
        }
        return r;
}

/* s->order: the cached entries still there, in their stored order, merged
 * with the ones added at the start, sorted: no sort of the whole tree. */
static int cc_merge_order(struct changes_snapshot *s, size_t cached, size_t sorted, size_t dropped)
{
        size_t added = s->count - cached;
        if (added == 0 && dropped == 0)
                return 0; /* the stored order stands */
        uint32_t *extra = malloc((added ? added : 1) * sizeof(*extra));
        uint32_t *order = malloc((s->count ? s->count : 1) * sizeof(*order));
        if (!extra || !order) {
                free(extra);
                free(order);
                return -ENOMEM;
        }
        for (size_t i = 0; i < added; i++)
                extra[i] = (uint32_t)(cached + i);
        if (added > 1)
                changes_sort_indices(extra, added, s->entries);
        size_t a = 0, b = 0, n = 0;
        while (a < sorted || b < added) {
                if (a < sorted && (s->entries[s->order[a]].flags & CHANGES_DROPPED)) {
                        a++;
                        continue;
                }
                bool take_a =
                    b == added || (a < sorted && memcmp(s->entries[s->order[a]].key,
                                                        s->entries[extra[b]].key, CHANGES_KEY) < 0);
                order[n++] = take_a ? s->order[a++] : extra[b++];
        }
        free(extra);
        free(s->order);
        s->order = order;
        s->order_count = n;
        return 0;
}

/* ---- a tree over the cap -------------------------------------------------- */

/* What a walk stopped at the cap saw, kept to prove the next start that
 * the tree is still over it without walking: its directories, each with
 * its count of entries (in `size`) when the walk read it to its end. */
static struct changes_snapshot *cc_dirs_of(const struct changes_snapshot *partial)
{
        struct changes_snapshot *s = changes_snapshot_new(partial->count);
        uint32_t *map = malloc((partial->count ? partial->count : 1) * sizeof(*map));
        if (!s || !s->names || !map)
                goto fail;
        for (size_t i = 0; i < partial->count; i++) {
                const struct changes_entry *e = &partial->entries[i];
                map[i] = CHANGES_NONE;
                if (e->parent != CHANGES_NONE && map[e->parent] != CHANGES_NONE)
                        s->entries[map[e->parent]].size++;
                if (!S_ISDIR(e->mode))
                        continue;
                if (e->name == CHANGES_NONE ||
                    (e->parent != CHANGES_NONE && map[e->parent] == CHANGES_NONE))
                        continue; /* its path could not be checked */
                if (s->count == s->capacity) {
                        size_t cap = s->capacity ? s->capacity * 2 : 1024;
                        struct changes_entry *grown = realloc(s->entries, cap * sizeof(*grown));
                        if (!grown)
                                goto fail;
                        s->entries = grown;
                        s->capacity = cap;
                }
                struct changes_entry *d = &s->entries[s->count];
                *d = *e;
                d->parent = e->parent == CHANGES_NONE ? CHANGES_NONE : map[e->parent];
                d->size = 0;
                d->name = (uint32_t)s->names_used;
                memcpy(s->names + s->names_used, partial->names + e->name, e->name_length);
                s->names_used += e->name_length;
                map[i] = (uint32_t)s->count++;
        }
        free(map);
        map = NULL;
        if (s->count == 0 || changes_snapshot_sort(s) < 0)
                goto fail;
        s->root = partial->root;
        s->walked_ns = partial->walked_ns;
        s->over_cap = true;
        return s;
fail:
        free(map);
        changes_free(s);
        return NULL;
}

/* Is the tree still over the cap? The entries of every directory whose
 * identity and times are what was recorded (and not racy) are still
 * there: when they add up past the cap, it is, with one fstatat per
 * directory and nothing listed. */
static bool cc_still_over(struct changes_snapshot *s, const char *root, size_t max_entries)
{
        cleanup_fd int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (rootfd < 0 || fstat(rootfd, &st) < 0 || st.st_dev != s->root.dev ||
            st.st_ino != s->root.inode || !fs_times_trusted(rootfd))
                return false;
        struct cc_pass p = {.s = s};
        uint64_t total = 0;
        for (size_t i = 0; i < s->count && total <= max_entries; i++) {
                const struct changes_entry *e = &s->entries[i];
                if ((e->flags & CHANGES_UNLISTED) || !S_ISDIR(e->mode) ||
                    !cc_path(&p, (uint32_t)i) ||
                    fstatat(rootfd, p.path, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    st.st_dev != s->root.dev || !cc_same_times(e, &st, s->walked_ns))
                        continue;
                total += e->size;
        }
        return total > max_entries;
}

struct changes_snapshot *changes_begin(const char *root, const char *cache_dir, size_t max_entries,
                                       struct changes_begin_stats *stats)
{
        struct changes_begin_stats ignored;
        if (!stats)
                stats = &ignored;
        memset(stats, 0, sizeof(*stats));
        /* before anything is looked at: whatever changes from here on has a
         * ctime no earlier than this */
        int64_t started = changes_now_ns();
        struct changes_snapshot *s = NULL;
        cleanup_fd int cachefd =
            cache_dir ? open(cache_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
        char file[65];
        changes_cache_file(root, file);
        if (cachefd >= 0) {
                s = changes_cache_load(root, cachefd, file);
                stats->cache = s                                                          ? 1
                               : faccessat(cachefd, file, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ? -1
                                                                                          : 0;
        }
        if (s && s->over_cap) {
                bool over = cc_still_over(s, root, max_entries);
                changes_free(s);
                s = NULL;
                if (over) {
                        stats->over_cap = true;
                        return NULL; /* untracked, as a walk would find it */
                }
        }
        if (s) {
                struct cc_pass p = {.s = s,
                                    .cached = s->count,
                                    .order_n = s->order_count,
                                    .walked_ns = s->walked_ns,
                                    .stats = stats};
                s->max = max_entries < CHANGES_NONE ? max_entries : CHANGES_NONE - 1;
                p.state = calloc(s->count, 1);
                p.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int r = !p.state ? -ENOMEM : p.rootfd < 0 ? -errno : cc_revalidate(&p);
                if (r == 0)
                        r = cc_merge_order(s, p.cached, p.order_n, p.dropped);
                if (p.rootfd >= 0)
                        close(p.rootfd);
                free(p.state);
                if (r < 0) {
                        changes_free(s);
                        s = NULL;
                        stats->cache = -1;
                }
        }
        if (!s) {
                /* a little past the cap: what it saw then proves the next
                 * start that the tree is still over it (cc_still_over) */
                int r;
                s = changes_walk_tree(root, max_entries + max_entries / 16 + 1, &r);
                stats->walked = true;
                if (r == 0 && s && s->count > max_entries)
                        r = -E2BIG;
                if (r == -E2BIG && s) {
                        struct changes_snapshot *dirs = cc_dirs_of(s);
                        if (dirs)
                                cc_store(cachefd, root, dirs);
                        changes_free(dirs);
                }
                if (r < 0) {
                        changes_free(s);
                        s = NULL;
                }
        }
        if (s)
                s->started_ns = started;
        return s;
}

/* ---- the end: the start's tree, with what events named listed again ------- */

struct changes_snapshot *changes_cache_apply(const char *root,
                                             const struct changes_snapshot *before,
                                             const unsigned char *dirty, bool root_dirty,
                                             size_t *relisted)
{
        struct changes_snapshot *s = changes_snapshot_new(CHANGES_MAX_ENTRIES);
        if (!s || !s->names || before->count > s->max)
                goto fail;
        s->entries = malloc((before->count ? before->count : 1) * sizeof(*s->entries));
        s->order = malloc((before->order_count ? before->order_count : 1) * sizeof(*s->order));
        if (!s->entries || !s->order)
                goto fail;
        memcpy(s->entries, before->entries, before->count * sizeof(*s->entries));
        memcpy(s->order, before->order, before->order_count * sizeof(*s->order));
        memcpy(s->names, before->names, before->names_used);
        s->count = s->capacity = before->count;
        s->order_count = before->order_count;
        s->names_used = before->names_used;
        s->root = before->root;
        s->walked_ns = changes_now_ns();
        s->started_ns = before->started_ns;
        s->not_scanned = before->not_scanned;
        s->listed = 0;
        for (size_t i = 0; i < s->count; i++)
                s->entries[i].flags &= (uint16_t)~CHANGES_CLAIMED;
        struct changes_begin_stats stats = {0};
        struct cc_pass p = {.s = s,
                            .cached = s->count,
                            .order_n = s->order_count,
                            .walked_ns = s->walked_ns,
                            .stats = &stats,
                            .end = true,
                            .root_dirty = root_dirty,
                            .dirty = dirty};
        p.state = calloc(s->count ? s->count : 1, 1);
        p.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int r = !p.state ? -ENOMEM : p.rootfd < 0 ? -errno : cc_revalidate(&p);
        if (r == 0)
                r = cc_merge_order(s, p.cached, p.order_n, p.dropped);
        if (p.rootfd >= 0)
                close(p.rootfd);
        free(p.state);
        if (r < 0)
                goto fail;
        *relisted = stats.relisted;
        return s;
fail:
        changes_free(s);
        return NULL;
}

/* Writing the cache costs about as much as reading names again (its
 * checksum and bytes): it is kept only when there was none, or when this
 * session's start and end together listed (or, after a walk, created and
 * deleted) more than this many names. A stale cache is still exact: what
 * changed since it was written is listed again at the next start. */
#define CC_KEEP_LISTED 4096

json_t *changes_finish(const char *root, const char *cache_dir, struct changes_snapshot *before,
                       struct changes_watch *watch, size_t max_listed)
{
        size_t relisted = 0;
        bool unchanged = false;
        struct changes_snapshot *after =
            changes_watch_end(watch, root, before, &relisted, &unchanged);
        if (unchanged) { /* the record of a tree compared with itself: nothing, and its caps */
                if (before->walked || before->listed > CC_KEEP_LISTED)
                        changes_keep(root, cache_dir, before);
                struct changes_snapshot none = {.not_scanned = before->not_scanned,
                                                .started_ns = before->started_ns};
                return changes_compare(&none, &none, max_listed);
        }
        bool walked = !after;
        if (!after)
                after = changes_take(root, CHANGES_MAX_ENTRIES);
        if (!after)
                return NULL;
        json_t *record = changes_compare(before, after, max_listed);
        /* what the next start would list again: the directories listed at
         * this one, and those this session changed */
        json_int_t changed = json_integer_value(json_object_get(record, "created_count")) +
                             json_integer_value(json_object_get(record, "deleted_count"));
        size_t listed_here = walked ? (size_t)changed : after->listed;
        if (before->walked || before->listed + listed_here > CC_KEEP_LISTED)
                changes_keep(root, cache_dir, after);
        changes_free(after);
        return record;
}
