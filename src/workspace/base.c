/* The base of a session's changes (see base.h). On disk, ID/base holds one
 * line a path:
 *   HEXPATH FLAGS AGENT_MODE AGENT_SIZE AGENT_HASH HOST_MODE HOST_SIZE DEV INO CTIME_NS
 * numbers in decimal, modes in octal, the hash hex (or "-"). The path is
 * hex-encoded: it is the agent's (any byte but NUL and '/', "\n" included). */
#include "workspace/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/digest.h"
#include "util/cleanup.h"
#include "util/weaken.h"
#include "util/path.h"
#include "util/fileio.h"
#include "util/walk.h"
#include "workspace/fsops.h"
#include "workspace/protect.h"

#define BASE_FILE "base"

void workspace_base_free(struct workspace_base *base)
{
        for (size_t i = 0; i < base->count; i++)
                free(base->items[i].path);
        free(base->items);
        memset(base, 0, sizeof(*base));
}

static int base_compare(const void *a, const void *b)
{
        return strcmp(((const struct workspace_base_entry *)a)->path,
                      ((const struct workspace_base_entry *)b)->path);
}

const struct workspace_base_entry *workspace_base_find(const struct workspace_base *base,
                                                       const char *path)
{
        if (base->count == 0)
                return NULL;
        struct workspace_base_entry key = {.path = (char *)path};
        return bsearch(&key, base->items, base->count, sizeof(key), base_compare);
}

/* The line an entry takes on disk: what WORKSPACE_BASE_MAX_BYTES counts. */
static size_t base_line_length(const struct workspace_base_entry *e)
{
        return 2 * strlen(e->path) + 2 * WORKSPACE_HASH_BYTES + 160;
}

int workspace_base_put(struct workspace_base *base, const struct workspace_base_entry *entry)
{
        struct workspace_base_entry *old =
            (struct workspace_base_entry *)workspace_base_find(base, entry->path);
        if (old) {
                char *path = old->path;
                *old = *entry;
                old->path = path;
                return 0;
        }
        if (base->count == base->capacity) {
                size_t cap = base->capacity ? base->capacity * 2 : 32;
                struct workspace_base_entry *items = realloc(base->items, cap * sizeof(*items));
                if (!items)
                        return -ENOMEM;
                base->items = items;
                base->capacity = cap;
        }
        char *path = strdup(entry->path);
        if (!path)
                return -ENOMEM;
        /* insertion in order: an apply adds entries in path order, so this
         * is mostly an append */
        size_t at = base->count;
        while (at > 0 && strcmp(base->items[at - 1].path, path) > 0)
                at--;
        memmove(&base->items[at + 1], &base->items[at], (base->count - at) * sizeof(*base->items));
        base->items[at] = *entry;
        base->items[at].path = path;
        base->count++;
        base->bytes += base_line_length(entry);
        return 0;
}

static int base_hex_value(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* Decode `n` hex digits into bytes; false on a bad digit. */
static bool base_unhex(const char *hex, size_t n, unsigned char *out)
{
        if (n % 2)
                return false;
        for (size_t i = 0; i < n; i += 2) {
                int hi = base_hex_value(hex[i]), lo = base_hex_value(hex[i + 1]);
                if (hi < 0 || lo < 0)
                        return false;
                out[i / 2] = (unsigned char)(hi << 4 | lo);
        }
        return true;
}

/* One line into an entry; false when malformed. */
static bool base_parse_line(char *line, struct workspace_base_entry *e)
{
        char *fields[10];
        size_t n = 0;
        for (char *save = NULL, *tok = strtok_r(line, " ", &save); tok && n < 10;
             tok = strtok_r(NULL, " ", &save))
                fields[n++] = tok;
        if (n != 10)
                return false;
        size_t hex = strlen(fields[0]);
        if (hex == 0 || hex % 2 || hex / 2 > WORKSPACE_SCAN_MAX_PATH)
                return false;
        if (strcmp(fields[0], "2e") == 0) /* "." is the root, stored as "" */
                hex = 0;
        e->path = malloc(hex / 2 + 1);
        if (!e->path || !base_unhex(fields[0], hex, (unsigned char *)e->path)) {
                free(e->path);
                e->path = NULL;
                return false;
        }
        e->path[hex / 2] = '\0';
        if (strlen(e->path) != hex / 2) { /* a NUL inside: not a path */
                free(e->path);
                e->path = NULL;
                return false;
        }
        char *end;
        bool ok = true;
#define BASE_NUM(field, base_, out)                                                                \
        do {                                                                                       \
                errno = 0;                                                                         \
                unsigned long long v_ = strtoull(field, &end, base_);                              \
                ok = ok && errno == 0 && *end == '\0' && end != field;                             \
                out = v_;                                                                          \
        } while (0)
        unsigned long long v;
        BASE_NUM(fields[1], 10, v);
        e->flags = (unsigned)v;
        BASE_NUM(fields[2], 8, v);
        e->agent_mode = (mode_t)v;
        BASE_NUM(fields[3], 10, v);
        e->agent_size = (long long)v;
        if (strcmp(fields[4], "-") != 0) {
                ok = ok && strlen(fields[4]) == 2 * WORKSPACE_HASH_BYTES &&
                     base_unhex(fields[4], 2 * WORKSPACE_HASH_BYTES, e->agent_hash);
                e->flags |= BASE_HASHED;
        } else {
                e->flags &= ~(unsigned)BASE_HASHED;
        }
        BASE_NUM(fields[5], 8, v);
        e->host_mode = (mode_t)v;
        BASE_NUM(fields[6], 10, v);
        e->host_size = (long long)v;
        BASE_NUM(fields[7], 10, e->host_dev);
        BASE_NUM(fields[8], 10, e->host_ino);
        BASE_NUM(fields[9], 10, v);
        e->host_ctime_ns = (long long)v;
#undef BASE_NUM
        if (!ok) {
                free(e->path);
                e->path = NULL;
        }
        return ok;
}

int workspace_base_load(const struct workspace_session *session, struct workspace_base *out,
                        struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        cleanup_free char *file = path_join(session->dir, BASE_FILE);
        if (!file)
                return reins_error_set(err, ENOMEM, "out of memory");
        cleanup_fd int fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
                return 0;
        if (fd < 0)
                return reins_error_errno(err, errno, "session %s: %s", session->id, file);
        cleanup_free char *text = NULL;
        size_t length = 0;
        bool truncated = false;
        int r = fileio_read_fd(fd, WORKSPACE_BASE_MAX_BYTES, &text, &length, &truncated);
        if (r < 0)
                return reins_error_errno(err, -r, "session %s: %s", session->id, file);
        if (truncated)
                return reins_error_set(err, EFBIG, "session %s: %s: larger than %u MiB",
                                       session->id, file, WORKSPACE_BASE_MAX_BYTES >> 20);
        size_t lineno = 0;
        for (char *line = text, *next; line < text + length; line = next) {
                char *nl = memchr(line, '\n', (size_t)(text + length - line));
                if (!nl)
                        break; /* a torn last line cannot be: the file is renamed in whole */
                *nl = '\0';
                next = nl + 1;
                lineno++;
                struct workspace_base_entry e = {0};
                if (!base_parse_line(line, &e)) {
                        workspace_base_free(out);
                        return reins_error_set(err, EINVAL, "session %s: %s:%zu: malformed",
                                               session->id, file, lineno);
                }
                r = workspace_base_put(out, &e);
                free(e.path);
                if (r < 0) {
                        workspace_base_free(out);
                        return reins_error_set(err, ENOMEM, "out of memory");
                }
        }
        return 0;
}

static void base_hex(const unsigned char *bytes, size_t n, char *out)
{
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[bytes[i] >> 4];
                out[2 * i + 1] = digits[bytes[i] & 15];
        }
        out[2 * n] = '\0';
}

static void base_write_hex(FILE *f, const unsigned char *bytes, size_t n)
{
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%02x", bytes[i]);
}

int workspace_base_save(const struct workspace_session *session, const struct workspace_base *base,
                        struct reins_error *err)
{
        size_t bytes = 0;
        for (size_t i = 0; i < base->count; i++)
                bytes += base_line_length(&base->items[i]);
        if (bytes > WORKSPACE_BASE_MAX_BYTES)
                return reins_error_set(err, EFBIG,
                                       "session %s: the record of applied paths would pass %u MiB",
                                       session->id, WORKSPACE_BASE_MAX_BYTES >> 20);
        cleanup_free char *tmp = path_join(session->dir, ".base.tmp");
        cleanup_free char *file = path_join(session->dir, BASE_FILE);
        if (!tmp || !file)
                return reins_error_set(err, ENOMEM, "out of memory");
        int lock = workspace_session_lock(session, err);
        if (lock < 0)
                return lock;
        int r = 0;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f) {
                r = reins_error_errno(err, errno, "writing %s", tmp);
                if (fd >= 0)
                        close(fd);
                close(lock);
                return r;
        }
        for (size_t i = 0; i < base->count; i++) {
                const struct workspace_base_entry *e = &base->items[i];
                if (e->path[0] == '\0')
                        fputs("2e", f);
                else
                        base_write_hex(f, (const unsigned char *)e->path, strlen(e->path));
                fprintf(f, " %u %o %lld ", e->flags & ~(unsigned)BASE_HASHED,
                        (unsigned)e->agent_mode, e->agent_size);
                if (e->flags & BASE_HASHED)
                        base_write_hex(f, e->agent_hash, WORKSPACE_HASH_BYTES);
                else
                        fputc('-', f);
                fprintf(f, " %o %lld %llu %llu %lld\n", (unsigned)e->host_mode, e->host_size,
                        e->host_dev, e->host_ino, e->host_ctime_ns);
        }
        if (fflush(f) != 0 || ferror(f))
                r = reins_error_errno(err, errno ? errno : EIO, "writing %s", tmp);
        if (fclose(f) != 0 && r == 0)
                r = reins_error_errno(err, errno, "writing %s", tmp);
        if (r == 0 && rename(tmp, file) < 0)
                r = reins_error_errno(err, errno, "renaming %s", tmp);
        if (r < 0)
                unlink(tmp);
        close(lock);
        return r;
}

static long long base_ctime_ns(const struct stat *st)
{
        return (long long)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
}

static int base_lstat(int root, const char *path, struct stat *st)
{
        if (path[0] == '\0')
                return fstat(root, st) < 0 ? -errno : 0;
        return ws_lstat_beneath(root, path, st);
}

int workspace_base_read_host(int root, const char *path, struct workspace_base_entry *entry)
{
        struct stat st;
        int r = base_lstat(root, path, &st);
        if (r < 0 && r != -ENOENT)
                return r;
        entry->flags &= ~(unsigned)BASE_HOST_PRESENT;
        entry->host_mode = 0;
        entry->host_size = 0;
        entry->host_dev = 0;
        entry->host_ino = 0;
        entry->host_ctime_ns = 0;
        if (r == 0) {
                entry->flags |= BASE_HOST_PRESENT;
                entry->host_mode = st.st_mode;
                entry->host_size = (long long)st.st_size;
                entry->host_dev = (unsigned long long)st.st_dev;
                entry->host_ino = (unsigned long long)st.st_ino;
                entry->host_ctime_ns = base_ctime_ns(&st);
        }
        return 0;
}

/* SHA-256 of a file in the copy, read in chunks (a huge file costs time,
 * never memory). */
static int base_hash_file(int dir, const char *path, bool ours,
                          unsigned char out[WORKSPACE_HASH_BYTES], long long *size)
{
        /* only the session's own copy may be chmod'ed to be read */
        cleanup_fd int fd = ws_open_read(dir, path, ours);
        if (fd < 0)
                return fd;
        struct digest_sha256 ctx;
        digest_sha256_init(&ctx);
        static char buf[65536];
        long long total = 0;
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                digest_sha256_update(&ctx, buf, (size_t)n);
                total += n;
        }
        digest_sha256_final(&ctx, out);
        *size = total;
        return 0;
}

int workspace_base_read_agent(int upper, const struct workspace_change *change,
                              struct workspace_base_entry *entry)
{
        const struct workspace_entry *n = &change->new;
        entry->flags |= BASE_AGENT_KNOWN;
        entry->flags &= ~(unsigned)(BASE_AGENT_PRESENT | BASE_HASHED);
        entry->agent_mode = 0;
        entry->agent_size = 0;
        if (n->from == WORKSPACE_FROM_NONE)
                return 0;
        entry->flags |= BASE_AGENT_PRESENT;
        entry->agent_mode = n->mode;
        entry->agent_size = (long long)n->size;
        if (S_ISREG(n->mode)) {
                int r = base_hash_file(upper, change->path, true, entry->agent_hash,
                                       &entry->agent_size);
                if (r < 0)
                        return r;
                entry->flags |= BASE_HASHED;
        } else if (S_ISLNK(n->mode) && n->target) {
                digest_sha256(n->target, strlen(n->target), entry->agent_hash);
                entry->flags |= BASE_HASHED;
        }
        return 0;
}

/* Is the host entry (st, NULL when absent) the one recorded? */
static bool base_host_same(const struct workspace_base_entry *e, const struct stat *st)
{
        bool present = (e->flags & BASE_HOST_PRESENT) != 0;
        if (!st || !present)
                return !st && !present;
        return e->host_mode == st->st_mode && e->host_size == (long long)st->st_size &&
               e->host_dev == (unsigned long long)st->st_dev &&
               e->host_ino == (unsigned long long)st->st_ino &&
               e->host_ctime_ns == base_ctime_ns(st);
}

bool workspace_base_host_changed(const struct workspace_base *base, long long started_ns,
                                 const char *path, const struct stat *st)
{
        const struct workspace_base_entry *e = workspace_base_find(base, path);
        if (e)
                return (e->flags & BASE_HOST_CHANGED) || !base_host_same(e, st);
        return st && base_ctime_ns(st) >= started_ns;
}

/* Is the agent's side of the change still what was applied at its path? */
static bool base_agent_unchanged(int upper, const struct workspace_base_entry *e,
                                 const struct workspace_change *ch)
{
        if (!(e->flags & BASE_AGENT_KNOWN))
                return false;
        bool present = ch->new.from != WORKSPACE_FROM_NONE;
        if (present != ((e->flags & BASE_AGENT_PRESENT) != 0))
                return false;
        if (!present)
                return true;
        if ((ch->new.mode &(S_IFMT | 07777)) != (e->agent_mode & (S_IFMT | 07777)))
                return false;
        if (S_ISREG(ch->new.mode) || (S_ISLNK(ch->new.mode) && ch->new.target)) {
                if (!(e->flags & BASE_HASHED))
                        return false;
                struct workspace_base_entry now = {0};
                if (workspace_base_read_agent(upper, ch, &now) < 0 || !(now.flags & BASE_HASHED))
                        return false; /* cannot tell: shown as a change */
                return now.agent_size == e->agent_size &&
                       memcmp(now.agent_hash, e->agent_hash, WORKSPACE_HASH_BYTES) == 0;
        }
        return true;
}

/* Would applying this change overwrite something the host changed since
 * the change's base? NULL when not; else why (static text). */
static const char *base_host_why(const struct workspace_base *base, long long started_ns, int root,
                                 const struct workspace_change *ch)
{
        struct stat st;
        int r = base_lstat(root, ch->path, &st);
        if (r < 0 && r != -ENOENT)
                return "cannot be checked on the host";
        bool host_has = r == 0;
        const struct workspace_base_entry *e = workspace_base_find(base, ch->path);
        if (e && (e->flags & BASE_AGENT_KNOWN)) {
                /* the base is recorded: what reins applied here, or the
                 * host's file as it was when the session started */
                if (base_host_same(e, host_has ? &st : NULL))
                        return NULL;
                bool applied = (e->flags & BASE_APPLIED) != 0;
                if (!host_has)
                        return applied ? "deleted on the host since reins applied it"
                                       : "deleted on the host since the session started";
                if (!(e->flags & BASE_HOST_PRESENT))
                        return applied ? "created on the host since reins applied its deletion"
                                       : "created on the host since the session started";
                return applied ? "changed on the host since reins applied it"
                               : "changed on the host since the session started";
        }
        if (ch->old.from != WORKSPACE_FROM_NONE) {
                if (!host_has)
                        return ch->kind == WORKSPACE_DELETED ? NULL
                                                             : "deleted on the host meanwhile";
                if (workspace_base_host_changed(base, started_ns, ch->path, &st))
                        return ch->kind == WORKSPACE_DELETED && ch->new.from == WORKSPACE_FROM_NONE
                                   ? "changed or created on the host since the session started; "
                                     "the agent's copy removed it"
                                   : "changed on the host since the session started";
                return NULL;
        }
        if (host_has)
                return "created on the host meanwhile";
        /* Copied up from a lower file that is not at this path now: renamed
         * in the copy (fine), or deleted on the host after the session
         * started (a conflict). When the host directory changed since the
         * start (other than by reins applying there), assume the latter. */
        if (ch->origin) {
                const char *slash = strrchr(ch->path, '/');
                char *parent = slash ? strndup(ch->path, (size_t)(slash - ch->path)) : strdup("");
                if (!parent)
                        return "cannot be checked on the host";
                int pr = base_lstat(root, parent, &st);
                bool changed =
                    pr == 0 && workspace_base_host_changed(base, started_ns, parent, &st);
                free(parent);
                if (changed)
                        return "possibly deleted on the host since the session started";
        }
        return NULL;
}

static void base_drop(struct workspace_change *ch)
{
        free(ch->path);
        free(ch->hardlink);
        free(ch->old.target);
        free(ch->new.target);
}

/* git's own data in the workspace's top .git: shown as commits, not files.
 * Protected entries (config, hooks, …) stay in the list, flagged. */
static bool base_git_internal(const struct workspace_change *ch, bool host_repo)
{
        /* the weakened build (REINS_WEAKEN=protect) applies git's data as
         * files, as before issue 13: the escape probes of nested repositories
         * prove the protection this way */
        if (!host_repo || ch->protected || strncmp(ch->path, ".git", 4) != 0 || weaken("protect"))
                return false;
        if (ch->path[4] == '\0')
                return ch->kind == WORKSPACE_MODE_CHANGED || ch->kind == WORKSPACE_REPLACED;
        return ch->path[4] == '/' && workspace_protect_git_allowed(ch->path + 5);
}

int workspace_base_classify(const struct workspace_session *session,
                            struct workspace_changes *changes, struct reins_error *err)
{
        struct workspace_base base = {0};
        int r = workspace_base_load(session, &base, err);
        if (r < 0)
                return r;
        cleanup_fd int root = open(session->lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
        cleanup_fd int upper = open(session->upper, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (root < 0 || upper < 0) {
                r = reins_error_errno(err, errno, "session %s: %s", session->id,
                                      root < 0 ? session->lower : session->upper);
                workspace_base_free(&base);
                return r;
        }
        /* the host's .git is a repository of its own (not a gitfile) */
        struct stat git_st;
        bool host_repo =
            fstatat(root, ".git", &git_st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(git_st.st_mode);
        /* ... and the copy still has one: a .git the agent removed or
         * replaced by a file is a protected change listed whole */
        struct stat copy_st;
        if (host_repo && fstatat(upper, ".git", &copy_st, AT_SYMLINK_NOFOLLOW) == 0 &&
            !S_ISDIR(copy_st.st_mode))
                host_repo = false;
        long long started_ns = workspace_session_base_ns(session);
        size_t kept = 0;
        for (size_t i = 0; i < changes->count; i++) {
                struct workspace_change *ch = &changes->items[i];
                bool drop = false;
                if (base_git_internal(ch, host_repo)) {
                        changes->git_internal += ch->kind != WORKSPACE_REPLACED;
                        drop = true;
                } else if (ch->kind != WORKSPACE_REPLACED) {
                        const struct workspace_base_entry *e = workspace_base_find(&base, ch->path);
                        ch->host_why = base_host_why(&base, started_ns, root, ch);
                        ch->host_changed = ch->host_why != NULL;
                        /* the host changed it: if the copy still holds the base
                         * (what was applied, or the host's file at the start),
                         * the difference is the host's alone (a host still at
                         * its base means the scan's difference is the agent's:
                         * no file is hashed for it) */
                        drop = ch->host_changed && e && base_agent_unchanged(upper, e, ch);
                        /* the agent's change is then shown against its base */
                        if (!drop && ch->host_changed && e && (e->flags & BASE_KEPT) &&
                            (e->flags & BASE_AGENT_PRESENT) && S_ISREG(e->agent_mode))
                                base_hex(e->agent_hash, WORKSPACE_HASH_BYTES, ch->base_kept);
                }
                if (drop) {
                        base_drop(ch);
                        continue;
                }
                changes->items[kept++] = *ch;
        }
        changes->count = kept;
        /* a "replaced" note with nothing deleted below it says nothing */
        kept = 0;
        for (size_t i = 0; i < changes->count; i++) {
                struct workspace_change *ch = &changes->items[i];
                if (ch->kind == WORKSPACE_REPLACED) {
                        size_t len = strlen(ch->path);
                        bool any = false;
                        for (size_t j = i + 1; !any && j < changes->count; j++) {
                                const char *p = changes->items[j].path;
                                if (strncmp(p, ch->path, len) != 0 || p[len] != '/')
                                        break;
                                any = changes->items[j].kind == WORKSPACE_DELETED;
                        }
                        if (!any) {
                                base_drop(ch);
                                continue;
                        }
                }
                changes->items[kept++] = *ch;
        }
        changes->count = kept;
        workspace_base_free(&base);
        return 0;
}

/* ---- kept copies of base contents ------------------------------------------ */

static int base_kept_visit(const struct walk_entry *e, void *context, struct reins_error *err)
{
        (void)err;
        if (e->name[0] != '.')
                *(unsigned long long *)context += (unsigned long long)e->st->st_size;
        return WALK_SKIP; /* the kept copies are one level */
}

/* The bytes the kept copies take now (a few hundred files at most: one per
 * recorded path). */
static unsigned long long base_kept_bytes(int kept)
{
        unsigned long long total = 0;
        struct walk_options options = {.visit = base_kept_visit, .context = &total};
        if (walk_tree(kept, &options, NULL) != 0)
                return ~0ULL; /* cannot tell: keep nothing more */
        return total;
}

/* Read all of fd from its start, hashing (and writing to out, when >= 0);
 * the length read in *total. */
static int base_read_hash(int fd, int out, unsigned char hash[WORKSPACE_HASH_BYTES],
                          long long *total, bool *written)
{
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        struct digest_sha256 ctx;
        digest_sha256_init(&ctx);
        static char buf[65536];
        *total = 0;
        *written = out >= 0;
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                digest_sha256_update(&ctx, buf, (size_t)n);
                *total += n;
                if (*written && write(out, buf, (size_t)n) != n)
                        *written = false;
        }
        digest_sha256_final(&ctx, hash);
        return 0;
}

int workspace_base_keep(const struct workspace_session *session, struct workspace_base *base,
                        int dir, const char *path, bool ours, struct workspace_base_entry *entry)
{
        entry->flags &= ~(unsigned)(BASE_KEPT | BASE_HASHED);
        cleanup_fd int in = ws_open_read(dir, path, ours);
        if (in < 0)
                return in;
        struct stat st;
        if (fstat(in, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        /* the hash first; a copy only of content not kept yet that fits the caps */
        long long total = 0;
        bool written = false;
        int r = base_read_hash(in, -1, entry->agent_hash, &total, &written);
        if (r < 0)
                return r;
        entry->agent_size = total;
        entry->flags |= BASE_HASHED;
        if ((unsigned long long)total > WORKSPACE_BASE_KEPT_FILE_MAX)
                return 0;
        cleanup_free char *kept_dir = path_join(session->dir, WORKSPACE_BASE_KEPT_DIR);
        if (!kept_dir)
                return -ENOMEM;
        if (mkdir(kept_dir, 0700) < 0 && errno != EEXIST)
                return 0;
        cleanup_fd int kept = open(kept_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (kept < 0)
                return 0;
        char name[2 * WORKSPACE_HASH_BYTES + 1];
        base_hex(entry->agent_hash, WORKSPACE_HASH_BYTES, name);
        struct stat kst;
        if (fstatat(kept, name, &kst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(kst.st_mode)) {
                entry->flags |= BASE_KEPT; /* the same content, kept already */
                return 0;
        }
        /* what the kept copies take, counted once per record in use */
        if (base->kept_bytes == 0)
                base->kept_bytes = base_kept_bytes(kept) + 1;
        if (base->kept_bytes - 1 + (unsigned long long)total > WORKSPACE_BASE_KEPT_MAX)
                return 0;
        cleanup_fd int out = openat(kept, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
        if (out < 0)
                return 0;
        unsigned char again[WORKSPACE_HASH_BYTES];
        if (base_read_hash(in, out, again, &total, &written) < 0 || !written ||
            memcmp(again, entry->agent_hash, WORKSPACE_HASH_BYTES) != 0)
                return 0; /* changed while read: no copy, rather than a wrong one */
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", out);
        if (linkat(AT_FDCWD, proc, kept, name, AT_SYMLINK_FOLLOW) == 0 || errno == EEXIST) {
                entry->flags |= BASE_KEPT;
                base->kept_bytes += (unsigned long long)total;
        }
        return 0;
}

/* At a resume: an entry the host had changed since the base time (or any
 * entry not recorded yet) gets an identity record, so moving the base time
 * to this run's start never hides what happened before it. */
static int base_record_identity(struct workspace_base *base, int root, const char *path,
                                long long base_ns, size_t *added, bool *full)
{
        if (workspace_base_find(base, path))
                return 0;
        struct workspace_base_entry e = {.path = (char *)path};
        if (base->bytes + base_line_length(&e) > WORKSPACE_BASE_MAX_BYTES) {
                *full = true;
                return 0;
        }
        struct stat st;
        int r = base_lstat(root, path, &st);
        if (r == -ENOENT)
                return 0; /* gone on the host: the rules without a time find it */
        if (r < 0)
                return r;
        if (workspace_base_read_host(root, path, &e) < 0)
                return 0;
        if (base_ctime_ns(&st) >= base_ns)
                e.flags |= BASE_HOST_CHANGED; /* changed before this run: stays so */
        (*added)++;
        return workspace_base_put(base, &e);
}

/* ---- the end of a run: a walk over what the copy shadows ------------------ */

/* Entries looked at by one walk: past it the walk stops (the bases not
 * recorded fall back to the start-time rule, which only errs on the side of
 * a conflict). */
#define BASE_WALK_MAX_ENTRIES 1000000u

struct base_walk {
        const struct workspace_session *session;
        struct workspace_base *base;
        struct workspace_base_entry *fresh; /* new entries, in walk order */
        size_t fresh_count;
        size_t fresh_capacity;
        size_t fresh_bytes;
        long long base_ns;
        size_t visited;
        bool full;
};

static int base_walk_add(struct base_walk *w, const struct workspace_base_entry *e)
{
        size_t cost = base_line_length(e);
        if (w->base->bytes + w->fresh_bytes + cost > WORKSPACE_BASE_MAX_BYTES) {
                w->full = true;
                return 0;
        }
        if (w->fresh_count == w->fresh_capacity) {
                size_t cap = w->fresh_capacity ? w->fresh_capacity * 2 : 64;
                struct workspace_base_entry *items = realloc(w->fresh, cap * sizeof(*items));
                if (!items)
                        return -ENOMEM;
                w->fresh = items;
                w->fresh_capacity = cap;
        }
        struct workspace_base_entry *slot = &w->fresh[w->fresh_count];
        *slot = *e;
        if (!(slot->path = strdup(e->path)))
                return -ENOMEM;
        w->fresh_count++;
        w->fresh_bytes += cost;
        return 0;
}

/* One regular file of the copy with a regular host twin (`name` in the
 * host directory `lower`): its base, when the host has not changed it since
 * the base time, content kept. */
static int base_walk_file(struct base_walk *w, int lower, const char *name, const char *path,
                          const struct stat *lst)
{
        if (base_ctime_ns(lst) >= w->base_ns || workspace_base_find(w->base, path))
                return 0;
        struct workspace_base_entry e = {.path = (char *)path};
        e.flags = BASE_AGENT_KNOWN | BASE_AGENT_PRESENT | BASE_HOST_PRESENT;
        e.agent_mode = lst->st_mode;
        e.host_mode = lst->st_mode;
        e.host_size = (long long)lst->st_size;
        e.host_dev = (unsigned long long)lst->st_dev;
        e.host_ino = (unsigned long long)lst->st_ino;
        e.host_ctime_ns = base_ctime_ns(lst);
        if (workspace_base_keep(w->session, w->base, lower, name, false, &e) < 0)
                return 0;
        /* read while unchanged: the identity must not have moved meanwhile */
        struct stat again;
        if (fstatat(lower, name, &again, AT_SYMLINK_NOFOLLOW) < 0 || !base_host_same(&e, &again))
                return 0;
        return base_walk_add(w, &e);
}

/* What the copy shadows: an entry of the upper dir (the walk's tree) with
 * a twin of the same type in the host's lower dir (parent_twin). */
static int base_walk_visit(const struct walk_entry *e, void *context, struct reins_error *err)
{
        struct base_walk *w = context;
        if (++w->visited > BASE_WALK_MAX_ENTRIES) {
                w->full = true;
                return WALK_STOP;
        }
        const struct stat *ust = e->st;
        struct stat lst;
        /* what the agent created holds nothing of the host's: a new
         * directory is not entered, however large */
        if (!(S_ISREG(ust->st_mode) || S_ISDIR(ust->st_mode)) ||
            fstatat(e->parent_twin, e->name, &lst, AT_SYMLINK_NOFOLLOW) < 0 ||
            (ust->st_mode & S_IFMT) != (lst.st_mode & S_IFMT))
                return WALK_SKIP;
        if (e->path_cut) {
                w->full = true;
                return WALK_SKIP;
        }
        int r = 0;
        if (S_ISREG(ust->st_mode)) {
                /* an empty file may be a whiteout (xattr form) */
                if (ust->st_size == 0 && (ws_overlay_xattrs(e->dirfd, e->name) & WS_XATTR_WHITEOUT))
                        return WALK_NEXT;
                r = base_walk_file(w, e->parent_twin, e->name, e->path, &lst);
                if (r < 0)
                        return reins_error_errno(err, -r, "%s", e->path);
                return w->full ? WALK_STOP : WALK_NEXT;
        }
        if (e->too_deep) {
                w->full = true;
                return WALK_SKIP;
        }
        /* unreadable on either side: nothing recorded below */
        cleanup_fd int usub =
            openat(e->dirfd, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        cleanup_fd int lsub =
            openat(e->parent_twin, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (usub < 0 || lsub < 0)
                return WALK_SKIP;
        *e->open_fd = steal_fd(&usub);
        *e->open_twin = steal_fd(&lsub);
        return WALK_NEXT;
}

/* The end of a run: record the base of each host file the copy shadows
 * (regular files copied up), unchanged since the base time. */
static int base_capture_end(const struct workspace_session *session, long long base_ns,
                            bool *complete, struct reins_error *err)
{
        struct workspace_base base = {0};
        int r = workspace_base_load(session, &base, err);
        if (r < 0)
                return r;
        cleanup_fd int upper =
            open(session->upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        cleanup_fd int lower = open(session->lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (upper < 0 || lower < 0) {
                r = reins_error_errno(err, errno, "session %s", session->id);
                workspace_base_free(&base);
                return r;
        }
        struct base_walk w = {.session = session, .base = &base, .base_ns = base_ns};
        struct walk_options options = {
            .visit = base_walk_visit,
            .context = &w,
            .max_depth = WORKSPACE_SCAN_MAX_DEPTH,
            .max_path = WORKSPACE_SCAN_MAX_PATH,
            .root_twin = &lower,
            .label = "recording bases: upper",
        };
        r = walk_tree(upper, &options, err);
        if (r > 0) {
                w.full = true; /* stopped at a cap */
                r = 0;
        } else if (r < 0) {
                reins_error_prefix(err, "session %s", session->id);
        }
        /* the new entries join the record, sorted once */
        if (r == 0 && w.fresh_count > 0) {
                struct workspace_base_entry *items =
                    realloc(base.items, (base.count + w.fresh_count) * sizeof(*base.items));
                if (!items) {
                        r = reins_error_set(err, ENOMEM, "out of memory");
                } else {
                        base.items = items;
                        memcpy(base.items + base.count, w.fresh, w.fresh_count * sizeof(*w.fresh));
                        base.count += w.fresh_count;
                        base.capacity = base.count;
                        base.bytes += w.fresh_bytes;
                        w.fresh_count = 0; /* the paths belong to base now */
                        qsort(base.items, base.count, sizeof(*base.items), base_compare);
                        r = workspace_base_save(session, &base, err);
                }
        }
        for (size_t i = 0; i < w.fresh_count; i++)
                free(w.fresh[i].path);
        free(w.fresh);
        *complete = r == 0 && !w.full;
        workspace_base_free(&base);
        return r;
}

int workspace_base_capture(const struct workspace_session *session, bool resuming, bool *complete,
                           struct reins_error *err)
{
        *complete = false;
        long long base_ns = workspace_session_base_ns(session);
        if (base_ns <= 0)
                return 0;
        if (!resuming)
                return base_capture_end(session, base_ns, complete, err);
        struct workspace_changes changes = {0};
        int r = workspace_scan_copied(session->upper, session->lower, &changes, err);
        if (r < 0)
                return r;
        struct workspace_base base = {0};
        if ((r = workspace_base_load(session, &base, err)) < 0) {
                workspace_changes_free(&changes);
                return r;
        }
        cleanup_fd int root = open(session->lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                r = reins_error_errno(err, errno, "workspace %s", session->lower);
        size_t added = 0;
        bool full = changes.truncated;
        for (size_t i = 0; r == 0 && !full && i < changes.count; i++) {
                const struct workspace_change *ch = &changes.items[i];
                if (ch->kind == WORKSPACE_REPLACED || workspace_base_find(&base, ch->path))
                        continue;
                if (resuming && ch->origin) {
                        /* a file copied up and renamed: its directory's state
                         * says whether the host deleted the original */
                        const char *slash = strrchr(ch->path, '/');
                        cleanup_free char *parent =
                            slash ? strndup(ch->path, (size_t)(slash - ch->path)) : strdup("");
                        if (!parent ||
                            base_record_identity(&base, root, parent, base_ns, &added, &full) < 0)
                                r = reins_error_set(err, ENOMEM, "out of memory");
                }
                if (ch->old.from != WORKSPACE_FROM_LOWER)
                        continue;
                struct stat st;
                /* the host's file is the base only while unchanged since the start */
                bool known = ws_lstat_beneath(root, ch->path, &st) == 0 && S_ISREG(st.st_mode) &&
                             base_ctime_ns(&st) < base_ns;
                if (!known) {
                        if (resuming &&
                            base_record_identity(&base, root, ch->path, base_ns, &added, &full) < 0)
                                r = reins_error_set(err, ENOMEM, "out of memory");
                        continue;
                }
                struct workspace_base_entry e = {.path = ch->path};
                /* the record's cap bounds what is held here too */
                if (base.bytes + base_line_length(&e) > WORKSPACE_BASE_MAX_BYTES) {
                        full = true;
                        break;
                }
                e.flags = BASE_AGENT_KNOWN | BASE_AGENT_PRESENT;
                e.agent_mode = st.st_mode;
                bool read = workspace_base_read_host(root, ch->path, &e) == 0 &&
                            workspace_base_keep(session, &base, root, ch->path, false, &e) == 0;
                /* read while unchanged: the identity must not have moved meanwhile */
                struct stat again;
                if (!read || ws_lstat_beneath(root, ch->path, &again) < 0 ||
                    !base_host_same(&e, &again)) {
                        if (resuming &&
                            base_record_identity(&base, root, ch->path, base_ns, &added, &full) < 0)
                                r = reins_error_set(err, ENOMEM, "out of memory");
                        continue;
                }
                if (workspace_base_put(&base, &e) < 0)
                        r = reins_error_set(err, ENOMEM, "out of memory");
                added++;
        }
        if (r == 0 && added > 0)
                r = workspace_base_save(session, &base, err);
        *complete = r == 0 && !full;
        workspace_base_free(&base);
        workspace_changes_free(&changes);
        return r;
}
