/* splice relay (see tunnel.h). */
#include "net/tunnel.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static int relay_init(struct net_relay *r, bool wide)
{
        int p[2];
        r->pipe_read = r->pipe_write = -1;
        if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
                return -errno;
        r->pipe_read = p[0];
        r->pipe_write = p[1];
        /* a bigger pipe means fewer wakeups per byte; over the user's pipe
         * quota the kernel refuses and the default (64 KiB) stays */
        int size = wide ? fcntl(p[1], F_SETPIPE_SZ, NET_TUNNEL_PIPE_SIZE) : -1;
        if (size < 0)
                size = fcntl(p[1], F_GETPIPE_SZ);
        r->capacity = size > 0 ? (size_t)size : 65536;
        r->in_pipe = 0;
        r->eof = r->shut = r->pipe_full = false;
        r->inspect_left = r->inspected = 0;
        return 0;
}

static void relay_destroy(struct net_relay *r)
{
        if (r->pipe_read >= 0)
                close(r->pipe_read);
        if (r->pipe_write >= 0)
                close(r->pipe_write);
        r->pipe_read = r->pipe_write = -1;
}

int net_tunnel_init(struct net_tunnel *t, int client_fd, int upstream_fd, bool wide)
{
        t->inspect = NULL;
        t->client_fd = client_fd;
        t->upstream_fd = upstream_fd;
        t->down.pipe_read = t->down.pipe_write = -1;
        int r = relay_init(&t->up, wide);
        if (r == 0)
                r = relay_init(&t->down, wide);
        if (r < 0)
                net_tunnel_destroy(t);
        return r;
}

void net_tunnel_destroy(struct net_tunnel *t)
{
        relay_destroy(&t->up);
        relay_destroy(&t->down);
}

void net_tunnel_inspect_up(struct net_tunnel *t, size_t limit, net_tunnel_inspect_fn fn, void *ctx,
                           void *scratch, size_t scratch_size)
{
        t->inspect = fn;
        t->inspect_ctx = ctx;
        t->scratch = scratch;
        t->scratch_size = scratch_size;
        t->up.inspect_left = limit;
        t->up.inspected = 0;
}

/* How many bytes the next splice out of the source may take: the pipe's
 * room, and while inspecting, only bytes the inspector has seen. Peeks and
 * shows new bytes first. 0 with *stop: the inspector said no; -errno. */
static long relay_source_allowance(const struct net_tunnel *t, struct net_relay *r, int src,
                                   bool *stop)
{
        size_t room = r->capacity - r->in_pipe;
        if (!r->inspect_left)
                return (long)room;
        size_t want = room < t->scratch_size ? room : t->scratch_size;
        ssize_t n = recv(src, t->scratch, want, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (n == 0)
                return (long)room; /* EOF: the splice will see it */
        size_t seen = (size_t)n;
        if (seen > r->inspected) {
                size_t fresh = seen - r->inspected;
                if (fresh > r->inspect_left)
                        fresh = r->inspect_left;
                if (!t->inspect(t->inspect_ctx, t->scratch + r->inspected, fresh)) {
                        *stop = true;
                        return 0;
                }
                r->inspect_left -= fresh;
                r->inspected += fresh;
        }
        /* inspection done: the rest goes as usual; else no unseen byte */
        return r->inspect_left ? (long)r->inspected : (long)room;
}

/* Move bytes src -> pipe -> dst until both sides would block, the slice is
 * used or `limit` bytes are delivered. Returns bytes delivered, or -errno. */
static long relay_pump(const struct net_tunnel *t, struct net_relay *r, int src, int dst,
                       uint64_t limit)
{
        size_t delivered = 0;
        size_t bound = limit < NET_TUNNEL_SLICE ? (size_t)limit : NET_TUNNEL_SLICE;
        while (delivered < bound) {
                bool progress = false;
                if (!r->eof && !r->pipe_full && r->in_pipe < r->capacity) {
                        bool stop = false;
                        long allowance = relay_source_allowance(t, r, src, &stop);
                        if (stop)
                                return -ECONNABORTED;
                        if (allowance < 0)
                                return allowance;
                        /* 0: the inspector has nothing new (the socket is empty) */
                        ssize_t n = allowance == 0
                                        ? 0
                                        : splice(src, NULL, r->pipe_write, NULL, (size_t)allowance,
                                                 SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                        if (allowance == 0) {
                                /* nothing to read now */
                        } else if (n > 0) {
                                r->in_pipe += (size_t)n;
                                r->inspected =
                                    r->inspected > (size_t)n ? r->inspected - (size_t)n : 0;
                                progress = true;
                        } else if (n == 0) {
                                r->eof = true;
                                progress = true;
                        } else if (errno == EAGAIN && r->in_pipe > 0) {
                                /* the socket may be readable and the pipe full
                                 * (splice uses a pipe slot per socket buffer):
                                 * stop reading until the writer drains some,
                                 * or a level-triggered EPOLLIN would spin */
                                r->pipe_full = true;
                        } else if (errno != EAGAIN && errno != EINTR) {
                                return -errno;
                        }
                }
                if (r->in_pipe > 0) {
                        size_t len =
                            r->in_pipe < bound - delivered ? r->in_pipe : bound - delivered;
                        ssize_t n = splice(r->pipe_read, NULL, dst, NULL, len,
                                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                        if (n > 0) {
                                r->in_pipe -= (size_t)n;
                                delivered += (size_t)n;
                                r->pipe_full = false;
                                progress = true;
                        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                                return -errno;
                        }
                }
                if (r->eof && r->in_pipe == 0 && !r->shut) {
                        /* the source finished sending: so does the destination's
                         * peer see EOF, while the other direction goes on */
                        shutdown(dst, SHUT_WR);
                        r->shut = true;
                }
                if (!progress)
                        break;
        }
        return (long)delivered;
}

int net_tunnel_pump(struct net_tunnel *t, unsigned dirs, uint64_t up_limit, uint64_t *up,
                    uint64_t *down)
{
        if (dirs & NET_TUNNEL_UP) {
                long n = relay_pump(t, &t->up, t->client_fd, t->upstream_fd, up_limit);
                if (n < 0)
                        return (int)n;
                *up += (uint64_t)n;
        }
        if (dirs & NET_TUNNEL_DOWN) {
                long n = relay_pump(t, &t->down, t->upstream_fd, t->client_fd, UINT64_MAX);
                if (n < 0)
                        return (int)n;
                *down += (uint64_t)n;
        }
        return t->up.shut && t->down.shut ? NET_TUNNEL_DONE : NET_TUNNEL_OPEN;
}

static uint32_t relay_source_events(const struct net_relay *r)
{
        return !r->eof && !r->pipe_full && r->in_pipe < r->capacity ? EPOLLIN : 0;
}

static uint32_t relay_sink_events(const struct net_relay *r)
{
        return r->in_pipe > 0 ? EPOLLOUT : 0;
}

uint32_t net_tunnel_client_events(const struct net_tunnel *t)
{
        return relay_source_events(&t->up) | relay_sink_events(&t->down);
}

uint32_t net_tunnel_upstream_events(const struct net_tunnel *t)
{
        return relay_source_events(&t->down) | relay_sink_events(&t->up);
}
