/* The module's descriptor table and the fd_* calls of WASI preview 1.
 *
 * The module names descriptors by small numbers that index this table and
 * nothing else: a number it was not given (forged, closed, out of range)
 * is EBADF, and the host descriptors behind them are never visible. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "engine.h"
#include "wasi.h"

#define ENGINE_MAX_IOVS 1024

struct engine engine = {.events_fd = -1};

uint16_t engine_errno(int e)
{
        switch (e) {
        case 0:
                return WASI_ESUCCESS;
        case E2BIG:
                return WASI_E2BIG;
        case EACCES:
                return WASI_EACCES;
        case EAGAIN:
                return WASI_EAGAIN;
        case EBADF:
                return WASI_EBADF;
        case EBUSY:
                return WASI_EBUSY;
        case EEXIST:
                return WASI_EEXIST;
        case EFAULT:
                return WASI_EFAULT;
        case EFBIG:
                return WASI_EFBIG;
        case EILSEQ:
                return WASI_EILSEQ;
        case EINTR:
                return WASI_EINTR;
        case EINVAL:
                return WASI_EINVAL;
        case EIO:
                return WASI_EIO;
        case EISDIR:
                return WASI_EISDIR;
        case ELOOP:
                return WASI_ELOOP;
        case EMFILE:
                return WASI_EMFILE;
        case EMLINK:
                return WASI_EMLINK;
        case ENAMETOOLONG:
                return WASI_ENAMETOOLONG;
        case ENFILE:
                return WASI_ENFILE;
        case ENODEV:
                return WASI_ENODEV;
        case ENOENT:
                return WASI_ENOENT;
        case ENOMEM:
                return WASI_ENOMEM;
        case ENOSPC:
                return WASI_ENOSPC;
        case ENOSYS:
                return WASI_ENOSYS;
        case ENOTDIR:
                return WASI_ENOTDIR;
        case ENOTEMPTY:
                return WASI_ENOTEMPTY;
        case ENOTSOCK:
                return WASI_ENOTSOCK;
        case EOPNOTSUPP:
                return WASI_ENOTSUP;
        case ENOTTY:
                return WASI_ENOTTY;
        case ENXIO:
                return WASI_ENXIO;
        case EOVERFLOW:
                return WASI_EOVERFLOW;
        case EPERM:
                return WASI_EPERM;
        case EPIPE:
                return WASI_EPIPE;
        case ERANGE:
                return WASI_ERANGE;
        case EROFS:
                return WASI_EROFS;
        case ESPIPE:
                return WASI_ESPIPE;
        case ETXTBSY:
                return WASI_ETXTBSY;
        /* openat2 RESOLVE_BENEATH: the path would leave its preopen (EPERM,
         * as wasmtime and the WASI test suite answer an escape) */
        case EXDEV:
                return WASI_EPERM;
        default:
                return WASI_EIO;
        }
}

static uint8_t filetype_of(mode_t mode)
{
        switch (mode & S_IFMT) {
        case S_IFREG:
                return WASI_FILETYPE_REGULAR_FILE;
        case S_IFDIR:
                return WASI_FILETYPE_DIRECTORY;
        case S_IFCHR:
                return WASI_FILETYPE_CHARACTER_DEVICE;
        case S_IFBLK:
                return WASI_FILETYPE_BLOCK_DEVICE;
        case S_IFLNK:
                return WASI_FILETYPE_SYMBOLIC_LINK;
        case S_IFSOCK:
                return WASI_FILETYPE_SOCKET_STREAM;
        default:
                return WASI_FILETYPE_UNKNOWN;
        }
}

struct engine_fd *engine_fd_get(uint32_t fd)
{
        if (engine.weak_fds && fd < ENGINE_MAX_FDS && !engine.fds[fd].used) {
                static struct engine_fd forged;
                forged = (struct engine_fd){.used = true, .host = (int)fd};
                return &forged;
        }
        if (fd >= ENGINE_MAX_FDS || !engine.fds[fd].used)
                return NULL;
        return &engine.fds[fd];
}

static int fd_free_slot(void)
{
        for (int i = 0; i < ENGINE_MAX_FDS; i++)
                if (!engine.fds[i].used)
                        return i;
        return -1;
}

/* A new entry for `host` (taken), opened at `path` below `parent`'s
 * preopen. Its number, or -WASI errno. */
int engine_fd_install(int host, uint8_t filetype, const char *path, const struct engine_fd *parent)
{
        int slot = fd_free_slot();
        char *copy = strdup(path);
        if (slot < 0 || !copy) {
                free(copy);
                close(host);
                return -(slot < 0 ? WASI_ENFILE : WASI_ENOMEM);
        }
        struct engine_fd *e = &engine.fds[slot];
        memset(e, 0, sizeof(*e));
        e->used = true;
        e->host = host;
        e->filetype = filetype;
        e->path = copy;
        e->root_len = parent ? parent->root_len : strlen(path);
        e->writable_tree = parent ? parent->writable_tree : false;
        e->rights_base = WASI_RIGHTS_ALL;
        e->rights_inheriting = WASI_RIGHTS_ALL;
        return slot;
}

int engine_add_preopen(const char *host_path, const char *guest_name, bool writable)
{
        int host = open(host_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (host < 0)
                return -errno;
        int slot = engine_fd_install(host, WASI_FILETYPE_DIRECTORY, host_path, NULL);
        if (slot < 0)
                return -ENFILE;
        struct engine_fd *e = &engine.fds[slot];
        e->preopen = true;
        e->writable_tree = writable;
        e->guest_name = strdup(guest_name);
        return e->guest_name ? slot : -ENOMEM;
}

void engine_init_stdio(void)
{
        /* 0-2 are always the module's (a closed one answers EBADF from the
         * kernel): preopens start at 3 and follow each other, as WASI
         * programs that look for them expect */
        for (int fd = 0; fd < 3; fd++) {
                struct stat st;
                struct engine_fd *e = &engine.fds[fd];
                e->used = true;
                e->host = fd;
                e->filetype = fstat(fd, &st) == 0 ? filetype_of(st.st_mode) : WASI_FILETYPE_UNKNOWN;
                e->path = NULL;
                e->rights_base = WASI_RIGHTS_ALL;
                e->rights_inheriting = 0;
        }
}

static void fd_release(struct engine_fd *e)
{
        if (e->dir_stream)
                closedir(e->dir_stream);
        else if (e->host > 2)
                close(e->host);
        free(e->path);
        free(e->guest_name);
        memset(e, 0, sizeof(*e));
}

/* The module's iovec array (8 bytes each: u32 buf, u32 len) as host
 * iovecs, each checked against linear memory. */
static int iovs_translate(uint32_t iovs, uint32_t count, struct iovec *out)
{
        if (count > ENGINE_MAX_IOVS)
                return -WASI_EINVAL;
        uint8_t *raw = engine_mem(iovs, (uint64_t)count * 8);
        if (!raw)
                return -WASI_EFAULT;
        for (uint32_t i = 0; i < count; i++) {
                uint32_t ptr, len;
                memcpy(&ptr, raw + i * 8, 4);
                memcpy(&len, raw + i * 8 + 4, 4);
                uint8_t *at = engine_mem(ptr, len);
                if (!at)
                        return -WASI_EFAULT;
                out[i].iov_base = at;
                out[i].iov_len = len;
        }
        return (int)count;
}

static u32 fd_io(u32 fd, u32 iovs, u32 count, bool write_op, bool positioned, u64 offset,
                 u32 result)
{
        struct engine_fd *e = engine_fd_get(fd);
        if (!e)
                return WASI_EBADF;
        if (e->filetype == WASI_FILETYPE_DIRECTORY)
                return WASI_EISDIR;
        static struct iovec vec[ENGINE_MAX_IOVS];
        int n = iovs_translate(iovs, count, vec);
        if (n < 0)
                return (u32)-n;
        if (!engine_mem(result, 4))
                return WASI_EFAULT;
        if (positioned && offset > INT64_MAX)
                return WASI_EINVAL;
        ssize_t done;
        if (write_op)
                done =
                    positioned ? pwritev(e->host, vec, n, (off_t)offset) : writev(e->host, vec, n);
        else
                done = positioned ? preadv(e->host, vec, n, (off_t)offset) : readv(e->host, vec, n);
        if (done < 0)
                return engine_errno(errno);
        engine_store_u32(result, (uint32_t)done);
        return WASI_ESUCCESS;
}

u32 Z_wasi_snapshot_preview1Z_fd_read(wasi_t *w, u32 fd, u32 iovs, u32 count, u32 nread)
{
        (void)w;
        return fd_io(fd, iovs, count, false, false, 0, nread);
}

u32 Z_wasi_snapshot_preview1Z_fd_write(wasi_t *w, u32 fd, u32 iovs, u32 count, u32 nwritten)
{
        (void)w;
        return fd_io(fd, iovs, count, true, false, 0, nwritten);
}

u32 Z_wasi_snapshot_preview1Z_fd_pread(wasi_t *w, u32 fd, u32 iovs, u32 count, u64 offset,
                                       u32 nread)
{
        (void)w;
        return fd_io(fd, iovs, count, false, true, offset, nread);
}

u32 Z_wasi_snapshot_preview1Z_fd_pwrite(wasi_t *w, u32 fd, u32 iovs, u32 count, u64 offset,
                                        u32 nwritten)
{
        (void)w;
        return fd_io(fd, iovs, count, true, true, offset, nwritten);
}

u32 Z_wasi_snapshot_preview1Z_fd_close(wasi_t *w, u32 fd)
{
        (void)w;
        struct engine_fd *e = engine_fd_get(fd);
        if (!e)
                return WASI_EBADF;
        fd_release(e);
        return WASI_ESUCCESS;
}

u32 Z_wasi_snapshot_preview1Z_fd_seek(wasi_t *w, u32 fd, u64 offset, u32 whence, u32 result)
{
        (void)w;
        struct engine_fd *e = engine_fd_get(fd);
        if (!e)
                return WASI_EBADF;
        if (e->filetype == WASI_FILETYPE_DIRECTORY)
                return WASI_EBADF;
        static const int whences[] = {SEEK_SET, SEEK_CUR, SEEK_END};
        if (whence > 2)
                return WASI_EINVAL;
        if (!engine_mem(result, 8))
                return WASI_EFAULT;
        off_t at = lseek(e->host, (off_t)(int64_t)offset, whences[whence]);
        if (at < 0)
                return engine_errno(errno);
        engine_store_u64(result, (uint64_t)at);
        return WASI_ESUCCESS;
}

u32 Z_wasi_snapshot_preview1Z_fd_tell(wasi_t *w, u32 fd, u32 result)
{
        return Z_wasi_snapshot_preview1Z_fd_seek(w, fd, 0, 1, result);
}

u32 Z_wasi_snapshot_preview1Z_fd_sync(wasi_t *w, u32 fd)
{
        (void)w;
        struct engine_fd *e = engine_fd_get(fd);
        if (!e)
                return WASI_EBADF;
        return fsync(e->host) < 0 ? engine_errno(errno) : WASI_ESUCCESS;
}

u32 Z_wasi_snapshot_preview1Z_fd_datasync(wasi_t *w, u32 fd)
{
        (void)w;
        struct engine_fd *e = engine_fd_get(fd);
        if (!e)
                return WASI_EBADF;
        return fdatasync(e->host) < 0 ? engine_errno(errno) : WASI_ESUCCESS;
}

u32 Z_wasi_snapshot_preview1Z_fd_advise(wasi_t *w, u32 fd, u64 offset, u64 len, u32 advice)
{
        (void)w;
        (void)offset;
        (void)len;
        struct engine_fd *e = engine_fd_get(fd);
        if (!e)
                return WASI_EBADF;
        if (advice > 5)
                return WASI_EINVAL;
        return e->filetype == WASI_FILETYPE_DIRECTORY ? WASI_EBADF : WASI_ESUCCESS;
}

u32 Z_wasi_snapshot_preview1Z_fd_allocate(wasi_t *w, u32 fd, u64 offset, u64 len)
{
        (void)w;
        struct engine_fd *e = engine_fd_get(fd);
        if (!e)
                return WASI_EBADF;
        if (e->filetype == WASI_FILETYPE_DIRECTORY)
                return WASI_EISDIR;
        if (offset > INT64_MAX || len > INT64_MAX)
                return WASI_EINVAL;
        int r = posix_fallocate(e->host, (off_t)offset, (off_t)len);
        return engine_errno(r);
}

u32 Z_wasi_snapshot_preview1Z_fd_fdstat_get(wasi_t *w, u32 fd, u32 buf)
{
        (void)w;
        struct engine_fd *e = engine_fd_get(fd);
        if (!e)
                return WASI_EBADF;
        uint8_t *at = engine_mem(buf, 24);
        if (!at)
                return WASI_EFAULT;
        uint16_t flags = 0;
        if (e->filetype != WASI_FILETYPE_DIRECTORY) {
                int fl = fcntl(e->host, F_GETFL);
                if (fl >= 0) {
                        flags |= (fl & O_APPEND) ? WASI_FDFLAG_APPEND : 0;
                        flags |= (fl & O_NONBLOCK) ? WASI_FDFLAG_NONBLOCK : 0;
                }
        }
        memset(at, 0, 24);
        at[0] = e->filetype;
        memcpy(at + 2, &flags, 2);
        memcpy(at + 8, &e->rights_base, 8);
        memcpy(at + 16, &e->rights_inheriting, 8);
        return WASI_ESUCCESS;
}

u32 Z_wasi_snapshot_preview1Z_fd_fdstat_set_flags(wasi_t *w, u32 fd, u32 flags)
{
        (void)w;
        struct engine_fd *e = engine_fd_get(fd);
        if (!e)
                return WASI_EBADF;
        int fl = fcntl(e->host, F_GETFL);
        if (fl < 0)
                return engine_errno(errno);
        fl &= ~(O_APPEND | O_NONBLOCK);
        fl |= (flags & WASI_FDFLAG_APPEND) ? O_APPEND : 0;
        fl |= (flags & WASI_FDFLAG_NONBLOCK) ? O_NONBLOCK : 0;
        return fcntl(e->host, F_SETFL, fl) < 0 ? engine_errno(errno) : WASI_ESUCCESS;
}

u32 Z_wasi_snapshot_preview1Z_fd_fdstat_set_rights(wasi_t *w, u32 fd, u64 base, u64 inheriting)
{
        (void)w;
        struct engine_fd *e = engine_fd_get(fd);
        if (!e)
                return WASI_EBADF;
        /* rights only ever narrow */
        if ((base & ~e->rights_base) || (inheriting & ~e->rights_inheriting))
                return WASI_ENOTCAPABLE;
        e->rights_base = base;
        e->rights_inheriting = inheriting;
        return WASI_ESUCCESS;
}

/* filestat: dev u64, ino u64, filetype u8 (at 16), nlink u64 (24), size
 * (32), atim (40), mtim (48), ctim (56): 64 bytes */
bool engine_store_filestat(uint32_t buf, const struct stat *st)
{
        uint8_t *at = engine_mem(buf, 64);
        if (!at)
                return false;
        memset(at, 0, 64);
        uint64_t v[8] = {
            (uint64_t)st->st_dev,
            (uint64_t)st->st_ino,
            filetype_of(st->st_mode),
            (uint64_t)st->st_nlink,
            (uint64_t)st->st_size,
            (uint64_t)st->st_atim.tv_sec * 1000000000ULL + (uint64_t)st->st_atim.tv_nsec,
            (uint64_t)st->st_mtim.tv_sec * 1000000000ULL + (uint64_t)st->st_mtim.tv_nsec,
            (uint64_t)st->st_ctim.tv_sec * 1000000000ULL + (uint64_t)st->st_ctim.tv_nsec,
        };
        memcpy(at, v, 64);
        return true;
}

u32 Z_wasi_snapshot_preview1Z_fd_filestat_get(wasi_t *w, u32 fd, u32 buf)
{
        (void)w;
        struct engine_fd *e = engine_fd_get(fd);
        if (!e)
                return WASI_EBADF;
        struct stat st;
        if (fstat(e->host, &st) < 0)
                return engine_errno(errno);
        return engine_store_filestat(buf, &st) ? WASI_ESUCCESS : WASI_EFAULT;
}

u32 Z_wasi_snapshot_preview1Z_fd_filestat_set_size(wasi_t *w, u32 fd, u64 size)
{
        (void)w;
        struct engine_fd *e = engine_fd_get(fd);
        if (!e)
                return WASI_EBADF;
        if (e->filetype == WASI_FILETYPE_DIRECTORY)
                return WASI_EISDIR;
        if (size > INT64_MAX)
                return WASI_EINVAL;
        return ftruncate(e->host, (off_t)size) < 0 ? engine_errno(errno) : WASI_ESUCCESS;
}

/* fstflags: ATIM 1, ATIM_NOW 2, MTIM 4, MTIM_NOW 8 */
int engine_times(u64 atim, u64 mtim, u32 fst, struct timespec ts[2])
{
        if (((fst & 1) && (fst & 2)) || ((fst & 4) && (fst & 8)) || fst > 15)
                return -WASI_EINVAL;
        ts[0].tv_sec = 0;
        ts[1].tv_sec = 0;
        ts[0].tv_nsec = (fst & 2) ? UTIME_NOW : UTIME_OMIT;
        ts[1].tv_nsec = (fst & 8) ? UTIME_NOW : UTIME_OMIT;
        if (fst & 1) {
                ts[0].tv_sec = (time_t)(atim / 1000000000ULL);
                ts[0].tv_nsec = (long)(atim % 1000000000ULL);
        }
        if (fst & 4) {
                ts[1].tv_sec = (time_t)(mtim / 1000000000ULL);
                ts[1].tv_nsec = (long)(mtim % 1000000000ULL);
        }
        return 0;
}

u32 Z_wasi_snapshot_preview1Z_fd_filestat_set_times(wasi_t *w, u32 fd, u64 atim, u64 mtim, u32 fst)
{
        (void)w;
        struct engine_fd *e = engine_fd_get(fd);
        if (!e)
                return WASI_EBADF;
        struct timespec ts[2];
        int r = engine_times(atim, mtim, fst, ts);
        if (r < 0)
                return (u32)-r;
        return futimens(e->host, ts) < 0 ? engine_errno(errno) : WASI_ESUCCESS;
}

u32 Z_wasi_snapshot_preview1Z_fd_prestat_get(wasi_t *w, u32 fd, u32 buf)
{
        (void)w;
        struct engine_fd *e = engine_fd_get(fd);
        if (!e)
                return WASI_EBADF;
        if (!e->preopen)
                return WASI_EBADF;
        uint8_t *at = engine_mem(buf, 8);
        if (!at)
                return WASI_EFAULT;
        uint32_t len = (uint32_t)strlen(e->guest_name);
        memset(at, 0, 8);
        memcpy(at + 4, &len, 4);
        return WASI_ESUCCESS;
}

u32 Z_wasi_snapshot_preview1Z_fd_prestat_dir_name(wasi_t *w, u32 fd, u32 path, u32 len)
{
        (void)w;
        struct engine_fd *e = engine_fd_get(fd);
        if (!e || !e->preopen)
                return WASI_EBADF;
        size_t name_len = strlen(e->guest_name);
        if (len < name_len)
                return WASI_ENAMETOOLONG;
        uint8_t *at = engine_mem(path, name_len);
        if (!at)
                return WASI_EFAULT;
        memcpy(at, e->guest_name, name_len);
        return WASI_ESUCCESS;
}

u32 Z_wasi_snapshot_preview1Z_fd_renumber(wasi_t *w, u32 fd, u32 to)
{
        (void)w;
        struct engine_fd *from = engine_fd_get(fd), *target = engine_fd_get(to);
        if (!from || !target)
                return WASI_EBADF;
        if (fd == to)
                return WASI_ESUCCESS;
        fd_release(target);
        *target = *from;
        memset(from, 0, sizeof(*from));
        return WASI_ESUCCESS;
}

/* dirent: d_next u64, d_ino u64, d_namlen u32 (16), d_type u8 (20): 24
 * bytes, then the name. Cookies are the directory stream's positions
 * (telldir); 0 is the start. */
u32 Z_wasi_snapshot_preview1Z_fd_readdir(wasi_t *w, u32 fd, u32 buf, u32 buf_len, u64 cookie,
                                         u32 bufused)
{
        (void)w;
        struct engine_fd *e = engine_fd_get(fd);
        if (!e)
                return WASI_EBADF;
        if (e->filetype != WASI_FILETYPE_DIRECTORY)
                return WASI_ENOTDIR;
        uint8_t *out = engine_mem(buf, buf_len);
        if (!out || !engine_mem(bufused, 4))
                return WASI_EFAULT;
        if (!e->dir_stream) {
                int copy = openat(e->host, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (copy < 0)
                        return engine_errno(errno);
                e->dir_stream = fdopendir(copy);
                if (!e->dir_stream) {
                        int saved = errno;
                        close(copy);
                        return engine_errno(saved);
                }
                e->dir_cookie = 0;
        }
        DIR *dir = e->dir_stream;
        if (cookie == 0)
                rewinddir(dir);
        else if (cookie != e->dir_cookie)
                seekdir(dir, (long)cookie);
        size_t used = 0;
        for (;;) {
                errno = 0;
                struct dirent *d = readdir(dir);
                if (!d) {
                        if (errno)
                                return engine_errno(errno);
                        break;
                }
                uint64_t next = (uint64_t)telldir(dir);
                e->dir_cookie = next;
                uint8_t head[24] = {0};
                uint64_t ino = d->d_ino;
                uint32_t namlen = (uint32_t)strlen(d->d_name);
                uint8_t type;
                switch (d->d_type) {
                case DT_REG:
                        type = WASI_FILETYPE_REGULAR_FILE;
                        break;
                case DT_DIR:
                        type = WASI_FILETYPE_DIRECTORY;
                        break;
                case DT_LNK:
                        type = WASI_FILETYPE_SYMBOLIC_LINK;
                        break;
                case DT_CHR:
                        type = WASI_FILETYPE_CHARACTER_DEVICE;
                        break;
                case DT_BLK:
                        type = WASI_FILETYPE_BLOCK_DEVICE;
                        break;
                case DT_SOCK:
                        type = WASI_FILETYPE_SOCKET_STREAM;
                        break;
                default:
                        type = WASI_FILETYPE_UNKNOWN;
                        break;
                }
                memcpy(head, &next, 8);
                memcpy(head + 8, &ino, 8);
                memcpy(head + 16, &namlen, 4);
                head[20] = type;
                /* what does not fit is cut: the module sees a full buffer
                 * and asks again from the last whole entry's cookie */
                size_t n = sizeof(head) < buf_len - used ? sizeof(head) : buf_len - used;
                memcpy(out + used, head, n);
                used += n;
                n = namlen < buf_len - used ? namlen : buf_len - used;
                memcpy(out + used, d->d_name, n);
                used += n;
                if (used == buf_len)
                        break;
        }
        engine_store_u32(bufused, (uint32_t)used);
        return WASI_ESUCCESS;
}
