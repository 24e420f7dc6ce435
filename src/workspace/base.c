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

#include "util/array.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/fileio.h"
#include "util/path.h"
#include "workspace/base_internal.h"
#include "workspace/fsops.h"

#define BASE_FILE "base"

void workspace_base_free(struct workspace_base *base)
{
        for (size_t i = 0; i < base->count; i++)
                free(base->items[i].path);
        free(base->items);
        memset(base, 0, sizeof(*base));
}

int ws_base_compare(const void *a, const void *b)
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
        return bsearch(&key, base->items, base->count, sizeof(key), ws_base_compare);
}

/* The line an entry takes on disk: what WORKSPACE_BASE_MAX_BYTES counts. */
size_t ws_base_line_length(const struct workspace_base_entry *e)
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
        if (array_reserve(base->items, base->capacity, base->count + 1, 32) < 0)
                return -ENOMEM;
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
        base->bytes += ws_base_line_length(entry);
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

void ws_base_hex(const unsigned char *bytes, size_t n, char *out)
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
                bytes += ws_base_line_length(&base->items[i]);
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

/* ---- what an entry records: the host side and the agent side ----------- */

long long ws_base_ctime_ns(const struct stat *st)
{
        return (long long)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
}

int ws_base_lstat(int root, const char *path, struct stat *st)
{
        if (path[0] == '\0')
                return fstat(root, st) < 0 ? -errno : 0;
        return ws_lstat_beneath(root, path, st);
}

int workspace_base_read_host(int root, const char *path, struct workspace_base_entry *entry)
{
        struct stat st;
        int r = ws_base_lstat(root, path, &st);
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
                entry->host_ctime_ns = ws_base_ctime_ns(&st);
        }
        return 0;
}

/* Read all of fd from its start, hashing (and writing to out, when >= 0);
 * the length read in *total. */
int ws_base_read_hash(int fd, int out, unsigned char hash[WORKSPACE_HASH_BYTES], long long *total,
                      bool *written)
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

/* SHA-256 of a file in the copy, read in chunks (a huge file costs time,
 * never memory). */
static int base_hash_file(int dir, const char *path, bool ours,
                          unsigned char out[WORKSPACE_HASH_BYTES], long long *size)
{
        /* only the session's own copy may be chmod'ed to be read */
        cleanup_fd int fd = ws_open_read(dir, path, ours);
        if (fd < 0)
                return fd;
        bool written;
        return ws_base_read_hash(fd, -1, out, size, &written);
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
bool ws_base_host_same(const struct workspace_base_entry *e, const struct stat *st)
{
        bool present = (e->flags & BASE_HOST_PRESENT) != 0;
        if (!st || !present)
                return !st && !present;
        return e->host_mode == st->st_mode && e->host_size == (long long)st->st_size &&
               e->host_dev == (unsigned long long)st->st_dev &&
               e->host_ino == (unsigned long long)st->st_ino &&
               e->host_ctime_ns == ws_base_ctime_ns(st);
}
