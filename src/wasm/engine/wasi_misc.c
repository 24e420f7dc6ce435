/* args, environ, clocks, random, poll_oneoff, proc_* and sockets (none)
 * of WASI preview 1. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "wasi.h"

/* argv-style lists: pointers into one buffer of NUL-terminated strings */
static u32 strings_sizes(char **list, int count, u32 count_ptr, u32 size_ptr)
{
        uint64_t total = 0;
        for (int i = 0; i < count; i++)
                total += strlen(list[i]) + 1;
        if (total > UINT32_MAX)
                return WASI_E2BIG;
        if (!engine_store_u32(count_ptr, (uint32_t)count) ||
            !engine_store_u32(size_ptr, (uint32_t)total))
                return WASI_EFAULT;
        return WASI_ESUCCESS;
}

static u32 strings_get(char **list, int count, u32 ptrs, u32 buf)
{
        uint64_t total = 0;
        for (int i = 0; i < count; i++)
                total += strlen(list[i]) + 1;
        if (!engine_mem(ptrs, (uint64_t)count * 4) || !engine_mem(buf, total))
                return WASI_EFAULT;
        uint32_t at = buf;
        for (int i = 0; i < count; i++) {
                size_t n = strlen(list[i]) + 1;
                engine_store_u32(ptrs + (uint32_t)i * 4, at);
                memcpy(engine_mem(at, n), list[i], n);
                at += (uint32_t)n;
        }
        return WASI_ESUCCESS;
}

u32 Z_wasi_snapshot_preview1Z_args_sizes_get(wasi_t *w, u32 count, u32 size)
{
        (void)w;
        return strings_sizes(engine.args, engine.arg_count, count, size);
}

u32 Z_wasi_snapshot_preview1Z_args_get(wasi_t *w, u32 ptrs, u32 buf)
{
        (void)w;
        return strings_get(engine.args, engine.arg_count, ptrs, buf);
}

u32 Z_wasi_snapshot_preview1Z_environ_sizes_get(wasi_t *w, u32 count, u32 size)
{
        (void)w;
        return strings_sizes(engine.env, engine.env_count, count, size);
}

u32 Z_wasi_snapshot_preview1Z_environ_get(wasi_t *w, u32 ptrs, u32 buf)
{
        (void)w;
        return strings_get(engine.env, engine.env_count, ptrs, buf);
}

static int clock_of(u32 id, clockid_t *out)
{
        static const clockid_t ids[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
                                        CLOCK_THREAD_CPUTIME_ID};
        if (id > 3)
                return -1;
        *out = ids[id];
        return 0;
}

u32 Z_wasi_snapshot_preview1Z_clock_res_get(wasi_t *w, u32 id, u32 result)
{
        (void)w;
        clockid_t c;
        struct timespec ts;
        if (clock_of(id, &c) < 0)
                return WASI_EINVAL;
        if (clock_getres(c, &ts) < 0)
                return engine_errno(errno);
        uint64_t ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
        return engine_store_u64(result, ns) ? WASI_ESUCCESS : WASI_EFAULT;
}

u32 Z_wasi_snapshot_preview1Z_clock_time_get(wasi_t *w, u32 id, u64 precision, u32 result)
{
        (void)w;
        (void)precision;
        clockid_t c;
        struct timespec ts;
        if (clock_of(id, &c) < 0)
                return WASI_EINVAL;
        if (clock_gettime(c, &ts) < 0)
                return engine_errno(errno);
        uint64_t ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
        return engine_store_u64(result, ns) ? WASI_ESUCCESS : WASI_EFAULT;
}

u32 Z_wasi_snapshot_preview1Z_random_get(wasi_t *w, u32 buf, u32 len)
{
        (void)w;
        uint8_t *at = engine_mem(buf, len);
        if (!at)
                return WASI_EFAULT;
        for (u32 done = 0; done < len;) {
                ssize_t n = getrandom(at + done, len - done, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return engine_errno(errno);
                done += (u32)n;
        }
        return WASI_ESUCCESS;
}

u32 Z_wasi_snapshot_preview1Z_sched_yield(wasi_t *w)
{
        (void)w;
        sched_yield();
        return WASI_ESUCCESS;
}

void Z_wasi_snapshot_preview1Z_proc_exit(wasi_t *w, u32 code)
{
        (void)w;
        engine_event_exit((int)(code & 0xff));
        _exit((int)(code & 0xff));
}

u32 Z_wasi_snapshot_preview1Z_proc_raise(wasi_t *w, u32 sig)
{
        (void)w;
        (void)sig;
        return WASI_ENOSYS;
}

/* No sockets: a module gets no socket descriptors (none are preopened and
 * sock_accept has nothing to accept on), so these only say so. Network
 * access for Wasm tools would go through reins' egress proxy, not here. */
u32 Z_wasi_snapshot_preview1Z_sock_accept(wasi_t *w, u32 fd, u32 flags, u32 result)
{
        (void)w;
        (void)flags;
        (void)result;
        return engine_fd_get(fd) ? WASI_ENOTSOCK : WASI_EBADF;
}

u32 Z_wasi_snapshot_preview1Z_sock_recv(wasi_t *w, u32 fd, u32 iovs, u32 count, u32 flags,
                                        u32 nread, u32 oflags)
{
        (void)w;
        (void)iovs;
        (void)count;
        (void)flags;
        (void)nread;
        (void)oflags;
        return engine_fd_get(fd) ? WASI_ENOTSOCK : WASI_EBADF;
}

u32 Z_wasi_snapshot_preview1Z_sock_send(wasi_t *w, u32 fd, u32 iovs, u32 count, u32 flags,
                                        u32 nwritten)
{
        (void)w;
        (void)iovs;
        (void)count;
        (void)flags;
        (void)nwritten;
        return engine_fd_get(fd) ? WASI_ENOTSOCK : WASI_EBADF;
}

u32 Z_wasi_snapshot_preview1Z_sock_shutdown(wasi_t *w, u32 fd, u32 how)
{
        (void)w;
        (void)how;
        return engine_fd_get(fd) ? WASI_ENOTSOCK : WASI_EBADF;
}

/* subscription: userdata u64, tag u8 (8), then at 16: clock {id u32,
 * timeout u64 (24), precision u64 (32), flags u16 (40)} or fd u32: 48
 * bytes. event: userdata u64, error u16 (8), type u8 (10), nbytes u64
 * (16), flags u16 (24): 32 bytes. */
#define POLL_MAX 256

u32 Z_wasi_snapshot_preview1Z_poll_oneoff(wasi_t *w, u32 in, u32 out, u32 count, u32 nevents)
{
        (void)w;
        if (count == 0)
                return WASI_EINVAL;
        if (count > POLL_MAX)
                return WASI_ENOTSUP;
        uint8_t *subs = engine_mem(in, (uint64_t)count * 48);
        uint8_t *events = engine_mem(out, (uint64_t)count * 32);
        if (!subs || !events || !engine_mem(nevents, 4))
                return WASI_EFAULT;
        struct pollfd pfd[POLL_MAX];
        uint32_t pfd_sub[POLL_MAX];
        int npfd = 0;
        int64_t wait_ns = -1; /* the earliest clock, relative */
        uint32_t clock_sub = UINT32_MAX;
        uint32_t produced = 0;
        for (uint32_t i = 0; i < count; i++) {
                uint8_t *s = subs + i * 48;
                uint8_t tag = s[8];
                uint64_t userdata;
                memcpy(&userdata, s, 8);
                if (tag == 0) {
                        uint32_t id;
                        uint64_t timeout;
                        uint16_t flags;
                        memcpy(&id, s + 16, 4);
                        memcpy(&timeout, s + 24, 8);
                        memcpy(&flags, s + 40, 2);
                        clockid_t c;
                        int64_t rel = (int64_t)(timeout > INT64_MAX ? INT64_MAX : timeout);
                        if (clock_of(id, &c) < 0) {
                                uint8_t *ev = events + produced++ * 32;
                                memset(ev, 0, 32);
                                memcpy(ev, &userdata, 8);
                                uint16_t e = WASI_EINVAL;
                                memcpy(ev + 8, &e, 2);
                                continue;
                        }
                        if (flags & 1) { /* absolute */
                                struct timespec now;
                                clock_gettime(c, &now);
                                int64_t n = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
                                rel = rel > n ? rel - n : 0;
                        }
                        if (wait_ns < 0 || rel < wait_ns) {
                                wait_ns = rel;
                                clock_sub = i;
                        }
                } else if (tag == 1 || tag == 2) {
                        uint32_t fd;
                        memcpy(&fd, s + 16, 4);
                        struct engine_fd *e = engine_fd_get(fd);
                        if (!e) {
                                uint8_t *ev = events + produced++ * 32;
                                memset(ev, 0, 32);
                                memcpy(ev, &userdata, 8);
                                uint16_t err = WASI_EBADF;
                                memcpy(ev + 8, &err, 2);
                                ev[10] = tag;
                                continue;
                        }
                        pfd[npfd].fd = e->host;
                        pfd[npfd].events = tag == 1 ? POLLIN : POLLOUT;
                        pfd[npfd].revents = 0;
                        pfd_sub[npfd++] = i;
                } else {
                        return WASI_EINVAL;
                }
        }
        if (produced == 0) {
                int timeout_ms = wait_ns < 0 ? -1 : (int)((wait_ns + 999999) / 1000000);
                if (npfd > 0) {
                        int n = poll(pfd, (nfds_t)npfd, timeout_ms);
                        if (n < 0 && errno != EINTR)
                                return engine_errno(errno);
                        for (int k = 0; n > 0 && k < npfd; k++) {
                                if (!pfd[k].revents)
                                        continue;
                                uint8_t *s = subs + pfd_sub[k] * 48;
                                uint8_t *ev = events + produced++ * 32;
                                memset(ev, 0, 32);
                                memcpy(ev, s, 8);
                                ev[10] = s[8];
                                uint64_t nbytes = 1;
                                memcpy(ev + 16, &nbytes, 8);
                                if (pfd[k].revents & POLLHUP) {
                                        uint16_t hup = 1;
                                        memcpy(ev + 24, &hup, 2);
                                }
                        }
                } else if (wait_ns >= 0) {
                        struct timespec ts = {.tv_sec = wait_ns / 1000000000LL,
                                              .tv_nsec = wait_ns % 1000000000LL};
                        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
                        }
                }
                if (produced == 0 && clock_sub != UINT32_MAX) {
                        uint8_t *ev = events + produced++ * 32;
                        memset(ev, 0, 32);
                        memcpy(ev, subs + clock_sub * 48, 8);
                        ev[10] = 0;
                }
        }
        engine_store_u32(nevents, produced);
        return WASI_ESUCCESS;
}
